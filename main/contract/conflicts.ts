/**
 * The contract's conflict operations (index.ts spreads them into its table): list the conflict
 * copies across nodes, look at one beside the version it lost to, and resolve it by keeping the
 * winner, the copy, or both. Paths come from the UI and the CLI: they are checked here before
 * the hub sees them (relative, no NUL, no `.` or `..` segments), and the hub checks again that
 * the path is a conflict copy recorded in that node's mirror.
 */
import { z } from 'zod';

export type ConflictSide = 'node' | 'hub';

/** What to keep: the version at the original path (`winner`), the copy's (`copy`), or both (the copy becomes an ordinary file). */
export const CONFLICT_KEEPS = ['winner', 'copy', 'both'] as const;
export type ConflictKeep = (typeof CONFLICT_KEEPS)[number];

/** One version of a conflicted path, as the hub's mirror index records it. */
export interface ConflictVersionView {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
  mtimeMs: number;
  /** Files: the content hash (SHA-256 over the block hashes), hex; equal content, equal hash. '' otherwise. */
  hash: string;
  /** Symlink target; '' otherwise. */
  target: string;
}

/** A conflict copy in a node's mirror and the version it lost to. */
export interface ConflictView {
  nodeId: string;
  nodeName: string;
  /** The conflict copy's path (`name.sync-conflict-YYYYMMDD-HHMMSS-SIDE.ext`). */
  copy: string;
  /** The path whose version won (the copy's name without its marker); null when it cannot be told (a shortened long name). */
  original: string | null;
  /** The side whose version the copy keeps (it lost); the original's version came from the other side. */
  copySide: ConflictSide;
  /** When the conflict was decided (from the copy's name; ms since the epoch), or null. */
  madeAt: number | null;
  copyVersion: ConflictVersionView;
  /** The version at the original path now; null when nothing is there. */
  originalVersion: ConflictVersionView | null;
}

export interface ConflictList {
  /** Active nodes' conflict copies, by node then path; the first `limit`. */
  conflicts: ConflictView[];
  /** How many there are in all (of the node asked for, or of every active node). */
  total: number;
}

/** One line of a diff of the original (a) against the copy (b); `skip` stands for unchanged lines left out. */
export interface DiffRow {
  op: 'same' | 'del' | 'add' | 'skip';
  text: string;
  /** Line number in the original (1-based), or null. */
  a: number | null;
  /** Line number in the copy (1-based), or null. */
  b: number | null;
}

/** A line diff of two text files, or why there is none (binary, too large, a symlink, absent...): then the hashes tell. */
export type ConflictDiffView =
  | { kind: 'text'; rows: DiffRow[]; truncated: boolean }
  | { kind: 'none'; reason: string };

export interface ConflictDetail extends ConflictView {
  diff: ConflictDiffView;
}

/** What a resolution did. */
export interface ConflictResolution {
  nodeId: string;
  copy: string;
  keep: ConflictKeep;
  original: string | null;
  /** Where the kept version is now (the original path, or the copy's new ordinary name); null when the winner was nothing. */
  result: string | null;
}

/** Files larger than this are compared by hash only. */
export const TEXT_DIFF_MAX_BYTES = 256 * 1024;

/** Why a path from a client is not a relative path inside a mirror, or null. */
export function relativePathProblem(p: string): string | null {
  if (p.includes('\0')) return 'contains a NUL byte';
  if (p.startsWith('/')) return 'is absolute';
  if (p.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'has an empty, "." or ".." segment';
  return null;
}

const Id = z.string().min(1).max(64);
const MirrorPath = z.string().min(1).max(4096).superRefine((p, ctx) => {
  const problem = relativePathProblem(p);
  if (problem) ctx.addIssue({ code: 'custom', message: `a path in the mirror ${problem}` });
});

export const conflictOperations = {
  'conflicts.list': { input: z.object({ nodeId: Id.optional(), limit: z.number().int().min(1).max(10_000).optional() }).strict(), output: {} as ConflictList },
  'conflicts.show': { input: z.object({ nodeId: Id, copy: MirrorPath }).strict(), output: {} as ConflictDetail },
  'conflicts.resolve': { input: z.object({ nodeId: Id, copy: MirrorPath, keep: z.enum(CONFLICT_KEEPS) }).strict(), output: {} as ConflictResolution },
} as const;
