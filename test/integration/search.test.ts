/**
 * Search across mirrors on a real serving hub (in this process: real SQLite and sockets) with a
 * real cortex-node: what the node has is found by a piece of its name once synced, on HTTP and
 * WebSocket alike and through the CLI (`cortex-hub search`, text and --json); a file renamed or
 * deleted on the node leaves the results and its new name enters them; hostile input (empty,
 * NUL, too long, wrong types, unknown fields, bad cursors, FTS/LIKE/GLOB syntax and quotes) gets
 * BAD_REQUEST or is matched literally, on both transports, and the hub keeps serving.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '../../main/contract/bridge';
import type { SearchPage } from '../../main/contract';
import { runHub, type RunningHub } from '../../main/server/run-hub';
import { Node, runCli, tempDir, waitFor } from '../helpers/procs';
import { invokeHttp, openWsApi, type WsApi } from '../helpers/api-client';

let dir: string;
let data: string;
let running: RunningHub;
let node: Node;
let id: string;
let workspace: string;
let api: WsApi;

const http = async (op: string, input: unknown) => (await invokeHttp(running, op, input)).body;
const wsCall = (op: string, input: unknown) => api.call(op, input);

const transports = { http, ws: wsCall } as const;
const ok = (e: Envelope): SearchPage => {
  if (!e.ok) throw new Error(`refused: ${JSON.stringify(e.error)}`);
  return e.result as SearchPage;
};
const found = async (call: typeof http, query: string, extra: object = {}) => ok(await call('search.paths', { query, ...extra })).hits.map((h) => h.path).sort();
const cli = (...args: string[]) => runCli('cortex-hub', [...args, '--data', data]);

const FILES = ['src/app/Main.ts', 'src/app/helper.ts', 'docs/Guide.md', 'notes/old-name.txt', 'notes/gone.txt', 'odd/say "hi" 50%_off.txt', 'odd/a*b[c].txt'];

beforeAll(async () => {
  dir = tempDir('search');
  data = path.join(dir, 'hub');
  running = await runHub({ dataDir: data, grpc: '127.0.0.1:0', ui: { host: '127.0.0.1', port: 0 }, consoleLevel: false, staticDir: null });
  const added = running.hub.addNode('searchable');
  id = added.node.id;
  workspace = path.join(dir, 'ws');
  for (const f of FILES) {
    fs.mkdirSync(path.dirname(path.join(workspace, f)), { recursive: true });
    fs.writeFileSync(path.join(workspace, f), `content of ${f}\n`);
  }
  node = Node.start(added.join, workspace, path.join(dir, 'node-state'));
  api = await openWsApi(running);
  await waitFor('in-sync', () => running.hub.status().nodes.find((n) => n.id === id)?.state === 'in-sync', 60_000, 50);
});

afterAll(async () => {
  api?.close();
  await node?.kill();
  await running?.stop();
  if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
});

describe('search.paths on a real hub with a synced node', () => {
  it.each(Object.keys(transports) as (keyof typeof transports)[])('finds synced paths by a piece of their name, with the node and facts (%s)', async (t) => {
    const call = transports[t];
    expect(await found(call, 'main.ts')).toEqual(['src/app/Main.ts']);
    expect(await found(call, 'app/')).toEqual(['src/app/Main.ts', 'src/app/helper.ts']);
    expect(await found(call, 'src/app')).toEqual(['src/app', 'src/app/Main.ts', 'src/app/helper.ts']);
    expect(await found(call, 'GUIDE')).toEqual(['docs/Guide.md']);
    expect(await found(call, 'no such name anywhere')).toEqual([]);
    const page = ok(await call('search.paths', { query: 'Guide.md', nodeId: id }));
    expect(page.match).toBe('substring');
    expect(page.hits).toEqual([{
      nodeId: id, nodeName: 'searchable', nodeRetired: false, path: 'docs/Guide.md', type: 'file',
      size: 'content of docs/Guide.md\n'.length, mtimeMs: expect.any(Number), conflictCopy: false,
    }]);
    // The mirror keeps the node's mtime to the millisecond.
    expect(Math.abs(page.hits[0]!.mtimeMs - fs.statSync(path.join(workspace, 'docs/Guide.md')).mtimeMs)).toBeLessThan(1);
    // Under 3 characters: names that start with it.
    const short = ok(await call('search.paths', { query: 'he' }));
    expect(short.match).toBe('name-prefix');
    expect(short.hits.map((h) => h.path)).toEqual(['src/app/helper.ts']);
  });

  it.each(Object.keys(transports) as (keyof typeof transports)[])('matches quotes, LIKE, GLOB and FTS syntax literally (%s)', async (t) => {
    const call = transports[t];
    expect(await found(call, '"hi" 50%_')).toEqual(['odd/say "hi" 50%_off.txt']);
    expect(await found(call, '*b[c]')).toEqual(['odd/a*b[c].txt']);
    for (const q of ['%%%', '___', '"', '* OR *', 'NEAR(a b)', "'; DROP TABLE files; --", '^main', 'path:main', '\\\\\\', '%', '_']) {
      expect(await found(call, q), q).toEqual([]);
    }
  });

  it.each(Object.keys(transports) as (keyof typeof transports)[])('refuses malformed requests with typed errors, and keeps serving (%s)', async (t) => {
    const call = transports[t];
    const bad: [unknown, RegExp][] = [
      [{ query: '' }, /search.paths: query: the search query is empty/],
      [{ query: '   ' }, /the search query is empty/],
      [{ query: 'a\0b' }, /query: the search query contains NUL/],
      [{ query: 'x'.repeat(1025) }, /longer than 1024 characters/],
      [{ query: 'x'.repeat(100_000) }, /query/],
      [{ query: 'ab\uD800' }, /lone surrogate/],
      [{ query: 42 }, /query/],
      [{}, /query/],
      [{ query: 'main', extra: 1 }, /extra/],
      [{ query: 'main', limit: 0 }, /limit/],
      [{ query: 'main', limit: 501 }, /limit/],
      [{ query: 'main', limit: 1.5 }, /limit/],
      [{ query: 'main', cursor: 'not-a-cursor' }, /search.paths: the cursor is not the `next` of an earlier page/],
      [{ query: 'ma', cursor: '12' }, /the cursor is not/],
      [{ query: 'main', nodeId: '' }, /nodeId/],
    ];
    for (const [input, message] of bad) {
      const e = await call('search.paths', input);
      expect(e.ok, JSON.stringify(input).slice(0, 80)).toBe(false);
      if (!e.ok) {
        expect(e.error.code).toBe('BAD_REQUEST');
        expect(e.error.message).toMatch(message);
      }
    }
    const unknown = await call('search.paths', { query: 'main', nodeId: 'no-such-node' });
    expect(unknown.ok ? null : unknown.error).toEqual({ code: 'NOT_FOUND', message: 'no node with id no-such-node' });
    expect(await found(call, 'main.ts')).toEqual(['src/app/Main.ts']);
  });

  it('pages with the cursor it gave, on both transports', async () => {
    for (const call of [http, wsCall]) {
      const first = ok(await call('search.paths', { query: 'src', limit: 2 }));
      expect(first.hits).toHaveLength(2);
      expect(first.next).not.toBeNull();
      const second = ok(await call('search.paths', { query: 'src', limit: 2, cursor: first.next }));
      const all = [...first.hits, ...second.hits].map((h) => h.path).sort();
      expect(all).toEqual(['src', 'src/app', 'src/app/Main.ts', 'src/app/helper.ts']);
      expect(second.next).toBeNull();
    }
  });

  it('the CLI searches through the running hub: --json and a table', async () => {
    const j = await cli('search', 'main.ts', '--json');
    expect(j.code, j.stderr).toBe(0);
    expect((JSON.parse(j.stdout) as SearchPage).hits.map((h) => [h.nodeName, h.path])).toEqual([['searchable', 'src/app/Main.ts']]);
    const text = await cli('search', 'src/app');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^NODE\s+TYPE\s+SIZE\s+MODIFIED\s+PATH$/m);
    expect(text.stdout).toMatch(/^searchable\s+folder\s+-\s+\S+ \S+\s+src\/app$/m);
    expect(text.stdout).toMatch(/^searchable\s+file\s+27 B\s+\S+ \S+\s+src\/app\/Main\.ts$/m);
    expect(text.stdout).toMatch(/^3 paths containing "src\/app"\.$/m);
    const paged = await cli('search', 'src/app', '--limit', '2');
    expect(paged.stdout).toMatch(/^2 paths containing "src\/app" \(the first page\)\.\nMore: cortex-hub search "src\/app" --limit 2 --cursor "\d+"$/m);
    const none = await cli('search', 'zzz-not-there');
    expect(none.stdout.trim()).toBe('No paths containing "zzz-not-there" in any mirror.');
    for (const args of [['search'], ['search', 'a', 'b']]) {
      const r = await cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/usage: cortex-hub search QUERY/);
    }
    const refused = await cli('search', 'x'.repeat(1100));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/longer than 1024 characters/);
  });

  it('the hub\'s indexer puts every recorded path into the trigram index when idle', async () => {
    await waitFor('the trigram index caught up', () => running.hub.store.search.unindexed() === 0, 30_000, 50);
    expect(await found(http, 'main.ts')).toEqual(['src/app/Main.ts']);
  });

  it('a file renamed or deleted on the node leaves the results; the new name enters them', async () => {
    fs.renameSync(path.join(workspace, 'notes/old-name.txt'), path.join(workspace, 'notes/new-name.txt'));
    fs.rmSync(path.join(workspace, 'notes/gone.txt'));
    await waitFor('the rename and the deletion in the index', async () => (await found(http, 'notes/')).join() === 'notes/new-name.txt', 60_000, 50);
    for (const call of [http, wsCall]) {
      expect(await found(call, 'old-name')).toEqual([]);
      expect(await found(call, 'gone.txt')).toEqual([]);
      expect(await found(call, 'new-name')).toEqual(['notes/new-name.txt']);
    }
    // A folder removed on the node takes everything under it out of the results.
    fs.rmSync(path.join(workspace, 'src'), { recursive: true });
    await waitFor('the folder gone from the index', async () => (await found(http, 'src')).length === 0, 60_000, 50);
    expect(await found(wsCall, 'main.ts')).toEqual([]);
  });
});
