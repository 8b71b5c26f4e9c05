/**
 * A second process with a node's credentials: the connection it replaces is ended with
 * SUPERSEDED (never left hanging), that node says so in its log and reconnects; two processes
 * that keep replacing each other make the node's state `error` with a problem saying so.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hub, Node, tempDir, waitFor } from '../helpers/procs';

describe('one identity, two connections', () => {
  let dir: string;
  let hub: Hub;
  let first: Node;
  let second: Node | null = null;
  let id: string;
  let join: string;
  const ws = () => path.join(dir, 'ws');

  beforeAll(async () => {
    dir = tempDir('duplicate');
    fs.mkdirSync(ws(), { recursive: true });
    fs.writeFileSync(path.join(ws(), 'a.txt'), 'first node\n');
    // A short window, so that the fight is seen and forgotten within the test.
    hub = await Hub.start(path.join(dir, 'hub'), { env: { CORTEX_SUPERSEDE_WINDOW_MS: '20000' } });
    ({ id, join } = await hub.addNode('one-identity'));
    first = Node.start(join, ws(), path.join(dir, 'state-1'));
    await hub.waitState(id, 'in-sync');
  });

  afterAll(async () => {
    await second?.kill();
    await first?.kill();
    await hub?.kill();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ends the replaced connection with SUPERSEDED; its node reconnects and keeps syncing after the other is gone', async () => {
    fs.mkdirSync(path.join(dir, 'ws-2'));
    second = Node.start(join, path.join(dir, 'ws-2'), path.join(dir, 'state-2'));
    // The first node is told, at once, and says so in its log.
    const told = await waitFor('the first node to be told it was superseded', () => first.logLines().find((l) => l.msg === 'hub.superseded'), 30_000);
    expect(String(told.reason)).toMatch(/^SUPERSEDED: another connection with this node's credentials \(from .+\) replaced this one/);
    const ev = await waitFor('the hub\'s superseded event', async () => (await hub.invoke('events.list', { nodeId: id, kind: 'node.superseded' })).find((e) => e.kind === 'node.superseded'));
    expect(ev.data).toMatchObject({ replaced: expect.stringMatching(/127\.0\.0\.1:\d+/), by: expect.stringMatching(/127\.0\.0\.1:\d+/) });
    await new Promise((r) => setTimeout(r, 3000));
    await second.kill();
    second = null;
    // The first node's new work reaches the mirror (it stalled forever before).
    fs.writeFileSync(path.join(ws(), 'after.txt'), 'written after the second process died\n');
    await waitFor('after.txt in the mirror', () => fs.existsSync(path.join(hub.mirror(id), 'after.txt')), 60_000, 100);
    expect(fs.readFileSync(path.join(hub.mirror(id), 'after.txt'), 'utf8')).toBe('written after the second process died\n');
  });

  it('two processes that keep replacing each other put the node in error, saying why; it clears once one is stopped', async () => {
    fs.mkdirSync(path.join(dir, 'ws-3'), { recursive: true });
    second = Node.start(join, path.join(dir, 'ws-3'), path.join(dir, 'state-3'));
    const st = await waitFor('the node in error for a duplicate connection', async () => {
      const n = await hub.node(id);
      return n.state === 'error' && n.problems > 0 ? n : null;
    }, 90_000, 200);
    expect(st.problems).toBeGreaterThan(0);
    const detail = await hub.invoke('nodes.detail', { id });
    const p = detail.problems.find((x) => x.code === 'DUPLICATE_CONNECTION');
    expect(p?.reason).toMatch(/^credentials in use from two places/);
    await second.kill();
    second = null;
    await hub.waitState(id, 'in-sync', 90_000);
  });
});
