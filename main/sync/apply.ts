/**
 * Applying a peer's entries to a local root (a hub mirror or a node workspace), atomically.
 *
 * A new file version is assembled in a staging file created exclusively with mode 0600 in a
 * staging directory outside the root (same file system), each block verified against its
 * SHA-256 as it arrives or is copied, the whole file verified against its hash, then given its
 * final mode (in a hub mirror: per the mirror mode rule, modes.ts) and mtime through the open
 * fd, fsynced, renamed into place, and the directory fsynced. Small files are committed by a
 * worker, many at once as a group: one barrier instead of an fsync per file and directory
 * (group-commit.ts). Nothing is ever chmod'ed or chown'ed by path before the rename, and no
 * path under the root is written through a symlink (paths.ts).
 *
 * A little over 400 lines: the commit, the deletion and the directory and symlink steps share
 * the path checks and the staging rules above; apply-action.ts chooses between them.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { BLOCK_SIZE, HASH_LEN, WEAK_LEN, blockCount, blockHash, blockLength, fileHashFromBlocks, sha256 } from './blocks';
import type { FsPool } from './fs-pool';
import { checkNoSymlinkParents, ensureParents, toNative } from './paths';
import { CHANGED_CODE, CaseConflict, ChangedMeanwhile, caseVariantSync, stampMatches, type Expected } from './expect';
import type { CachedEntry, Entry } from './types';

export class VerifyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerifyError';
  }
}

export class AbortedError extends Error {
  constructor() {
    super('transfer superseded or cancelled');
    this.name = 'AbortedError';
  }
}

export interface BlockLocation {
  /** Absolute path of a local file that had this block when indexed. */
  file: string;
  offset: number;
}

export interface PullSource {
  /** Local places that may hold a block with this hash (verified before use). */
  findLocal(hash: Buffer): BlockLocation[];
  /** Fetches a block from the peer. */
  fetch(offset: number, size: number, hash: Buffer): Promise<Buffer>;
  /**
   * The local version this one replaces, if any: its file and its recorded block list (empty
   * when unknown). A large file's blocks not found by hash are looked for in it at any offset
   * (shifted content; blocks.ts findShifted), in a worker.
   */
  old?(): OldVersion | undefined;
}

/** The local version a new one replaces, as recorded when it was last hashed. */
export interface OldVersion {
  file: string;
  /** Its SHA-256 per BLOCK_SIZE block, as recorded (empty when unknown). */
  blocks: Buffer;
  /**
   * Its stamp when `blocks` was recorded. When given and the file still shows it (checked
   * before and after the copy), the blocks the new version has at the same offsets are
   * copied in the kernel without being read back (buildFromOld).
   */
  stamp?: { size: number; mtimeMs: number; ino: number };
}

export interface PullStats {
  fetchedBytes: number;
  reusedBytes: number;
  /** Of reusedBytes, those found at another offset of the old version (shifted content). */
  shiftedBytes?: number;
  /**
   * Of reusedBytes, those copied from the old version in the kernel (fs.copyFile, i.e.
   * copy_file_range or a reflink), trusted by its stamp rather than read and hashed.
   */
  copiedBytes?: number;
  /** Milliseconds spent building the staging file (blocks got and written) and in its fsync. */
  buildMs?: number;
  syncMs?: number;
}

export interface ApplyContext {
  root: string;
  stagingDir: string;
  /** When given, files of one block are committed in a worker thread in one message. */
  pool?: FsPool;
  /**
   * When given, the directory fsync after a rename is left to the caller (who must do it
   * before recording or acknowledging the change): one fsync per directory per batch.
   */
  deferDirSync?: (dir: string) => void;
  /**
   * When given, asked what to do with the staging file of a large file whose pull failed with
   * `error`: true keeps it (the caller now owns it, e.g. to reuse its verified blocks when the
   * same version is pulled again), false deletes it.
   */
  keepPartial?: (entry: Entry, staged: string, error: unknown) => boolean;
  /**
   * The root's file system ignores case (caseInsensitive()): a name that differs from one on
   * disk only in case is a CaseConflict rather than that file, and a deletion of a name that
   * is now on disk in another case deletes nothing.
   */
  caseInsensitive?: boolean;
  /**
   * When given, the mode an entry gets on disk for its mode (a hub mirror: the mirror mode
   * rule, modes.ts). The returned stamp then carries the entry's own mode, which is what the
   * index keeps; without it, the mode on disk.
   */
  diskMode?: (mode: number) => number;
}

/** Whether names in this directory ignore case (probed with a file created in it). */
export function caseInsensitive(dir: string): boolean {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const probe = path.join(dir, `CaseProbe-${crypto.randomBytes(6).toString('hex')}.tmp`);
  fs.writeFileSync(probe, '', { mode: 0o600 });
  try {
    return fs.existsSync(probe.replace('CaseProbe-', 'caseprobe-'));
  } finally {
    fs.rmSync(probe, { force: true });
  }
}

const FETCH_WINDOW = 16;
/** Files up to this size are assembled in memory and committed by a worker in one message. */
const IN_MEMORY_MAX = 1024 * 1024;

function tempName(stagingDir: string): string {
  return path.join(stagingDir, `${crypto.randomBytes(12).toString('hex')}.tmp`);
}

/** The mode to set on disk for an entry. */
function onDisk(ctx: ApplyContext, mode: number): number {
  return ctx.diskMode ? ctx.diskMode(mode) & 0o777 : mode & 0o777;
}

/** The mode to record for an entry now on disk with `diskMode`. */
function recorded(ctx: ApplyContext, entryMode: number, diskMode: number): number {
  return (ctx.diskMode ? entryMode : diskMode) & 0o777;
}

async function syncDirOf(ctx: ApplyContext, target: string): Promise<void> {
  if (ctx.deferDirSync) ctx.deferDirSync(path.dirname(target));
  else await fsyncDir(path.dirname(target));
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try { await fh.sync(); } finally { await fh.close(); }
}

/**
 * Throws ChangedMeanwhile unless `native` shows what the caller expects (undefined: no
 * expectation). Runs right before the rename or removal it guards.
 */
async function checkExpected(ctx: ApplyContext, native: string, wirePath: string, expected: Expected | undefined): Promise<fs.Stats | undefined> {
  const st = await fs.promises.lstat(native).catch(() => undefined);
  const variant = st && ctx.caseInsensitive ? caseVariantSync(ctx.root, wirePath) : null;
  if (variant !== null) throw new CaseConflict(wirePath, variant);
  if (expected !== undefined && !stampMatches(st, expected)) throw new ChangedMeanwhile(wirePath);
  return st;
}

/**
 * Removes whatever is at `native` without following symlinks. A directory only when it is
 * empty: whatever is still in it was not part of the decision (the peer deletes the children
 * it knows first), so it is never swept away with it; the caller decides again.
 */
async function removeAt(native: string, wirePath: string): Promise<void> {
  try {
    await fs.promises.rm(native, { force: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'ERR_FS_EISDIR') throw e;
    await fs.promises.rmdir(native).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST') throw new ChangedMeanwhile(wirePath);
      throw err;
    });
  }
}

/**
 * Creates something (`create`) at a fresh name in the staging directory, making the directory
 * only when it is missing (no check on the hot path).
 */
async function inStaging<T>(stagingDir: string, create: (tmp: string) => Promise<T>): Promise<{ tmp: string; made: T }> {
  const tmp = tempName(stagingDir);
  try {
    return { tmp, made: await create(tmp) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await fs.promises.mkdir(stagingDir, { recursive: true, mode: 0o700 });
    return { tmp, made: await create(tmp) };
  }
}

async function readExactly(fh: fs.promises.FileHandle, len: number, pos: number): Promise<Buffer | null> {
  const buf = Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
    if (bytesRead === 0) return null;
    got += bytesRead;
  }
  return buf;
}

/** Open handles of local files blocks are copied from, by path (null: could not open). */
type Readers = Map<string, Promise<fs.promises.FileHandle | null>>;

async function closeReaders(readers: Readers): Promise<void> {
  for (const r of readers.values()) await (await r)?.close().catch(() => undefined);
}

/** Reads a block from the first local place that still holds it (verified by hash). */
async function readLocalBlock(source: PullSource, readers: Readers, len: number, h: Buffer): Promise<Buffer | null> {
  for (const loc of source.findLocal(h)) {
    // The promise is shared, so parallel lanes never open (and leak) a second handle.
    let opening = readers.get(loc.file);
    if (opening === undefined) {
      opening = fs.promises.open(loc.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW).catch(() => null);
      readers.set(loc.file, opening);
    }
    const r = await opening;
    if (!r) continue;
    const data = await readExactly(r, len, loc.offset).catch(() => null);
    if (data && sha256(data).equals(h)) return data;
  }
  return null;
}

/** Gets one block, locally if possible, else from the peer; verified either way. */
async function getBlock(entry: Entry, i: number, source: PullSource, readers: Readers, signal?: AbortSignal, stats?: PullStats, places?: Places): Promise<Buffer> {
  const len = blockLength(entry.size, entry.blockSize, i);
  const h = blockHash(entry.blocks, i);
  const local = places ? await readAt(places.of[i]!, readers, len, h) : await readLocalBlock(source, readers, len, h);
  if (local) {
    if (stats) stats.reusedBytes += len;
    if (stats && places?.shifted.has(i)) stats.shiftedBytes = (stats.shiftedBytes ?? 0) + len;
    return local;
  }
  const data = await source.fetch(i * entry.blockSize, len, h);
  if (signal?.aborted) throw new AbortedError();
  if (data.length !== len) throw new VerifyError(`block ${i} of ${entry.path}: got ${data.length} bytes, expected ${len}`);
  if (!sha256(data).equals(h)) throw new VerifyError(`block ${i} of ${entry.path}: bytes do not match their hash`);
  if (stats) stats.fetchedBytes += len;
  return data;
}

function readAt(places: BlockLocation[], readers: Readers, len: number, h: Buffer): Promise<Buffer | null> {
  return readLocalBlock({ findLocal: () => places, fetch: () => Promise.reject(new Error('no fetch here')) }, readers, len, h);
}

/** The local places of every block of a file, looked up once; `shifted`: those the search found. */
interface Places {
  of: BlockLocation[][];
  shifted: Set<number>;
}

/** Blocks looked up per turn of the event loop (on the hub a lookup is a SQLite query). */
const LOOKUP_SLICE = 512;

/**
 * For a large file with an old local version and weak hashes: every block's local places, with
 * the blocks no place has by hash looked for in the old version at any offset (in a worker of
 * the pool; shifted content). Undefined when there is nothing to search (then each block is
 * looked up as it is needed). A failed search finds nothing: those blocks are fetched.
 */
async function findPlaces(ctx: ApplyContext, entry: Entry, source: PullSource): Promise<Places | undefined> {
  if (!ctx.pool || !source.old || !entry.weak?.length) return undefined;
  const n = blockCount(entry.size, entry.blockSize);
  if (entry.weak.length !== n * WEAK_LEN) return undefined;
  const old = source.old();
  if (!old) return undefined;
  const places: Places = { of: new Array<BlockLocation[]>(n), shifted: new Set() };
  const need = new Uint8Array(n);
  let missing = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % LOOKUP_SLICE === 0) await new Promise<void>((r) => setImmediate(r));
    places.of[i] = source.findLocal(blockHash(entry.blocks, i));
    if (places.of[i]!.length === 0) {
      need[i] = 1;
      missing++;
    }
  }
  if (missing === 0) return places;
  const found = await ctx.pool.search({ file: old.file, oldBlocks: old.blocks, size: entry.size, blockSize: entry.blockSize, blocks: entry.blocks, weak: entry.weak, need })
    .catch(() => new Map<number, number>());
  for (const [i, offset] of found) {
    places.of[i] = [{ file: old.file, offset }];
    places.shifted.add(i);
  }
  return places;
}

/** Runs `fn` for every block index, FETCH_WINDOW at a time; stops when `signal` aborts. */
async function forEachBlock(entry: Entry, signal: AbortSignal | undefined, fn: (i: number) => Promise<void>): Promise<void> {
  await forEachOf(Array.from({ length: blockCount(entry.size, entry.blockSize) }, (_, i) => i), signal, fn);
}

/** Runs `fn` for each of `indices`, FETCH_WINDOW at a time; stops when `signal` aborts. */
async function forEachOf(indices: number[], signal: AbortSignal | undefined, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < indices.length) {
      if (signal?.aborted) throw new AbortedError();
      await fn(indices[next++]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(FETCH_WINDOW, indices.length) }, lane));
  if (signal?.aborted) throw new AbortedError();
}

async function writeAt(fh: fs.promises.FileHandle, data: Buffer, pos: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await fh.write(data, written, data.length - written, pos + written);
    written += bytesWritten;
  }
}

/** Where an open fd can be reopened by path as the very same file (Linux). */
const FD_DIR = '/proc/self/fd';
const canReopenFds = process.platform === 'linux' && fs.existsSync(FD_DIR);

/**
 * Builds the staging file (`fh`, at `tmp`, empty) from the old version when most of the new
 * one is at the same offsets there: the old file is copied in the kernel (fs.copyFile:
 * copy_file_range, or a reflink where the file system has them; its bytes never pass through
 * JavaScript), then only the other blocks are got (fetched, or read from local places, each
 * verified by SHA-256) and written at their offsets, and the file cut to its size. The blocks
 * copied are not read back: they are trusted to be what the old version's record says because
 * the old file still shows the stamp it had when it was hashed, before the copy and after it
 * (the rule by which a restart does not re-hash a file either). The copy reads the file
 * opened here (through its fd), so a rename in the meantime cannot substitute another file.
 * The other blocks are fetched while the copy runs, each written once it is done.
 *
 * Returns false, with the staging file to be emptied and built the verified way, when there
 * is no recorded stamp, the old file does not show it (before or after), or too little of it
 * is in place; the blocks fetched meanwhile are then fetched again (rare: the old file changed
 * since it was recorded).
 */
async function buildFromOld(entry: Entry, source: PullSource, fh: fs.promises.FileHandle, tmp: string, readers: Readers, signal?: AbortSignal, stats?: PullStats): Promise<boolean> {
  if (!canReopenFds || !source.old || entry.blockSize !== BLOCK_SIZE) return false;
  const old = source.old();
  const stamp = old?.stamp;
  if (!old || !stamp) return false;
  const oldN = blockCount(stamp.size, BLOCK_SIZE);
  if (old.blocks.length !== oldN * HASH_LEN) return false;
  const n = blockCount(entry.size, entry.blockSize);
  const rest: number[] = [];
  let inPlace = 0;
  for (let i = 0; i < n; i++) {
    const len = blockLength(entry.size, entry.blockSize, i);
    if (i < oldN && blockLength(stamp.size, BLOCK_SIZE, i) === len && blockHash(old.blocks, i).equals(blockHash(entry.blocks, i))) inPlace += len;
    else rest.push(i);
  }
  // Mostly other content: copying the old file would write more than it saves.
  if (inPlace * 2 < entry.size) return false;
  const expected: Expected = { type: 'file', ...stamp };
  const src = await fs.promises.open(old.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW).catch(() => null);
  if (!src) return false;
  try {
    if (!stampMatches(await src.stat(), expected)) return false;
    const copy = fs.promises.copyFile(`${FD_DIR}/${src.fd}`, tmp, fs.constants.COPYFILE_FICLONE);
    copy.catch(() => undefined);
    try {
      await forEachOf(rest, signal, async (i) => {
        const data = await getBlock(entry, i, source, readers, signal, stats);
        await copy;
        await writeAt(fh, data, i * entry.blockSize);
      });
    } catch (e) {
      // The copy writes into the staging file: let it end before the file is kept or removed.
      await copy.catch(() => undefined);
      throw e;
    }
    await copy;
    await fh.truncate(entry.size);
    if (!stampMatches(await src.stat(), expected)) return false;
    if (stats) {
      stats.reusedBytes += inPlace;
      stats.copiedBytes = (stats.copiedBytes ?? 0) + inPlace;
    }
    return true;
  } finally {
    await src.close();
  }
}

/** Builds, verifies and commits a new version of a file. Returns the committed stamp. */
export async function pullFile(ctx: ApplyContext, entry: Entry, source: PullSource, signal?: AbortSignal, stats?: PullStats, expected?: Expected): Promise<CachedEntry> {
  if (!fileHashFromBlocks(entry.blocks).equals(entry.hash)) throw new VerifyError('file hash does not match its block list');
  if (ctx.pool && entry.size <= IN_MEMORY_MAX) return pullSmallFile(ctx, ctx.pool, entry, source, signal, stats, expected);
  await checkNoSymlinkParents(ctx.root, entry.path);
  const { tmp, made: fh } = await inStaging(ctx.stagingDir, (t) => fs.promises.open(t, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600));
  const readers: Readers = new Map();
  let committed = false;
  let failure: unknown = null;
  try {
    const t0 = Date.now();
    if (!(await buildFromOld(entry, source, fh, tmp, readers, signal, stats))) {
      await fh.truncate(0);
      const places = await findPlaces(ctx, entry, source);
      await forEachBlock(entry, signal, async (i) => {
        await writeAt(fh, await getBlock(entry, i, source, readers, signal, stats, places), i * entry.blockSize);
      });
    }
    await fh.chmod(onDisk(ctx, entry.mode));
    await fh.utimes(new Date(), new Date(entry.mtimeMs));
    const t1 = Date.now();
    await fh.sync();
    if (stats) {
      stats.buildMs = t1 - t0;
      stats.syncMs = Date.now() - t1;
    }
    const st = await fh.stat();
    if (st.size !== entry.size) throw new VerifyError(`assembled ${st.size} bytes, expected ${entry.size}`);
    await fh.close();
    await ensureParents(ctx.root, entry.path);
    const target = await checkNoSymlinkParents(ctx.root, entry.path);
    const existing = await checkExpected(ctx, target, entry.path, expected);
    if (existing?.isDirectory()) await removeAt(target, entry.path);
    if (signal?.aborted) throw new AbortedError();
    await fs.promises.rename(tmp, target);
    committed = true;
    await syncDirOf(ctx, target);
    return { ...entry, size: st.size, mtimeMs: st.mtimeMs, mode: recorded(ctx, entry.mode, st.mode), ino: st.ino, seq: entry.seq };
  } catch (e) {
    failure = e;
    throw e;
  } finally {
    await closeReaders(readers);
    if (!committed) {
      await fh.close().catch(() => undefined);
      if (!ctx.keepPartial?.(entry, tmp, failure)) await fs.promises.unlink(tmp).catch(() => undefined);
    }
  }
}

/**
 * A file of up to IN_MEMORY_MAX bytes: get and verify its blocks into one buffer, then a worker
 * commits it with synchronous calls in one message (far cheaper than a dozen promise round
 * trips per file on the event loop), with others queued meanwhile as one group commit.
 */
async function pullSmallFile(ctx: ApplyContext, pool: FsPool, entry: Entry, source: PullSource, signal?: AbortSignal, stats?: PullStats, expected?: Expected): Promise<CachedEntry> {
  const readers: Readers = new Map();
  // Its own ArrayBuffer, so it can be moved to the worker rather than copied.
  const data = new Uint8Array(new ArrayBuffer(entry.size));
  try {
    await forEachBlock(entry, signal, async (i) => {
      data.set(await getBlock(entry, i, source, readers, signal, stats), i * entry.blockSize);
    });
  } finally {
    await closeReaders(readers);
  }
  if (signal?.aborted) throw new AbortedError();
  const st = await pool.commit({ root: ctx.root, stagingDir: ctx.stagingDir, wirePath: entry.path, data, mode: onDisk(ctx, entry.mode), mtimeMs: entry.mtimeMs, syncDir: !ctx.deferDirSync, ...(expected !== undefined ? { expected } : {}), ...(ctx.caseInsensitive ? { caseInsensitive: true } : {}) })
    .catch((e: NodeJS.ErrnoException) => { throw e.code === CHANGED_CODE ? new ChangedMeanwhile(entry.path) : e; });
  if (st.size !== entry.size) throw new VerifyError(`assembled ${st.size} bytes, expected ${entry.size}`);
  // Committed as part of a group, its rename is durable already; else the caller's batch does it.
  if (!st.dirSynced) ctx.deferDirSync?.(path.dirname(toNative(ctx.root, entry.path)));
  return { ...entry, size: st.size, mtimeMs: st.mtimeMs, mode: recorded(ctx, entry.mode, st.mode), ino: st.ino };
}

/** Creates a directory (or fixes its mode). A file in the way is replaced. */
export async function applyDir(ctx: ApplyContext, entry: Entry, expected?: Expected): Promise<CachedEntry> {
  await ensureParents(ctx.root, entry.path);
  const target = await checkNoSymlinkParents(ctx.root, entry.path);
  // A directory that is already there is fine (a child's commit may have made it); a file or
  // symlink in the way is replaced only if it is what the caller last saw.
  const existing = await fs.promises.lstat(target).catch(() => undefined);
  if (existing && ctx.caseInsensitive) {
    const variant = caseVariantSync(ctx.root, entry.path);
    if (variant !== null) throw new CaseConflict(entry.path, variant);
  }
  if (existing && !existing.isDirectory()) {
    await checkExpected(ctx, target, entry.path, expected);
    await removeAt(target, entry.path);
  }
  if (!existing || !existing.isDirectory()) {
    // A concurrent commit of a child may create the directory between lstat and mkdir.
    await fs.promises.mkdir(target, { mode: 0o700 }).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST' || !(await fs.promises.lstat(target)).isDirectory()) throw e;
    });
  }
  const fh = await fs.promises.open(target, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  try {
    await fh.chmod(onDisk(ctx, entry.mode));
    const st = await fh.stat();
    return { ...entry, size: 0, mtimeMs: st.mtimeMs, mode: recorded(ctx, entry.mode, st.mode), ino: st.ino };
  } finally {
    await fh.close();
  }
}

/** Creates a symlink atomically (made in staging, renamed into place). */
export async function applySymlink(ctx: ApplyContext, entry: Entry, expected?: Expected): Promise<CachedEntry> {
  await ensureParents(ctx.root, entry.path);
  const target = await checkNoSymlinkParents(ctx.root, entry.path);
  const { tmp } = await inStaging(ctx.stagingDir, (t) => fs.promises.symlink(entry.target, t));
  try {
    const existing = await checkExpected(ctx, target, entry.path, expected);
    if (existing?.isDirectory()) await removeAt(target, entry.path);
    await fs.promises.rename(tmp, target);
  } catch (e) {
    await fs.promises.unlink(tmp).catch(() => undefined);
    throw e;
  }
  await syncDirOf(ctx, target);
  const st = await fs.promises.lstat(target);
  return { ...entry, size: 0, mtimeMs: st.mtimeMs, mode: entry.mode, ino: st.ino };
}

/** Removes a path (a directory only once it is empty; never following symlinks). */
export async function applyDelete(ctx: ApplyContext, wirePath: string, expected?: Expected): Promise<void> {
  const target = await checkNoSymlinkParents(ctx.root, wirePath);
  // Already gone is what a deletion wants (also when the name on disk is now another case of
  // it); anything else must be what the caller last saw.
  if (!(await fs.promises.lstat(target).catch(() => undefined))) return;
  if (ctx.caseInsensitive && caseVariantSync(ctx.root, wirePath) !== null) return;
  await checkExpected(ctx, target, wirePath, expected);
  await removeAt(target, wirePath);
}

/**
 * Moves what is at `from` to `to` inside the root (a conflict's losing version stepping
 * aside), only if `from` still shows `expected`. Returns the moved entry's new stamp.
 */
export async function applyMove(ctx: ApplyContext, from: CachedEntry, to: string, expected?: Expected): Promise<CachedEntry> {
  const source = await checkNoSymlinkParents(ctx.root, from.path);
  await ensureParents(ctx.root, to);
  const target = await checkNoSymlinkParents(ctx.root, to);
  const was = await checkExpected(ctx, source, from.path, expected);
  const there = await fs.promises.lstat(target).catch(() => null);
  // Where case is ignored, a case-only rename finds the file itself at the new name.
  if (there && !(ctx.caseInsensitive && was && there.ino === was.ino)) throw new ChangedMeanwhile(to);
  await fs.promises.rename(source, target);
  await syncDirOf(ctx, target);
  if (path.dirname(source) !== path.dirname(target)) await syncDirOf(ctx, source);
  const st = await fs.promises.lstat(target);
  return { ...from, path: to, mtimeMs: st.mtimeMs, ino: st.ino };
}

/** Same bytes, new mode and/or mtime: applied through an fd of the existing file. */
export async function applyMeta(ctx: ApplyContext, entry: Entry, expected?: Expected): Promise<CachedEntry> {
  const target = await checkNoSymlinkParents(ctx.root, entry.path);
  const fh = await fs.promises.open(target, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    if (expected !== undefined && !stampMatches(await fh.stat(), expected)) throw new ChangedMeanwhile(entry.path);
    await fh.chmod(onDisk(ctx, entry.mode));
    if (entry.type === 'file') await fh.utimes(new Date(), new Date(entry.mtimeMs));
    const st = await fh.stat();
    return { ...entry, size: st.isFile() ? st.size : 0, mtimeMs: st.mtimeMs, mode: recorded(ctx, entry.mode, st.mode), ino: st.ino };
  } finally {
    await fh.close();
  }
}

/** Removes leftovers of interrupted transfers. */
export async function clearStaging(stagingDir: string): Promise<number> {
  let removed = 0;
  for (const name of await fs.promises.readdir(stagingDir).catch(() => [] as string[])) {
    if (name.endsWith('.tmp')) {
      await fs.promises.rm(path.join(stagingDir, name), { force: true, recursive: true });
      removed++;
    }
  }
  return removed;
}

