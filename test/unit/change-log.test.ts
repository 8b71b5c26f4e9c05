/**
 * The change log: rows written by the writes they describe (a flush, the node's queue and its
 * acknowledgements, reported problems) in real SQLite; pages by keyset with each filter, each
 * served by an index (EXPLAIN QUERY PLAN); retention by age and by count in bounded batches;
 * and the pure readings: a row as a sentence, why a path is out of sync.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChangeDesk, actionsOf } from '../../main/hub/changes';
import type { NodeRuntimes } from '../../main/hub/node-runtime';
import { createLogger } from '../../main/util/log';
import { changeSentence, whyOutOfSync, type PathFacts } from '../../main/hub/change-why';
import { copiedPath, flushChanges } from '../../main/store/change-log';
import { HubStore, type FlushRecord } from '../../main/store/hub-store';
import { isConflictCopy } from '../../main/sync/reconcile';
import { cachedEntry, tempDirs } from '../helpers/entries';

const tmp = tempDirs('changes');

function flush(over: Partial<FlushRecord>): FlushRecord {
  return { put: [], del: [], agreed: [], forNode: [], failed: [], cleared: [], acked: null, indexId: null, ...over };
}

function open(): HubStore {
  const s = new HubStore(path.join(tmp(), 'hub.db'));
  s.addNode('n1', 'one', 'x');
  s.addNode('n2', 'two', 'x');
  return s;
}

describe('change log rows', () => {
  it('a flush records the node versions it applied, its deletions, conflict copies and failures; what the hub wrote itself is left to the queue', () => {
    const s = open();
    const copy = 'docs/a.sync-conflict-20260101-120000-node.txt';
    s.recordFlush('n1', flush({
      put: [cachedEntry('docs/a.txt', { size: 10, seq: 7 }), cachedEntry(copy, { size: 4 }), cachedEntry('restored', { type: 'dir', size: 0 })],
      del: ['old.txt'],
      forNode: [copy, 'docs/a.txt', 'restored'],
      failed: [{ direction: 'to-hub', path: 'bad.txt', code: 'EACCES', reason: 'permission denied', firstAt: 1, at: 1, attempts: 2, retryAt: null, entry: null }],
    }));
    const rows = s.changes.list({ nodeId: 'n1', limit: 100 }).reverse();
    const brief = rows.map((r) => [r.direction, r.action, r.path, r.code]);
    expect(brief).toEqual([
      // The queue's rows (the flush's forNode), described from the index written just before.
      ['to-node', 'put', copy, null],
      ['to-node', 'put', 'docs/a.txt', null],
      ['to-node', 'put', 'restored', null],
      ['to-hub', 'delete', 'old.txt', null],
      ['to-hub', 'conflict', 'docs/a.txt', 'node'],
      ['to-hub', 'failed', 'bad.txt', 'EACCES'],
    ]);
    expect(rows[4]!.detail).toBe(copy);
    expect(rows[5]!.seq).toBe(2);
    s.close();
  });

  it('a node version alone is a to-hub put with its size and hash prefix', () => {
    const s = open();
    s.recordFlush('n1', flush({ put: [cachedEntry('a.txt', { size: 10, seq: 3, hash: Buffer.alloc(32, 0xab) })] }));
    const [r] = s.changes.list({ limit: 10 });
    expect(r).toMatchObject({ nodeId: 'n1', path: 'a.txt', direction: 'to-hub', action: 'put', size: 10, seq: 3, hash: 'ab'.repeat(8) });
    s.close();
  });

  it('the queue notes each hub change with its number and cause, and its acknowledgement as delivered, except what the node did not apply', () => {
    const s = open();
    s.index.putFiles('n1', [cachedEntry('x', { size: 5 })]);
    s.hubChanges.queue('n1', ['x', 'gone']);
    s.hubChanges.queue('n1', ['x'], 'LOCKED');
    expect(s.hubChanges.position('n1', 'x')).toEqual({ seq: 3, ahead: 1, head: ['gone'] });
    expect(s.hubChanges.position('n1', 'gone')).toEqual({ seq: 2, ahead: 0, head: [] });
    s.hubChanges.ack('n1', 3, new Set(['gone']));
    expect(s.hubChanges.position('n1', 'x')).toBeNull();
    const rows = s.changes.list({ nodeId: 'n1', limit: 10 }).reverse().map((r) => [r.action, r.path, r.seq, r.size, r.code]);
    expect(rows).toEqual([
      ['put', 'x', 1, 5, null],
      ['delete', 'gone', 2, null, null],
      ['put', 'x', 3, 5, 'LOCKED'],
      ['delivered', 'x', 3, null, null],
    ]);
    s.close();
  });

  it('a rolled-back flush leaves no rows', () => {
    const s = open();
    // A failure with a path that violates nothing, then a flush that throws inside (an unknown direction index is not it: a put with a null path is).
    expect(() => s.recordFlush('n1', flush({ put: [cachedEntry('ok')], del: [null as unknown as string] }))).toThrow();
    expect(s.changes.list({ limit: 10 })).toEqual([]);
    s.close();
  });

  it('a problem the node reports is a row once, not again when it is reported again', () => {
    const s = open();
    s.reports.applyReport('n1', [''], [{ path: 'p', code: 'EACCES', reason: 'unreadable' }], [], 1);
    s.reports.applyReport('n1', [''], [{ path: 'p', code: 'EACCES', reason: 'unreadable' }], [], 2);
    expect(s.changes.list({ limit: 10 }).map((r) => [r.action, r.path, r.code])).toEqual([['failed', 'p', 'EACCES']]);
    s.close();
  });
});

describe('change log pages', () => {
  function seeded(): HubStore {
    const s = open();
    const rows = [];
    for (let i = 0; i < 300; i++) {
      rows.push({ nodeId: i % 2 ? 'n1' : 'n2', path: i % 3 ? `src/f${i % 7}.ts` : `docs/d${i}.md`, direction: (i % 5 ? 'to-hub' : 'to-node') as 'to-hub' | 'to-node', action: (i % 50 === 0 ? 'conflict' : 'put') as 'put' | 'conflict', size: i, seq: i, code: null, detail: null });
    }
    for (const r of rows) s.changes.add([r], 1000 + r.seq);
    return s;
  }

  it('pages newest first by keyset, with each filter, and every page goes on where the last stopped', () => {
    const s = seeded();
    const all = s.changes.list({ limit: 1000 });
    expect(all).toHaveLength(300);
    expect(all.map((r) => r.id)).toEqual([...all.map((r) => r.id)].sort((a, b) => b - a));
    // Keyset pages add up to the whole, without overlap.
    const paged = [];
    for (let before: number | undefined; ;) {
      const page = s.changes.list({ limit: 70, before });
      paged.push(...page);
      if (page.length < 70) break;
      before = page[page.length - 1]!.id;
    }
    expect(paged.map((r) => r.id)).toEqual(all.map((r) => r.id));
    const by = (f: (r: (typeof all)[number]) => boolean) => all.filter(f).map((r) => r.id);
    expect(s.changes.list({ nodeId: 'n1', limit: 1000 }).map((r) => r.id)).toEqual(by((r) => r.nodeId === 'n1'));
    expect(s.changes.list({ nodeId: 'n1', path: 'src/f3.ts', limit: 1000 }).map((r) => r.id)).toEqual(by((r) => r.nodeId === 'n1' && r.path === 'src/f3.ts'));
    expect(s.changes.list({ path: 'src/f3.ts', limit: 1000 }).map((r) => r.id)).toEqual(by((r) => r.path === 'src/f3.ts'));
    expect(s.changes.list({ nodeId: 'n2', path: 'docs', prefix: true, limit: 1000 }).map((r) => r.id)).toEqual(by((r) => r.nodeId === 'n2' && r.path.startsWith('docs/')));
    expect(s.changes.list({ path: 'src', prefix: true, limit: 1000 }).map((r) => r.id)).toEqual(by((r) => r.path.startsWith('src/')));
    expect(s.changes.list({ path: 'sr', prefix: true, limit: 1000 })).toEqual([]);
    // A sibling whose name sorts inside the index's range ('-' and '.' come before '/') is not under it.
    s.changes.add(['src-old/x.ts', 'src.txt', 'src'].map((p) => ({ nodeId: 'n1', path: p, direction: 'to-hub' as const, action: 'put' as const, size: 1, seq: null, code: null, detail: null })));
    expect(s.changes.list({ nodeId: 'n1', path: 'src', prefix: true, limit: 1000 }).map((r) => r.path).filter((p) => !p.startsWith('src/'))).toEqual(['src']);
    expect(s.changes.list({ path: 'src', prefix: true, limit: 1000 }).map((r) => r.path).filter((p) => !p.startsWith('src/'))).toEqual(['src']);
    expect(s.changes.list({ direction: 'to-node', limit: 1000 }).map((r) => r.id)).toEqual(by((r) => r.direction === 'to-node'));
    expect(s.changes.list({ actions: ['conflict'], limit: 1000 }).map((r) => r.id)).toEqual(by((r) => r.action === 'conflict'));
    expect(s.changes.list({ nodeId: 'n2', actions: ['conflict'], before: all[0]!.id, limit: 3 }).map((r) => r.id)).toEqual(by((r) => r.nodeId === 'n2' && r.action === 'conflict').slice(0, 3));
    s.close();
  });

  it('serves each page from an index, never a scan and a sort of the whole table (EXPLAIN QUERY PLAN)', () => {
    const s = seeded();
    const db = (s as unknown as { db: import('better-sqlite3').Database }).db;
    const plan = (sql: string, ...args: unknown[]) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail).join(' | ');
    expect(plan('SELECT * FROM changes ORDER BY id DESC LIMIT 100')).not.toMatch(/TEMP B-TREE/);
    expect(plan('SELECT * FROM changes WHERE node_id = ? ORDER BY id DESC LIMIT 100', 'n1')).toMatch(/USING INDEX changes_by_node/);
    expect(plan('SELECT * FROM changes WHERE node_id = ? AND path = ? AND id < ? ORDER BY id DESC LIMIT ?', 'n1', 'a', 5, 5)).toMatch(/USING INDEX changes_by_path/);
    expect(plan("SELECT * FROM changes INDEXED BY changes_notable WHERE action IN ('conflict') AND action IN ('conflict', 'refused', 'failed') ORDER BY id DESC LIMIT 5")).toMatch(/changes_notable/);
    // A prefix: one range seek per node on the path index, never a walk of the node's whole part of it.
    expect(plan('SELECT 1 FROM changes INDEXED BY changes_by_path WHERE node_id = ? AND (path >= ? AND path < ? AND (path = ? OR path >= ?))', 'n1', 'a', 'a0', 'a', 'a/')).toMatch(/USING COVERING INDEX changes_by_path \(node_id=\? AND path>\? AND path<\?\)/);
    s.close();
  });

  it('trims by age and by count, a bounded batch at a time, oldest first', () => {
    const s = seeded();
    // Rows at 1000..1299: those before 1100 are too old.
    expect(s.changes.trim(1100, 1_000_000, 40)).toBe(40);
    expect(s.changes.trim(1100, 1_000_000, 1000)).toBe(60);
    expect(s.changes.trim(1100, 1_000_000, 1000)).toBe(0);
    expect(s.changes.oldest()?.at).toBe(1100);
    // Beyond the newest 50 rows.
    expect(s.changes.trim(0, 50, 1000)).toBe(150);
    expect(s.changes.list({ limit: 1000 })).toHaveLength(50);
    expect(s.changes.oldest()?.at).toBe(1250);
    s.close();
  });
});

describe('change log retention', () => {
  it('deletes what is older than the setting, a batch per turn, until nothing is left to delete', async () => {
    const s = open();
    const DAY = 86_400_000;
    const now = Date.now();
    const row = (p: string) => ({ nodeId: 'n1', path: p, direction: 'to-hub' as const, action: 'put' as const, size: 1, seq: null, code: null, detail: null });
    // 2,500 rows 40 days old (more than one batch), 10 rows 5 days old.
    for (let i = 0; i < 2500; i++) s.changes.add([row(`old/${i}`)], now - 40 * DAY);
    for (let i = 0; i < 10; i++) s.changes.add([row(`new/${i}`)], now - 5 * DAY);
    let days = 30;
    const desk = new ChangeDesk({ store: s, log: createLogger('test', { consoleLevel: false }), mode: 'serve', runtimes: {} as NodeRuntimes, mirrorOf: () => '', retentionDays: () => days });
    expect(await desk.trim(now)).toBe(2500);
    expect(s.changes.list({ limit: 1000 }).map((r) => r.path).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `new/${i}`).sort());
    expect(desk.list({}).oldestAt).toBe(now - 5 * DAY);
    days = 1;
    expect(await desk.trim(now)).toBe(10);
    expect(desk.list({})).toMatchObject({ items: [], next: null, retentionDays: 1, oldestAt: null });
    s.close();
  });
});

describe('change log readings', () => {
  it('a conflict copy names the path it copies', () => {
    expect(copiedPath('a/b.sync-conflict-20260101-120000-node.txt')).toBe('a/b.txt');
    expect(copiedPath('.env.sync-conflict-20260101-120000-hub')).toBe('.env');
    expect(copiedPath('plain.txt')).toBe('plain.txt');
    expect(flushChanges('n', { put: [{ path: 'x.sync-conflict-20260101-120000-hub', type: 'file', size: 1, hash: Buffer.alloc(32), seq: 0 }], del: [], forNode: [], failed: [] }, isConflictCopy)[0])
      .toMatchObject({ path: 'x', action: 'conflict', direction: 'to-node', code: 'hub' });
    // The hub's version moved aside (its path deleted in the same flush) is a step of the conflict, not the node deleting it.
    const moved = flushChanges('n', { put: [{ path: 'd/x.sync-conflict-20260101-120000-hub.md', type: 'file', size: 1, hash: Buffer.alloc(32), seq: 0 }], del: ['d/x.md', 'd/other.md'], forNode: ['d/x.sync-conflict-20260101-120000-hub.md'], failed: [] }, isConflictCopy);
    expect(moved.map((r) => [r.action, r.path])).toEqual([['delete', 'd/other.md'], ['conflict', 'd/x.md']]);
  });

  it('filters by kind and action', () => {
    expect(actionsOf({})).toBeUndefined();
    expect(actionsOf({ kind: 'refusal' })).toEqual(['refused']);
    expect(actionsOf({ kind: 'change' })).toEqual(['put', 'delete', 'delivered']);
    expect(actionsOf({ kind: 'change', action: 'put' })).toEqual(['put']);
    expect(actionsOf({ kind: 'conflict', action: 'put' })).toEqual([]);
  });

  it('says each row as a sentence', () => {
    const base = { size: null, seq: null, code: null, detail: null };
    expect(changeSentence({ ...base, direction: 'to-hub', action: 'put', size: 2048 })).toBe("The node's version (2.0 KiB) reached the hub's mirror.");
    expect(changeSentence({ ...base, direction: 'to-node', action: 'put', size: 3, seq: 9, code: 'LOCKED' })).toBe("The hub's version (3 B) was queued for the node (#9), sent back because the node changed a locked path.");
    expect(changeSentence({ ...base, direction: 'to-node', action: 'delivered', seq: 9 })).toBe("The node applied the hub's change #9: it reached the node.");
    expect(changeSentence({ ...base, direction: 'to-hub', action: 'conflict', code: 'node', detail: 'a.sync-conflict-x' })).toMatch(/^Conflict: the hub's version stayed; the node's version was kept as a\.sync-conflict-x\.$/);
    expect(changeSentence({ ...base, direction: 'to-hub', action: 'refused', code: 'LOCKED', detail: 'locked by "docs/**"' })).toBe('The hub refused the node\'s change (LOCKED): locked by "docs/**"');
    expect(changeSentence({ ...base, direction: 'to-node', action: 'failed', code: 'EACCES', seq: 3, detail: 'denied' })).toBe("The node could not apply the hub's change (EACCES, attempt 3): denied");
  });

  it('tells why a path is out of sync, from the facts alone', () => {
    const now = 1_000_000;
    const f: PathFacts = { now, pausedAt: null, retired: false, connected: true, lastSeen: now, queued: null, toHub: null, failures: [], nodeProblems: [], lockGlob: null, lockRefused: false };
    const codes = (x: Partial<PathFacts>) => whyOutOfSync({ ...f, ...x }).map((r) => r.code);
    expect(codes({})).toEqual([]);
    // A lock that refused nothing keeps nothing out of sync.
    expect(codes({ lockGlob: 'docs/**' })).toEqual([]);
    expect(codes({ lockGlob: 'docs/**', lockRefused: true })).toEqual(['locked']);
    expect(codes({ pausedAt: now - 5000 })).toEqual(['paused']);
    expect(codes({ retired: true })).toEqual(['retired']);
    // Not connected matters only when something waits.
    expect(codes({ connected: false })).toEqual([]);
    expect(codes({ connected: false, queued: { seq: 4, ahead: 2 } })).toEqual(['disconnected', 'queued']);
    expect(codes({ pausedAt: now, connected: false, queued: { seq: 4, ahead: 2 } })).toEqual(['paused', 'queued']);
    expect(codes({ toHub: 'running', failures: [{ direction: 'to-node', code: 'EACCES', reason: 'denied', attempts: 2, retryAt: now + 30_000 }], nodeProblems: [{ code: 'EIO', reason: 'bad disk' }] }))
      .toEqual(['to-hub', 'failed', 'node-problem']);
    const [queued] = whyOutOfSync({ ...f, queued: { seq: 4, ahead: 2 } });
    expect(queued).toMatchObject({ ahead: 2, sentence: "The hub's change (#4) waits for the node, behind 2 other changes in its queue." });
    expect(whyOutOfSync({ ...f, queued: { seq: 9, ahead: 1200, head: ['a', 'b'] } })[0]!.sentence).toBe('The hub\'s change (#9) waits for the node, behind 1,200 other changes in its queue (first "a", "b").');
    expect(whyOutOfSync({ ...f, queued: { seq: 9, ahead: 1, head: ['a'] } })[0]!.sentence).toBe('The hub\'s change (#9) waits for the node, behind 1 other change in its queue ("a").');
    const [failed] = whyOutOfSync({ ...f, failures: [{ direction: 'to-node', code: 'EACCES', reason: 'denied', attempts: 2, retryAt: now + 30_000 }] });
    expect(failed).toMatchObject({ failure: { code: 'EACCES', attempts: 2, retryAt: now + 30_000 }, sentence: "The node could not apply the hub's change (EACCES, 2 attempts): denied; tried again in 30 s." });
  });
});
