/**
 * Search across mirrors, the pure half: what a query typed by an operator becomes in SQL terms
 * (path-search.ts runs it). No database here, so every hostile string is a table test. The
 * query was checked first (contract/search.ts: searchQueryProblem: not empty, no NUL, bounded).
 *
 * - 3 characters or more: a substring of the path, anywhere (a name, a piece of it, a folder),
 *   through the trigram index. The query is one FTS5 phrase in double quotes; inside one, the
 *   only character FTS5 reads specially is the double quote itself, doubled to stay literal
 *   (so `*`, `^`, `:`, `(`, `-`, `NEAR`, `AND`... are plain text). With detail=full a phrase of
 *   trigrams matches consecutive positions only: exactly the substring, case folded.
 * - 1 or 2 characters: no trigram exists, so the answer is the files whose **name** (the last
 *   segment) starts with them, through an index on names (ASCII case folded, as SQLite's
 *   NOCASE). `%`, `_` and the escape character are escaped for LIKE.
 *
 * Cursors: the page's last row as the next page's start. The trigram kind walks the index in
 * rowid order (the order the hub learned of the paths: no ranking, so the first page never
 * has to read every match of a query that matches a million paths); the name kind in name order.
 */

import { SEARCH_SUBSTRING_MIN } from '../contract/search';

export type SearchPlan =
  | { kind: 'substring'; match: string; afterId: number }
  | { kind: 'name-prefix'; like: string; afterName: string | null; afterId: number };

/** An FTS5 string literal: the whole query as one phrase, its double quotes doubled. */
export function ftsPhrase(query: string): string {
  return `"${query.replaceAll('"', '""')}"`;
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
  return short ? { kind: 'name-prefix', like: likePrefix(query), afterName, afterId } : { kind: 'substring', match: ftsPhrase(query), afterId };
}

/** The last segment of a path (its file or folder name). */
export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
