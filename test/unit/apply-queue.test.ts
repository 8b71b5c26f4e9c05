/**
 * The order in which a session applies a node's changes (hub/apply-queue.ts), with the work in
 * memory (each item's run() waits until the test finishes it): barriers wait for what runs and
 * hold back what follows, limits hold, a newer change of a path replaces the queued one, two
 * names of one file never run side by side where case is ignored, and a flush acknowledges in
 * the node's order. No disk.
 */
import { describe, expect, it } from 'vitest';
import { ApplyQueue, type ApplyQueueLimits, type QueueItem } from '../../main/hub/apply-queue';
import type { Action } from '../../main/sync/plan';
import type { Entry } from '../../main/sync/types';

let seq = 0;
function entry(path: string, extra: Partial<Entry> = {}): Entry {
  return { path, type: 'file', size: 10, mtimeMs: 1, mode: 0o644, hash: Buffer.alloc(32), blockSize: 131072, blocks: Buffer.alloc(32), target: '', deleted: false, seq: ++seq, ...extra };
}
const turn = () => new Promise((r) => setImmediate(r));

function setup(opts: { caseInsensitive?: boolean; limits?: ApplyQueueLimits } = {}) {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const q = new ApplyQueue({
    caseInsensitive: opts.caseInsensitive ?? false,
    run: (it: QueueItem) => {
      started.push(it.entry.path);
      return new Promise<void>((r) => finish.set(it.entry.path, r));
    },
    ran: () => undefined,
    ...(opts.limits ? { limits: opts.limits } : {}),
  });
  const add = (path: string, action: Action = { kind: 'pull' }, extra: Partial<Entry> = {}, expected: QueueItem['expected'] = null, conflict?: QueueItem['conflict']) =>
    q.enqueue(entry(path, extra), action, expected, conflict);
  /** Lets `path`'s run end, and what follows start. */
  const done = async (path: string) => {
    finish.get(path)!();
    await turn();
  };
  return { q, started, add, done };
}

describe('ApplyQueue', () => {
  it('runs independent changes side by side, in order', () => {
    const { q, started, add } = setup();
    add('a');
    add('b', { kind: 'mkdir' }, { type: 'dir' });
    add('c');
    q.pump();
    expect(started).toEqual(['a', 'b', 'c']);
    expect(q.running).toBe(3);
  });

  it('runs a deletion alone: after what came before, before what follows', async () => {
    const { q, started, add, done } = setup();
    add('a');
    add('b');
    add('old', { kind: 'delete' }, { deleted: true }, { type: 'file', size: 10, mtimeMs: 1, ino: 1 });
    add('c');
    q.pump();
    expect(started).toEqual(['a', 'b']);
    await done('a');
    expect(started).toEqual(['a', 'b']);
    await done('b');
    expect(started).toEqual(['a', 'b', 'old']);
    expect(q.running).toBe(1);
    await done('old');
    expect(started).toEqual(['a', 'b', 'old', 'c']);
  });

  it('runs a change of what a path is (a file replacing a directory) and a conflict alone', async () => {
    const { q, started, add, done } = setup();
    add('a');
    add('d', { kind: 'pull' }, {}, { type: 'dir', size: 0, mtimeMs: 1, ino: 2 });
    add('x', { kind: 'pull' }, {}, null, { loser: 'hub', copyTo: 'x.sync-conflict' });
    add('b');
    q.pump();
    expect(started).toEqual(['a']);
    await done('a');
    expect(started).toEqual(['a', 'd']);
    await done('d');
    expect(started).toEqual(['a', 'd', 'x']);
    await done('x');
    expect(started).toEqual(['a', 'd', 'x', 'b']);
  });

  it('keeps within its limits: pulls, other operations, and pull memory', async () => {
    const { q, started, add, done } = setup({ limits: { files: 2, ops: 3, pullMemory: 25 } });
    add('p1');
    add('p2');
    add('p3');
    q.pump();
    expect(started).toEqual(['p1', 'p2']);
    await done('p1');
    expect(started).toEqual(['p1', 'p2', 'p3']);
    // 10 + 10 running; one more 10-byte pull would hold 30 > 25.
    add('p4');
    await done('p2');
    expect(started).toEqual(['p1', 'p2', 'p3', 'p4']);
    add('p5');
    q.pump();
    expect(started).toHaveLength(4);
  });

  it('lets more small pulls run at once than big ones, within the pull memory', async () => {
    const { q, started, add, done } = setup({ limits: { files: 2, smallFiles: 4, smallSize: 10, ops: 4, pullMemory: 100 } });
    for (const p of ['s1', 's2', 's3', 's4', 's5']) add(p);
    q.pump();
    // Four 10-byte pulls run (more than `files`), the fifth waits for the small-file window.
    expect(started).toEqual(['s1', 's2', 's3', 's4']);
    add('big', { kind: 'pull' }, { size: 11 });
    await done('s1');
    expect(started).toEqual(['s1', 's2', 's3', 's4', 's5']);
    // A bigger pull keeps to `files`: it starts only when fewer than two run.
    await done('s2');
    await done('s3');
    expect(started).toHaveLength(5);
    await done('s4');
    expect(started).toEqual(['s1', 's2', 's3', 's4', 's5', 'big']);
    // Small pulls still keep within the pull memory.
    const m = setup({ limits: { files: 1, smallFiles: 8, smallSize: 10, ops: 1, pullMemory: 25 } });
    for (const p of ['a', 'b', 'c']) m.add(p);
    m.q.pump();
    expect(m.started).toEqual(['a', 'b']);
  });

  it('replaces a queued change of a path by its newer one, and aborts a running one', async () => {
    const { q, started, add, done } = setup({ limits: { files: 1, ops: 1, pullMemory: 100 } });
    const first = add('a');
    add('b');
    add('b');
    q.pump();
    expect(started).toEqual(['a']);
    const newer = add('a');
    expect(first.abort).toBeUndefined();
    first.abort = new AbortController();
    add('a');
    expect(first.abort.signal.aborted).toBe(false);
    expect(newer.state).toBe('done');
    await done('a');
    // One of the two b's runs; the newest a runs after it.
    expect(started).toEqual(['a', 'b']);
    await done('b');
    expect(started).toEqual(['a', 'b', 'a']);
    expect(q.latest('a')!.state).toBe('running');
  });

  it('aborts the running change of a path when a newer one comes', () => {
    const { q, add } = setup();
    const running = add('a');
    q.pump();
    running.abort = new AbortController();
    add('a');
    expect(running.abort.signal.aborted).toBe(true);
  });

  it('starts a newer change of a path only once its aborted older one has settled (its commit may land still)', async () => {
    const { q, started, add, done } = setup();
    const older = add('a');
    q.pump();
    older.abort = new AbortController();
    add('a');
    add('b');
    q.pump();
    expect(older.abort.signal.aborted).toBe(true);
    // b runs beside it; the newer a waits for the older one, which a commit in a worker may
    // still finish (and it would land after the newer one's).
    expect(started).toEqual(['a', 'b']);
    await done('a');
    expect(started).toEqual(['a', 'b', 'a']);
    expect(q.latest('a')!.state).toBe('running');
  });

  it('says a path runs while an older change of it runs, even with the newer one only queued; a newest one replacing a queued one still waits for it', async () => {
    const { q, started, add, done } = setup({ limits: { files: 2, ops: 2, pullMemory: 100 } });
    add('a');
    add('b');
    q.pump();
    expect(q.runs('a')).toBe(true);
    add('a');
    add('a');
    q.pump();
    // The older a still commits: its path runs, whatever the newest one's state.
    expect(q.latest('a')!.state).toBe('queued');
    expect(q.runs('a')).toBe(true);
    await done('b');
    // The newest a started (a slot is free) but waits for the older one.
    expect(q.latest('a')!.state).toBe('running');
    expect(started).toEqual(['a', 'b']);
    await done('a');
    expect(started).toEqual(['a', 'b', 'a']);
    await done('a');
    expect(q.runs('a')).toBe(false);
    expect(q.runs('b')).toBe(false);
  });

  it('never runs a change of a path superseded while it waited for the older one, nor once stopped', async () => {
    const { q, started, add, done } = setup();
    add('a');
    q.pump();
    const waiting = add('a');
    q.pump();
    add('a');
    q.pump();
    await done('a');
    // The middle one never ran; the newest runs once the first has settled (the middle one too).
    expect(waiting.state).toBe('done');
    expect(started).toEqual(['a', 'a']);
    const m = setup();
    m.add('x');
    m.q.pump();
    const w = m.add('x');
    m.q.pump();
    m.q.stop();
    await m.done('x');
    expect(m.started).toEqual(['x']);
    expect(w.interrupted).toBe(true);
  });

  it('never runs two names of one file side by side where case is ignored', async () => {
    const { q, started, add, done } = setup({ caseInsensitive: true });
    add('Readme.md');
    add('README.md');
    add('other');
    q.pump();
    expect(started).toEqual(['Readme.md']);
    await done('Readme.md');
    expect(started).toEqual(['Readme.md', 'README.md']);
    const sensitive = setup();
    sensitive.add('Readme.md');
    sensitive.add('README.md');
    sensitive.q.pump();
    expect(sensitive.started).toEqual(['Readme.md', 'README.md']);
  });

  it('finds the running item of an ancestor directory', () => {
    const { q, add } = setup();
    add('top', { kind: 'mkdir' }, { type: 'dir' });
    expect(q.runningAncestor(['top/sub', 'top'])).toBeUndefined();
    q.pump();
    expect(q.runningAncestor(['top/sub', 'top'])!.entry.path).toBe('top');
  });

  it('acknowledges in the node order: what is done after one still running waits', async () => {
    const { q, add, done } = setup();
    const a = add('a');
    const b = add('b');
    const c = add('c');
    q.pump();
    await done('a');
    await done('c');
    const r = q.acknowledgeable(0);
    expect(r).toEqual({ acked: a.entry.seq, waiting: true, settled: new Set([a]) });
    q.forget(r.settled);
    expect(q.has('a')).toBe(false);
    expect(q.has('c')).toBe(true);
    expect(q.pending()).toEqual({ files: 1, bytes: 10 });
    expect(q.pendingItems(10)).toEqual([{ path: 'b', action: 'pull', size: 10, state: 'running' }]);
    await done('b');
    expect(q.acknowledgeable(a.entry.seq)).toEqual({ acked: c.entry.seq, waiting: false, settled: new Set([b, c]) });
  });

  it('settles a retry queued behind a change still running, and keeps starting what waits after a flush', async () => {
    const { q, started, add, done } = setup({ limits: { files: 2, ops: 2, pullMemory: 1 << 30 } });
    const a = add('a');
    const b = add('b');
    const c = add('c');
    // A retry of an earlier failure: its number was acknowledged long ago.
    const retry = q.enqueue(entry('old', { seq: 1 }), { kind: 'pull' }, null);
    q.pump();
    expect(started).toEqual(['a', 'b']);
    await done('b');
    expect(started).toEqual(['a', 'b', 'c']);
    await done('c');
    expect(started).toEqual(['a', 'b', 'c', 'old']);
    await done('old');
    const r = q.acknowledgeable(a.entry.seq - 1);
    // 'a' still runs: b and c wait for it, the retry does not.
    expect(r).toEqual({ acked: a.entry.seq - 1, waiting: true, settled: new Set([retry]) });
    q.forget(r.settled);
    expect(q.has('old')).toBe(false);
    const d = add('d');
    q.pump();
    expect(started).toEqual(['a', 'b', 'c', 'old', 'd']);
    await done('a');
    await done('d');
    const all = q.acknowledgeable(a.entry.seq - 1);
    expect(all).toEqual({ acked: d.entry.seq, waiting: false, settled: new Set([a, b, c, d]) });
    q.forget(all.settled);
    add('e');
    q.pump();
    expect(started.at(-1)).toBe('e');
  });

  it('starts nothing once stopped, and aborts what runs', () => {
    const { q, started, add } = setup();
    const a = add('a');
    q.pump();
    a.abort = new AbortController();
    add('b');
    q.stop();
    q.pump();
    expect(started).toEqual(['a']);
    expect(a.abort.signal.aborted).toBe(true);
  });

  it('never acknowledges a change that was running when the connection went, even if its run ends as if done', async () => {
    const { q, add, done } = setup();
    const a = add('a');
    add('b');
    q.pump();
    await done('b');
    // The connection goes while 'a' runs: its run ends (aborted), and a flush comes after.
    q.stop();
    await done('a');
    const { acked, waiting } = q.acknowledgeable(0);
    expect(waiting).toBe(true);
    expect(acked).toBeLessThan(a.entry.seq);
  });

  it('pages what is not applied yet by the node\'s sequence, a retry of an old failure first, none twice or left out', async () => {
    const { q, add, done } = setup({ limits: { files: 1, ops: 1, pullMemory: 1 << 30 } });
    const a = add('a');
    add('b');
    add('c', { kind: 'pull' }, { size: 0 });
    add('d');
    // A retry of an earlier failure, queued last but numbered first.
    q.enqueue(entry('old', { seq: 1 }), { kind: 'pull' }, null);
    q.pump();
    await done('a');
    const pages: string[][] = [];
    let after = 0;
    for (;;) {
      const page = q.pendingAfter(after, 2);
      if (page.length === 0) break;
      pages.push(page.map((r) => r.view.path));
      after = page[page.length - 1]!.seq;
    }
    expect(pages).toEqual([['old', 'b'], ['c', 'd']]);
    expect(q.pendingAfter(0, 10).map((r) => r.view)).toEqual([
      { path: 'old', action: 'pull', size: 10, state: 'queued' },
      { path: 'b', action: 'pull', size: 10, state: 'running' },
      { path: 'c', action: 'pull', size: 0, state: 'queued' },
      { path: 'd', action: 'pull', size: 10, state: 'queued' },
    ]);
    expect(q.pendingAfter(a.entry.seq + 100, 10)).toEqual([]);
  });
});
