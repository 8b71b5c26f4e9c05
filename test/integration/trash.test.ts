/**
 * Purge to trash, with undo, on a real `cortex-hub serve` with real `cortex-node`s: a purge of
 * the selected mirrors moves them into DATA/trash (a rename: same inodes), `trash list` shows
 * them with size and date and the status their bytes; `trash restore` puts a retired node's
 * mirror back byte for byte as an orphan (refused while its place is taken); purge, restore,
 * purge, empty; the retention window empties at start and when the setting shrinks; a SIGKILL
 * between each disk step and its record loses no mirror and leaves none untracked; the trash's
 * contents keep their modes across restarts. All through the CLI (--json and text).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubStatus, PurgeView, TrashEmptyView, TrashRestoreView, TrashView } from '../../main/contract';
import { HubStore } from '../../main/store/hub-store';
import { Hub, Node, runCli, snapshot, tempDir, waitFor } from '../helpers/procs';

const DAY = 24 * 3600_000;

describe('purge to trash, restore, empty', () => {
  let dir: string;
  let data: string;
  let hub: Hub;
  const nodes: Node[] = [];
  let keep: { id: string; join: string };
  let old: { id: string; join: string };
  let outside: string;

  const cli = (...args: string[]) => runCli('cortex-hub', [...args, '--data', data]);
  const json = async <T>(...args: string[]): Promise<T> => {
    const r = await cli(...args, '--json');
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  const m = (n: string) => path.join(data, 'mirrors', n);
  const trashed = (t: { trashId?: string; id: string }) => path.join(data, 'trash', t.trashId!, t.id);

  beforeAll(async () => {
    dir = tempDir('trash');
    data = path.join(dir, 'hub');
    outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'precious.txt'), 'must survive every purge and emptying');
    hub = await Hub.start(data);
    keep = await hub.addNode('keep');
    old = await hub.addNode('old');
    for (const [n, name] of [[keep, 'keep'], [old, 'old']] as const) {
      const ws = path.join(dir, `ws-${name}`);
      fs.mkdirSync(path.join(ws, 'sub'), { recursive: true });
      for (let i = 0; i < 12; i++) fs.writeFileSync(path.join(ws, 'sub', `f${i}.txt`), `${name} ${i}\n`.repeat(i + 1));
      fs.writeFileSync(path.join(ws, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
      nodes.push(Node.start(n.join, ws, path.join(dir, `state-${name}`)));
    }
    await hub.waitState(keep.id, 'in-sync');
    await hub.waitState(old.id, 'in-sync');
    await json('node', 'retire', old.id);
    expect(await nodes[1]!.p.exited).toBe(3);
  });

  afterAll(async () => {
    for (const n of nodes) await n.kill();
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  let oldEntry: string;

  it('moves only the selected mirrors into the trash, by rename; lists them with size and date; the status shows their bytes', async () => {
    fs.mkdirSync(path.join(m('stray'), 'deep'), { recursive: true });
    fs.writeFileSync(path.join(m('stray'), 'deep', 'data.bin'), Buffer.alloc(3000, 7), { mode: 0o640 });
    fs.symlinkSync(outside, path.join(m('stray'), 'link-out'));
    fs.mkdirSync(m('other'));
    fs.writeFileSync(path.join(m('other'), 'o.txt'), 'other');
    const before = snapshot(m(old.id));
    const ino = fs.statSync(path.join(m(old.id), 'sub', 'f3.txt')).ino;

    const plan = await json<PurgeView>('purge', '--dry-run');
    expect(plan.targets.map((t) => t.id)).toEqual([old.id, 'other', 'stray'].sort());
    // Only a plan's mirrors can be chosen; the refusal leaves the plan runnable.
    const wrong = await cli('purge', '--plan', plan.planId, '--mirror', 'nope', '--json');
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toBe('');
    expect(wrong.stderr).toMatch(new RegExp(`^cortex-hub: BAD_REQUEST: purge.run: not in plan ${plan.planId}: "nope"`));
    const alone = await cli('purge', '--mirror', 'stray');
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/--mirror chooses among a plan's mirrors: give it with --plan ID/);

    const done = await json<PurgeView>('purge', '--plan', plan.planId, '--mirror', old.id, '--mirror', 'stray');
    expect(done.targets.map((t) => t.id)).toEqual([old.id, 'stray'].sort());
    for (const t of done.targets) expect(t.trashId).toMatch(/^tr-[0-9a-f]{16}$/);
    expect(done.skipped).toEqual([{ id: 'other', why: 'unselected', message: 'mirrors/other was not selected: kept; preview again to purge it' }]);
    expect(fs.readdirSync(path.join(data, 'mirrors')).sort()).toEqual([keep.id, 'other'].sort());
    const oldT = done.targets.find((t) => t.id === old.id)!;
    oldEntry = oldT.trashId!;
    // A rename: the same file, not a copy; the link moved as a link.
    expect(fs.statSync(path.join(trashed(oldT), 'sub', 'f3.txt')).ino).toBe(ino);
    expect(snapshot(trashed(oldT))).toEqual(before);
    expect(fs.readlinkSync(path.join(trashed(done.targets.find((t) => t.id === 'stray')!), 'link-out'))).toBe(outside);

    const list = await json<TrashView>('trash', 'list');
    expect(list.retentionDays).toBe(7);
    expect(list.entries.map((e) => e.id).sort()).toEqual(done.targets.map((t) => t.trashId).sort());
    const e = list.entries.find((x) => x.id === oldEntry)!;
    expect(e).toMatchObject({ name: old.id, nodeId: old.id, nodeName: 'old', reason: 'retired', kind: 'dir', originalPath: m(old.id), files: oldT.files, bytes: oldT.bytes, planId: plan.planId, state: 'trashed', error: null });
    expect(e.trashedAt).toBeGreaterThan(hub.startedAt);
    expect(e.expiresAt).toBe(e.trashedAt + 7 * DAY);
    expect(list.bytes).toBe(done.bytes);
    const status = await json<HubStatus>('status');
    expect(status.trashBytes).toBe(done.bytes);
    expect((await cli('status')).stdout).toMatch(/trash: \d/);
    const text = await cli('trash', 'list');
    expect(text.stdout).toContain(oldEntry);
    expect(text.stdout).toMatch(/Total: 2 mirrors, \d+ files, .*; each is emptied 7 days after its purge\./);
    expect((await cli('purge', '--dry-run')).stdout).toMatch(/Would remove these orphaned mirrors/);
    expect((await hub.node(keep.id)).state).toBe('in-sync');
    expect(fs.readFileSync(path.join(outside, 'precious.txt'), 'utf8')).toMatch(/^must survive/);
  });

  it('restores a retired node\'s mirror byte for byte, as an orphan again; refuses while its place is taken; purge, restore, purge', async () => {
    const before = snapshot(path.join(data, 'trash', oldEntry, old.id));
    fs.mkdirSync(m(old.id));
    fs.writeFileSync(path.join(m(old.id), 'squatter.txt'), 'in the way');
    const taken = await cli('trash', 'restore', oldEntry);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(new RegExp(`^cortex-hub: CONFLICT: cannot restore ${oldEntry}: mirrors/${old.id} exists \\(a directory\\)\\. The entry stays in the trash`));
    expect(fs.readFileSync(path.join(m(old.id), 'squatter.txt'), 'utf8')).toBe('in the way');
    expect((await json<TrashView>('trash', 'list')).entries.some((e) => e.id === oldEntry)).toBe(true);
    fs.rmSync(m(old.id), { recursive: true });

    const r = await json<TrashRestoreView>('trash', 'restore', oldEntry);
    expect(r).toMatchObject({ restoredTo: m(old.id), beside: false, entry: { id: oldEntry, name: old.id } });
    expect(r.message).toMatch(/as an orphan again \(its node is retired\)/);
    expect(snapshot(m(old.id))).toEqual(before);
    expect(fs.existsSync(path.join(data, 'trash', oldEntry))).toBe(false);
    expect((await hub.node(old.id)).state).toBe('retired');
    const gone = await cli('trash', 'restore', oldEntry);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(`NOT_FOUND: no trash entry ${oldEntry}`);
    const bad = await cli('trash', 'restore', '../../etc');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/BAD_REQUEST: trash.restore: id: a trash id is "tr-" and 16 hex digits/);

    // An orphan again: the next preview lists it, and it goes back into the trash.
    const plan = await json<PurgeView>('purge', '--dry-run');
    expect(plan.targets.find((t) => t.id === old.id)).toMatchObject({ reason: 'retired' });
    const again = await json<PurgeView>('purge', '--plan', plan.planId, '--mirror', old.id);
    expect(again.targets.map((t) => t.id)).toEqual([old.id]);
    expect(snapshot(trashed(again.targets[0]!))).toEqual(before);
    oldEntry = again.targets[0]!.trashId!;
    const events = await hub.invoke('events.list', { kind: 'trash.restored' });
    expect(events[0]).toMatchObject({ nodeId: old.id, data: { name: old.id, beside: false } });
  });

  it('empties by age (nothing yet), then all of it, never following a link out; the status shows 0', async () => {
    const younger = await json<TrashEmptyView>('trash', 'empty', '--older-than', '1');
    expect(younger.emptied).toEqual([]);
    const bad = await cli('trash', 'empty', '--older-than', 'soon');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--older-than must be a number of days, 0 or more/);
    const listed = await json<TrashView>('trash', 'list');
    expect(listed.entries.length).toBe(2);
    const all = await json<TrashEmptyView>('trash', 'empty');
    expect(all.emptied.map((e) => e.id).sort()).toEqual(listed.entries.map((e) => e.id).sort());
    expect(all.failed).toEqual([]);
    expect(all.bytes).toBe(listed.bytes);
    expect(fs.readdirSync(path.join(data, 'trash'))).toEqual([]);
    expect(fs.readFileSync(path.join(outside, 'precious.txt'), 'utf8')).toMatch(/^must survive/);
    expect((await json<HubStatus>('status')).trashBytes).toBe(0);
    expect((await cli('trash', 'list')).stdout).toMatch(/^The trash is empty \(purged mirrors stay 7 days\)\./);
    expect((await cli('trash', 'empty')).stdout).toMatch(/^Nothing was emptied\./);
    expect(hub.logLines().some((l) => l.msg === 'trash.emptied' && l.why === 'on demand')).toBe(true);
  });

  it('the retention window: an entry past it is emptied at start; a shorter setting empties at once; modes in the trash survive restarts', async () => {
    for (const n of ['aged', 'recent']) {
      fs.mkdirSync(path.join(m(n), 'd'), { recursive: true, mode: 0o755 });
      fs.chmodSync(path.join(m(n), 'd'), 0o755);
      fs.writeFileSync(path.join(m(n), 'd', 'x.sh'), 'x', { mode: 0o755 });
      fs.chmodSync(path.join(m(n), 'd', 'x.sh'), 0o755);
    }
    const plan = await json<PurgeView>('purge', '--dry-run');
    const done = await json<PurgeView>('purge', '--plan', plan.planId, '--mirror', 'aged', '--mirror', 'recent');
    const id = (n: string) => done.targets.find((t) => t.id === n)!.trashId!;
    await hub.stop();
    // As if purged 8 and 2 days ago.
    const store = new HubStore(path.join(data, 'hub.db'));
    for (const [n, age] of [['aged', 8], ['recent', 2]] as const) {
      const rec = store.trash.get(id(n))!;
      store.trash.remove(rec.id);
      store.trash.add({ ...rec, trashedAt: rec.trashedAt - age * DAY });
    }
    store.close();
    hub = await Hub.start(data);
    const listed = async () => (await hub.invoke('trash.list', {})).entries.map((e) => e.id);
    await waitFor('the aged entry emptied at start', async () => !(await listed()).includes(id('aged')), 30_000);
    expect(fs.existsSync(path.join(data, 'trash', id('aged')))).toBe(false);
    await waitFor('the retention log line', () => hub.logLines().some((l) => l.msg === 'trash.emptied' && l.why === 'retention'), 10_000);
    expect(hub.logLines().find((l) => l.msg === 'trash.emptied' && l.why === 'retention')).toMatchObject({ entries: [id('aged')] });
    const recent = path.join(data, 'trash', id('recent'), 'recent');
    expect(fs.statSync(path.join(recent, 'd')).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(recent, 'd', 'x.sh')).mode & 0o777).toBe(0o755);
    expect((await json<TrashView>('trash', 'list')).entries.map((e) => e.id)).toEqual([id('recent')]);

    await hub.invoke('settings.set', { trashRetentionDays: 1 });
    await waitFor('the recent entry emptied after the setting shrank', async () => (await listed()).length === 0, 30_000);
    expect(fs.existsSync(path.join(data, 'trash', id('recent')))).toBe(false);
    expect((await json<TrashView>('trash', 'list'))).toMatchObject({ entries: [], retentionDays: 1 });
    await hub.invoke('settings.set', { trashRetentionDays: 7 });
  });
});

interface Paused { point: string; files: string[]; pid: number }

async function pausedAt(marker: string): Promise<Paused> {
  let p: Paused | null = null;
  await waitFor(`the hub to pause (${marker})`, () => {
    try { p = JSON.parse(fs.readFileSync(marker, 'utf8')) as Paused; return true; } catch { return false; }
  }, 60_000, 20);
  return p!;
}

describe('a SIGKILL between a trash step and its record', () => {
  let dir: string;
  beforeAll(() => { dir = tempDir('trash-crash'); });
  afterAll(() => {
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  const orphan = (data: string) => {
    const root = path.join(data, 'mirrors', 'crash');
    fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(root, 'sub', `f${i}`), `crash ${i}`);
    return root;
  };
  /** Folders in DATA/trash, each with what it holds. */
  const trashFolders = (data: string) => fs.readdirSync(path.join(data, 'trash')).map((f) => `${f}/${fs.readdirSync(path.join(data, 'trash', f)).join(',')}`);

  for (const point of ['trash-before-rename', 'trash-after-rename'] as const) {
    it(`of a purge, ${point}: the next start keeps the mirror (in its place, or in the trash and listed), never lost or untracked`, async () => {
      const data = path.join(dir, point);
      fs.mkdirSync(path.join(data, 'mirrors'), { recursive: true });
      const root = orphan(data);
      const before = snapshot(root);
      const marker = path.join(dir, `${point}.json`);
      let hub = await Hub.start(data, { env: { CORTEX_TEST_PAUSE_AT: point, CORTEX_TEST_PAUSE_FILE: marker } });
      try {
        const plan = await hub.invoke('purge.preview', {});
        const running = hub.invoke('purge.run', { planId: plan.planId }).catch((e: Error) => e);
        expect(await pausedAt(marker)).toMatchObject({ point, files: ['crash'] });
        await hub.kill();
        expect(await running).toBeInstanceOf(Error);
        expect(fs.existsSync(root)).toBe(point === 'trash-before-rename');

        hub = await Hub.start(data);
        const list = await hub.invoke('trash.list', {});
        if (point === 'trash-before-rename') {
          expect(list.entries).toEqual([]);
          expect(snapshot(root)).toEqual(before);
          expect(trashFolders(data)).toEqual([]);
          expect((await hub.invoke('purge.preview', {})).targets.map((t) => t.id)).toEqual(['crash']);
        } else {
          expect(list.entries).toEqual([expect.objectContaining({ name: 'crash', state: 'trashed', files: 5, planId: plan.planId })]);
          expect((await hub.status()).trashBytes).toBe(list.bytes);
          expect(hub.logLines().find((l) => l.msg === 'trash.reconciled')).toMatchObject({ settled: [list.entries[0]!.id] });
          const r = await hub.invoke('trash.restore', { id: list.entries[0]!.id });
          expect(r.restoredTo).toBe(root);
          expect(snapshot(root)).toEqual(before);
          expect(trashFolders(data)).toEqual([]);
        }
      } finally {
        await hub.stop();
      }
    }, 180_000);
  }

  it('of a restore, after its rename: the mirror is back and the entry forgotten at the next start', async () => {
    const data = path.join(dir, 'restore');
    fs.mkdirSync(path.join(data, 'mirrors'), { recursive: true });
    const root = orphan(data);
    const before = snapshot(root);
    const marker = path.join(dir, 'restore.json');
    let hub = await Hub.start(data, { env: { CORTEX_TEST_PAUSE_AT: 'trash-after-restore', CORTEX_TEST_PAUSE_FILE: marker } });
    try {
      const plan = await hub.invoke('purge.preview', {});
      const done = await hub.invoke('purge.run', { planId: plan.planId });
      const running = hub.invoke('trash.restore', { id: done.targets[0]!.trashId! }).catch((e: Error) => e);
      await pausedAt(marker);
      await hub.kill();
      expect(await running).toBeInstanceOf(Error);
      hub = await Hub.start(data);
      expect((await hub.invoke('trash.list', {})).entries).toEqual([]);
      expect(snapshot(root)).toEqual(before);
      expect(trashFolders(data)).toEqual([]);
      expect(hub.logLines().some((l) => l.msg === 'trash.entry_gone')).toBe(true);
    } finally {
      await hub.stop();
    }
  }, 180_000);

  it('an entry folder without a record (a database restored from a backup) is adopted and listed; anything else is left alone', async () => {
    const data = path.join(dir, 'adopt');
    fs.mkdirSync(path.join(data, 'trash', 'tr-00000000000000aa', 'lost', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(data, 'trash', 'tr-00000000000000aa', 'lost', 'sub', 'z.bin'), Buffer.alloc(2048, 1));
    fs.writeFileSync(path.join(data, 'trash', 'operator-notes.txt'), 'mine');
    const hub = await Hub.start(data);
    try {
      const list = await hub.invoke('trash.list', {});
      expect(list.entries).toEqual([expect.objectContaining({ id: 'tr-00000000000000aa', name: 'lost', reason: 'unknown', files: 1, bytes: 2048, planId: null, state: 'trashed' })]);
      expect(hub.logLines().find((l) => l.msg === 'trash.foreign')).toMatchObject({ level: 'warn', entries: ['operator-notes.txt'] });
      const emptied = await hub.invoke('trash.empty', {});
      expect(emptied.emptied.map((e) => e.id)).toEqual(['tr-00000000000000aa']);
      expect(fs.readdirSync(path.join(data, 'trash'))).toEqual(['operator-notes.txt']);
    } finally {
      await hub.stop();
    }
  }, 120_000);
});
