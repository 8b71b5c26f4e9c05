/**
 * The hub's database, the one object callers use: it opens the connection (schema in
 * hub-migrations.ts), owns the node registry (nodes, their tokens and acknowledgements) and the
 * settings (meta), and hands out its parts, each owning its tables on the same connection:
 * `index` (mirror-index.ts), `ancestors`, `hubChanges`, `failures`, `events`, `purgePlans`,
 * `agents`, `reports`, `trash`, `changes`. The writes that span parts are methods here, each one transaction.
 * All hub SQL lives in main/store/.
 */
import crypto from 'node:crypto';
import type { CachedEntry } from '../sync/types';
import type { Version } from '../sync/reconcile';
import { AgentStore } from './agent-store';
import { ReportStore } from './report-store';
import { openDatabase, type DB } from './db';
import { HUB_MIGRATIONS } from './hub-migrations';
import { MirrorIndex } from './mirror-index';
import { AncestorStore } from './ancestor-store';
import { HubChangeQueue } from './hub-change-queue';
import { FailureStore, type FailureRecord } from './failure-store';
import { EventLog } from './event-log';
import { PurgePlanStore } from './purge-plans';
import { TrashStore } from './trash-store';
import { ChangeLog, flushChanges } from './change-log';
import { isConflictCopy } from '../sync/reconcile';
import { PathSearch } from './path-search';

export type { FailureRecord } from './failure-store';
export type { EventRecord } from './event-log';
export type { PurgePlanRecord, PurgePlanTarget } from './purge-plans';
export type { TrashRecord, TrashState } from './trash-store';
export type { ChangeRecord, ChangeFilter, ChangeAction, ChangeDirection } from './change-log';

export interface NodeRecord {
  id: string;
  name: string;
  createdAt: number;
  retiredAt: number | null;
  lastSeen: number | null;
  indexId: string | null;
  ackedSeq: number;
  settings: Record<string, unknown>;
  /** Last sequence number given to a change on the hub's side of the mirror. */
  hubSeq: number;
  /** The node applied (or settled) the hub's changes through this number. */
  hubAcked: number;
  /** The operator paused the node's sync at this time (null: not paused). */
  pausedAt: number | null;
}

/**
 * What a node's latest connection said of it (recordConnection): where it connected from, its
 * cortex-node version and its workspace path (null: not said; nodes before it do not).
 */
export interface ConnectionFacts {
  host: string;
  version: string | null;
  workspace: string | null;
  /** When it connected (ms since the epoch). */
  at: number;
}

/** The meta key of a node's ConnectionFacts (kept there, not in a new column: no schema change for a display fact). */
const connectionKey = (id: string) => `node.connection.${id}`;

function connectionFacts(raw: string | undefined): ConnectionFacts | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Partial<ConnectionFacts>;
    const str = (x: unknown) => (typeof x === 'string' ? x : null);
    if (typeof v.host !== 'string' || typeof v.at !== 'number') return null;
    return { host: v.host, version: str(v.version), workspace: str(v.workspace), at: v.at };
  } catch {
    return null;
  }
}

interface NodeRow {
  id: string; name: string; token_hash: Buffer; created_at: number; retired_at: number | null;
  last_seen: number | null; index_id: string | null; acked_seq: number; settings: string;
  hub_seq: number; hub_acked: number; paused_at: number | null;
}

/** What one session flush records (recordFlush). */
export interface FlushRecord {
  put: CachedEntry[];
  del: string[];
  agreed: [path: string, v: Version | null][];
  forNode: string[];
  failed: FailureRecord[];
  cleared: { direction: FailureRecord['direction']; path: string }[];
  /** The node's sequence number acknowledged now (null: unchanged), and its index id. */
  acked: number | null;
  indexId: string | null;
}

/** What a scan of a mirror found changed on the hub's side (recordMirrorChanges). */
export interface MirrorChanges {
  put: CachedEntry[];
  del: string[];
  /** Paths queued for the node with them (hub_changes), in the order it can apply them. */
  forNode: string[];
  /** Agreements that go with them (the hub's own unrecorded commits found after a crash). */
  agreed?: [path: string, v: Version | null][];
}

function toNode(r: NodeRow): NodeRecord {
  return {
    id: r.id, name: r.name, createdAt: r.created_at, retiredAt: r.retired_at, lastSeen: r.last_seen,
    indexId: r.index_id, ackedSeq: r.acked_seq, settings: JSON.parse(r.settings) as Record<string, unknown>,
    hubSeq: r.hub_seq, hubAcked: r.hub_acked, pausedAt: r.paused_at,
  };
}

export function hashToken(secret: string): Buffer {
  return crypto.createHash('sha256').update(secret, 'utf8').digest();
}

export class HubStore {
  /** Private: every write that must be atomic is one method here, never a caller's transaction. */
  private readonly db: DB;
  private readonly q;
  /** The mirror index of every node: files, block rows, conflict copies (mirror-index.ts). */
  readonly index: MirrorIndex;
  /** The last version both sides agreed on, per path (ancestor-store.ts). */
  readonly ancestors: AncestorStore;
  /** Hub-side changes the node has not applied yet (hub-change-queue.ts). */
  readonly hubChanges: HubChangeQueue;
  /** What could not be applied, either way (failure-store.ts). */
  readonly failures: FailureStore;
  /** Audit and session events (event-log.ts). */
  readonly events: EventLog;
  /** What purge previews listed (purge-plans.ts). */
  readonly purgePlans: PurgePlanStore;
  /** Mirrors a purge moved into the trash (trash-store.ts). */
  readonly trash: TrashStore;
  /** What changed where, for the feed and a path's timeline (change-log.ts). */
  readonly changes: ChangeLog;
  /** Every mirror's paths, found by a piece of their name (path-search.ts). */
  readonly search: PathSearch;
  /** The agents' tables (agent-store.ts), on this database. */
  readonly agents: AgentStore;
  /** What nodes report they cannot send or leave out (report-store.ts), on this database. */
  readonly reports: ReportStore;

  constructor(file: string) {
    this.db = openDatabase(file, HUB_MIGRATIONS);
    const db = this.db;
    this.index = new MirrorIndex(db);
    this.ancestors = new AncestorStore(db);
    this.changes = new ChangeLog(db);
    this.hubChanges = new HubChangeQueue(db, this.changes);
    this.failures = new FailureStore(db);
    this.events = new EventLog(db);
    this.purgePlans = new PurgePlanStore(db);
    this.trash = new TrashStore(db);
    this.search = new PathSearch(db);
    this.agents = new AgentStore(db);
    this.reports = new ReportStore(db, this.changes);
    this.q = {
      insertNode: db.prepare('INSERT INTO nodes (id, name, token_hash, created_at, settings) VALUES (?, ?, ?, ?, ?)'),
      node: db.prepare<[string], NodeRow>('SELECT * FROM nodes WHERE id = ?'),
      nodes: db.prepare<[], NodeRow>('SELECT * FROM nodes ORDER BY created_at, id'),
      names: db.prepare<[], { id: string; name: string }>('SELECT id, name FROM nodes'),
      tokenHash: db.prepare<[string], { token_hash: Buffer; retired_at: number | null }>('SELECT token_hash, retired_at FROM nodes WHERE id = ?'),
      retire: db.prepare('UPDATE nodes SET retired_at = ? WHERE id = ? AND retired_at IS NULL'),
      seen: db.prepare('UPDATE nodes SET last_seen = ? WHERE id = ?'),
      pause: db.prepare('UPDATE nodes SET paused_at = ? WHERE id = ? AND paused_at IS NULL'),
      resume: db.prepare('UPDATE nodes SET paused_at = NULL WHERE id = ? AND paused_at IS NOT NULL'),
      ack: db.prepare('UPDATE nodes SET acked_seq = ?, index_id = ? WHERE id = ?'),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
    };
  }

  close(): void {
    this.db.close();
  }

  // ---- nodes -------------------------------------------------------------------------------

  addNode(id: string, name: string, secret: string, settings: Record<string, unknown> = {}): NodeRecord {
    this.q.insertNode.run(id, name, hashToken(secret), Date.now(), JSON.stringify(settings));
    return this.node(id)!;
  }

  node(id: string): NodeRecord | undefined {
    const r = this.q.node.get(id);
    return r && toNode(r);
  }

  nodes(): NodeRecord[] {
    return this.q.nodes.all().map(toNode);
  }

  /** Every node's name by id (no settings parsed: the change feed names each row's node). */
  nodeNames(): Map<string, string> {
    return new Map(this.q.names.all().map((r) => [r.id, r.name]));
  }

  /** Constant-time check of a node's token. Retired and unknown nodes never verify. */
  verifyToken(id: string, secret: string): 'ok' | 'unknown' | 'retired' | 'bad-token' {
    const r = this.q.tokenHash.get(id);
    const given = hashToken(secret);
    if (!r) {
      crypto.timingSafeEqual(given, given);
      return 'unknown';
    }
    const ok = crypto.timingSafeEqual(given, r.token_hash);
    if (!ok) return 'bad-token';
    // Only the token's holder learns that the node was retired.
    return r.retired_at !== null ? 'retired' : 'ok';
  }

  retireNode(id: string): boolean {
    return this.q.retire.run(Date.now(), id).changes > 0;
  }

  /**
   * Pauses (at `at`) or resumes a node's sync, with its audit event (`node.paused`,
   * `node.resumed`) in the same transaction; false when it already was so (nothing recorded).
   */
  setPaused(id: string, at: number | null): boolean {
    return this.db.transaction(() => {
      const changed = (at === null ? this.q.resume.run(id) : this.q.pause.run(at, id)).changes > 0;
      if (changed) this.events.add(id, at === null ? 'node.resumed' : 'node.paused', {});
      return changed;
    })();
  }

  markSeen(id: string, at = Date.now()): void {
    this.q.seen.run(at, id);
  }

  /** A node connected: it is seen now, and what it said of itself replaces what its last connection said. */
  recordConnection(id: string, f: ConnectionFacts): void {
    this.db.transaction(() => {
      this.q.seen.run(f.at, id);
      this.q.setMeta.run(connectionKey(id), JSON.stringify(f));
    })();
  }

  /** What the node's latest connection said of it, or null (never connected since the hub kept it). */
  connection(id: string): ConnectionFacts | null {
    return connectionFacts(this.q.getMeta.get(connectionKey(id))?.value);
  }

  setAcked(id: string, seq: number, indexId: string | null): void {
    this.q.ack.run(seq, indexId, id);
  }

  getMeta(key: string): string | undefined {
    return this.q.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.q.setMeta.run(key, value);
  }

  // ---- writes that span parts, each one transaction ---------------------------------------

  /** Forgets a node's mirror index (after its mirror was purged). The node row stays for audit. */
  forgetMirror(id: string): void {
    this.counting(id, () => this.db.transaction(() => {
      this.index.forget(id);
      this.ancestors.clear(id);
      this.hubChanges.forget(id);
      this.failures.forget(id);
      this.q.ack.run(0, null, id);
    })());
  }

  /** A transaction that may write the node's hub-change queue: if it rolls back, the queue's length in memory is dropped. */
  private counting(nodeId: string, write: () => void): void {
    try {
      write();
    } catch (e) {
      this.hubChanges.invalidate(nodeId);
      throw e;
    }
  }

  /**
   * Records what a session flush applied, in one transaction: versions committed to the mirror
   * and paths removed, the new agreements, paths whose hub-side version must reach the node,
   * failures (to retry) and cleared ones, and the node's acknowledged sequence number.
   */
  recordFlush(nodeId: string, w: FlushRecord): void {
    this.counting(nodeId, () => this.db.transaction(() => this.flushRows(nodeId, w))());
  }

  /** The flushes of several sessions in one transaction (FlushGroup): all are recorded or none. */
  recordFlushes(flushes: { nodeId: string; w: FlushRecord }[]): void {
    try {
      this.db.transaction(() => {
        for (const { nodeId, w } of flushes) this.flushRows(nodeId, w);
      })();
    } catch (e) {
      for (const { nodeId } of flushes) this.hubChanges.invalidate(nodeId);
      throw e;
    }
  }

  private flushRows(nodeId: string, w: FlushRecord): void {
    if (w.del.length) this.index.deletePaths(nodeId, w.del);
    if (w.put.length) this.index.putFiles(nodeId, w.put);
    if (w.agreed.length) this.ancestors.set(nodeId, w.agreed);
    if (w.forNode.length) this.hubChanges.queue(nodeId, w.forNode);
    this.failures.record(nodeId, w.failed, w.cleared);
    // The change log's rows, in this transaction (no commit of their own).
    this.changes.add(flushChanges(nodeId, w, isConflictCopy));
    if (w.acked !== null) this.q.ack.run(w.acked, w.indexId, nodeId);
  }

  /**
   * Records what a scan of the mirror found changed on the hub's side, in one transaction:
   * the paths removed, the versions found, the same paths queued for the node (a crash
   * between the two would leave an edit recorded that never reaches the node), and the
   * agreements that go with them (the hub's own unrecorded commits found after a crash).
   */
  recordMirrorChanges(nodeId: string, c: MirrorChanges): void {
    this.counting(nodeId, () => this.db.transaction(() => {
      this.index.deletePaths(nodeId, c.del);
      this.index.putFiles(nodeId, c.put);
      this.hubChanges.queue(nodeId, c.forNode);
      if (c.agreed?.length) this.ancestors.set(nodeId, c.agreed);
    })());
  }
}
