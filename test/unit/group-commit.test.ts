/** Group commit of small files (main/sync/group-commit.ts) on real files, with real barrier commands. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GROUP_MIN_FILES, GroupCommitter } from '../../main/sync/group-commit';
import { FsPool } from '../../main/sync/fs-pool';
import { SyncFsBarrier } from '../../main/sync/barrier';
import type { CommitRequest } from '../../main/sync/fs-protocol';
import { CHANGED_CODE, expectedOf } from '../../main/sync/expect';
import type { Logger, Fields } from '../../main/util/log';

const dirs: string[] = [];
const committers: { close(): void }[] = [];
/** A committer (or barrier) closed after the test: its helper process ends. */
function made<T extends { close(): void }>(x: T): T {
  committers.push(x);
  return x;
}
function place() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-group-'));
  dirs.push(base);
  const root = path.join(base, 'root');
  fs.mkdirSync(root);
  return { base, root, stagingDir: path.join(base, 'staging') };
}
afterEach(() => {
  for (const c of committers.splice(0)) c.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const MTIME = 1_600_000_000_000;
function req(p: { root: string; stagingDir: string }, wirePath: string, extra: Partial<CommitRequest> = {}): CommitRequest {
  return { root: p.root, stagingDir: p.stagingDir, wirePath, data: new Uint8Array(Buffer.from(`${wirePath}\n`)), mode: 0o640, mtimeMs: MTIME, syncDir: false, ...extra };
}
const names = (n: number, prefix = 'd/f') => Array.from({ length: n }, (_, i) => `${prefix}${i}.txt`);

function landed(root: string, wirePaths: string[]): void {
  for (const w of wirePaths) {
    const f = path.join(root, w);
    expect(fs.readFileSync(f, 'utf8'), w).toBe(`${w}\n`);
    expect(fs.statSync(f).mode & 0o777).toBe(0o640);
    expect(fs.statSync(f).mtimeMs).toBe(MTIME);
  }
}

/** A barrier command that works `works` times, then fails (a real process; counts its calls). */
function flakyBarrier(base: string, works: number): { command: string[]; calls: () => number } {
  const counter = path.join(base, 'calls');
  const script = path.join(base, 'barrier.sh');
  fs.writeFileSync(script, `n=$(cat "${counter}" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${counter}"\nif [ $n -le ${works} ]; then exec sync -f "$1"; fi\necho "simulated I/O error" >&2; exit 1\n`);
  return { command: ['sh', script], calls: () => Number(fs.readFileSync(counter, 'utf8').trim()) };
}

function capture(): Logger & { lines: { level: string; msg: string; fields?: Fields }[] } {
  const lines: { level: string; msg: string; fields?: Fields }[] = [];
  const log = {
    lines,
    error: (msg: string, fields?: Fields) => lines.push({ level: 'error', msg, fields }),
    warn: (msg: string, fields?: Fields) => lines.push({ level: 'warn', msg, fields }),
    info: (msg: string, fields?: Fields) => lines.push({ level: 'info', msg, fields }),
    debug: (msg: string, fields?: Fields) => lines.push({ level: 'debug', msg, fields }),
    child: () => log,
    setLevel: () => undefined,
  };
  return log;
}

describe.runIf(process.platform === 'linux')('group commit', () => {
  it('a batch takes the barrier (sync -f): every file lands with its mode and mtime, renames durable, staging empty', () => {
    const p = place();
    const paths = names(40);
    const r = made(new GroupCommitter()).commit(paths.map((w) => req(p, w)));
    expect(r.way).toBe('barrier');
    expect(r.notes).toEqual([]);
    for (const o of r.outcomes) expect(o.ok && o.commit.dirSynced).toBe(true);
    landed(p.root, paths);
    expect(fs.readdirSync(p.stagingDir)).toEqual([]);
  });

  it('more directories than are fsynced one by one: the renames take barrier 2', () => {
    const p = place();
    const { base } = p;
    const b = flakyBarrier(base, 100);
    const paths = Array.from({ length: 20 }, (_, i) => `d${i}/f.txt`);
    const r = made(new GroupCommitter(b.command)).commit(paths.map((w) => req(p, w)));
    expect(r.way).toBe('barrier');
    expect(b.calls()).toBe(2);
    for (const o of r.outcomes) expect(o.ok && o.commit.dirSynced).toBe(true);
    landed(p.root, paths);
  });

  it('a file failing its checks before the rename fails alone; the rest of the group lands', () => {
    const p = place();
    fs.mkdirSync(path.join(p.root, 'd'));
    fs.writeFileSync(path.join(p.root, 'd', 'f3.txt'), 'edited meanwhile');
    // The committer expects nothing there (a new file), but an edit made it meanwhile.
    const stale = expectedOf(undefined);
    const paths = names(12);
    const r = made(new GroupCommitter()).commit(paths.map((w) => req(p, w, w === 'd/f3.txt' ? { expected: stale } : {})));
    expect(r.way).toBe('barrier');
    r.outcomes.forEach((o, i) => expect(o.ok, paths[i]).toBe(i !== 3));
    expect(r.outcomes[3]).toMatchObject({ ok: false, code: CHANGED_CODE });
    expect(fs.readFileSync(path.join(p.root, 'd', 'f3.txt'), 'utf8')).toBe('edited meanwhile');
    landed(p.root, paths.filter((w) => w !== 'd/f3.txt'));
    expect(fs.readdirSync(p.stagingDir)).toEqual([]);
  });

  it('no barrier (the command is missing): told once why, then every batch is fsynced file by file', () => {
    const p = place();
    const c = made(new GroupCommitter(['/nonexistent/cortex-sync', '-f']));
    const first = c.commit(names(10).map((w) => req(p, w, { syncDir: w.endsWith('1.txt') })));
    expect(first.way).toBe('fsync');
    expect(first.notes).toEqual([{ kind: 'unavailable', reason: expect.stringMatching(/cortex-sync.*not found/), files: 10 }]);
    // Without a barrier only the directories of commits that ask for it are fsynced here.
    first.outcomes.forEach((o, i) => expect(o.ok && o.commit.dirSynced).toBe(i === 1));
    const second = c.commit(names(10, 'e/g').map((w) => req(p, w)));
    expect(second.way).toBe('fsync');
    expect(second.notes).toEqual([]);
    expect(c.unavailable).toMatch(/not found/);
    landed(p.root, [...names(10), ...names(10, 'e/g')]);
  });

  it(`fewer than ${GROUP_MIN_FILES} files are fsynced one by one, without trying the barrier`, () => {
    const p = place();
    const b = flakyBarrier(p.base, 100);
    const r = made(new GroupCommitter(b.command)).commit(names(GROUP_MIN_FILES - 1).map((w) => req(p, w)));
    expect(r.way).toBe('fsync');
    expect(fs.existsSync(path.join(p.base, 'calls'))).toBe(false);
    landed(p.root, names(GROUP_MIN_FILES - 1));
  });

  it('a barrier failing mid-run: that batch falls back (said each time); three in a row: unavailable', () => {
    const p = place();
    const b = flakyBarrier(p.base, 1);
    const c = made(new GroupCommitter(b.command));
    const batch = (k: number) => c.commit(names(10, `b${k}/f`).map((w) => req(p, w)));
    expect(batch(0)).toMatchObject({ way: 'barrier', notes: [] });
    const failed = { kind: 'failed', reason: expect.stringContaining('simulated I/O error'), files: 10 };
    expect(batch(1)).toMatchObject({ way: 'fsync', notes: [failed] });
    expect(batch(2)).toMatchObject({ way: 'fsync', notes: [failed] });
    expect(batch(3)).toMatchObject({ way: 'fsync', notes: [{ ...failed, kind: 'unavailable' }] });
    expect(batch(4)).toMatchObject({ way: 'fsync', notes: [] });
    expect(b.calls()).toBe(4);
    for (let k = 0; k <= 4; k++) landed(p.root, names(10, `b${k}/f`));
  });

  it('a barrier helper that dies fails that barrier; the next one starts a new helper', () => {
    const p = place();
    const b = made(new SyncFsBarrier());
    b.sync(p.root);
    const first = b.pid!;
    process.kill(first, 'SIGKILL');
    expect(() => b.sync(p.root)).toThrow(/helper exited|EPIPE/);
    b.sync(p.root);
    expect(b.pid).not.toBe(first);
  });

  it('the pool says once, as a warning, that there is no barrier, and commits everything anyway', async () => {
    const p = place();
    const log = capture();
    const pool = new FsPool(1, { log, barrierCommand: ['/nonexistent/cortex-sync', '-f'] });
    try {
      for (let round = 0; round < 3; round++) {
        const paths = names(30, `r${round}/f`);
        const results = await Promise.all(paths.map((w) => pool.commit(req(p, w))));
        expect(results.every((x) => x.size > 0)).toBe(true);
        landed(p.root, paths);
      }
    } finally {
      await pool.close();
    }
    const said = log.lines.filter((l) => l.msg.startsWith('commit.barrier'));
    expect(said).toEqual([{ level: 'warn', msg: 'commit.barrier_unavailable', fields: { reason: expect.stringMatching(/not found/), fallback: expect.stringContaining('fsync') } }]);
  });

  it('the pool counts how its commits were grouped (what the hub logs as hub.commits)', async () => {
    const p = place();
    const pool = new FsPool(1);
    try {
      await Promise.all(names(30).map((w) => pool.commit(req(p, w))));
      // The idle worker takes the first commit alone; the other 29 queue up meanwhile and go as one group.
      expect(pool.takeCommitStats()).toEqual({ groups: 2, files: 30, alone: 1, belowGroupMin: 1 });
      expect(pool.takeCommitStats()).toEqual({ groups: 0, files: 0, alone: 0, belowGroupMin: 0 });
    } finally {
      await pool.close();
    }
  });
});
