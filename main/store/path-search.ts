/**
 * Search across mirrors (tables `path_names` and `path_grams`): every path of every node's
 * mirror index, found by a piece of its name without walking a disk. A part of HubStore, on its
 * connection. The pure half (what a query becomes) is search-query.ts.
 *
 * Why this shape:
 * - `files` is WITHOUT ROWID (keyed by node and path), and an FTS5 index needs an integer rowid
 *   per row, so `path_names` gives each (node, path) one; `path_grams` is an FTS5 table with the
 *   trigram tokenizer (SQLite ≥ 3.34; better-sqlite3 12 bundles 3.53) over it as external
 *   content, so the paths are stored once more, not twice. Trigrams answer any substring of 3
 *   characters or more (a whole name, a prefix, a piece, a folder) from the index: the rows
 *   holding the trigrams that cover the query, each then checked for the substring
 *   (search-query.ts).
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
 * - Figures: bench/README.md (`search` at 1M paths, `initial-sync` before and after).
 */
import { isConflictCopy } from '../sync/reconcile';
import type { DB } from './db';
import { CANDIDATES_MAX, GRAM_COUNT_CAP, encodeCursor, fold, ftsString, planSearch, rareMatch } from './search-query';
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

interface HitRow {
  id: number; node_id: string; path: string; name: string; type: number; size: number; mtime_ms: number;
  node_name: string | null; retired_at: number | null;
}
interface Candidate { id: number; node_id: string; path: string }

const HIT_COLUMNS = 'p.id, p.node_id, p.path, p.name, f.type, f.size, f.mtime_ms, n.name AS node_name, n.retired_at';
const HIT_JOINS = 'JOIN files f ON f.node_id = p.node_id AND f.path = p.path LEFT JOIN nodes n ON n.id = p.node_id';

/** Trigram counts remembered at most (a cache: cleared when full). */
const GRAM_CACHE_MAX = 50_000;
/** The counts are taken again once this many paths were indexed since they were (they only order the trigrams). */
const GRAM_CACHE_STALE = 100_000;

export class PathSearch {
  private readonly q;
  /** How many indexed paths hold each trigram, capped (rareMatch), as counted when `gramsAt` paths were indexed. */
  private readonly gramCounts = new Map<string, number>();
  private gramsAt = 0;

  constructor(private readonly db: DB) {
    // `@node IS NULL OR p.node_id = @node`: one statement with or without the node filter. The
    // trigram MATCH drives the plan (rowid order, from the FTS index); each hit is one lookup
    // in path_names and one in files by primary key.
    this.q = {
      // The trigram MATCH drives the plan: rowid order, straight from the FTS index (no sort).
      // The node filter is checked with the substring, in the loop, so that it counts against
      // CANDIDATES_MAX too: a node with few of the matching paths must not make a page read them all.
      candidates: db.prepare<[{ match: string; after: number }], Candidate>(`
        SELECT g.rowid AS id, p.node_id, p.path FROM path_grams g JOIN path_names p ON p.id = g.rowid
        WHERE path_grams MATCH @match AND g.rowid > @after ORDER BY g.rowid`),
      // The paths not in the trigram index yet (above `upto`), in id order: checked one by one.
      tail: db.prepare<[{ after: number }], Candidate>(`
        SELECT id, node_id, path FROM path_names WHERE id > max(@after, (SELECT upto FROM path_grams_upto)) ORDER BY id`),
      hit: db.prepare<[number], HitRow>(`SELECT ${HIT_COLUMNS} FROM path_names p ${HIT_JOINS} WHERE p.id = ?`),
      upto: db.prepare<[], { upto: number }>('SELECT upto FROM path_grams_upto'),
      // How many indexed paths hold one trigram, up to GRAM_COUNT_CAP (reads at most that much of its list).
      gramCount: db.prepare<[string, number], { n: number }>('SELECT count(*) AS n FROM (SELECT 1 FROM path_grams WHERE path_grams MATCH ? LIMIT ?)'),
      latest: db.prepare<[], { id: number }>('SELECT coalesce(max(id), 0) AS id FROM path_names'),
      unindexed: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM path_names WHERE id > (SELECT upto FROM path_grams_upto)'),
      toIndex: db.prepare<[number, number], { id: number; path: string }>('SELECT id, path FROM path_names WHERE id > ? ORDER BY id LIMIT ?'),
      index: db.prepare('INSERT INTO path_grams (rowid, path) VALUES (?, ?)'),
      setUpto: db.prepare('UPDATE path_grams_upto SET upto = ?'),
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
    // (Each iterator is made only when its turn comes: one made and left unread keeps the connection busy.)
    const match = rareMatch(this.gramCountsOf(plan.grams), plan.match);
    const sources = [() => this.q.candidates.iterate({ match, after: plan.afterId }), () => this.q.tail.iterate({ after: plan.afterId })];
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
    const hits = page.map((id) => this.q.hit.get(id)).filter((r): r is HitRow => r !== undefined).map(toHit);
    // Next: after the page's last hit when a hit follows it; after the last candidate checked when the budget ran out.
    const next = found.length > opts.limit ? page[page.length - 1]! : cut ? lastChecked : null;
    return { hits, match: plan.kind, next: next === null ? null : encodeCursor(plan.kind, next, '') };
  }

  /** How many indexed paths hold each of `grams`, up to GRAM_COUNT_CAP, remembered (see GRAM_CACHE_STALE). */
  private gramCountsOf(grams: string[]): (readonly [string, number])[] {
    const upto = this.q.upto.get()!.upto;
    if (upto - this.gramsAt > GRAM_CACHE_STALE || upto < this.gramsAt || this.gramCounts.size + grams.length > GRAM_CACHE_MAX) {
      this.gramCounts.clear();
      this.gramsAt = upto;
    }
    return grams.map((g) => {
      let n = this.gramCounts.get(g);
      if (n === undefined) {
        n = this.q.gramCount.get(ftsString(g), GRAM_COUNT_CAP)!.n;
        this.gramCounts.set(g, n);
      }
      return [g, n] as const;
    });
  }

  /** The newest path's id (0: none): it grows while paths are being recorded. */
  latestId(): number {
    return this.q.latest.get()!.id;
  }

  /** How many recorded paths wait for the trigram index (counted: use while idle, or in tests). */
  unindexed(): number {
    return this.q.unindexed.get()!.n;
  }

  /** Adds up to `max` paths that are not in the trigram index yet, in one transaction. */
  catchUp(max: number): CatchUp {
    return this.db.transaction((): CatchUp => {
      const rows = this.q.toIndex.all(this.q.upto.get()!.upto, max + 1);
      const batch = rows.slice(0, max);
      for (const r of batch) this.q.index.run(r.id, r.path);
      if (batch.length) this.q.setUpto.run(batch[batch.length - 1]!.id);
      return { indexed: batch.length, more: rows.length > max };
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
