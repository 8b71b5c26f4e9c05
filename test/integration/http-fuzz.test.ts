/**
 * Nothing a client sends to the UI/API port stops the hub (the design invariant "bad input never stops the hub"): against a
 * real `cortex-hub serve` with a real `cortex-node` connected, raw TCP requests (malformed
 * request lines, odd targets, bad escapes on every route, huge headers, bad Host headers, bad
 * WebSocket upgrades), junk WebSocket frames and `null`/non-object/deeply nested JSON messages
 * with and without the token, hand-picked and from a seeded generator. After each case the
 * hub process is alive, answers the next `status` request, and nothing reached the process's
 * safety net (a handler that leaks an error is a bug even when the hub survives it); the node
 * keeps syncing (checked midway and at the end).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hub, Node, rng, tempDir, waitFor } from '../helpers/procs';

const SEED = Number(process.env.CORTEX_FUZZ_SEED ?? 20261201);

let dir: string;
let workspace: string;
let hub: Hub;
let node: Node;
let nodeId: string;
let port: number;
let host: string;
let probes = 0;
let hookTemplate: string;

beforeAll(async () => {
  dir = tempDir('http-fuzz');
  workspace = path.join(dir, 'ws');
  fs.mkdirSync(workspace);
  fs.writeFileSync(path.join(workspace, 'hello.txt'), 'hello\n');
  hub = await Hub.start(path.join(dir, 'hub'));
  port = Number(new URL(hub.info.ui).port);
  host = `127.0.0.1:${port}`;
  const added = await hub.addNode('fuzzed');
  nodeId = added.id;
  node = Node.start(added.join, workspace, path.join(dir, 'node-state'));
  await hub.waitState(nodeId, 'in-sync');
  hookTemplate = (await hub.invoke('agents.createTemplate', { name: 'hooked', command: 'true', nodeId, webhook: true })).template.id;
});

afterAll(async () => {
  // The clean stop is a test of its own (the last one): here, just make sure nothing is left.
  await node?.kill();
  await hub?.kill();
  if (!process.env.CORTEX_KEEP_TEST_DIRS && dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Sends bytes on a fresh connection; resolves with what came back once the server closes or goes quiet. */
function raw(data: string | Buffer | (string | Buffer)[], quietMs = 250, maxMs = 4000, reset = false): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let quiet: NodeJS.Timeout | null = null;
    const done = () => {
      if (quiet) clearTimeout(quiet);
      clearTimeout(overall);
      s.destroy();
      resolve(Buffer.concat(got).toString('latin1'));
    };
    const overall = setTimeout(done, maxMs);
    s.on('connect', () => {
      for (const d of Array.isArray(data) ? data : [data]) s.write(d);
      // Gone before the answer: the server writes into a reset connection.
      if (reset) s.resetAndDestroy();
    });
    s.on('data', (d) => {
      got.push(d);
      if (quiet) clearTimeout(quiet);
      quiet = setTimeout(done, quietMs);
    });
    s.on('error', () => undefined);
    s.on('close', done);
  });
}

function statusOf(response: string): number | null {
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(response);
  return m ? Number(m[1]) : null;
}

/** The typed error of a JSON response, if it is one. */
function errorOf(response: string): { code: string; message: string } | null {
  const at = response.indexOf('\r\n\r\n');
  if (at < 0 || !/content-type: application\/json/i.test(response.slice(0, at))) return null;
  try {
    return (JSON.parse(response.slice(at + 4)) as { error?: { code: string; message: string } }).error ?? null;
  } catch {
    return null;
  }
}

function bad(name: string): string[] {
  return hub.logLines().filter((l) => l.msg === 'process.uncaught_exception' || l.msg === 'process.unhandled_rejection' || l.msg === 'api.failed').map((l) => `${name}: ${l.msg} ${String(l.error)}`);
}

/** After a case: the hub lives, answers status, and nothing reached its safety net. */
async function healthy(name: string): Promise<void> {
  if (hub.p.proc.exitCode !== null || hub.p.proc.signalCode !== null) {
    throw new Error(`case "${name}" stopped the hub (exit ${hub.p.proc.exitCode ?? hub.p.proc.signalCode}):\n${hub.p.output().slice(-3000)}`);
  }
  const s = await hub.status().catch((e: Error) => { throw new Error(`after case "${name}" the hub does not answer status: ${e.message}`); });
  expect(s.nodes.map((n) => n.id)).toContain(nodeId);
  expect(bad(name)).toEqual([]);
}

/** A new file on the node reaches the mirror. */
async function stillSyncing(): Promise<void> {
  const name = `probe-${++probes}.txt`;
  const content = crypto.randomBytes(16).toString('hex');
  fs.writeFileSync(path.join(workspace, name), content);
  await waitFor(`${name} in the mirror`, () => {
    try {
      return fs.readFileSync(path.join(hub.mirror(nodeId), name), 'utf8') === content;
    } catch {
      return false;
    }
  }, 60_000);
}

const upgradeHeaders = (extra = '') => `Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n${extra}`;
const get = (target: string, headers = `Host: ${hostOf()}\r\n`) => `GET ${target} HTTP/1.1\r\n${headers}Connection: close\r\n\r\n`;
const hostOf = () => host;
const token = () => hub.info.adminToken;

interface Case {
  name: string;
  send: () => string | Buffer | (string | Buffer)[];
  /** Acceptable statuses; null: the server may also just close. */
  expect: number[] | null;
  /** The typed error code of the JSON body, when there must be one. */
  code?: string;
  /** Reset the connection right after sending. */
  reset?: boolean;
}

const CASES: Case[] = [
  // Each of these stopped the hub before the fix (new URL / decodeURIComponent throwing in a void-ed handler).
  { name: 'GET // (new URL throws)', send: () => get('//'), expect: [404] },
  { name: 'GET //x/..', send: () => get('//x/..'), expect: [404] },
  { name: 'POST a bad escape to the webhook', send: () => `POST /api/hooks/agents/%E0%A4%A HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, expect: [401], code: 'UNAUTHORIZED' },
  { name: 'POST %zz to the webhook', send: () => `POST /api/hooks/agents/%zz HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`, expect: [401], code: 'UNAUTHORIZED' },
  { name: 'WebSocket upgrade at //', send: () => get('//', `Host: ${host}\r\n${upgradeHeaders()}`), expect: [404], code: 'NOT_FOUND' },
  { name: 'WebSocket upgrade at the webhook with a bad escape', send: () => get('/api/hooks/agents/%E0%A4%A', `Host: ${host}\r\n${upgradeHeaders()}`), expect: [404], code: 'NOT_FOUND' },
  // Odd targets on every route.
  { name: 'GET %', send: () => get('/%'), expect: [404] },
  { name: 'GET %zz', send: () => get('/%zz'), expect: [404] },
  { name: 'GET an asset with a bad escape', send: () => get('/assets/%E0%A4%A.js'), expect: [404] },
  { name: 'GET an asset with %00', send: () => get('/assets/%00'), expect: [404] },
  { name: 'GET /assets/../../hub.json', send: () => get('/assets/../../hub.json'), expect: [404] },
  { name: 'POST /api/invoke%zz', send: () => `POST /api/invoke%zz HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`, expect: [404], code: 'NOT_FOUND' },
  { name: 'POST /api/invoke?%zz', send: () => `POST /api/invoke?%zz=%E0 HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`, expect: [401], code: 'UNAUTHORIZED' },
  { name: 'GET /api/ws%zz without upgrade', send: () => get('/api/ws%zz'), expect: [404], code: 'NOT_FOUND' },
  { name: 'GET /api/ws without upgrade', send: () => get('/api/ws'), expect: [404], code: 'NOT_FOUND' },
  { name: 'absolute-form to another host', send: () => get('http://evil.example/x'), expect: [421], code: 'FORBIDDEN' },
  { name: 'absolute-form to this hub', send: () => get(`http://${host}/`), expect: [200] },
  { name: 'absolute-form https', send: () => get('https://evil.example/'), expect: [400], code: 'BAD_REQUEST' },
  { name: 'malformed absolute-form', send: () => get('http://[::1/x'), expect: [400] },
  { name: 'asterisk-form', send: () => `OPTIONS * HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, expect: [400], code: 'BAD_REQUEST' },
  { name: 'a target without a slash', send: () => get('index.html'), expect: [400] },
  { name: 'a very long target', send: () => get(`/${'a'.repeat(64 * 1024)}`), expect: [414, 431, 400] },
  { name: 'a long target with escapes', send: () => get(`/api/hooks/agents/${'%E0'.repeat(30)}`), expect: [405] },
  { name: 'a NUL in the target', send: () => `GET /a\0b HTTP/1.1\r\nHost: ${host}\r\n\r\n`, expect: [400] },
  // Malformed requests.
  { name: 'junk request line', send: () => 'GARBAGE\r\n\r\n', expect: [400] },
  { name: 'binary junk', send: () => crypto.randomBytes(4096), expect: null },
  { name: 'unknown HTTP version', send: () => `GET / HTTP/9.9\r\nHost: ${host}\r\n\r\n`, expect: [400, 505] },
  { name: 'header without a colon', send: () => `GET / HTTP/1.1\r\nHost: ${host}\r\nnocolon\r\n\r\n`, expect: [400] },
  { name: 'a huge header', send: () => `GET / HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'b'.repeat(256 * 1024)}\r\n\r\n`, expect: [431] },
  { name: 'many headers', send: () => `GET / HTTP/1.1\r\nHost: ${host}\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\nConnection: close\r\n\r\n`, expect: [200, 431] },
  { name: 'bad chunked body', send: () => `POST /api/invoke HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token()}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`, expect: [400] },
  { name: 'Content-Length and chunked', send: () => `POST /api/invoke HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, expect: [400] },
  { name: 'a body that stops early', send: () => `POST /api/invoke HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token()}\r\nContent-Length: 100\r\n\r\n{"op"`, expect: null },
  { name: 'an announced huge body', send: () => `POST /api/invoke HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token()}\r\nContent-Length: 999999999999\r\n\r\n{}`, expect: [413] },
  { name: 'a null body', send: () => `POST /api/invoke HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token()}\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnull`, expect: [400], code: 'BAD_REQUEST' },
  { name: 'an array body', send: () => `POST /api/invoke HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token()}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]`, expect: [400], code: 'BAD_REQUEST' },
  { name: 'a deeply nested body', send: () => { const b = `${'['.repeat(200_000)}${']'.repeat(200_000)}`; return `POST /api/invoke HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token()}\r\nContent-Length: ${b.length}\r\nConnection: close\r\n\r\n${b}`; }, expect: [400] },
  // Host headers.
  { name: 'a foreign Host', send: () => get('/', 'Host: evil.example\r\n'), expect: [421] },
  { name: 'a foreign Host on the API', send: () => `POST /api/invoke HTTP/1.1\r\nHost: evil.example:${port}\r\nAuthorization: Bearer ${token()}\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{"op":"status"}`, expect: [421], code: 'FORBIDDEN' },
  { name: 'no Host (HTTP/1.1)', send: () => 'GET / HTTP/1.1\r\nConnection: close\r\n\r\n', expect: [400] },
  { name: 'no Host (HTTP/1.0)', send: () => 'GET / HTTP/1.0\r\n\r\n', expect: [421] },
  { name: 'Host without the port', send: () => get('/', 'Host: 127.0.0.1\r\n'), expect: [421] },
  { name: 'Host with another port', send: () => get('/', `Host: localhost:${port + 1}\r\n`), expect: [421] },
  { name: 'Host with junk', send: () => get('/', `Host: ${'%'.repeat(300)}\r\n`), expect: [421, 400] },
  { name: 'two Hosts', send: () => get('/', `Host: ${host}\r\nHost: evil.example\r\n`), expect: [200, 400, 421] },
  { name: 'localhost Host', send: () => get('/', `Host: LOCALHOST:${port}\r\n`), expect: [200] },
  // WebSocket upgrades.
  { name: 'upgrade without a key', send: () => get(`/api/ws?token=${token()}`, `Host: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n`), expect: [400] },
  { name: 'upgrade with a wrong version', send: () => get(`/api/ws?token=${token()}`, `Host: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 12\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n`), expect: [400, 426] },
  { name: 'upgrade to h2c', send: () => get(`/api/ws?token=${token()}`, `Host: ${host}\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n`), expect: [400] },
  { name: 'upgrade at /api/wsX', send: () => get(`/api/wsX?token=${token()}`, `Host: ${host}\r\n${upgradeHeaders()}`), expect: [404], code: 'NOT_FOUND' },
  { name: 'upgrade at /api/ws/', send: () => get(`/api/ws/?token=${token()}`, `Host: ${host}\r\n${upgradeHeaders()}`), expect: [404], code: 'NOT_FOUND' },
  { name: 'upgrade with a bad escape in the token', send: () => get('/api/ws?token=%zz%E0%A4%A', `Host: ${host}\r\n${upgradeHeaders()}`), expect: [401], code: 'UNAUTHORIZED' },
  { name: 'upgrade without the token', send: () => get('/api/ws', `Host: ${host}\r\n${upgradeHeaders()}`), expect: [401], code: 'UNAUTHORIZED' },
  { name: 'upgrade from a foreign Host', send: () => get(`/api/ws?token=${token()}`, `Host: evil.example\r\n${upgradeHeaders()}`), expect: [421], code: 'FORBIDDEN' },
  { name: 'upgrade from a foreign Origin', send: () => get(`/api/ws?token=${token()}`, `Host: ${host}\r\nOrigin: http://evil.example\r\n${upgradeHeaders()}`), expect: [403], code: 'FORBIDDEN' },
  { name: 'upgrade with asterisk', send: () => `GET * HTTP/1.1\r\nHost: ${host}\r\n${upgradeHeaders()}\r\n`, expect: [400] },
  { name: 'a refused upgrade, reset at once', send: () => get('/api/ws', `Host: ${host}\r\n${upgradeHeaders()}`), expect: null, reset: true },
  { name: 'a bad upgrade, reset at once', send: () => get('//', `Host: ${host}\r\n${upgradeHeaders()}`), expect: null, reset: true },
  { name: 'an accepted upgrade, reset at once', send: () => get(`/api/ws?token=${token()}`, `Host: ${host}\r\n${upgradeHeaders()}`), expect: null, reset: true },
  { name: 'a request, reset at once', send: () => get('/'), expect: null, reset: true },
  { name: 'an incomplete upgrade request', send: () => get('/api/ws', `Host: ${host}\r\n${upgradeHeaders()}`).slice(0, -2), expect: null },
];

/** A WebSocket frame as a client sends it (masked unless told otherwise). */
function frame(opcode: number, payload: Buffer, o: { fin?: boolean; mask?: boolean; rsv?: number; length?: bigint } = {}): Buffer {
  const mask = o.mask ?? true;
  const len = o.length ?? BigInt(payload.length);
  const head: number[] = [((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode];
  if (len < 126n) head.push((mask ? 0x80 : 0) | Number(len));
  else if (len < 65536n) head.push((mask ? 0x80 : 0) | 126, Number(len >> 8n), Number(len & 0xffn));
  else {
    head.push((mask ? 0x80 : 0) | 127);
    for (let i = 7; i >= 0; i--) head.push(Number((len >> BigInt(i * 8)) & 0xffn));
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = crypto.randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([Buffer.from(head), key, body]);
}

/** An authenticated raw WebSocket handshake followed by `frames`. */
function wsRaw(frames: Buffer[]): (string | Buffer)[] {
  return [get(`/api/ws?token=${token()}`, `Host: ${host}\r\n${upgradeHeaders()}`).replace('Connection: close\r\n', ''), ...frames];
}

const FRAME_CASES: { name: string; frames: () => Buffer[] }[] = [
  { name: 'invalid opcode 3', frames: () => [frame(3, Buffer.alloc(0))] },
  { name: 'unmasked frame', frames: () => [frame(1, Buffer.from('{"op":"status"}'), { mask: false })] },
  { name: 'reserved bits', frames: () => [frame(1, Buffer.from('{}'), { rsv: 7 })] },
  { name: 'fragmented ping', frames: () => [frame(9, Buffer.from('x'), { fin: false })] },
  { name: 'continuation without a start', frames: () => [frame(0, Buffer.from('x'))] },
  { name: 'a 2^63 length', frames: () => [frame(1, Buffer.alloc(0), { length: 2n ** 63n - 1n })] },
  { name: 'over maxPayload', frames: () => [frame(2, Buffer.alloc(0), { length: 2n ** 21n })] },
  { name: 'invalid UTF-8 text', frames: () => [frame(1, Buffer.from([0xe0, 0xa4, 0x41]))] },
  { name: 'close with an invalid code', frames: () => [frame(8, Buffer.from([0x03, 0xe7]))] },
  { name: 'close with a one-byte body', frames: () => [frame(8, Buffer.from([0x03]))] },
  { name: 'junk bytes', frames: () => [crypto.randomBytes(2048)] },
  { name: 'a null text frame', frames: () => [frame(1, Buffer.from('null'))] },
  { name: 'a null binary frame', frames: () => [frame(2, Buffer.from('null'))] },
];

/** JSON messages over an authenticated WebSocket (the `ws` client): each gets a typed answer. */
const MESSAGES: [string, string, string][] = [
  ['null', 'null', 'BAD_REQUEST'],
  ['a number', '42', 'BAD_REQUEST'],
  ['an array', '[1,2,3]', 'BAD_REQUEST'],
  ['a string', '"status"', 'BAD_REQUEST'],
  ['true', 'true', 'BAD_REQUEST'],
  ['not JSON', '{not json', 'BAD_REQUEST'],
  ['empty', '', 'BAD_REQUEST'],
  ['an empty object', '{}', 'UNKNOWN_OP'],
  ['op null', '{"op":null}', 'UNKNOWN_OP'],
  ['op an object', '{"op":{"toString":1}}', 'UNKNOWN_OP'],
  ['op __proto__', '{"op":"__proto__","input":{}}', 'UNKNOWN_OP'],
  ['op constructor', '{"op":"constructor"}', 'UNKNOWN_OP'],
  ['input null', '{"op":"status","input":null}', 'OK'],
  ['input an array', '{"op":"status","input":[]}', 'BAD_REQUEST'],
  ['subscribe null', '{"subscribe":null}', 'BAD_REQUEST'],
  ['subscribe an object', '{"subscribe":{"a":1}}', 'BAD_REQUEST'],
  ['subscribe __proto__', '{"subscribe":"__proto__"}', 'BAD_REQUEST'],
  ['unsubscribe unknown', '{"unsubscribe":"status"}', 'OK'],
  ['id an object', '{"id":{"a":1},"op":"status"}', 'BAD_REQUEST'],
  ['a deeply nested id', `{"id":${'['.repeat(300_000)}${']'.repeat(300_000)},"op":"status"}`, 'BAD_REQUEST'],
  ['a deeply nested message', `${'['.repeat(300_000)}${']'.repeat(300_000)}`, 'BAD_REQUEST'],
  ['a deeply nested input', `{"op":"status","input":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`, 'BAD_REQUEST'],
  ['a deeply nested config', `{"op":"agents.start","input":{"templateId":"hooked","nodeId":"NODE","config":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}}`, 'BAD_REQUEST'],
  ['an oversized sessionId', `{"op":"agents.start","input":{"templateId":"hooked","nodeId":"NODE","sessionId":"${'s'.repeat(201)}"}}`, 'BAD_REQUEST'],
];

interface WsClient {
  ws: WebSocket;
  next(): Promise<Record<string, unknown> | 'closed'>;
}

async function wsClient(url: string): Promise<WsClient> {
  const ws = new WebSocket(url);
  const queue: (Record<string, unknown> | 'closed')[] = [];
  const waiters: ((m: Record<string, unknown> | 'closed') => void)[] = [];
  const push = (m: Record<string, unknown> | 'closed') => {
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  };
  ws.on('message', (d) => push(JSON.parse(String(d)) as Record<string, unknown>));
  ws.on('close', () => push('closed'));
  ws.on('error', () => undefined);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`))); ws.once('error', reject); });
  return {
    ws,
    next: () => {
      const m = queue.shift();
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no reply in 10 s')), 10_000);
        waiters.push((x) => { clearTimeout(t); resolve(x); });
      });
    },
  };
}

const wsUrl = (t: string | null) => `ws://${host}/api/ws${t === null ? '' : `?token=${encodeURIComponent(t)}`}`;

describe('the UI/API port under hostile input', () => {
  it('answers every hand-picked malformed request with a typed refusal and keeps serving', async () => {
    const failures: string[] = [];
    // CORTEX_FUZZ_ONLY=<part of a name>: only those cases (to see one case fail on its own).
    const only = process.env.CORTEX_FUZZ_ONLY;
    for (const c of CASES.filter((x) => !only || x.name.includes(only))) {
      const response = await raw(c.send(), 250, 4000, c.reset);
      await healthy(c.name);
      const status = statusOf(response);
      if (c.expect && (status === null || !c.expect.includes(status))) failures.push(`${c.name}: expected ${c.expect.join('|')}, got ${status ?? JSON.stringify(response.slice(0, 120))}`);
      if (c.code && errorOf(response)?.code !== c.code) failures.push(`${c.name}: expected a typed ${c.code} error, got ${JSON.stringify(response.slice(0, 300))}`);
    }
    expect(failures).toEqual([]);
    await stillSyncing();
  });

  it('survives junk WebSocket frames from an authenticated client', async () => {
    for (const c of FRAME_CASES) {
      const response = await raw(wsRaw(c.frames()), 300);
      await healthy(`frame: ${c.name}`);
      expect(statusOf(response), c.name).toBe(101);
    }
  });

  it('answers null, non-object and deeply nested JSON messages with typed errors, with the token', async () => {
    const c = await wsClient(wsUrl(token()));
    try {
      for (const [name, text, want] of MESSAGES) {
        c.ws.send(text.replace('NODE', nodeId));
        const reply = await c.next();
        await healthy(`message: ${name}`);
        expect(reply, name).not.toBe('closed');
        if (want === 'OK') expect(reply, name).toMatchObject({ ok: true });
        else expect(reply, name).toMatchObject({ ok: false, error: { code: want, message: expect.any(String) } });
      }
      // Still a working connection.
      c.ws.send(JSON.stringify({ id: 7, op: 'status', input: {} }));
      expect(await c.next()).toMatchObject({ id: 7, ok: true });
    } finally {
      c.ws.close();
    }
  });

  it('refuses every message without the token or with a wrong one', async () => {
    for (const t of [null, '', 'wrong', `${token()}x`, '%zz', 'null']) {
      await expect(wsClient(wsUrl(t)), String(t)).rejects.toThrow('HTTP 401');
      await healthy(`token ${String(t)}`);
    }
    // The same messages on raw sockets that never got the upgrade.
    for (const [name, text] of MESSAGES.slice(0, 6)) {
      const response = await raw([get('/api/ws', `Host: ${host}\r\n${upgradeHeaders()}`).replace('Connection: close\r\n', ''), frame(1, Buffer.from(text))]);
      await healthy(`unauthenticated ${name}`);
      expect(statusOf(response)).toBe(401);
    }
  });

  it('survives seeded random requests and frames, and the node keeps syncing', async () => {
    const rand = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
    const pieces = ['/', '//', '%', '%zz', '%E0%A4%A', '%00', '%2e%2e', '..', '?', '#', '&', '=', 'token=', ';', '\\', 'api', 'ws', 'invoke', 'hooks', 'agents', 'assets', 'hooked', hookTemplate, 'ü', '\u202e', ' ', 'x'.repeat(300)];
    const prefixes = ['/', '/api/', '/api/invoke', '/api/ws', '/api/hooks/agents/', '/assets/', '//', '*', 'http://evil.example/', `http://${host}/`, ''];
    const methods = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'G E T', 'get', ''];
    const hosts = () => pick([host, host, host, 'evil.example', `localhost:${port}`, `[::1]:${port}`, '', '%', `127.0.0.1:${port}0`, 'x'.repeat(2000)]);
    const bodies = () => pick(['', '{}', 'null', '[]', '42', '"x"', '{"op":"status"}', '{"op":"agents.start","input":null}', `{"sessionId":"${'s'.repeat(300)}"}`, '{not', bytes(64).toString('latin1'), '['.repeat(5000)]);
    const N = Number(process.env.CORTEX_FUZZ_CASES ?? 400);
    for (let i = 0; i < N; i++) {
      const kind = rand();
      let data: string | Buffer | (string | Buffer)[];
      let name: string;
      if (kind < 0.1) {
        data = bytes(1 + Math.floor(rand() * 3000));
        name = `#${i} random bytes`;
      } else if (kind < 0.25) {
        const frames = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => (rand() < 0.5
          ? frame(Math.floor(rand() * 16), Buffer.from(pick(['null', '0', '[]', '""', '{"op":null}', '{"id":[],"op":"status"}', '{"subscribe":1}', '[[[[[[]]]]]]']) + ''), { mask: rand() < 0.9, fin: rand() < 0.9, rsv: rand() < 0.9 ? 0 : Math.floor(rand() * 8) })
          : bytes(1 + Math.floor(rand() * 200))));
        data = rand() < 0.7 ? wsRaw(frames) : [get('/api/ws', `Host: ${hosts()}\r\n${upgradeHeaders()}`).replace('Connection: close\r\n', ''), ...frames];
        name = `#${i} WebSocket frames`;
      } else {
        let target = pick(prefixes);
        for (let k = Math.floor(rand() * 5); k > 0; k--) target += pick(pieces);
        if (rand() < 0.3) target += `?token=${pick([token(), 'x', '%zz', ''])}`;
        const headers: string[] = [];
        if (rand() < 0.9) headers.push(`Host: ${hosts()}`);
        if (rand() < 0.5) headers.push(`Authorization: Bearer ${pick([token(), 'wrong', ''])}`);
        if (rand() < 0.2) headers.push(`Origin: ${pick([`http://${host}`, 'http://evil.example', 'null', ''])}`);
        if (rand() < 0.25) headers.push(upgradeHeaders().trim().replace(/Sec-WebSocket-Version: 13/, `Sec-WebSocket-Version: ${pick(['13', '8', 'x', ''])}`));
        if (rand() < 0.1) headers.push(`X-Junk: ${bytes(40).toString('latin1').replace(/[\r\n]/g, '')}`);
        const body = bodies();
        if (rand() < 0.8) headers.push(`Content-Length: ${rand() < 0.9 ? Buffer.byteLength(body) : pick(['-1', 'x', '99999999999', '1e3'])}`);
        headers.push('Connection: close');
        data = `${pick(methods)} ${target} HTTP/${pick(['1.1', '1.1', '1.0', '2', 'x'])}\r\n${headers.join('\r\n')}\r\n\r\n${body}`;
        name = `#${i} ${JSON.stringify(data.slice(0, 160))}`;
      }
      const response = await raw(data, 150, 3000);
      await healthy(name);
      const status = statusOf(response);
      // Whatever came back is an HTTP answer (or nothing, or the switch to WebSocket).
      if (response.length > 0 && !response.startsWith('HTTP/1.1 ')) throw new Error(`${name}: not an HTTP answer: ${JSON.stringify(response.slice(0, 200))}`);
      if (status !== null && status >= 500) throw new Error(`${name}: the hub failed with ${status}: ${JSON.stringify(response.slice(0, 400))}`);
      if (i === Math.floor(N / 2)) await stillSyncing();
    }
    await stillSyncing();
  });

  it('then stops cleanly: no refused connection was left half-open', async () => {
    await node.stop();
    const code = await Promise.race([hub.stop(), new Promise((r) => setTimeout(() => r('still running 20 s after SIGTERM'), 20_000))]);
    expect(code).toBe(0);
  });
});
