/**
 * The hub's database: nodes, the mirror index per node (the persistent hash cache of every
 * mirror), a block index for reuse, and the sync/audit event log. All hub SQL lives here.
 */
import crypto from 'node:crypto';
import type { CachedEntry, Entry } from '../sync/types';
import { CONFLICT_MARK, isConflictCopy, type Version } from '../sync/reconcile';
import { HASH_LEN, blockHash } from '../sync/blocks';
import { AGENT_SCHEMA, AgentStore } from './agent-store';
import { REPORT_SCHEMA, ReportStore } from './report-store';
import { openDatabase, type DB, type Migration } from './db';
import { FILE_COLUMNS, FILE_COLUMN_DEFS, codeOfType, entryToRow, rowToEntry, typeOfCode, type FileRow } from './file-rows';

const migrations: Migration[] = [
  (db) => db.exec(`
    CREATE TABLE nodes (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      token_hash BLOB NOT NULL,
      created_at INTEGER NOT NULL,
      retired_at INTEGER,
      last_seen INTEGER,
      index_id TEXT,
      acked_seq INTEGER NOT NULL DEFAULT 0,
      settings TEXT NOT NULL
    );
    CREATE TABLE files (
      node_id TEXT NOT NULL,
      ${FILE_COLUMN_DEFS},
      PRIMARY KEY (node_id, path)
    ) WITHOUT ROWID;
    CREATE TABLE blocks (
      node_id TEXT NOT NULL,
      hash BLOB NOT NULL,
      path TEXT NOT NULL,
      idx INTEGER NOT NULL,
      PRIMARY KEY (node_id, hash, path, idx)
    ) WITHOUT ROWID;
    CREATE INDEX blocks_by_path ON blocks (node_id, path);
    CREATE TABLE events (
      id INTEGER PRIMARY KEY,
      at INTEGER NOT NULL,
      node_id TEXT,
      kind TEXT NOT NULL,
      data TEXT NOT NULL
    );
    CREATE INDEX events_by_node ON events (node_id, id);
    CREATE INDEX events_by_kind ON events (kind, id);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  `),
  // status counts and sums a node's files often: a covering index keeps that off the big rows.
  (db) => db.exec('CREATE INDEX files_sizes ON files (node_id, type, size)'),
  // Two-way sync: the last version both sides agreed on per path (what was recorded so far all
  // came from the node, so it starts as the agreement); the changes made on the hub's side
  // that the node has not applied yet, in the hub's own sequence; conflict copies found fast.
  (db) => db.exec(`
    CREATE TABLE ancestors (
      node_id TEXT NOT NULL,
      path TEXT NOT NULL,
      type INTEGER NOT NULL,
      mode INTEGER NOT NULL,
      hash BLOB NOT NULL,
      target TEXT NOT NULL,
      mtime_ms REAL NOT NULL,
      PRIMARY KEY (node_id, path)
    ) WITHOUT ROWID;
    INSERT INTO ancestors SELECT node_id, path, type, mode, hash, target, mtime_ms FROM files;
    CREATE TABLE hub_changes (
      node_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      path TEXT NOT NULL,
      PRIMARY KEY (node_id, seq)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX hub_changes_by_path ON hub_changes (node_id, path);
    ALTER TABLE nodes ADD COLUMN hub_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE nodes ADD COLUMN hub_acked INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX files_conflicts ON files (node_id, path) WHERE path GLOB '*${CONFLICT_MARK}*';
  `),
  // Agents (agent-store.ts): templates, and instances looked up by node, session, template and
  // state, newest first; every lookup has its index (tested with EXPLAIN QUERY PLAN).
  (db) => db.exec(AGENT_SCHEMA),
  // Failures to apply a change, either way (the truth behind a node's `problems`): kept across
  // restarts, with what to retry (a node entry the hub could not apply) and when.
  (db) => db.exec(`
    CREATE TABLE failures (
      node_id TEXT NOT NULL,
      direction INTEGER NOT NULL,
      path TEXT NOT NULL,
      code TEXT NOT NULL,
      reason TEXT NOT NULL,
      first_at INTEGER NOT NULL,
      at INTEGER NOT NULL,
      attempts INTEGER NOT NULL,
      retry_at INTEGER,
      entry TEXT,
      PRIMARY KEY (node_id, direction, path)
    ) WITHOUT ROWID;
  `),
  // Purge plans: what a preview listed (each target with its identity), runnable once until it
  // expires, so a purge removes what was previewed and nothing else (hub or CLI alike).
  (db) => db.exec(`
    CREATE TABLE purge_plans (
      id TEXT PRIMARY KEY,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      targets TEXT NOT NULL,
      run_at INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX purge_plans_by_age ON purge_plans (created_at);
  `),
  // What each node reports it cannot send, and the special files it leaves out (report-store.ts).
  (db) => db.exec(REPORT_SCHEMA),
];

/** One mirror a purge plan removes, and what it was when previewed (so a swapped-in one is not). */
export interface PurgePlanTarget {
  /** Entry name under mirrors/ (a node id for real mirrors). */
  id: string;
  reason: 'retired' | 'unknown';
  kind: 'dir' | 'symlink' | 'other';
  files: number;
  bytes: number;
  /** lstat identity at preview time: device, inode, birth time in ns ('0' where the file system has none). */
  dev: string;
  ino: string;
  birth: string;
}

export interface PurgePlanRecord {
  id: string;
  createdAt: number;
  expiresAt: number;
  /** When it was run (a plan runs once), or null. */
  runAt: number | null;
  targets: PurgePlanTarget[];
}

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
}

export interface EventRecord {
  id: number;
  at: number;
  nodeId: string | null;
  kind: string;
  data: Record<string, unknown>;
}

interface NodeRow {
  id: string; name: string; token_hash: Buffer; created_at: number; retired_at: number | null;
  last_seen: number | null; index_id: string | null; acked_seq: number; settings: string;
  hub_seq: number; hub_acked: number;
}

/** A change one side could not apply (see the `failures` table). */
export interface FailureRecord {
  direction: 'to-hub' | 'to-node';
  path: string;
  code: string;
  reason: string;
  firstAt: number;
  at: number;
  attempts: number;
  /** When it is tried again; null: only when something changes (a newer version, a rescan). */
  retryAt: number | null;
  /** to-hub: the node's entry to apply again. */
  entry: Entry | null;
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

interface FailureRow {
  direction: number; path: string; code: string; reason: string; first_at: number; at: number;
  attempts: number; retry_at: number | null; entry: string | null;
}
const DIRECTIONS: FailureRecord['direction'][] = ['to-hub', 'to-node'];

function encodeEntry(e: Entry): string {
  return JSON.stringify({ ...e, hash: e.hash.toString('base64'), blocks: e.blocks.toString('base64') });
}

function decodeEntry(text: string): Entry {
  const o = JSON.parse(text) as Entry & { hash: string; blocks: string };
  return { ...o, hash: Buffer.from(o.hash, 'base64'), blocks: Buffer.from(o.blocks, 'base64') };
}

interface AncestorRow { type: number; mode: number; hash: Buffer; target: string; mtime_ms: number }

type StampRow = Pick<FileRow, 'path' | 'type' | 'size' | 'mtime_ms' | 'mode' | 'ino' | 'target'>;

function toNode(r: NodeRow): NodeRecord {
  return {
    id: r.id, name: r.name, createdAt: r.created_at, retiredAt: r.retired_at, lastSeen: r.last_seen,
    indexId: r.index_id, ackedSeq: r.acked_seq, settings: JSON.parse(r.settings) as Record<string, unknown>,
    hubSeq: r.hub_seq, hubAcked: r.hub_acked,
  };
}

export function hashToken(secret: string): Buffer {
  return crypto.createHash('sha256').update(secret, 'utf8').digest();
}

/** Events about sessions rather than decisions: kept only as recent history. */
export const SESSION_EVENT_KINDS: readonly string[] = ['node.connected', 'node.disconnected', 'sync.complete'];
export const SESSION_EVENTS_KEPT = 20_000;

/** What a scan of a mirror found changed on the hub's side (recordMirrorChanges). */
export interface MirrorChanges {
  put: CachedEntry[];
  del: string[];
  /** Agreements to record with them (a verification after a crash takes its findings as agreed). */
  agreed: [path: string, v: Version | null][];
}

type EventRow = { id: number; at: number; node_id: string | null; kind: string; data: string };

export class HubStore {
  /** Private: every write that must be atomic is one method here, never a caller's transaction. */
  private readonly db: DB;
  private readonly q;
  /** The agents' tables (agent-store.ts), on this database. */
  readonly agents: AgentStore;
  /** What nodes report they cannot send or leave out (report-store.ts), on this database. */
  readonly reports: ReportStore;

  constructor(file: string) {
    this.db = openDatabase(file, migrations);
    const db = this.db;
    this.agents = new AgentStore(db);
    this.reports = new ReportStore(db);
    this.q = {
      insertNode: db.prepare('INSERT INTO nodes (id, name, token_hash, created_at, settings) VALUES (?, ?, ?, ?, ?)'),
      node: db.prepare<[string], NodeRow>('SELECT * FROM nodes WHERE id = ?'),
      nodes: db.prepare<[], NodeRow>('SELECT * FROM nodes ORDER BY created_at, id'),
      tokenHash: db.prepare<[string], { token_hash: Buffer; retired_at: number | null }>('SELECT token_hash, retired_at FROM nodes WHERE id = ?'),
      retire: db.prepare('UPDATE nodes SET retired_at = ? WHERE id = ? AND retired_at IS NULL'),
      seen: db.prepare('UPDATE nodes SET last_seen = ? WHERE id = ?'),
      ack: db.prepare('UPDATE nodes SET acked_seq = ?, index_id = ? WHERE id = ?'),
      deleteNode: db.prepare('DELETE FROM nodes WHERE id = ?'),
      paths: db.prepare<[string], { path: string }>('SELECT path FROM files WHERE node_id = ?'),
      stampsAfter: db.prepare<[string, string, number], StampRow>('SELECT path, type, size, mtime_ms, mode, ino, target FROM files WHERE node_id = ? AND path > ? ORDER BY path LIMIT ?'),
      file: db.prepare<[string, string], FileRow>(`SELECT ${FILE_COLUMNS} FROM files WHERE node_id = ? AND path = ?`),
      stamp: db.prepare<[string, string], StampRow>('SELECT path, type, size, mtime_ms, mode, ino, target FROM files WHERE node_id = ? AND path = ?'),
      upsertFile: db.prepare(`INSERT OR REPLACE INTO files (node_id, ${FILE_COLUMNS}) VALUES (@node_id, @path, @type, @size, @mtime_ms, @mode, @ino, @hash, @block_size, @blocks, @target, @seq, 0)`),
      deleteFile: db.prepare('DELETE FROM files WHERE node_id = ? AND path = ?'),
      deleteFilesUnder: db.prepare("DELETE FROM files WHERE node_id = ? AND path >= ? AND path < ?"),
      pathsUnder: db.prepare<[string, string, string], { path: string }>('SELECT path FROM files WHERE node_id = ? AND path >= ? AND path < ? ORDER BY path'),
      deleteAllFiles: db.prepare('DELETE FROM files WHERE node_id = ?'),
      totals: db.prepare<[string], { files: number; bytes: number | null }>('SELECT count(*) AS files, sum(size) AS bytes FROM files WHERE node_id = ? AND type = 0'),
      insertBlock: db.prepare('INSERT OR IGNORE INTO blocks (node_id, hash, path, idx) VALUES (?, ?, ?, ?)'),
      deleteBlocks: db.prepare('DELETE FROM blocks WHERE node_id = ? AND path = ?'),
      deleteBlocksUnder: db.prepare('DELETE FROM blocks WHERE node_id = ? AND path >= ? AND path < ?'),
      deleteAllBlocks: db.prepare('DELETE FROM blocks WHERE node_id = ?'),
      findBlock: db.prepare<[string, Buffer], { path: string; idx: number }>('SELECT path, idx FROM blocks WHERE node_id = ? AND hash = ? LIMIT 4'),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
      addEvent: db.prepare('INSERT INTO events (at, node_id, kind, data) VALUES (?, ?, ?, ?)'),
      eventsAll: db.prepare<[number], EventRow>('SELECT * FROM events ORDER BY id DESC LIMIT ?'),
      eventsByKind: db.prepare<[string, number], EventRow>('SELECT * FROM events WHERE kind = ? ORDER BY id DESC LIMIT ?'),
      ancestor: db.prepare<[string, string], AncestorRow>('SELECT type, mode, hash, target, mtime_ms FROM ancestors WHERE node_id = ? AND path = ?'),
      putAncestor: db.prepare('INSERT OR REPLACE INTO ancestors (node_id, path, type, mode, hash, target, mtime_ms) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      deleteAncestor: db.prepare('DELETE FROM ancestors WHERE node_id = ? AND path = ?'),
      deleteAncestorsUnder: db.prepare('DELETE FROM ancestors WHERE node_id = ? AND path >= ? AND path < ?'),
      deleteAllAncestors: db.prepare('DELETE FROM ancestors WHERE node_id = ?'),
      bumpHubSeq: db.prepare<[string], { hub_seq: number }>('UPDATE nodes SET hub_seq = hub_seq + 1 WHERE id = ? RETURNING hub_seq'),
      unqueueHubChange: db.prepare('DELETE FROM hub_changes WHERE node_id = ? AND path = ?'),
      queueHubChange: db.prepare('INSERT INTO hub_changes (node_id, seq, path) VALUES (?, ?, ?)'),
      hubChangesAfter: db.prepare<[string, number, number], { seq: number; path: string }>('SELECT seq, path FROM hub_changes WHERE node_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
      hubAck: db.prepare('UPDATE nodes SET hub_acked = max(hub_acked, ?) WHERE id = ?'),
      pruneHubChanges: db.prepare('DELETE FROM hub_changes WHERE node_id = ? AND seq <= ?'),
      deleteAllHubChanges: db.prepare('DELETE FROM hub_changes WHERE node_id = ?'),
      hubPending: db.prepare<[string], { files: number; bytes: number | null }>('SELECT count(*) AS files, sum(f.size) AS bytes FROM hub_changes c LEFT JOIN files f ON f.node_id = c.node_id AND f.path = c.path AND f.type = 0 WHERE c.node_id = ?'),
      conflicts: db.prepare<[string], { path: string }>(`SELECT path FROM files WHERE node_id = ? AND path GLOB '*${CONFLICT_MARK}*' ORDER BY path`),
      putFailure: db.prepare(`INSERT INTO failures (node_id, direction, path, code, reason, first_at, at, attempts, retry_at, entry)
        VALUES (@node_id, @direction, @path, @code, @reason, @first_at, @at, @attempts, @retry_at, @entry)
        ON CONFLICT (node_id, direction, path) DO UPDATE SET code = excluded.code, reason = excluded.reason, at = excluded.at,
          attempts = excluded.attempts, retry_at = excluded.retry_at, entry = excluded.entry`),
      deleteFailure: db.prepare('DELETE FROM failures WHERE node_id = ? AND direction = ? AND path = ?'),
      failures: db.prepare<[string], FailureRow & { node_id: string }>('SELECT * FROM failures WHERE node_id = ? ORDER BY direction, path'),
      deleteAllFailures: db.prepare('DELETE FROM failures WHERE node_id = ?'),
      dirs: db.prepare<[string], { path: string }>('SELECT path FROM files WHERE node_id = ? AND type = 1'),
      stampsBetween: db.prepare<[string, string, string], StampRow>('SELECT path, type, size, mtime_ms, mode, ino, target FROM files WHERE node_id = ? AND path >= ? AND path < ?'),
      hubChangesUnder: db.prepare<[string, string, string], { n: number }>('SELECT count(*) AS n FROM hub_changes WHERE node_id = ? AND path >= ? AND path < ?'),
      eventsByNode: db.prepare<[string, number], EventRow>('SELECT * FROM events WHERE node_id = ? ORDER BY id DESC LIMIT ?'),
      eventsByNodeKind: db.prepare<[string, string, number], EventRow>('SELECT * FROM events WHERE node_id = ? AND kind = ? ORDER BY id DESC LIMIT ?'),
      insertPurgePlan: db.prepare('INSERT INTO purge_plans (id, created_at, expires_at, targets) VALUES (?, ?, ?, ?)'),
      forgetPurgePlans: db.prepare('DELETE FROM purge_plans WHERE created_at < ?'),
      purgePlan: db.prepare<[string], { id: string; created_at: number; expires_at: number; targets: string; run_at: number | null }>('SELECT * FROM purge_plans WHERE id = ?'),
      runPurgePlan: db.prepare('UPDATE purge_plans SET run_at = ? WHERE id = ? AND run_at IS NULL'),
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

  markSeen(id: string, at = Date.now()): void {
    this.q.seen.run(at, id);
  }

  setAcked(id: string, seq: number, indexId: string | null): void {
    this.q.ack.run(seq, indexId, id);
  }

  /** Forgets a node's mirror index (after its mirror was purged). The node row stays for audit. */
  forgetMirror(id: string): void {
    this.db.transaction(() => {
      this.q.deleteAllFiles.run(id);
      this.q.deleteAllBlocks.run(id);
      this.q.deleteAllAncestors.run(id);
      this.q.deleteAllHubChanges.run(id);
      this.q.deleteAllFailures.run(id);
      this.q.ack.run(0, null, id);
    })();
  }

  /**
   * Records what a session flush applied, in one transaction: versions committed to the mirror
   * and paths removed, the new agreements, paths whose hub-side version must reach the node,
   * failures (to retry) and cleared ones, and the node's acknowledged sequence number.
   */
  recordFlush(nodeId: string, w: FlushRecord): void {
    this.db.transaction(() => {
      if (w.del.length) this.deletePaths(nodeId, w.del);
      if (w.put.length) this.putFiles(nodeId, w.put);
      if (w.agreed.length) this.setAncestors(nodeId, w.agreed);
      if (w.forNode.length) this.queueHubChanges(nodeId, w.forNode);
      this.writeFailures(nodeId, w.failed, w.cleared);
      if (w.acked !== null) this.q.ack.run(w.acked, w.indexId, nodeId);
    })();
  }

  /**
   * Records what a scan of the mirror found changed on the hub's side, in one transaction:
   * the paths removed, the versions found, and (when given) the agreements that go with them.
   */
  recordMirrorChanges(nodeId: string, c: MirrorChanges): void {
    this.db.transaction(() => {
      this.deletePaths(nodeId, c.del);
      this.putFiles(nodeId, c.put);
      if (c.agreed.length) this.setAncestors(nodeId, c.agreed);
    })();
  }

  // ---- two-way: ancestors and the hub's own changes ---------------------------------------

  /** The last version of a path both sides agreed on (null: none, or absent on both). */
  ancestor(nodeId: string, path: string): Version | null {
    const r = this.q.ancestor.get(nodeId, path);
    return r ? { type: typeOfCode(r.type), mode: r.mode, hash: r.hash.toString('hex'), target: r.target, mtimeMs: r.mtime_ms } : null;
  }

  /** Records agreements; null for a path agreed absent (its subtree goes too). */
  setAncestors(nodeId: string, agreed: [path: string, v: Version | null][]): void {
    this.db.transaction(() => {
      for (const [p, v] of agreed) {
        if (v) {
          this.q.putAncestor.run(nodeId, p, codeOfType(v.type), v.mode, Buffer.from(v.hash, 'hex'), v.target, v.mtimeMs);
          continue;
        }
        this.q.deleteAncestor.run(nodeId, p);
        this.q.deleteAncestorsUnder.run(nodeId, `${p}/`, `${p}0`);
      }
    })();
  }

  /** Forgets every agreement (the node's index is new: nothing it had can be trusted). */
  clearAncestors(nodeId: string): void {
    this.q.deleteAllAncestors.run(nodeId);
  }

  /**
   * Queues paths changed on the hub's side for the node, each with the next hub sequence
   * number (a path already queued moves to the end: only its latest state is sent).
   */
  queueHubChanges(nodeId: string, paths: Iterable<string>): void {
    this.db.transaction(() => {
      for (const p of paths) {
        this.q.unqueueHubChange.run(nodeId, p);
        const { hub_seq } = this.q.bumpHubSeq.get(nodeId)!;
        this.q.queueHubChange.run(nodeId, hub_seq, p);
      }
    })();
  }

  hubChangesAfter(nodeId: string, seq: number, limit: number): { seq: number; path: string }[] {
    return this.q.hubChangesAfter.all(nodeId, seq, limit);
  }

  /** The node has applied (or settled) the hub's changes through `seq`: they are done. */
  ackHubChanges(nodeId: string, seq: number): void {
    this.db.transaction(() => {
      this.q.hubAck.run(seq, nodeId);
      this.q.pruneHubChanges.run(nodeId, seq);
    })();
  }

  /** Hub-side changes the node has not applied yet, and the bytes of their files. */
  hubPending(nodeId: string): { files: number; bytes: number } {
    const r = this.q.hubPending.get(nodeId)!;
    return { files: r.files, bytes: r.bytes ?? 0 };
  }

  /** Conflict copies in a node's mirror (through a partial index: cheap however big the mirror). */
  conflicts(nodeId: string): string[] {
    return this.q.conflicts.all(nodeId).map((r) => r.path).filter(isConflictCopy);
  }

  /** Hub-side changes queued for the node strictly under a directory (the node has not got them). */
  hubChangesUnder(nodeId: string, dir: string): number {
    return this.q.hubChangesUnder.get(nodeId, `${dir}/`, `${dir}0`)!.n;
  }

  // ---- failures (what could not be applied, either way) -----------------------------------

  failures(nodeId: string): FailureRecord[] {
    return this.q.failures.all(nodeId).map((r) => ({
      direction: DIRECTIONS[r.direction] ?? 'to-hub', path: r.path, code: r.code, reason: r.reason, firstAt: r.first_at, at: r.at,
      attempts: r.attempts, retryAt: r.retry_at, entry: r.entry === null ? null : decodeEntry(r.entry),
    }));
  }

  /** Records failures and forgets the ones that cleared, in one transaction. */
  recordFailures(nodeId: string, put: FailureRecord[], cleared: { direction: FailureRecord['direction']; path: string }[]): void {
    this.db.transaction(() => this.writeFailures(nodeId, put, cleared))();
  }

  private writeFailures(nodeId: string, put: FailureRecord[], cleared: { direction: FailureRecord['direction']; path: string }[]): void {
    for (const c of cleared) this.q.deleteFailure.run(nodeId, DIRECTIONS.indexOf(c.direction), c.path);
    for (const f of put) {
      this.q.putFailure.run({
        node_id: nodeId, direction: DIRECTIONS.indexOf(f.direction), path: f.path, code: f.code, reason: f.reason, first_at: f.firstAt, at: f.at,
        attempts: f.attempts, retry_at: f.retryAt, entry: f.entry ? encodeEntry(f.entry) : null,
      });
    }
  }

  // ---- mirror index ------------------------------------------------------------------------

  paths(nodeId: string): string[] {
    return this.q.paths.all(nodeId).map((r) => r.path);
  }

  /** Recorded directories of a mirror (through the covering index on type). */
  dirs(nodeId: string): string[] {
    return this.q.dirs.all(nodeId).map((r) => r.path);
  }

  /** Stamps of what is recorded directly in a directory ('' for the root), by path. */
  childStamps(nodeId: string, dir: string): Map<string, CachedEntry> {
    const none = Buffer.alloc(0);
    const [from, to] = dir === '' ? ['', '\u{10FFFF}'] : [`${dir}/`, `${dir}0`];
    const out = new Map<string, CachedEntry>();
    for (const r of this.q.stampsBetween.iterate(nodeId, from, to)) {
      if (r.path.indexOf('/', from.length) !== -1) continue;
      out.set(r.path, rowToEntry({ ...r, hash: none, block_size: 0, blocks: none, seq: 0, deleted: 0 }));
    }
    return out;
  }

  /** Recorded paths strictly under a directory (through the primary key's order). */
  pathsUnder(nodeId: string, dir: string): string[] {
    return this.q.pathsUnder.all(nodeId, `${dir}/`, `${dir}0`).map((r) => r.path);
  }

  /**
   * What the scanner needs to tell a changed file from an unchanged one (no hashes or block
   * lists), in pages ordered by path so a caller can yield between them.
   */
  stampsAfter(nodeId: string, afterPath: string, limit: number): CachedEntry[] {
    const none = Buffer.alloc(0);
    return this.q.stampsAfter.all(nodeId, afterPath, limit).map((r) => rowToEntry({ ...r, hash: none, block_size: 0, blocks: none, seq: 0, deleted: 0 }));
  }

  /** A path's recorded stamp only (no hashes or block lists): enough to tell whether it changed on disk. */
  stamp(nodeId: string, path: string): CachedEntry | undefined {
    const r = this.q.stamp.get(nodeId, path);
    const none = Buffer.alloc(0);
    return r && rowToEntry({ ...r, hash: none, block_size: 0, blocks: none, seq: 0, deleted: 0 });
  }

  file(nodeId: string, path: string): CachedEntry | undefined {
    const r = this.q.file.get(nodeId, path);
    return r && rowToEntry(r);
  }

  totals(nodeId: string): { files: number; bytes: number } {
    const r = this.q.totals.get(nodeId)!;
    return { files: r.files, bytes: r.bytes ?? 0 };
  }

  /**
   * Records committed versions in one transaction, with the blocks of files of two blocks or
   * more (what block reuse looks up). A file of one block (up to 128 KiB) gets no block rows:
   * two random-key index inserts per small file were the largest cost of recording them, and
   * re-fetching a renamed small file costs little.
   */
  putFiles(nodeId: string, entries: CachedEntry[]): void {
    this.db.transaction(() => {
      for (const e of entries) {
        this.q.deleteBlocks.run(nodeId, e.path);
        this.q.upsertFile.run({ node_id: nodeId, ...entryToRow(e) });
        if (e.blocks.length < 64) continue;
        for (let i = 0; i * HASH_LEN < e.blocks.length; i++) this.q.insertBlock.run(nodeId, blockHash(e.blocks, i), e.path, i);
      }
    })();
  }

  /** Forgets a path and everything under it. */
  deletePaths(nodeId: string, paths: string[]): void {
    this.db.transaction(() => {
      for (const p of paths) {
        this.q.deleteFile.run(nodeId, p);
        this.q.deleteBlocks.run(nodeId, p);
        this.q.deleteFilesUnder.run(nodeId, `${p}/`, `${p}0`);
        this.q.deleteBlocksUnder.run(nodeId, `${p}/`, `${p}0`);
      }
    })();
  }

  findBlock(nodeId: string, hash: Buffer): { path: string; idx: number }[] {
    return this.q.findBlock.all(nodeId, hash);
  }

  getMeta(key: string): string | undefined {
    return this.q.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.q.setMeta.run(key, value);
  }

  // ---- purge plans -------------------------------------------------------------------------

  /** Records a purge preview's plan, and forgets plans made before `forgetBefore`. */
  savePurgePlan(plan: Omit<PurgePlanRecord, 'runAt'>, forgetBefore: number): void {
    this.db.transaction(() => {
      this.q.forgetPurgePlans.run(forgetBefore);
      this.q.insertPurgePlan.run(plan.id, plan.createdAt, plan.expiresAt, JSON.stringify(plan.targets));
    })();
  }

  purgePlan(id: string): PurgePlanRecord | undefined {
    const r = this.q.purgePlan.get(id);
    return r && { id: r.id, createdAt: r.created_at, expiresAt: r.expires_at, runAt: r.run_at, targets: JSON.parse(r.targets) as PurgePlanTarget[] };
  }

  /** Marks a plan as run; false when it already was (a plan runs once). */
  markPurgePlanRun(id: string, at = Date.now()): boolean {
    return this.q.runPurgePlan.run(at, id).changes > 0;
  }

  // ---- events / audit ----------------------------------------------------------------------

  private sessionEventsAdded = 0;

  /**
   * Records an event. Audit events (node added/retired, purges) are kept for good; session
   * events (SESSION_EVENT_KINDS) only the newest SESSION_EVENTS_KEPT, so a node that keeps
   * reconnecting cannot grow the database without bound.
   */
  addEvent(nodeId: string | null, kind: string, data: Record<string, unknown>): void {
    this.q.addEvent.run(Date.now(), nodeId, kind, JSON.stringify(data));
    if (!SESSION_EVENT_KINDS.includes(kind)) return;
    if (++this.sessionEventsAdded % 500 === 0) this.pruneSessionEvents(SESSION_EVENTS_KEPT);
  }

  pruneSessionEvents(keep: number): number {
    const kinds = SESSION_EVENT_KINDS.map(() => '?').join(', ');
    return this.db.prepare(`DELETE FROM events WHERE kind IN (${kinds}) AND id NOT IN (SELECT id FROM events WHERE kind IN (${kinds}) ORDER BY id DESC LIMIT ?)`)
      .run(...SESSION_EVENT_KINDS, ...SESSION_EVENT_KINDS, keep).changes;
  }

  events(filter: { nodeId?: string; kind?: string; limit?: number } = {}): EventRecord[] {
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 10_000);
    const rows = filter.nodeId && filter.kind ? this.q.eventsByNodeKind.all(filter.nodeId, filter.kind, limit)
      : filter.nodeId ? this.q.eventsByNode.all(filter.nodeId, limit)
      : filter.kind ? this.q.eventsByKind.all(filter.kind, limit)
        : this.q.eventsAll.all(limit);
    return rows.map((r) => ({ id: r.id, at: r.at, nodeId: r.node_id, kind: r.kind, data: JSON.parse(r.data) as Record<string, unknown> }));
  }
}
