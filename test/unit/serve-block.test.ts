/**
 * Answering block requests from a local root (sync/serve-block.ts), on a real temp dir: a
 * recorded file is served, a changed one is not, a path through a symlink is refused, and the
 * directories of one batch are checked once (not once per file).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { serveBlock } from '../../main/sync/serve-block';
import { FsPool } from '../../main/sync/fs-pool';
import type { CachedEntry } from '../../main/sync/types';

let root: string;
let outside: string;
const records = new Map<string, CachedEntry>();

function put(wirePath: string, content: string): void {
  const native = path.join(root, ...wirePath.split('/'));
  fs.mkdirSync(path.dirname(native), { recursive: true });
  fs.writeFileSync(native, content);
  const st = fs.statSync(native);
  records.set(wirePath, { path: wirePath, type: 'file', size: st.size, mtimeMs: st.mtimeMs, mode: 0o644, ino: st.ino, hash: Buffer.alloc(32), blockSize: 131072, blocks: Buffer.alloc(32), target: '', seq: 1, deleted: false });
}
const request = (wirePath: string, id = 1) => ({ id, path: wirePath, offset: 0, size: records.get(wirePath)?.size ?? 1, hash: Buffer.alloc(32) });
const serve = (wirePath: string, dirs?: Set<string>) => serveBlock(root, request(wirePath), (p) => records.get(p), dirs);

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-serve-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-serve-out-'));
  records.clear();
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

describe('serveBlock', () => {
  it('serves a recorded file, and says when it changed', () => {
    put('d/a', 'hello');
    expect(serve('d/a').res).toEqual({ id: 1, data: Buffer.from('hello'), error: '' });
    fs.writeFileSync(path.join(root, 'd', 'a'), 'hello, longer');
    expect(serve('d/a')).toMatchObject({ res: { error: 'changed' }, changed: true });
  });

  it('never serves through a symlinked directory', () => {
    put('d/a', 'hello');
    fs.renameSync(path.join(root, 'd'), path.join(outside, 'd'));
    fs.symlinkSync(path.join(outside, 'd'), path.join(root, 'd'));
    expect(serve('d/a', new Set()).res.error).toMatch(/symlink/);
  });

  it('checks the directories of a batch once', () => {
    for (let i = 0; i < 20; i++) put(`top/sub/f${i}`, `content ${i}`);
    const lstat = vi.spyOn(fs, 'lstatSync');
    const dirs = new Set<string>();
    for (let i = 0; i < 20; i++) expect(serve(`top/sub/f${i}`, dirs).res.data.toString()).toBe(`content ${i}`);
    // top and top/sub, for the first file only.
    expect(lstat).toHaveBeenCalledTimes(2);
  });

  it('a pool worker reads many small files as recorded, in order, and none that changed, is gone or lies behind a symlink', async () => {
    put('d/a', 'hello');
    put('d/b', 'world!');
    put('e/c', 'changes');
    put('gone', 'x');
    fs.writeFileSync(path.join(outside, 'secret'), 'secret');
    const link = { path: 'l/secret', size: 6, mtimeMs: fs.statSync(path.join(outside, 'secret')).mtimeMs };
    fs.symlinkSync(outside, path.join(root, 'l'));
    fs.writeFileSync(path.join(root, 'e', 'c'), 'changed');
    fs.utimesSync(path.join(root, 'e', 'c'), new Date(), new Date(Date.now() + 5000));
    fs.rmSync(path.join(root, 'gone'));
    const pool = new FsPool(1);
    try {
      const want = ['d/a', 'e/c', 'gone', 'd/b'].map((p) => ({ path: p, size: records.get(p)!.size, mtimeMs: records.get(p)!.mtimeMs }));
      const got = await pool.readMany(root, [...want, link]);
      expect(got.map((b) => b?.toString() ?? null)).toEqual(['hello', null, null, 'world!', null]);
    } finally {
      await pool.close();
    }
  });

  it('a pool worker serves blocks at offsets, each only from a file as recorded; a bad range, an unrecorded or changed file gets its error', async () => {
    put('d/a', 'hello world');
    put('d/b', 'changes');
    fs.writeFileSync(path.join(root, 'd', 'b'), 'changed');
    fs.utimesSync(path.join(root, 'd', 'b'), new Date(), new Date(Date.now() + 5000));
    const rec = (p: string) => ({ path: p, size: records.get(p)!.size, mtimeMs: records.get(p)!.mtimeMs });
    const pool = new FsPool(1);
    try {
      const got = await pool.serveMany(root, [
        { path: 'd/a', offset: 6, size: 5, rec: rec('d/a') },
        { path: 'd/b', offset: 0, size: 7, rec: rec('d/b') },
        { path: 'd/a', offset: 0, size: 5, rec: null },
        { path: '../x', offset: 0, size: 5, rec: rec('d/a') },
        { path: 'd/a', offset: 0, size: 0, rec: rec('d/a') },
        { path: 'd/a', offset: 0, size: 5, rec: rec('d/a') },
      ]);
      expect(got.map((g) => (g.error ? g.error.replace(/ \(.*/, '') : g.data.toString()))).toEqual(['world', 'changed', 'gone', 'refused: unsafe path', 'refused: bad block range', 'hello']);
      expect(got.map((g) => g.changed)).toEqual([false, true, false, false, false, false]);
    } finally {
      await pool.close();
    }
  });

  it('a read for the node does not wait behind busy workers: it takes one worker more than the pool\'s size, other work does not', async () => {
    put('d/a', 'hello');
    const big = path.join(root, 'big');
    fs.writeFileSync(big, Buffer.alloc(32 * 1024 * 1024, 1));
    const pool = new FsPool(1);
    try {
      const hashing = pool.hash(big, 131072);
      expect(pool.workers).toBe(1);
      const served = pool.serveMany(root, [{ path: 'd/a', offset: 0, size: 5, rec: { path: 'd/a', size: records.get('d/a')!.size, mtimeMs: records.get('d/a')!.mtimeMs } }]);
      expect(pool.workers).toBe(2);
      const more = pool.hash(big, 131072);
      expect(pool.workers).toBe(2);
      expect((await served)[0]!.data.toString()).toBe('hello');
      await Promise.all([hashing, more]);
      expect(pool.workers).toBeLessThanOrEqual(2);
    } finally {
      await pool.close();
    }
  });
});
