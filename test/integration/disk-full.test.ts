/**
 * The hub's disk fills up (a real tmpfs): what cannot be written is a problem the operator
 * sees (DISK_FULL, with its path), never `in-sync`; nothing is lost; once space comes back
 * (a remount here) everything arrives without anyone restarting anything; and the same holds
 * across a hub restart in the middle (the failures are on disk, the node is not re-asked).
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeStatus } from '../../main/contract';
import { Hub, Node, diffTrees, runCli, snapshot, tempDir, waitConverged, waitFor } from '../helpers/procs';

const MiB = 1024 * 1024;
const root = process.getuid?.() === 0;
if (!root) console.warn('disk-full.test.ts: SKIPPED, needs root to mount a tmpfs (run the suite as root, as .ci/run does)');

describe.skipIf(!root)('disk full on the hub', () => {
  let dir: string;
  let data: string;
  let ws: string;
  let hub: Hub;
  let node: Node;
  let id: string;
  let join: string;
  const mount = (size: string, remount = false) => execFileSync('mount', ['-t', 'tmpfs', '-o', `${remount ? 'remount,' : ''}size=${size},mode=0700`, 'tmpfs', data]);
  const usedBytes = () => {
    const st = fs.statfsSync(data);
    return (st.blocks - st.bfree) * st.bsize;
  };
  const missing = () => diffTrees(snapshot(ws), snapshot(hub.mirror(id))).filter((l) => l.startsWith('missing in mirror'));
  /**
   * Polls status until `done` (or for `ms` when `done` is null); fails at once if it ever says
   * in-sync while a file the node has is missing from the mirror.
   */
  const watchTruth = async (what: string, done: ((n: NodeStatus) => boolean) | null, ms: number): Promise<NodeStatus> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const n = await hub.node(id);
      if (n.state === 'in-sync') {
        const m = missing();
        if (m.length) throw new Error(`${what}: status says in-sync while ${m.length} paths are missing, e.g. ${m[0]}`);
      }
      if (done?.(n)) return n;
      if (Date.now() > deadline) {
        if (done === null) return n;
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify(n)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  /** 10 MiB that no other file shares a block with: AES-CTR keyed by `seed` (fast even on a loaded machine). */
  const bigFile = (name: string, seed: number) => {
    const key = crypto.createHash('sha256').update(`disk-full ${seed}`).digest();
    const cipher = crypto.createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
    fs.writeFileSync(path.join(ws, name), Buffer.concat([cipher.update(Buffer.alloc(10 * MiB)), cipher.final()]));
  };

  beforeAll(async () => {
    dir = tempDir('disk-full');
    data = path.join(dir, 'hub-data');
    ws = path.join(dir, 'ws');
    fs.mkdirSync(data);
    mount('64m');
    fs.mkdirSync(path.join(ws, 'small'), { recursive: true });
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(ws, 'small', `s${i}.txt`), `small file ${i}\n`);
    for (let i = 0; i < 9; i++) bigFile(`big-${i}.bin`, i);
    hub = await Hub.start(data);
    ({ id, join } = await hub.addNode('filling-up'));
  });

  afterAll(async () => {
    await node?.kill();
    await hub?.kill();
    try {
      execFileSync('umount', ['-l', data]);
    } catch { /* not mounted */ }
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shows what did not fit as DISK_FULL problems, never in-sync, and catches up by itself when space comes back', async () => {
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    const st = await watchTruth('DISK_FULL problems', (n) => n.problems > 0 && n.state === 'error', 120_000);
    expect(missing().length).toBeGreaterThan(0);
    const detail = await hub.invoke('nodes.detail', { id });
    const full = detail.problems.filter((p) => p.code === 'DISK_FULL');
    expect(full.length).toBeGreaterThan(0);
    expect(full[0]).toMatchObject({ direction: 'to-hub' });
    expect(full[0]!.reason).toMatch(/no space left on the device/);
    // Counted alike (the detail's own status: more may have failed since `st`).
    expect(st.problems).toBeGreaterThan(0);
    expect(detail.node.problems).toBeGreaterThanOrEqual(full.length);
    // The same, on the command line (through the running hub).
    const show = await runCli('cortex-hub', ['node', 'show', id, '--data', data, '--json']);
    expect(show.code).toBe(0);
    const shown = JSON.parse(show.stdout) as { node: NodeStatus; problems: { code: string; path: string }[] };
    expect(shown.node.state).toBe('error');
    expect(shown.problems.some((p) => p.code === 'DISK_FULL' && p.path !== '')).toBe(true);
    const human = await runCli('cortex-hub', ['node', 'show', id, '--data', data]);
    expect(human.stdout).toMatch(/^Problems \(\d+/m);
    expect(human.stdout).toMatch(/DISK_FULL/);
    // The hub keeps serving meanwhile, and says the same for a few more seconds.
    await watchTruth('a few seconds of truth', null, 3000);
    mount('400m', true);
    await waitConverged('everything in the mirror after the remount', hub, id, ws, hub.mirror(id), () => false, 120_000);
    expect((await hub.node(id)).problems).toBe(0);
  }, 300_000);

  it('keeps the failures across a hub restart and catches up once space is freed', async () => {
    // Shrink the file system to just above what it holds: the next big files do not fit.
    const used = usedBytes();
    mount(`${Math.ceil((used + 6 * MiB) / MiB)}m`, true);
    for (let i = 9; i < 14; i++) bigFile(`big-${i}.bin`, i);
    // Until the node has told the hub of the new files, in-sync is the truth of what it knows.
    await waitFor('the hub to hear of the new files', async () => {
      const n = await hub.node(id);
      return n.state !== 'in-sync' || n.problems > 0;
    }, 60_000);
    await watchTruth('new DISK_FULL problems', (n) => n.problems > 0, 120_000);
    const before = (await hub.invoke('nodes.detail', { id })).problems.map((p) => p.path).filter(Boolean).sort();
    expect(before.length).toBeGreaterThan(0);
    // Restart the hub (clean stop, same port so the node finds it again).
    const grpc = hub.info.grpc;
    await hub.stop();
    hub = await Hub.start(data, { grpc });
    // Straight after the restart: the missing files are problems, whatever the node's state.
    const after = await hub.node(id);
    expect(after.problems).toBeGreaterThan(0);
    expect(after.state).not.toBe('in-sync');
    await watchTruth('the node back, still in error', (n) => n.state === 'error', 60_000);
    await watchTruth('a few seconds of truth after the restart', null, 3000);
    mount('600m', true);
    await waitConverged('everything in the mirror after space came back', hub, id, ws, hub.mirror(id), () => false, 120_000);
    const detail = await hub.invoke('nodes.detail', { id });
    expect(detail.problems).toEqual([]);
    expect(missing()).toEqual([]);
  }, 300_000);
});

describe.skipIf(!root)('a hub restarting on a disk filled by staging leftovers', () => {
  it('clears the staging leftovers before its first write, starts and answers', async () => {
    const dir = tempDir('disk-full-start');
    const data = path.join(dir, 'hub-data');
    fs.mkdirSync(data);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'tmpfs', data]);
    let hub: Hub | undefined;
    try {
      hub = await Hub.start(data);
      const { id } = await hub.addNode('cut-off');
      await hub.stop();
      // What a stop leaves behind: the partial of a large pull cut short, that filled the disk.
      const staged = path.join(data, 'staging', id);
      fs.mkdirSync(staged, { recursive: true });
      const fd = fs.openSync(path.join(staged, 'cut-short.tmp'), 'w');
      try {
        for (;;) fs.writeSync(fd, Buffer.alloc(64 * 1024, 7));
      } catch (e) {
        expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
      } finally {
        fs.closeSync(fd);
      }
      // The stop freed the pages of the lock and hub.json: room for those two again, no more.
      const full = path.join(staged, 'cut-short.tmp');
      fs.truncateSync(full, fs.statSync(full).size - 8192);
      hub = await Hub.start(data);
      expect((await hub.node(id)).name).toBe('cut-off');
      expect(fs.readdirSync(staged).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    } finally {
      await hub?.kill();
      try {
        execFileSync('umount', ['-l', data]);
      } catch { /* not mounted */ }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
