/**
 * A conflict copy's name fits in 255 bytes: a file whose name is already 255 bytes long,
 * changed on both sides while the node is offline, converges with both versions kept (the
 * copy's stem shortened, its marker whole) and is counted as a conflict.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConflictCopy } from '../../main/sync/reconcile';
import { Hub, Node, snapshot, tempDir, waitConverged, waitFor } from '../helpers/procs';

describe('conflict copies of long names', () => {
  let dir: string;
  let ws: string;
  let hub: Hub;
  let node: Node | undefined;
  let id: string;
  let join: string;

  beforeAll(async () => {
    dir = tempDir('conflict-names');
    ws = path.join(dir, 'ws');
    fs.mkdirSync(path.join(ws, 'long'), { recursive: true });
    hub = await Hub.start(path.join(dir, 'hub'));
    ({ id, join } = await hub.addNode('long-names'));
  });

  afterAll(async () => {
    await node?.kill();
    await hub?.kill();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a 255-byte name changed on both sides while the node is offline keeps both versions', async () => {
    // 255 bytes, multi-byte characters included (3 bytes each), so the cut must respect them.
    const name = `${'日本語'.repeat(20)}${'n'.repeat(255 - 180 - 4)}.txt`;
    expect(Buffer.byteLength(name)).toBe(255);
    const rel = `long/${name}`;
    const put = (root: string, text: string, mtime: Date) => {
      const tmp = path.join(dir, 'tmp-write');
      fs.writeFileSync(tmp, text);
      fs.utimesSync(tmp, mtime, mtime);
      fs.renameSync(tmp, path.join(root, rel));
    };
    const now = Date.now();
    put(ws, 'v1\n', new Date(now - 60_000));
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    await waitConverged('the long name in the mirror', hub, id, ws, hub.mirror(id), (p) => p === '.metadata.json');
    await node.stop();
    node = undefined;
    await hub.waitState(id, 'disconnected');

    // Both sides change it while the node is away; the node's edit is the newer one.
    put(hub.mirror(id), 'changed on the hub\n', new Date(now - 30_000));
    await waitFor('the hub-side edit queued for the node', async () => (await hub.node(id)).toNodeFiles === 1, 30_000);
    put(ws, 'changed on the node\n', new Date(now));
    node = Node.start(join, ws, path.join(dir, 'node-state'));

    await waitConverged('both versions on both sides', hub, id, ws, hub.mirror(id), (p) => p === '.metadata.json');
    const copies = (root: string) => [...snapshot(root).keys()].filter(isConflictCopy);
    const [copy] = copies(ws);
    expect(copies(ws)).toHaveLength(1);
    expect(copies(hub.mirror(id))).toEqual([copy]);
    const copyName = copy!.slice('long/'.length);
    expect(Buffer.byteLength(copyName)).toBeLessThanOrEqual(255);
    expect(copyName).toMatch(/^(日本語)+n*\.sync-conflict-\d{8}-\d{6}-hub\.txt$/);
    expect(fs.readFileSync(path.join(ws, rel), 'utf8')).toBe('changed on the node\n');
    expect(fs.readFileSync(path.join(ws, copy!), 'utf8')).toBe('changed on the hub\n');
    expect(fs.readFileSync(path.join(hub.mirror(id), copy!), 'utf8')).toBe('changed on the hub\n');
    const st = await hub.node(id);
    expect(st).toMatchObject({ state: 'in-sync', conflicts: 1, errors: 0, toNodeFiles: 0, outOfSyncFiles: 0 });
    expect((await hub.invoke('nodes.detail', { id })).conflicts).toEqual([copy]);
  });
});
