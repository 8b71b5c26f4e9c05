/**
 * Three-way reconcile of one path between a node's workspace and its mirror on the hub, against
 * the last version both agreed on (the ancestor). Pure: no I/O, no clock; the callers gather
 * the three versions and carry out the decision.
 *
 * Rules, in order:
 *  1. Both sides the same: nothing to do (or only record the new agreement).
 *  2. One side unchanged since the ancestor: the other side's change goes to it (a creation,
 *     a modification or a deletion alike).
 *  3. Both changed, differently:
 *     - one deleted it, the other modified it: the modification is kept (never lose data);
 *     - a directory against a file or symlink: the directory stays, the other becomes a
 *       conflict copy;
 *     - otherwise (two contents, or two modes of one content): the newer mtime wins, a tie goes
 *       to the greater content hash, then to the hub, so both ends would decide alike; the
 *       losing content is kept as a conflict copy (not when only the mode differs).
 */

export type Side = 'node' | 'hub';

/** One version of a path; null is "absent". Only what the decision needs. */
export interface Version {
  type: 'file' | 'dir' | 'symlink';
  /** Content hash (files; any stable encoding); ignored for directories. */
  hash: string;
  /** Permission bits. */
  mode: number;
  mtimeMs: number;
  /** Symlink target; '' otherwise. */
  target: string;
}

export type Decision =
  /** Both sides equal the ancestor. */
  | { kind: 'none' }
  /** Both sides changed to the same version: record it as the new ancestor. */
  | { kind: 'agree' }
  /** Apply the node's version (possibly a deletion) to the hub. */
  | { kind: 'toHub' }
  /** Apply the hub's version (possibly a deletion) to the node. */
  | { kind: 'toNode' }
  /** Both changed: `winner`'s version goes to both sides; the loser's is kept beside it under a conflict name when `copyLoser`. */
  | { kind: 'conflict'; winner: Side; copyLoser: boolean };

/** An index entry as a reconcile version (null for absent or deleted). */
export function versionOf(e: { type: Version['type']; hash: Buffer; mode: number; mtimeMs: number; target: string; deleted?: boolean } | null | undefined): Version | null {
  if (!e || e.deleted) return null;
  return { type: e.type, hash: e.type === 'file' ? e.hash.toString('hex') : '', mode: e.mode & 0o777, mtimeMs: e.mtimeMs, target: e.type === 'symlink' ? e.target : '' };
}

export function sameVersion(a: Version | null, b: Version | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.type !== b.type || a.mode !== b.mode) return false;
  if (a.type === 'file') return a.hash === b.hash;
  if (a.type === 'symlink') return a.target === b.target;
  return true;
}

function sameContent(a: Version, b: Version): boolean {
  return a.type === b.type && (a.type === 'file' ? a.hash === b.hash : a.type === 'symlink' ? a.target === b.target : true);
}

export function reconcile(ancestor: Version | null, node: Version | null, hub: Version | null): Decision {
  if (sameVersion(node, hub)) return sameVersion(node, ancestor) ? { kind: 'none' } : { kind: 'agree' };
  if (sameVersion(node, ancestor)) return { kind: 'toNode' };
  if (sameVersion(hub, ancestor)) return { kind: 'toHub' };
  // Both changed, differently.
  if (node === null) return { kind: 'toNode' };
  if (hub === null) return { kind: 'toHub' };
  if ((node.type === 'dir') !== (hub.type === 'dir')) {
    return { kind: 'conflict', winner: node.type === 'dir' ? 'node' : 'hub', copyLoser: true };
  }
  return { kind: 'conflict', winner: newer(node, hub), copyLoser: !sameContent(node, hub) };
}

/** The side whose version wins a conflict between two non-directories (or two directory modes). */
function newer(node: Version, hub: Version): Side {
  if (node.mtimeMs !== hub.mtimeMs) return node.mtimeMs > hub.mtimeMs ? 'node' : 'hub';
  const a = node.type === 'symlink' ? node.target : node.hash;
  const b = hub.type === 'symlink' ? hub.target : hub.hash;
  if (a !== b) return a > b ? 'node' : 'hub';
  return 'hub';
}

export const CONFLICT_MARK = '.sync-conflict-';

/** Longest name (path segment) in bytes that file systems hold (NAME_MAX; paths.ts refuses longer ones). */
const NAME_MAX = 255;

/**
 * Where the losing version of `wirePath` is kept: beside it, as
 * `name.sync-conflict-YYYYMMDD-HHMMSS-<side>.ext` (UTC; the extension is the last one of the
 * name, none for dotfiles like `.env`).
 *
 * The copy's name fits in NAME_MAX bytes: a longer one is shortened by cutting the end of the
 * stem (at a character boundary, never inside a multi-byte UTF-8 character). The marker stays
 * whole, so the copy is still recognised as one (isConflictCopy), and so does the extension
 * unless it leaves no room for the stem, when it is cut along with the rest of the name.
 */
export function conflictName(wirePath: string, loser: Side, at: Date): string {
  const slash = wirePath.lastIndexOf('/');
  const dir = wirePath.slice(0, slash + 1);
  const base = wirePath.slice(slash + 1);
  const dot = base.lastIndexOf('.');
  let [stem, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ''];
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${at.getUTCFullYear()}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}-${p(at.getUTCHours())}${p(at.getUTCMinutes())}${p(at.getUTCSeconds())}`;
  const marker = `${CONFLICT_MARK}${stamp}-${loser}`;
  const room = NAME_MAX - Buffer.byteLength(marker);
  if (Buffer.byteLength(stem) + Buffer.byteLength(ext) > room) {
    // The extension stays if the stem keeps at least its first character beside it.
    const first = String.fromCodePoint(stem.codePointAt(0)!);
    if (Buffer.byteLength(first) + Buffer.byteLength(ext) > room) [stem, ext] = [base, ''];
    stem = utf8Prefix(stem, room - Buffer.byteLength(ext));
  }
  return `${dir}${stem}${marker}${ext}`;
}

/** The longest prefix of `s` of at most `maxBytes` UTF-8 bytes that ends on a character boundary. */
export function utf8Prefix(s: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    bytes += Buffer.byteLength(ch);
    if (bytes > maxBytes) break;
    end += ch.length;
  }
  return s.slice(0, end);
}

/** Whether a path is a conflict copy (they sync like any file, but are counted and listed). */
export function isConflictCopy(wirePath: string): boolean {
  return /\.sync-conflict-\d{8}-\d{6}-(node|hub)(\.[^/.]*)?$/.test(wirePath);
}
