/**
 * The durability barrier of group commit (group-commit.ts): one call that makes everything
 * written to a file system stable, syncfs(2) on Linux, so a batch of staged files needs one
 * flush instead of one fsync each (Git's core.fsyncMethod=batch, a database's group commit).
 *
 * How syncfs is reached: coreutils' `sync -f DIR`, run by a small helper shell that each commit
 * worker starts once and talks to through two FIFOs (one line per barrier: the directory in,
 * the exit status out, with blocking calls, so only that worker waits). Chosen over an
 * N-API addon of our own, which would need a compiler at `npm ci`, the Electron ABI question
 * and electron-builder changes; and over spawnSync('sync') per barrier, measured here at ~190
 * MiB RSS: spawnSync cost ~4.9 ms of CPU in our process (fork of a large process) + ~5 ms in
 * the child per call, the helper 0.24 ms + 1.1 ms (a small shell forks `sync`), 7.5 ms wall
 * against 86 ms under a load average of 13. Per file, an fsync costs ~0.15-0.2 ms of CPU and
 * ~0.75 ms wall here, so a barrier pays from about eight files per batch (GROUP_MIN_FILES).
 *
 * Where there is no barrier (not Linux, no `sh`/`mkfifo`/`sync`, or it fails), group commit
 * falls back to per-file fsync and says so (group-commit.ts). Caveats: syncfs flushes the whole
 * file system (its cost grows with what other processes have dirty on it), and reports
 * write-back errors only since Linux 5.8 (coreutils then exits non-zero; before, an I/O error
 * can go unreported, as it can for an fsync whose error another process already consumed).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The command run with the directory appended; an argv (no shell of ours around it). */
export const SYNC_FS_COMMAND: readonly string[] = ['sync', '-f'];

/** Why no barrier can exist here at all (null: one may; try it). */
export function barrierUnsupported(platform: NodeJS.Platform = process.platform): string | null {
  return platform === 'linux' ? null : `syncfs(2) is Linux-only (this is ${platform})`;
}

/**
 * The helper: for each directory on its stdin, runs the command on it and answers one line on
 * its stdout, the exit status and the command's output. It ends when its stdin ends, which
 * happens when our process goes, however it goes (we hold the only writer).
 */
const HELPER = 'set -f; while IFS= read -r d; do r=$("$@" "$d" </dev/null 2>&1); s=$?; echo "$s" $r; done';

/** The barrier of one commit worker: its helper, started at the first call. */
export class SyncFsBarrier {
  private child: ChildProcess | null = null;
  private toHelper: number | null = null;
  private fromHelper: number | null = null;
  private readonly buf = Buffer.alloc(4096);

  /** `command`: run with the directory appended (SYNC_FS_COMMAND). */
  constructor(private readonly command: readonly string[] = SYNC_FS_COMMAND) {}

  /** The helper's process id, while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Flushes the file system holding `dir` (syncfs). Throws an Error saying why when it could
   * not; the next call starts a new helper if this one is gone.
   */
  sync(dir: string): void {
    const unsupported = barrierUnsupported();
    if (unsupported) throw new Error(unsupported);
    const abs = path.resolve(dir);
    if (abs.includes('\n')) throw new Error('a directory name with a newline cannot be passed to the barrier helper');
    let line: string;
    try {
      if (this.toHelper === null) this.start();
      fs.writeSync(this.toHelper!, `${abs}\n`);
      line = this.readLine();
    } catch (e) {
      this.close();
      throw e;
    }
    if (!line.startsWith('0 ') && line !== '0') throw new Error(`${this.command.join(' ')} ${abs}: exit ${line}`);
  }

  /** Ends the helper (it exits when its input closes). */
  close(): void {
    for (const fd of [this.toHelper, this.fromHelper]) if (fd !== null) fs.closeSync(fd);
    this.toHelper = this.fromHelper = null;
    this.child?.kill();
    this.child = null;
  }

  /**
   * Starts the helper on two FIFOs whose ends it inherits, so that nothing here can block on
   * an open and a helper never outlives us: its requests have one writer (ours, O_RDWR, so
   * opening it never waits), its answers one reader (ours: a read sees the end if it dies).
   */
  private start(): void {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-barrier-'));
    const theirs: number[] = [];
    try {
      const [requests, answers] = [path.join(dir, 'requests'), path.join(dir, 'answers')];
      const made = spawnSync('mkfifo', ['-m', '600', requests, answers], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
      if (made.error || made.status !== 0) throw new Error(`mkfifo: ${made.error?.message ?? made.stderr.trim()}`);
      // Linux: an O_RDWR open of a FIFO never waits; with it open, the other opens do not either.
      this.toHelper = fs.openSync(requests, fs.constants.O_RDWR);
      theirs.push(fs.openSync(requests, fs.constants.O_RDONLY));
      const hold = fs.openSync(answers, fs.constants.O_RDWR);
      try {
        theirs.push(fs.openSync(answers, fs.constants.O_WRONLY));
        this.fromHelper = fs.openSync(answers, fs.constants.O_RDONLY);
      } finally {
        fs.closeSync(hold);
      }
      const child = spawn('sh', ['-c', HELPER, 'sh', ...this.command], { stdio: [theirs[0]!, theirs[1]!, 'ignore'] });
      child.on('error', () => undefined);
      child.unref();
      this.child = child;
    } catch (e) {
      this.close();
      throw e;
    } finally {
      for (const fd of theirs) fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  private readLine(): string {
    let got = '';
    while (!got.endsWith('\n')) {
      const n = fs.readSync(this.fromHelper!, this.buf);
      if (n === 0) throw new Error('the barrier helper exited');
      got += this.buf.toString('utf8', 0, n);
    }
    return got.trim();
  }
}

/**
 * TEST ONLY: points inside a group commit where a test can make the committing process stop,
 * to SIGKILL it there (test/integration/group-commit-crash.test.ts). Documented here only.
 *
 *   CORTEX_TEST_PAUSE_AT=after-barrier   the batch's bytes are stable, nothing renamed yet
 *   CORTEX_TEST_PAUSE_AT=after-renames   the batch is renamed into place and the renames are
 *                                        stable; no promise resolved, nothing recorded or acknowledged
 *   CORTEX_TEST_PAUSE_FILE=PATH          written (JSON: point, files, pid) when the worker stops
 *
 * Only batches that take the group path (a barrier) stop; the worker then blocks for good.
 *
 * The hub's trash (hub/trash-service.ts) has its own points, on the main thread (the whole hub
 * stops there): `trash-before-rename` (a purge's entry recorded, its mirror not moved yet),
 * `trash-after-rename` (moved, not recorded as trashed yet), `trash-after-restore` (a
 * restore's mirror moved back, its entry not forgotten yet). `files`: the mirror's name.
 */
export type TestPausePoint = 'after-barrier' | 'after-renames' | 'trash-before-rename' | 'trash-after-rename' | 'trash-after-restore';

export function testPause(point: TestPausePoint, files: string[]): void {
  if (process.env.CORTEX_TEST_PAUSE_AT !== point) return;
  const marker = process.env.CORTEX_TEST_PAUSE_FILE;
  if (marker) fs.writeFileSync(marker, JSON.stringify({ point, files, pid: process.pid }));
  // Blocks this worker thread only (the rest of the process runs on) until it is killed.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}
