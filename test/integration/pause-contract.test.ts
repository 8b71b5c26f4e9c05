/**
 * nodes.pause, nodes.resume and nodes.rescan through both adapters of a real serving hub (in
 * this process: real SQLite and sockets) with a real cortex-node connected: malformed requests
 * get BAD_REQUEST, unknown and retired nodes NOT_FOUND and CONFLICT, on HTTP and WebSocket alike;
 * a pause shows as `paused` (never in-sync) and a resume brings `in-sync` back; a rescan answers
 * what each side found. (The restarts and what flows or not: pause-resume.test.ts.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeStatus, PauseView, RescanView } from '../../main/contract';
import { runHub, type RunningHub } from '../../main/server/run-hub';
import { Node, generateWorkspace, tempDir, waitFor } from '../helpers/procs';
import { invokeHttp, openWsApi, type WsApi } from '../helpers/api-client';

let dir: string;
let running: RunningHub;
let node: Node;
let id: string;
let api: WsApi;

const http = (op: string, input: unknown) => invokeHttp(running, op, input);
const wsCall = (op: string, input: unknown) => api.call(op, input);

const nodeStatus = async (): Promise<NodeStatus> => running.hub.status().nodes.find((n) => n.id === id)!;
const waitState = (state: string, ms = 60_000) => waitFor(`node ${id} ${state}`, async () => (await nodeStatus()).state === state, ms, 50);

beforeAll(async () => {
  dir = tempDir('pause-contract');
  running = await runHub({ dataDir: path.join(dir, 'hub'), grpc: '127.0.0.1:0', ui: { host: '127.0.0.1', port: 0 }, consoleLevel: false, staticDir: null });
  const added = running.hub.addNode('pausable');
  id = added.node.id;
  const workspace = path.join(dir, 'ws');
  generateWorkspace(workspace, { files: 30, seed: 7 });
  node = Node.start(added.join, workspace, path.join(dir, 'node-state'));
  api = await openWsApi(running);
  await waitState('in-sync');
});

afterAll(async () => {
  api?.close();
  await node?.kill();
  await running?.stop();
  if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
});

describe('nodes.pause, nodes.resume and nodes.rescan over HTTP and WebSocket', () => {
  it('refuse malformed requests, unknown and retired nodes with typed errors on both transports', async () => {
    const bad: [string, unknown][] = [
      ['nodes.pause', {}],
      ['nodes.pause', { id, all: true }],
      ['nodes.pause', { all: false }],
      ['nodes.pause', { id: 42 }],
      ['nodes.resume', { id: '' }],
      ['nodes.resume', { id, extra: 1 }],
      ['nodes.rescan', {}],
      ['nodes.rescan', { id: 'x'.repeat(65) }],
    ];
    for (const [op, input] of bad) {
      const h = await http(op, input);
      expect(h.status, `${op} ${JSON.stringify(input)}`).toBe(400);
      expect(h.body).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringContaining(op) } });
      expect(await wsCall(op, input), `${op} ${JSON.stringify(input)}`).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringContaining(op) } });
    }
    expect((await http('nodes.pause', {})).body).toMatchObject({ error: { message: expect.stringContaining('give either id (one node) or all: true') } });
    for (const op of ['nodes.pause', 'nodes.resume', 'nodes.rescan']) {
      expect(await http(op, { id: 'nope' })).toMatchObject({ status: 404, body: { ok: false, error: { code: 'NOT_FOUND', message: 'no node with id nope' } } });
      expect(await wsCall(op, { id: 'nope' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    }
    const gone = running.hub.addNode('gone-soon').node.id;
    running.hub.retireNode(gone);
    expect(await http('nodes.pause', { id: gone })).toMatchObject({ status: 409, body: { error: { code: 'CONFLICT', message: `node ${gone} is retired: there is no sync to pause` } } });
    expect(await wsCall('nodes.resume', { id: gone })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    expect(await wsCall('nodes.rescan', { id: gone })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    // A retired node is never among "all".
    const all = await http('nodes.resume', { all: true });
    expect((all.body as { result: PauseView }).result.nodes.map((n) => n.id)).not.toContain(gone);
  });

  it('pause (HTTP) shows paused, never in-sync; again (WebSocket) changes nothing; resume (WebSocket) brings in-sync back', async () => {
    const p = await http('nodes.pause', { id });
    expect(p.status).toBe(200);
    const paused = (p.body as { result: PauseView }).result;
    expect(paused.nodes).toEqual([{ id, name: 'pausable', paused: true, pausedAt: expect.any(Number), changed: true }]);
    await waitState('paused', 5000);
    expect(await nodeStatus()).toMatchObject({ state: 'paused', pausedAt: paused.nodes[0]!.pausedAt, connected: true });
    const listed = (await wsCall('nodes.list', {})) as { result: { id: string; pausedAt: number | null }[] };
    expect(listed.result.find((n) => n.id === id)?.pausedAt).toBe(paused.nodes[0]!.pausedAt);
    const again = await wsCall('nodes.pause', { id });
    expect(again).toMatchObject({ ok: true, result: { nodes: [{ id, paused: true, changed: false, pausedAt: paused.nodes[0]!.pausedAt }] } });
    // Paused stays paused: the status never says in-sync meanwhile.
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      seen.add((await nodeStatus()).state);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect([...seen]).toEqual(['paused']);
    const events = running.hub.store.events.list({ nodeId: id, kind: 'node.paused' });
    expect(events).toHaveLength(1);
    const r = await wsCall('nodes.resume', { id });
    expect(r).toMatchObject({ ok: true, result: { nodes: [{ id, paused: false, pausedAt: null, changed: true }] } });
    await waitState('in-sync');
    expect(await nodeStatus()).toMatchObject({ pausedAt: null });
    expect(running.hub.store.events.list({ nodeId: id, kind: 'node.resumed' })).toHaveLength(1);
  });

  it('pause and resume all (both transports) reach every active node', async () => {
    const second = running.hub.addNode('never-connected').node.id;
    const p = await wsCall('nodes.pause', { all: true });
    expect(p).toMatchObject({ ok: true });
    const got = (p as { result: PauseView }).result.nodes;
    expect(got.map((n) => n.id).sort()).toEqual([id, second].sort());
    expect(got.every((n) => n.paused && n.changed)).toBe(true);
    await waitState('paused', 5000);
    expect(running.hub.status().nodes.find((n) => n.id === second)).toMatchObject({ state: 'paused', connected: false });
    const r = await http('nodes.resume', { all: true });
    expect((r.body as { result: PauseView }).result.nodes.map((n) => [n.id, n.paused, n.changed]).sort()).toEqual([[id, false, true], [second, false, true]].sort());
    await waitState('in-sync');
    running.hub.retireNode(second);
  });

  it('rescan answers what each side found (HTTP), and says why a side has none (WebSocket)', async () => {
    const r = await http('nodes.rescan', { id });
    expect(r.status).toBe(200);
    const v = (r.body as { result: RescanView }).result;
    const files = (await nodeStatus()).files;
    expect(v).toMatchObject({ nodeId: id, hubMissing: null, nodeMissing: null, paused: false, rescanning: true, retried: 0 });
    // Both sides walked the whole tree (files and directories): at least the files the mirror holds.
    expect(v.hub!.scanned).toBeGreaterThanOrEqual(files);
    expect(v.node!.scanned).toBeGreaterThanOrEqual(files);
    expect(v.hub!.changed + v.hub!.deleted + v.node!.changed + v.node!.deleted).toBe(0);
    // Recorded as the node's event too.
    expect(running.hub.store.events.list({ nodeId: id, kind: 'node.rescan' })[0]!.data).toMatchObject({ hub: v.hub, node: v.node, retried: 0 });
    const lonely = running.hub.addNode('lonely').node.id;
    const w = await wsCall('nodes.rescan', { id: lonely });
    expect(w).toMatchObject({ ok: true, result: {
      nodeId: lonely, hub: null, node: null, rescanning: false,
      hubMissing: 'the mirror does not exist yet: the node has not connected since it was added',
      nodeMissing: 'the node is not connected: its workspace is looked at when it connects',
    } });
  });
});
