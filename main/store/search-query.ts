/**
 * Search across mirrors, the pure half: what a query typed by an operator becomes in SQL terms
 * (path-search.ts runs it). No database here, so every hostile string is a table test. The
 * query was checked first (contract/search.ts: searchQueryProblem: not empty, no NUL, bounded).
 *
 * - 3 characters or more: a substring of the path, anywhere (a name, a piece of it, a folder),
 *   through the trigram index: the rows holding a few of the query's trigrams (an FTS5 AND of
 *   single-trigram strings, each in double quotes, inside which FTS5 reads only the double
 *   quote itself, doubled to stay literal: `*`, `^`, `:`, `(`, `-`, `NEAR`, `AND`... are plain
 *   text), then each candidate checked for the whole substring (case folded), since holding the
 *   trigrams does not mean holding them in a row. Not one FTS5 phrase: a phrase reads the
 *   positions of every trigram's whole list, and trigrams such as `.ts` or `src` are in most
 *   paths (measured at 100k paths: a phrase 6.2 ms, an AND 0.3 ms; at 1M ten times that).
 *   Which trigrams: the query's rarest ones, from counts the indexer keeps (candidateMatch).
 *   With a node filter, the node's marker too: each indexed text starts with its node's number
 *   between two U+0001 (markedPath), so the candidates are that node's paths only.
 * - 1 or 2 characters: no trigram exists, so the answer is the files whose **name** (the last
 *   segment) starts with them, through an index on names (ASCII case folded, as SQLite's
 *   NOCASE). `%`, `_` and the escape character are escaped for LIKE.
 *
 * Cursors: the page's last row as the next page's start. The trigram kind walks the index in
 * rowid order (the order the hub learned of the paths: no ranking, so the first page never
 * has to read every match of a query that matches a million paths); the name kind in name order.
 * A page of the substring kind checks at most CANDIDATES_MAX candidates: when they run out
 * before the page is full, the page is shorter and its cursor is the last candidate checked, so
 * no request does unbounded work (a query whose trigrams are common but whose substring is rare).
 */

import { SEARCH_SUBSTRING_MIN } from '../contract/search';

export type SearchPlan =
  | { kind: 'substring'; grams: string[]; needle: string; afterId: number }
  | { kind: 'name-prefix'; like: string; afterName: string | null; afterId: number };

/** An FTS5 string literal, its double quotes doubled. */
export function ftsString(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/**
 * Candidates one page of the substring kind checks at most (see above): each costs a lookup of
 * its path (about 2 µs; at 20,000 a node-filtered page that found nothing took 44 ms p50 at 1M
 * paths, bench/search.mjs). The UI asks for the next pages by itself until a page is full.
 */
export const CANDIDATES_MAX = 5_000;

/** How a path and a query are compared: case folded (the trigram tokenizer folds case too). */
export function fold(text: string): string {
  return text.toLowerCase();
}

/** Every distinct trigram of `query`, folded (its overlapping ones too). */
export function trigramsOf(query: string): string[] {
  const folded = fold(query);
  const out = new Set<string>();
  if (!/[\uD800-\uDFFF]/.test(folded)) {
    // One UTF-16 unit per character (the indexer's common case: every path it indexes comes here).
    for (let i = 0; i + 3 <= folded.length; i++) out.add(folded.slice(i, i + 3));
  } else {
    const chars = [...folded];
    for (let i = 0; i + 3 <= chars.length; i++) out.add(chars.slice(i, i + 3).join(''));
  }
  return [...out];
}

/** Trigrams of the query that go into the MATCH at most: each narrows the candidates, each costs a walk of its list. */
export const RARE_GRAMS_MAX = 3;

/**
 * The FTS5 query for the candidates, from the query's trigrams and how many indexed paths hold
 * each (path_gram_counts): the rarest ones, up to RARE_GRAMS_MAX. An AND of common trigrams
 * (`.ts`, `src`, `hel`) reads their long lists to the end, although one rare trigram (`941`)
 * leaves few candidates, all checked for the substring anyway (measured at 1M paths, a whole
 * file name: 16 ms p99 for every other trigram, 5.5 for the rarest). Beside a rare one, a common
 * one costs little (FTS5 seeks in its list to the rare one's rows) and cuts the candidates
 * (measured: 500 on average with the rare ones alone, 180 with the rarest three whatever their
 * counts). A trigram held by no path ends the AND at once (an empty answer). The counts are
 * estimates (path-search.ts: GRAM_SAMPLE): they choose, the index and the check decide.
 * `nodeGrams`: the trigrams of a node's marker (nodeGrams), all of them, for a node filter.
 */
export function candidateMatch(counts: readonly (readonly [gram: string, count: number])[], nodeGrams: readonly string[] = []): string {
  const rare = [...counts].sort((a, b) => a[1] - b[1]).slice(0, RARE_GRAMS_MAX);
  return [...new Set([...nodeGrams, ...rare.map(([g]) => g)])].map(ftsString).join(' AND ');
}

/**
 * The text the trigram index holds for a path: its node's number (search_nodes) between two
 * U+0001, then the path. A node filter then narrows the candidates inside the index (the
 * marker's trigrams, nodeGrams) instead of checking every node's matches one by one. SQL builds
 * the same text (path-search.ts: the view `path_grams_text` and the delete trigger); FTS5's
 * integrity check in the tests holds the two together.
 */
export function markedPath(nodeNum: number, path: string): string {
  return `\x01${nodeNum}\x01${path}`;
}

/** The trigrams every path of a node holds in the index (its marker's): `\x017\x01` is one, `\x0142\x01` two. */
export function nodeGrams(nodeNum: number): string[] {
  return trigramsOf(markedPath(nodeNum, ''));
}

/** A LIKE pattern (ESCAPE '\') matching values that start with `prefix`, taken literally. */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** A page cursor: `<id>` (substring) or `<id>:<name>` (name prefix). */
export function encodeCursor(plan: SearchPlan['kind'], id: number, name: string): string {
  return plan === 'substring' ? String(id) : `${id}:${name}`;
}

/** A cursor that is not the `next` of an earlier page of the same kind of query. */
export class BadCursor extends Error {}

/**
 * The plan for a query (already checked by searchQueryProblem) and an optional cursor. A cursor
 * of the other kind, or malformed, throws BadCursor (the handler turns it into BAD_REQUEST).
 */
export function planSearch(query: string, cursor?: string): SearchPlan {
  const short = [...query].length < SEARCH_SUBSTRING_MIN;
  let afterId = 0;
  let afterName: string | null = null;
  if (cursor !== undefined) {
    const m = /^(\d{1,15})(?::([\s\S]*))?$/.exec(cursor);
    if (!m || (m[2] !== undefined) !== short) throw new BadCursor('the cursor is not the `next` of an earlier page of this query');
    afterId = Number(m[1]);
    afterName = m[2] ?? null;
  }
  return short ? { kind: 'name-prefix', like: likePrefix(query), afterName, afterId } : { kind: 'substring', grams: trigramsOf(query), needle: fold(query), afterId };
}

/** The last segment of a path (its file or folder name). */
export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
