/**
 * Search across mirrors, in the contract: find a path by a piece of its name in every node's
 * mirror index (the hub's database, never a walk of the disks). Types, the query's limits and
 * its check; the operation is `search.paths` (index.ts spreads `searchOperations` into its table).
 */
import { z } from 'zod';

/** Longest query accepted, in characters: a name is at most 255 bytes, a path 4096. */
export const SEARCH_QUERY_MAX = 1024;
/** Queries this long or longer match anywhere in the path; shorter ones match the start of a name. */
export const SEARCH_SUBSTRING_MIN = 3;
export const SEARCH_LIMIT_DEFAULT = 50;
export const SEARCH_LIMIT_MAX = 500;

/** Why a query cannot be run, as a sentence for the operator; null when it can. */
export function searchQueryProblem(query: string): string | null {
  if (query.trim() === '') return 'the search query is empty';
  if ([...query].length > SEARCH_QUERY_MAX) return `the search query is longer than ${SEARCH_QUERY_MAX} characters`;
  // Paths never hold NUL (sync/paths.ts refuses it); a newline is a legal name character on POSIX.
  if (query.includes('\0')) return 'the search query contains NUL, which no path can hold';
  if (/[\uD800-\uDFFF]/.test(query.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''))) return 'the search query contains a lone surrogate (not valid Unicode)';
  return null;
}

/** One path found. */
export interface SearchHit {
  nodeId: string;
  /** The node's name (null only for an index row of a node the hub no longer lists). */
  nodeName: string | null;
  /** The node is retired: its mirror is an orphan, kept until a purge. */
  nodeRetired: boolean;
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
  mtimeMs: number;
  /** The path is a conflict copy (`name.sync-conflict-YYYYMMDD-HHMMSS-SIDE.ext`). */
  conflictCopy: boolean;
}

export interface SearchPage {
  hits: SearchHit[];
  /**
   * How the query was matched: `substring` (3 characters or more: anywhere in the path, case
   * folded, in the order the hub learned of the paths) or `name-prefix` (1 or 2 characters:
   * names that start with them, ASCII case folded, by name).
   */
  match: 'substring' | 'name-prefix';
  /** Pass as `cursor` (with the same query) for the next page; null after the last. */
  next: string | null;
}

const Query = z.string().max(SEARCH_QUERY_MAX * 2).superRefine((q, ctx) => {
  const problem = searchQueryProblem(q);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const SearchPathsInput = z.object({
  query: Query,
  /** Only this node's mirror. */
  nodeId: z.string().min(1).max(64).optional(),
  limit: z.number().int().min(1).max(SEARCH_LIMIT_MAX).optional(),
  /** The `next` of the page before (same query). */
  cursor: z.string().min(1).max(SEARCH_QUERY_MAX * 4 + 32).optional(),
}).strict();

export const searchOperations = {
  /** Paths in the mirrors whose path contains the query (or, under 3 characters, whose name starts with it): a page. */
  'search.paths': { input: SearchPathsInput, output: {} as SearchPage },
} as const;
