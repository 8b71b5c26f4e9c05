/**
 * The node's database: its workspace index (the persistent hash cache) with a sequence number
 * per change, tombstones for deletions, and the identity of this index.
 */
import crypto from 'node:crypto';
import type { CachedEntry, Stamp } from '../sync/types';
import type { HeldMsg } from '../sync/wire';
import { openDatabase, type DB, type Migration } from './db';
import { FILE_COLUMNS, FILE_COLUMN_DEFS, STAMP_COLUMNS, WEAK_COLUMN, entryToRow, rowToEntry, stampOfRaw, type FileRow, type StampRaw } from './file-rows';

/** Held changes counted at most: a pause during a burst of new files must not make each count long. */
export const HELD_COUNT_MAX = 100_000;

const migrations: Migration[] = [
  (db) => db.exec(`
    CREATE TABLE files (${FILE_COLUMN_DEFS}, PRIMARY KEY (path)) WITHOUT ROWID;
    CREATE INDEX files_by_seq ON files (seq);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  `),
  // Tombstones are dropped once the hub has them (pruneTombstones): find them without a scan.
  (db) => db.exec('CREATE INDEX files_tombstones ON files (seq) WHERE deleted = 1'),
  // Two-way: a version the node applied from the hub carries the hub's sequence number, so the
  // hub can tell "the node took our change" from "the node changed it too".
  (db) => db.exec('ALTER TABLE files ADD COLUMN from_hub INTEGER NOT NULL DEFAULT 0'),
  // Weak hashes per block (protocol 3, shifted content: blocks.ts).
  (db) => db.exec(WEAK_COLUMN),
];

export class NodeStore {
  private readonly db: DB;
  /** Identifies this index to the hub; a new one makes the hub ask for a full index. */
  indexId: string;
  private seq: number;
  private readonly q;

  constructor(file: string) {
    this.db = openDatabase(file, migrations);
    const db = this.db;
    this.q = {
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
      all: db.prepare<[], FileRow>(`SELECT ${FILE_COLUMNS} FROM files`),
      stamps: db.prepare<[], StampRaw>(`SELECT ${STAMP_COLUMNS} FROM files`).raw(true),
      paths: db.prepare<[], string>('SELECT path FROM files').pluck(true),
      since: db.prepare<[number, number], FileRow & { from_hub: number }>(`SELECT ${FILE_COLUMNS}, from_hub FROM files WHERE seq > ? ORDER BY seq LIMIT ?`),
      // Through the seq index, at most `limit` rows: bounded whatever a pause let pile up.
      held: db.prepare<[number, number], { n: number; bytes: number }>(`SELECT count(*) AS n, coalesce(sum(CASE WHEN deleted = 0 AND type = 0 THEN size ELSE 0 END), 0) AS bytes
        FROM (SELECT deleted, type, size FROM files WHERE seq > ? ORDER BY seq LIMIT ?)`),
      upsert: db.prepare(`INSERT OR REPLACE INTO files (${FILE_COLUMNS}, from_hub) VALUES (@path, @type, @size, @mtime_ms, @mode, @ino, @hash, @block_size, @blocks, @target, @seq, @deleted, @weak, @from_hub)`),
      get: db.prepare<[string], FileRow>(`SELECT ${FILE_COLUMNS} FROM files WHERE path = ?`),
      stamp: db.prepare<[string], StampRaw>(`SELECT ${STAMP_COLUMNS} FROM files WHERE path = ?`).raw(true),
      under: db.prepare<[string, string, string], { path: string }>('SELECT path FROM files WHERE path = ? OR (path >= ? AND path < ?)'),
      maxSeq: db.prepare<[], { s: number | null }>('SELECT max(seq) AS s FROM files'),
      dirs: db.prepare<[], { path: string }>('SELECT path FROM files WHERE type = 1 AND deleted = 0'),
      between: db.prepare<[string, string], FileRow>(`SELECT ${FILE_COLUMNS} FROM files WHERE path >= ? AND path < ?`),
      maxSeqUnder: db.prepare<[string, string], { s: number | null }>('SELECT max(seq) AS s FROM files WHERE path >= ? AND path < ? AND from_hub = 0'),
      prune: db.prepare('DELETE FROM files WHERE deleted = 1 AND seq <= ?'),
    };
    let indexId = this.q.getMeta.get('index_id')?.value;
    if (!indexId) {
      indexId = crypto.randomBytes(12).toString('hex');
      this.q.setMeta.run('index_id', indexId);
    }
    this.indexId = indexId;
    // The last number handed out survives pruning the tombstone that carried it.
    this.seq = Math.max(this.q.maxSeq.get()?.s ?? 0, Number(this.q.getMeta.get('last_seq')?.value ?? 0));
  }

  close(): void {
    this.db.close();
  }

  get lastSeq(): number {
    return this.seq;
  }

  all(): Map<string, CachedEntry> {
    const m = new Map<string, CachedEntry>();
    for (const r of this.q.all.iterate()) m.set(r.path, rowToEntry(r));
    return m;
  }

  /**
   * Every path's stamp (tombstones included), for a scan of the whole workspace: what the
   * scanner compares with, without the hashes and block lists of all() (two buffers per path).
   */
  stamps(): Map<string, Stamp> {
    const m = new Map<string, Stamp>();
    for (const r of this.q.stamps.iterate()) m.set(r[0], stampOfRaw(r));
    return m;
  }

  get(path: string): CachedEntry | undefined {
    const r = this.q.get.get(path);
    return r && rowToEntry(r);
  }

  /** One path's stamp (what a scan compares with: stamps()), without its hashes and block list. */
  stamp(path: string): Stamp | undefined {
    const r = this.q.stamp.get(path);
    return r && stampOfRaw(r);
  }

  /** Paths at or under `prefix` ('' for all). */
  pathsUnder(prefix: string): string[] {
    if (prefix === '') return this.q.paths.all();
    return this.q.under.all(prefix, `${prefix}/`, `${prefix}0`).map((r) => r.path);
  }

  /** Recorded directories of the workspace. */
  dirs(): string[] {
    return this.q.dirs.all().map((r) => r.path);
  }

  /** What is recorded directly in a directory ('' for the root), by path (tombstones included). */
  children(dir: string): Map<string, CachedEntry> {
    const [from, to] = dir === '' ? ['', '\u{10FFFF}'] : [`${dir}/`, `${dir}0`];
    const out = new Map<string, CachedEntry>();
    for (const r of this.q.between.iterate(from, to)) if (r.path.indexOf('/', from.length) === -1) out.set(r.path, rowToEntry(r));
    return out;
  }

  /** The newest sequence number of a change of ours (not one applied from the hub) strictly under a directory (0: none). */
  newestUnder(dir: string): number {
    return this.q.maxSeqUnder.get(`${dir}/`, `${dir}0`)?.s ?? 0;
  }

  /** Changes recorded after `afterSeq` (what a paused node holds back), counted up to HELD_COUNT_MAX, and the bytes of their files. */
  held(afterSeq: number): HeldMsg {
    const r = this.q.held.get(afterSeq, HELD_COUNT_MAX + 1)!;
    return { changes: Math.min(r.n, HELD_COUNT_MAX), bytes: r.bytes, capped: r.n > HELD_COUNT_MAX };
  }

  /** Entries changed after `seq`, in order, at most `limit`. */
  since(seq: number, limit: number): CachedEntry[] {
    return this.q.since.all(seq, limit).map((r) => (r.from_hub ? { ...rowToEntry(r), fromHubSeq: r.from_hub } : rowToEntry(r)));
  }

  /**
   * Records a scan's changes (deletions marked `deleted`) in the order given, each with the
   * next sequence number; callers order them with plan.orderBatch. An entry with `fromHubSeq`
   * was applied from the hub's change of that number. Returns what was stored.
   */
  record(changes: CachedEntry[]): CachedEntry[] {
    const out: CachedEntry[] = [];
    const before = this.seq;
    try {
      this.db.transaction(() => {
        for (const e of changes) {
          const stored = { ...e, seq: ++this.seq };
          this.q.upsert.run({ ...entryToRow(stored), from_hub: e.fromHubSeq ?? 0 });
          out.push(stored);
        }
      })();
    } catch (e) {
      // Rolled back (e.g. the disk is full): the numbers were not used.
      this.seq = before;
      throw e;
    }
    return out;
  }

  /**
   * Forgets deletions the hub has acknowledged (seq <= `ackedSeq`): it has applied them, and a
   * full index never needs them (the hub deletes what a full index does not mention). Keeps
   * sequence numbers increasing across restarts. Returns how many went.
   */
  pruneTombstones(ackedSeq: number): number {
    let removed = 0;
    this.db.transaction(() => {
      removed = this.q.prune.run(ackedSeq).changes;
      if (removed) {
        this.q.setMeta.run('last_seq', String(this.seq));
        this.q.setMeta.run('pruned_to', String(Math.max(ackedSeq, this.prunedTo)));
      }
    })();
    return removed;
  }

  /** Deletions up to this sequence number are no longer in the index (0: none pruned). */
  get prunedTo(): number {
    return Number(this.q.getMeta.get('pruned_to')?.value ?? 0);
  }

  /**
   * A fresh index id: the hub will want a full index. For when the hub acknowledges less than
   * was pruned (its database was restored from an older copy): the deletions it missed can
   * then only reach it through a full pass.
   */
  renewIndexId(): void {
    this.indexId = crypto.randomBytes(12).toString('hex');
    this.q.setMeta.run('index_id', this.indexId);
  }

  /**
   * For an index that moves to another node (or hub): a new index id (that hub wants a full
   * index) and no memory of which versions came from the previous hub's changes.
   */
  forgetHub(): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE files SET from_hub = 0 WHERE from_hub != 0').run();
      this.renewIndexId();
    })();
  }

  getMeta(key: string): string | undefined {
    return this.q.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.q.setMeta.run(key, value);
  }
}
