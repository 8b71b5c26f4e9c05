/** Two-way state in real SQLite: ancestors, the hub's own change queue, conflict copies, the node's from-hub marks. */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { HubStore } from '../../main/store/hub-store';
import { NodeStore } from '../../main/store/node-store';
import { cachedEntry, tempDirs } from '../helpers/entries';

const tmp = tempDirs('2way-store');
const entry = cachedEntry;

describe('HubStore two-way state', () => {
  it('keeps ancestors per node; an absent agreement removes the subtree', () => {
    const s = new HubStore(path.join(tmp(), 'hub.db'));
    s.addNode('n', 'n', 'x');
    s.addNode('m', 'm', 'x');
    const v = { type: 'file' as const, hash: 'ab'.repeat(32), mode: 0o644, mtimeMs: 5, target: '' };
    s.setAncestors('n', [['d', { ...v, type: 'dir', hash: '' }], ['d/a', v], ['d/b/c', v], ['e', v]]);
    s.setAncestors('m', [['d/a', v]]);
    expect(s.ancestor('n', 'd/a')).toEqual(v);
    s.setAncestors('n', [['d', null]]);
    expect([s.ancestor('n', 'd'), s.ancestor('n', 'd/a'), s.ancestor('n', 'd/b/c')]).toEqual([null, null, null]);
    expect(s.ancestor('n', 'e')).toEqual(v);
    expect(s.ancestor('m', 'd/a')).toEqual(v);
    s.clearAncestors('n');
    expect(s.ancestor('n', 'e')).toBeNull();
    s.close();
  });

  it('queues hub-side changes in order, once per path, and forgets them when acknowledged', () => {
    const s = new HubStore(path.join(tmp(), 'hub.db'));
    s.addNode('n', 'n', 'x');
    s.putFiles('n', [entry('a', { size: 10 }), entry('b', { size: 20 })]);
    s.queueHubChanges('n', ['a', 'b', 'gone']);
    s.queueHubChanges('n', ['a']);
    expect(s.hubChangesAfter('n', 0, 10)).toEqual([{ seq: 2, path: 'b' }, { seq: 3, path: 'gone' }, { seq: 4, path: 'a' }]);
    expect(s.hubPending('n')).toEqual({ files: 3, bytes: 30 });
    s.ackHubChanges('n', 3);
    expect(s.hubChangesAfter('n', 0, 10)).toEqual([{ seq: 4, path: 'a' }]);
    expect(s.node('n')).toMatchObject({ hubSeq: 4, hubAcked: 3 });
    // An older acknowledgement never moves it back.
    s.ackHubChanges('n', 1);
    expect(s.node('n')!.hubAcked).toBe(3);
    s.close();
  });

  it('finds conflict copies through a partial index, however big the mirror', () => {
    const s = new HubStore(path.join(tmp(), 'hub.db'));
    s.addNode('n', 'n', 'x');
    s.putFiles('n', [entry('a.md'), entry('a.sync-conflict-20260101-101010-hub.md'), entry('x/b.sync-conflict-20260101-101010-node'), entry('not.sync-conflict-later.md')]);
    expect(s.conflicts('n')).toEqual(['a.sync-conflict-20260101-101010-hub.md', 'x/b.sync-conflict-20260101-101010-node']);
    const plan = s.db.prepare("EXPLAIN QUERY PLAN SELECT path FROM files WHERE node_id = ? AND path GLOB '*.sync-conflict-*' ORDER BY path").all('n') as { detail: string }[];
    expect(plan.map((r) => r.detail).join(' ')).toContain('files_conflicts');
    s.close();
  });

  it('a database from before two-way sync takes what it recorded as agreed', () => {
    const f = path.join(tmp(), 'hub.db');
    const s = new HubStore(f);
    s.addNode('n', 'n', 'x');
    s.putFiles('n', [entry('old.txt')]);
    s.close();
    // Back to schema 2: what an earlier version left behind.
    const db = new Database(f);
    db.exec('DROP TABLE failures; DROP TABLE purge_plans; DROP TABLE node_problems; DROP TABLE node_ignored; DROP TABLE agent_instances; DROP TABLE agent_templates; DROP TABLE ancestors; DROP TABLE hub_changes; DROP INDEX files_conflicts; ALTER TABLE nodes DROP COLUMN hub_seq; ALTER TABLE nodes DROP COLUMN hub_acked; PRAGMA user_version = 2');
    db.close();
    const again = new HubStore(f);
    expect(again.ancestor('n', 'old.txt')).toMatchObject({ type: 'file', hash: '01'.repeat(32), mode: 0o644 });
    expect(again.node('n')).toMatchObject({ hubSeq: 0, hubAcked: 0 });
    again.close();
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
