/**
 * The hub's WebSocket API, declared once for both ends (main/server/api-server.ts and the
 * renderer's transport): where it is, what a client sends, what the hub answers and pushes, and
 * how a client reads the hub's messages. Types and pure helpers only (the renderer bundles it).
 */
import { decodeEnvelope, type Envelope } from './envelope';
import type { EventMap, EventName, HubStatus, NodeStatus } from './index';
import { NODE_STATES } from './states';

/** Where the WebSocket is; the admin token goes in the query (`?token=…`). */
export const WS_PATH = '/api/ws';

/** The close code of a WebSocket whose admin token is no longer the hub's (4000–4999: the application's own). */
export const WS_CLOSE_TOKEN_CHANGED = 4001;

/** The WebSocket URL of the hub at `httpBase` (`http://host:port`, or a page's `location.origin`). */
export function wsUrl(httpBase: string, token: string): string {
  return `${httpBase.replace(/^http/, 'ws')}${WS_PATH}?token=${encodeURIComponent(token)}`;
}

/** A message's id, echoed in its answer: a number or a string of at most 200 characters. */
export type WsId = number | string;

/** Client → hub: run an operation; start or stop receiving an event. */
export type WsInvoke = { id?: WsId; op: string; input?: unknown };
export type WsSubscribe = { id?: WsId; subscribe: EventName };
export type WsUnsubscribe = { id?: WsId; unsubscribe: EventName };
export type WsClientMessage = WsInvoke | WsSubscribe | WsUnsubscribe;

/**
 * Hub → client: the answer to a message, with its id (none when the message could not be read;
 * an (un)subscription's answer has no result), or an event a client subscribed to.
 */
export type WsReply = Envelope & { id?: WsId };
export type WsEvent<E extends EventName = EventName> = { event: E; data: EventMap[E] };
export type WsServerMessage = WsReply | WsEvent;

export function wsReply(id: WsId | undefined, env: Envelope): WsReply {
  return { id, ...env };
}

export function wsEvent<E extends EventName>(event: E, data: EventMap[E]): WsEvent<E> {
  return { event, data };
}

/** A hub message as a client reads it: an event, an answer (its envelope decoded), or null for what is neither. */
export type WsReceived = { event: string; data: unknown } | { id: WsId | undefined; envelope: Envelope };

/** Reads one message from the hub (or from anyone: anything at all may arrive). */
export function decodeWsServerMessage(text: string): WsReceived | null {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof msg !== 'object' || msg === null) return null;
  const m = msg as { id?: unknown; event?: unknown; data?: unknown };
  if (m.event !== undefined) return typeof m.event === 'string' ? { event: m.event, data: m.data } : null;
  const id = typeof m.id === 'number' || typeof m.id === 'string' ? m.id : undefined;
  return { id, envelope: decodeEnvelope(msg) };
}

// ---- status as diffs ------------------------------------------------------------------------
//
// The `status.diff` event (and the `status.snapshot` operation's answer) carries the status as a
// stream of numbered messages: a full one (every hub field and every node, in the hub's order),
// then diffs, each against the message numbered one less: only the hub fields and the nodes that
// changed (a node by its id and its changed fields; a new node whole), the ids removed, and the
// whole order when it changed. The hub coalesces changes into at most one message per interval.
// A client that misses a number (or gets a diff it cannot apply) asks for a full one
// (`status.snapshot`) and ignores diffs until it has it. Everything received is validated first:
// anyone may be on the other end.

/** The hub-wide fields of a status (everything but the nodes). */
export type HubFields = Omit<HubStatus, 'nodes'>;
/** A node in a diff: its id and the fields that changed (every field when it is new, or in a full message). */
export type NodeStatusPatch = Pick<NodeStatus, 'id'> & Partial<NodeStatus>;

export interface StatusDiff {
  /** This message's number in the hub's stream (a safe integer ≥ 1). */
  seq: number;
  /** A full status: `hub` has every field, `nodes` every node whole and in order; `removed` empty, `order` null. */
  full: boolean;
  hub: Partial<HubFields>;
  nodes: NodeStatusPatch[];
  /** Ids of the nodes no longer in the status. */
  removed: string[];
  /** The node ids in the hub's order when it changed (a node added or removed), else null. */
  order: string[] | null;
}

/** At most this many nodes (or ids) in one message. */
export const STATUS_DIFF_MAX_NODES = 100_000;
const MAX_TEXT = 65_536;
const MAX_LOCKED = 10_000;

type Check = (v: unknown) => boolean;
const text: Check = (v) => typeof v === 'string' && v.length <= MAX_TEXT;
const textOrNull: Check = (v) => v === null || text(v);
const count: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const countOrNull: Check = (v) => v === null || count(v);
/** A node id: a short string, never a name that means something to a JS object. */
export function isStatusNodeId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= 64 && v !== '__proto__';
}
const exactly = (v: unknown, keys: Record<string, Check>): boolean => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const own = Object.keys(v);
  if (own.length !== Object.keys(keys).length) return false;
  return own.every((k) => Object.hasOwn(keys, k) && keys[k]!((v as Record<string, unknown>)[k]));
};

const HUB_FIELDS: { [K in keyof HubFields]-?: Check } = {
  version: text, uptimeMs: count, bytesHashedSinceStart: count, filesHashedSinceStart: count, grpc: textOrNull, ui: textOrNull, fingerprint: text, trashBytes: count,
};
const FAILURE_FIELDS: Record<string, Check> = { path: text, code: text, message: text, at: count };
const HELD_FIELDS: Record<string, Check> = { changes: count, bytes: count, capped: (v) => typeof v === 'boolean' };
const NODE_FIELDS: { [K in keyof NodeStatus]-?: Check } = {
  id: isStatusNodeId, name: text, state: (v) => (NODE_STATES as readonly unknown[]).includes(v),
  createdAt: count, retiredAt: countOrNull, lastSeen: countOrNull,
  files: count, bytes: count, outOfSyncFiles: count, outOfSyncBytes: count, toNodeFiles: count, toNodeBytes: count,
  toHubPercent: countOrNull, toHubEtaMs: countOrNull, toNodePercent: countOrNull, toNodeEtaMs: countOrNull,
  conflicts: count, lastConflictAt: countOrNull, problems: count,
  held: (v) => v === null || exactly(v, HELD_FIELDS), ignored: count, errors: count,
  lastError: (v) => v === null || exactly(v, FAILURE_FIELDS),
  bytesReceived: count, bytesReused: count, bytesSent: count, mirror: text, verifying: (v) => typeof v === 'boolean',
  locked: (v) => Array.isArray(v) && v.length <= MAX_LOCKED && v.every(text),
  lockedRefusals: count, lockError: textOrNull, pausedAt: countOrNull, connected: (v) => typeof v === 'boolean',
};
const HUB_KEYS = Object.keys(HUB_FIELDS) as (keyof HubFields)[];
const NODE_KEYS = Object.keys(NODE_FIELDS) as (keyof NodeStatus)[];

/** Null when `v` is valid: an object of known fields only, each valid; with `whole`, every field present. */
function fieldsProblem(v: unknown, fields: Record<string, Check>, whole: boolean, what: string): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${what} is not an object`;
  const own = Object.keys(v);
  for (const k of own) {
    if (!Object.hasOwn(fields, k)) return `${what} has an unknown field ${JSON.stringify(k.slice(0, 64))}`;
    if (!fields[k]!((v as Record<string, unknown>)[k])) return `${what}.${k} is not valid`;
  }
  if (whole && own.length !== Object.keys(fields).length) return `${what} lacks fields`;
  return null;
}

function idsProblem(v: unknown, what: string): string | null {
  if (!Array.isArray(v) || v.length > STATUS_DIFF_MAX_NODES) return `${what} is not a list of at most ${STATUS_DIFF_MAX_NODES} ids`;
  const seen = new Set<string>();
  for (const id of v) {
    if (!isStatusNodeId(id)) return `${what} holds an invalid id`;
    if (seen.has(id)) return `${what} holds an id twice`;
    seen.add(id);
  }
  return null;
}

/** Reads a `status.diff` message (or `status.snapshot` answer) from anyone: the diff, or why it is refused. */
export function decodeStatusDiff(v: unknown): { ok: true; diff: StatusDiff } | { ok: false; reason: string } {
  const bad = (reason: string) => ({ ok: false as const, reason: `status diff refused: ${reason}` });
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('not an object');
  const m = v as Record<string, unknown>;
  const keys = Object.keys(m);
  const known = ['seq', 'full', 'hub', 'nodes', 'removed', 'order'];
  if (keys.length !== known.length || !keys.every((k) => known.includes(k))) return bad(`fields must be exactly ${known.join(', ')}`);
  if (!Number.isSafeInteger(m.seq) || (m.seq as number) < 1) return bad('seq is not a positive integer');
  if (typeof m.full !== 'boolean') return bad('full is not a boolean');
  const full = m.full;
  const hub = fieldsProblem(m.hub, HUB_FIELDS, full, 'hub');
  if (hub) return bad(hub);
  if (!Array.isArray(m.nodes) || m.nodes.length > STATUS_DIFF_MAX_NODES) return bad(`nodes is not a list of at most ${STATUS_DIFF_MAX_NODES}`);
  const seen = new Set<string>();
  for (const n of m.nodes as unknown[]) {
    const p = fieldsProblem(n, NODE_FIELDS, full, 'a node');
    if (p) return bad(p);
    const id = (n as { id?: unknown }).id;
    if (!isStatusNodeId(id)) return bad('a node has no valid id');
    if (seen.has(id)) return bad('a node is listed twice');
    seen.add(id);
  }
  const removed = idsProblem(m.removed, 'removed');
  if (removed) return bad(removed);
  if (m.order !== null) {
    const order = idsProblem(m.order, 'order');
    if (order) return bad(order);
  }
  if (full && ((m.removed as unknown[]).length > 0 || m.order !== null)) return bad('a full status has no removed ids and no order');
  return { ok: true, diff: m as unknown as StatusDiff };
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
  }
  return false;
}

/** A full message of `status`. */
export function fullStatusDiff(status: HubStatus, seq: number): StatusDiff {
  const { nodes, ...hub } = status;
  return { seq, full: true, hub, nodes, removed: [], order: null };
}

/**
 * The diff from `prev` to `next` numbered `seq` (full when there is no `prev`). A node object
 * that is the same in both (===) is not compared field by field. `changes` says whether there
 * is anything in it but time (the uptime).
 */
export function diffStatus(prev: HubStatus | null, next: HubStatus, seq: number): { diff: StatusDiff; changes: boolean } {
  if (!prev) return { diff: fullStatusDiff(next, seq), changes: true };
  const hub: Partial<HubFields> = {};
  let changes = false;
  for (const k of HUB_KEYS) {
    if (prev[k] !== next[k]) {
      (hub as Record<string, unknown>)[k] = next[k];
      if (k !== 'uptimeMs') changes = true;
    }
  }
  const before = new Map<string, NodeStatus>();
  for (const n of prev.nodes) before.set(n.id, n);
  const nodes: NodeStatusPatch[] = [];
  let sameOrder = prev.nodes.length === next.nodes.length;
  next.nodes.forEach((n, i) => {
    if (sameOrder && prev.nodes[i]!.id !== n.id) sameOrder = false;
    const p = before.get(n.id);
    if (!p) {
      nodes.push(n);
      return;
    }
    if (p === n) return;
    let patch: NodeStatusPatch | null = null;
    for (const k of NODE_KEYS) {
      if (!sameValue(p[k], n[k])) {
        patch ??= { id: n.id };
        (patch as Record<string, unknown>)[k] = n[k];
      }
    }
    if (patch) nodes.push(patch);
  });
  const present = new Set(next.nodes.map((n) => n.id));
  const removed = prev.nodes.filter((n) => !present.has(n.id)).map((n) => n.id);
  const order = sameOrder ? null : next.nodes.map((n) => n.id);
  if (nodes.length || removed.length || order) changes = true;
  return { diff: { seq, full: false, hub, nodes, removed, order }, changes };
}

/** A client's copy of the status stream: the last message number applied and the status it gives. */
export interface StatusCopy {
  seq: number;
  status: HubStatus;
}

/**
 * Applies a (validated) message to a client's copy: the new copy; the same copy for a message
 * older than it (out of order: ignored); or 'resync' when it cannot be applied (a number was
 * missed, no full status yet, or the diff does not fit the copy): ask for a full one.
 */
export function applyStatusDiff(copy: StatusCopy | null, d: StatusDiff): StatusCopy | 'resync' {
  if (d.full) {
    if (copy && d.seq <= copy.seq) return copy;
    return { seq: d.seq, status: { ...(d.hub as HubFields), nodes: d.nodes as NodeStatus[] } };
  }
  if (!copy) return 'resync';
  if (d.seq <= copy.seq) return copy;
  if (d.seq !== copy.seq + 1) return 'resync';
  const byId = new Map<string, NodeStatus>();
  for (const n of copy.status.nodes) byId.set(n.id, n);
  for (const id of d.removed) if (!byId.delete(id)) return 'resync';
  for (const p of d.nodes) {
    const old = byId.get(p.id);
    if (old) byId.set(p.id, { ...old, ...p });
    else if (NODE_KEYS.every((k) => Object.hasOwn(p, k))) byId.set(p.id, p as NodeStatus);
    else return 'resync';
  }
  let ids: string[];
  if (d.order) {
    if (d.order.length !== byId.size || !d.order.every((id) => byId.has(id))) return 'resync';
    ids = d.order;
  } else {
    const gone = new Set(d.removed);
    ids = copy.status.nodes.map((n) => n.id).filter((id) => !gone.has(id));
    if (ids.length !== byId.size) return 'resync';
  }
  const { nodes: _old, ...hubBefore } = copy.status;
  return { seq: d.seq, status: { ...hubBefore, ...(d.hub as Partial<HubFields>), nodes: ids.map((id) => byId.get(id)!) } };
}
