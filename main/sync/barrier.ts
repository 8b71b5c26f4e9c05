/**
 * The durability barrier of group commit (group-commit.ts): one call that makes everything
 * written to a file system stable, syncfs(2) on Linux, so a batch of staged files needs one
 * flush instead of one fsync each (Git's core.fsyncMethod=batch, a database's group commit).
 *
 * How syncfs is reached: by running coreutils' `sync -f DIR` (spawnSync, from a commit worker
 * thread, so only that worker waits). Chosen over an N-API addon of our own because it needs no
 * compiler at `npm ci`, no rebuild for Electron's ABI and no electron-builder change, and its
 * cost is paid once per batch: ~6 ms per call here (fork + exec + the flush; 8-13 ms under
 * load, bench/durability.mjs), against ~0.75 ms per fsync, so it wins from about eight files
 * per batch (GROUP_MIN_FILES) and below that the batch is flushed file by file. An addon would
 * bring the call down to the flush itself; worth it only if spawning shows up in a profile.
 *
 * Where there is no barrier (not Linux, no `sync`, or it fails), group commit falls back to
 * today's per-file fsync and says so (group-commit.ts). Caveats: syncfs flushes the whole file
 * system (its cost grows with what others have dirty), and reports write-back errors only since
 * Linux 5.8 (coreutils then exits non-zero; before, an I/O error can go unreported, as it can
 * for an fsync whose error was already consumed by another process).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/** The command run with the directory appended; an argv (no shell). */
export const SYNC_FS_COMMAND: readonly string[] = ['sync', '-f'];

/** Why no barrier can exist here at all (null: one may; try it). */
export function barrierUnsupported(platform: NodeJS.Platform = process.platform): string | null {
  return platform === 'linux' ? null : `syncfs(2) is Linux-only (this is ${platform})`;
}

/**
 * Flushes the file system holding `dir` (syncfs) with `command` + dir. Throws an Error saying
 * why when it could not (spawn failed, non-zero exit, killed).
 */
export function syncFileSystem(dir: string, command: readonly string[] = SYNC_FS_COMMAND): void {
  const unsupported = barrierUnsupported();
  if (unsupported) throw new Error(unsupported);
  const [bin, ...args] = command;
  const r = spawnSync(bin!, [...args, dir], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', windowsHide: true });
  if (r.error) throw new Error(`${command.join(' ')} ${dir}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${command.join(' ')} ${dir}: ${r.status !== null ? `exit ${r.status}` : `killed by ${r.signal}`}${r.stderr ? `: ${r.stderr.trim().slice(0, 300)}` : ''}`);
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
 */
export type TestPausePoint = 'after-barrier' | 'after-renames';

export function testPause(point: TestPausePoint, files: string[]): void {
  if (process.env.CORTEX_TEST_PAUSE_AT !== point) return;
  const marker = process.env.CORTEX_TEST_PAUSE_FILE;
  if (marker) fs.writeFileSync(marker, JSON.stringify({ point, files, pid: process.pid }));
  // Blocks this worker thread only (the rest of the process runs on) until it is killed.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}
