/**
 * A big first sync makes the hub pull blocks faster than the node's stream drains: every
 * waiting write shares one wait for 'drain' instead of adding a listener each (which Node
 * reported as a MaxListenersExceededWarning, a leak warning, on the node's stderr).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Hub, Node, diffTrees, generateWorkspace, snapshot, tempDir } from '../helpers/procs';

describe('cortex-node on a big first sync', () => {
  const dir = tempDir('listeners');
  let hub: Hub | undefined;
  let node: Node | undefined;

  afterAll(async () => {
    await node?.kill();
    await hub?.kill();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reaches in-sync without a MaxListenersExceededWarning (one shared wait for drain)', async () => {
    const ws = path.join(dir, 'ws');
    generateWorkspace(ws, { files: 3000, seed: 11, big: [48 * 1024 * 1024] });
    hub = await Hub.start(path.join(dir, 'hub'));
    const { id, join } = await hub.addNode('big');
    node = Node.start(join, ws, path.join(dir, 'state'));
    await hub.waitState(id, 'in-sync', 300_000);
    expect(diffTrees(snapshot(ws), snapshot(hub.mirror(id)))).toEqual([]);
    expect(node.p.output()).not.toContain('MaxListenersExceededWarning');
  });
});
