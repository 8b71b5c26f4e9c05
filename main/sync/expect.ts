/**
 * Compare-and-swap for commits into a root that someone else may be editing too (a node's
 * workspace, a hub mirror that agents write into): a change is applied only if the path still
 * shows what the applier last recorded there. Checked just before the rename or removal, so
 * an edit the scanner has not seen yet is never overwritten; the caller re-decides instead.
 */
import type fs from 'node:fs';
import type { EntryType } from './types';

/** What the applier expects at a path: a recorded stamp, or null for "nothing there". */
export type Expected = { type: EntryType; size: number; mtimeMs: number; ino: number } | null;

export class ChangedMeanwhile extends Error {
  constructor(readonly wirePath: string) {
    super(`${wirePath} changed on disk since it was last scanned; not overwritten`);
    this.name = 'ChangedMeanwhile';
  }
}

/** Error code the fs worker reports a failed expectation with. */
export const CHANGED_CODE = 'ECORTEXCHANGED';

/** Whether what lstat found (undefined: nothing) is what was expected. */
export function stampMatches(st: fs.Stats | undefined, exp: Expected): boolean {
  if (exp === null) return st === undefined;
  if (!st) return false;
  switch (exp.type) {
    // A directory's mtime moves with its children: only its identity counts.
    case 'dir': return st.isDirectory() && st.ino === exp.ino;
    case 'symlink': return st.isSymbolicLink() && st.ino === exp.ino;
    case 'file': return st.isFile() && st.ino === exp.ino && st.size === exp.size && st.mtimeMs === exp.mtimeMs;
  }
}

export function expectedOf(e: { type: EntryType; size: number; mtimeMs: number; ino: number } | undefined): Expected {
  return e ? { type: e.type, size: e.size, mtimeMs: e.mtimeMs, ino: e.ino } : null;
}
