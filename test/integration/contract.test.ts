/**
 * The one contract through both adapters, over a real serving hub (in this process, real
 * SQLite and sockets): the WebSocket/HTTP API and the Electron IPC adapter reject an unknown
 * operation or a malformed request with the same typed error, events reach subscribers, and
 * the UI's static files are served with a CSP and nothing else is.
 */
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IPC_CHANNELS, type Envelope } from '../../main/contract/bridge';
import type { HubStatus, PendingPage, PurgeView, Settings, TrashEmptyView, TrashRestoreView, TrashView } from '../../main/contract';
import { applyStatusDiff, decodeStatusDiff, type StatusCopy, type StatusDiff } from '../../main/contract/ws';
import { createIpcAdapter, type IpcSenderEvent } from '../../main/desktop/ipc';
import { APP_INDEX, isAppUrl } from '../../main/desktop/app-url';
import { runHub, type RunningHub } from '../../main/server/run-hub';
import { ROOT, tempDir, waitFor } from '../helpers/procs';
import { cachedEntry } from '../helpers/entries';

let dir: string;
let running: RunningHub;

beforeAll(async () => {
  dir = tempDir('contract');
  running = await runHub({ dataDir: dir, grpc: '127.0.0.1:0', ui: { host: '127.0.0.1', port: 0 }, consoleLevel: false, staticDir: path.join(ROOT, 'dist', 'renderer') });
});

afterAll(async () => {
  await running?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A WebSocket client speaking the API's JSON messages. */
async function wsClient(): Promise<{ call: (msg: object) => Promise<Record<string, unknown>>; events: Record<string, unknown>[]; close: () => void; raw: WebSocket }> {
  const ws = new WebSocket(`${running.ui.replace('http', 'ws')}/api/ws?token=${running.adminToken}`);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const events: Record<string, unknown>[] = [];
  const waiting = new Map<unknown, (m: Record<string, unknown>) => void>();
  let next = 1;
  ws.on('message', (d) => {
    const m = JSON.parse(String(d)) as Record<string, unknown>;
    if (m.event) events.push(m);
    else waiting.get(m.id)?.(m);
  });
  return {
    raw: ws,
    events,
    close: () => ws.close(),
    call: (msg) => new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ id, ...msg }));
    }),
  };
}

async function http(op: unknown, input: unknown): Promise<{ status: number; body: Envelope }> {
  const res = await fetch(`${running.ui}/api/invoke`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${running.adminToken}` }, body: JSON.stringify({ op, input }),
  });
  return { status: res.status, body: (await res.json()) as Envelope };
}

/** An IPC event as Electron would deliver it, from a frame at `url`. */
function ipcEvent(url: string, opts: { subframe?: boolean; id?: number } = {}) {
  const mainFrame = { url, parent: null };
  const sent: { channel: string; args: unknown[] }[] = [];
  let destroyed = false;
  let onDestroyed: (() => void) | null = null;
  const event: IpcSenderEvent = {
    senderFrame: opts.subframe ? { url, parent: mainFrame } : mainFrame,
    sender: {
      id: opts.id ?? 1,
      send: (channel, ...args) => sent.push({ channel, args }),
      isDestroyed: () => destroyed,
      once: (_e, cb) => { onDestroyed = cb; },
    },
  };
  return { event, sent, destroy: () => { destroyed = true; onDestroyed?.(); } };
}

const BAD_SHAPES: [string, unknown][] = [
  ['nodes.add', { name: 42 }],
  ['nodes.add', { name: '' }],
  ['nodes.add', { name: 'x', extra: true }],
  ['nodes.retire', {}],
  ['logs.recent', { level: 'loud' }],
  ['settings.set', { logLevel: 'verbose' }],
  ['purge.history', { limit: -1 }],
  ['purge.run', { planId: 'pp-x', ids: [] }],
  ['purge.run', { planId: 'pp-x', ids: [''] }],
  ['trash.list', { all: true }],
  ['trash.restore', {}],
  ['trash.restore', { id: '../../etc' }],
  ['trash.restore', { id: 'tr-0123456789abcdef/..' }],
  ['trash.restore', { id: 'tr-0123456789abcdef\n' }],
  ['trash.empty', { olderThanDays: -1 }],
  ['trash.empty', { olderThanDays: '7' }],
  ['trash.empty', { ids: [] }],
  ['trash.empty', { ids: ['../x'] }],
  ['settings.set', { trashRetentionDays: 0 }],
  ['settings.set', { trashRetentionDays: 1.5 }],
  ['settings.set', { notifyDisconnectedAfterSeconds: 0 }],
  ['settings.set', { notifyDisconnectedAfterSeconds: 86_401 }],
  ['settings.set', { notifyOnConflicts: 'yes' }],
  ['settings.set', { startOnLogin: 1 }],
];

describe('the WebSocket and HTTP adapter', () => {
  it('rejects an unknown operation and malformed requests with typed errors, on both transports', async () => {
    const c = await wsClient();
    try {
      expect(await c.call({ op: 'nodes.explode', input: {} })).toMatchObject({ ok: false, error: { code: 'UNKNOWN_OP' } });
      expect(await c.call({ op: 42 })).toMatchObject({ ok: false, error: { code: 'UNKNOWN_OP' } });
      for (const [op, input] of BAD_SHAPES) {
        expect(await c.call({ op, input }), `${op} ${JSON.stringify(input)}`).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringContaining(op) } });
        const h = await http(op, input);
        expect(h.status).toBe(400);
        expect(h.body).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
      }
      expect(await http('nodes.explode', {})).toMatchObject({ status: 404, body: { ok: false, error: { code: 'UNKNOWN_OP' } } });
      expect(await http('nodes.retire', { id: 'nope' })).toMatchObject({ status: 404, body: { ok: false, error: { code: 'NOT_FOUND' } } });
      // A message that is not JSON gets an error, and the socket stays usable.
      const errors: unknown[] = [];
      c.raw.once('message', (d) => errors.push(JSON.parse(String(d))));
      c.raw.send('{not json');
      await waitFor('the error reply', () => errors.length > 0, 5000);
      expect(errors[0]).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
      expect(await c.call({ op: 'status', input: {} })).toMatchObject({ ok: true });
      expect(await c.call({ subscribe: 'nonsense' })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    } finally {
      c.close();
    }
  });

  it('pushes status events to subscribers and stops after unsubscribe', async () => {
    const c = await wsClient();
    try {
      expect(await c.call({ subscribe: 'status' })).toMatchObject({ ok: true });
      await c.call({ op: 'nodes.add', input: { name: 'ws-watcher' } });
      await waitFor('a status event naming the new node', () => c.events.some((e) => (e.data as HubStatus).nodes.some((n) => n.name === 'ws-watcher')), 5000);
      await c.call({ unsubscribe: 'status' });
      const seen = c.events.length;
      await c.call({ op: 'nodes.add', input: { name: 'ws-unwatched' } });
      await new Promise((r) => setTimeout(r, 1200)); // two status periods
      expect(c.events.length).toBe(seen);
    } finally {
      c.close();
    }
  });

  it('streams the status as numbered diffs to WebSocket and IPC subscribers alike; a full one on demand', async () => {
    const c = await wsClient();
    const ipc = createIpcAdapter({ handlers: running.hub.handlers(), events: running.hub, eventChannel: IPC_CHANNELS.event, isTrustedUrl: isAppUrl, log: running.hub.log.child('ipc') });
    const page = ipcEvent(APP_INDEX, { id: 9 });
    try {
      expect(await c.call({ subscribe: 'status.diff' })).toMatchObject({ ok: true });
      ipc.subscribe(page.event, 'status.diff');
      // Where a client starts: a full status at the stream's current number.
      const start = (await c.call({ op: 'status.snapshot' })) as { ok: boolean; result: StatusDiff };
      const full = decodeStatusDiff(start.result);
      expect(full.ok && full.diff.full).toBe(true);
      let copy = applyStatusDiff(null, start.result) as StatusCopy;
      await c.call({ op: 'nodes.add', input: { name: 'diff-watcher' } });
      const has = (x: StatusCopy) => x.status.nodes.some((n) => n.name === 'diff-watcher');
      await waitFor('a diff naming the new node', () => c.events.some((e) => e.event === 'status.diff' && (e.data as StatusDiff).nodes.some((n) => n.name === 'diff-watcher')), 5000);
      // Applied in order from the full one, the diffs give the new node; no number is skipped.
      for (const e of c.events.filter((x) => x.event === 'status.diff')) {
        const d = decodeStatusDiff(e.data);
        if (!d.ok) throw new Error(d.reason);
        const next = applyStatusDiff(copy, d.diff);
        if (next === 'resync') throw new Error(`diff ${d.diff.seq} does not follow ${copy.seq}`);
        copy = next;
      }
      expect(has(copy)).toBe(true);
      // The diff naming it is small: the node whole, the others not at all.
      const added = c.events.map((e) => e.data as StatusDiff).find((d) => d.nodes.some((n) => n.name === 'diff-watcher'))!;
      expect(added.full).toBe(false);
      expect(added.nodes.length).toBeLessThan(copy.status.nodes.length);
      // The IPC page got the same numbered messages.
      await waitFor('the same diff over IPC', () => page.sent.some((m) => m.channel === IPC_CHANNELS.event && m.args[0] === 'status.diff' && (m.args[1] as StatusDiff).seq === added.seq), 5000);
      const viaIpc = page.sent.find((m) => m.args[0] === 'status.diff' && (m.args[1] as StatusDiff).seq === added.seq)!.args[1];
      expect(viaIpc).toEqual(added);
      // A full one on demand (as after a missed diff), over IPC too, at the number reached.
      const again = await ipc.invoke(page.event, 'status.snapshot', {});
      expect(again).toMatchObject({ ok: true, result: { full: true } });
      const resynced = applyStatusDiff(null, (again as { result: StatusDiff }).result) as StatusCopy;
      expect(resynced.seq).toBeGreaterThanOrEqual(added.seq);
      expect(has(resynced)).toBe(true);
    } finally {
      c.close();
      page.destroy();
    }
  });

  it('purge with a selection, then the trash (list, restore, empty), over the WebSocket and HTTP', async () => {
    const c = await wsClient();
    const mirrors = path.join(dir, 'mirrors');
    const ok = <T>(m: Record<string, unknown>) => {
      expect(m, JSON.stringify(m)).toMatchObject({ ok: true });
      return m.result as T;
    };
    try {
      for (const n of ['ct-a', 'ct-b']) {
        fs.mkdirSync(path.join(mirrors, n));
        fs.writeFileSync(path.join(mirrors, n, 'f.txt'), n);
      }
      const plan = ok<PurgeView>(await c.call({ op: 'purge.preview', input: {} }));
      expect(plan.targets.map((t) => t.id)).toEqual(['ct-a', 'ct-b']);
      // A name the plan does not have is refused, and the plan stays runnable.
      const bad = await http('purge.run', { planId: plan.planId, ids: ['ct-a', '../hub.db'] });
      expect(bad).toMatchObject({ status: 400, body: { ok: false, error: { code: 'BAD_REQUEST', message: expect.stringContaining(`not in plan ${plan.planId}: "../hub.db"`) } } });
      const run = ok<PurgeView>(await c.call({ op: 'purge.run', input: { planId: plan.planId, ids: ['ct-a'] } }));
      expect(run.targets).toEqual([expect.objectContaining({ id: 'ct-a', trashId: expect.stringMatching(/^tr-[0-9a-f]{16}$/) })]);
      expect(run.skipped).toEqual([{ id: 'ct-b', why: 'unselected', message: 'mirrors/ct-b was not selected: kept; preview again to purge it' }]);
      expect(fs.readdirSync(mirrors).filter((n) => n.startsWith('ct-'))).toEqual(['ct-b']);
      const trashId = run.targets[0]!.trashId!;

      const listed = await http('trash.list', {});
      expect(listed.status).toBe(200);
      const view = (listed.body as { result: TrashView }).result;
      expect(view.entries).toEqual([expect.objectContaining({ id: trashId, name: 'ct-a', files: 1, bytes: 4, state: 'trashed', planId: plan.planId })]);
      expect(view.bytes).toBe(4);
      expect(ok<HubStatus>(await c.call({ op: 'status' })).trashBytes).toBe(4);

      // Restore over the WebSocket; again over HTTP: no such entry any more.
      const restored = ok<TrashRestoreView>(await c.call({ op: 'trash.restore', input: { id: trashId } }));
      expect(restored).toMatchObject({ beside: false, restoredTo: path.join(mirrors, 'ct-a') });
      expect(fs.readFileSync(path.join(mirrors, 'ct-a', 'f.txt'), 'utf8')).toBe('ct-a');
      expect(await http('trash.restore', { id: trashId })).toMatchObject({ status: 404, body: { ok: false, error: { code: 'NOT_FOUND' } } });

      // Into the trash again, the place taken meanwhile: CONFLICT on both transports, the entry kept.
      const again = ok<PurgeView>(await c.call({ op: 'purge.preview', input: {} }));
      const second = (await http('purge.run', { planId: again.planId, ids: ['ct-a'] })).body as { result: PurgeView };
      const id2 = second.result.targets[0]!.trashId!;
      fs.mkdirSync(path.join(mirrors, 'ct-a'));
      expect(await http('trash.restore', { id: id2 })).toMatchObject({ status: 409, body: { ok: false, error: { code: 'CONFLICT', message: expect.stringContaining('mirrors/ct-a exists (a directory)') } } });
      expect(await c.call({ op: 'trash.restore', input: { id: id2 } })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
      fs.rmdirSync(path.join(mirrors, 'ct-a'));

      // Empty: by age keeps it (purged just now), an unknown id is refused, then all of it.
      expect(ok<TrashEmptyView>(await c.call({ op: 'trash.empty', input: { olderThanDays: 1 } })).emptied).toEqual([]);
      expect(await http('trash.empty', { ids: ['tr-ffffffffffffffff'] })).toMatchObject({ status: 404, body: { ok: false, error: { code: 'NOT_FOUND' } } });
      const emptied = (await http('trash.empty', {})).body as { ok: boolean; result: TrashEmptyView };
      expect(emptied.result).toMatchObject({ emptied: [expect.objectContaining({ id: id2, name: 'ct-a' })], files: 1, bytes: 4, failed: [] });
      expect(ok<TrashView>(await c.call({ op: 'trash.list', input: {} })).entries).toEqual([]);
      expect(fs.readdirSync(path.join(dir, 'trash'))).toEqual([]);
      fs.rmSync(path.join(mirrors, 'ct-b'), { recursive: true });
    } finally {
      c.close();
    }
  });

  it('serves the UI with a CSP without the token, and no other file', async () => {
    const index = await fetch(`${running.ui}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(index.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(index.headers.get('x-frame-options')).toBe('DENY');
    const html = await index.text();
    const asset = /src="\.(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeTruthy();
    const js = await fetch(`${running.ui}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toMatch(/immutable/);
    for (const p of ['/hub.json', '/../hub.json', '/%2e%2e/hub.json', '/assets/../../hub.json']) {
      expect((await fetch(`${running.ui}${p}`)).status, p).toBe(404);
    }
    // The API itself still wants the token.
    expect((await fetch(`${running.ui}/api/invoke`, { method: 'POST', body: '{"op":"status"}' })).status).toBe(401);
  });

  it('keeps settings, applies them, and refuses a foreign origin', async () => {
    expect((await http('settings.set', { logLevel: 'debug' })).body).toMatchObject({ ok: true, result: { logLevel: 'debug', notifyOnError: true } });
    expect(running.hub.settings()).toEqual({
      logLevel: 'debug', notifyOnError: true, mirrorModes: 'private', trashRetentionDays: 7, changesRetentionDays: 30, agentHistoryDays: 90,
      notifyOnDisconnect: true, notifyDisconnectedAfterSeconds: 300, notifyOnConflicts: true, notifyOnProblems: true, startOnLogin: false,
    });
    expect((await http('settings.set', { notifyDisconnectedAfterSeconds: 5, notifyOnProblems: false })).body)
      .toMatchObject({ ok: true, result: { notifyDisconnectedAfterSeconds: 5, notifyOnProblems: false, notifyOnConflicts: true } });
    // Start on login is the desktop app's: a headless hub refuses it, on both transports, and keeps the setting off.
    const c = await wsClient();
    try {
      for (const answer of [(await http('settings.set', { startOnLogin: true })).body, await c.call({ op: 'settings.set', input: { startOnLogin: true } })]) {
        expect(answer).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/^startOnLogin: only the desktop app starts on login; this hub runs headless/) } });
      }
      expect(await c.call({ op: 'settings.set', input: { startOnLogin: false } })).toMatchObject({ ok: true, result: { startOnLogin: false } });
    } finally {
      c.close();
    }
    expect(running.hub.settings()).toMatchObject({ startOnLogin: false, notifyDisconnectedAfterSeconds: 5 });
    const foreign = await fetch(`${running.ui}/api/invoke`, {
      method: 'POST', headers: { Authorization: `Bearer ${running.adminToken}`, Origin: 'http://evil.example' }, body: '{"op":"status"}',
    });
    expect(foreign.status).toBe(403);
  });
});

describe('the Electron IPC adapter', () => {
  const make = () => createIpcAdapter({ handlers: running.hub.handlers(), events: running.hub, eventChannel: IPC_CHANNELS.event, isTrustedUrl: isAppUrl, log: running.hub.log.child('ipc') });

  it('answers our own page, and rejects unknown operations and malformed requests with the same typed errors', async () => {
    const ipc = make();
    const { event } = ipcEvent(APP_INDEX);
    expect(await ipc.invoke(event, 'status', {})).toMatchObject({ ok: true, result: { nodes: expect.any(Array) } });
    expect(await ipc.invoke(event, 'nodes.explode', {})).toMatchObject({ ok: false, error: { code: 'UNKNOWN_OP' } });
    expect(await ipc.invoke(event, { toString: 1 }, {})).toMatchObject({ ok: false, error: { code: 'UNKNOWN_OP' } });
    for (const [op, input] of BAD_SHAPES) {
      expect(await ipc.invoke(event, op, input), `${op} ${JSON.stringify(input)}`).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    }
    expect(await ipc.invoke(event, 'nodes.detail', { id: 'missing' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('refuses messages from other pages and from subframes', async () => {
    const ipc = make();
    for (const { event } of [ipcEvent('https://evil.example/'), ipcEvent('file:///etc/passwd'), ipcEvent('app://other/index.html'), ipcEvent(APP_INDEX, { subframe: true })]) {
      expect(await ipc.invoke(event, 'nodes.add', { name: 'sneaky' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      ipc.subscribe(event, 'status');
    }
    expect(ipc.subscriberCount()).toBe(0);
    expect((await running.hub.handlers()['nodes.list']({})).some((n) => n.name === 'sneaky')).toBe(false);
  });

  it('forwards events to a subscribed page until it unsubscribes or goes away', async () => {
    const ipc = make();
    const page = ipcEvent(APP_INDEX, { id: 7 });
    ipc.subscribe(page.event, 'status');
    ipc.subscribe(page.event, 'status'); // twice: still one forwarding
    ipc.subscribe(page.event, 'nonsense');
    expect(ipc.subscriberCount()).toBe(1);
    await ipc.invoke(page.event, 'nodes.add', { name: 'ipc-watcher' });
    await waitFor('a status event over IPC', () => page.sent.some((m) => m.channel === IPC_CHANNELS.event && m.args[0] === 'status' && (m.args[1] as HubStatus).nodes.some((n) => n.name === 'ipc-watcher')), 5000);
    ipc.unsubscribe(page.event, 'status');
    expect(ipc.subscriberCount()).toBe(0);
    ipc.subscribe(page.event, 'log');
    expect(ipc.subscriberCount()).toBe(1);
    page.destroy();
    expect(ipc.subscriberCount()).toBe(0);
  });
});

describe('nodes.pending and template events, on every transport', () => {
  /** A node with hub-side changes waiting for it: what a scan of its mirror records (real store, real SQLite). */
  async function nodeWithHubChanges(name: string, paths: string[]): Promise<string> {
    const added = await http('nodes.add', { name });
    const id = (added.body as unknown as { result: { node: { id: string } } }).result.node.id;
    running.hub.store.recordMirrorChanges(id, { put: paths.map((p, i) => cachedEntry(p, { size: 10 + i })), del: [], forNode: paths });
    return id;
  }

  it('pages the hub-side changes a node has not applied, the same over HTTP, WebSocket and IPC, with totals', async () => {
    const paths = ['a.txt', 'b.txt', 'c.txt', 'd.txt', 'e.txt'];
    const id = await nodeWithHubChanges('pending-pages', paths);
    const c = await wsClient();
    const ipc = createIpcAdapter({ handlers: running.hub.handlers(), events: running.hub, eventChannel: IPC_CHANNELS.event, isTrustedUrl: isAppUrl, log: running.hub.log.child('ipc') });
    const { event } = ipcEvent(APP_INDEX);
    try {
      const transports: [string, (input: unknown) => Promise<Record<string, unknown>>][] = [
        ['http', async (input) => (await http('nodes.pending', input)).body as unknown as Record<string, unknown>],
        ['ws', (input) => c.call({ op: 'nodes.pending', input })],
        ['ipc', async (input) => (await ipc.invoke(event, 'nodes.pending', input)) as unknown as Record<string, unknown>],
      ];
      for (const [name, call] of transports) {
        const first = await call({ id, direction: 'to-node', limit: 2 });
        expect(first, name).toMatchObject({ ok: true, result: { direction: 'to-node', total: 5, totalBytes: 10 + 11 + 12 + 13 + 14, next: expect.any(String) } });
        const seen: string[] = [];
        let page = (first as { result: PendingPage }).result;
        seen.push(...page.items.map((i) => i.path));
        while (page.next) {
          page = ((await call({ id, direction: 'to-node', limit: 2, cursor: page.next })) as { result: PendingPage }).result;
          seen.push(...page.items.map((i) => i.path));
        }
        expect(seen, name).toEqual(paths);
        expect(page.items[0], name).toEqual({ path: 'e.txt', action: 'pull', size: 14, state: 'queued' });
        // Not connected: nothing comes from the node, and that is said as an empty page.
        expect(await call({ id, direction: 'to-hub' }), name).toMatchObject({ ok: true, result: { direction: 'to-hub', items: [], total: 0, next: null } });
        expect(await call({ id: 'missing', direction: 'to-node' }), name).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
        for (const bad of [{ id, direction: 'sideways' }, { id, direction: 'to-node', cursor: 'abc' }, { id, direction: 'to-node', limit: 0 }, { id, direction: 'to-node', limit: 1001 }, { id }]) {
          expect(await call(bad), `${name} ${JSON.stringify(bad)}`).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringContaining('nodes.pending') } });
        }
      }
    } finally {
      c.close();
    }
  });

  it('pushes changed settings to WebSocket and IPC subscribers (every page follows the notification switches)', async () => {
    const c = await wsClient();
    const ipc = createIpcAdapter({ handlers: running.hub.handlers(), events: running.hub, eventChannel: IPC_CHANNELS.event, isTrustedUrl: isAppUrl, log: running.hub.log.child('ipc') });
    const page = ipcEvent(APP_INDEX, { id: 12 });
    try {
      expect(await c.call({ subscribe: 'settings' })).toMatchObject({ ok: true });
      ipc.subscribe(page.event, 'settings');
      expect((await http('settings.set', { notifyOnConflicts: false, notifyDisconnectedAfterSeconds: 42 })).body).toMatchObject({ ok: true });
      const pushed = (d: unknown) => (d as Settings).notifyDisconnectedAfterSeconds === 42 && (d as Settings).notifyOnConflicts === false;
      await waitFor('the settings event over the WebSocket', () => c.events.some((e) => e.event === 'settings' && pushed(e.data)), 5000);
      await waitFor('the settings event over IPC', () => page.sent.some((m) => m.channel === IPC_CHANNELS.event && m.args[0] === 'settings' && pushed(m.args[1])), 5000);
      // A refused change pushes nothing.
      const before = c.events.length;
      expect((await http('settings.set', { notifyDisconnectedAfterSeconds: 0 })).body).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
      expect((await http('settings.set', { notifyOnConflicts: true })).body).toMatchObject({ ok: true });
      await waitFor('the next settings event', () => c.events.length > before, 5000);
      expect(c.events.slice(before).map((e) => (e.data as Settings).notifyOnConflicts)).toEqual([true]);
    } finally {
      c.close();
      page.destroy();
    }
  });

  it('pushes a template created through the API to WebSocket and IPC subscribers (no page reload needed)', async () => {
    const c = await wsClient();
    const ipc = createIpcAdapter({ handlers: running.hub.handlers(), events: running.hub, eventChannel: IPC_CHANNELS.event, isTrustedUrl: isAppUrl, log: running.hub.log.child('ipc') });
    const page = ipcEvent(APP_INDEX, { id: 11 });
    try {
      expect(await c.call({ subscribe: 'agent.template' })).toMatchObject({ ok: true });
      ipc.subscribe(page.event, 'agent.template');
      const made = await http('agents.createTemplate', { name: 'pushed-template', command: 'true', defaultConfig: { depth: 2 } });
      expect(made.body).toMatchObject({ ok: true });
      await waitFor('the template event over the WebSocket', () => c.events.some((e) => e.event === 'agent.template' && (e.data as { name: string }).name === 'pushed-template'), 5000);
      await waitFor('the template event over IPC', () => page.sent.some((m) => m.channel === IPC_CHANNELS.event && m.args[0] === 'agent.template' && (m.args[1] as { name: string }).name === 'pushed-template'), 5000);
      expect(c.events.find((e) => e.event === 'agent.template')!.data).toMatchObject({ name: 'pushed-template', command: 'true', defaultConfig: { depth: 2 } });
    } finally {
      c.close();
      page.destroy();
    }
  });
});
