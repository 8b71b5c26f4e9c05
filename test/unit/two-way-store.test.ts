/** Two-way state in real SQLite: ancestors, the hub's own change queue, conflict copies, the node's from-hub marks. */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { HubStore } from '../../main/store/hub-store';
import { NodeStore } from '../../main/store/node-store';
import { cachedEntry, tempDirs } from '../helpers/entries';
import { rewindHubSchema } from '../helpers/hub-schema';

const tmp = tempDirs('2way-store');
const entry = cachedEntry;

describe('HubStore two-way state', () => {
  it('keeps ancestors per node; an absent agreement removes the subtree', () => {
    const s = new HubStore(path.join(tmp(), 'hub.db'));
    s.addNode('n', 'n', 'x');
    s.addNode('m', 'm', 'x');
    const v = { type: 'file' as const, hash: 'ab'.repeat(32), mode: 0o644, mtimeMs: 5, target: '' };
    s.ancestors.set('n', [['d', { ...v, type: 'dir', hash: '' }], ['d/a', v], ['d/b/c', v], ['e', v]]);
    s.ancestors.set('m', [['d/a', v]]);
    expect(s.ancestors.get('n', 'd/a')).toEqual(v);
    s.ancestors.set('n', [['d', null]]);
    expect([s.ancestors.get('n', 'd'), s.ancestors.get('n', 'd/a'), s.ancestors.get('n', 'd/b/c')]).toEqual([null, null, null]);
    expect(s.ancestors.get('n', 'e')).toEqual(v);
    expect(s.ancestors.get('m', 'd/a')).toEqual(v);
    s.ancestors.clear('n');
    expect(s.ancestors.get('n', 'e')).toBeNull();
    s.close();
  });

  it('queues hub-side changes in order, once per path, and forgets them when acknowledged', () => {
    const s = new HubStore(path.join(tmp(), 'hub.db'));
    s.addNode('n', 'n', 'x');
    s.index.putFiles('n', [entry('a', { size: 10 }), entry('b', { size: 20 })]);
    s.hubChanges.queue('n', ['a', 'b', 'gone']);
    s.hubChanges.queue('n', ['a']);
    expect(s.hubChanges.after('n', 0, 10)).toEqual([{ seq: 2, path: 'b' }, { seq: 3, path: 'gone' }, { seq: 4, path: 'a' }]);
    expect(s.hubChanges.pending('n')).toEqual({ files: 3, bytes: 30 });
    s.hubChanges.ack('n', 3);
    expect(s.hubChanges.after('n', 0, 10)).toEqual([{ seq: 4, path: 'a' }]);
    expect(s.node('n')).toMatchObject({ hubSeq: 4, hubAcked: 3 });
    // An older acknowledgement never moves it back.
    s.hubChanges.ack('n', 1);
    expect(s.node('n')!.hubAcked).toBe(3);
    s.close();
  });

  it('counts what is pending for the node once, not at every status, and again after each queue or acknowledgement', () => {
    const s = new HubStore(path.join(tmp(), 'hub.db'));
    s.addNode('n', 'n', 'x');
    s.index.putFiles('n', [entry('a', { size: 10 }), entry('b', { size: 20 })]);
    const stmt = (s.hubChanges as unknown as { q: { hubPending: { get: (id: string) => unknown } } }).q.hubPending;
    const get = stmt.get.bind(stmt);
    let counts = 0;
    stmt.get = (id) => { counts++; return get(id); };
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      s.hubChanges.queue('n', ['a']);
      for (let i = 0; i < 50; i++) expect(s.hubChanges.pending('n')).toEqual({ files: 1, bytes: 10 });
      expect(counts).toBe(1);
      s.hubChanges.queue('n', ['b']);
      expect(s.hubChanges.pending('n')).toEqual({ files: 2, bytes: 30 });
      s.hubChanges.ack('n', 1);
      expect(s.hubChanges.pending('n')).toEqual({ files: 1, bytes: 20 });
      expect(counts).toBe(3);
      // An empty queue is known from the queue's length kept in memory: nothing to join.
      s.forgetMirror('n');
      expect(s.hubChanges.pending('n')).toEqual({ files: 0, bytes: 0 });
      expect(counts).toBe(3);
      // A file's size changed without a queue: shown once the count is a second old.
      s.index.putFiles('n', [entry('b', { size: 25 })]);
      s.hubChanges.queue('n', ['b']);
      s.index.putFiles('n', [entry('b', { size: 26 })]);
      expect(s.hubChanges.pending('n')).toEqual({ files: 1, bytes: 26 });
      s.index.putFiles('n', [entry('b', { size: 27 })]);
      expect(s.hubChanges.pending('n')).toEqual({ files: 1, bytes: 26 });
      vi.advanceTimersByTime(1000);
      expect(s.hubChanges.pending('n')).toEqual({ files: 1, bytes: 27 });
    } finally {
      vi.useRealTimers();
    }
    s.close();
  });

  it('finds conflict copies through a partial index, however big the mirror', () => {
    const f = path.join(tmp(), 'hub.db');
    const s = new HubStore(f);
    s.addNode('n', 'n', 'x');
    s.index.putFiles('n', [entry('a.md'), entry('a.sync-conflict-20260101-101010-hub.md'), entry('x/b.sync-conflict-20260101-101010-node'), entry('not.sync-conflict-later.md')]);
    expect(s.index.conflicts('n')).toEqual(['a.sync-conflict-20260101-101010-hub.md', 'x/b.sync-conflict-20260101-101010-node']);
    // A second connection to the file: the store keeps its own private.
    const db = new Database(f, { readonly: true });
    const plan = db.prepare("EXPLAIN QUERY PLAN SELECT path FROM files WHERE node_id = ? AND path GLOB '*.sync-conflict-*' ORDER BY path").all('n') as { detail: string }[];
    db.close();
    expect(plan.map((r) => r.detail).join(' ')).toContain('files_conflicts');
    s.close();
  });

  it('a flush and a mirror scan each record all their parts or none (one transaction across the store\'s parts)', () => {
    const s = new HubStore(path.join(tmp(), 'hub.db'));
    s.addNode('n', 'n', 'x');
    s.index.putFiles('n', [entry('old')]);
    const v = { type: 'file' as const, mode: 0o644, hash: '01'.repeat(32), target: '', mtimeMs: 1.5 };
    const failure = { direction: 'to-hub' as const, path: 'f', code: 'EIO', reason: 'io', firstAt: 1, at: 1, attempts: 1, retryAt: null, entry: null };
    // The last part of the flush fails (a hub change queued for a node the store does not know):
    // the index, agreements and failures written before it are rolled back with it.
    expect(() => s.recordFlush('ghost', { put: [entry('a')], del: [], agreed: [['a', v]], forNode: ['a'], failed: [failure], cleared: [], acked: 1, indexId: 'i' })).toThrow();
    expect([s.index.file('ghost', 'a'), s.ancestors.get('ghost', 'a'), s.failures.list('ghost')]).toEqual([undefined, null, []]);
    // A scan's queueing for the node fails (a node the store does not know): its index changes go back too.
    s.index.putFiles('ghost', [entry('old')]);
    expect(() => s.recordMirrorChanges('ghost', { del: ['old'], put: [entry('new')], forNode: ['old', 'new'] })).toThrow();
    expect(s.index.paths('ghost')).toEqual(['old']);
    // And when nothing fails, every part is written: the index and the queue for the node.
    s.recordMirrorChanges('n', { del: ['old'], put: [entry('new')], forNode: ['old', 'new'], agreed: [['new', v]] });
    expect([s.index.paths('n'), s.hubChanges.after('n', 0, 10).map((c) => c.path), s.ancestors.get('n', 'new')]).toEqual([['new'], ['old', 'new'], v]);
    s.close();
  });

  it('a database from before two-way sync takes what it recorded as agreed', () => {
    const f = path.join(tmp(), 'hub.db');
    const s = new HubStore(f);
    s.addNode('n', 'n', 'x');
    s.index.putFiles('n', [entry('old.txt')]);
    s.close();
    // Back to schema 2: what an earlier version left behind.
    const db = new Database(f);
    rewindHubSchema(db, 2);
    db.close();
    const again = new HubStore(f);
    expect(again.ancestors.get('n', 'old.txt')).toMatchObject({ type: 'file', hash: '01'.repeat(32), mode: 0o644 });
    expect(again.node('n')).toMatchObject({ hubSeq: 0, hubAcked: 0 });
    again.close();
  });
  it("keeps each node's queue length in memory, agreeing with SQL under seeded random queue/ack/forget/flush sequences, rolled-back ones too", () => {
    const file = path.join(tmp(), 'hub.db');
    const s = new HubStore(file);
    const sql = new Database(file, { readonly: true });
    const count = (n: string) => (sql.prepare('SELECT count(*) AS n FROM hub_changes WHERE node_id = ?').get(n) as { n: number }).n;
    const nodes = ['n', 'm'];
    for (const n of nodes) s.addNode(n, n, 'x');
    let seed = 13;
    const rnd = (k: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % k; };
    const paths = () => Array.from({ length: rnd(6) }, () => `p${rnd(10)}`);
    const bad = { direction: 'to-hub' as const, path: 'f', code: null as unknown as string, reason: 'io', firstAt: 1, at: 1, attempts: 1, retryAt: null, entry: null };
    const flush = { put: [], del: [], agreed: [], failed: [], cleared: [], acked: null, indexId: null };
    let rolledBack = 0;
    for (let i = 0; i < 600; i++) {
      const n = nodes[rnd(2)]!;
      const op = rnd(7);
      if (op === 0 || op === 1) s.hubChanges.queue(n, paths());
      else if (op === 2) s.hubChanges.ack(n, rnd(s.node(n)!.hubSeq + 2));
      else if (op === 3 && rnd(4) === 0) s.forgetMirror(n);
      else if (op === 4) s.recordFlush(n, { ...flush, forNode: paths() });
      else if (op === 5) s.recordMirrorChanges(n, { put: [], del: [], forNode: paths() });
      else if (op === 6) {
        // The queueing is written, then the failures' part throws: the whole flush rolls back.
        const before = count(n);
        expect(() => s.recordFlush(n, { ...flush, forNode: ['p1', 'new'], failed: [bad] })).toThrow();
        expect(count(n)).toBe(before);
        rolledBack++;
      }
      for (const k of nodes) expect(s.hubChanges.count(k), `step ${i}, node ${k}`).toBe(count(k));
      expect(s.hubChanges.pending(n).files).toBe(count(n));
    }
    expect(rolledBack).toBeGreaterThan(20);
    sql.close();
    s.close();
  });
});

describe('NodeStore from-hub marks', () => {
  it('sends a version applied from the hub with the hub\'s sequence number, and others without', () => {
    const s = new NodeStore(path.join(tmp(), 'node.db'));
    s.record([entry('mine'), { ...entry('theirs'), fromHubSeq: 42 }]);
    const out = s.since(0, 10);
    expect(out.map((e) => [e.path, e.fromHubSeq])).toEqual([['mine', undefined], ['theirs', 42]]);
    // A later local change of that path is the node's own again.
    s.record([entry('theirs', { size: 4 })]);
    expect(s.since(2, 10).map((e) => [e.path, e.fromHubSeq])).toEqual([['theirs', undefined]]);
    s.close();
  });
});
