/**
 * The change log (table `changes`): what changed where, one row per event, for the operator's
 * feed and a path's timeline (`changes.list`, `changes.history`). A part of HubStore, on its
 * connection. Rows are written by the writes they describe, inside the same transaction (no
 * commit, no fsync of their own): a flush's applied node versions, failures and conflict copies
 * (HubStore.flushRows), hub-side changes when queued for the node (HubChangeQueue.queue) and
 * when the node acknowledges them (HubChangeQueue.ack). Only a refusal by the lock (a rare,
 * synchronous answer with no transaction around it) is its own small autocommit.
 *
 * Every node version of an initial sync is a row too (not one summary row per batch): the
 * timeline's first promise is "every version the hub saw", and a row costs one append to the
 * table and its two indices inside a transaction already open (measured in bench/README.md).
 *
 * Bounded: `trim` deletes what is older than the retention window or beyond CHANGES_MAX_ROWS,
 * oldest first, at most a batch per call (the caller spreads the batches over turns). A purged
 * mirror's rows stay until then: its node's history is still worth reading (and a restore from
 * the trash brings the mirror back).
 *
 * Indices, each for a page of the feed read newest first by keyset (`id < before`):
 * the primary key (the whole hub), (node_id) (one node), (node_id, path) (one path, a path
 * prefix), and two partial indices of the notable rows (conflicts, refusals, failures): by
 * action and by (node, action), so the rare kinds are found without walking the common ones
 * (they cost a write only for a notable row). Every index entry ends with the row's id (the
 * rowid), so each is already in id order within its key: naming `id` as a last column stored it
 * twice (15 % of an index's pages, measured). bench/changes-feed.mjs measures each at 1M rows.
 */
import type { Statement } from 'better-sqlite3';
import type { DB } from './db';

export const CHANGES_SCHEMA = `
  CREATE TABLE changes (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    node_id TEXT NOT NULL,
    path TEXT NOT NULL,
    direction INTEGER NOT NULL,
    action TEXT NOT NULL,
    size INTEGER,
    hash BLOB,
    seq INTEGER,
    code TEXT,
    detail TEXT
  );
  CREATE INDEX changes_by_node ON changes (node_id);
  CREATE INDEX changes_by_path ON changes (node_id, path);
  CREATE INDEX changes_notable ON changes (action) WHERE action IN ('conflict', 'refused', 'failed');
  CREATE INDEX changes_notable_by_node ON changes (node_id, action) WHERE action IN ('conflict', 'refused', 'failed');
`;

/** Rows kept at most, whatever the retention window (the oldest go first). */
export const CHANGES_MAX_ROWS = 1_000_000;
/**
 * Rows one trim call deletes at most (one short transaction, one turn of the event loop): each
 * row is three index deletes at scattered places; 5,000 took 590 ms at 1M rows on a loaded
 * machine (bench/changes-feed.mjs), 1,000 keeps a turn near 100 ms there, far less when idle.
 */
export const CHANGES_TRIM_BATCH = 1000;
/** Bytes of a version's hash kept in a row: enough to tell versions of one path apart. */
const HASH_PREFIX = 8;
/** Rows one INSERT statement appends (10 parameters each: 640, within SQLite's 32,766). */
const INSERT_CHUNK = 64;

function pushRow(args: unknown[], r: NewChange, at: number): void {
  args.push(at, r.nodeId, r.path, r.direction === 'to-node' ? 1 : 0, r.action, r.size, r.hash ? r.hash.subarray(0, HASH_PREFIX) : null, r.seq, r.code, r.detail);
}

/**
 * `to-hub`: made on the node (its version applied to the mirror, or refused, or failed);
 * `to-node`: made on the hub's side (queued for the node, then delivered, or failed there).
 */
export type ChangeDirection = 'to-hub' | 'to-node';
/**
 * put/delete: a version (or deletion) applied to the mirror (to-hub) or queued for the node
 * (to-node); delivered: the node acknowledged a queued one; conflict: a conflict copy was made
 * (`detail` the copy, `code` the losing side); refused: the hub refused a node's change (code,
 * detail); failed: a side could not apply a change (code, detail, `seq` the attempt).
 */
export type ChangeAction = 'put' | 'delete' | 'delivered' | 'conflict' | 'refused' | 'failed';
export const NOTABLE_ACTIONS: readonly ChangeAction[] = ['conflict', 'refused', 'failed'];

export interface ChangeRecord {
  id: number;
  at: number;
  nodeId: string;
  path: string;
  direction: ChangeDirection;
  action: ChangeAction;
  size: number | null;
  /** The first bytes of the version's hash, hex (null: a deletion, a directory, not known). */
  hash: string | null;
  seq: number | null;
  code: string | null;
  detail: string | null;
}

export type NewChange = Omit<ChangeRecord, 'id' | 'at' | 'hash'> & { hash?: Buffer | null };

export interface ChangeFilter {
  nodeId?: string;
  /** An exact path, or (with `prefix`) the path and everything under it. */
  path?: string;
  prefix?: boolean;
  direction?: ChangeDirection;
  actions?: readonly ChangeAction[];
  /** Only rows older than this id (the `next` of an earlier page). */
  before?: number;
  limit: number;
}

interface ChangeRow {
  id: number; at: number; node_id: string; path: string; direction: number; action: string;
  size: number | null; hash: Buffer | null; seq: number | null; code: string | null; detail: string | null;
}

const DIRECTIONS: ChangeDirection[] = ['to-hub', 'to-node'];
/** A prefix with at least this many rows is read by walking the newest rows (it fills a page soon); fewer, through the path index and a sort. */
const DENSE_PREFIX_ROWS = 2000;

function toRecord(r: ChangeRow): ChangeRecord {
  return {
    id: r.id, at: r.at, nodeId: r.node_id, path: r.path, direction: DIRECTIONS[r.direction] ?? 'to-hub', action: r.action as ChangeAction,
    size: r.size, hash: r.hash ? r.hash.toString('hex') : null, seq: r.seq, code: r.code, detail: r.detail,
  };
}

/**
 * A directory and everything under it: `dir` ≤ path < `dir0` ('0' follows '/') is the index's
 * range (one seek per node), and inside it only `dir` itself or `dir/...` (not `dir-old`, whose
 * '-' sorts before '/'). Written so: with the OR outermost SQLite walked a node's whole index.
 */
const PREFIX_COND = '(path >= ? AND path < ? AND (path = ? OR path >= ?))';
const prefixArgs = (dir: string) => [dir, `${dir}0`, dir, `${dir}/`];

export class ChangeLog {
  private readonly q;
  /** Feed queries by their SQL (a handful of shapes). */
  private readonly feeds = new Map<string, Statement<unknown[]>>();

  constructor(private readonly db: DB) {
    this.q = {
      insert: db.prepare<unknown[]>(`INSERT INTO changes (at, node_id, path, direction, action, size, hash, seq, code, detail)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertChunk: db.prepare<unknown[]>(`INSERT INTO changes (at, node_id, path, direction, action, size, hash, seq, code, detail)
        VALUES ${Array.from({ length: INSERT_CHUNK }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`),
      // A hub-side change queued for the node, described by what the index holds now (written
      // just before in the same transaction): a version, or a deletion when nothing is there.
      queued: db.prepare(`INSERT INTO changes (at, node_id, path, direction, action, size, hash, seq, code)
        SELECT @at, @nodeId, @path, 1, CASE WHEN f.path IS NULL THEN 'delete' ELSE 'put' END, f.size, substr(f.hash, 1, ${HASH_PREFIX}), @seq, @cause
        FROM (SELECT 1) LEFT JOIN files f ON f.node_id = @nodeId AND f.path = @path`),
      history: db.prepare<[string, string, number, number], ChangeRow>('SELECT * FROM changes WHERE node_id = ? AND path = ? AND id < ? ORDER BY id DESC LIMIT ?'),
      maxId: db.prepare<[], { id: number | null }>('SELECT max(id) AS id FROM changes'),
      // Both bounded: the first walks the primary key up to a cut, the second looks at the
      // oldest `batch` rows only (rows are appended in time order, so the old ones come first).
      trimBeyond: db.prepare('DELETE FROM changes WHERE id IN (SELECT id FROM changes WHERE id <= ? ORDER BY id LIMIT ?)'),
      trimOld: db.prepare('DELETE FROM changes WHERE id IN (SELECT id FROM changes ORDER BY id LIMIT ?) AND at < ?'),
      oldest: db.prepare<[], { id: number; at: number }>('SELECT id, at FROM changes ORDER BY id LIMIT 1'),
      // The newest conflict row of a node: one step into the partial index. The IN term lets the
      // planner prove the index covers the query; without it, it walked all of the node's rows.
      lastConflict: db.prepare<[string], { at: number }>(`SELECT at FROM changes INDEXED BY changes_notable_by_node
        WHERE node_id = ? AND action IN ('conflict', 'refused', 'failed') AND action = 'conflict' ORDER BY id DESC LIMIT 1`),
    };
  }

  /** When the newest conflict copy of a node was made (null: none in the log). */
  lastConflictAt(nodeId: string): number | null {
    return this.q.lastConflict.get(nodeId)?.at ?? null;
  }

  /**
   * Appends rows (in the caller's transaction when there is one). INSERT_CHUNK rows per
   * statement: a flush of 512 rows costs 8 statement runs, not 512 (a flush of 512 new files,
   * CPU added by the log per file: ~7 µs one row at a time, ~5 µs in chunks; noisy, 2 cores).
   */
  add(rows: readonly NewChange[], at = Date.now()): void {
    let i = 0;
    if (rows.length >= INSERT_CHUNK) {
      const args: unknown[] = [];
      for (; i + INSERT_CHUNK <= rows.length; i += INSERT_CHUNK) {
        args.length = 0;
        for (let k = i; k < i + INSERT_CHUNK; k++) pushRow(args, rows[k]!, at);
        this.q.insertChunk.run(...args);
      }
    }
    for (; i < rows.length; i++) {
      const args: unknown[] = [];
      pushRow(args, rows[i]!, at);
      this.q.insert.run(...args);
    }
  }

  /** A hub-side change of `path` got sequence number `seq` in the node's queue (`cause`: why, when not an edit). */
  queued(nodeId: string, path: string, seq: number, cause: string | null, at = Date.now()): void {
    this.q.queued.run({ at, nodeId, path, seq, cause });
  }

  /** A page of the feed, newest first (keyset: `before`). */
  list(f: ChangeFilter): ChangeRecord[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    let indexed = '';
    if (f.nodeId !== undefined) {
      where.push('node_id = ?');
      args.push(f.nodeId);
    }
    if (f.path !== undefined) {
      const nodeCond = f.nodeId !== undefined ? 'node_id = ?' : 'node_id IN (SELECT id FROM nodes)';
      if (!f.prefix) {
        if (f.nodeId === undefined) where.push(nodeCond);
        where.push('path = ?');
        args.push(f.path);
      } else {
        // A prefix: its path and everything under it. Dense (a big subtree, or ''): the newest
        // rows fill a page soon, so they are walked by id; sparse: its rows through the path
        // index, sorted (at most DENSE_PREFIX_ROWS of them).
        const dense = this.densePrefix(f.nodeId, f.path);
        if (!dense && f.nodeId === undefined) where.push(nodeCond);
        if (f.path !== '') {
          where.push(PREFIX_COND);
          args.push(...prefixArgs(f.path));
        }
        indexed = dense ? (f.nodeId !== undefined ? 'INDEXED BY changes_by_node' : 'NOT INDEXED') : 'INDEXED BY changes_by_path';
      }
    }
    if (f.direction !== undefined) {
      where.push('direction = ?');
      args.push(f.direction === 'to-node' ? 1 : 0);
    }
    if (f.actions?.length) {
      where.push(`action IN (${f.actions.map(() => '?').join(', ')})`);
      args.push(...f.actions);
      // Only notable kinds asked for: the partial index holds just them (the planner needs the
      // index's own condition spelled out to use it).
      if (f.actions.every((a) => NOTABLE_ACTIONS.includes(a)) && f.path === undefined) {
        where.push("action IN ('conflict', 'refused', 'failed')");
        indexed = f.nodeId !== undefined ? 'INDEXED BY changes_notable_by_node' : 'INDEXED BY changes_notable';
      }
    }
    if (f.before !== undefined) {
      where.push('id < ?');
      args.push(f.before);
    }
    const sql = `SELECT * FROM changes ${indexed} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    let stmt = this.feeds.get(sql);
    if (!stmt) {
      stmt = this.db.prepare<unknown[]>(sql);
      this.feeds.set(sql, stmt);
    }
    return (stmt.all(...args, f.limit) as ChangeRow[]).map(toRecord);
  }

  /** Whether a path prefix holds at least DENSE_PREFIX_ROWS rows (one index probe, bounded). */
  private densePrefix(nodeId: string | undefined, dir: string): boolean {
    if (dir === '') return true;
    const node = nodeId !== undefined ? 'node_id = ?' : 'node_id IN (SELECT id FROM nodes)';
    const sql = `SELECT 1 FROM changes INDEXED BY changes_by_path WHERE ${node} AND ${PREFIX_COND} LIMIT 1 OFFSET ${DENSE_PREFIX_ROWS - 1}`;
    let stmt = this.feeds.get(sql);
    if (!stmt) {
      stmt = this.db.prepare<unknown[]>(sql);
      this.feeds.set(sql, stmt);
    }
    const args = [...(nodeId !== undefined ? [nodeId] : []), ...prefixArgs(dir)];
    return stmt.get(...args) !== undefined;
  }

  /** One path's rows, newest first (`before`: older than this id). */
  history(nodeId: string, path: string, limit: number, before = Number.MAX_SAFE_INTEGER): ChangeRecord[] {
    return this.q.history.all(nodeId, path, before, limit).map(toRecord);
  }

  /**
   * Deletes up to `batch` of the oldest rows that are older than `olderThan` (ms since the
   * epoch) or beyond the newest `maxRows`; returns how many went (fewer than `batch`: done).
   */
  trim(olderThan: number, maxRows = CHANGES_MAX_ROWS, batch = CHANGES_TRIM_BATCH): number {
    const max = this.q.maxId.get()?.id ?? 0;
    // Ids only grow (the newest row is never deleted), so the newest maxRows are those above max - maxRows.
    const beyond = this.q.trimBeyond.run(max - maxRows, batch).changes;
    if (beyond >= batch) return beyond;
    return beyond + this.q.trimOld.run(batch - beyond, olderThan).changes;
  }

  /** The oldest row kept (its id and time), or null. */
  oldest(): { id: number; at: number } | null {
    return this.q.oldest.get() ?? null;
  }
}

/** A conflict copy's name without its marker: the path it is a copy of (a guess when the name was shortened). */
export function copiedPath(copy: string): string {
  return copy.replace(/\.sync-conflict-\d{8}-\d{6}-(?:node|hub)(?=(\.[^/.]*)?$)/, '');
}

/** Which side lost a conflict, from the copy's name. */
function loserOf(copy: string): 'node' | 'hub' {
  return /-hub(\.[^/.]*)?$/.test(copy) ? 'hub' : 'node';
}

/** What one flush wrote, as the change log sees it (a slice of HubStore's FlushRecord). */
export interface FlushedChanges {
  put: readonly { path: string; type: string; size: number; hash: Buffer; seq: number }[];
  del: readonly string[];
  forNode: readonly string[];
  failed: readonly { direction: ChangeDirection; path: string; code: string; reason: string; attempts: number }[];
}

/**
 * The change-log rows of one session flush. A node version applied to the mirror is a to-hub
 * put (a deletion a delete); what the hub itself wrote in the flush (a directory it restored,
 * its version moved aside: those paths are also queued for the node) is left to the queue's
 * rows; a conflict copy is a `conflict` row on the path it copies (the copy in `detail`, the
 * losing side in `code`); a failure is a `failed` row (its attempt in `seq`).
 */
export function flushChanges(nodeId: string, w: FlushedChanges, isCopy: (p: string) => boolean): NewChange[] {
  const rows: NewChange[] = [];
  const byHub = w.forNode.length ? new Set(w.forNode) : null;
  // A deletion at a path that is also written, or whose version was just moved aside as a
  // conflict copy, is the hub's own step of a conflict, not the node deleting it.
  const putPaths = w.del.length ? new Set(w.put.flatMap((x) => (isCopy(x.path) ? [x.path, copiedPath(x.path)] : [x.path]))) : null;
  for (const p of w.del) {
    if (byHub?.has(p) || putPaths?.has(p)) continue;
    rows.push({ nodeId, path: p, direction: 'to-hub', action: 'delete', size: null, seq: null, code: null, detail: null });
  }
  for (const x of w.put) {
    if (isCopy(x.path)) {
      const loser = loserOf(x.path);
      rows.push({ nodeId, path: copiedPath(x.path), direction: loser === 'node' ? 'to-hub' : 'to-node', action: 'conflict', size: x.type === 'file' ? x.size : null, hash: x.type === 'file' ? x.hash : null, seq: null, code: loser, detail: x.path });
      continue;
    }
    if (byHub?.has(x.path)) continue;
    const file = x.type === 'file';
    rows.push({ nodeId, path: x.path, direction: 'to-hub', action: 'put', size: file ? x.size : null, hash: file ? x.hash : null, seq: x.seq || null, code: x.type === 'file' ? null : x.type, detail: null });
  }
  for (const f of w.failed) {
    rows.push({ nodeId, path: f.path, direction: f.direction, action: 'failed', size: null, seq: f.attempts, code: f.code, detail: f.reason.slice(0, 2000) });
  }
  return rows;
}
