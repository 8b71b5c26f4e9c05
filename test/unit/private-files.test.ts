/**
 * What the hub and the node keep for themselves is owner-only (0600 files, 0700 folders)
 * whatever the process umask, and looser modes left by earlier runs are tightened: databases
 * with their -wal/-shm, log files including rotated ones, the whole data dir but for mirror
 * contents (which follow the mirror mode rule).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../main/store/db';
import { createLogger } from '../../main/util/log';
import { layout, tightenDataDir } from '../../main/hub/data-dir';

const mode = (p: string) => fs.lstatSync(p).mode & 0o7777;

describe('private files', () => {
  let dir: string;
  let umask: number;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-private-'));
    // The most permissive umask: nothing may depend on it taking bits away.
    umask = process.umask(0);
  });

  afterEach(() => {
    process.umask(umask);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a database and its -wal/-shm are 0600 with umask 000, in a 0700 folder it makes', () => {
    const file = path.join(dir, 'state', 'x.db');
    const db = openDatabase(file, [(d) => d.exec('CREATE TABLE t (v)')]);
    db.prepare('INSERT INTO t VALUES (1)').run();
    expect(mode(path.join(dir, 'state'))).toBe(0o700);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(mode(f), f).toBe(0o600);
    db.close();
  });

  it('a database left 0644 (with -wal/-shm) by an earlier run is tightened when opened', () => {
    const file = path.join(dir, 'old.db');
    openDatabase(file, []).close();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.writeFileSync(f, fs.existsSync(f) ? fs.readFileSync(f) : '', { mode: 0o644 });
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.chmodSync(f, 0o644);
    const db = openDatabase(file, []);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(mode(f), f).toBe(0o600);
    db.close();
  });

  it('log files are 0600 with umask 000, rotated ones too, and older loose ones are tightened', () => {
    const file = path.join(dir, 'logs', 'hub.log');
    fs.mkdirSync(path.dirname(file), { mode: 0o755 });
    fs.chmodSync(path.dirname(file), 0o755);
    // A rotated log from an earlier run, world-readable.
    fs.writeFileSync(path.join(dir, 'logs', 'hub.old.log'), 'old\n', { mode: 0o644 });
    const log = createLogger('test', { file, consoleLevel: false, maxBytes: 2000 });
    expect(mode(path.join(dir, 'logs', 'hub.old.log'))).toBe(0o600);
    log.info('first');
    expect(mode(file)).toBe(0o600);
    for (let i = 0; i < 100; i++) log.info('filler', { i, pad: 'x'.repeat(50) });
    // Rotated: the old one was renamed, a new one started.
    expect(fs.readFileSync(path.join(dir, 'logs', 'hub.old.log'), 'utf8')).toContain('"msg":"filler"');
    expect(mode(path.join(dir, 'logs', 'hub.old.log'))).toBe(0o600);
    expect(mode(file)).toBe(0o600);
    // A folder it makes is 0700 (one that was there is the data dir's to tighten, not the logger's).
    createLogger('test', { file: path.join(dir, 'fresh', 'deeper', 'node.log'), consoleLevel: false }).info('x');
    expect(mode(path.join(dir, 'fresh'))).toBe(0o700);
    expect(mode(path.join(dir, 'fresh', 'deeper'))).toBe(0o700);
    expect(mode(path.join(dir, 'fresh', 'deeper', 'node.log'))).toBe(0o600);
  });

  it('tightenDataDir makes DATA 0600/0700 but leaves mirror contents (in the trash too) and symlink targets alone', () => {
    const l = layout(path.join(dir, 'data'));
    const outside = path.join(dir, 'outside.txt');
    fs.writeFileSync(outside, 'x', { mode: 0o644 });
    for (const d of [l.root, l.logs, l.staging, path.join(l.staging, 'n1'), path.join(l.root, 'tls'), l.mirrors, path.join(l.mirrors, 'n1'), path.join(l.mirrors, 'n1', 'sub')]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
    for (const f of [l.db, `${l.db}-wal`, l.hubJson, l.lock, path.join(l.logs, 'hub.log'), path.join(l.logs, 'hub.old.log'), path.join(l.root, 'tls', 'hub-key.pem'), path.join(l.staging, 'n1', 'x.tmp'), path.join(l.mirrors, 'n1', 'sub', 'a.txt')]) fs.writeFileSync(f, 'x', { mode: 0o644 });
    fs.chmodSync(path.join(l.mirrors, 'n1', 'sub'), 0o775);
    // A purged mirror in the trash: restored as it was, so its modes are its own too.
    const trashed = path.join(l.trash, 'tr-0123456789abcdef', 'n2');
    fs.mkdirSync(path.join(trashed, 'sub'), { recursive: true, mode: 0o755 });
    fs.chmodSync(l.trash, 0o755);
    fs.chmodSync(path.join(trashed, 'sub'), 0o775);
    fs.writeFileSync(path.join(trashed, 'sub', 'b.txt'), 'x', { mode: 0o644 });
    fs.symlinkSync(outside, path.join(l.root, 'link'));
    const { changed, failed } = tightenDataDir(l);
    expect(failed).toEqual([]);
    expect(changed).toContain(l.root);
    expect(changed).toContain(l.mirrors);
    expect(changed).toContain(l.trash);
    const seen: string[] = [];
    const walk = (p: string) => {
      for (const e of fs.readdirSync(p, { withFileTypes: true })) {
        const child = path.join(p, e.name);
        if (child.startsWith(`${l.mirrors}${path.sep}`) || child.startsWith(`${l.trash}${path.sep}`) || e.isSymbolicLink()) continue;
        seen.push(child);
        expect(mode(child), child).toBe(e.isDirectory() ? 0o700 : 0o600);
        if (e.isDirectory()) walk(child);
      }
    };
    expect(mode(l.root)).toBe(0o700);
    walk(l.root);
    expect(seen.length).toBeGreaterThan(10);
    // Mirror contents keep their modes; the symlink's target outside DATA is not touched.
    expect(mode(path.join(l.mirrors, 'n1'))).toBe(0o755);
    expect(mode(path.join(l.mirrors, 'n1', 'sub'))).toBe(0o775);
    expect(mode(path.join(l.mirrors, 'n1', 'sub', 'a.txt'))).toBe(0o644);
    expect(mode(l.trash)).toBe(0o700);
    expect(mode(path.join(trashed, 'sub'))).toBe(0o775);
    expect(mode(path.join(trashed, 'sub', 'b.txt'))).toBe(0o644);
    expect(mode(outside)).toBe(0o644);
    expect(tightenDataDir(l)).toEqual({ changed: [], failed: [] });
  });

  it('a path it cannot tighten is reported with why, and the rest is still tightened', (ctx) => {
    const l = layout(path.join(dir, 'data'));
    fs.mkdirSync(l.logs, { recursive: true, mode: 0o755 });
    fs.chmodSync(l.root, 0o755);
    const stuck = path.join(l.root, 'stuck.txt');
    fs.writeFileSync(stuck, 'x', { mode: 0o644 });
    // An immutable file: not even root may chmod it (stands for a file owned by another user).
    const chattr = spawnSync('chattr', ['+i', stuck]);
    if (chattr.status !== 0) {
      console.warn(`SKIPPED: chattr +i is not available here (${chattr.error?.message ?? chattr.stderr.toString().trim()}); needs root on ext4/xfs/btrfs`);
      ctx.skip();
    }
    try {
      const { changed, failed } = tightenDataDir(l);
      expect(failed).toEqual([{ path: stuck, error: expect.stringMatching(/EPERM/) }]);
      expect(changed.sort()).toEqual([l.root, l.logs].sort());
      expect(mode(stuck)).toBe(0o644);
    } finally {
      spawnSync('chattr', ['-i', stuck]);
    }
  });
});
