/**
 * Scanner: compares a tree on disk with the persistent hash cache and returns what changed.
 * A file whose size, mtime, inode and mode are unchanged is never read again.
 */
import path from 'node:path';
import { BLOCK_SIZE, symlinkHash } from './blocks';
import type { FsPool } from './fs-pool';
import type { HashResult, WalkItem, WalkResult } from './fs-protocol';
import { symlinkTargetProblem, wirePathProblem } from './paths';
import { PROBLEM_CODES, readProblem, underAny, type IgnoredPath, type PathProblem } from './problems';
import type { CachedEntry, Stamp } from './types';

export interface ScanOptions {
  root: string;
  pool: FsPool;
  /** Wire path of the subtree to rescan; '' for the whole tree. */
  subtree?: string;
  cached: (wirePath: string) => Stamp | undefined;
  /** Cached paths at or under the subtree (to find deletions). */
  knownUnder: (subtree: string) => Iterable<string>;
  ignore?: (wirePath: string) => boolean;
  /** The root ignores case: a subtree exists only under its exact name. */
  caseInsensitive?: boolean;
  /** Whether a mode on disk shows the cached one (default: equal; a hub mirror: modes.ts writtenAs). */
  sameMode?: (diskMode: number, cachedMode: number) => boolean;
  /**
   * When given, new and changed entries are handed over in pages as they are hashed (`take`,
   * one page at a time, in order) instead of in `updated` at the end: first the directories and
   * symlinks, then files as their hashing batches come back. Only for a scan that finds nothing
   * deleted (known before anything is hashed): every parent then is either unchanged or in the
   * first page, so each page can be applied as it comes. A scan that deletes something returns
   * everything at the end, as without `pages`. The event loop gets a turn after each page.
   * Each subtree of a scanAll decides alone: with several, what one deletes would come after
   * what another handed over (give pages to a scan of one subtree).
   */
  pages?: { take: (updated: CachedEntry[]) => void | Promise<void> };
  /**
   * (Not with `pages`: the hub's scans page, the node's hand over.) Takes new and changed entries while the scan runs, so that a scan of a big tree holds one
   * batch at a time, not every new entry: first the directories and symlinks found by the walk
   * (parents before children), then the hashed files in batches of at most HANDOVER_ENTRIES as
   * they are hashed. What it takes (returns true) is not in `updated`; once it refuses a batch
   * (false), that batch and everything after it are in `updated`, as without it.
   */
  handOver?: (entries: CachedEntry[]) => boolean;
  /** Resolves once `cached` and `knownUnder` can answer (an index loaded while the walk runs). */
  ready?: Promise<unknown>;
  /** Each directory the walk found (not one left out), with its mtime as the walk saw it. */
  dirSeen?: (wirePath: string, mtimeMs: number) => void;
}

/** Hashed files handed over at a time (ScanOptions.handOver). */
export const HANDOVER_ENTRIES = 1000;

export interface ScanResult {
  /** New or changed entries, freshly stamped and hashed (seq still 0). */
  updated: CachedEntry[];
  /** Paths in the cache that are gone from disk. */
  deleted: string[];
  /**
   * Paths that could not be read or carried (problems.ts): each keeps its previous cache entry,
   * and so does everything under it (an unreadable directory is not a deletion).
   */
  problems: PathProblem[];
  /** Special files (and symlinks leading outside the root): left out by design. */
  ignored: IgnoredPath[];
  /** Problems and ignored paths together, with their reasons, for a log line. */
  skipped: { path: string; reason: string }[];
  walked: number;
  hashedFiles: number;
  hashedBytes: number;
}

/** Pure: does this walked item differ from its cached stamp in a way that needs new work? */
export function stampChanged(item: WalkItem, cached: Stamp | undefined, sameMode: (diskMode: number, cachedMode: number) => boolean = (d, c) => d === c): boolean {
  if (!cached || cached.deleted || cached.type !== item.type) return true;
  switch (item.type) {
    case 'file':
      return cached.size !== item.size || cached.mtimeMs !== item.mtimeMs || cached.ino !== item.ino || !sameMode(item.mode, cached.mode);
    case 'dir':
      // A directory made anew at the same path (another inode) is a change too: commits and
      // deletions check a directory's identity (expect.ts), so a stale inode would block them.
      return cached.ino !== item.ino || !sameMode(item.mode, cached.mode);
    case 'symlink':
      return cached.target !== item.target;
  }
}

/**
 * Walks a subtree one directory under it per task, so that every worker of the pool helps (a
 * restart's verification of a big mirror is mostly this walk). Each part goes to `take` as it
 * comes back (the subtree's own level first, then each directory under it, in any order),
 * so that the caller compares a part while the workers still walk the others.
 */
async function walkTree(pool: FsPool, root: string, subtree: string, exactCase: boolean, take: (part: WalkResult) => void): Promise<void> {
  // A subtree too: a new tree of 20k files came back in one message that took the hub's
  // event loop tens of milliseconds to take in; one message per directory under it does not.
  const top = await pool.walk(root, subtree, true, subtree !== '' && exactCase);
  const dirs = top.items.filter((i) => i.type === 'dir' && i.path !== subtree);
  take({ ...top, items: top.items.filter((i) => i.type !== 'dir' || i.path === subtree) });
  await Promise.all(dirs.map(async (d) => take(await pool.walk(root, d.path))));
}

/**
 * Hub and node compare their whole tree with the index this often anyway (stat only): a safety
 * net for events the watcher lost (a full inotify queue, coalescing). CORTEX_RESCAN_MS overrides it.
 */
export const FULL_RESCAN_MS = Number(process.env.CORTEX_RESCAN_MS) > 0 ? Number(process.env.CORTEX_RESCAN_MS) : 15 * 60_000;

const MAX_HASH_ATTEMPTS = 3;
/** The compare loops hold the event loop at most about this long at a time. */
const SLICE_MS = 4;
const SMALL_FILE = 256 * 1024;
const BATCH_FILES = 256;
const BATCH_BYTES = 8 * 1024 * 1024;
/** A page (ScanOptions.pages) is handed over at this many files or bytes, or when hashing is done. */
const PAGE_FILES = 256;
const PAGE_BYTES = 32 * 1024 * 1024;
/**
 * Pages handed over and not yet taken, at most, before hashing waits for them: the hashing ran
 * ahead of the hub's recording, and a new tree of 100k files had ~23k hashed entries waiting
 * in pages at once (a third of the hub's live heap, which V8 then let grow to several times that).
 */
export const PAGES_AHEAD = 4;

/** Yields to the event loop when the current slice is over SLICE_MS. */
function slicer(): () => Promise<void> | undefined {
  let since = Date.now();
  let n = 0;
  return () => {
    if ((++n & 63) !== 0 || Date.now() - since < SLICE_MS) return undefined;
    return new Promise<void>((r) => setImmediate(() => { since = Date.now(); r(); }));
  };
}

/** Hash tasks (a batch of small files, or one bigger file) sent to the pool at a time. */
export const HASH_IN_FLIGHT = 8;

/** Runs the tasks in order, at most `limit` at a time. */
async function inFlight(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const runner = async () => {
    while (next < tasks.length) await tasks[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, runner));
}

/**
 * Scans each of `roots` (subtrees that do not overlap: paths.ts coveringRoots) one after the
 * other, and returns their results as one. Hub mirrors and node workspaces both scan this way.
 */
export async function scanAll(roots: string[], opts: Omit<ScanOptions, 'subtree'>): Promise<ScanResult> {
  const all: ScanResult = { updated: [], deleted: [], problems: [], ignored: [], skipped: [], walked: 0, hashedFiles: 0, hashedBytes: 0 };
  for (const subtree of roots) {
    const res = await scan({ ...opts, subtree });
    all.updated.push(...res.updated);
    all.deleted.push(...res.deleted);
    all.problems.push(...res.problems);
    all.ignored.push(...res.ignored);
    all.skipped.push(...res.skipped);
    all.walked += res.walked;
    all.hashedFiles += res.hashedFiles;
    all.hashedBytes += res.hashedBytes;
  }
  return all;
}

export async function scan(opts: ScanOptions): Promise<ScanResult> {
  const subtree = opts.subtree ?? '';
  const result: ScanResult = { updated: [], deleted: [], problems: [], ignored: [], skipped: [], walked: 0, hashedFiles: 0, hashedBytes: 0 };
  const walked: Omit<WalkResult, 'items'> = { problems: [], ignored: [] };
  const seen = new Set<string>();
  const toHash: WalkItem[] = [];
  const ignoredDirs: string[] = [];
  const excluded = (p: string) => opts.ignore?.(p) || ignoredDirs.some((d) => p.startsWith(`${d}/`));
  // Yield now and then: a 100k-entry compare should not hold the event loop in one go.
  const pause = slicer();
  const compare = async (items: WalkItem[]) => {
    result.walked += items.length;
    for (let i = 0; i < items.length; i++) {
      const due = pause();
      if (due) await due;
      const item = items[i]!;
      if (excluded(item.path)) {
        if (item.type === 'dir') ignoredDirs.push(item.path);
        continue;
      }
      if (item.type === 'dir') opts.dirSeen?.(item.path, item.mtimeMs);
      if (item.type === 'symlink') {
        const problem = symlinkTargetProblem(item.path, item.target);
        if (problem) {
          result.ignored.push({ path: item.path, kind: 'other', reason: problem });
          continue;
        }
      }
      seen.add(item.path);
      const cached = opts.cached(item.path);
      if (!stampChanged(item, cached, opts.sameMode)) continue;
      // On POSIX every name a walk returns is carried, but for a path past the wire's limits
      // (checked only for what is new: what is in the cache passed already).
      const unsafe = wirePathProblem(item.path);
      if (unsafe) {
        result.problems.push({ path: item.path, code: unsafe.includes('longer') ? PROBLEM_CODES.TOO_LONG : PROBLEM_CODES.BAD_NAME, reason: `the path cannot be synced: it ${unsafe}` });
        continue;
      }
      if (item.type === 'file') {
        toHash.push(item);
        continue;
      }
      result.updated.push({
        path: item.path, type: item.type, size: 0, mtimeMs: item.mtimeMs, mode: item.mode, ino: item.ino,
        hash: item.type === 'symlink' ? symlinkHash(item.target) : Buffer.alloc(0),
        blockSize: 0, blocks: Buffer.alloc(0), target: item.target, deleted: false, seq: 0,
      });
    }
  };
  // Each part of the walk is compared as it comes (once `cached` can answer), one after the
  // other in the order they came: the subtree's own level first, so a directory left out is
  // known before what is under it. (The whole walk first, then the compare, left the main
  // thread idle during the walk and the workers idle during the compare: ~0.3 s of a restart
  // at 100k files.)
  let comparing: Promise<unknown> = Promise.resolve(opts.ready);
  const next = (part: WalkResult) => {
    walked.problems.push(...part.problems);
    walked.ignored.push(...part.ignored);
    comparing = comparing.then(() => compare(part.items));
    comparing.catch(() => undefined); // (awaited below, after the walk; not unhandled meanwhile)
  };
  comparing.catch(() => undefined);
  await walkTree(opts.pool, opts.root, subtree, opts.caseInsensitive ?? false, next);
  await comparing;

  // Pages: only when nothing known is gone (then nothing must be deleted before what is new).
  let paged = false;
  if (opts.pages) {
    const kept = new Set([...result.problems, ...walked.problems.filter((p) => !excluded(p.path))].map((p) => p.path));
    paged = true;
    for (const p of opts.knownUnder(subtree)) {
      const due = pause();
      if (due) await due;
      if (seen.has(p)) continue;
      const cached = opts.cached(p);
      if (cached && !cached.deleted && !underAny(kept, p)) {
        paged = false;
        break;
      }
    }
  }
  /** Handed over and not yet in a page; the pages go one after the other. */
  let page: CachedEntry[] = [];
  let pageBytes = 0;
  let taking: Promise<void> = Promise.resolve();
  let takeFailed: { error: unknown } | null = null;
  /** Pages turned and not yet taken. */
  let pagesWaiting = 0;
  const turnPage = () => {
    if (page.length === 0) return taking;
    const full = page;
    page = [];
    pageBytes = 0;
    pagesWaiting++;
    taking = taking.then(async () => {
      if (takeFailed) return;
      await opts.pages!.take(full);
      await new Promise((r) => setImmediate(r));
    }).catch((error: unknown) => { takeFailed ??= { error }; }).finally(() => { pagesWaiting--; });
    return taking;
  };
  /** Hashing waits while more than PAGES_AHEAD pages wait to be taken. */
  const pagesTaken = async () => {
    while (paged && pagesWaiting > PAGES_AHEAD) await taking;
  };
  if (paged) {
    page = result.updated;
    result.updated = [];
    void turnPage();
  }
  // Directories and symlinks go first (the files' parents), then files in batches (handOver).
  let handing = opts.handOver !== undefined;
  const hand = (batch: CachedEntry[]): boolean => (handing &&= opts.handOver!(batch));
  if (result.updated.length > 0 && hand(result.updated)) result.updated = [];
  let hashed: CachedEntry[] = [];
  const handHashed = () => {
    const batch = hashed;
    hashed = [];
    if (!hand(batch)) result.updated.push(...batch);
  };
  const accept = (item: WalkItem, h: Extract<HashResult, { changed: false }>) => {
    result.hashedFiles++;
    result.hashedBytes += h.size;
    const e: CachedEntry = {
      path: item.path, type: 'file', size: h.size, mtimeMs: h.mtimeMs, mode: h.mode, ino: h.ino,
      hash: h.hash, blockSize: BLOCK_SIZE, blocks: h.blocks, weak: h.weak, target: '', deleted: false, seq: 0,
    };
    if (paged) {
      page.push(e);
      pageBytes += h.size;
      if (page.length >= PAGE_FILES || pageBytes >= PAGE_BYTES) void turnPage();
    } else if (handing) {
      hashed.push(e);
      if (hashed.length >= HANDOVER_ENTRIES) handHashed();
    } else {
      result.updated.push(e);
    }
  };
  const reject = (item: WalkItem, e: Error) => {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') seen.delete(item.path);
    else result.problems.push(readProblem(item.path, e));
  };
  const native = (item: WalkItem) => path.join(opts.root, ...item.path.split('/'));
  /** One file on its own, retried while it keeps changing under us. */
  const hashOne = async (item: WalkItem, attemptsLeft: number) => {
    for (let attempt = 0; attempt < attemptsLeft; attempt++) {
      let h: HashResult;
      try {
        h = await opts.pool.hash(native(item), BLOCK_SIZE, item.size);
      } catch (e) {
        reject(item, e as Error);
        return;
      }
      if (!h.changed) {
        accept(item, h);
        return;
      }
    }
    result.problems.push({ path: item.path, code: PROBLEM_CODES.CHANGING, reason: 'the file kept changing while it was read; it is read again at its next change' });
  };
  // Small files travel to the workers in batches: one message per batch, not per file.
  const small = toHash.filter((i) => i.size <= SMALL_FILE);
  const batches: WalkItem[][] = [];
  for (let i = 0, bytes = 0; i < small.length; i++) {
    if (batches.length === 0 || batches[batches.length - 1]!.length >= BATCH_FILES || bytes >= BATCH_BYTES) {
      batches.push([]);
      bytes = 0;
    }
    batches[batches.length - 1]!.push(small[i]!);
    bytes += small[i]!.size;
  }
  // A bounded number in flight: all at once, 100k files' paths, messages and results were
  // alive together while the workers got through them.
  await inFlight([
    ...toHash.filter((i) => i.size > SMALL_FILE).map((item) => async () => {
      await pagesTaken();
      await hashOne(item, MAX_HASH_ATTEMPTS);
    }),
    ...batches.map((batch) => async () => {
      await pagesTaken();
      const results = await opts.pool.hashMany(batch.map(native), BLOCK_SIZE);
      await Promise.all(results.map(async (h, i) => {
        const item = batch[i]!;
        if (h instanceof Error) reject(item, h);
        else if (h.changed) await hashOne(item, MAX_HASH_ATTEMPTS - 1);
        else accept(item, h);
      }));
    }),
  ], HASH_IN_FLIGHT);
  if (paged) {
    await turnPage();
    if (takeFailed) throw (takeFailed as { error: unknown }).error;
  }
  if (hashed.length > 0) handHashed();

  for (const p of walked.problems) if (!excluded(p.path)) result.problems.push(p);
  for (const x of walked.ignored) if (!excluded(x.path)) result.ignored.push(x);
  // What could not be read keeps its previous cache entry, and so does all it holds.
  const kept = new Set(result.problems.map((p) => p.path));
  for (const p of opts.knownUnder(subtree)) {
    if (seen.has(p)) continue;
    const cached = opts.cached(p);
    if (cached && !cached.deleted && !underAny(kept, p)) result.deleted.push(p);
  }
  result.skipped = [
    ...result.problems.map((p) => ({ path: p.path, reason: `${p.code}: ${p.reason}` })),
    ...result.ignored.map((x) => ({ path: x.path, reason: `ignored (${x.kind}): ${x.reason ?? ''}` })),
  ];
  return result;
}
