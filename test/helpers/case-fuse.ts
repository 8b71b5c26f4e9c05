/**
 * A case-insensitive, case-preserving directory for tests (as on macOS or Windows): the FUSE
 * file system of test/helpers/ci-fuse.py over a backing directory on the ordinary disk. Needs
 * Linux, /dev/fuse, root and Debian's python3-fusepy (`.ci/run` installs it); tests skip,
 * saying why, without them (caseFuseUnavailable). And a hub with a node on such a workspace
 * (startCaseInsensitiveNode).
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Hub, Node, ROOT, tempDir, waitConverged, waitFor } from './procs';

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

/** A real hub on the ordinary disk and a real node whose workspace is a case-insensitive mount. */
export interface CaseInsensitiveNode {
  ws: string;
  hub: Hub;
  node: Node;
  id: string;
  /** A path in the node's mirror on the hub. */
  mirror(p?: string): string;
  /** Both trees the same (the node's own state and staging left out), the node in sync. */
  converged(what: string): Promise<void>;
  /** Kills both, unmounts, removes the directory (kept with CORTEX_KEEP_TEST_DIRS). */
  close(): Promise<void>;
}

/**
 * Mounts a case-insensitive workspace in a new temp directory, lets `seed` fill it, starts a
 * hub and a node on it (named `name`) and waits for the first sync. File-system events of other
 * processes do not reach the node's watcher on this FUSE mount: the periodic full rescan (the
 * watcher's safety net), every 400 ms here, finds the node's changes instead.
 */
export async function startCaseInsensitiveNode(prefix: string, name: string, seed: (ws: string) => void = () => undefined): Promise<CaseInsensitiveNode> {
  const dir = tempDir(prefix);
  const backing = path.join(dir, 'backing');
  const ws = path.join(dir, 'ws');
  fs.mkdirSync(backing);
  fs.mkdirSync(ws);
  const fuse = await mountCaseInsensitive(backing, ws);
  let hub: Hub | undefined;
  let node: Node | undefined;
  const close = async () => {
    await node?.kill();
    await hub?.kill();
    fuse.unmount();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    seed(ws);
    hub = await Hub.start(path.join(dir, 'hub'));
    const { id, join } = await hub.addNode(name);
    node = Node.start(join, ws, path.join(dir, 'node-state'), [], { CORTEX_RESCAN_MS: '400' });
    const h = hub;
    const mirror = (p = '') => path.join(h.mirror(id), p);
    const converged = (what: string) => waitConverged(what, h, id, ws, mirror(), (p) => p === '.metadata.json' || p === '.cortex-staging' || p.startsWith('.cortex-staging/'));
    await converged('the first sync');
    return { ws, hub, node, id, mirror, converged, close };
  } catch (e) {
    await close();
    throw e;
  }
}
