/**
 * Pause and resume with real `cortex-hub serve` and `cortex-node` processes on loopback: a
 * paused node's changes and the hub's changes stay where they were made (new, changed and
 * deleted files on each side), through a SIGKILL of both and a clean restart of both; the
 * pause is kept by the hub's database and learnt by the restarted node; the status says
 * `paused` all along, never in-sync; resume (the CLI) catches both sides up: identical trees,
 * no conflict copies, in-sync. Rescan while paused answers for both sides and moves nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PauseView, RescanView } from '../../main/contract';
import { isConflictCopy } from '../../main/sync/reconcile';
import { Hub, Node, runCli, snapshot, tempDir, waitConverged, waitFor } from '../helpers/procs';

describe('pause and resume across restarts', () => {
  let dir: string;
  let data: string;
  let ws: string;
  let state: string;
  let hub: Hub;
  let node: Node;
  let id: string;
  let join: string;
  const mirror = (p = '') => path.join(hub.mirror(id), p);
  const put = (root: string, p: string, text: string) => {
    const target = path.join(root, p);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = path.join(dir, `w-${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, target);
  };
  const read = (root: string, p: string) => (fs.existsSync(path.join(root, p)) ? fs.readFileSync(path.join(root, p), 'utf8') : null);
  const cli = async (args: string[]) => {
    const r = await runCli('cortex-hub', [...args, '--data', data, '--json']);
    if (r.code !== 0) throw new Error(`cortex-hub ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as unknown;
  };
  /** Paused, with a session: the restarted node is back and heard it is paused. */
  const pausedAndConnected = () => waitFor('the node connected and paused', async () => {
    const n = await hub.node(id);
    return n.state === 'paused' && n.connected ? n : null;
  }, 60_000, 100);
  /**
   * What each side made while paused is still only on its side. Called after a rescan, which
   * the node answers only once its scans are over (they run in order): its changes are recorded
   * and would have gone to the hub by then, as the hub's were recorded and would have gone out.
   */
  const nothingFlowed = (hubSide: string[], nodeSide: string[]) => {
    for (const p of nodeSide) {
      expect(read(ws, p), `${p} on the node`).toBe(`node ${p}`);
      expect(read(mirror(), p), `${p} in the mirror`).toBeNull();
    }
    for (const p of hubSide) {
      expect(read(mirror(), p), `${p} in the mirror`).toBe(`hub ${p}`);
      expect(read(ws, p), `${p} on the node`).toBeNull();
    }
    expect(read(ws, 'shared/edit-on-node.txt')).toBe('edited on the node');
    expect(read(mirror(), 'shared/edit-on-node.txt')).toBe('v1 edit-on-node');
    expect(read(mirror(), 'shared/edit-on-hub.txt')).toBe('edited on the hub');
    expect(read(ws, 'shared/edit-on-hub.txt')).toBe('v1 edit-on-hub');
    expect(read(ws, 'shared/gone-on-node.txt')).toBeNull();
    expect(read(mirror(), 'shared/gone-on-node.txt')).toBe('v1 gone-on-node');
    expect(read(mirror(), 'shared/gone-on-hub.txt')).toBeNull();
    expect(read(ws, 'shared/gone-on-hub.txt')).toBe('v1 gone-on-hub');
  };
  /** Waits until the hub holds these hub-side changes for the node (its pending list to the node). */
  const holding = (paths: string[]) => waitFor(`the hub holding ${paths.join(', ')} for the node`, async () => {
    const d = await hub.invoke('nodes.detail', { id }) as { toNode: { path: string }[] };
    const queued = new Set(d.toNode.map((x) => x.path));
    return paths.every((p) => queued.has(p));
  }, 30_000, 100);
  const HUB_CHANGES = ['from-hub/one.txt', 'shared/edit-on-hub.txt', 'shared/gone-on-hub.txt'];
  const rescanPaused = async () => {
    const r = await hub.invoke('nodes.rescan', { id }) as RescanView;
    expect(r).toMatchObject({ paused: true, retried: 0, hubMissing: null, nodeMissing: null });
    return r;
  };

  beforeAll(async () => {
    dir = tempDir('pause');
    data = path.join(dir, 'hub');
    ws = path.join(dir, 'ws');
    state = path.join(dir, 'node-state');
    for (const n of ['edit-on-node', 'edit-on-hub', 'gone-on-node', 'gone-on-hub', 'untouched']) put(ws, `shared/${n}.txt`, `v1 ${n}`);
    hub = await Hub.start(data);
    ({ id, join } = await hub.addNode('pausable'));
    node = Node.start(join, ws, state);
    await hub.waitState(id, 'in-sync');
  });

  afterAll(async () => {
    await node?.kill();
    await hub?.kill();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('holds both sides through SIGKILL and clean restarts, then catches up on resume', async () => {
    const paused = await cli(['node', 'pause', id]) as PauseView;
    expect(paused.nodes).toEqual([{ id, name: 'pausable', paused: true, pausedAt: expect.any(Number), changed: true }]);
    await hub.waitState(id, 'paused', 10_000);
    await waitFor('the node heard it is paused', () => node.logLines().some((l) => l.msg === 'sync.paused'), 10_000);

    // Both sides change, while paused: new, edited and deleted files.
    put(ws, 'from-node/one.txt', 'node from-node/one.txt');
    put(ws, 'shared/edit-on-node.txt', 'edited on the node');
    fs.rmSync(path.join(ws, 'shared/gone-on-node.txt'));
    put(mirror(), 'from-hub/one.txt', 'hub from-hub/one.txt');
    put(mirror(), 'shared/edit-on-hub.txt', 'edited on the hub');
    fs.rmSync(mirror('shared/gone-on-hub.txt'));
    await holding(HUB_CHANGES);
    await rescanPaused();
    nothingFlowed(['from-hub/one.txt'], ['from-node/one.txt']);
    expect((await hub.node(id)).state).toBe('paused');
    // The status says what the node holds back: a new file, an edit, a deletion (and the new
    // directory), the two files' bytes.
    const held = await waitFor('what the node holds, in the status', async () => {
      const h = (await hub.node(id)).held;
      return h && h.bytes === 40 ? h : null;
    }, 15_000, 100);
    expect(held.changes).toBeGreaterThanOrEqual(3);
    expect(held.capped).toBe(false);

    // Both killed; both started again: the hub knows the node is paused, the node learns it.
    await node.kill();
    await hub.kill();
    const grpc = hub.info.grpc;
    hub = await Hub.start(data, { grpc });
    const heardBefore = node.logLines().filter((l) => l.msg === 'sync.paused').length;
    node = Node.start(join, ws, state);
    await pausedAndConnected();
    await waitFor('the restarted node heard it is paused', () => node.logLines().filter((l) => l.msg === 'sync.paused').length > heardBefore, 30_000);
    // More changes on both sides while the restarted pair is paused.
    put(ws, 'from-node/two.txt', 'node from-node/two.txt');
    put(mirror(), 'from-hub/two.txt', 'hub from-hub/two.txt');
    await holding([...HUB_CHANGES, 'from-hub/two.txt']);
    await rescanPaused();
    nothingFlowed(['from-hub/one.txt', 'from-hub/two.txt'], ['from-node/one.txt', 'from-node/two.txt']);
    await waitFor('the restarted node holds one more file', async () => (await hub.node(id)).held?.bytes === 62, 15_000, 100);
    expect((await runCli('cortex-hub', ['status', '--data', data])).stdout).toMatch(/; \d+ changes \(62 B\) held on the node/);

    // A clean stop of both, and a start again: still paused, still nothing moved.
    await node.stop();
    await hub.stop();
    hub = await Hub.start(data, { grpc });
    node = Node.start(join, ws, state);
    const n = await pausedAndConnected();
    expect(n.pausedAt).toBe(paused.nodes[0]!.pausedAt);
    await holding([...HUB_CHANGES, 'from-hub/two.txt']);
    await rescanPaused();
    nothingFlowed(['from-hub/one.txt', 'from-hub/two.txt'], ['from-node/one.txt', 'from-node/two.txt']);
    expect(hub.logLines().some((l) => l.msg === 'node.connected' && l.paused === true)).toBe(true);

    // Resume (the CLI): both sides catch up.
    const resumed = await cli(['node', 'resume', id]) as PauseView;
    expect(resumed.nodes).toEqual([{ id, name: 'pausable', paused: false, pausedAt: null, changed: true }]);
    await waitConverged('both trees after the resume', hub, id, ws, mirror(), (p) => p === '.metadata.json', 60_000);
    for (const p of ['from-node/one.txt', 'from-node/two.txt']) expect(read(mirror(), p)).toBe(`node ${p}`);
    for (const p of ['from-hub/one.txt', 'from-hub/two.txt']) expect(read(ws, p)).toBe(`hub ${p}`);
    expect(read(mirror(), 'shared/edit-on-node.txt')).toBe('edited on the node');
    expect(read(ws, 'shared/edit-on-hub.txt')).toBe('edited on the hub');
    for (const root of [ws, mirror()]) {
      expect(read(root, 'shared/gone-on-node.txt')).toBeNull();
      expect(read(root, 'shared/gone-on-hub.txt')).toBeNull();
      expect(read(root, 'shared/untouched.txt')).toBe('v1 untouched');
      expect([...snapshot(root).keys()].filter(isConflictCopy)).toEqual([]);
    }
    expect(await hub.node(id)).toMatchObject({ state: 'in-sync', pausedAt: null, toNodeFiles: 0, outOfSyncFiles: 0, problems: 0, held: null });
    expect(node.logLines().some((l) => l.msg === 'sync.resumed')).toBe(true);
  }, 300_000);

  it('the CLI: usage errors, text output, and a pause set with no hub running that the next start keeps', async () => {
    for (const args of [['node', 'pause'], ['node', 'resume'], ['node', 'pause', id, '--all']]) {
      const r = await runCli('cortex-hub', [...args, '--data', data]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(`usage: cortex-hub node ${args[1]} ID|--all`);
    }
    const unknown = await runCli('cortex-hub', ['node', 'pause', 'nope', '--data', data]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('NOT_FOUND: no node with id nope');
    const p = await runCli('cortex-hub', ['node', 'pause', '--all', '--data', data]);
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(new RegExp(`${id}\\s+pausable\\s+paused`));
    await hub.waitState(id, 'paused', 10_000);
    const again = await runCli('cortex-hub', ['node', 'pause', id, '--data', data]);
    expect(again.stdout).toMatch(/already paused/);
    const rescan = await runCli('cortex-hub', ['node', 'rescan', id, '--data', data]);
    expect(rescan.code).toBe(0);
    expect(rescan.stdout).toMatch(/mirror on the hub: \d+ entries scanned/);
    expect(rescan.stdout).toMatch(/workspace on the node: \d+ entries scanned/);
    expect(rescan.stdout).toContain('The node is paused');
    const status = await runCli('cortex-hub', ['status', '--data', data]);
    expect(status.stdout).toMatch(new RegExp(`${id}\\s+pausable\\s+paused`));
    const r = await runCli('cortex-hub', ['node', 'resume', id, '--data', data]);
    expect(r.stdout).toMatch(new RegExp(`${id}\\s+pausable\\s+resumed`));
    await hub.waitState(id, 'in-sync', 60_000);

    // No hub running: the CLI pauses in the data dir; the next start keeps it.
    await hub.stop();
    const offline = await cli(['node', 'pause', id]) as PauseView;
    expect(offline.nodes).toEqual([{ id, name: 'pausable', paused: true, pausedAt: expect.any(Number), changed: true }]);
    const offlineRescan = await runCli('cortex-hub', ['node', 'rescan', id, '--data', data]);
    expect(offlineRescan.code).toBe(1);
    expect(offlineRescan.stderr).toContain('UNAVAILABLE');
    hub = await Hub.start(data, { grpc: hub.info.grpc });
    await pausedAndConnected();
    put(mirror(), 'from-hub/three.txt', 'hub from-hub/three.txt');
    await holding(['from-hub/three.txt']);
    await rescanPaused();
    expect(read(ws, 'from-hub/three.txt')).toBeNull();
    await cli(['node', 'resume', '--all']);
    await waitConverged('both trees after the second resume', hub, id, ws, mirror(), (p) => p === '.metadata.json', 60_000);
    expect(read(ws, 'from-hub/three.txt')).toBe('hub from-hub/three.txt');
  }, 180_000);
});
