/** The sweep under the watcher: which directories moved, and which of their entries differ from the index. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirSweep, SWEEP_IDLE_MS, SWEEP_MIN_GAP_MS, SweepPace, differingChildren, fileShowsRecord, type Seen } from '../../main/sync/dir-sweep';
import type { CachedEntry } from '../../main/sync/types';
import { cachedEntry } from '../helpers/entries';

const rec = (p: string, over: Partial<CachedEntry> = {}): CachedEntry => cachedEntry(p, { mtimeMs: 10, ino: 1, hash: Buffer.alloc(0), blockSize: 0, blocks: Buffer.alloc(0), ...over });
const seen = (over: Partial<Seen> = {}): Seen => ({ type: 'file', size: 3, mtimeMs: 10, mode: 0o644, ino: 1, ...over });

describe('differingChildren', () => {
  it.each<[string, Map<string, Seen>, Map<string, CachedEntry>, string[]]>([
    ['the same', new Map([['a', seen()]]), new Map([['a', rec('a')]]), []],
    ['new on disk', new Map([['a', seen()]]), new Map(), ['a']],
    ['gone from disk', new Map(), new Map([['a', rec('a')]]), ['a']],
    ['a tombstone is absent', new Map(), new Map([['a', rec('a', { deleted: true })]]), []],
    ['replaced by a rename (another inode)', new Map([['a', seen({ ino: 2 })]]), new Map([['a', rec('a')]]), ['a']],
    ['another size', new Map([['a', seen({ size: 4 })]]), new Map([['a', rec('a')]]), ['a']],
    ['a file became a directory', new Map([['a', seen({ type: 'dir' })]]), new Map([['a', rec('a')]]), ['a']],
    ['a directory with new content (mtime) is the same directory', new Map([['d', seen({ type: 'dir', mtimeMs: 99 })]]), new Map([['d', rec('d', { type: 'dir' })]]), []],
    ['a symlink made anew', new Map([['l', seen({ type: 'symlink', ino: 5 })]]), new Map([['l', rec('l', { type: 'symlink', ino: 4, target: 'x' })]]), ['l']],
    ['the same symlink', new Map([['l', seen({ type: 'symlink', ino: 4 })]]), new Map([['l', rec('l', { type: 'symlink', ino: 4, target: 'x' })]]), []],
  ])('%s', (_name, onDisk, recorded, want) => {
    expect(differingChildren(onDisk, recorded)).toEqual(want);
  });

  it('takes a mode the hub wrote under the mirror mode rule as the same', () => {
    const writtenAs = (d: number, c: number) => d === c || d === (c & ~0o002);
    expect(differingChildren(new Map([['a', seen({ mode: 0o664 })]]), new Map([['a', rec('a', { mode: 0o666 })]]), writtenAs)).toEqual([]);
  });
});

describe('fileShowsRecord', () => {
  it.each<[string, Seen | null | undefined, CachedEntry | undefined, boolean]>([
    ['the file as recorded', seen(), rec('a'), true],
    ['not recorded', seen(), undefined, false],
    ['recorded as deleted', seen(), rec('a', { deleted: true }), false],
    ['not on disk', undefined, rec('a'), false],
    ['another inode (replaced)', seen({ ino: 2 }), rec('a'), false],
    ['another mtime', seen({ mtimeMs: 11 }), rec('a'), false],
    ['another mode', seen({ mode: 0o600 }), rec('a'), false],
    ['a directory, even as recorded', seen({ type: 'dir' }), rec('a', { type: 'dir' }), false],
    ['a symlink, even as recorded', seen({ type: 'symlink' }), rec('a', { type: 'symlink' }), false],
  ])('%s', (_name, s, r, want) => {
    expect(fileShowsRecord(s, r)).toBe(want);
  });
});

describe('DirSweep on a real directory', () => {
  it('finds a file replaced by a rename and then moved away, which leaves no watcher event', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-sweep-'));
    fs.mkdirSync(path.join(root, 'd'));
    fs.writeFileSync(path.join(root, 'd', 'f.txt'), 'v1');
    const st = fs.statSync(path.join(root, 'd', 'f.txt'));
    const index = new Map([['d/f.txt', rec('d/f.txt', { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino })]]);
    const sweep = new DirSweep(root);
    // The first call is the baseline; then nothing moved.
    expect(await sweep.changedDirs(['', 'd'])).toEqual([]);
    expect(await sweep.changedDirs(['', 'd'])).toEqual([]);
    // A directory made since is looked into at once.
    fs.mkdirSync(path.join(root, 'e'));
    expect(await sweep.changedDirs(['', 'd', 'e'])).toEqual(['', 'e']);
    await new Promise((r) => setTimeout(r, 20));
    fs.writeFileSync(path.join(root, 'tmp'), 'v2');
    fs.renameSync(path.join(root, 'tmp'), path.join(root, 'd', 'f.txt'));
    fs.renameSync(path.join(root, 'd', 'f.txt'), path.join(root, 'moved.txt'));
    const changed = await sweep.changedDirs(['', 'd', 'e']);
    expect(changed.sort()).toEqual(['', 'd']);
    expect(differingChildren(await sweep.children('d'), index)).toEqual(['d/f.txt']);
    const dirRec = (p: string) => rec(p, { type: 'dir', ino: fs.statSync(path.join(root, p)).ino, mode: fs.statSync(path.join(root, p)).mode & 0o777 });
    expect(differingChildren(await sweep.children(''), new Map([['d', dirRec('d')], ['e', dirRec('e')]]))).toEqual(['moved.txt']);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('compares a directory someone edited in at the next two sweeps, though an edit in place moves no mtime (a watcher event lost)', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-sweep-'));
    fs.mkdirSync(path.join(root, 'd'));
    const index = new Map<string, CachedEntry>();
    for (const n of ['a.txt', 'b.txt']) {
      fs.writeFileSync(path.join(root, 'd', n), 'v1');
      const st = fs.statSync(path.join(root, 'd', n));
      index.set(`d/${n}`, rec(`d/${n}`, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, mode: st.mode & 0o777 }));
    }
    const sweep = new DirSweep(root);
    const recordedIn = (dir: string) => new Map([...index].filter(([p]) => p.startsWith(`${dir}/`)));
    expect(await sweep.differing(['', 'd'], recordedIn)).toEqual([]);
    const mtime = fs.statSync(path.join(root, 'd')).mtimeMs;
    // Rewritten in place: the same inode, the directory untouched.
    fs.writeFileSync(path.join(root, 'd', 'b.txt'), 'v2, longer');
    expect(fs.statSync(path.join(root, 'd')).mtimeMs).toBe(mtime);
    // No event for b.txt (lost): a sweep by directory mtimes alone does not see it...
    expect(await sweep.differing(['', 'd'], recordedIn)).toEqual([]);
    // ...but the watcher did report another edit in that directory: compared entry by entry.
    sweep.touched('d/a.txt');
    expect(await sweep.differing(['', 'd'], recordedIn)).toEqual(['d/b.txt']);
    // Once more at the next sweep (the loss may come after a sweep in the middle of a burst), then not.
    expect(await sweep.differing(['', 'd'], recordedIn)).toEqual(['d/b.txt']);
    expect(await sweep.differing(['', 'd'], recordedIn)).toEqual([]);
    fs.rmSync(root, { recursive: true, force: true });
  });
});

describe('SweepPace', () => {
  it('with a minimum gap, a busy tree is swept at most once per gap (the next tick), a quiet one at once', async () => {
    let now = 1_000_000;
    const pace = new SweepPace(() => now, SWEEP_MIN_GAP_MS);
    let sweeps = 0;
    const sweep = async () => { sweeps++; };
    // Activity after a long quiet: swept at once.
    pace.touch();
    expect(await pace.run(sweep)).toBe(true);
    // Activity again soon after (ten changes a second): not swept each time...
    for (let i = 0; i < 3; i++) {
      now += 100;
      pace.touch();
      expect(await pace.run(sweep)).toBe(false);
      expect(pace.settled).toBe(false);
    }
    // ...but once the gap has passed since the last sweep started.
    now += SWEEP_MIN_GAP_MS - 300;
    expect(await pace.run(sweep)).toBe(true);
    expect(pace.settled).toBe(true);
    expect(sweeps).toBe(2);
  });

  it('sweeps after activity, every SWEEP_IDLE_MS anyway, one at a time, and settles only what nothing touched meanwhile', async () => {
    let now = 1_000_000;
    const pace = new SweepPace(() => now);
    let sweeps = 0;
    const sweep = async () => { sweeps++; };
    expect(await pace.run(sweep)).toBe(true);
    expect(pace.settled).toBe(true);
    // Nothing happened and the last sweep is recent: not due.
    now += SWEEP_IDLE_MS - 1;
    expect(await pace.run(sweep)).toBe(false);
    // ...until the idle period passed.
    now += 1;
    expect(await pace.run(sweep)).toBe(true);
    // Activity makes it due at once, and unsettled until a sweep ran.
    pace.touch();
    expect(pace.settled).toBe(false);
    expect(pace.quietFor()).toBe(0);
    now += 7;
    expect(pace.quietFor()).toBe(7);
    // Activity while a sweep runs is not settled by it; a second sweep meanwhile does not start.
    let release!: () => void;
    const running = pace.run(() => new Promise<void>((r) => { release = r; }));
    expect(await pace.run(sweep)).toBe(false);
    pace.touch();
    release();
    expect(await running).toBe(true);
    expect(pace.settled).toBe(false);
    expect(await pace.run(sweep)).toBe(true);
    expect(pace.settled).toBe(true);
    expect(sweeps).toBe(3);
    // A sweep that throws settles nothing and lets the next one run.
    pace.touch();
    await expect(pace.run(async () => { throw new Error('EIO'); })).rejects.toThrow('EIO');
    expect(pace.settled).toBe(false);
    expect(await pace.run(sweep)).toBe(true);
  });
});
