/**
 * Path safety, shared by hub and node.
 *
 * Wire paths are always relative, `/`-separated, NFC-agnostic byte strings. Anything that could
 * name a location outside a root is refused before it reaches the file system, and every
 * directory on the way to a target is checked with lstat so that a symlink planted inside a
 * root is never followed.
 */
import fs from 'node:fs';
import path from 'node:path';

export class UnsafePathError extends Error {
  constructor(readonly wirePath: string, reason: string) {
    super(`unsafe path ${JSON.stringify(wirePath)}: ${reason}`);
    this.name = 'UnsafePathError';
  }
}

const MAX_PATH_BYTES = 4096;
const MAX_SEGMENT_BYTES = 255;

/**
 * Returns null when `p` is a safe relative wire path that this platform's file systems can hold
 * as it is, else the reason it is not. On POSIX only `/` and NUL are special in a name, so a
 * backslash or a `C:` prefix are ordinary characters there; Windows reads them as a separator
 * and a drive (see hostNameProblem).
 */
export function wirePathProblem(p: string, platform: NodeJS.Platform = process.platform): string | null {
  return safePathProblem(p) ?? hostNameProblem(p, platform);
}

/** Why `p` could name a location outside a root on any platform (or is malformed), or null. */
export function safePathProblem(p: string): string | null {
  if (typeof p !== 'string' || p.length === 0) return 'empty path';
  if (p.includes('\0')) return 'contains a NUL byte';
  if (Buffer.byteLength(p) > MAX_PATH_BYTES) return 'longer than 4096 bytes';
  if (p.startsWith('/')) return 'is absolute';
  for (const seg of p.split('/')) {
    if (seg === '') return 'has an empty segment';
    if (seg === '.' || seg === '..') return `has a "${seg}" segment`;
    if (Buffer.byteLength(seg) > MAX_SEGMENT_BYTES) return 'has a segment longer than 255 bytes';
  }
  return null;
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])(\..*)?$/i;

/**
 * Why a name that is safe and legal on POSIX cannot be held by this platform's file systems
 * (Windows: separators, drive prefixes and streams, reserved characters and device names,
 * trailing dots and spaces), or null. Such a name is never refused as unsafe: it is a problem
 * of the side that cannot hold it.
 */
export function hostNameProblem(p: string, platform: NodeJS.Platform = process.platform): string | null {
  if (platform !== 'win32') return null;
  if (p.includes('\\')) return 'contains a backslash (a path separator on Windows)';
  if (/^[A-Za-z]:/.test(p)) return 'starts with a drive letter';
  for (const seg of p.split('/')) {
    const bad = /[<>:"|?*\x00-\x1f]/.exec(seg);
    if (bad) return `has a character Windows does not allow in a name (${JSON.stringify(bad[0])})`;
    if (/[ .]$/.test(seg)) return 'has a name that ends in a space or a dot (Windows drops them)';
    if (WINDOWS_RESERVED.test(seg)) return `has a name Windows reserves for a device (${JSON.stringify(seg)})`;
  }
  return null;
}

export function assertWirePath(p: string): string {
  const problem = wirePathProblem(p);
  if (problem) throw new UnsafePathError(p, problem);
  return p;
}

/** Wire path → native path under root (lexical; call `checkNoSymlinkParents` before writing). */
export function toNative(root: string, wirePath: string): string {
  assertWirePath(wirePath);
  const native = path.join(root, ...wirePath.split('/'));
  const rel = path.relative(root, native);
  if (outsideRoot(rel)) throw new UnsafePathError(wirePath, 'escapes the root');
  return native;
}

/**
 * A relative path (from path.relative) leads outside its base: ".." or "../…", or absolute.
 * Not merely a name that starts with two dots ("..hidden", "..\\x" on POSIX are names).
 */
export function outsideRoot(rel: string, sep: string = path.sep): boolean {
  return rel === '..' || rel.startsWith(`..${sep}`) || path.isAbsolute(rel);
}


/** The fewest subtrees covering all these wire paths ('' covers everything): what to rescan. */
export function coveringRoots(paths: string[]): string[] {
  // Sorted, a path comes after every directory it is under: a look at its own ancestors
  // (not at every root so far) tells whether one of them is already a root.
  const roots: string[] = [];
  const taken = new Set<string>();
  for (const p of [...new Set(paths)].sort()) {
    if (taken.has('') || taken.has(p) || ancestorsOf(p).some((a) => taken.has(a))) continue;
    roots.push(p);
    taken.add(p);
  }
  return roots;
}

/**
 * Subtrees to scan for these changed paths: where at least `perDir` of them share a parent
 * directory (not the root), that directory instead of each of them (one walk of it, rather
 * than a walk and a hash message per file: an agent writing thousands of files into one
 * directory). Scanning more than what changed is always right; the scan skips what did not.
 */
export function scanRoots(paths: string[], perDir: number): string[] {
  const byParent = new Map<string, number>();
  for (const p of paths) {
    const parent = parentWire(p);
    if (parent !== '') byParent.set(parent, (byParent.get(parent) ?? 0) + 1);
  }
  return coveringRoots(paths.map((p) => {
    const parent = parentWire(p);
    return parent !== '' && byParent.get(parent)! >= perDir ? parent : p;
  }));
}

/** The directories a wire path is in, nearest first ("a/b/c" → "a/b", "a"). */
export function ancestorsOf(wirePath: string): string[] {
  const out: string[] = [];
  for (let i = wirePath.lastIndexOf('/'); i > 0; i = wirePath.lastIndexOf('/', i - 1)) out.push(wirePath.slice(0, i));
  return out;
}

export function parentWire(wirePath: string): string {
  const i = wirePath.lastIndexOf('/');
  return i < 0 ? '' : wirePath.slice(0, i);
}

/**
 * Verifies that every existing ancestor directory of `wirePath` under `root` is a real
 * directory (not a symlink, not a file). Returns the native path. Missing ancestors are fine:
 * the caller creates them with `ensureParents`, which repeats the check as it goes.
 */
export async function checkNoSymlinkParents(root: string, wirePath: string): Promise<string> {
  const native = toNative(root, wirePath);
  const segs = wirePath.split('/');
  let cur = root;
  for (let i = 0; i < segs.length - 1; i++) {
    cur = path.join(cur, segs[i]!);
    const wireDir = segs.slice(0, i + 1).join('/');
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(cur);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return native;
      throw e;
    }
    if (st.isSymbolicLink()) throw new UnsafePathError(wirePath, `goes through the symlink ${wireDir}`);
    if (!st.isDirectory()) throw new UnsafePathError(wirePath, `${wireDir} is not a directory`);
  }
  return native;
}

/** Synchronous checkNoSymlinkParents (for reads served on the event loop). */
export function checkNoSymlinkParentsSync(root: string, wirePath: string): string {
  const native = toNative(root, wirePath);
  const segs = wirePath.split('/');
  let cur = root;
  for (let i = 0; i < segs.length - 1; i++) {
    cur = path.join(cur, segs[i]!);
    const st = fs.lstatSync(cur, { throwIfNoEntry: false });
    if (!st) return native;
    const wireDir = segs.slice(0, i + 1).join('/');
    if (st.isSymbolicLink()) throw new UnsafePathError(wirePath, `goes through the symlink ${wireDir}`);
    if (!st.isDirectory()) throw new UnsafePathError(wirePath, `${wireDir} is not a directory`);
  }
  return native;
}

/** mkdir -p for the parents of wirePath, refusing to pass through symlinks. */
export async function ensureParents(root: string, wirePath: string, mode = 0o755): Promise<void> {
  const segs = wirePath.split('/');
  let cur = root;
  for (let i = 0; i < segs.length - 1; i++) {
    cur = path.join(cur, segs[i]!);
    const wireDir = segs.slice(0, i + 1).join('/');
    try {
      await fs.promises.mkdir(cur, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const st = await fs.promises.lstat(cur);
      if (!st.isDirectory()) throw new UnsafePathError(wirePath, `${wireDir} is not a directory`);
    }
  }
}

/** Synchronous twin of checkNoSymlinkParents + ensureParents, for worker threads. */
export function ensureSafeParentsSync(root: string, wirePath: string, mode = 0o755): string {
  const native = toNative(root, wirePath);
  const segs = wirePath.split('/');
  let cur = root;
  for (let i = 0; i < segs.length - 1; i++) {
    cur = path.join(cur, segs[i]!);
    let st = fs.lstatSync(cur, { throwIfNoEntry: false });
    if (!st) {
      try {
        fs.mkdirSync(cur, { mode });
        continue;
      } catch (e) {
        // Another worker (or a mkdir entry) made it between our lstat and mkdir: check what it is.
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        st = fs.lstatSync(cur);
      }
    }
    const wireDir = segs.slice(0, i + 1).join('/');
    if (st.isSymbolicLink()) throw new UnsafePathError(wirePath, `goes through the symlink ${wireDir}`);
    if (!st.isDirectory()) throw new UnsafePathError(wirePath, `${wireDir} is not a directory`);
  }
  return native;
}

/**
 * A symlink is synced only when its target is relative and, resolved lexically from the
 * link's own directory, stays inside the root. Anything else is skipped with a warning.
 */
export function symlinkTargetProblem(linkWirePath: string, target: string, platform: NodeJS.Platform = process.platform): string | null {
  if (target.length === 0) return 'empty symlink target';
  if (target.includes('\0')) return 'symlink target contains a NUL byte';
  // On POSIX a backslash or "C:" is part of a name; on Windows they make the target absolute.
  if (target.startsWith('/') || (platform === 'win32' && (target.includes('\\') || /^[A-Za-z]:/.test(target)))) return 'symlink target is absolute';
  // Lexical checks are not enough once links chain: "a -> sub/b/.." escapes if sub/b is itself
  // a link to "..". So ".." may only lead the target (climbing real directories, since nothing
  // is ever created through a symlink), never follow a name that could be a link.
  const segs = target.split('/').filter((x) => x !== '' && x !== '.');
  let up = 0;
  while (up < segs.length && segs[up] === '..') up++;
  if (segs.slice(up).includes('..')) return 'symlink target has ".." after a name (it could escape through another symlink)';
  const parent = parentWire(linkWirePath);
  const depth = parent === '' ? 0 : parent.split('/').length;
  if (up > depth) return 'symlink target points outside the root';
  return null;
}
