/**
 * Search across mirrors, the pure half: what a query typed by an operator becomes in SQL terms
 * (path-search.ts runs it). No database here, so every hostile string is a table test. The
 * query was checked first (contract/search.ts: searchQueryProblem: not empty, no NUL, bounded).
 *
 * - 3 characters or more: a substring of the path, anywhere (a name, a piece of it, a folder),
 *   through the trigram index: the rows holding trigrams that cover the query (an FTS5 AND of
 *   single-trigram strings, each in double quotes, inside which FTS5 reads only the double
 *   quote itself, doubled to stay literal: `*`, `^`, `:`, `(`, `-`, `NEAR`, `AND`... are plain
 *   text), then each candidate checked for the whole substring (case folded), since holding the
 *   trigrams does not mean holding them in a row. Not one FTS5 phrase: a phrase reads the
 *   positions of every trigram's whole list, and trigrams such as `.ts` or `src` are in most
 *   paths (measured at 100k paths: a phrase 6.2 ms, the AND 0.3 ms; at 1M ten times that).
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
  | { kind: 'substring'; match: string; grams: string[]; needle: string; afterId: number }
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

/** At most this many trigrams go into the MATCH (spread over the query); the check of each candidate does the rest. */
export const MATCH_TRIGRAMS_MAX = 8;

/** How a path and a query are compared: case folded (the trigram tokenizer folds case too). */
export function fold(text: string): string {
  return text.toLowerCase();
}

/**
 * The FTS5 query for the candidates of `query` (3 code points or more): the paths holding its
 * trigrams that do not overlap (at 0, 3, 6... and the last), which cover every character;
 * overlapping ones narrow the candidates little and each costs a walk of its list (measured at
 * 100k paths: 12 trigrams 3.4 ms, the 5 that do not overlap 1.6 ms). Folded and distinct, at
 * most MATCH_TRIGRAMS_MAX of them spread from the first to the last.
 */
export function trigramMatch(query: string): string {
  const chars = [...fold(query)];
  const starts = Array.from({ length: Math.ceil((chars.length - 2) / 3) }, (_, i) => i * 3);
  if (starts[starts.length - 1] !== chars.length - 3) starts.push(chars.length - 3);
  const grams = [...new Set(starts.map((i) => chars.slice(i, i + 3).join('')))];
  const picked = grams.length <= MATCH_TRIGRAMS_MAX ? grams
    : Array.from({ length: MATCH_TRIGRAMS_MAX }, (_, i) => grams[Math.round((i * (grams.length - 1)) / (MATCH_TRIGRAMS_MAX - 1))]!);
  return [...new Set(picked)].map(ftsString).join(' AND ');
}

/** Every distinct trigram of `query`, folded (its overlapping ones too). */
export function trigramsOf(query: string): string[] {
  const chars = [...fold(query)];
  const out = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i++) out.add(chars.slice(i, i + 3).join(''));
  return [...out];
}

/**
 * Paths a trigram's count is taken up to: one held by this many paths or more is *common*
 * (counting further would read its whole list, which is what picking the rare ones avoids).
 */
export const GRAM_COUNT_CAP = 4096;
/** Rare trigrams that go into the MATCH at most: each narrows the candidates, each costs a walk of its (short) list. */
export const RARE_GRAMS_MAX = 3;

/**
 * The FTS5 query for the candidates, from the query's trigrams and how many paths hold each
 * (counted up to GRAM_COUNT_CAP): the rarest ones, up to RARE_GRAMS_MAX, when one is rare. An
 * AND of common trigrams (`.ts`, `src`, `hel`) reads their long lists to the end, although one
 * rare trigram (`941`) alone leaves few candidates, all checked for the substring anyway
 * (measured at 1M paths, a whole file name: 16 ms p99 for every other trigram, 5.5 for the rare
 * ones). With none rare, `fallback` (trigramMatch: spread over the whole query). A trigram held
 * by no path means no match: then it alone (an empty answer, at once).
 */
export function rareMatch(counts: readonly (readonly [gram: string, count: number])[], fallback: string): string {
  const sorted = [...counts].sort((a, b) => a[1] - b[1]);
  if (sorted.length === 0 || sorted[0]![1] >= GRAM_COUNT_CAP) return fallback;
  // Beside a rare one, a common one costs little (FTS5 seeks in its list to the rare one's
  // rows) and cuts the candidates each checked (measured: 500 on average with the rare ones
  // alone, 180 with the rarest three whatever their counts).
  return (sorted[0]![1] === 0 ? sorted.slice(0, 1) : sorted.slice(0, RARE_GRAMS_MAX)).map(([g]) => ftsString(g)).join(' AND ');
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
  return short ? { kind: 'name-prefix', like: likePrefix(query), afterName, afterId } : { kind: 'substring', match: trigramMatch(query), grams: trigramsOf(query), needle: fold(query), afterId };
}

/** The last segment of a path (its file or folder name). */
export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
