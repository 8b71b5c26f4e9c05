/**
 * Worker thread for the heavy file-system work of the sync core: walking a tree, hashing
 * files block by block, and committing small files (group-commit.ts). Runs synchronous calls
 * so it is fast, off the event loop of its parent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { BlockRange, HashResult, SearchRequest, ServeItem, ServeManyResult, WalkItem, WalkResult, WorkerOptions, WorkerRequest, WorkerResponse } from './fs-protocol';
import { badNameProblem, isValidUtf8, readProblem, specialKind, type IgnoredPath, type PathProblem } from './problems';
import { UnsafePathError } from './paths';
import { caseVariantSync } from './expect';
import { WEAK_LEN, blockWeak, findShifted, hasWeak, searchRanges } from './blocks';
import { GroupCommitter } from './group-commit';
import { SYNC_FS_COMMAND } from './barrier';
import { readFullySync } from './read-fully';
import { serveBlock } from './serve-block';
import type { CachedEntry } from './types';

function walk(root: string, subtree: string, shallow: boolean, exactCase = false): WalkResult {
  const items: WalkItem[] = [];
  const problems: PathProblem[] = [];
  const ignored: IgnoredPath[] = [];
  // One object per entry, and native paths joined by hand (the directory's once, then its
  // names appended): two objects and a path.join per entry made ~2.5x the user CPU of this walk
  // (100k files: 356-512 vs 149-188 ms, the system time the same).
  const visit = (wire: string, native: string, st: fs.Stats): boolean => {
    const mode = st.mode & 0o777;
    if (st.isFile()) items.push({ path: wire, type: 'file', size: st.size, mtimeMs: st.mtimeMs, mode, ino: st.ino, target: '' });
    else if (st.isDirectory()) { items.push({ path: wire, type: 'dir', size: 0, mtimeMs: st.mtimeMs, mode, ino: st.ino, target: '' }); return true; }
    else if (st.isSymbolicLink()) {
      try { items.push({ path: wire, type: 'symlink', size: 0, mtimeMs: st.mtimeMs, mode, ino: st.ino, target: fs.readlinkSync(native) }); }
      catch (e) { if (!gone(e)) problems.push(readProblem(wire, e)); }
    } else ignored.push({ path: wire, kind: specialKind(st), reason: 'not a regular file, directory or symlink' });
    return false;
  };
  const descend = (wireDir: string) => {
    const native = path.join(root, wireDir);
    const prefix = native.endsWith(path.sep) ? native : native + path.sep;
    let names: string[];
    try {
      names = fs.readdirSync(native);
    } catch (e) {
      if (!gone(e)) problems.push(readProblem(wireDir, e, 'dir'));
      return;
    }
    // A name that is not valid UTF-8 comes back with U+FFFD in place of its bad bytes (and no
    // such file exists): list the directory's raw names to tell the real ones from the bad.
    if (names.some((n) => n.includes('\uFFFD'))) names = goodNames(native, wireDir, problems);
    for (const name of names) {
      const wire = wireDir ? `${wireDir}/${name}` : name;
      const file = prefix + name;
      let st: fs.Stats;
      try {
        st = fs.lstatSync(file);
      } catch (e) {
        if (!gone(e)) problems.push(readProblem(wire, e));
        continue;
      }
      if (visit(wire, file, st) && !shallow) descend(wire);
    }
  };
  if (subtree) {
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(path.join(root, subtree));
    } catch (e) {
      if (!gone(e)) problems.push(readProblem(subtree, e));
    }
    // On a case-insensitive file system "README.md" finds "Readme.md": not this subtree.
    if (st && exactCase && caseVariantSync(root, subtree) !== null) st = undefined;
    if (st && visit(subtree, path.join(root, subtree), st)) descend(subtree);
  } else {
    descend('');
  }
  return { items, problems, ignored };
}

/** Gone between the listing and the look (or never a directory): nothing to report. */
function gone(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The names in a directory that are valid UTF-8; each other one is reported as a problem. */
function goodNames(native: string, wireDir: string, problems: PathProblem[]): string[] {
  const good: string[] = [];
  for (const raw of fs.readdirSync(native, { encoding: 'buffer' })) {
    if (isValidUtf8(raw)) {
      good.push(raw.toString('utf8'));
      continue;
    }
    const full = Buffer.concat([Buffer.from(`${native}${path.sep}`), raw]);
    const st = fs.lstatSync(full, { throwIfNoEntry: false });
    if (st) problems.push(badNameProblem(wireDir, raw, st.isDirectory()));
  }
  return good;
}

/**
 * One read buffer per worker, reused by every hash (hashing is synchronous): a new 4 MiB
 * buffer per file, even a 1 KiB one, left ~100 MiB of garbage buffers per worker while a node
 * hashed 100k small files.
 */
let scratch: Buffer | null = null;
function readBuffer(size: number): Buffer {
  if (scratch?.length !== size) scratch = Buffer.allocUnsafe(size);
  return scratch;
}

/**
 * SHA-256 (and weak hash) of each block of a file, or of the blocks in `range` only (then
 * `blocks`/`weak` hold just those and `hash` means nothing: the pool joins the parts).
 */
function hashFile(file: string, blockSize: number, range?: BlockRange): HashResult {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const before = fs.fstatSync(fd);
    if (!before.isFile()) throw new Error('not a regular file');
    const total = before.size === 0 ? 0 : Math.ceil(before.size / blockSize);
    const first = range ? Math.min(range.first, total) : 0;
    const n = range ? Math.min(range.count, total - first) : total;
    const end = Math.min(before.size, (first + n) * blockSize);
    const blocks = Buffer.alloc(n * 32);
    const weak = Buffer.alloc(hasWeak(before.size) ? n * WEAK_LEN : 0);
    const chunkBlocks = Math.max(1, Math.floor((4 * 1024 * 1024) / blockSize));
    const buf = readBuffer(chunkBlocks * blockSize);
    let pos = first * blockSize;
    let i = 0;
    while (pos < end) {
      const want = Math.min(buf.length, end - pos);
      const got = readFullySync(fd, buf, want, pos);
      if (got < want) return { changed: true };
      for (let off = 0; off < got; off += blockSize, i++) {
        const len = Math.min(blockSize, got - off);
        crypto.createHash('sha256').update(buf.subarray(off, off + len)).digest().copy(blocks, i * 32);
        if (weak.length) weak.writeUInt32BE(blockWeak(buf, off, len), i * WEAK_LEN);
      }
      pos += got;
    }
    const after = fs.fstatSync(fd);
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) return { changed: true };
    const hash = crypto.createHash('sha256').update(blocks).digest();
    return { changed: false, size: before.size, mtimeMs: before.mtimeMs, mode: before.mode & 0o777, ino: before.ino, hash, blocks, weak };
  } finally {
    fs.closeSync(fd);
  }
}

/** Small files' commits, one by one or as a group (group-commit.ts). */
const options = workerData as WorkerOptions | undefined;
const committer = new GroupCommitter(options ? options.barrierCommand : SYNC_FS_COMMAND);

/**
 * Looks for the wanted blocks in an old local version at any offset (blocks.ts findShifted).
 * Returns [block index, offset in the old file] pairs, each confirmed by SHA-256 when found.
 */
function search(r: SearchRequest): [number, number][] {
  const fd = fs.openSync(r.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return [];
    const old = {
      size: st.size,
      read(pos: number, len: number): Buffer {
        const buf = Buffer.allocUnsafe(len);
        return buf.subarray(0, readFullySync(fd, buf, len, pos));
      },
    };
    const want = { size: r.size, blockSize: r.blockSize, blocks: Buffer.from(r.blocks), weak: Buffer.from(r.weak) };
    const ranges = searchRanges(st.size, r.blockSize, Buffer.from(r.oldBlocks), want.blocks);
    return [...findShifted(old, want, (i) => r.need[i] === 1, ranges)];
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Blocks read as a block request is answered (serve-block.ts: only from a file that still has
 * its recorded size and mtime, never through a symlink), the parents of each directory checked
 * once per message.
 */
function serveMany(root: string, items: ServeItem[]): ServeManyResult {
  const dirsChecked = new Set<string>();
  const parts: Buffer[] = [];
  const out: ServeManyResult = { data: new Uint8Array(0), lengths: [], errors: [], changed: [] };
  items.forEach((it, i) => {
    const rec = it.rec ? { ...it.rec, type: 'file' as const, deleted: false } : undefined;
    const { res, changed } = serveBlock(root, { id: i, path: it.path, offset: it.offset, size: it.size, hash: Buffer.alloc(0) }, () => rec as CachedEntry | undefined, dirsChecked);
    if (changed) out.changed.push(i);
    out.errors.push(res.error);
    out.lengths.push(res.error ? 0 : res.data.length);
    if (!res.error) parts.push(res.data);
  });
  out.data = Buffer.concat(parts);
  return out;
}

parentPort!.on('message', (req: WorkerRequest) => {
  let res: WorkerResponse;
  try {
    if (req.op === 'walk') res = { id: req.id, ok: true, walk: walk(req.root, req.subtree, req.shallow, req.exactCase) };
    else if (req.op === 'search') res = { id: req.id, ok: true, found: search(req.search) };
    else if (req.op === 'hash') res = { id: req.id, ok: true, hash: hashFile(req.file, req.blockSize, req.range) };
    else if (req.op === 'hashMany') {
      res = {
        id: req.id, ok: true, many: req.files.map((f) => {
          try {
            return { ok: true as const, hash: hashFile(f, req.blockSize) };
          } catch (e) {
            return { ok: false as const, error: (e as Error).message, code: (e as NodeJS.ErrnoException).code };
          }
        }),
      };
    }
    else if (req.op === 'serveMany') res = { id: req.id, ok: true, served: serveMany(req.root, req.items) };
    else if (req.op === 'commitMany') {
      const { outcomes, notes } = committer.commit(req.commits);
      res = { id: req.id, ok: true, commits: outcomes, ...(notes.length > 0 ? { notes } : {}) };
    } else if (req.op === 'close') {
      committer.close();
      res = { id: req.id, ok: true };
    } else {
      const r = committer.commit([req.commit]).outcomes[0]!;
      res = r.ok ? { id: req.id, ok: true, commit: r.commit } : { id: req.id, ...r };
    }
  } catch (e) {
    res = { id: req.id, ok: false, error: (e as Error).message, code: (e as NodeJS.ErrnoException).code, unsafe: e instanceof UnsafePathError, variant: (e as { variant?: string }).variant };
  }
  const transfer: ArrayBuffer[] = [];
  if (res.ok && res.hash && !res.hash.changed) transfer.push(res.hash.blocks.buffer as ArrayBuffer, ...(res.hash.weak.length ? [res.hash.weak.buffer as ArrayBuffer] : []));
  if (res.ok && res.served && res.served.data.byteLength === res.served.data.buffer.byteLength) transfer.push(res.served.data.buffer as ArrayBuffer);
  parentPort!.postMessage(res, transfer);
});
