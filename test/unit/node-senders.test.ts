/**
 * What the node sends the hub, without a hub: its index under a window of unacknowledged
 * entries (IndexSender, on a real node database), and its path reports (ReportSender): only
 * what changed, the node's own problem first in a full report, a long clear list as one full
 * report; and its state dir full (DiskRetry, on mocked time): reported once, what was not
 * recorded scanned again, probed with backoff until a write succeeds.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IndexSender } from '../../main/node/index-sender';
import { ReportSender } from '../../main/node/report-sender';
import { DiskRetry } from '../../main/node/retries';
import { NodeStore } from '../../main/store/node-store';
import { PROBLEM_CODES, type PathProblem } from '../../main/sync/problems';
import type { CachedEntry } from '../../main/sync/types';
import { INDEX_WINDOW, type NodeMessage, type PathReportMsg } from '../../main/sync/wire';
import { createLogger } from '../../main/util/log';

const dirs: string[] = [];
const stores: NodeStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const log = createLogger('node', { consoleLevel: false });

function dirEntry(p: string, deleted = false): CachedEntry {
  return { path: p, type: 'dir', size: 0, mtimeMs: 1_700_000_000_000, mode: 0o755, hash: Buffer.alloc(0), blockSize: 0, blocks: Buffer.alloc(0), target: '', deleted, seq: 0, ino: 1 } as CachedEntry;
}

function store(): NodeStore {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-node-senders-'));
  dirs.push(base);
  const s = new NodeStore(path.join(base, 'node.db'));
  stores.push(s);
  return s;
}

/** An IndexSender writing into a list, connected until `connected.value` is false. */
function indexSender(s: NodeStore) {
  const sent: NodeMessage[] = [];
  const connected = { value: true };
  const sender = new IndexSender({ store: s, log, connected: () => connected.value, write: async (m) => { sent.push(m); } });
  const entries = () => sent.flatMap((m) => m.index?.files ?? []).length;
  const dones = () => sent.filter((m) => m.done).map((m) => m.done!);
  return { sender, sent, connected, entries, dones };
}

describe('IndexSender', () => {
  it('sends what the hub has not acknowledged, then IndexDone, and never more than the window before an ack', async () => {
    const s = store();
    s.record(Array.from({ length: INDEX_WINDOW + 5 }, (_, i) => dirEntry(`d${i}`)));
    const t = indexSender(s);
    expect(t.sender.welcome(false, 0)).toBe(true);
    const sending = t.sender.sendPending();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    // Stopped at the window: nothing more until the hub acknowledges.
    expect(t.entries()).toBe(INDEX_WINDOW);
    expect(t.sender.busy).toBe(true);
    expect(t.dones()).toEqual([]);
    t.sender.ack(INDEX_WINDOW);
    await sending;
    expect(t.entries()).toBe(INDEX_WINDOW + 5);
    expect(t.dones()).toEqual([{ seq: INDEX_WINDOW + 5, full: false }]);
  });

  it('starts after what the Welcome acknowledged, and marks a full pass as full', async () => {
    const s = store();
    s.record([dirEntry('a'), dirEntry('b'), dirEntry('c')]);
    const partial = indexSender(s);
    expect(partial.sender.welcome(false, 2)).toBe(true);
    await partial.sender.sendPending();
    expect(partial.sent.flatMap((m) => m.index?.files ?? []).map((f) => f.path)).toEqual(['c']);
    expect(partial.dones()).toEqual([{ seq: 3, full: false }]);
    const full = indexSender(s);
    expect(full.sender.welcome(true, 2)).toBe(true);
    await full.sender.sendPending();
    expect(full.entries()).toBe(3);
    expect(full.dones()).toEqual([{ seq: 3, full: true }]);
  });

  it('a hub behind what the node pruned gets a new index id (and a full pass), not a partial one', () => {
    const s = store();
    s.record([dirEntry('a'), dirEntry('b')]);
    s.record([dirEntry('a', true)]);
    expect(s.pruneTombstones(3)).toBe(1);
    const id = s.indexId;
    const t = indexSender(s);
    expect(t.sender.welcome(false, 2)).toBe(false);
    expect(s.indexId).not.toBe(id);
    expect(indexSender(s).sender.welcome(false, 3)).toBe(true);
  });

  it('a sender waiting for an ack stops when the session ends', async () => {
    const s = store();
    s.record(Array.from({ length: INDEX_WINDOW + 1 }, (_, i) => dirEntry(`d${i}`)));
    const t = indexSender(s);
    t.sender.welcome(false, 0);
    const sending = t.sender.sendPending();
    await new Promise((r) => setImmediate(r));
    t.connected.value = false;
    t.sender.ended();
    await sending;
    expect(t.sender.busy).toBe(false);
    expect(t.dones()).toEqual([]);
  });
});

function reportSender(nodeProblem: PathProblem | null = null) {
  const sent: PathReportMsg[] = [];
  const r = new ReportSender({ log, connected: () => true, write: async (m) => { if (m.report) sent.push(m.report); }, nodeProblem: () => nodeProblem });
  return { r, sent };
}

const unreadable = (p: string): PathProblem => ({ path: p, code: PROBLEM_CODES.UNREADABLE, reason: 'permission denied reading it' });

describe('ReportSender', () => {
  it('sends only the subtrees whose report changed, and nothing when none did', async () => {
    const t = reportSender();
    t.r.replace(['a'], [unreadable('a/x')], []);
    t.r.replace(['b'], [], []);
    await t.r.send();
    expect(t.sent).toEqual([{ clear: ['a'], problems: [{ path: 'a/x', code: 'UNREADABLE', reason: 'permission denied reading it' }], ignored: [] }]);
    t.r.replace(['a'], [unreadable('a/x')], []);
    await t.r.send();
    expect(t.sent).toHaveLength(1);
  });

  it('puts the node\'s own problem first in a report of everything, and only there', async () => {
    const own: PathProblem = { path: '', code: PROBLEM_CODES.NODE_DISK_FULL, reason: 'state dir full' };
    const t = reportSender(own);
    t.r.replace(['a'], [unreadable('a/x')], []);
    await t.r.send();
    expect(t.sent[0]!.problems.map((p) => p.path)).toEqual(['a/x']);
    t.r.changed('');
    await t.r.send();
    expect(t.sent[1]!.clear).toEqual(['']);
    expect(t.sent[1]!.problems.map((p) => p.code)).toEqual(['NODE_DISK_FULL', 'UNREADABLE']);
  });

  it('sends a clear list of more than 1000 subtrees as one report of everything', async () => {
    const t = reportSender();
    for (let i = 0; i < 1000; i++) t.r.changed(`d${i}`);
    await t.r.send();
    expect(t.sent[0]!.clear).toHaveLength(1000);
    for (let i = 0; i < 1001; i++) t.r.changed(`d${i}`);
    await t.r.send();
    expect(t.sent[1]!.clear).toEqual(['']);
  });
});

/** A DiskRetry whose probe fails while `full.value`, recording what it asks of the others. */
function diskRetry() {
  const calls: string[] = [];
  const full = { value: true };
  const d: DiskRetry = new DiskRetry({
    stateDir: '/state',
    log,
    probe: () => {
      calls.push('probe');
      if (full.value) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    },
    rescan: async (s) => { calls.push(`rescan ${s.join(',')}`); },
    serial: (fn, onError) => fn().catch(onError),
    reportChanged: () => calls.push('report changed'),
    sendReports: async () => { calls.push('send reports'); },
    stopped: () => false,
  });
  return { d, calls, full };
}

describe('DiskRetry', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('reports a full state dir once, rescans what was not recorded, then probes with backoff until a write succeeds', async () => {
    vi.useFakeTimers();
    const t = diskRetry();
    t.d.full(new Error('database or disk is full'), ['a']);
    t.d.full(new Error('database or disk is full'), ['b']);
    expect(t.d.nodeProblem?.code).toBe(PROBLEM_CODES.NODE_DISK_FULL);
    expect(t.calls).toEqual(['report changed']);
    await vi.advanceTimersByTimeAsync(500);
    expect(t.calls).toEqual(['report changed', 'rescan a,b']);
    // The rescan could not record either; these subtrees were looked at, so a probe follows (after 1 s).
    t.d.retried(['a', 'b']);
    t.calls.length = 0;
    await vi.advanceTimersByTimeAsync(999);
    expect(t.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.calls).toEqual(['probe']);
    t.full.value = false;
    await vi.advanceTimersByTimeAsync(2000);
    expect(t.calls).toEqual(['probe', 'probe', 'report changed', 'send reports']);
    expect(t.d.nodeProblem).toBeNull();
  });

  it('logs any other failure of the node\'s own work without reporting it', () => {
    const t = diskRetry();
    t.d.storeFailed(new Error('SQLITE_CORRUPT'), 'scan.failed');
    expect(t.d.nodeProblem).toBeNull();
    expect(t.calls).toEqual([]);
    t.d.storeFailed(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }), 'scan.failed');
    expect(t.d.nodeProblem?.code).toBe(PROBLEM_CODES.NODE_DISK_FULL);
    expect(t.calls).toEqual(['report changed', 'send reports']);
    t.d.stop();
  });
});
