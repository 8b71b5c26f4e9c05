/**
 * The conflict operations of the contract over both transports of a real serving hub (in this
 * process: real SQLite, real sockets, a real mirror on disk; no node connected, so what a
 * resolution changes waits for it as changes to send): `conflicts.list`, `conflicts.show` and
 * `conflicts.resolve` answer over WebSocket and HTTP alike; malformed and hostile input (paths
 * that climb out, absolute, NUL, a symlinked directory leading outside the mirror, names that
 * are no conflict copy, unknown nodes) is refused with a typed error and changes nothing,
 * inside the mirror or outside it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConflictDetail, ConflictList, ConflictResolution } from '../../main/contract';
import { runHub, type RunningHub } from '../../main/server/run-hub';
import { ROOT, snapshot, tempDir, waitFor } from '../helpers/procs';
import { invokeHttp, openWsApi, resultOf } from '../helpers/api-client';

let dir: string;
let data: string;
let running: RunningHub;
let id: string;
let mirror: string;
const outside = () => path.join(dir, 'outside');
const COPY_A = 'notes.sync-conflict-20261125-120000-hub.md';
const COPY_B = 'docs/plan.sync-conflict-20261125-130000-node.txt';
const ESCAPE = 'evil/secret.sync-conflict-20261125-120000-hub.txt';

const start = () => runHub({ dataDir: data, grpc: '127.0.0.1:0', ui: { host: '127.0.0.1', port: 0 }, consoleLevel: false, staticDir: path.join(ROOT, 'dist', 'renderer') });

beforeAll(async () => {
  dir = tempDir('conflicts-contract');
  data = path.join(dir, 'hub');
  running = await start();
  id = (await running.hub.handlers()['nodes.add']({ name: 'contract-conflicts' })).node.id;
  await running.stop();
  // The mirror as a node would have left it: two conflict copies beside their winners, and a
  // symlinked directory that leads outside the mirror, to a file named like a conflict copy.
  mirror = path.join(data, 'mirrors', id);
  fs.mkdirSync(path.join(mirror, 'docs'), { recursive: true });
  fs.writeFileSync(path.join(mirror, 'notes.md'), 'one\ntwo (node)\nthree\n');
  fs.writeFileSync(path.join(mirror, COPY_A), 'one\ntwo (hub)\nthree\n');
  fs.writeFileSync(path.join(mirror, 'docs/plan.txt'), 'the hub\'s plan\n');
  fs.writeFileSync(path.join(mirror, COPY_B), 'the node\'s plan\n');
  fs.mkdirSync(outside());
  fs.writeFileSync(path.join(outside(), path.basename(ESCAPE)), 'not the hub\'s to touch\n');
  fs.symlinkSync(outside(), path.join(mirror, 'evil'));
  // The next start verifies the mirror: what is there is recorded (and queued for the node).
  running = await start();
  await waitFor('the copies recorded', async () => (await running.hub.handlers()['conflicts.list']({})).total === 2, 30_000, 50);
});

afterAll(async () => {
  await running?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const http = (op: string, input: unknown) => invokeHttp(running, op, input);
const wsClient = () => openWsApi(running);
const result = resultOf;

describe('conflict operations over WebSocket and HTTP', () => {
  it('list and show the same conflicts on both transports', async () => {
    const c = await wsClient();
    try {
      const overWs = result<ConflictList>(await c.call('conflicts.list', {}));
      const overHttp = await http('conflicts.list', { nodeId: id });
      expect(overHttp.status).toBe(200);
      expect(result<ConflictList>(overHttp.body)).toEqual(overWs);
      expect(overWs.total).toBe(2);
      expect(overWs.conflicts.map((x) => [x.copy, x.original, x.copySide])).toEqual([
        [COPY_B, 'docs/plan.txt', 'node'],
        [COPY_A, 'notes.md', 'hub'],
      ]);
      expect(result<ConflictList>(await c.call('conflicts.list', { limit: 1 }))).toMatchObject({ total: 2, conflicts: [{ copy: COPY_B }] });
      const shown = result<ConflictDetail>(await c.call('conflicts.show', { nodeId: id, copy: COPY_A }));
      expect(shown.diff).toEqual({ kind: 'text', truncated: false, rows: [
        { op: 'same', text: 'one', a: 1, b: 1 },
        { op: 'del', text: 'two (node)', a: 2, b: null },
        { op: 'add', text: 'two (hub)', a: null, b: 2 },
        { op: 'same', text: 'three', a: 3, b: 3 },
      ] });
      expect(result<ConflictDetail>((await http('conflicts.show', { nodeId: id, copy: COPY_A })).body)).toEqual(shown);
    } finally {
      c.close();
    }
  });

  it('refuse malformed and hostile input with typed errors on both transports, and change nothing', async () => {
    const mirrorBefore = snapshot(mirror);
    const outsideBefore = snapshot(outside());
    const cases: [string, unknown, string, RegExp][] = [
      ['conflicts.resolve', { nodeId: id, copy: COPY_A }, 'BAD_REQUEST', /keep/],
      ['conflicts.resolve', { nodeId: id, copy: COPY_A, keep: 'mine' }, 'BAD_REQUEST', /keep/],
      ['conflicts.resolve', { nodeId: id, copy: COPY_A, keep: 'both', extra: 1 }, 'BAD_REQUEST', /extra|unrecognized/i],
      ['conflicts.resolve', { nodeId: id, copy: `../${id}/${COPY_A}`, keep: 'winner' }, 'BAD_REQUEST', /"\.\." segment/],
      ['conflicts.resolve', { nodeId: id, copy: `/etc/${COPY_A}`, keep: 'winner' }, 'BAD_REQUEST', /absolute/],
      ['conflicts.resolve', { nodeId: id, copy: `a\0${COPY_A}`, keep: 'winner' }, 'BAD_REQUEST', /NUL/],
      ['conflicts.resolve', { nodeId: id, copy: 'x'.repeat(5000), keep: 'winner' }, 'BAD_REQUEST', /4096/],
      ['conflicts.resolve', { nodeId: id, copy: 'notes.md', keep: 'winner' }, 'BAD_REQUEST', /not a conflict copy/],
      ['conflicts.resolve', { nodeId: id, copy: 42, keep: 'winner' }, 'BAD_REQUEST', /copy/],
      ['conflicts.resolve', { nodeId: 'nope', copy: COPY_A, keep: 'winner' }, 'NOT_FOUND', /no node with id nope/],
      // Through the symlinked directory: never recorded (scans do not follow links), never touched.
      ['conflicts.resolve', { nodeId: id, copy: ESCAPE, keep: 'winner' }, 'NOT_FOUND', /no conflict copy/],
      ['conflicts.resolve', { nodeId: id, copy: ESCAPE, keep: 'both' }, 'NOT_FOUND', /no conflict copy/],
      ['conflicts.show', { nodeId: id, copy: ESCAPE }, 'NOT_FOUND', /no conflict copy/],
      ['conflicts.show', { nodeId: id }, 'BAD_REQUEST', /copy/],
      ['conflicts.list', { nodeId: 'nope' }, 'NOT_FOUND', /no node/],
      ['conflicts.list', { limit: 0 }, 'BAD_REQUEST', /limit/],
    ];
    const c = await wsClient();
    try {
      for (const [op, input, code, why] of cases) {
        const what = `${op} ${JSON.stringify(input).slice(0, 120)}`;
        const w = await c.call(op, input);
        expect(w, what).toMatchObject({ ok: false, error: { code } });
        expect(!w.ok && w.error.message, what).toMatch(why);
        const h = await http(op, input);
        expect(h.status, what).toBe(code === 'NOT_FOUND' ? 404 : 400);
        expect(h.body, what).toMatchObject({ ok: false, error: { code } });
      }
    } finally {
      c.close();
    }
    expect(snapshot(mirror)).toEqual(mirrorBefore);
    expect(snapshot(outside())).toEqual(outsideBefore);
  });

  it('resolve over WebSocket (keep both) and HTTP (keep the copy): the mirror changes, the count drops, the change waits for the node', async () => {
    const c = await wsClient();
    try {
      const both = result<ConflictResolution>(await c.call('conflicts.resolve', { nodeId: id, copy: COPY_A, keep: 'both' }));
      expect(both).toEqual({ nodeId: id, copy: COPY_A, keep: 'both', original: 'notes.md', result: 'notes (hub copy 20261125-120000).md' });
      expect(fs.existsSync(path.join(mirror, COPY_A))).toBe(false);
      expect(fs.readFileSync(path.join(mirror, both.result!), 'utf8')).toBe('one\ntwo (hub)\nthree\n');
      // Resolved once: a second time it is gone.
      expect(await c.call('conflicts.resolve', { nodeId: id, copy: COPY_A, keep: 'winner' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    } finally {
      c.close();
    }
    const h = await http('conflicts.resolve', { nodeId: id, copy: COPY_B, keep: 'copy' });
    expect(h.status).toBe(200);
    expect(result<ConflictResolution>(h.body).result).toBe('docs/plan.txt');
    expect(fs.readFileSync(path.join(mirror, 'docs/plan.txt'), 'utf8')).toBe('the node\'s plan\n');
    expect(fs.existsSync(path.join(mirror, COPY_B))).toBe(false);
    // Recorded at once (not when the watcher gets to it): no conflicts left, the changes queued for the node.
    expect(result<ConflictList>((await http('conflicts.list', {})).body)).toEqual({ conflicts: [], total: 0 });
    const detail = await running.hub.handlers()['nodes.detail']({ id });
    expect(detail.node.conflicts).toBe(0);
    expect(detail.toNode.map((t) => t.path)).toEqual(expect.arrayContaining([COPY_A, COPY_B, 'docs/plan.txt', 'notes (hub copy 20261125-120000).md']));
    expect(fs.readFileSync(path.join(outside(), path.basename(ESCAPE)), 'utf8')).toBe('not the hub\'s to touch\n');
  });
});
