/**
 * The admin token is stable: kept in DATA/admin-token (0600), the same across restarts (open
 * UIs and saved links keep working), changed only by `cortex-hub token rotate`, which goes
 * through the running hub (the old token is refused at once, open WebSockets are closed with
 * WS_CLOSE_TOKEN_CHANGED, hub.json carries the new one) or, with no hub running, writes DATA.
 */
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { WS_CLOSE_TOKEN_CHANGED } from '../../main/contract';
import { Hub, runCli, tempDir, waitFor } from '../helpers/procs';

const dirs: string[] = [];
const hubs: Hub[] = [];

afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.stop()));
  if (!process.env.CORTEX_KEEP_TEST_DIRS) for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function start(data: string): Promise<Hub> {
  const h = await Hub.start(data);
  hubs.push(h);
  return h;
}

async function stop(h: Hub): Promise<void> {
  expect(await h.stop()).toBe(0);
  hubs.splice(hubs.indexOf(h), 1);
}

function invokeStatus(ui: string, token: string): Promise<number> {
  return fetch(`${ui}/api/invoke`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: '{"op":"status"}' }).then((r) => r.status);
}

/** An open WebSocket and how it ended (code and reason), once it does. */
async function openSocket(ui: string, token: string): Promise<{ ws: WebSocket; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(`${ui.replace('http', 'ws')}/api/ws?token=${encodeURIComponent(token)}`);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  ws.on('error', () => undefined);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('unexpected-response', (_q, r) => reject(new Error(`HTTP ${r.statusCode}`))); });
  return { ws, closed };
}

describe('the admin token', () => {
  it('is the same across restarts, kept in DATA/admin-token with mode 0600', async () => {
    const dir = tempDir('token-stable');
    dirs.push(dir);
    const data = path.join(dir, 'hub');
    const first = await start(data);
    const file = path.join(data, 'admin-token');
    expect(fs.readFileSync(file, 'utf8').trim()).toBe(first.info.adminToken);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const { ws, closed } = await openSocket(first.info.ui, first.info.adminToken);
    await stop(first);
    expect((await closed).code).not.toBe(WS_CLOSE_TOKEN_CHANGED);
    ws.terminate();
    const second = await start(data);
    expect(second.info.adminToken).toBe(first.info.adminToken);
    expect(await invokeStatus(second.info.ui, first.info.adminToken)).toBe(200);
    expect(second.logLines().filter((l) => l.msg === 'admin.token_created')).toHaveLength(1);
  });

  it('is replaced, with a warning, when its file does not hold a token', async () => {
    const dir = tempDir('token-broken');
    dirs.push(dir);
    const data = path.join(dir, 'hub');
    fs.mkdirSync(data, { recursive: true });
    fs.writeFileSync(path.join(data, 'admin-token'), 'short\n', { mode: 0o644 });
    const h = await start(data);
    expect(h.info.adminToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(fs.readFileSync(path.join(data, 'admin-token'), 'utf8').trim()).toBe(h.info.adminToken);
    expect(fs.statSync(path.join(data, 'admin-token')).mode & 0o777).toBe(0o600);
    expect(h.logLines().some((l) => l.msg === 'admin.token_replaced')).toBe(true);
  });

  it('token rotate through the running hub: the old token is refused at once, open WebSockets are signed out, hub.json has the new one', async () => {
    const dir = tempDir('token-rotate');
    dirs.push(dir);
    const data = path.join(dir, 'hub');
    const h = await start(data);
    const old = h.info.adminToken;
    const sockets = [await openSocket(h.info.ui, old), await openSocket(h.info.ui, old)];
    const r = await runCli('cortex-hub', ['token', 'rotate', '--json', '--data', data]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { token: string; hubRunning: boolean; uiWithToken: string; file: string };
    expect(out).toMatchObject({ hubRunning: true, file: path.join(data, 'admin-token') });
    expect(out.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(out.token).not.toBe(old);
    expect(out.uiWithToken).toBe(`${h.info.ui}/#token=${encodeURIComponent(out.token)}`);
    for (const s of sockets) expect(await s.closed).toEqual({ code: WS_CLOSE_TOKEN_CHANGED, reason: 'the admin token changed' });
    expect(await invokeStatus(h.info.ui, old)).toBe(401);
    expect(await invokeStatus(h.info.ui, out.token)).toBe(200);
    await expect(openSocket(h.info.ui, old)).rejects.toThrow('HTTP 401');
    const fresh = await openSocket(h.info.ui, out.token);
    fresh.ws.close();
    const hubJson = JSON.parse(fs.readFileSync(path.join(data, 'hub.json'), 'utf8')) as { adminToken: string; pid: number };
    expect(hubJson).toMatchObject({ adminToken: out.token, pid: h.p.proc.pid });
    expect(fs.readFileSync(path.join(data, 'admin-token'), 'utf8').trim()).toBe(out.token);
    // Admin commands go on working through hub.json.
    const status = await runCli('cortex-hub', ['status', '--json', '--data', data]);
    expect(status.code, status.stderr).toBe(0);
    // The human form prints the link.
    const human = await runCli('cortex-hub', ['token', 'rotate', '--data', data]);
    expect(human.code, human.stderr).toBe(0);
    const next = fs.readFileSync(path.join(data, 'admin-token'), 'utf8').trim();
    expect(human.stdout).toContain(`Open the UI with: ${h.info.ui}/#token=${encodeURIComponent(next)}`);
    await waitFor('the second rotation in the log', () => h.logLines().filter((l) => l.msg === 'admin.token_rotated').length === 2, 5000);
    // And it survives a restart.
    await stop(h);
    const again = await start(data);
    expect(again.info.adminToken).toBe(next);
  });

  it('an open WebSocket that rotates the token itself gets the answer, then is signed out', async () => {
    const dir = tempDir('token-rotate-ws');
    dirs.push(dir);
    const h = await start(path.join(dir, 'hub'));
    const s = await openSocket(h.info.ui, h.info.adminToken);
    const replies: Record<string, unknown>[] = [];
    s.ws.on('message', (d) => replies.push(JSON.parse(String(d)) as Record<string, unknown>));
    s.ws.send(JSON.stringify({ id: 1, op: 'token.rotate', input: {} }));
    expect((await s.closed).code).toBe(WS_CLOSE_TOKEN_CHANGED);
    expect(replies[0]).toMatchObject({ id: 1, ok: true, result: { token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) } });
    const token = (replies[0]!.result as { token: string }).token;
    expect(fs.readFileSync(path.join(h.dataDir, 'admin-token'), 'utf8').trim()).toBe(token);
  });

  it('token rotate with no hub running writes DATA; the next start uses the new token', async () => {
    const dir = tempDir('token-offline');
    dirs.push(dir);
    const data = path.join(dir, 'hub');
    const h = await start(data);
    const old = h.info.adminToken;
    await stop(h);
    const r = await runCli('cortex-hub', ['token', 'rotate', '--json', '--data', data]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { token: string; hubRunning: boolean; uiWithToken: string | null };
    expect(out).toMatchObject({ hubRunning: false, uiWithToken: null });
    expect(out.token).not.toBe(old);
    expect(fs.statSync(path.join(data, 'admin-token')).mode & 0o777).toBe(0o600);
    const human = await runCli('cortex-hub', ['token', 'rotate', '--data', data]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^New admin token, in .*admin-token \(no hub runs on .*; it uses this one from its next start\):/);
    const latest = fs.readFileSync(path.join(data, 'admin-token'), 'utf8').trim();
    expect(human.stdout).toContain(latest);
    const next = await start(data);
    expect(next.info.adminToken).toBe(latest);
    expect(await invokeStatus(next.info.ui, old)).toBe(401);
  });

  it('token rotate on a data directory that was never used makes one', async () => {
    const dir = tempDir('token-fresh');
    dirs.push(dir);
    const data = path.join(dir, 'never-served');
    const r = await runCli('cortex-hub', ['token', 'rotate', '--json', '--data', data]);
    expect(r.code, r.stderr).toBe(0);
    const h = await start(data);
    expect(h.info.adminToken).toBe((JSON.parse(r.stdout) as { token: string }).token);
  });
});
