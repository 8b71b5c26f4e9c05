/**
 * The API's rules at its edges, against a real `cortex-hub serve` with a real node: webhook
 * refusals that do not tell an unknown template from a wrong token, length limits on what a
 * webhook stores, the WebSocket at exactly /api/ws, the Host allowlist (DNS-rebinding
 * defence: a foreign Host gets 421 Misdirected Request on every route), 413 for a too-large
 * /api/invoke body, and bounded JSON objects in the contract.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hub, Node, tempDir, waitFor } from '../helpers/procs';

let dir: string;
let hub: Hub;
let node: Node;
let nodeId: string;
let port: number;
let hooked: { id: string; name: string; token: string };
let plain: { id: string; name: string };

beforeAll(async () => {
  dir = tempDir('api-edges');
  const ws = path.join(dir, 'ws');
  fs.mkdirSync(ws);
  hub = await Hub.start(path.join(dir, 'hub'));
  port = Number(new URL(hub.info.ui).port);
  const added = await hub.addNode('edge');
  nodeId = added.id;
  node = Node.start(added.join, ws, path.join(dir, 'node-state'));
  await hub.waitState(nodeId, 'in-sync');
  const h = await hub.invoke('agents.createTemplate', { name: 'hooked', command: 'true', nodeId, webhook: true });
  hooked = { id: h.template.id, name: h.template.name, token: h.webhookToken! };
  const p = await hub.invoke('agents.createTemplate', { name: 'plain', command: 'true', nodeId });
  plain = { id: p.template.id, name: p.template.name };
});

afterAll(async () => {
  await node?.stop();
  await hub?.stop();
  if (!process.env.CORTEX_KEEP_TEST_DIRS && dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** One HTTP request with full control of the headers (fetch may not set Host). */
function request(o: { method?: string; path: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer; chunks?: Buffer[] }): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path, headers: o.headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts).toString(), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (o.chunks) {
      for (const c of o.chunks) req.write(c);
      req.end();
    } else req.end(o.body);
  });
}

const hook = (template: string, token: string | null, body = '{}') => request({
  method: 'POST', path: `/api/hooks/agents/${template}`, body,
  headers: { 'Content-Type': 'application/json', ...(token === null ? {} : { Authorization: `Bearer ${token}` }) },
});

/** The outcome of a WebSocket upgrade: 'open', or the HTTP status it was refused with. */
function upgrade(pathAndQuery: string, headers: Record<string, string> = {}): Promise<'open' | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${pathAndQuery}`, { headers });
    ws.on('open', () => { ws.close(); resolve('open'); });
    ws.on('unexpected-response', (_req, res) => { res.resume(); resolve(res.statusCode!); });
    ws.on('error', () => undefined);
  });
}

describe('webhook refusals', () => {
  it('are the same whether the template is unknown, has no webhook, or the token is missing or wrong; the log says which', async () => {
    const answers = [
      await hook('no-such-template', hooked.token),
      await hook(plain.id, hooked.token),
      await hook(plain.name, null),
      await hook(hooked.id, null),
      await hook(hooked.id, 'wrong-token'),
      await hook(hooked.name, hub.info.adminToken),
      await hook('%E0%A4%A', hooked.token),
    ];
    for (const a of answers) {
      expect(a.status).toBe(401);
      expect(JSON.parse(a.body)).toEqual({ ok: false, error: { code: 'UNAUTHORIZED', message: 'no agent template with a webhook accepts this token' } });
    }
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    const reasons = hub.logLines().filter((l) => l.msg === 'agent.webhook_refused').map((l) => String(l.reason));
    expect(reasons).toEqual(expect.arrayContaining([
      'no agent template no-such-template', `template ${plain.name} has no webhook`, 'no webhook token (Authorization: Bearer …)', 'wrong webhook token',
      'the template name in the path is not valid percent-encoding',
    ]));
    // The right token still works, by id and by name.
    expect((await hook(hooked.name, hooked.token)).status).toBe(201);
  });

  it('refuse stored strings over the contract\'s limits and create nothing', async () => {
    const before = (await hub.invoke('agents.list', { templateId: hooked.id })).items.length;
    const deep = `${'{"a":'.repeat(40)}1${'}'.repeat(40)}`;
    const cases: [string, string][] = [
      [JSON.stringify({ sessionId: 's'.repeat(201) }), 'sessionId'],
      [JSON.stringify({ sessionId: '' }), 'sessionId'],
      [JSON.stringify({ nodeId: 'n'.repeat(65) }), 'nodeId'],
      [`{"config":${deep}}`, 'nested deeper than 32 levels'],
      [JSON.stringify({ sessionId: 42 }), 'sessionId'],
    ];
    for (const [body, mention] of cases) {
      const a = await hook(hooked.id, hooked.token, body);
      expect(a.status, body.slice(0, 80)).toBe(400);
      expect(JSON.parse(a.body).error.message, body.slice(0, 80)).toContain(mention);
    }
    // The template skips a run while one is under way (the previous test's may still be, on a busy machine).
    await waitFor('the previous run of the template to end', async () => (await hub.invoke('agents.list', { templateId: hooked.id })).items.every((i) => i.state !== 'pending' && i.state !== 'running') || undefined, 30_000);
    const ok = await hook(hooked.id, hooked.token, JSON.stringify({ sessionId: 's'.repeat(200) }));
    expect(ok.status).toBe(201);
    expect((await hub.invoke('agents.list', { templateId: hooked.id })).items.length).toBe(before + 1);
  });
});

describe('the WebSocket path', () => {
  it('is exactly /api/ws', async () => {
    const t = `token=${encodeURIComponent(hub.info.adminToken)}`;
    expect(await upgrade(`/api/ws?${t}`)).toBe('open');
    for (const p of ['/api/wsX', '/api/ws/', '/api/wss', '/api/ws%20', '//api/ws', '/API/WS']) {
      expect(await upgrade(`${p}?${t}`), p).toBe(404);
    }
  });
});

describe('the Host allowlist', () => {
  const auth = () => ({ Authorization: `Bearer ${hub.info.adminToken}`, 'Content-Type': 'application/json' });
  it('answers the loopback names with the bound port', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LocalHost:${port}`, `[::1]:${port}`]) {
      expect((await request({ path: '/', headers: { Host: host } })).status, host).toBe(200);
      expect((await request({ method: 'POST', path: '/api/invoke', headers: { ...auth(), Host: host }, body: '{"op":"status"}' })).status, host).toBe(200);
    }
  });

  it('refuses any other Host with 421 on every route and on the WebSocket, and logs it', async () => {
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`, '127.0.0.1', `127.0.0.2:${port}`, `localhost.evil.example:${port}`]) {
      const page = await request({ path: '/', headers: { Host: host } });
      expect(page.status, host).toBe(421);
      expect(JSON.parse(page.body), host).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', message: expect.stringContaining('is not this hub\'s address') } });
      expect((await request({ path: '/assets/x.js', headers: { Host: host } })).status, host).toBe(421);
      expect((await request({ method: 'POST', path: '/api/invoke', headers: { ...auth(), Host: host }, body: '{"op":"status"}' })).status, host).toBe(421);
      expect((await request({ method: 'POST', path: `/api/hooks/agents/${hooked.id}`, headers: { Authorization: `Bearer ${hooked.token}`, Host: host }, body: '{}' })).status, host).toBe(421);
      expect(await upgrade(`/api/ws?token=${encodeURIComponent(hub.info.adminToken)}`, { Host: host }), host).toBe(421);
    }
    expect(hub.logLines().some((l) => l.msg === 'api.refused' && l.status === 421 && String(l.reason).startsWith('host evil.example'))).toBe(true);
  });
});

describe('request bodies', () => {
  it('gets 413 for an /api/invoke body over 1 MiB, announced or streamed', async () => {
    const big = JSON.stringify({ op: 'status', input: {}, pad: 'x'.repeat(1024 * 1024) });
    const announced = await request({ method: 'POST', path: '/api/invoke', headers: { Authorization: `Bearer ${hub.info.adminToken}`, 'Content-Type': 'application/json' }, body: big });
    expect(announced.status).toBe(413);
    expect(JSON.parse(announced.body)).toEqual({ ok: false, error: { code: 'BAD_REQUEST', message: 'request body larger than 1 MiB' } });
    const streamed = await request({
      method: 'POST', path: '/api/invoke', headers: { Authorization: `Bearer ${hub.info.adminToken}`, 'Transfer-Encoding': 'chunked' },
      chunks: Array.from({ length: 20 }, () => Buffer.alloc(64 * 1024, 0x20)),
    });
    expect(streamed.status).toBe(413);
    // A body just under the limit is still read and answered.
    const under = await request({ method: 'POST', path: '/api/invoke', headers: { Authorization: `Bearer ${hub.info.adminToken}` }, body: `{"op":"status"}${' '.repeat(1024 * 1024 - 20)}` });
    expect(under.status).toBe(200);
  });

  it('bounds the JSON objects the contract stores (agent configs) in depth and size', async () => {
    const call = (op: string, input: unknown) => request({ method: 'POST', path: '/api/invoke', headers: { Authorization: `Bearer ${hub.info.adminToken}` }, body: JSON.stringify({ op, input }, null, 0) });
    // Too deep for JSON.stringify (it would overflow the stack where the instance is stored).
    const tooDeep = await request({
      method: 'POST', path: '/api/invoke', headers: { Authorization: `Bearer ${hub.info.adminToken}` },
      body: `{"op":"agents.start","input":{"templateId":"plain","nodeId":"${nodeId}","config":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}}`,
    });
    expect(tooDeep.status).toBe(400);
    expect(JSON.parse(tooDeep.body).error).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('config: nested deeper than 32 levels') });
    const tooBig = await call('agents.createTemplate', { name: 'big-config', command: 'true', defaultConfig: { blob: 'x'.repeat(70 * 1024) } });
    expect(tooBig.status).toBe(400);
    expect(JSON.parse(tooBig.body).error.message).toMatch(/defaultConfig: larger than 64 KiB as JSON/);
    const wide = await call('agents.start', { templateId: 'plain', nodeId, config: Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, 0])) });
    expect(wide.status).toBe(400);
    const fine = await call('agents.start', { templateId: 'plain', nodeId, config: { depth: { a: { b: [1, 2, 3] } } } });
    expect(fine.status).toBe(200);
  });
});
