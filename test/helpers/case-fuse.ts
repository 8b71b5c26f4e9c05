/**
 * A case-insensitive, case-preserving directory for tests (as on macOS or Windows): the FUSE
 * file system of test/helpers/ci-fuse.py over a backing directory on the ordinary disk. Needs
 * Linux, /dev/fuse, root and Debian's python3-fusepy (`.ci/run` installs it); tests skip,
 * saying why, without them (caseFuseUnavailable).
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, waitFor } from './procs';

const PYTHON = '/usr/bin/python3';

/** Why a case-insensitive mount cannot be made here; null when it can. */
export function caseFuseUnavailable(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (!fs.existsSync('/dev/fuse')) return 'no /dev/fuse';
  if (process.getuid?.() !== 0) return 'not root (mounting FUSE here needs it)';
  try {
    execFileSync(PYTHON, ['-c', 'import fusepy'], { stdio: 'ignore' });
  } catch {
    return `${PYTHON} has no fusepy (apt-get install python3-fusepy)`;
  }
  return null;
}

export interface CaseFuse {
  /** Unmounts (lazily if busy) and ends the file system's process. */
  unmount(): void;
}

/** Mounts `backing` at `mountpoint` (both existing directories), case-insensitively; resolves once mounted. */
export async function mountCaseInsensitive(backing: string, mountpoint: string): Promise<CaseFuse> {
  const fuse = spawn(PYTHON, [path.join(ROOT, 'test', 'helpers', 'ci-fuse.py'), backing, mountpoint], { stdio: 'ignore' });
  const unmount = () => {
    try {
      execFileSync('fusermount', ['-u', mountpoint], { stdio: 'ignore' });
    } catch {
      try { execFileSync('umount', ['-l', mountpoint], { stdio: 'ignore' }); } catch { /* gone */ }
    }
    fuse.kill('SIGKILL');
  };
  try {
    await waitFor('the FUSE mount', () => fs.readFileSync('/proc/mounts', 'utf8').includes(` ${mountpoint} fuse`), 10_000);
  } catch (e) {
    unmount();
    throw e;
  }
  return { unmount };
}
