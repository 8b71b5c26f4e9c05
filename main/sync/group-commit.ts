/**
 * Group commit of small, verified files (run by a commit worker, fs-worker.ts): a batch is made
 * durable with two barriers instead of an fsync per file and per directory.
 *
 *   1. stage: each file goes to an exclusive 0600 staging file: data, final mode and mtime
 *      through the fd (no fsync);
 *   2. barrier 1 (barrier.ts: syncfs of the staging file system): the batch's bytes are stable;
 *   3. per file, right before its rename, the checks of a single commit (safe parents, a name in
 *      another case, the expected stamp, an empty directory in the way), then the rename; a file
 *      that fails them fails alone, its staging file is removed;
 *   4. the renames are made stable: an fsync of each directory renamed into when there are at
 *      most DIR_FSYNC_MAX of them, else barrier 2 (syncfs of the root's file system);
 *   5. only then does the worker answer: callers record and acknowledge after their promise.
 *
 * A batch of fewer than GROUP_MIN_FILES files, or one where no barrier works, is made durable
 * file by file as before group commit: fsync of each file before its rename, and of each
 * directory renamed into (once per batch) when its commit asks for it (syncDir). Whether the
 * barrier works is learnt from the first one tried (on the staging directory): if it fails the
 * barrier is taken as unavailable for good (noted once, with the reason); a later failure makes
 * only that batch fall back (noted each time), and MAX_FAILURES in a row make it unavailable.
 * Data is never answered for before it was flushed one way or the other.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { BarrierNote, CommitOutcome, CommitRequest, CommitResult } from './fs-protocol';
import { UnsafePathError, ensureSafeParentsSync } from './paths';
import { CASE_CODE, CHANGED_CODE, caseVariantSync, stampMatches } from './expect';
import { SYNC_FS_COMMAND, SyncFsBarrier, barrierUnsupported, testPause } from './barrier';

/**
 * From this many files a batch takes the barrier: one `sync -f` (~6 ms, spawn included) against
 * an fsync per file (~0.75 ms each here; barrier.ts).
 */
export const GROUP_MIN_FILES = 8;
/** Up to this many directories renamed into are fsynced one by one; more take barrier 2. */
export const DIR_FSYNC_MAX = 8;
/** Barrier failures in a row after which it is taken as unavailable. */
const MAX_FAILURES = 3;

interface Staged {
  i: number;
  c: CommitRequest;
  tmp: string;
  fd: number | null;
  st: fs.Stats;
}

/** A commit's failure as the worker reports it. */
export function failureOf(e: unknown): Extract<CommitOutcome, { ok: false }> {
  return { ok: false, error: (e as Error).message, code: (e as NodeJS.ErrnoException).code, unsafe: e instanceof UnsafePathError, variant: (e as { variant?: string }).variant };
}

export class GroupCommitter {
  /** null: not tried yet; true: it works; a string: why there is none. */
  private barrier: true | string | null;
  private failures = 0;
  private readonly syncer: SyncFsBarrier | null;

  /** `command`: the barrier's argv, the directory appended (barrier.ts); null: none. */
  constructor(command: readonly string[] | null = SYNC_FS_COMMAND) {
    this.barrier = command === null ? 'no barrier configured' : barrierUnsupported();
    this.syncer = command === null ? null : new SyncFsBarrier(command);
  }

  /** Ends the barrier's helper process (a new one starts if needed). */
  close(): void {
    this.syncer?.close();
  }

  /** Why there is no barrier (null: there is one, or it was not tried yet). */
  get unavailable(): string | null {
    return typeof this.barrier === 'string' ? this.barrier : null;
  }

  /**
   * Commits a batch; one outcome per commit, in order, what to log about the barrier, and how
   * the batch was made durable (barrier: both barriers, or barrier 1 and directory fsyncs).
   */
  commit(commits: CommitRequest[]): { outcomes: CommitOutcome[]; notes: BarrierNote[]; way: 'barrier' | 'fsync' } {
    const notes: BarrierNote[] = [];
    const outcomes: CommitOutcome[] = new Array<CommitOutcome>(commits.length);
    let staged: Staged[] = [];
    let way: 'barrier' | 'fsync' = 'fsync';
    commits.forEach((c, i) => {
      try {
        staged.push(stage(c, i));
      } catch (e) {
        outcomes[i] = failureOf(e);
      }
    });
    const fail = (s: Staged, e: unknown) => {
      outcomes[s.i] = failureOf(e);
      if (s.fd !== null) fs.closeSync(s.fd);
      s.fd = null;
      fs.rmSync(s.tmp, { force: true });
    };
    try {
      let group = staged.length >= GROUP_MIN_FILES && typeof this.barrier !== 'string' && this.flush(staged, notes);
      if (group) way = 'barrier';
      if (!group) {
        for (const s of staged) {
          try {
            fs.fsyncSync(s.fd!);
          } catch (e) {
            fail(s, e);
          }
        }
        staged = staged.filter((s) => s.fd !== null);
      }
      for (const s of staged) {
        const fd = s.fd!;
        s.fd = null;
        fs.closeSync(fd);
      }
      if (group) testPause('after-barrier', staged.map((s) => s.c.wirePath));
      // Directories renamed into, each with the first commit that did (its root: barrier 2).
      const dirs = new Map<string, Staged[]>();
      const placed: Staged[] = [];
      for (const s of staged) {
        try {
          const { target, replacedDir } = place(s);
          outcomes[s.i] = { ok: true, commit: { size: s.st.size, mtimeMs: s.st.mtimeMs, mode: s.st.mode & 0o777, ino: s.st.ino, replacedDir, dirSynced: false } };
          placed.push(s);
          const dir = path.dirname(target);
          if (group || s.c.syncDir) dirs.set(dir, [...(dirs.get(dir) ?? []), s]);
        } catch (e) {
          fail(s, e);
        }
      }
      if (group && dirs.size > DIR_FSYNC_MAX) group = this.flushRenames(placed, notes);
      if (!group) way = 'fsync';
      if (!group || dirs.size <= DIR_FSYNC_MAX) {
        for (const [dir, in_] of dirs) {
          try {
            fsyncDir(dir);
          } catch (e) {
            // Renamed, but not known to be durable: not answered for as committed.
            for (const s of in_) outcomes[s.i] = failureOf(e);
          }
        }
      }
      for (const s of dirs.values()) for (const x of s) if (outcomes[x.i]!.ok) (outcomes[x.i] as { commit: CommitResult }).commit.dirSynced = true;
      if (group) testPause('after-renames', placed.map((s) => s.c.wirePath));
    } finally {
      for (const s of staged) {
        if (s.fd !== null) fs.closeSync(s.fd);
        if (!outcomes[s.i]?.ok) fs.rmSync(s.tmp, { force: true });
      }
    }
    return { outcomes, notes, way };
  }

  /** Barrier 1: syncfs of each file system the batch was staged on. False: flush file by file. */
  private flush(staged: Staged[], notes: BarrierNote[]): boolean {
    const byDev = new Map<number, string>();
    for (const s of staged) if (!byDev.has(s.st.dev)) byDev.set(s.st.dev, s.c.stagingDir);
    return this.run([...byDev.values()], staged.length, notes);
  }

  /** Barrier 2: syncfs of each file system renamed into. False: fsync the directories instead. */
  private flushRenames(placed: Staged[], notes: BarrierNote[]): boolean {
    const byDev = new Map<number, string>();
    for (const s of placed) if (!byDev.has(s.st.dev)) byDev.set(s.st.dev, s.c.root);
    return this.run([...byDev.values()], placed.length, notes);
  }

  private run(dirs: string[], files: number, notes: BarrierNote[]): boolean {
    try {
      for (const dir of dirs) this.syncer!.sync(dir);
      this.barrier = true;
      this.failures = 0;
      return true;
    } catch (e) {
      const reason = (e as Error).message;
      this.failures++;
      if (this.barrier === null || this.failures >= MAX_FAILURES) {
        this.barrier = reason;
        notes.push({ kind: 'unavailable', reason, files });
      } else {
        notes.push({ kind: 'failed', reason, files });
      }
      return false;
    }
  }
}

/** Step 1: an exclusive 0600 staging file with the data, final mode and mtime; left open. */
function stage(c: CommitRequest, i: number): Staged {
  const tmp = path.join(c.stagingDir, `${crypto.randomBytes(12).toString('hex')}.tmp`);
  const create = () => fs.openSync(tmp, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600);
  let fd: number;
  try {
    fd = create();
  } catch (e) {
    // The staging directory is made when missing, not checked on every commit.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    fs.mkdirSync(c.stagingDir, { recursive: true, mode: 0o700 });
    fd = create();
  }
  // Workers share the process's fd table: an fd is closed exactly once (fd set to null).
  try {
    let off = 0;
    while (off < c.data.length) off += fs.writeSync(fd, c.data, off, c.data.length - off, off);
    fs.fchmodSync(fd, c.mode & 0o777);
    fs.futimesSync(fd, new Date(), new Date(c.mtimeMs));
    return { i, c, tmp, fd, st: fs.fstatSync(fd) };
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Step 3: the per-file checks, right before the rename, then the rename. */
function place(s: Staged): { target: string; replacedDir: boolean } {
  const { c } = s;
  const target = ensureSafeParentsSync(c.root, c.wirePath);
  const existing = fs.lstatSync(target, { throwIfNoEntry: false });
  const variant = existing && c.caseInsensitive ? caseVariantSync(c.root, c.wirePath) : null;
  if (variant !== null) throw Object.assign(new Error(`${c.wirePath}: "${variant}" is there, and this file system ignores case`), { code: CASE_CODE, variant });
  if (c.expected !== undefined && !stampMatches(existing, c.expected)) {
    throw Object.assign(new Error(`${c.wirePath} changed on disk since it was last scanned`), { code: CHANGED_CODE });
  }
  const replacedDir = Boolean(existing?.isDirectory());
  if (replacedDir) {
    // Only an empty directory gives way (apply.ts removeAt): anything left in it was not decided on.
    try {
      fs.rmdirSync(target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw Object.assign(new Error(`${c.wirePath} is a directory that is not empty`), { code: CHANGED_CODE });
      throw e;
    }
  }
  fs.renameSync(s.tmp, target);
  return { target, replacedDir };
}

function fsyncDir(dir: string): void {
  const dfd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
}
