/**
 * What a pause holds back, part by part, without processes: the node's IndexSender (on a real
 * node database) sends none of its index while paused (only how much it holds back, at most
 * once a second), stops a pass under way, and sends everything recorded meanwhile (then
 * IndexDone) on resume; the hub's ApplyQueue starts nothing queued while held, lets what runs
 * finish, and starts the rest when released.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApplyQueue, type QueueItem } from '../../main/hub/apply-queue';
import { HELD_REPORT_MS, IndexSender } from '../../main/node/index-sender';
import { NodeStore } from '../../main/store/node-store';
import type { CachedEntry, Entry } from '../../main/sync/types';
import { INDEX_WINDOW, type NodeMessage } from '../../main/sync/wire';
import { createLogger } from '../../main/util/log';

const dirs: string[] = [];
const stores: NodeStore[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const log = createLogger('node', { consoleLevel: false });
const turn = () => new Promise((r) => setImmediate(r));

function dirEntry(p: string): CachedEntry {
  return { path: p, type: 'dir', size: 0, mtimeMs: 1_700_000_000_000, mode: 0o755, hash: Buffer.alloc(0), blockSize: 0, blocks: Buffer.alloc(0), target: '', deleted: false, seq: 0, ino: 1 } as CachedEntry;
}

function setup() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-pause-gates-'));
  dirs.push(base);
  const store = new NodeStore(path.join(base, 'node.db'));
  stores.push(store);
  const sent: NodeMessage[] = [];
  const sender = new IndexSender({ store, log, connected: () => true, write: async (m) => { sent.push(m); } });
  const paths = () => sent.flatMap((m) => m.index?.files ?? []).map((f) => f.path);
  const dones = () => sent.filter((m) => m.done).map((m) => m.done!.seq);
  return { store, sender, sent, paths, dones };
}

describe('IndexSender while paused', () => {
  it('sends none of its index while paused (the changes stay recorded), only what it holds back, then all of it and IndexDone on resume', async () => {
    vi.useFakeTimers();
    const t = setup();
    t.store.record([dirEntry('a'), dirEntry('b')]);
    expect(t.sender.welcome(false, 0)).toBe(true);
    t.sender.setPaused(true);
    await t.sender.sendPending();
    const held = () => t.sent.filter((m) => m.held).map((m) => m.held!.changes);
    expect(held()).toEqual([2]);
    // More recorded within the second: told when the second is over, once.
    t.store.record([dirEntry('c')]);
    await t.sender.sendPending();
    await t.sender.sendPending();
    expect(held()).toEqual([2]);
    vi.advanceTimersByTime(HELD_REPORT_MS);
    expect(held()).toEqual([2, 3]);
    vi.advanceTimersByTime(HELD_REPORT_MS);
    await t.sender.sendPending();
    expect(held()).toEqual([2, 3]);
    expect(t.sent.filter((m) => !m.held)).toEqual([]);
    expect(t.sender.isPaused).toBe(true);
    t.sender.setPaused(false);
    await t.sender.sendPending();
    expect(t.paths()).toEqual(['a', 'b', 'c']);
    expect(t.dones()).toEqual([3]);
  });

  it('a pause stops a pass waiting at the window (no IndexDone); the resume goes on from where it stopped', async () => {
    const t = setup();
    t.store.record(Array.from({ length: INDEX_WINDOW + 3 }, (_, i) => dirEntry(`d${i}`)));
    expect(t.sender.welcome(false, 0)).toBe(true);
    const pass = t.sender.sendPending();
    await turn();
    await turn();
    expect(t.paths()).toHaveLength(INDEX_WINDOW);
    t.sender.setPaused(true);
    await pass;
    expect(t.sender.busy).toBe(false);
    expect(t.dones()).toEqual([]);
    // The hub takes the held entries in after the resume and acknowledges them.
    t.sender.setPaused(false);
    t.sender.ack(INDEX_WINDOW);
    await t.sender.sendPending();
    expect(t.paths()).toHaveLength(INDEX_WINDOW + 3);
    expect(new Set(t.paths()).size).toBe(INDEX_WINDOW + 3);
    expect(t.dones()).toEqual([INDEX_WINDOW + 3]);
  });
});

describe('ApplyQueue held', () => {
  let seq = 0;
  const entry = (p: string): Entry => ({ path: p, type: 'file', size: 10, mtimeMs: 1, mode: 0o644, hash: Buffer.alloc(32), blockSize: 131072, blocks: Buffer.alloc(32), target: '', deleted: false, seq: ++seq });

  it('starts nothing queued while held, lets what runs finish, and starts the rest when released', async () => {
    const started: string[] = [];
    const finish = new Map<string, () => void>();
    const q = new ApplyQueue({
      caseInsensitive: false,
      run: (it: QueueItem) => {
        started.push(it.entry.path);
        return new Promise<void>((r) => finish.set(it.entry.path, r));
      },
      ran: () => undefined,
    });
    q.enqueue(entry('running'), { kind: 'pull' }, null);
    q.pump();
    expect(started).toEqual(['running']);
    q.hold(true);
    q.enqueue(entry('queued'), { kind: 'pull' }, null);
    q.pump();
    finish.get('running')!();
    await turn();
    expect(started).toEqual(['running']);
    expect(q.running).toBe(0);
    expect(q.pending().files).toBe(1);
    q.hold(false);
    expect(started).toEqual(['running', 'queued']);
  });
});
