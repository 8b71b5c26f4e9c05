/**
 * What the hub knows of a node's side, and the states around connecting, with a real hub and
 * node on loopback: a node added but never connected is `new` (not `disconnected`, not a
 * problem); once it connected, its detail says where from, its version and its workspace path
 * (kept after it goes away, when it is `disconnected`); a Hello whose fields are not short
 * printable text is still accepted, the fields left out and logged; the pending list to the
 * node is paged through the CLI as through the contract.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeDetail, PendingPage } from '../../main/contract';
import { decodeJoin } from '../../main/sync/join';
import { VERSION } from '../../main/util/version';
import { HostileSession, PROTOCOL_VERSION } from '../helpers/hostile-client';
import { Hub, Node, runCli, tempDir, waitFor } from '../helpers/procs';

describe('node facts and the new state', () => {
  const dir = tempDir('node-facts');
  const ws = path.join(dir, 'ws');
  let hub: Hub;
  let node: Node | null = null;
  let fresh: string;
  let worker: { id: string; join: string };
  const cli = (args: string[]) => runCli('cortex-hub', [...args, '--data', hub.dataDir]);
  const detail = (id: string) => hub.invoke('nodes.detail', { id });

  beforeAll(async () => {
    fs.mkdirSync(ws);
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(ws, `f${i}.txt`), `file ${i}\n`);
    hub = await Hub.start(path.join(dir, 'hub'));
    fresh = (await hub.addNode('fresh')).id;
    worker = await hub.addNode('worker');
  });

  afterAll(async () => {
    await node?.stop();
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('calls a node that never connected new, with no facts, on the API and the CLI', async () => {
    expect((await hub.node(fresh)).state).toBe('new');
    expect((await hub.node(worker.id)).state).toBe('new');
    const status = JSON.parse((await cli(['status', '--json'])).stdout) as { nodes: { id: string; state: string; toHubPercent: unknown; toNodePercent: unknown }[] };
    expect(status.nodes.find((n) => n.id === fresh)).toMatchObject({ state: 'new', toHubPercent: null, toNodePercent: null });
    expect((await detail(fresh)).facts).toEqual({ host: null, version: null, workspace: null, connectedAt: null });
  });

  it('knows, once the node connected, where from, its version and its workspace path', async () => {
    node = Node.start(worker.join, ws, path.join(dir, 'state'));
    await hub.waitState(worker.id, 'in-sync', 60_000);
    const d = await detail(worker.id);
    expect(d.facts).toEqual({ host: '127.0.0.1', version: VERSION, workspace: path.resolve(ws), connectedAt: expect.any(Number) });
    expect(d.node).toMatchObject({ toHubPercent: null, toHubEtaMs: null, toNodePercent: null, toNodeEtaMs: null });
    const show = await cli(['node', 'show', worker.id]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(`node: 127.0.0.1  cortex-node ${VERSION}  workspace ${path.resolve(ws)}`);
    // Events as sentences, not JSON.
    expect(show.stdout).toMatch(/Connected from 127\.0\.0\.1 running cortex-node /);
    expect(show.stdout).not.toMatch(/\{"peer"/);
    const json = JSON.parse((await cli(['node', 'show', worker.id, '--json'])).stdout) as NodeDetail;
    expect(json.facts.workspace).toBe(path.resolve(ws));
    // What the hub sends counts for the session too (the overview's rate is both ways).
    expect(d.node.bytesSent).toBe(0);
    fs.writeFileSync(path.join(hub.mirror(worker.id), 'sent.bin'), crypto.randomBytes(3000));
    await waitFor('the hub-side file on the node', () => fs.existsSync(path.join(ws, 'sent.bin')), 30_000);
    await waitFor('3000 bytes counted as sent', async () => (await hub.node(worker.id)).bytesSent === 3000, 10_000);
  });

  it('keeps the facts when the node goes away, which makes it disconnected, not new', async () => {
    await node!.stop();
    node = null;
    await hub.waitState(worker.id, 'disconnected', 30_000);
    expect((await detail(worker.id)).facts).toMatchObject({ host: '127.0.0.1', version: VERSION, workspace: path.resolve(ws) });
    expect((await hub.node(fresh)).state).toBe('new');
  });

  it('pages the changes waiting for the node through the CLI (--to node), with the totals', async () => {
    for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(hub.mirror(worker.id), `from-hub-${i}.txt`), `hub ${i}\n`);
    await waitFor('three hub-side changes for the node', async () => (await hub.node(worker.id)).toNodeFiles === 3, 30_000);
    const first = await cli(['node', 'pending', worker.id, '--limit', '2', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const p1 = JSON.parse(first.stdout) as PendingPage;
    expect(p1).toMatchObject({ direction: 'to-node', total: 3, totalBytes: 3 * 6, next: expect.any(String) });
    expect(p1.items).toHaveLength(2);
    const p2 = JSON.parse((await cli(['node', 'pending', worker.id, '--to', 'node', '--limit', '2', '--cursor', p1.next!, '--json'])).stdout) as PendingPage;
    expect([...p1.items, ...p2.items].map((i) => i.path).sort()).toEqual(['from-hub-0.txt', 'from-hub-1.txt', 'from-hub-2.txt']);
    expect(p2.next).toBeNull();
    const text = await cli(['node', 'pending', worker.id]);
    expect(text.stdout).toContain('Pending hub → node: 3 changes, 18 B');
    const hubSide = JSON.parse((await cli(['node', 'pending', worker.id, '--to', 'hub', '--json'])).stdout) as PendingPage;
    expect(hubSide).toMatchObject({ direction: 'to-hub', total: 0, items: [], next: null });
    const bad = await cli(['node', 'pending', worker.id, '--to', 'sideways']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--to must be hub or node');
  });

  it('accepts a Hello whose version and workspace are not printable text, leaving them out and saying so in the log', async () => {
    const added = await hub.addNode('odd-hello');
    const conn = { hub: hub.info.grpc, fingerprint: hub.info.fingerprint, token: decodeJoin(added.join).token };
    const s = await HostileSession.open(conn);
    try {
      s.send({ hello: { nodeId: added.id, indexId: crypto.randomUUID(), protocol: PROTOCOL_VERSION, version: 'v\u202e1', workspace: `/ws/${'x'.repeat(5000)}` } });
      await s.next('Welcome', (m) => m.welcome);
      const d = await detail(added.id);
      expect(d.facts).toMatchObject({ host: '127.0.0.1', version: null, workspace: null });
      await waitFor('the refusal in the log', () => hub.logLines().some((l) => l.msg === 'input.rejected' && l.code === 'BAD_HELLO_FIELD' && l.node === added.id), 10_000);
      const logged = hub.logLines().find((l) => l.code === 'BAD_HELLO_FIELD')!;
      expect(logged.fields).toEqual({ version: 'holds control or invisible formatting characters', workspace: 'longer than 4096 characters' });
    } finally {
      s.close();
    }
  });
});
