/** Real SQLite in temp dirs: migrations, fresh JSON per row, tokens, the mirror index. */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { HubStore } from '../../main/store/hub-store';
import { NodeStore } from '../../main/store/node-store';
import { integrityCheck } from '../../main/store/db';
import { cachedEntry, tempDirs } from '../helpers/entries';

/** A second connection to a store's file, to look at what its SQL did (the store keeps its own private). */
function peek(file: string): Database.Database {
  return new Database(file, { readonly: true });
}

const tmp = tempDirs('store');
const entry = cachedEntry;

describe('HubStore', () => {
  it('migrates to the current schema in WAL mode and reopens without re-migrating', () => {
    const f = path.join(tmp(), 'hub.db');
    const s = new HubStore(f);
    const first = peek(f);
    expect(first.pragma('journal_mode', { simple: true })).toBe('wal');
    const v = first.pragma('user_version', { simple: true });
    first.close();
    expect(v).toBeGreaterThan(0);
    s.addNode('n1', 'one', 'secret');
    s.close();
    const again = new HubStore(f);
    const second = peek(f);
    expect(second.pragma('user_version', { simple: true })).toBe(v);
    expect(again.node('n1')?.name).toBe('one');
    expect(integrityCheck(second)).toBe('ok');
    second.close();
    again.close();
  });

  it('gives every row its own JSON value: mutating one never changes another', () => {
    const s = new HubStore(path.join(tmp(), 'hub.db'));
    s.addNode('a', 'a', 'x');
    s.addNode('b', 'b', 'y');
    const a = s.node('a')!;
    const b = s.node('b')!;
    expect(a.settings).toEqual({});
    expect(a.settings).not.toBe(b.settings);
    a.settings.changed = true;
    expect(b.settings).toEqual({});
    expect(s.node('a')!.settings).toEqual({});
    s.close();
  });

  it('keeps audit events for good and only the newest session events', () => {
    const s = new HubStore(path.join(tmp(), 'hub.db'));
    s.events.add('n', 'node.added', { name: 'n' });
    for (let i = 0; i < 30; i++) s.events.add('n', i % 2 ? 'node.connected' : 'node.disconnected', { i });
    s.events.add(null, 'purge', { files: 1 });
    expect(s.events.pruneSession(10)).toBe(20);
    const kinds = s.events.list({ limit: 100 }).map((e) => e.kind);
    expect(kinds.filter((k) => k.startsWith('node.') && k !== 'node.added')).toHaveLength(10);
    expect(kinds).toContain('node.added');
    expect(kinds).toContain('purge');
    // The ten kept are the newest.
    expect(s.events.list({ nodeId: 'n', limit: 1 })[0]!.data).toEqual({ i: 29 });
    s.close();
  });

  it('lists events of one kind of one node when asked for both', () => {
    const s = new HubStore(path.join(tmp(), 'hub.db'));
    s.events.add('n', 'node.added', { name: 'n' });
    s.events.add('n', 'node.connected', { i: 1 });
    s.events.add('m', 'node.connected', { i: 2 });
    s.events.add('n', 'node.disconnected', { i: 3 });
    s.events.add('n', 'node.connected', { i: 4 });
    expect(s.events.list({ nodeId: 'n', kind: 'node.connected' }).map((e) => [e.nodeId, e.kind, e.data])).toEqual([
      ['n', 'node.connected', { i: 4 }], ['n', 'node.connected', { i: 1 }],
    ]);
    expect(s.events.list({ nodeId: 'n', kind: 'node.connected', limit: 1 }).map((e) => e.data)).toEqual([{ i: 4 }]);
    expect(s.events.list({ nodeId: 'm', kind: 'node.added' })).toEqual([]);
    s.close();
  });

  it('stores only a hash of the token and verifies it; retired nodes never verify', () => {
    const f = path.join(tmp(), 'hub.db');
    const s = new HubStore(f);
    s.addNode('a', 'a', 'right');
    const db = peek(f);
    const raw = db.prepare('SELECT token_hash FROM nodes').get() as { token_hash: Buffer };
    db.close();
    expect(raw.token_hash.toString('utf8')).not.toContain('right');
    expect(s.verifyToken('a', 'right')).toBe('ok');
    expect(s.verifyToken('a', 'wrong')).toBe('bad-token');
    expect(s.verifyToken('zzz', 'right')).toBe('unknown');
    s.retireNode('a');
    expect(s.verifyToken('a', 'right')).toBe('retired');
    expect(s.verifyToken('a', 'wrong')).toBe('bad-token');
    s.close();
  });

  it('counts a mirror through a covering index, not the file rows', () => {
    const f = path.join(tmp(), 'hub.db');
    const s = new HubStore(f);
    const db = peek(f);
    const plan = db.prepare('EXPLAIN QUERY PLAN SELECT count(*) AS files, sum(size) AS bytes FROM files WHERE node_id = ? AND type = 0').all('n') as { detail: string }[];
    db.close();
    expect(plan.map((p) => p.detail).join(' ')).toMatch(/COVERING INDEX files_sizes/);
    s.close();
  });

  it('records mirror files and finds blocks for reuse; deleting a dir forgets its subtree', () => {
    const s = new HubStore(path.join(tmp(), 'hub.db'));
    s.addNode('n', 'n', 't');
    // Two-block files (block 2 then block 3); one-block files get no block rows.
    const two = Buffer.concat([Buffer.alloc(32, 2), Buffer.alloc(32, 3)]);
    s.index.putFiles('n', [entry('d', { type: 'dir', blocks: Buffer.alloc(0) }), entry('d/x', { blocks: two }), entry('d/y/z', { blocks: two }), entry('dx', { blocks: two }), entry('small')]);
    expect(s.index.totals('n')).toEqual({ files: 4, bytes: 12 });
    expect(s.index.findBlock('n', Buffer.alloc(32, 2)).map((b) => b.path).sort()).toEqual(['d/x', 'd/y/z', 'dx']);
    expect(s.index.findBlock('n', Buffer.alloc(32, 3)).map((b) => [b.path, b.idx]).sort()).toEqual([['d/x', 1], ['d/y/z', 1], ['dx', 1]]);
    s.index.deletePaths('n', ['d']);
    expect(s.index.paths('n')).toEqual(['dx', 'small']);
    expect(s.index.findBlock('n', Buffer.alloc(32, 2)).map((b) => b.path)).toEqual(['dx']);
    // A file shrinking to one block loses its block rows.
    s.index.putFiles('n', [entry('dx')]);
    expect(s.index.findBlock('n', Buffer.alloc(32, 2))).toEqual([]);
    s.close();
  });

  it('lists the stamps recorded directly in a directory, its subdirectories\' contents skipped, names sorting around "/" included', () => {
    const s = new HubStore(path.join(tmp(), 'hub.db'));
    s.addNode('n', 'n', 't');
    s.addNode('m', 'm', 't');
    const dir = (p: string) => entry(p, { type: 'dir', blocks: Buffer.alloc(0) });
    const paths = ['a', 'a!', 'a-b', 'a.c', 'a/b', 'a/b!', 'a/b-c', 'a/b.d', 'a/b/c', 'a/b/c/d', 'a/b/e', 'a/b0', 'a/b00', 'a/c', 'a/c/x', 'a/c0', 'a/d', 'a0', 'a0/x', 'b', 'b/x', 'é', 'é/ü', 'é/ü/x', 'é/ü0'];
    const dirs = new Set(['a', 'a/b', 'a/b/c', 'a/c', 'a0', 'b', 'é', 'é/ü']);
    s.index.putFiles('n', paths.map((p) => (dirs.has(p) ? dir(p) : entry(p))));
    s.index.putFiles('m', [entry('a/zz')]);
    for (const d of ['', ...dirs, 'missing']) {
      const want = paths.filter((p) => (d === '' ? !p.includes('/') : p.startsWith(`${d}/`) && !p.slice(d.length + 1).includes('/')));
      expect([...s.index.childStamps('n', d).keys()].sort(), d).toEqual(want.sort());
    }
    expect(s.index.childStamps('n', 'a/b').get('a/b/e')).toMatchObject({ type: 'file', size: 3 });
    s.close();
  });
});

describe('NodeStore', () => {
  it('numbers changes, creations before deletions, and survives reopening with its index id', () => {
    const f = path.join(tmp(), 'node.db');
    const s = new NodeStore(f);
    const id = s.indexId;
    const out = s.record([entry('a'), entry('b'), entry('old', { deleted: true })]);
    expect(out.map((e) => [e.path, e.seq, e.deleted])).toEqual([['a', 1, false], ['b', 2, false], ['old', 3, true]]);
    expect(s.since(1, 10).map((e) => e.path)).toEqual(['b', 'old']);
    s.close();
    const again = new NodeStore(f);
    expect(again.indexId).toBe(id);
    expect(again.lastSeq).toBe(3);
    expect(again.pathsUnder('').sort()).toEqual(['a', 'b', 'old']);
    again.close();
  });

  it('drops acknowledged tombstones only, and never hands out a sequence number twice', () => {
    const f = path.join(tmp(), 'node.db');
    const s = new NodeStore(f);
    s.record([entry('keep'), entry('gone1', { deleted: true }), entry('gone2', { deleted: true }), entry('gone3', { deleted: true })]);
    expect(s.pruneTombstones(3)).toBe(2); // gone1 (2), gone2 (3); gone3 (4) is not acknowledged yet
    expect(s.pathsUnder('').sort()).toEqual(['gone3', 'keep']);
    expect(s.prunedTo).toBe(3);
    expect(s.pruneTombstones(4)).toBe(1);
    expect(s.pruneTombstones(4)).toBe(0);
    s.close();
    // The highest number (4) belonged to a pruned tombstone: it is still not reused.
    const again = new NodeStore(f);
    expect(again.lastSeq).toBe(4);
    expect(again.record([entry('new')])[0]!.seq).toBe(5);
    expect(again.prunedTo).toBe(4);
    const id = again.indexId;
    again.renewIndexId();
    expect(again.indexId).not.toBe(id);
    again.close();
    expect(new NodeStore(f).indexId).not.toBe(id);
  });
});
