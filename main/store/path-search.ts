/**
 * Search across mirrors (tables `path_names` and `path_grams`): every path of every node's
 * mirror index, found by a piece of its name without walking a disk. A part of HubStore, on its
 * connection. The pure half (what a query becomes) is search-query.ts.
 *
 * Why this shape:
 * - `files` is WITHOUT ROWID (keyed by node and path), and an FTS5 index needs an integer rowid
 *   per row, so `path_names` gives each (node, path) one; `path_grams` is an FTS5 table with the
 *   trigram tokenizer (SQLite ≥ 3.34; better-sqlite3 12 bundles 3.53) over it as external
 *   content (the view `path_grams_text`), so the paths are stored once more, not twice.
 *   Trigrams answer any substring of 3 characters or more (a whole name, a prefix, a piece, a
 *   folder) from the index: the rows holding the query's rarest trigrams (counted in
 *   `path_gram_counts`), each then checked for the substring (search-query.ts). Each path is
 *   indexed behind its node's marker (markedPath), so a node filter is part of the MATCH.
 *   detail=none: no positions are kept (the check does their work): a smaller index, cheaper
 *   to write (measured: 7.5 against 10.8 µs per path for detail=full); columnsize=0: no row
 *   sizes, which only ranking (bm25) reads (about 6 µs less per new path).
 * - Shorter queries get a prefix of the file name, through `path_names_by_name` (NOCASE, so
 *   SQLite's LIKE optimisation uses it).
 * - `path_names` is kept in step by triggers on `files`, so every write path (sync, rescans,
 *   hub-side edits, deletions of whole folders, forgetting a mirror), present and future, keeps
 *   it right, in the same transaction. A path re-recorded (a new version) changes nothing: the
 *   insert trigger finds it already named and stops there. An INSERT OR REPLACE on `files`
 *   forces its conflict policy on the statements of its triggers, so the insert into
 *   `path_names` is guarded by NOT EXISTS, never by OR IGNORE (which would become REPLACE: a
 *   new rowid, and the old one left in the FTS index).
 * - The trigram index is filled later, not in that transaction: trigrams into FTS5 from a
 *   trigger cost ~45 µs per new path (of ~110 with the search index, against 40 without it;
 *   bench/search.mjs), on the hub's main thread, in the middle of an initial sync. So
 *   `path_grams` holds the paths of `path_names` up to an id (`path_grams_upto`), catchUp()
 *   adds the next ones in bounded steps when the hub is idle (hub/search-indexer.ts), and a
 *   search reads the paths above that id directly (checked like the index's candidates). A
 *   path removed is taken out of the index only if it was in it (the trigger compares ids).
 * - Ids are AUTOINCREMENT, never reused: "indexed" is "id ≤ upto", so a plain rowid, which
 *   gives the newest path's id again once that path is deleted, would count a new path as
 *   indexed although it is not (not found by a search; its deletion then tells FTS5 to delete
 *   what it never held, and the index is "malformed"). Costs one sqlite_sequence update per new path.
 * - Each catchUp step's paths become one more b-tree in the index (FTS5 merges them four at a
 *   time); when enough was added, the indexer merges them all into one in small steps
 *   (mergeStep, hub/search-indexer.ts: mergeDue).
 * - Figures: bench/README.md (`search` at 1M paths, `initial-sync` before and after).
 */
import { isConflictCopy } from '../sync/reconcile';
import type { DB } from './db';
import { CANDIDATES_MAX, candidateMatch, encodeCursor, fold, markedPath, nodeGrams, planSearch, trigramsOf } from './search-query';
import { typeOfCode } from './file-rows';
import type { SearchHit, SearchPage } from '../contract/search';

// The file name as the text after the last '/': rtrim strips the trailing characters that are
// not '/', leaving the folder part, whose length is then cut off (SQL has no lastIndexOf).
const NAME_SQL = (p: string) => `substr(${p}, length(rtrim(${p}, replace(${p}, '/', ''))) + 1)`;

export const PATH_SEARCH_SCHEMA = `
  CREATE TABLE path_names (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id TEXT NOT NULL,
    path TEXT NOT NULL,
    name TEXT NOT NULL COLLATE NOCASE
  );
  CREATE UNIQUE INDEX path_names_key ON path_names (node_id, path);
  CREATE INDEX path_names_by_name ON path_names (name);
  CREATE VIRTUAL TABLE path_grams USING fts5(path, content='path_names', content_rowid='id', tokenize='trigram', detail='none', columnsize=0);
  CREATE TABLE path_grams_upto (upto INTEGER NOT NULL);
  INSERT INTO path_grams_upto VALUES (0);
  CREATE TRIGGER path_names_removed AFTER DELETE ON path_names BEGIN
    INSERT INTO path_grams (path_grams, rowid, path) SELECT 'delete', old.id, old.path WHERE old.id <= (SELECT upto FROM path_grams_upto);
  END;
  CREATE TRIGGER files_named AFTER INSERT ON files BEGIN
    INSERT INTO path_names (node_id, path, name) SELECT new.node_id, new.path, ${NAME_SQL('new.path')}
      WHERE NOT EXISTS (SELECT 1 FROM path_names WHERE node_id = new.node_id AND path = new.path);
  END;
  CREATE TRIGGER files_unnamed AFTER DELETE ON files BEGIN
    DELETE FROM path_names WHERE node_id = old.node_id AND path = old.path;
  END;
  INSERT INTO path_names (node_id, path, name) SELECT node_id, path, ${NAME_SQL('path')} FROM files;
`;

/**
 * The trigram index over marked paths (markedPath: the node's number, then the path), with
 * trigram counts kept beside it. Replaces the first index (PATH_SEARCH_SCHEMA's, over bare
 * paths): dropped, and filled again from nothing by the indexer when the hub is idle (a search
 * reads the paths not indexed yet directly meanwhile).
 * - `search_nodes`: a small number per node, for the marker (its rows are never deleted, so a
 *   number never comes back for another node).
 * - `path_grams_text`: what the index holds, as a view (its external content): the marked path
 *   of every path up to `upto`. FTS5 reads it where it needs the text (an 'integrity-check', a
 *   'rebuild'); a search never does (it reads `path_names`).
 * - `path_gram_counts`: how many indexed paths hold each trigram, added to as paths are indexed
 *   (catchUp), never taken from when paths go: the counts only choose which trigrams drive a
 *   search (candidateMatch), every candidate is checked anyway, so one too high costs only
 *   time. A count of 0 is always right: a trigram no path ever held.
 * - The trigger: a path leaves the index with the same text it went in with.
 * - `merged_upto`: `upto` when the index was last merged into one b-tree (mergeStep).
 */
export const MARKED_GRAMS_SCHEMA = `
  DROP TRIGGER path_names_removed;
  DROP TABLE path_grams;
  CREATE TABLE search_nodes (num INTEGER PRIMARY KEY, node_id TEXT NOT NULL UNIQUE);
  CREATE TABLE path_gram_counts (gram TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
  CREATE VIEW path_grams_text AS SELECT p.id AS id, char(1) || s.num || char(1) || p.path AS path
    FROM path_names p JOIN search_nodes s ON s.node_id = p.node_id WHERE p.id <= (SELECT upto FROM path_grams_upto);
  CREATE VIRTUAL TABLE path_grams USING fts5(path, content='path_grams_text', content_rowid='id', tokenize='trigram', detail='none', columnsize=0);
  UPDATE path_grams_upto SET upto = 0;
  ALTER TABLE path_grams_upto ADD COLUMN merged_upto INTEGER NOT NULL DEFAULT 0;
  CREATE TRIGGER path_names_removed AFTER DELETE ON path_names BEGIN
    INSERT INTO path_grams (path_grams, rowid, path) SELECT 'delete', old.id, char(1) || s.num || char(1) || old.path
      FROM search_nodes s WHERE s.node_id = old.node_id AND old.id <= (SELECT upto FROM path_grams_upto);
  END;
`;

interface HitRow {
  id: number; node_id: string; path: string; name: string; type: number; size: number; mtime_ms: number;
  node_name: string | null; retired_at: number | null;
}
interface Candidate { id: number; node_id: string; path: string }

/** How far the trigram index is filled (the highest path id in it), and how far it was when last merged (mergeStep). */
export interface MergeProgress { upto: number; mergedUpto: number }

/**
 * The trigram counts are taken from one path in this many (by id): they only order a query's
 * trigrams, and a sample orders them as well as a census (a trigram held by thousands of paths
 * is counted in the hundreds; one held by a few may be counted as none, which still puts it
 * first). Counting every path cost 16 µs a path more to index at 1M paths (26 against 10
 * without counts), one in 8 about 2.
 */
const SAMPLE_SHIFT = 3;
export const GRAM_SAMPLE = 2 ** SAMPLE_SHIFT;

/**
 * Whether a path's trigrams are counted: one id in GRAM_SAMPLE, picked by a hash of the id (ids
 * taken in turn would follow any period in how the paths were recorded: seen in the bench,
 * where every 8th path had the same extension, so `.go` was counted and `.ts` not at all).
 */
export function sampled(id: number): boolean {
  // Fibonacci hashing: the top bits of the product (its low bits follow the id's low bits).
  return Math.imul(id, 0x9e3779b1) >>> (32 - SAMPLE_SHIFT) === 0;
}

const HIT_COLUMNS = 'p.id, p.node_id, p.path, p.name, f.type, f.size, f.mtime_ms, n.name AS node_name, n.retired_at';
const HIT_JOINS = 'JOIN files f ON f.node_id = p.node_id AND f.path = p.path LEFT JOIN nodes n ON n.id = p.node_id';

export class PathSearch {
  private readonly q;

  constructor(private readonly db: DB) {
    this.q = {
      // The trigram MATCH drives the plan: rowid order, straight from the FTS index (no sort);
      // each candidate is one lookup in path_names by id.
      candidates: db.prepare<[{ match: string; after: number }], Candidate>(`
        SELECT g.rowid AS id, p.node_id, p.path FROM path_grams g JOIN path_names p ON p.id = g.rowid
        WHERE path_grams MATCH @match AND g.rowid > @after ORDER BY g.rowid`),
      // The paths not in the trigram index yet (above `upto`), in id order: checked one by one.
      tail: db.prepare<[{ after: number }], Candidate>(`
        SELECT id, node_id, path FROM path_names WHERE id > max(@after, (SELECT upto FROM path_grams_upto)) ORDER BY id`),
      // A page's hits at once (ids as a JSON array): a third less than a lookup per hit, measured at 1M paths.
      hits: db.prepare<[string], HitRow>(`SELECT ${HIT_COLUMNS} FROM path_names p ${HIT_JOINS} WHERE p.id IN (SELECT value FROM json_each(?))`),
      gramCount: db.prepare<[string], { n: number }>('SELECT n FROM path_gram_counts WHERE gram = ?'),
      addGramCount: db.prepare('INSERT INTO path_gram_counts (gram, n) VALUES (?, ?) ON CONFLICT (gram) DO UPDATE SET n = n + excluded.n'),
      nodeNum: db.prepare<[string], { num: number }>('SELECT num FROM search_nodes WHERE node_id = ?'),
      addNode: db.prepare<[string], { num: number }>('INSERT INTO search_nodes (node_id) VALUES (?) RETURNING num'),
      latest: db.prepare<[], { id: number }>('SELECT coalesce(max(id), 0) AS id FROM path_names'),
      unindexed: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM path_names WHERE id > (SELECT upto FROM path_grams_upto)'),
      toIndex: db.prepare<[number], { id: number; node_id: string; path: string }>(
        'SELECT id, node_id, path FROM path_names WHERE id > (SELECT upto FROM path_grams_upto) ORDER BY id LIMIT ?'),
      index: db.prepare('INSERT INTO path_grams (rowid, path) VALUES (?, ?)'),
      setUpto: db.prepare('UPDATE path_grams_upto SET upto = ?'),
      progress: db.prepare<[], MergeProgress>('SELECT upto, merged_upto AS mergedUpto FROM path_grams_upto'),
      merge: db.prepare<[number]>("INSERT INTO path_grams (path_grams, rank) VALUES ('merge', ?)"),
      setMerged: db.prepare('UPDATE path_grams_upto SET merged_upto = upto'),
      changes: db.prepare<[], number>('SELECT total_changes()').pluck(),
      namePrefix: db.prepare<[{ like: string; afterName: string | null; after: number; node: string | null; limit: number }], HitRow>(`
        SELECT ${HIT_COLUMNS} FROM path_names p ${HIT_JOINS}
        WHERE p.name LIKE @like ESCAPE '\\' AND (@afterName IS NULL OR p.name > @afterName OR (p.name = @afterName AND p.id > @after))
          AND (@node IS NULL OR p.node_id = @node)
        ORDER BY p.name, p.id LIMIT @limit`),
    };
  }

  /** A page of paths matching `query` (see search-query.ts), of one node or all. */
  find(query: string, opts: { nodeId?: string; limit: number; cursor?: string }): SearchPage {
    const plan = planSearch(query, opts.cursor);
    const node = opts.nodeId ?? null;
    if (plan.kind === 'name-prefix') {
      // One row more than asked tells whether there is a next page.
      const rows = this.q.namePrefix.all({ like: plan.like, afterName: plan.afterName, after: plan.afterId, node, limit: opts.limit + 1 });
      const page = rows.slice(0, opts.limit);
      const last = page[page.length - 1];
      return { hits: page.map(toHit), match: plan.kind, next: rows.length > opts.limit && last ? encodeCursor(plan.kind, last.id, last.name) : null };
    }
    // One hit more than asked tells whether there is a next page; the budget bounds the work.
    const found: number[] = [];
    let checked = 0;
    let lastChecked = plan.afterId;
    let cut = false;
    // A node none of whose paths were indexed yet has no marker: only the unindexed paths can hold its matches.
    const num = node === null ? undefined : this.q.nodeNum.get(node)?.num;
    const counts = plan.grams.map((g) => [g, this.q.gramCount.get(g)?.n ?? 0] as const);
    const match = node !== null && num === undefined ? null : candidateMatch(counts, num === undefined ? [] : nodeGrams(num));
    // (Each iterator is made only when its turn comes: one made and left unread keeps the connection busy.)
    const sources = [() => (match === null ? [] : this.q.candidates.iterate({ match, after: plan.afterId })), () => this.q.tail.iterate({ after: plan.afterId })];
    for (const source of sources) {
      for (const c of source()) {
        if (found.length > opts.limit) break;
        if (checked === CANDIDATES_MAX) {
          cut = true;
          break;
        }
        checked++;
        lastChecked = c.id;
        if ((node === null || c.node_id === node) && fold(c.path).includes(plan.needle)) found.push(c.id);
      }
      if (cut || found.length > opts.limit) break;
    }
    const page = found.slice(0, opts.limit);
    const rows = new Map(this.q.hits.all(JSON.stringify(page)).map((r) => [r.id, r]));
    const hits = page.map((id) => rows.get(id)).filter((r): r is HitRow => r !== undefined).map(toHit);
    // Next: after the page's last hit when a hit follows it; after the last candidate checked when the budget ran out.
    const next = found.length > opts.limit ? page[page.length - 1]! : cut ? lastChecked : null;
    return { hits, match: plan.kind, next: next === null ? null : encodeCursor(plan.kind, next, '') };
  }

  /** The newest path's id (0: none): it grows while paths are being recorded. */
  latestId(): number {
    return this.q.latest.get()!.id;
  }

  /** How many recorded paths wait for the trigram index (counted: use while idle, or in tests). */
  unindexed(): number {
    return this.q.unindexed.get()!.n;
  }

  /**
   * Adds up to `max` paths that are not in the trigram index yet, in one transaction, and
   * counts the trigrams of one path in GRAM_SAMPLE (added up per step: one write per distinct
   * trigram, not per path).
   */
  catchUp(max: number): CatchUp {
    return this.db.transaction((): CatchUp => {
      const rows = this.q.toIndex.all(max + 1);
      const batch = rows.slice(0, max);
      const nums = new Map<string, number>();
      const counts = new Map<string, number>();
      for (const r of batch) {
        let num = nums.get(r.node_id);
        if (num === undefined) {
          num = (this.q.nodeNum.get(r.node_id) ?? this.q.addNode.get(r.node_id)!).num;
          nums.set(r.node_id, num);
        }
        const text = markedPath(num, r.path);
        this.q.index.run(r.id, text);
        if (sampled(r.id)) for (const g of trigramsOf(text)) counts.set(g, (counts.get(g) ?? 0) + 1);
      }
      for (const [g, n] of counts) this.q.addGramCount.run(g, n);
      if (batch.length) this.q.setUpto.run(batch[batch.length - 1]!.id);
      return { indexed: batch.length, more: rows.length > max };
    })();
  }

  /** How far the index is filled, and how far it was when last merged into one b-tree. */
  progress(): MergeProgress {
    return this.q.progress.get()!;
  }

  /**
   * One step of merging the index's b-trees into one (FTS5 'merge' with a negative count: at
   * most `pages` leaf pages written). Each batch catchUp adds is a b-tree of its own, merged by
   * FTS5 four at a time: at 1M paths a dozen or more, and a search looks up each of its
   * trigrams in every one (measured: the MATCH of a name 1.7 ms p50, 0.7 after the merge).
   * `more` false: nothing was left to merge (then the merge is recorded as done).
   */
  mergeStep(pages: number): { more: boolean } {
    return this.db.transaction(() => {
      const before = this.q.changes.get()!;
      this.q.merge.run(-pages);
      // FTS5 documents it: fewer than 2 rows changed means the merge found nothing to do.
      const more = this.q.changes.get()! - before >= 2;
      if (!more) this.q.setMerged.run();
      return { more };
    })();
  }
}

export interface CatchUp {
  /** Paths added to the trigram index by this call. */
  indexed: number;
  /** Whether paths are still waiting (call again). */
  more: boolean;
}

function toHit(r: HitRow): SearchHit {
  return {
    nodeId: r.node_id, nodeName: r.node_name, nodeRetired: r.retired_at !== null, path: r.path,
    type: typeOfCode(r.type), size: r.size, mtimeMs: r.mtime_ms, conflictCopy: isConflictCopy(r.path),
  };
}
