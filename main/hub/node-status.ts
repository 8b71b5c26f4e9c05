/**
 * The status the UI and `cortex-hub status` show: per node (state, counts, problems, the node
 * detail) and for the hub. The decisions are pure functions over what the runtime holds; the
 * StatusBoard gathers the facts, caches the mirror totals and says when a snapshot is due.
 */
import path from 'node:path';
import { PENDING_LIMIT, type HubStatus, type NodeDetail, type NodeStatus, type PendingDirection, type PendingFileView, type PendingPage, type ProblemView } from '../contract';
import type { HubStore, NodeRecord } from '../store/hub-store';
import { factsOf } from './connection-facts';
import type { FsPool } from '../sync/fs-pool';
import { diffStatus, fullStatusDiff, type StatusDiff } from '../contract/ws';
import { VERSION } from '../util/version';
import { FailureSet, problemOf } from './failures';
import { LOCK_FILE, MirrorLock } from './lock';
import type { Mirror } from './mirror';
import type { NodeReports } from './node-reports';
import type { NodeRuntime, NodeRuntimes } from './node-runtime';
import type { NodeSession } from './session';
import { ProgressBoard } from './progress';

/** Status messages to subscribers: at most this often… */
export const STATUS_MS = 250;
/** …and at least this often. */
const STATUS_HEARTBEAT_MS = 5000;
/** This many connections of one node replacing each other within the window: two processes share its credentials. */
const SUPERSEDE_FIGHT = 3;
export const SUPERSEDE_WINDOW_MS = Number(process.env.CORTEX_SUPERSEDE_WINDOW_MS) > 0 ? Number(process.env.CORTEX_SUPERSEDE_WINDOW_MS) : 120_000;

/**
 * In sync, every write of ours seen by the mirror's watcher, and a sweep of the mirror's
 * directories done since the last activity: no hub-side edit the watcher lost can hide.
 */
export function settled(mirror: Mirror, s: NodeSession): boolean {
  return s.inSync && mirror.caughtUp;
}

/** Problems of the node as a whole (not of one path): its credentials used from two places, the mirror unreadable, progress not recorded. */
export function nodeProblems(rt: NodeRuntime | undefined, now: number, startedAt: number): ProblemView[] {
  if (!rt) return [];
  const out: ProblemView[] = [];
  const recent = rt.supersessions.filter((x) => now - x.at < SUPERSEDE_WINDOW_MS);
  if (recent.length >= SUPERSEDE_FIGHT) {
    const peers = [...new Set(recent.flatMap((x) => [x.replaced, x.by]))];
    out.push({ path: '', direction: 'to-hub', code: 'DUPLICATE_CONNECTION', at: recent[recent.length - 1]!.at,
      reason: `credentials in use from two places: this node connected ${recent.length} times in ${Math.round(SUPERSEDE_WINDOW_MS / 1000)} s, each connection replacing the other (peers ${peers.slice(0, 4).join(', ')}); stop one of the cortex-node processes` });
  }
  if (rt.mirror.scanError) out.push({ path: '', direction: 'to-node', code: 'MIRROR_SCAN', reason: `the mirror could not be scanned: ${rt.mirror.scanError}`, at: startedAt });
  const fe = rt.session?.flushError;
  if (fe) out.push({ path: '', direction: 'to-hub', code: fe.code, reason: fe.reason, at: fe.at });
  return out;
}

/** What a node's state is read from. */
export interface StateFacts {
  retired: boolean;
  /** The operator paused its sync: nothing flows either way (connected or not). */
  paused: boolean;
  connected: boolean;
  /** The node has connected at least once (its record has a lastSeen). */
  everConnected: boolean;
  /** Problems that make it an error: of the node as a whole, failures, reports that block in-sync. */
  errors: number;
  /** The node has sent its first index. */
  indexed: boolean;
  /** In sync and the mirror caught up (settled). */
  settled: boolean;
  /** Paths the node reports it cannot send (transient ones included). */
  reportedProblems: number;
}

export function nodeState(f: StateFacts): NodeStatus['state'] {
  if (f.retired) return 'retired';
  // Never in-sync while paused: neither side's changes are looked at.
  if (f.paused) return 'paused';
  // Added but never connected: waiting for its first connection, not a node that went away.
  if (!f.connected) return f.everConnected ? 'disconnected' : 'new';
  if (f.errors > 0) return 'error';
  if (!f.indexed) return 'connected';
  // A path the node cannot send is not in the mirror: never in-sync (a transient one is still syncing).
  return f.settled && f.reportedProblems === 0 ? 'in-sync' : 'syncing';
}

export interface StatusDeps {
  store: HubStore;
  runtimes: NodeRuntimes;
  reports: NodeReports;
  pool: FsPool;
  fingerprint: string;
  startedAt: number;
  mode: 'serve' | 'admin';
  /** host:port the node server is bound to, or null. */
  grpcAddress(): string | null;
  uiAddress(): string | null;
  mirrorOf(id: string): string;
  /** Bytes in the trash (trash-service.ts). */
  trashBytes(): number;
  /** Time one snapshot may spend recomputing due nodes (REFRESH_BUDGET_MS unless given). */
  refreshBudgetMs?: number;
}

/**
 * Nodes recomputed per `status()` call or stream tick at most (see also REFRESH_BUDGET_MS), the oldest first; the others stay
 * due for the next ones. A call costs the same however many nodes change (each recomputation is
 * a few small queries, ~50-80 µs): with more busy nodes than this, a busy node's status is up to
 * (busy nodes / this) calls or ticks old instead of the hub's event loop stalling for all of them.
 */
export const NODES_PER_REFRESH = 250;
/**
 * …and at most this long (checked every few nodes, at least a few recomputed): on a loaded
 * machine a snapshot does fewer instead of holding the event loop longer.
 */
export const REFRESH_BUDGET_MS = 8;

/** A connected node's "last seen" is now: to the second in `status`, to STREAM_SEEN_MS in the stream (its rows say "now" anyway). */
const STREAM_SEEN_MS = 10_000;
const bucket = (ms: number, of: number) => Math.floor(ms / of) * of;
const second = (ms: number) => bucket(ms, 1000);
/** A node with a session: its "last seen" is now. */
const connectedNow = (st: NodeStatus) => st.connected && st.state !== 'retired';

/**
 * Gathers the status. Each node's status is kept until something about it changes (`changed(id)`,
 * or `changed()` for all), or it is STATUS_HEARTBEAT_MS old (counters and time-bound problems
 * that nothing announces): a snapshot of 1,000 quiet nodes costs one pass over kept objects, not
 * 1,000 × a few queries, and at most NODES_PER_REFRESH nodes are recomputed per snapshot.
 *
 * The stream (`streamTick`, `streamFull`): numbered messages of contract/ws.ts (a full status,
 * then diffs against the last one sent), at most one per tick.
 */
export class StatusBoard {
  private dirty = true;
  private lastEmit = 0;
  private readonly totalsCache = new Map<string, { files: number; bytes: number }>();
  /** Each node's last computed status and when it was computed. */
  private readonly kept = new Map<string, { status: NodeStatus; at: number }>();
  /** Nodes whose kept status is out of date, oldest first. */
  private readonly due = new Set<string>();
  /** The node records in the store's order (null: read them again). */
  private records: NodeRecord[] | null = null;
  /** What the stream last sent of each node (kept status, lastSeen to STREAM_SEEN_MS). */
  private readonly streamed = new Map<string, { from: NodeStatus; sent: NodeStatus }>();
  private streamLast: HubStatus | null = null;
  private streamAt = 0;
  private streamSeq = 0;
  /** Percent and time left of what is pending, per node and direction (progress.ts). */
  private readonly progress = new ProgressBoard();

  constructor(private readonly deps: StatusDeps) {}

  /** A hub-wide field changed (the trash's bytes): the next tick sends it; no node is computed again. */
  hubChanged(): void {
    this.dirty = true;
  }

  /** Something shown changed, for one node or (no id) for any node: its status is due, its totals counted again. */
  changed(nodeId?: string): void {
    this.dirty = true;
    if (nodeId === undefined) {
      // Every node due (a new one is computed at once), NODES_PER_REFRESH at a time like any.
      this.records = null;
      for (const id of this.kept.keys()) this.due.add(id);
      this.totalsCache.clear();
    } else {
      this.due.add(nodeId);
      this.totalsCache.delete(nodeId);
    }
  }

  /** Files and bytes recorded for a node's mirror, recounted only after something changed. */
  totals(nodeId: string): { files: number; bytes: number } {
    let t = this.totalsCache.get(nodeId);
    if (!t) {
      t = this.deps.store.index.totals(nodeId);
      this.totalsCache.set(nodeId, t);
    }
    return t;
  }

  /** Recomputes up to `limit` due nodes (every node without a kept status in any case); the records in order. */
  private refresh(limit: number, now: number): NodeRecord[] {
    const records = this.records ??= this.deps.store.nodes();
    const byId = new Map<string, NodeRecord>();
    for (const r of records) {
      byId.set(r.id, r);
      const k = this.kept.get(r.id);
      if (!k) this.kept.set(r.id, { status: this.nodeStatus(r), at: now });
      else if (now - k.at >= STATUS_HEARTBEAT_MS) this.due.add(r.id);
    }
    let n = 0;
    const started = performance.now();
    const budget = this.deps.refreshBudgetMs ?? REFRESH_BUDGET_MS;
    for (const id of this.due) {
      if (n >= limit || (n % 8 === 0 && n > 0 && performance.now() - started > budget)) break;
      n++;
      this.due.delete(id);
      const cached = byId.get(id);
      if (!cached) continue;
      // A connected node's record changes only with changed() (retired) or its lastSeen, which
      // its status does not read while connected: the record is read again only for the others.
      const rec = this.deps.runtimes.get(id)?.session ? cached : this.deps.store.node(id);
      if (rec) this.kept.set(id, { status: this.nodeStatus(rec), at: now });
    }
    return records;
  }

  private hubFields(now: number): Omit<HubStatus, 'nodes'> {
    return {
      version: VERSION,
      uptimeMs: now - this.deps.startedAt,
      bytesHashedSinceStart: this.deps.pool.bytesHashed,
      filesHashedSinceStart: this.deps.pool.filesHashed,
      grpc: this.deps.grpcAddress(),
      ui: this.deps.uiAddress(),
      fingerprint: this.deps.fingerprint,
      trashBytes: this.deps.trashBytes(),
    };
  }

  /** The status now: up to NODES_PER_REFRESH due nodes recomputed, a connected node's lastSeen this second. */
  status(now = Date.now()): HubStatus {
    const nodes: NodeStatus[] = [];
    const sec = second(now);
    for (const r of this.refresh(NODES_PER_REFRESH, now)) {
      const st = this.kept.get(r.id)?.status;
      if (st) nodes.push(connectedNow(st) && st.lastSeen !== sec ? { ...st, lastSeen: sec } : st);
    }
    return { ...this.hubFields(now), nodes };
  }

  /** The stream's status: the kept statuses, each the same object as last sent while it did not change. */
  private streamStatusNow(limit: number, now: number): HubStatus {
    const nodes: NodeStatus[] = [];
    const seen = bucket(now, STREAM_SEEN_MS);
    for (const r of this.refresh(limit, now)) {
      const st = this.kept.get(r.id)?.status;
      if (!st) continue;
      const prev = this.streamed.get(r.id);
      const lastSeen = connectedNow(st) ? seen : st.lastSeen;
      if (prev && prev.from === st && prev.sent.lastSeen === lastSeen) {
        nodes.push(prev.sent);
        continue;
      }
      const sent = st.lastSeen === lastSeen ? st : { ...st, lastSeen };
      this.streamed.set(r.id, { from: st, sent });
      nodes.push(sent);
    }
    return { ...this.hubFields(now), nodes };
  }

  /**
   * The stream's next message, or null when none is due: something changed since the last one
   * (or nodes are still due), or STATUS_HEARTBEAT_MS passed (uptime and rates move with time).
   */
  streamTick(now = Date.now(), limit = NODES_PER_REFRESH): StatusDiff | null {
    if (this.streamLast && !this.dirty && this.due.size === 0 && now - this.lastEmit < STATUS_HEARTBEAT_MS) return null;
    this.dirty = false;
    const next = this.streamStatusNow(limit, now);
    const { diff, changes } = diffStatus(this.streamLast, next, this.streamSeq + 1);
    if (!changes && now - this.lastEmit < STATUS_HEARTBEAT_MS) return null;
    this.streamSeq = diff.seq;
    this.streamLast = next;
    this.streamAt = now;
    this.lastEmit = now;
    return diff;
  }

  /** The status the stream's last message gave (what subscribers to full snapshots get). */
  streamStatus(): HubStatus | null {
    return this.streamLast;
  }

  /**
   * A full message at the stream's current number (what a client starts from, or resyncs with).
   * When the stream's status is older than a tick, the stream moves on first: `emit` gets that
   * message for the subscribers, so that they and this client stay on one numbering.
   */
  streamFull(emit: (d: StatusDiff) => void, now = Date.now()): StatusDiff {
    if (!this.streamLast || now - this.streamAt >= STATUS_MS) {
      this.dirty = true;
      const d = this.streamTick(now);
      if (d) emit(d);
    }
    return fullStatusDiff(this.streamLast!, this.streamSeq);
  }

  nodeStatus(n: NodeRecord): NodeStatus {
    const { store, reports } = this.deps;
    const rt = this.deps.runtimes.get(n.id);
    const s = rt?.session ?? null;
    const failures = rt?.failures ?? new FailureSet(n.retiredAt === null ? store.failures.list(n.id) : []);
    const whole = nodeProblems(rt, Date.now(), this.deps.startedAt);
    const totals = this.totals(n.id);
    const pending = s?.pending() ?? { files: 0, bytes: 0 };
    const toNode = store.hubChanges.pending(n.id);
    const reported = reports.counts(n.id);
    const state = nodeState({
      retired: n.retiredAt !== null, paused: n.pausedAt !== null, connected: s !== null, everConnected: n.lastSeen !== null, errors: whole.length + failures.size + reported.blocking,
      indexed: s !== null && s.doneSeq >= 0, settled: rt !== undefined && s !== null && settled(rt.mirror, s), reportedProblems: reported.problems,
    });
    // Progress only while connected: a disconnected node's pending work does not move.
    const epoch = s?.connectedAt ?? 0;
    const now = Date.now();
    const toHubProgress = this.progress.sample(`${n.id}:to-hub`, s ? { ...pending, moved: s.counters.bytesReceived + s.counters.bytesReused, epoch } : null, now);
    const toNodeProgress = this.progress.sample(`${n.id}:to-node`, s ? { ...toNode, moved: s.counters.bytesSent, epoch } : null, now);
    const lastFailure = failures.last();
    const last = lastFailure ? { path: lastFailure.path, code: lastFailure.code, message: lastFailure.reason, at: lastFailure.at } : null;
    // A serving hub keeps each lock loaded; a one-shot admin command reads it for this answer.
    let lock: MirrorLock | null = rt?.mirror.lock ?? null;
    if (!rt && this.deps.mode === 'admin' && n.retiredAt === null) {
      lock = new MirrorLock(path.join(this.deps.mirrorOf(n.id), LOCK_FILE));
      lock.load();
    }
    return {
      id: n.id, name: n.name, state, createdAt: n.createdAt, retiredAt: n.retiredAt,
      lastSeen: s ? second(Date.now()) : n.lastSeen,
      files: totals.files, bytes: totals.bytes,
      outOfSyncFiles: pending.files, outOfSyncBytes: pending.bytes,
      toNodeFiles: toNode.files, toNodeBytes: toNode.bytes,
      toHubPercent: toHubProgress?.percent ?? null, toHubEtaMs: toHubProgress?.etaMs ?? null,
      toNodePercent: toNodeProgress?.percent ?? null, toNodeEtaMs: toNodeProgress?.etaMs ?? null,
      conflicts: store.index.conflicts(n.id).length,
      lastConflictAt: store.changes.lastConflictAt(n.id),
      held: n.pausedAt !== null ? s?.held ?? null : null,
      errors: failures.size + whole.length + reported.problems,
      problems: failures.size + whole.length + reported.problems,
      ignored: reported.ignored,
      lastError: last ?? (whole[0] ? { path: '', code: whole[0].code, message: whole[0].reason, at: whole[0].at } : null),
      bytesReceived: s?.counters.bytesReceived ?? 0, bytesReused: s?.counters.bytesReused ?? 0, bytesSent: s?.counters.bytesSent ?? 0,
      mirror: this.deps.mirrorOf(n.id),
      verifying: rt?.mirror.verifying ?? false,
      locked: lock?.globs ?? [],
      lockedRefusals: rt?.mirror.lockRefused.size ?? 0,
      lockError: lock?.error ?? null,
      pausedAt: n.pausedAt,
      connected: s !== null,
    };
  }

  /**
   * A page of what is pending one way (`nodes.pending`): items after the cursor (a sequence
   * number: the node's to the hub, the hub's to the node), `limit + 1` read to know whether
   * another page follows.
   */
  pendingPage(rec: NodeRecord, direction: PendingDirection, cursor: string | undefined, limit: number): PendingPage {
    const id = rec.id;
    const after = cursor === undefined ? 0 : Number(cursor);
    if (direction === 'to-hub') {
      const s = this.deps.runtimes.get(id)?.session ?? null;
      const pending = s?.pending() ?? { files: 0, bytes: 0 };
      const rows = s ? s.pendingAfter(after, limit + 1) : [];
      const page = rows.slice(0, limit);
      return { direction, items: page.map((r) => r.view), total: pending.files, totalBytes: pending.bytes, next: rows.length > limit ? String(page[page.length - 1]!.seq) : null };
    }
    const { store } = this.deps;
    const rows = store.hubChanges.after(id, Math.max(after, rec.hubAcked), limit + 1);
    const page = rows.slice(0, limit);
    const pending = store.hubChanges.pending(id);
    return { direction, items: page.map((c) => this.toNodeItem(id, c.path)), total: pending.files, totalBytes: pending.bytes, next: rows.length > limit ? String(page[page.length - 1]!.seq) : null };
  }

  /** A hub-side change as the node will apply it: what the mirror holds at the path now. */
  private toNodeItem(id: string, p: string): PendingFileView {
    const f = this.deps.store.index.stamp(id, p);
    return { path: p, action: !f ? 'delete' : f.type === 'file' ? 'pull' : f.type === 'dir' ? 'mkdir' : 'symlink', size: f?.type === 'file' ? f.size : 0, state: 'queued' };
  }

  /** The node detail (`nodes.detail`): its status, problems, pending both ways, conflicts, ignored and events. */
  detail(rec: NodeRecord): NodeDetail {
    const { store, reports } = this.deps;
    const id = rec.id;
    const rt = this.deps.runtimes.get(id);
    const failures = (rt?.failures ?? new FailureSet(store.failures.list(id))).list();
    return {
      node: this.nodeStatus(rec),
      facts: factsOf(store.connection(id)),
      problems: [...nodeProblems(rt, Date.now(), this.deps.startedAt), ...failures.map(problemOf), ...reports.problems(id, PENDING_LIMIT)].slice(0, PENDING_LIMIT),
      pending: rt?.session?.pendingItems(PENDING_LIMIT) ?? [],
      toNode: store.hubChanges.after(id, rec.hubAcked, PENDING_LIMIT).map((c) => this.toNodeItem(id, c.path)),
      lockRefusals: [...(rt?.mirror.lockRefused.values() ?? [])].slice(-PENDING_LIMIT),
      conflicts: store.index.conflicts(id).slice(0, PENDING_LIMIT),
      ignored: reports.ignored(id, PENDING_LIMIT),
      events: store.events.list({ nodeId: id, limit: 100 }),
    };
  }
}
