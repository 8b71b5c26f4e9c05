/**
 * Carrying out one planned action (plan.ts) on a root, and naming why one could not be: written
 * once for the hub (a node's change into its mirror) and the node (a hub-side change into the
 * workspace). What to do around it (conflict copies, records, acknowledgements) stays with each
 * side; the disk work and the words for its failures are the same on both.
 */
import { VerifyError, applyDelete, applyDir, applyMeta, applySymlink, pullFile, type ApplyContext, type PullSource, type PullStats } from './apply';
import { BlockUnavailable } from './block-fetcher';
import { CaseConflict, ChangedMeanwhile, type Expected } from './expect';
import { UnsafePathError } from './paths';
import type { Action } from './plan';
import { errnoProblem } from './problems';
import type { CachedEntry, Entry } from './types';

export interface PullWith {
  /** Where the file's blocks come from (asked only for a pull). */
  source: () => PullSource;
  signal?: AbortSignal;
  stats?: PullStats;
}

/**
 * Applies `action` for `e`, checking the path still shows `expected` (expect.ts). Returns what
 * is now on disk at the path, null when nothing is (a deletion) or nothing was done ('none').
 */
export async function applyAction(ctx: ApplyContext, action: Action, e: Entry, expected: Expected, pull: PullWith): Promise<CachedEntry | null> {
  switch (action.kind) {
    case 'none':
      return null;
    case 'pull':
      return pullFile(ctx, e, pull.source(), pull.signal, pull.stats, expected);
    case 'mkdir':
      return applyDir(ctx, e, expected);
    case 'symlink':
      return applySymlink(ctx, e, expected);
    case 'meta':
      return applyMeta(ctx, e, expected);
    case 'delete':
      await applyDelete(ctx, e.path, expected);
      return null;
  }
}

export interface ApplyProblem {
  code: string;
  reason: string;
  /** Trying again later can help by itself. */
  retry: boolean;
  /** The change itself is refused (an unsafe path, bytes that do not match their hash), rather than failed on this side's disk. */
  refused: boolean;
}

/** How each side words a problem: the hub applies into a mirror, the node into its workspace. */
const WORDS = {
  hub: {
    place: "the hub's mirror",
    symlink: (wirePath: string) => `"${wirePath}" is a symlink in the mirror, and symlinks are never followed`,
    verify: (message: string) => `${message} (fetched again after a while)`,
  },
  node: {
    place: 'workspace',
    symlink: () => 'the path is a symlink in the workspace, and symlinks are never followed',
    verify: (message: string) => message,
  },
} as const;

/** Why a change could not be applied at `wirePath`, in words, and whether retrying can help by itself. */
export function applyProblem(err: unknown, wirePath: string, side: keyof typeof WORDS): ApplyProblem {
  const words = WORDS[side];
  const errno = (err as NodeJS.ErrnoException).code;
  const message = (err as Error).message;
  // A symlink or a file in the way: for the operator to look at, or for the next version.
  if (err instanceof UnsafePathError || errno === 'ELOOP') {
    return { code: 'UNSAFE_PATH', reason: errno === 'ELOOP' ? words.symlink(wirePath) : message, retry: false, refused: true };
  }
  if (err instanceof VerifyError) return { code: 'HASH_MISMATCH', reason: words.verify(message), retry: true, refused: true };
  if (err instanceof BlockUnavailable) return { code: 'BLOCK_UNAVAILABLE', reason: message, retry: true, refused: false };
  if (err instanceof ChangedMeanwhile) return { code: 'CHANGED_ON_HUB', reason: message, retry: true, refused: false };
  if (err instanceof CaseConflict) return { code: 'CASE_CONFLICT', reason: message, retry: true, refused: false };
  const known = errnoProblem(err, words.place);
  return known ? { ...known, refused: false } : { code: 'APPLY_FAILED', reason: message, retry: true, refused: false };
}
