/**
 * Nothing on the node is skipped in silence: every path ends mirrored byte for byte, or listed
 * by the hub as a problem (unreadable, a name that is not valid UTF-8, the node's state dir
 * full) or as ignored (FIFOs, sockets). While a problem lasts the node is `error`, never
 * `in-sync`; once its cause is gone the path syncs and the problem disappears, without a restart.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeDetail } from '../../main/contract';
import { escapeName } from '../../main/sync/problems';
import { Hub, Node, diffTrees, snapshot, tempDir, waitFor } from '../helpers/procs';

const isRoot = process.getuid?.() === 0;
const hasSetpriv = (() => {
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const AS_NOBODY = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'];
const nobody = (() => {
  try {
    return { uid: Number(execFileSync('id', ['-u', 'nobody']).toString()), gid: Number(execFileSync('id', ['-g', 'nobody']).toString()) };
  } catch {
    return null;
  }
})();
const canDropPrivileges = isRoot && hasSetpriv && nobody !== null;
if (!canDropPrivileges) console.warn(`SKIPPED node-problems (unprivileged node): needs root, setpriv and a "nobody" user (root: ${isRoot}, setpriv: ${hasSetpriv}, nobody: ${nobody !== null})`);
if (!isRoot) console.warn('SKIPPED node-problems (state dir full): mounting a small tmpfs needs root');

/** Bytes of a path under root given as raw name segments. */
const raw = (root: string, ...segs: (string | Buffer)[]) => Buffer.concat([Buffer.from(root), ...segs.flatMap((s) => [Buffer.from('/'), Buffer.from(s)])]);

const digest = (file: Buffer) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/**
 * Every entry of the workspace (by raw bytes) is in the mirror with the same type and content,
 * or at/under a path the hub lists as a problem, or (special files) listed as ignored. Returns
 * what is none of these.
 */
function unaccounted(ws: string, mirror: string, d: NodeDetail): string[] {
  const problems = new Set(d.problems.map((p) => p.path));
  const ignored = new Set(d.ignored.map((i) => i.path));
  const out: string[] = [];
  const walk = (relRaw: Buffer[], shown: string[]) => {
    const dir = raw(ws, ...relRaw);
    let names: Buffer[];
    try {
      names = fs.readdirSync(dir, { encoding: 'buffer' });
    } catch {
      return; // the test runs as root: never
    }
    for (const name of names) {
      const r = [...relRaw, name];
      const s = [...shown, escapeName(name)];
      const display = s.join('/');
      const covered = s.some((_, i) => problems.has(s.slice(0, i + 1).join('/')));
      const st = fs.lstatSync(raw(ws, ...r));
      if (st.isFIFO() || st.isSocket() || st.isBlockDevice() || st.isCharacterDevice()) {
        if (!ignored.has(display)) out.push(`special file not listed as ignored: ${display}`);
        continue;
      }
      if (covered) continue;
      const m = fs.lstatSync(raw(mirror, ...r), { throwIfNoEntry: false });
      if (!m) out.push(`missing in the mirror and not a problem: ${display}`);
      else if (st.isDirectory() !== m.isDirectory() || st.isFile() !== m.isFile()) out.push(`other type in the mirror: ${display}`);
      else if (st.isFile() && digest(raw(ws, ...r)) !== digest(raw(mirror, ...r))) out.push(`other content in the mirror: ${display}`);
      if (st.isDirectory()) walk(r, s);
    }
  };
  walk([], []);
  return out;
}

describe.skipIf(!canDropPrivileges)('a node run as an unprivileged user, with paths it cannot send', () => {
  const dir = tempDir('problems');
  const ws = path.join(dir, 'ws');
  const state = path.join(dir, 'state');
  let hub: Hub;
  let node: Node | undefined;
  let id: string;
  let join: string;
  let sockets: net.Server[] = [];
  /** Every state the hub showed for the node while something was missing (sampled). */
  const statesWhileMissing = new Set<string>();
  let sampling = true;
  let sampler: Promise<void> = Promise.resolve();

  const detail = () => hub.invoke('nodes.detail', { id });
  const startNode = (env: NodeJS.ProcessEnv = {}) => Node.startWith(['--workspace', ws, '--state', state, '--log-level', 'debug'], state, env, AS_NOBODY);
  const socketAt = async (p: string) => {
    const srv = net.createServer();
    await new Promise<void>((resolve) => srv.listen(p, resolve));
    sockets.push(srv);
  };

  beforeAll(async () => {
    // The node (nobody) must reach its workspace and state dir; the test (root) makes the files.
    fs.chmodSync(dir, 0o755);
    fs.mkdirSync(ws);
    fs.mkdirSync(state, { mode: 0o700 });
    fs.chownSync(ws, nobody!.uid, nobody!.gid);
    fs.chownSync(state, nobody!.uid, nobody!.gid);
    fs.writeFileSync(path.join(ws, 'ok.txt'), 'readable\n');
    fs.writeFileSync(path.join(ws, 'unreadable.txt'), 'only root may read this\n', { mode: 0o600 });
    fs.mkdirSync(path.join(ws, 'closed'), { mode: 0o700 });
    fs.writeFileSync(path.join(ws, 'closed', 'inner.txt'), 'inside a directory nobody may list\n');
    fs.writeFileSync(path.join(ws, 'back\\slash.txt'), 'a backslash is an ordinary character on POSIX\n');
    fs.writeFileSync(path.join(ws, 'C:notes.txt'), 'so is a drive prefix\n');
    fs.writeFileSync(path.join(ws, '..hidden.txt'), 'a name that starts with two dots is inside the root\n');
    fs.writeFileSync(raw(ws, Buffer.from('bad\xffname.txt', 'latin1')), 'a name that is not UTF-8\n');
    fs.mkdirSync(raw(ws, Buffer.from('dir\xfe', 'latin1')));
    fs.writeFileSync(raw(ws, Buffer.from('dir\xfe', 'latin1'), 'inner.txt'), 'inside a directory whose name is not UTF-8\n');
    execFileSync('mkfifo', [path.join(ws, 'pipe')]);
    await socketAt(path.join(ws, 'sock'));
    hub = await Hub.start(path.join(dir, 'hub'));
    ({ id, join } = await hub.addNode('unprivileged'));
    node = startNode({ CORTEX_JOIN: join });
    sampler = (async () => {
      while (sampling) {
        const n = await hub.node(id).catch(() => null);
        if (n) statesWhileMissing.add(n.state);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
  });

  afterAll(async () => {
    sampling = false;
    await sampler;
    for (const s of sockets) s.close();
    sockets = [];
    await node?.kill();
    await hub?.kill();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('present at start: legal names are mirrored byte for byte, the rest are listed as problems or ignored, and the node is error', async () => {
    const d = await waitFor('the node to report its problems', async () => {
      const x = await detail();
      return x.node.state === 'error' && x.problems.length === 4 && x.ignored.length === 2 ? x : null;
    });
    expect(d.problems.map((p) => [p.path, p.direction, p.code])).toEqual([
      ['bad%FFname.txt', 'to-hub', 'BAD_NAME'],
      ['closed', 'to-hub', 'UNREADABLE'],
      ['dir%FE', 'to-hub', 'BAD_NAME'],
      ['unreadable.txt', 'to-hub', 'UNREADABLE'],
    ]);
    expect(d.problems.find((p) => p.path === 'bad%FFname.txt')!.reason).toBe('name is not valid UTF-8 (shown with its bytes escaped as %XX); rename it to sync it');
    expect(d.problems.find((p) => p.path === 'unreadable.txt')!.reason).toBe('permission denied reading it');
    expect(d.ignored).toEqual([{ path: 'pipe', kind: 'fifo' }, { path: 'sock', kind: 'socket' }]);
    expect(d.node).toMatchObject({ problems: 4, ignored: 2, state: 'error' });
    await waitFor('the legal names in the mirror', () => ['C:notes.txt', 'back\\slash.txt', '..hidden.txt'].every((n) => fs.existsSync(path.join(hub.mirror(id), n))));
    expect(fs.readFileSync(path.join(hub.mirror(id), 'back\\slash.txt'), 'utf8')).toBe('a backslash is an ordinary character on POSIX\n');
    expect(unaccounted(ws, hub.mirror(id), await detail())).toEqual([]);
  });

  it('made while the node runs: the same (backslash, drive prefix, invalid UTF-8, unreadable, FIFO)', async () => {
    fs.writeFileSync(path.join(ws, 'live\\back.txt'), 'live backslash\n');
    fs.writeFileSync(path.join(ws, 'D:live.txt'), 'live drive prefix\n');
    fs.writeFileSync(path.join(ws, '..live.txt'), 'live two dots\n');
    fs.writeFileSync(raw(ws, Buffer.from('live\xfe.txt', 'latin1')), 'live bad name\n');
    fs.writeFileSync(path.join(ws, 'live-unreadable.txt'), 'secret\n', { mode: 0o600 });
    execFileSync('mkfifo', [path.join(ws, 'live-pipe')]);
    const d = await waitFor('the live problems', async () => {
      const x = await detail();
      return x.problems.length === 6 && x.ignored.length === 3 ? x : null;
    });
    expect(d.problems.map((p) => [p.path, p.code])).toEqual(expect.arrayContaining([['live%FE.txt', 'BAD_NAME'], ['live-unreadable.txt', 'UNREADABLE']]));
    expect(d.ignored).toContainEqual({ path: 'live-pipe', kind: 'fifo' });
    await waitFor('the live legal names in the mirror', () => ['live\\back.txt', 'D:live.txt', '..live.txt'].every((n) => fs.existsSync(path.join(hub.mirror(id), n))));
    await waitFor('every path accounted for', async () => unaccounted(ws, hub.mirror(id), await detail()).length === 0);
    expect(d.node.state).toBe('error');
  });

  it('the problems survive a hub restart (kept in its database)', async () => {
    await node!.stop();
    await hub.stop();
    hub = await Hub.start(path.join(dir, 'hub'), { grpc: hub.info.grpc });
    const d = await detail();
    expect(d.node.state).toBe('disconnected');
    expect(d.node).toMatchObject({ problems: 6, ignored: 3 });
    expect(d.problems.map((p) => p.path)).toEqual(['bad%FFname.txt', 'closed', 'dir%FE', 'live%FE.txt', 'live-unreadable.txt', 'unreadable.txt']);
    // The node comes back with its stored credentials, and never shows in-sync while paths are missing.
    node = startNode();
    await hub.waitState(id, 'error');
    sampling = false;
    await sampler;
    expect(statesWhileMissing.size).toBeGreaterThan(0);
    expect([...statesWhileMissing]).not.toContain('in-sync');
  });

  it('fixed (made readable, renamed): everything syncs, the problems disappear, and in-sync comes with the special files still ignored', async () => {
    fs.chmodSync(path.join(ws, 'unreadable.txt'), 0o644);
    fs.chmodSync(path.join(ws, 'live-unreadable.txt'), 0o644);
    fs.chmodSync(path.join(ws, 'closed'), 0o755);
    fs.renameSync(raw(ws, Buffer.from('bad\xffname.txt', 'latin1')), path.join(ws, 'bad-name-fixed.txt'));
    fs.renameSync(raw(ws, Buffer.from('dir\xfe', 'latin1')), path.join(ws, 'dir-fixed'));
    fs.renameSync(raw(ws, Buffer.from('live\xfe.txt', 'latin1')), path.join(ws, 'live-fixed.txt'));
    await waitFor('closed/inner.txt in the mirror', () => fs.existsSync(path.join(hub.mirror(id), 'closed', 'inner.txt')));
    // The directory became readable while the node ran: what is made in it now is seen too.
    fs.writeFileSync(path.join(ws, 'closed', 'late.txt'), 'made after the directory became readable\n');
    // (No snapshot() of the workspace here: it would open the FIFOs and wait forever.)
    await waitFor('in-sync with nothing missing', async () => {
      const x = await detail();
      return x.node.state === 'in-sync' && x.node.problems === 0 && unaccounted(ws, hub.mirror(id), x).length === 0;
    }, 90_000);
    const d = await detail();
    expect(d.problems).toEqual([]);
    expect(d.node).toMatchObject({ problems: 0, ignored: 3 });
    expect(unaccounted(ws, hub.mirror(id), d)).toEqual([]);
    expect(fs.readFileSync(path.join(hub.mirror(id), 'closed', 'late.txt'), 'utf8')).toBe('made after the directory became readable\n');
  });

  it('a synced directory that becomes unreadable is a problem, and what it held stays in the mirror', async () => {
    fs.chmodSync(path.join(ws, 'closed'), 0o700);
    const d = await waitFor('closed to be a problem again', async () => {
      const x = await detail();
      return x.problems.some((p) => p.path === 'closed' && p.code === 'UNREADABLE') && x.node.state === 'error' ? x : null;
    });
    expect(d.node.problems).toBe(1);
    // Not a deletion: the node cannot see inside, so nothing inside is taken for gone.
    expect(fs.readFileSync(path.join(hub.mirror(id), 'closed', 'inner.txt'), 'utf8')).toBe('inside a directory nobody may list\n');
    expect(fs.readFileSync(path.join(hub.mirror(id), 'closed', 'late.txt'), 'utf8')).toBe('made after the directory became readable\n');
    fs.chmodSync(path.join(ws, 'closed'), 0o755);
    await waitFor('in-sync again', async () => {
      const x = await detail();
      return x.node.state === 'in-sync' && x.node.problems === 0 && unaccounted(ws, hub.mirror(id), x).length === 0;
    });
  });
});

describe.skipIf(!isRoot)('a node whose state dir is full', () => {
  const dir = tempDir('node-full');
  const ws = path.join(dir, 'ws');
  const state = path.join(dir, 'state');
  const filler = path.join(state, 'filler');
  let mounted = false;
  let hub: Hub;
  let node: Node | undefined;
  let id: string;

  beforeAll(async () => {
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, 'first.txt'), 'first\n');
    fs.mkdirSync(state);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', state]);
    mounted = true;
    hub = await Hub.start(path.join(dir, 'hub'));
    const added = await hub.addNode('full');
    id = added.id;
    node = Node.start(added.join, ws, state);
    await hub.waitState(id, 'in-sync');
  });

  afterAll(async () => {
    await node?.kill();
    await hub?.kill();
    if (mounted) execFileSync('umount', [state]);
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is reported as a problem (NODE_DISK_FULL) while it lasts; freed space: it recovers and syncs without a restart', async () => {
    // Fill the tmpfs to the last block.
    const fd = fs.openSync(filler, 'w');
    const block = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) fs.writeSync(fd, block);
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    try {
      for (;;) fs.writeSync(fd, block, 0, 512);
    } catch { /* full */ }
    fs.closeSync(fd);
    for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(ws, `new-${i}.txt`), `new file ${i}\n`);
    const d = await waitFor('the node to report its full state dir', async () => {
      const x = await hub.invoke('nodes.detail', { id });
      return x.problems.some((p) => p.code === 'NODE_DISK_FULL') ? x : null;
    });
    expect(d.problems).toEqual([expect.objectContaining({ path: '', direction: 'to-hub', code: 'NODE_DISK_FULL' })]);
    expect(d.problems[0]!.reason).toContain(`the node cannot write its state dir ${state}`);
    expect(d.node.state).toBe('error');
    expect(d.node.problems).toBe(1);

    fs.rmSync(filler);
    // The state dir is on another file system: the node stages hub-side changes in the workspace.
    const staging = (p: string) => p === '.cortex-staging' || p.startsWith('.cortex-staging/');
    await waitFor('in-sync with every new file', async () => {
      const n = await hub.node(id);
      return n.state === 'in-sync' && n.problems === 0 && diffTrees(snapshot(ws), snapshot(hub.mirror(id)), staging).length === 0;
    }, 90_000);
    expect(node!.p.proc.exitCode).toBeNull();
    expect(node!.logLines().find((l) => l.msg === 'state.disk_recovered')).toBeTruthy();
  });
});
