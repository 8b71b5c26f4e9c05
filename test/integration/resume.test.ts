/**
 * A large file cut off by a lost connection resumes: the node is SIGKILLed in the middle of a
 * 256 MiB transfer; after it restarts, the hub reuses the verified blocks it already had
 * (kept in staging, outside the mirror) and fetches only the rest. The mirror ends byte-identical.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { INTENTS_FILE } from '../../main/hub/commit-intents';
import { afterAll, describe, expect, it } from 'vitest';
import { Hub, Node, tempDir, waitFor } from '../helpers/procs';

const SIZE = 256 * 1024 * 1024;

function sha(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

describe('resuming an interrupted large file', () => {
  const dir = tempDir('resume');
  let hub: Hub | null = null;
  let node: Node | null = null;

  afterAll(async () => {
    await node?.stop();
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reuses what arrived before the node was killed', async () => {
    const ws = path.join(dir, 'ws');
    fs.mkdirSync(ws);
    const fd = fs.openSync(path.join(ws, 'big.bin'), 'w');
    const chunk = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < SIZE / chunk.length; i++) fs.writeSync(fd, crypto.randomFillSync(chunk));
    fs.closeSync(fd);
    hub = await Hub.start(path.join(dir, 'hub'));
    const { id, join } = await hub.addNode('big');
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    const h = hub;
    const first = await waitFor('the first 8 MiB to arrive', async () => {
      const n = await h.node(id);
      return n.bytesReceived >= 8 * 1024 * 1024 ? n : null;
    }, 120_000, 10);
    await node.kill();
    expect(fs.existsSync(path.join(hub.mirror(id), 'big.bin'))).toBe(false);
    await hub.waitState(id, 'disconnected', 30_000);
    await waitFor('the partial to be kept', () => hub!.logLines().some((l) => l.msg === 'file.partial_kept'), 10_000);

    node = Node.start(join, ws, path.join(dir, 'node-state'));
    const done = await hub.waitState(id, 'in-sync');
    expect(sha(path.join(hub.mirror(id), 'big.bin'))).toBe(sha(path.join(ws, 'big.bin')));
    // The second session fetched only what the first had not: together about one file.
    expect(done.bytesReused).toBeGreaterThan(0);
    expect(done.bytesReceived).toBeLessThan(SIZE - first.bytesReceived / 2);
    expect(done.bytesReceived + done.bytesReused).toBe(SIZE);
    // Nothing left in staging once the file is committed (but the commit intents, hub/commit-intents.ts).
    expect(fs.readdirSync(path.join(dir, 'hub', 'staging', id)).filter((n) => n !== INTENTS_FILE)).toEqual([]);
  });
});
