/**
 * Paths a side cannot send (problems) and paths it leaves out by design (ignored), shared by
 * the scanner, the node that reports them and the hub that lists them. Pure: no disk, no network.
 *
 * Nothing a scan finds is skipped in silence: every path is either sent, a problem (with a
 * code and a reason a person understands) or ignored (special files).
 */

/** Codes of the problems a scan reports. */
export const PROBLEM_CODES = {
  /** Permission denied reading a file or listing a directory (EACCES, EPERM). */
  UNREADABLE: 'UNREADABLE',
  /** The name cannot be carried: not valid UTF-8. */
  BAD_NAME: 'BAD_NAME',
  /** The path is longer than a wire path may be (4096 bytes). */
  TOO_LONG: 'TOO_LONG',
  /** The file kept changing while it was read; it is read again at its next change and retried. */
  CHANGING: 'CHANGING',
  /** Any other error reading it (EIO, ...). */
  IO_ERROR: 'IO_ERROR',
  /** The node's own state dir is full: changes cannot be recorded (path ''). */
  NODE_DISK_FULL: 'NODE_DISK_FULL',
} as const;

export interface PathProblem {
  /** Wire path; for a name that is not valid UTF-8, its bytes escaped (escapeName). '' for the node itself. */
  path: string;
  code: string;
  reason: string;
}

export const IGNORED_KINDS = ['fifo', 'socket', 'device', 'other'] as const;
export type IgnoredKind = (typeof IGNORED_KINDS)[number];

export interface IgnoredPath {
  path: string;
  kind: IgnoredKind;
  /** Why, for the log (not sent). */
  reason?: string;
}

/**
 * Problems that wait for nothing but time: they clear by themselves at a later scan, so they
 * do not put a node in `error` (it shows `syncing`). Every other code needs someone to act.
 */
const TRANSIENT = new Set<string>([PROBLEM_CODES.CHANGING]);

export function needsOperator(code: string): boolean {
  return !TRANSIENT.has(code);
}

/** Problems worth looking at again on their own (a later scan may find them gone). */
const RETRIED = new Set<string>([PROBLEM_CODES.UNREADABLE, PROBLEM_CODES.CHANGING, PROBLEM_CODES.IO_ERROR]);

export function retried(code: string): boolean {
  return RETRIED.has(code);
}

/** A file-system error while reading `path`, as a problem. */
export function readProblem(path: string, e: unknown, what: 'file' | 'dir' = 'file'): PathProblem {
  const err = e as NodeJS.ErrnoException;
  const code = err?.code;
  if (code === 'EACCES' || code === 'EPERM') {
    return { path, code: PROBLEM_CODES.UNREADABLE, reason: what === 'dir' ? 'permission denied listing this directory: nothing in it is synced' : 'permission denied reading it' };
  }
  if (code === 'ENAMETOOLONG') return { path, code: PROBLEM_CODES.TOO_LONG, reason: 'the path is too long for this file system' };
  return { path, code: PROBLEM_CODES.IO_ERROR, reason: `${code ? `${code}: ` : ''}${String(err?.message ?? e).replace(/^[^:]*: /, '')}` };
}

/** What kind of special file a stat describes. */
export function specialKind(st: { isFIFO(): boolean; isSocket(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean }): IgnoredKind {
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'device';
  return 'other';
}

/** Length of the well-formed UTF-8 sequence at buf[i], or 0 (RFC 3629: no overlongs, no surrogates). */
function utf8Length(buf: Uint8Array, i: number): number {
  const b0 = buf[i]!;
  const cont = (j: number, lo = 0x80, hi = 0xbf) => j < buf.length && buf[j]! >= lo && buf[j]! <= hi;
  if (b0 < 0x80) return 1;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const [lo, hi] = b0 === 0xe0 ? [0xa0, 0xbf] : b0 === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const [lo, hi] = b0 === 0xf0 ? [0x90, 0xbf] : b0 === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

export function isValidUtf8(buf: Uint8Array): boolean {
  for (let i = 0; i < buf.length;) {
    const n = utf8Length(buf, i);
    if (n === 0) return false;
    i += n;
  }
  return true;
}

/**
 * A lossless, readable display of a name's raw bytes: well-formed UTF-8 as text, every other
 * byte (and `%` itself) as %XX. `b"caf\xe9.txt"` → `caf%E9.txt`.
 */
export function escapeName(buf: Uint8Array): string {
  let out = '';
  for (let i = 0; i < buf.length;) {
    const n = utf8Length(buf, i);
    if (n === 0 || buf[i] === 0x25) {
      out += `%${buf[i]!.toString(16).toUpperCase().padStart(2, '0')}`;
      i++;
    } else {
      out += Buffer.from(buf.subarray(i, i + n)).toString('utf8');
      i += n;
    }
  }
  return out;
}

/** The problem for a name that is not valid UTF-8, in directory `wireDir`. */
export function badNameProblem(wireDir: string, raw: Uint8Array, isDir: boolean): PathProblem {
  const shown = escapeName(raw);
  return {
    path: wireDir ? `${wireDir}/${shown}` : shown,
    code: PROBLEM_CODES.BAD_NAME,
    reason: `name is not valid UTF-8 (shown with its bytes escaped as %XX); rename it to sync it${isDir ? ' and what it holds' : ''}`,
  };
}

/** `subtree` ('' = everything) is, or contains, `p`. The node's own problems (path '') are only under ''. */
export function covers(subtree: string, p: string): boolean {
  return subtree === '' || p === subtree || p.startsWith(`${subtree}/`);
}

/** `p` is at or under one of `roots` (a set of paths). */
export function underAny(roots: ReadonlySet<string>, p: string): boolean {
  if (roots.size === 0) return false;
  if (roots.has(p) || roots.has('')) return true;
  for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) if (roots.has(p.slice(0, i))) return true;
  return false;
}

/**
 * A watcher reports a name that is not valid UTF-8 with U+FFFD in place of the bad bytes: no
 * such path exists. The directory that holds it is what must be scanned to find it.
 */
export function scannablePath(wire: string): string {
  const i = wire.indexOf('\uFFFD');
  if (i < 0) return wire;
  const slash = wire.lastIndexOf('/', i);
  return slash < 0 ? '' : wire.slice(0, slash);
}

/**
 * What a side currently knows it cannot send, by path: updated scan by scan (a scan of a
 * subtree replaces what was known at or under it).
 */
export class PathReports {
  readonly problems = new Map<string, PathProblem>();
  readonly ignored = new Map<string, IgnoredPath>();

  /** Replaces everything at or under these subtrees; returns whether anything changed. */
  replace(subtrees: string[], problems: PathProblem[], ignored: IgnoredPath[]): boolean {
    const before = this.fingerprint(subtrees);
    const roots = new Set(subtrees);
    for (const m of [this.problems, this.ignored] as Map<string, unknown>[]) {
      for (const p of [...m.keys()]) if (underAny(roots, p)) m.delete(p);
    }
    for (const p of problems) this.problems.set(p.path, p);
    for (const i of ignored) this.ignored.set(i.path, i);
    return before !== this.fingerprint(subtrees);
  }

  /** Everything at or under these subtrees. */
  under(subtrees: string[]): { problems: PathProblem[]; ignored: IgnoredPath[] } {
    const roots = new Set(subtrees);
    const inside = (p: string) => underAny(roots, p);
    return {
      problems: [...this.problems.values()].filter((p) => inside(p.path)),
      ignored: [...this.ignored.values()].filter((i) => inside(i.path)),
    };
  }

  private fingerprint(subtrees: string[]): string {
    const u = this.under(subtrees);
    return JSON.stringify([u.problems.map((p) => [p.path, p.code, p.reason]).sort(), u.ignored.map((i) => [i.path, i.kind]).sort()]);
  }
}

// ---- failures to apply a change (hub into a mirror, node into its workspace) ----------------

/** What a person reads for an errno, and whether trying again can help by itself. */
const ERRNO: Record<string, { code: string; reason: string; retry: boolean }> = {
  ENOSPC: { code: 'DISK_FULL', reason: 'no space left on the device', retry: true },
  EDQUOT: { code: 'DISK_FULL', reason: 'disk quota exceeded', retry: true },
  EACCES: { code: 'PERMISSION_DENIED', reason: 'permission denied', retry: true },
  EPERM: { code: 'PERMISSION_DENIED', reason: 'operation not permitted', retry: true },
  EROFS: { code: 'READ_ONLY', reason: 'the file system is read-only', retry: true },
  EIO: { code: 'IO_ERROR', reason: 'input/output error', retry: true },
  EMFILE: { code: 'TOO_MANY_FILES', reason: 'too many open files', retry: true },
  ENFILE: { code: 'TOO_MANY_FILES', reason: 'too many open files in the system', retry: true },
  ENAMETOOLONG: { code: 'NAME_TOO_LONG', reason: 'the name is too long for this file system', retry: false },
  EILSEQ: { code: 'BAD_NAME', reason: 'the file system cannot hold this name', retry: false },
};

/** Classifies an errno failure (undefined: not an errno). `where` names the side: "the hub's disk". */
export function errnoProblem(err: unknown, where: string): { code: string; reason: string; retry: boolean } | undefined {
  const errno = (err as NodeJS.ErrnoException | null)?.code;
  const known = errno ? ERRNO[errno] : undefined;
  if (!known) return undefined;
  return { code: known.code, reason: `${where}: ${known.reason} (${(err as Error).message})`, retry: known.retry };
}
