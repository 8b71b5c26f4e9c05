/**
 * Shifted content with real processes, both ways: one byte inserted at the start of a
 * multi-MiB file moves every block, yet the receiver finds them in its old version at their
 * new offsets (weak hash, confirmed by SHA-256) and fetches only the block the insertion
 * touched. Node → hub: the hub's status.bytesReceived; hub → node: the bytes the node logs it
 * fetched for the hub's change.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOCK_SIZE } from '../../main/sync/blocks';
import { Hub, Node, tempDir, waitConverged } from '../helpers/procs';

const SIZE = 6 * 1024 * 1024 + 4321;

describe('a byte inserted at the start of a big file', () => {
  let dir: string;
  let ws: string;
  let hub: Hub;
  let node: Node;
  let id: string;
  const mirror = (p = '') => path.join(hub.mirror(id), p);
  /** Writes a whole new version through a temp file and a rename, as editors do. */
  const put = (root: string, p: string, data: Buffer) => {
    const tmp = path.join(dir, `w-${crypto.randomBytes(6).toString('hex')}`);
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, path.join(root, p));
  };
  const converged = (what: string) => waitConverged(what, hub, id, ws, mirror(), (p) => p === '.metadata.json', 120_000);

  beforeAll(async () => {
    dir = tempDir('shifted');
    ws = path.join(dir, 'ws');
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, 'to-hub.bin'), crypto.randomBytes(SIZE));
    fs.writeFileSync(path.join(ws, 'to-node.bin'), crypto.randomBytes(SIZE));
    hub = await Hub.start(path.join(dir, 'hub'));
    let join: string;
    ({ id, join } = await hub.addNode('shifted'));
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    await converged('the initial sync');
  });

  afterAll(async () => {
    await node?.kill();
    await hub?.kill();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('node → hub: the hub receives only the first block', async () => {
    const before = (await hub.node(id)).bytesReceived;
    const now = Buffer.concat([Buffer.from('!'), fs.readFileSync(path.join(ws, 'to-hub.bin'))]);
    put(ws, 'to-hub.bin', now);
    await converged('the shifted file in the mirror');
    expect(fs.readFileSync(mirror('to-hub.bin')).equals(now)).toBe(true);
    const received = (await hub.node(id)).bytesReceived - before;
    // The whole file is SIZE + 1 bytes; only block 0 holds new bytes.
    expect(received).toBe(BLOCK_SIZE);
  });

  it('hub → node: the node fetches only the first block', async () => {
    const mark = node.logLines().length;
    const now = Buffer.concat([Buffer.from('?'), fs.readFileSync(mirror('to-node.bin'))]);
    put(mirror(), 'to-node.bin', now);
    await converged('the shifted file in the workspace');
    expect(fs.readFileSync(path.join(ws, 'to-node.bin')).equals(now)).toBe(true);
    const batches = node.logLines().slice(mark).filter((l) => l.msg === 'hub.changes');
    const fetched = batches.reduce((n, l) => n + Number(l.fetchedBytes), 0);
    const reused = batches.reduce((n, l) => n + Number(l.reusedBytes), 0);
    expect([fetched, reused]).toEqual([BLOCK_SIZE, now.length - BLOCK_SIZE]);
  });
});
