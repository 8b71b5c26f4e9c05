/**
 * The trash: its decisions as plain functions (what the start-up reconcile does, where a restore
 * goes, what has expired, what a purge's selection takes), and the TrashService on real files
 * and a real SQLite database with a clock the test moves: into the trash by rename, restore,
 * refusal when the place is taken, retention, emptying that never follows a link out, a kill
 * at each step settled by the next start, hostile ids.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContractError, TrashId } from '../../main/contract';
import { selectTargets, type PurgeTarget } from '../../main/hub/purge';
import { entriesToEmpty, expiredEntries, reconcileAction, restorePlace, trashPaths } from '../../main/hub/trash';
import { TrashService } from '../../main/hub/trash-service';
import { HubStore, type TrashRecord } from '../../main/store/hub-store';
import { createLogger, type LogEntry } from '../../main/util/log';

const DAY = 24 * 3600_000;

describe('trash decisions', () => {
  it('the start-up reconcile: a rename that happened is kept, one that did not is forgotten, an emptying is finished', () => {
    const table: [TrashRecord['state'], boolean, ReturnType<typeof reconcileAction>][] = [
      ['moving', true, 'settle'],
      ['moving', false, 'drop'],
      ['trashed', true, 'keep'],
      ['trashed', false, 'drop'],
      ['emptying', true, 'resume'],
      ['emptying', false, 'resume'],
    ];
    for (const [state, inTrash, want] of table) expect(reconcileAction(state, inTrash), `${state} ${inTrash}`).toBe(want);
  });

  it('a restore goes back to its place, or beside it when its node is active', () => {
    const rec = { id: 'tr-0123456789abcdef', name: 'aaaabbbbccccdddd' };
    expect(restorePlace(rec, undefined)).toEqual({ name: 'aaaabbbbccccdddd', beside: false });
    expect(restorePlace(rec, { retiredAt: 5 })).toEqual({ name: 'aaaabbbbccccdddd', beside: false });
    expect(restorePlace(rec, { retiredAt: null })).toEqual({ name: 'aaaabbbbccccdddd.restored-tr-0123456789abcdef', beside: true });
  });

  const rec = (id: string, trashedAt: number, state: TrashRecord['state'] = 'trashed'): TrashRecord => ({
    id, name: id, nodeId: null, nodeName: null, reason: 'unknown', kind: 'dir', files: 1, bytes: 1, trashedAt, planId: null, state, error: null,
  });

  it('expires trashed entries at the end of their window; empties by age, by id, never one in flight or still moving', () => {
    const now = 100 * DAY;
    const recs = [rec('old', now - 7 * DAY), rec('young', now - 7 * DAY + 1), rec('moving', 0, 'moving'), rec('failed', 0, 'emptying')];
    expect(expiredEntries(recs, now, 7).map((r) => r.id)).toEqual(['old']);
    expect(expiredEntries(recs, now, 8).map((r) => r.id)).toEqual([]);
    expect(entriesToEmpty(recs, now, {}, new Set()).map((r) => r.id)).toEqual(['old', 'young', 'failed']);
    expect(entriesToEmpty(recs, now, { olderThanDays: 7 }, new Set()).map((r) => r.id)).toEqual(['old', 'failed']);
    expect(entriesToEmpty(recs, now, { olderThanDays: 0 }, new Set(['old'])).map((r) => r.id)).toEqual(['young', 'failed']);
    expect(entriesToEmpty(recs, now, { ids: ['young', 'moving'] }, new Set()).map((r) => r.id)).toEqual(['young']);
  });

  it('a purge takes the selected mirrors of its plan; the others are kept as unselected; names not in the plan are reported', () => {
    const t = (id: string) => ({ id }) as PurgeTarget;
    const targets = [t('a'), t('b'), t('c')];
    expect(selectTargets(targets, undefined)).toEqual({ chosen: targets, unselected: [], unknown: [] });
    const some = selectTargets(targets, ['c', 'a', 'zz']);
    expect(some.chosen.map((x) => x.id)).toEqual(['a', 'c']);
    expect(some.unselected).toEqual([{ id: 'b', why: 'unselected', message: 'mirrors/b was not selected: kept; preview again to purge it' }]);
    expect(some.unknown).toEqual(['zz']);
  });

  it('ids and names that could lead out of the trash are refused, by the contract and by the disk layer', () => {
    for (const bad of ['', '..', '../x', 'tr-0123456789abcdeg', 'tr-0123456789abcdef/..', 'tr-0123456789ABCDEF', 'tr-0123456789abcdef\0', 'tr-0123456789abcdef\n', '/etc', 'tr-0123456789abcde']) {
      expect(TrashId.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
      expect(() => trashPaths('/d/trash', bad, 'x'), JSON.stringify(bad)).toThrow(/is not a trash id/);
    }
    expect(TrashId.safeParse('tr-0123456789abcdef').success).toBe(true);
    for (const bad of ['', '.', '..', 'a/b', '../b', 'a\0b']) expect(() => trashPaths('/d/trash', 'tr-0123456789abcdef', bad), JSON.stringify(bad)).toThrow(/not a single name/);
    expect(trashPaths('/d/trash', 'tr-0123456789abcdef', 'n')).toEqual({ folder: '/d/trash/tr-0123456789abcdef', mirror: '/d/trash/tr-0123456789abcdef/n' });
  });
});

describe('TrashService on real files and SQLite', () => {
  let dir: string;
  let layout: { mirrors: string; trash: string };
  let store: HubStore;
  let logs: LogEntry[];
  let now: number;
  let retention: number;
  let changes: number;
  let outside: string;

  const service = () => new TrashService({
    layout, store, retentionDays: () => retention, changed: () => { changes++; }, now: () => now,
    log: createLogger('hub', { consoleLevel: false, file: path.join(dir, 'hub.log'), fileLevel: 'debug', sink: (e) => logs.push(e) }),
  });
  const mirror = (name: string, files: Record<string, string>) => {
    for (const [rel, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(layout.mirrors, name, rel)), { recursive: true });
      fs.writeFileSync(path.join(layout.mirrors, name, rel), text);
    }
  };
  const target = (id: string, over: Partial<PurgeTarget> = {}): PurgeTarget => ({ id, reason: 'unknown', kind: 'dir', files: 2, bytes: 10, dev: '0', ino: '0', birth: '0', ...over });
  const read = (p: string) => fs.readFileSync(p, 'utf8');

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-trash-unit-'));
    layout = { mirrors: path.join(dir, 'mirrors'), trash: path.join(dir, 'trash') };
    fs.mkdirSync(layout.mirrors);
    outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'precious.txt'), 'must survive');
    store = new HubStore(path.join(dir, 'hub.db'));
    logs = [];
    now = 1_000 * DAY;
    retention = 7;
    changes = 0;
  });

  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('moves a mirror into the trash by rename (same inode), lists it with size and dates, and restores it as it was', () => {
    const trash = service();
    trash.reconcile();
    mirror('stray', { 'a.txt': 'hello', 'sub/b.txt': 'world' });
    const ino = fs.lstatSync(path.join(layout.mirrors, 'stray', 'a.txt')).ino;
    const id = trash.put(target('stray'), 'pp-1');
    expect(id).toMatch(/^tr-[0-9a-f]{16}$/);
    expect(fs.existsSync(path.join(layout.mirrors, 'stray'))).toBe(false);
    const moved = path.join(layout.trash, id, 'stray');
    expect(fs.lstatSync(path.join(moved, 'a.txt')).ino).toBe(ino); // a rename, never a copy
    expect(trash.bytes()).toBe(10);
    expect(changes).toBe(1);
    const list = trash.list();
    expect(list).toEqual({
      entries: [{
        id, name: 'stray', nodeId: null, nodeName: null, reason: 'unknown', kind: 'dir', originalPath: path.join(layout.mirrors, 'stray'),
        files: 2, bytes: 10, trashedAt: now, expiresAt: now + 7 * DAY, planId: 'pp-1', state: 'trashed', error: null,
      }],
      files: 2, bytes: 10, retentionDays: 7,
    });

    const r = trash.restore(id);
    expect(r).toMatchObject({ restoredTo: path.join(layout.mirrors, 'stray'), beside: false, entry: { id } });
    expect(r.message).toMatch(/^Restored mirrors\/stray to .*mirrors\/stray, as an orphan again \(no node has that id\)/);
    expect(read(path.join(layout.mirrors, 'stray', 'sub', 'b.txt'))).toBe('world');
    expect(fs.readdirSync(layout.trash)).toEqual([]);
    expect(trash.list().entries).toEqual([]);
    expect(trash.bytes()).toBe(0);
    expect(store.events.list({ kind: 'trash.restored' })[0]!.data).toMatchObject({ entry: id, name: 'stray', beside: false });
  });

  it('refuses a restore while its place is taken (the entry is kept), and an unknown id', () => {
    const trash = service();
    mirror('stray', { 'a.txt': 'old' });
    const id = trash.put(target('stray'), 'pp-1');
    mirror('stray', { 'new.txt': 'new' });
    expect(() => trash.restore(id)).toThrow(new ContractError('CONFLICT', `cannot restore ${id}: mirrors/stray exists (a directory). The entry stays in the trash; move that away (or purge it) and restore again`));
    expect(read(path.join(layout.mirrors, 'stray', 'new.txt'))).toBe('new');
    expect(read(path.join(layout.trash, id, 'stray', 'a.txt'))).toBe('old');
    expect(trash.list().entries.map((e) => e.id)).toEqual([id]);
    // An empty directory in the place is refused too (a rename would silently replace it).
    fs.rmSync(path.join(layout.mirrors, 'stray'), { recursive: true });
    fs.mkdirSync(path.join(layout.mirrors, 'stray'));
    expect(() => trash.restore(id)).toThrow(/mirrors\/stray exists \(a directory\)/);
    expect(() => trash.restore('tr-ffffffffffffffff')).toThrow(new ContractError('NOT_FOUND', 'no trash entry tr-ffffffffffffffff (see "cortex-hub trash list")'));
    expect(logs.filter((l) => l.msg === 'trash.restore_refused')).toHaveLength(3);
  });

  it('restores beside the place when the node is active again; in its place, as an orphan, when it is retired', () => {
    const trash = service();
    store.addNode('aaaaaaaaaaaaaaaa', 'gone', 's');
    store.retireNode('aaaaaaaaaaaaaaaa');
    mirror('aaaaaaaaaaaaaaaa', { 'f.txt': 'retired' });
    const retiredId = trash.put(target('aaaaaaaaaaaaaaaa', { reason: 'retired' }), 'pp-1');
    expect(trash.list().entries[0]).toMatchObject({ nodeId: 'aaaaaaaaaaaaaaaa', nodeName: 'gone', reason: 'retired' });
    const back = trash.restore(retiredId);
    expect(back).toMatchObject({ beside: false, restoredTo: path.join(layout.mirrors, 'aaaaaaaaaaaaaaaa') });
    expect(back.message).toMatch(/^Restored the mirror of node "gone" \(aaaaaaaaaaaaaaaa\) to .* as an orphan again \(its node is retired\)/);

    mirror('bbbbbbbbbbbbbbbb', { 'f.txt': 'old files' });
    const id = trash.put(target('bbbbbbbbbbbbbbbb'), 'pp-2');
    store.addNode('bbbbbbbbbbbbbbbb', 'came back', 's'); // a restored database: the node is active
    mirror('bbbbbbbbbbbbbbbb', { 'live.txt': 'live' });
    const r = trash.restore(id);
    const beside = `bbbbbbbbbbbbbbbb.restored-${id}`;
    expect(r).toMatchObject({ beside: true, restoredTo: path.join(layout.mirrors, beside) });
    expect(r.message).toMatch(/node bbbbbbbbbbbbbbbb is active, and an old mirror under a live node would send its old files to the node/);
    expect(read(path.join(layout.mirrors, beside, 'f.txt'))).toBe('old files');
    expect(fs.readdirSync(path.join(layout.mirrors, 'bbbbbbbbbbbbbbbb'))).toEqual(['live.txt']);
  });

  it('empties after the retention window (on the clock, not before), on demand by age, and never follows a link out', async () => {
    const trash = service();
    mirror('a', { 'x.txt': '1' });
    fs.symlinkSync(outside, path.join(layout.mirrors, 'a', 'link-out'));
    const a = trash.put(target('a'), 'pp-1');
    now += 3 * DAY;
    mirror('b', { 'y.txt': '22' });
    const b = trash.put(target('b'), 'pp-1');
    fs.symlinkSync(outside, path.join(layout.mirrors, 'link-mirror'));
    const c = trash.put(target('link-mirror', { kind: 'symlink', files: 1, bytes: 0 }), 'pp-1');

    now += 4 * DAY - 1;
    expect((await trash.expire()).emptied).toEqual([]);
    now += 1;
    const expired = await trash.expire();
    expect(expired.emptied.map((e) => e.id)).toEqual([a]);
    expect(expired).toMatchObject({ files: 2, bytes: 1, failed: [] }); // x.txt and the link, as a link
    expect(fs.existsSync(path.join(layout.trash, a))).toBe(false);
    expect(read(path.join(outside, 'precious.txt'))).toBe('must survive');

    await expect(trash.empty({ ids: ['tr-0000000000000000'] })).rejects.toThrow(/no trash entry tr-0000000000000000/);
    const byAge = await trash.empty({ olderThanDays: 4.5 });
    expect(byAge.emptied.map((e) => e.id)).toEqual([]);
    const all = await trash.empty({});
    expect(all.emptied.map((e) => e.id).sort()).toEqual([b, c].sort());
    expect(read(path.join(outside, 'precious.txt'))).toBe('must survive');
    expect(fs.readdirSync(layout.trash)).toEqual([]);
    expect(trash.bytes()).toBe(0);
    expect(store.events.list({ kind: 'trash.emptied' }).map((e) => e.data.why).sort()).toEqual(['on demand', 'on demand', 'retention']);
  });

  it('a shorter retention setting empties more at the next check', async () => {
    const trash = service();
    mirror('a', { 'x.txt': '1' });
    const a = trash.put(target('a'), 'pp-1');
    now += 2 * DAY;
    expect((await trash.expire()).emptied).toEqual([]);
    retention = 1;
    expect(trash.list().entries[0]!.expiresAt).toBe(now - DAY);
    expect((await trash.expire()).emptied.map((e) => e.id)).toEqual([a]);
  });

  it('a kill at any step is settled at the next start: nothing lost, nothing untracked', async () => {
    const trash = service();
    trash.reconcile();
    // Killed after the record, before the rename: the mirror stays, the record goes.
    mirror('before', { 'f.txt': 'before' });
    store.trash.add({ id: 'tr-000000000000000a', name: 'before', nodeId: null, nodeName: null, reason: 'unknown', kind: 'dir', files: 1, bytes: 6, trashedAt: now, planId: 'pp', state: 'moving', error: null });
    fs.mkdirSync(path.join(layout.trash, 'tr-000000000000000a'));
    // Killed after the rename, before the record says trashed: kept, as trashed.
    mirror('after', { 'f.txt': 'after' });
    store.trash.add({ id: 'tr-000000000000000b', name: 'after', nodeId: null, nodeName: null, reason: 'unknown', kind: 'dir', files: 1, bytes: 5, trashedAt: now, planId: 'pp', state: 'moving', error: null });
    fs.mkdirSync(path.join(layout.trash, 'tr-000000000000000b'));
    fs.renameSync(path.join(layout.mirrors, 'after'), path.join(layout.trash, 'tr-000000000000000b', 'after'));
    // Killed during a restore, after its rename: the entry is forgotten, the mirror is back.
    mirror('restored', { 'f.txt': 'r' });
    store.trash.add({ id: 'tr-000000000000000c', name: 'restored', nodeId: null, nodeName: null, reason: 'unknown', kind: 'dir', files: 1, bytes: 1, trashedAt: now, planId: 'pp', state: 'trashed', error: null });
    fs.mkdirSync(path.join(layout.trash, 'tr-000000000000000c'));
    // Killed while emptying: finished at start.
    fs.mkdirSync(path.join(layout.trash, 'tr-000000000000000d', 'half', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(layout.trash, 'tr-000000000000000d', 'half', 'deep', 'left.txt'), 'left');
    store.trash.add({ id: 'tr-000000000000000d', name: 'half', nodeId: null, nodeName: null, reason: 'unknown', kind: 'dir', files: 9, bytes: 9, trashedAt: now, planId: 'pp', state: 'emptying', error: null });
    // A folder with no record (the database lost it): adopted, measured.
    fs.mkdirSync(path.join(layout.trash, 'tr-000000000000000e', 'lost', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(layout.trash, 'tr-000000000000000e', 'lost', 'sub', 'z.bin'), Buffer.alloc(1234));
    // Not the hub's: left alone.
    fs.writeFileSync(path.join(layout.trash, 'notes.txt'), 'mine');

    const next = service();
    next.reconcile();
    expect(read(path.join(layout.mirrors, 'before', 'f.txt'))).toBe('before');
    expect(read(path.join(layout.mirrors, 'restored', 'f.txt'))).toBe('r');
    const list = next.list();
    expect(list.entries.map((e) => [e.id, e.name, e.state, e.files, e.bytes])).toEqual(expect.arrayContaining([
      ['tr-000000000000000b', 'after', 'trashed', 1, 5],
      ['tr-000000000000000d', 'half', 'emptying', 9, 9],
      ['tr-000000000000000e', 'lost', 'trashed', 1, 1234],
    ]));
    expect(list.entries).toHaveLength(3);
    expect(list.entries.find((e) => e.id === 'tr-000000000000000e')!.planId).toBeNull();
    expect(logs.find((l) => l.msg === 'trash.reconciled')).toMatchObject({ settled: ['tr-000000000000000b'], resumed: ['tr-000000000000000d'], adopted: ['tr-000000000000000e'] });
    expect(logs.find((l) => l.msg === 'trash.foreign')).toMatchObject({ entries: ['notes.txt'], count: 1 });
    // The start's check finishes the emptying.
    const checked = await next.expire();
    expect(checked.emptied.map((e) => e.id)).toEqual(['tr-000000000000000d']);
    expect(fs.readdirSync(layout.trash).sort()).toEqual(['notes.txt', 'tr-000000000000000b', 'tr-000000000000000e']);
    expect(next.restore('tr-000000000000000b').restoredTo).toBe(path.join(layout.mirrors, 'after'));
    expect(read(path.join(layout.mirrors, 'after', 'f.txt'))).toBe('after');
  });

  it('a failed rename keeps the mirror where it was, with no record', () => {
    const trash = service();
    expect(() => trash.put(target('missing'), 'pp-1')).toThrow(/ENOENT/);
    expect(store.trash.all()).toEqual([]);
    expect(fs.readdirSync(layout.trash)).toEqual([]);
  });
});
