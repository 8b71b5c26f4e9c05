/**
 * The one contract between the UI (renderer, browser, CLI) and the HubService: every
 * operation and event, declared once with a runtime schema for its input. Transports
 * (Electron IPC, HTTP/WebSocket) are generic over this table and know no operation by name.
 * Renderer code may import this file; it imports nothing from the engine.
 * Just over 400 lines: the table of every operation is meant to be read in one place.
 */
import { z } from 'zod';
import { ContractError } from './envelope';
import { nodeNameProblem } from './names';
import { TRASH_RETENTION_DEFAULT_DAYS, TRASH_RETENTION_MAX_DAYS, TrashEmptyInput, TrashRestoreInput, type TrashEmptyView, type TrashRestoreView, type TrashView } from './trash';
import { conflictOperations } from './conflicts';
import { changeOperations, CHANGES_RETENTION_DEFAULT_DAYS, CHANGES_RETENTION_MAX_DAYS } from './changes';
import { AGENT_HISTORY_DEFAULT_DAYS, AGENT_HISTORY_MAX_DAYS, agentOperations, type AgentInstanceView, type AgentTemplateView } from './agents';
import { searchOperations } from './search';

export { NODE_NAME_MAX, nodeNameKey, nodeNameProblem, normalizeNodeName } from './names';
export { ContractError, ERROR_CODES, type ErrorCode } from './envelope';
export { WS_CLOSE_TOKEN_CHANGED } from './ws';
export * from './trash';
export * from './conflicts';
export * from './changes';
export * from './agents';
export * from './search';

export { NODE_STATES, type NodeState } from './states';
import type { NodeState } from './states';
import type { StatusDiff } from './ws';

export interface FileFailureView {
  path: string;
  code: string;
  message: string;
  at: number;
}

/**
 * Something that keeps a path from being mirrored, either way, until it is dealt with, and why:
 * `to-hub` the node's version cannot reach the mirror (unreadable on the node, a name that is not
 * valid UTF-8, the hub's disk full...), `to-node` the hub's change cannot reach the node. Path ''
 * is the node or mirror as a whole. Pending work is not a problem; a problem is never silent: a
 * node with one that needs someone is in `error`, never `in-sync`.
 */
export interface ProblemView {
  path: string;
  direction: 'to-hub' | 'to-node';
  code: string;
  reason: string;
  /** When it was first reported (ms since the epoch). */
  at: number;
}

/** A path left out by design (special files; `other`: e.g. a symlink that leads outside the workspace). */
export interface IgnoredView {
  path: string;
  kind: 'fifo' | 'socket' | 'device' | 'other';
}

/** What a paused node holds back: its changes recorded and not sent (counted up to 100,000: `capped`), and their bytes. */
export interface HeldView {
  changes: number;
  bytes: number;
  capped: boolean;
}

export interface NodeStatus {
  id: string;
  name: string;
  state: NodeState;
  createdAt: number;
  retiredAt: number | null;
  lastSeen: number | null;
  files: number;
  bytes: number;
  /** Node changes the hub has not applied yet (node → hub). */
  outOfSyncFiles: number;
  outOfSyncBytes: number;
  /** Changes made on the hub's side of the mirror that the node has not applied yet (hub → node). */
  toNodeFiles: number;
  toNodeBytes: number;
  /** While paused and connected: what the node holds back, as it said last (null: not paused, not connected, or an older node). */
  held: HeldView | null;
  /**
   * Progress of what is pending each way while the node is connected (hub/progress.ts): a whole
   * percent below 100 of the work seen since something became pending, and the time left at the
   * average rate so far (null until it can be told). Null when nothing is pending that way.
   */
  toHubPercent: number | null;
  toHubEtaMs: number | null;
  toNodePercent: number | null;
  toNodeEtaMs: number | null;
  /** Conflict copies (`*.sync-conflict-*`) in the mirror: both versions kept, for someone to look at. */
  conflicts: number;
  /**
   * When the newest conflict copy was made (the change log; null: none kept): a new conflict is
   * seen by this too, when another was resolved meanwhile and the count stayed the same.
   */
  lastConflictAt: number | null;
  /**
   * Problems that keep something from being mirrored, either way, with a reason (the hub's failed
   * applies, what the node cannot send, the node as a whole): NodeDetail.problems lists them; the
   * state is `error` while one needs the operator.
   */
  problems: number;
  /** Paths left out by design: special files (NodeDetail.ignored lists them). They do not block `in-sync`. */
  ignored: number;
  /** The same count as `problems` (kept for scripts written before it). */
  errors: number;
  lastError: FileFailureView | null;
  /** This session's bytes received from the node, and those the hub found in the mirror instead (node → hub). */
  bytesReceived: number;
  bytesReused: number;
  /** This session's bytes sent to the node (hub → node: blocks of changes made on the hub's side). */
  bytesSent: number;
  mirror: string;
  /** The mirror is being checked against the index after a clean restart. */
  verifying: boolean;
  /** Globs of the mirror's immutability lock (`.metadata.json`), and changes refused by it. */
  locked: string[];
  lockedRefusals: number;
  /** Why the lock file could not be used (the last good lock set stays in force), or null. */
  lockError: string | null;
  /**
   * Since when the operator has paused the node's sync (state `paused`), or null. While paused
   * nothing flows either way: the node holds its changes (not counted here) and the hub holds
   * its own (`toNodeFiles`); both go on resume.
   */
  pausedAt: number | null;
  /** The node has a session with the hub now (a paused node may or may not). */
  connected: boolean;
}

/** A node's change to a locked path, refused (the hub's version stayed). */
export interface LockRefusalView {
  path: string;
  glob: string;
  at: number;
}

export interface HubStatus {
  version: string;
  uptimeMs: number;
  bytesHashedSinceStart: number;
  filesHashedSinceStart: number;
  grpc: string | null;
  /** The UI and admin API's address (`http://host:port`; webhooks go there too), null where the hub serves none (an admin command's own). */
  ui: string | null;
  fingerprint: string;
  /** Bytes of the mirrors in the trash (DATA/trash/), restorable until emptied. */
  trashBytes: number;
  nodes: NodeStatus[];
}

export interface NodeInfo {
  id: string;
  name: string;
  createdAt: number;
  retiredAt: number | null;
  lastSeen: number | null;
  /** Since when its sync is paused, or null. */
  pausedAt: number | null;
}

/** What `nodes.pause` / `nodes.resume` did to each node it was asked about. */
export interface PauseView {
  nodes: {
    id: string;
    name: string;
    /** Paused now (after the call). */
    paused: boolean;
    pausedAt: number | null;
    /** False when it already was paused (resumed): nothing changed. */
    changed: boolean;
  }[];
}

/** What one side's rescan looked at and found. */
export interface RescanSideView {
  /** Entries looked at (files, directories, symlinks). */
  scanned: number;
  /** New or changed entries found (and recorded: they go to the other side, or are held while paused). */
  changed: number;
  /** Entries found gone. */
  deleted: number;
  hashedFiles: number;
  hashedBytes: number;
  /** Paths that cannot be synced (the node's side: what it cannot send). */
  problems: number;
  ms: number;
}

/**
 * The result of `nodes.rescan`: the mirror rescanned on the hub, the workspace on the node, and
 * the failed changes tried again. A side without a result says why (`hubMissing`, `nodeMissing`):
 * the node is not connected, did not answer within RESCAN_WAIT_MS (its result is recorded as a
 * `node.rescanned` event when it comes), or the scan failed.
 */
export interface RescanView {
  nodeId: string;
  at: number;
  hub: RescanSideView | null;
  hubMissing: string | null;
  node: RescanSideView | null;
  nodeMissing: string | null;
  /** Failed changes tried again now (none while paused). */
  retried: number;
  /** The node is paused: what was found is held on each side until it is resumed. */
  paused: boolean;
  /** The node was connected, so its workspace was asked to rescan (kept for scripts written before `node`). */
  rescanning: boolean;
}

/** How long `nodes.rescan` waits for the node's answer before it returns without it. */
export const RESCAN_WAIT_MS = 30_000;


/** An entry the hub has not applied yet. */
export interface PendingFileView {
  path: string;
  /** What applying it takes: pull (bytes to transfer), mkdir, symlink, delete, meta. */
  action: string;
  /** Bytes to transfer (0 unless the action is a pull). */
  size: number;
  state: 'queued' | 'running';
}

/**
 * What the hub knows of a node's side, from its latest connection (kept after it disconnects;
 * null: not known: never connected, or a node too old to say).
 */
export interface NodeFacts {
  /** The address the node connected from (its host, without the port). */
  host: string | null;
  /** The node's cortex-node version. */
  version: string | null;
  /** The workspace directory on the node (as the node names it). */
  workspace: string | null;
  /** When that connection was made (ms since the epoch). */
  connectedAt: number | null;
}

export interface NodeDetail {
  node: NodeStatus;
  facts: NodeFacts;
  /** The first PENDING_LIMIT entries not applied yet; `node.outOfSyncFiles` counts them all. */
  pending: PendingFileView[];
  /** The first PENDING_LIMIT hub-side changes the node has not applied yet; `node.toNodeFiles` counts them all. */
  toNode: PendingFileView[];
  /** The most recent refusals by the immutability lock, newest last. */
  lockRefusals: LockRefusalView[];
  /** Conflict copies in the mirror (the first PENDING_LIMIT, by path); `node.conflicts` counts them all. */
  conflicts: string[];
  /** The first PENDING_LIMIT problems (the node's as a whole first, then by source); `node.problems` counts them all. */
  problems: ProblemView[];
  /** The first PENDING_LIMIT ignored paths, by path; `node.ignored` counts them all. */
  ignored: IgnoredView[];
  events: HubEvent[];
}

export const PENDING_LIMIT = 200;

export const PENDING_DIRECTIONS = ['to-hub', 'to-node'] as const;
export type PendingDirection = (typeof PENDING_DIRECTIONS)[number];

/**
 * A page of what is pending one way (`nodes.pending`): to-hub the node's changes the hub has not
 * applied yet, in the node's order; to-node the hub-side changes the node has not applied yet,
 * in the hub's order. `total`/`totalBytes` count everything pending that way now (to-hub also
 * entries still being taken in from the node's index, which are listed once queued).
 */
export interface PendingPage {
  direction: PendingDirection;
  items: PendingFileView[];
  total: number;
  totalBytes: number;
  /** Pass as `cursor` for the next page; null when this was the last. */
  next: string | null;
}

export interface HubEvent {
  id: number;
  at: number;
  nodeId: string | null;
  kind: string;
  data: Record<string, unknown>;
}

export interface PurgeTargetView {
  id: string;
  reason: 'retired' | 'unknown';
  kind: 'dir' | 'symlink' | 'other';
  files: number;
  bytes: number;
  /** In what a purge did: the trash entry it was moved into (`cortex-hub trash restore ID`). */
  trashId?: string;
}

/** An orphaned mirror a purge leaves in place, and why. */
export interface PurgeSkipView {
  id: string;
  /**
   * mount-point: it is, or holds, a mount point (never descended into, never removed);
   * active: its node is active or connected again; replaced: not the directory (or link) the
   * preview saw; gone: it no longer exists; failed: moving it to the trash failed (message says
   * why); unselected: the operator left it out of the run.
   */
  why: 'mount-point' | 'active' | 'replaced' | 'gone' | 'failed' | 'unselected';
  message: string;
}

/**
 * A purge plan (preview) or what running one did. A preview stores its plan under `planId`
 * until `expiresAt`; `purge.run` with that id moves into the trash only the plan's mirrors
 * (all, or those selected) that are still orphaned and still the same directory (or link), once.
 */
export interface PurgeView {
  dryRun: boolean;
  planId: string;
  expiresAt: number;
  /** Preview: what the plan removes. Run: what was moved into the trash (each with its `trashId`). */
  targets: PurgeTargetView[];
  files: number;
  bytes: number;
  /** Preview: orphans left out of the plan. Run: the plan's mirrors left in place. */
  skipped: PurgeSkipView[];
}

/** How long a purge preview can be run (purge.run refuses it after). */
export const PURGE_PLAN_TTL_MS = 60 * 60 * 1000;

export interface LogEntryView {
  t: string;
  level: LogLevel;
  component: string;
  msg: string;
  [field: string]: unknown;
}

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const MIRROR_MODES = ['private', 'exact'] as const;
export type MirrorModesSetting = (typeof MIRROR_MODES)[number];

/** How long a node may stay disconnected before it is told (default), and the most one may choose (a day). */
export const NOTIFY_DISCONNECTED_DEFAULT_SECONDS = 300;
export const NOTIFY_DISCONNECTED_MAX_SECONDS = 86_400;

/** Hub settings an operator may change from the UI; stored in the hub's database. */
export const SettingsSchema = z.object({
  /** Lowest level written to the hub's log file. */
  logLevel: z.enum(LOG_LEVELS),
  /** Tell when a node goes to `error` (with the other notification settings below). */
  notifyOnError: z.boolean(),
  /**
   * Modes of files and directories written into mirrors (README, "Two-way mirrors"): `private`
   * strips world-write on disk (the node's real mode stays in the index and on the node),
   * `exact` keeps the node's permission bits. Applies to new writes.
   */
  mirrorModes: z.enum(MIRROR_MODES),
  /** Days a purged mirror stays in the trash (restorable) before it is emptied. */
  trashRetentionDays: z.number().int().min(1).max(TRASH_RETENTION_MAX_DAYS),
  /** Days the change log (recent changes, file history) keeps a row; it also keeps at most a million rows. */
  changesRetentionDays: z.number().int().min(1).max(CHANGES_RETENTION_MAX_DAYS),
  /** Days a finished agent instance (and its output) is kept; pending and running ones always are. */
  agentHistoryDays: z.number().int().min(1).max(AGENT_HISTORY_MAX_DAYS),
  // ---- notifications and start on login (contract/notices.ts decides what to tell) ----
  /** Tell when a node stays disconnected longer than `notifyDisconnectedAfterSeconds`. */
  notifyOnDisconnect: z.boolean(),
  notifyDisconnectedAfterSeconds: z.number().int().min(1).max(NOTIFY_DISCONNECTED_MAX_SECONDS),
  /** Tell when new conflict copies appear on a node. */
  notifyOnConflicts: z.boolean(),
  /** Tell when a node has new problems (something it cannot mirror) without going to `error`. */
  notifyOnProblems: z.boolean(),
  /** The desktop app starts (in the tray) when the operator logs in; a headless hub refuses `true`. */
  startOnLogin: z.boolean(),
}).strict();
export type Settings = z.infer<typeof SettingsSchema>;

/** A fresh object on every call: no default is ever shared between callers. */
export function defaultSettings(): Settings {
  return {
    logLevel: 'info', notifyOnError: true, mirrorModes: 'private', trashRetentionDays: TRASH_RETENTION_DEFAULT_DAYS, changesRetentionDays: CHANGES_RETENTION_DEFAULT_DAYS, agentHistoryDays: AGENT_HISTORY_DEFAULT_DAYS,
    notifyOnDisconnect: true, notifyDisconnectedAfterSeconds: NOTIFY_DISCONNECTED_DEFAULT_SECONDS, notifyOnConflicts: true, notifyOnProblems: true, startOnLogin: false,
  };
}

const Id = z.string().min(1).max(64);

/** A node name (see names.ts): trimmed, printable, at most NODE_NAME_MAX characters. */
const NodeName = z.string().trim().superRefine((name, ctx) => {
  const problem = nodeNameProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const Empty = z.object({}).strict();
/** One node (`id`) or every node (`all: true`), never both. */
const PauseTarget = z.object({ id: Id.optional(), all: z.literal(true).optional() }).strict()
  .refine((t) => (t.id === undefined) !== (t.all === undefined), { message: 'give either id (one node) or all: true (every node), not both' });
const Limit = z.number().int().min(1).max(10_000).optional();

export const operations = {
  'status': { input: Empty, output: {} as HubStatus },
  /** The status as a full message of the `status.diff` stream (contract/ws.ts): what a client starts from, or resyncs with. */
  'status.snapshot': { input: Empty, output: {} as StatusDiff },
  'nodes.list': { input: Empty, output: {} as NodeInfo[] },
  'nodes.add': { input: z.object({ name: NodeName }).strict(), output: {} as { node: NodeInfo; join: string } },
  'nodes.retire': { input: z.object({ id: z.string().min(1).max(64) }).strict(), output: {} as NodeInfo },
  'nodes.rescan': { input: z.object({ id: z.string().min(1).max(64) }).strict(), output: {} as RescanView },
  /** Pauses one node's sync (`id`) or every active node's (`all: true`): nothing flows either way; kept across restarts. */
  'nodes.pause': { input: PauseTarget, output: {} as PauseView },
  /** Resumes one node (`id`) or every paused one (`all: true`): both sides catch up. */
  'nodes.resume': { input: PauseTarget, output: {} as PauseView },
  'nodes.detail': { input: z.object({ id: z.string().min(1).max(64) }).strict(), output: {} as NodeDetail },
  /** What is pending one way, a page at a time (PendingPage). */
  'nodes.pending': {
    input: z.object({
      id: Id, direction: z.enum(PENDING_DIRECTIONS),
      cursor: z.string().regex(/^\d{1,15}$/, 'a cursor is the `next` of an earlier page').optional(),
      limit: z.number().int().min(1).max(1000).optional(),
    }).strict(),
    output: {} as PendingPage,
  },
  'purge.preview': { input: Empty, output: {} as PurgeView },
  /** `ids`: only these of the plan's mirrors (entry names under mirrors/); the others are kept (`unselected`). Default: all. */
  'purge.run': { input: z.object({ planId: z.string().min(1).max(64), ids: z.array(z.string().min(1).max(255)).min(1).max(10_000).optional() }).strict(), output: {} as PurgeView },
  'purge.history': { input: z.object({ limit: Limit }).strict(), output: {} as HubEvent[] },
  'trash.list': { input: Empty, output: {} as TrashView },
  /** Puts a trashed mirror back under the mirrors folder (contract/trash.ts: TrashRestoreView says where). */
  'trash.restore': { input: TrashRestoreInput, output: {} as TrashRestoreView },
  /** Removes trash entries for good: all, those older than `olderThanDays`, or those named. */
  'trash.empty': { input: TrashEmptyInput, output: {} as TrashEmptyView },
  'events.list': { input: z.object({ nodeId: z.string().max(64).optional(), kind: z.string().max(64).optional(), limit: Limit }).strict(), output: {} as HubEvent[] },
  'logs.recent': { input: z.object({ level: z.enum(LOG_LEVELS).optional(), node: z.string().max(64).optional(), limit: Limit }).strict(), output: {} as LogEntryView[] },
  'settings.get': { input: Empty, output: {} as Settings },
  'settings.set': { input: SettingsSchema.partial().strict(), output: {} as Settings },
  /**
   * A new admin token (kept in DATA, the same across restarts until rotated). A serving hub
   * switches to it at once and closes WebSockets opened with the old one
   * (WS_CLOSE_TOKEN_CHANGED).
   */
  'token.rotate': { input: Empty, output: {} as { token: string } },
  ...conflictOperations,
  ...changeOperations,
  ...agentOperations,
  ...searchOperations,
} as const;

export type OpName = keyof typeof operations;
export type OpInput<K extends OpName> = z.infer<(typeof operations)[K]['input']>;
export type OpOutput<K extends OpName> = (typeof operations)[K]['output'];

/** Events pushed to subscribers. */
export interface EventMap {
  'status': HubStatus;
  /** The status as numbered diffs (contract/ws.ts: StatusDiff), coalesced by the hub. */
  'status.diff': StatusDiff;
  'log': LogEntryView;
  /** An agent instance was created or changed state. */
  'agent': AgentInstanceView;
  /** An agent template was created (or changed): lists reload without a page reload. */
  'agent.template': AgentTemplateView;
  /** The settings after a change (every page's notices follow the switches at once). */
  'settings': Settings;
}
export type EventName = keyof EventMap;

/** Where transports get events from (the HubService is one). */
export interface EventSource {
  on(name: EventName, cb: (data: unknown) => void): unknown;
  off(name: EventName, cb: (data: unknown) => void): unknown;
}
export const EVENT_NAMES: EventName[] = ['status', 'status.diff', 'log', 'agent', 'agent.template', 'settings'];

export type Handlers = { [K in OpName]: (input: OpInput<K>) => OpOutput<K> | Promise<OpOutput<K>> };

export function isOpName(op: unknown): op is OpName {
  return typeof op === 'string' && Object.prototype.hasOwnProperty.call(operations, op);
}

/** A schema's complaints as one line: `path: message; …`. */
export function issuesText(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
}

/** Validates and runs one request: the single entry point every transport calls. */
export async function dispatch(handlers: Handlers, op: unknown, input: unknown): Promise<unknown> {
  if (!isOpName(op)) throw new ContractError('UNKNOWN_OP', `unknown operation ${JSON.stringify(op)}`);
  const parsed = operations[op].input.safeParse(input ?? {});
  if (!parsed.success) throw new ContractError('BAD_REQUEST', `${op}: ${issuesText(parsed.error)}`);
  const handler = handlers[op] as (i: unknown) => unknown;
  return await handler(parsed.data);
}
