/**
 * Compare-and-swap for commits into a root that someone else may be editing too (a node's
 * workspace, a hub mirror that agents write into): a change is applied only if the path still
 * shows what the applier last recorded there. Checked just before the rename or removal, so
 * an edit the scanner has not seen yet is never overwritten; the caller re-decides instead.
 */
import fs from 'node:fs';
import path from 'node:path';
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

/**
 * On a file system that ignores case (macOS, Windows), "Docs/README.md" also finds
 * "docs/Readme.md". Writing one over the other would merge two names into one file; the
 * applier decides instead (a case-only rename is carried out as a rename; two names that only
 * differ in case are a conflict such a file system cannot hold). `existing` is the wire path
 * on disk, which differs from `wirePath` only in case.
 */
export class CaseConflict extends Error {
  constructor(readonly wirePath: string, readonly existing: string) {
    super(`"${wirePath}" and "${existing}" would be one file here: this file system ignores case`);
    this.name = 'CaseConflict';
  }

  /**
   * The name to rename for a case-only rename: the path up to the first segment that differs
   * in case, as it is on disk (`from`) and as it is wanted (`to`): a file, or a directory on
   * the way to it.
   */
  renameSpan(): { from: string; to: string } {
    const want = this.wirePath.split('/');
    const have = this.existing.split('/');
    const i = want.findIndex((seg, k) => seg !== have[k]);
    return { from: have.slice(0, i + 1).join('/'), to: want.slice(0, i + 1).join('/') };
  }
}

/**
 * Whether `to` is `from` with a directory on the way to it in another case, and so cannot be
 * reached by renaming `from` alone where case is ignored: "many/f1" → "Many/f1" (or
 * "Many/F1"). Only the directory's own rename gives it that name; a rename of the file would
 * find it at the new name already (the file system looks "Many" up as "many") and leave the
 * directory's case as it is. False when the first segment that differs in case is the last
 * one (the name itself: "docs/Readme.md" → "docs/README.md", or a directory's own rename), and
 * for paths that are not one another in another case.
 */
export function caseOfParentDiffers(from: string, to: string): boolean {
  if (from === to || from.toLowerCase() !== to.toLowerCase()) return false;
  const have = from.split('/');
  const want = to.split('/');
  if (have.length !== want.length) return false;
  const i = want.findIndex((seg, k) => seg !== have[k]);
  return i >= 0 && i < want.length - 1;
}

export const CASE_CODE = 'ECORTEXCASE';

/**
 * The wire path on disk that `wirePath` resolves to under `root` when some segment of it
 * exists only in another case; null when every segment is on disk exactly (or is missing).
 * One directory listing per segment: call it only where case is ignored.
 */
export function caseVariantSync(root: string, wirePath: string): string | null {
  const segs = wirePath.split('/');
  let dir = root;
  for (let i = 0; i < segs.length; i++) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return null;
    }
    const seg = segs[i]!;
    if (!names.includes(seg)) {
      const folded = seg.toLowerCase();
      const other = names.find((n) => n.toLowerCase() === folded);
      return other === undefined ? null : [...segs.slice(0, i), other, ...segs.slice(i + 1)].join('/');
    }
    dir = path.join(dir, seg);
  }
  return null;
}
