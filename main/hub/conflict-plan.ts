/**
 * Settling a conflict copy, as pure functions: what a copy's name says (the path it lost to,
 * the side it came from, when), the ordinary name a copy takes when both versions are kept,
 * and the steps a resolution takes in the mirror. conflicts.ts carries them out; the change
 * then reaches the node like any edit made on the hub's side.
 */
import type { ConflictKeep, ConflictSide } from '../contract';
import { CONFLICT_MARK, utf8Prefix } from '../sync/reconcile';
import type { EntryType } from '../sync/types';

/** Longest name (path segment) in bytes (NAME_MAX). */
const NAME_MAX = 255;
/** Only a copy whose name is this long may have had its stem shortened (reconcile.ts conflictName). */
const SHORTENED_FROM = NAME_MAX - 4;

export interface CopyName {
  /** Directory with its trailing slash ('' at the root). */
  dir: string;
  /** The original name's stem, as kept in the copy's name (shortened for long names). */
  stem: string;
  /** The original name's extension ('' for none). */
  ext: string;
  /** The side whose version the copy keeps. */
  side: ConflictSide;
  /** When the conflict was decided (UTC, from the name). */
  at: number;
  /** `YYYYMMDD-HHMMSS` as in the name. */
  stamp: string;
}

const COPY = /^(.*)\.sync-conflict-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})-(node|hub)((?:\.[^/.]*)?)$/s;

/** What a conflict copy's name says, or null if it is not one (reconcile.ts isConflictCopy). */
export function parseCopyName(copy: string): CopyName | null {
  const slash = copy.lastIndexOf('/');
  const base = copy.slice(slash + 1);
  const m = COPY.exec(base);
  if (!m || m[1] === '') return null;
  const [, stem, y, mo, d, h, mi, s, side, ext] = m as unknown as string[];
  const at = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  return { dir: copy.slice(0, slash + 1), stem: stem!, ext: ext!, side: side as ConflictSide, at, stamp: `${y}${mo}${d}-${h}${mi}${s}` };
}

/**
 * The path a copy lost to: its name without the marker, when that is recorded; else, for a copy
 * whose name is long enough to have been shortened, the one recorded sibling that starts with
 * the kept stem and ends with the extension. Null when it cannot be told.
 */
export function originalOf(copy: string, recorded: (p: string) => boolean, siblings: () => string[]): string | null {
  const n = parseCopyName(copy);
  if (!n) return null;
  const plain = `${n.dir}${n.stem}${n.ext}`;
  if (recorded(plain)) return plain;
  const base = copy.slice(n.dir.length);
  if (Buffer.byteLength(base) < SHORTENED_FROM) return plain;
  const found = siblings().filter((p) => {
    const name = p.slice(n.dir.length);
    return !name.includes('/') && !name.includes(CONFLICT_MARK) && name.length > n.stem.length + n.ext.length && name.startsWith(n.stem) && name.endsWith(n.ext);
  });
  return found.length === 1 ? found[0]! : null;
}

/**
 * The ordinary name a copy takes when both versions are kept: `stem (hub copy 20261125-120000).ext`,
 * with ` 2`, ` 3`... inside the parentheses while the name is taken, the stem shortened if the
 * name would pass NAME_MAX. Never a conflict copy's name.
 */
export function keptName(copy: string, taken: (p: string) => boolean): string {
  const n = parseCopyName(copy);
  if (!n) throw new Error(`not a conflict copy: ${copy}`);
  for (let i = 1; ; i++) {
    const tag = ` (${n.side} copy ${n.stamp}${i > 1 ? ` ${i}` : ''})`;
    let stem = n.stem;
    let ext = n.ext;
    const room = NAME_MAX - Buffer.byteLength(tag);
    if (Buffer.byteLength(stem) + Buffer.byteLength(ext) > room) {
      if (Buffer.byteLength(ext) >= room) ext = '';
      stem = utf8Prefix(stem, room - Buffer.byteLength(ext));
    }
    const name = `${n.dir}${stem}${tag}${ext}`;
    if (!taken(name)) return name;
  }
}

/** A step of a resolution in the mirror. */
export type ResolveStep =
  | { kind: 'delete'; path: string }
  /** Rename `from` to `to`; `replaces`: `to` holds a version that goes (else nothing may be there). */
  | { kind: 'move'; from: string; to: string; replaces: boolean };

export interface ResolveInput {
  copy: string;
  copyType: EntryType;
  /** The path the copy lost to (originalOf), or null. */
  original: string | null;
  /** What is recorded at the original path, if anything. */
  originalType: EntryType | null;
  keep: ConflictKeep;
  /** A mirror path in use (recorded, or queued): no copy is renamed onto it. */
  taken(p: string): boolean;
}

export type ResolvePlan = { steps: ResolveStep[]; result: string | null } | { refused: string };

/**
 * The steps to settle a conflict copy: keep the winner (the copy goes), keep the copy (it takes
 * the original's place), keep both (the copy takes an ordinary name, keptName). A directory is
 * never removed or replaced here: such a case is refused, with what to do instead.
 */
export function planResolution(i: ResolveInput): ResolvePlan {
  if (i.copyType === 'dir') return { refused: `${i.copy} is a directory, not a conflict copy the hub made: move or delete it by hand` };
  switch (i.keep) {
    case 'winner':
      return { steps: [{ kind: 'delete', path: i.copy }], result: i.originalType ? i.original : null };
    case 'copy':
      if (i.original === null) return { refused: `the path ${i.copy} lost to cannot be told (its name was shortened): keep both, then rename it by hand` };
      if (i.originalType === 'dir') return { refused: `${i.original} is a directory now: keep both instead, or move it by hand` };
      return { steps: [{ kind: 'move', from: i.copy, to: i.original, replaces: i.originalType !== null }], result: i.original };
    case 'both': {
      const to = keptName(i.copy, i.taken);
      return { steps: [{ kind: 'move', from: i.copy, to, replaces: false }], result: to };
    }
  }
}
