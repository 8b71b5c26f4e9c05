/**
 * The change feed and a path's history over both transports of a real serving hub (in this
 * process: real SQLite, real sockets, a real mirror on disk; no node connected, so what the
 * hub found on its side waits in the node's queue): `changes.list` pages and filters the same
 * way over WebSocket and HTTP, `changes.history` tells a path's timeline and why it is out of
 * sync (the node never connected; the change's place in its queue); malformed and hostile input
 * is refused with a typed error on both.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangesPage, FileHistoryView, Settings } from '../../main/contract';
import { runHub, type RunningHub } from '../../main/server/run-hub';
import { ROOT, runCli, tempDir, waitFor } from '../helpers/procs';
import { invokeHttp, openWsApi, resultOf } from '../helpers/api-client';

let dir: string;
let data: string;
let running: RunningHub;
let id: string;
const FILES = ['a.txt', 'docs/one.md', 'docs/two.md', 'docs/deep/three.md', 'docsx.md'];

const start = () => runHub({ dataDir: data, grpc: '127.0.0.1:0', ui: { host: '127.0.0.1', port: 0 }, consoleLevel: false, staticDir: path.join(ROOT, 'dist', 'renderer') });

beforeAll(async () => {
  dir = tempDir('changes-contract');
  data = path.join(dir, 'hub');
  running = await start();
  id = (await running.hub.handlers()['nodes.add']({ name: 'contract-changes' })).node.id;
  await running.stop();
  // Files made on the hub's side while it was down: the next start finds and queues them for the node.
  const mirror = path.join(data, 'mirrors', id);
  for (const f of FILES) {
    fs.mkdirSync(path.dirname(path.join(mirror, f)), { recursive: true });
    fs.writeFileSync(path.join(mirror, f), `content of ${f}\n`);
  }
  running = await start();
  await waitFor('the hub-side files queued', async () => {
    const page = await running.hub.handlers()['changes.list']({ nodeId: id, limit: 100 });
    return FILES.every((f) => page.items.some((c) => c.path === f));
  }, 30_000, 50);
});

afterAll(async () => {
  await running?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const http = (op: string, input: unknown) => invokeHttp(running, op, input);
const wsClient = () => openWsApi(running);
const result = resultOf;

describe('change operations over WebSocket and HTTP', () => {
  it('list the same feed on both transports, newest first, with each filter, a page at a time', async () => {
    const c = await wsClient();
    try {
      const overWs = result<ChangesPage>(await c.call('changes.list', { nodeId: id }));
      const overHttp = await http('changes.list', { nodeId: id });
      expect(overHttp.status).toBe(200);
      expect(result<ChangesPage>(overHttp.body)).toEqual(overWs);
      const queued = overWs.items.filter((x) => FILES.includes(x.path));
      expect(queued.map((x) => [x.direction, x.action, x.madeBy, x.nodeName])).toEqual(FILES.map(() => ['to-node', 'put', 'hub', 'contract-changes']));
      expect(queued.find((x) => x.path === 'a.txt')).toMatchObject({ size: 'content of a.txt\n'.length, sentence: expect.stringMatching(/^The hub's version \(17 B\) was queued for the node \(#\d+\)\.$/) });
      expect(overWs.items.map((x) => x.id)).toEqual([...overWs.items.map((x) => x.id)].sort((a, b) => b - a));
      expect(overWs.retentionDays).toBe(30);

      const paths = async (input: Record<string, unknown>) => result<ChangesPage>(await c.call('changes.list', { nodeId: id, ...input })).items.map((x) => x.path).filter((p) => FILES.includes(p)).sort();
      expect(await paths({ path: 'docs/one.md' })).toEqual(['docs/one.md']);
      // A prefix is a directory: docs/ and all below it, never docsx.md.
      expect(await paths({ path: 'docs', prefix: true })).toEqual(['docs/deep/three.md', 'docs/one.md', 'docs/two.md']);
      expect(await paths({ direction: 'to-hub' })).toEqual([]);
      expect(await paths({ kind: 'conflict' })).toEqual([]);
      expect(await paths({ kind: 'change', action: 'put' })).toEqual([...FILES].sort());

      // Keyset pages: two at a time, each older than the last, together the whole feed.
      const all = overWs.items.map((x) => x.id);
      const seen: number[] = [];
      let before: number | undefined;
      for (;;) {
        const page = result<ChangesPage>((await http('changes.list', { nodeId: id, limit: 2, ...(before ? { before } : {}) })).body);
        seen.push(...page.items.map((x) => x.id));
        if (page.next === null) break;
        before = page.next;
      }
      expect(seen).toEqual(all);
    } finally {
      c.close();
    }
  });

  it('tell a path\'s timeline and why it is out of sync, the same on both transports', async () => {
    const c = await wsClient();
    try {
      const h = result<FileHistoryView>(await c.call('changes.history', { nodeId: id, path: 'docs/two.md' }));
      expect(result<FileHistoryView>((await http('changes.history', { nodeId: id, path: 'docs/two.md' })).body)).toEqual(h);
      expect(h).toMatchObject({ nodeId: id, nodeName: 'contract-changes', path: 'docs/two.md', inSync: false, truncated: false, current: { type: 'file', size: 'content of docs/two.md\n'.length } });
      expect(h.events.map((e) => [e.action, e.direction])).toEqual([['put', 'to-node']]);
      // The node never connected; the change waits in its queue behind those queued before it.
      expect(h.why.map((w) => w.code)).toEqual(['disconnected', 'queued']);
      const queuedBefore = h.events[0]!.seq! - 1;
      expect(h.why[1]).toMatchObject({ ahead: expect.any(Number) });
      expect(h.why[1]!.ahead).toBeLessThanOrEqual(queuedBefore);
      expect(h.why[1]!.ahead).toBeGreaterThan(0);
      expect(h.why[0]!.sentence).toBe('The node has never connected.');
      // A path the hub never saw: nothing recorded, nothing waiting.
      const none = result<FileHistoryView>((await http('changes.history', { nodeId: id, path: 'never/seen.txt' })).body);
      expect(none).toMatchObject({ inSync: true, why: [], events: [], current: null });
    } finally {
      c.close();
    }
  });

  it('keep the retention setting within bounds', async () => {
    expect(result<Settings>((await http('settings.set', { changesRetentionDays: 7 })).body).changesRetentionDays).toBe(7);
    expect(result<ChangesPage>((await http('changes.list', { limit: 1 })).body).retentionDays).toBe(7);
    for (const bad of [0, 1.5, 100_000, '7']) {
      const r = await http('settings.set', { changesRetentionDays: bad });
      expect(r.status, String(bad)).toBe(400);
      expect(r.body).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/changesRetentionDays/) } });
    }
    await http('settings.set', { changesRetentionDays: 30 });
  });

  it('answer on the command line: the feed filtered, a page at a time, and usage errors', async () => {
    const under = await runCli('cortex-hub', ['changes', '--data', data, '--node', id, '--under', 'docs/', '--to', 'node', '--kind', 'change', '--json']);
    expect(under.code, under.stderr).toBe(0);
    const page = JSON.parse(under.stdout) as ChangesPage;
    // The directory itself, what is under it (its subdirectory too), never docsx.md.
    expect([...new Set(page.items.map((x) => x.path))].sort()).toEqual(['docs', 'docs/deep', 'docs/deep/three.md', 'docs/one.md', 'docs/two.md']);
    const text = await runCli('cortex-hub', ['changes', '--data', data, '--limit', '2']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^WHEN +NODE +PATH +WHAT$/m);
    expect(text.stdout).toMatch(/contract-changes .*The hub's version \(\d+ B\) was queued for the node/);
    const next = /Older: the same command with --before (\d+)/.exec(text.stdout)?.[1];
    expect(next).toBeDefined();
    const older = JSON.parse((await runCli('cortex-hub', ['changes', '--data', data, '--limit', '2', '--before', next!, '--json'])).stdout) as ChangesPage;
    expect(older.items.every((x) => x.id < Number(next))).toBe(true);
    for (const args of [['--kind', 'everything'], ['--to', 'sideways'], ['--path', 'a', '--under', 'b'], ['--limit', '0'], ['--before', 'x']]) {
      const r = await runCli('cortex-hub', ['changes', '--data', data, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
    }
    const unknown = await runCli('cortex-hub', ['changes', '--data', data, '--node', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/NOT_FOUND: no node with id nope/);
  });

  it('refuse malformed and hostile input with typed errors on both transports', async () => {
    const cases: [string, unknown, string, RegExp][] = [
      ['changes.list', { nodeId: 'nope' }, 'NOT_FOUND', /no node with id nope/],
      ['changes.history', { nodeId: 'nope', path: 'a.txt' }, 'NOT_FOUND', /no node with id nope/],
      ['changes.history', { nodeId: id }, 'BAD_REQUEST', /path/],
      ['changes.history', { nodeId: id, path: '' }, 'BAD_REQUEST', /not empty/],
      ['changes.history', { nodeId: id, path: '../../etc/passwd' }, 'BAD_REQUEST', /"\." or "\.\." segment/],
      ['changes.history', { nodeId: id, path: '/etc/passwd' }, 'BAD_REQUEST', /is absolute/],
      ['changes.list', { path: 'a\0b' }, 'BAD_REQUEST', /NUL/],
      ['changes.list', { path: 'x'.repeat(5000) }, 'BAD_REQUEST', /path/],
      ['changes.list', { limit: 0 }, 'BAD_REQUEST', /limit/],
      ['changes.list', { limit: 1001 }, 'BAD_REQUEST', /limit/],
      ['changes.list', { before: -1 }, 'BAD_REQUEST', /before/],
      ['changes.list', { before: 'x' }, 'BAD_REQUEST', /before/],
      ['changes.list', { kind: 'everything' }, 'BAD_REQUEST', /kind/],
      ['changes.list', { direction: 'sideways' }, 'BAD_REQUEST', /direction/],
      ['changes.list', { action: 'drop table' }, 'BAD_REQUEST', /action/],
      ['changes.list', { nodeId: id, extra: 1 }, 'BAD_REQUEST', /extra/],
      ['changes.list', [], 'BAD_REQUEST', /input/],
    ];
    const c = await wsClient();
    try {
      for (const [op, input, code, message] of cases) {
        const overWs = await c.call(op, input);
        expect(overWs, `${op} ${JSON.stringify(input).slice(0, 80)} over WebSocket`).toMatchObject({ ok: false, error: { code } });
        expect((overWs as { error: { message: string } }).error.message).toMatch(message);
        const overHttp = await http(op, input);
        expect(overHttp.body, `${op} ${JSON.stringify(input).slice(0, 80)} over HTTP`).toMatchObject({ ok: false, error: { code } });
        expect(overHttp.status).toBe(code === 'NOT_FOUND' ? 404 : 400);
      }
      // The hub still answers.
      expect(result<ChangesPage>(await c.call('changes.list', { limit: 1 })).items).toHaveLength(1);
    } finally {
      c.close();
    }
  });
});
