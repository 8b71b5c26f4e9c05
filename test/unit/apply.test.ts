/** The atomic, verified commit on real files. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { VerifyError, applyDelete, applyDir, applyMove, pullFile, type PullSource } from '../../main/sync/apply';
import { ChangedMeanwhile } from '../../main/sync/expect';
import { FsPool } from '../../main/sync/fs-pool';
import { BLOCK_SIZE } from '../../main/sync/blocks';
import type { Entry } from '../../main/sync/types';
import { entryOf } from '../helpers/entries';

const dirs: string[] = [];
function ctx() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-apply-'));
  dirs.push(base);
  const root = path.join(base, 'mirror');
  const stagingDir = path.join(base, 'staging');
  fs.mkdirSync(root);
  return { root, stagingDir };
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function entryFor(p: string, data: Buffer, mode = 0o640): Entry {
  return entryOf(p, data, { mode });
}

function remote(data: Buffer, tamper?: (off: number, b: Buffer) => Buffer): PullSource & { fetched: number } {
  const src = {
    fetched: 0,
    findLocal: () => [],
    fetch: async (offset: number, size: number) => {
      src.fetched += size;
      const b = Buffer.from(data.subarray(offset, offset + size));
      return tamper ? tamper(offset, b) : b;
    },
  };
  return src;
}

describe('pullFile', () => {
  it('commits a verified file with its final mode and mtime, leaving nothing in staging', async () => {
    const c = ctx();
    const data = crypto.randomBytes(3 * BLOCK_SIZE + 17);
    const e = entryFor('a/b/c.bin', data);
    const st = await pullFile(c, e, remote(data));
    const file = path.join(c.root, 'a', 'b', 'c.bin');
    expect(fs.readFileSync(file).equals(data)).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
    expect(fs.statSync(file).mtimeMs).toBe(1_600_000_000_000);
    expect(st.ino).toBe(fs.statSync(file).ino);
    expect(fs.readdirSync(c.stagingDir)).toEqual([]);
  });

  it('small files committed by many workers at once into the same new directories all land', async () => {
    // Workers race to create the parents (and a mkdir entry races them): none may fail on EEXIST.
    const pool = new FsPool(8);
    try {
      for (let round = 0; round < 5; round++) {
        const c = { ...ctx(), pool };
        const files = Array.from({ length: 48 }, (_, i) => ({ e: entryFor(`d${i % 3}/sub/f${i}.txt`, Buffer.from(`file ${i}\n`)), data: Buffer.from(`file ${i}\n`) }));
        const dirEntry = { ...entryFor('d0/sub', Buffer.alloc(0)), type: 'dir' as const, mode: 0o755 };
        await Promise.all([...files.map(({ e, data }) => pullFile(c, e, remote(data))), applyDir(c, dirEntry)]);
        for (const { e, data } of files) expect(fs.readFileSync(path.join(c.root, e.path)).equals(data)).toBe(true);
      }
    } finally {
      await pool.close();
    }
  });

  it('a backlog of commits goes to a worker in batches; one bad commit fails alone', async () => {
    const pool = new FsPool(1);
    try {
      const c = ctx();
      fs.symlinkSync(os.tmpdir(), path.join(c.root, 'link'));
      const req = (p: string) => ({ root: c.root, stagingDir: c.stagingDir, wirePath: p, data: new Uint8Array(Buffer.from(p)), mode: 0o600, mtimeMs: 1_600_000_000_000, syncDir: false });
      // One worker: the first commit goes alone, the other nine queue and leave in one batch.
      const paths = Array.from({ length: 10 }, (_, i) => (i === 6 ? 'link/escape.txt' : `q/f${i}.txt`));
      const results = await Promise.allSettled(paths.map((p) => pool.commit(req(p))));
      results.forEach((r, i) => {
        if (i === 6) expect(r.status === 'rejected' && (r.reason as Error).name).toBe('UnsafePathError');
        else expect(r.status, paths[i]).toBe('fulfilled');
      });
      for (const p of paths.filter((x) => x.startsWith('q/'))) expect(fs.readFileSync(path.join(c.root, p), 'utf8')).toBe(p);
      expect(fs.existsSync(path.join(os.tmpdir(), 'escape.txt'))).toBe(false);
      expect(fs.readdirSync(c.stagingDir)).toEqual([]);
    } finally {
      await pool.close();
    }
  });

  it('a block whose bytes do not match its hash is refused and the old version stays', async () => {
    const c = ctx();
    fs.writeFileSync(path.join(c.root, 'f'), 'old version');
    const data = crypto.randomBytes(2 * BLOCK_SIZE);
    const bad = remote(data, (off, b) => (off === BLOCK_SIZE ? Buffer.alloc(b.length, 0) : b));
    await expect(pullFile(c, entryFor('f', data), bad)).rejects.toThrow(VerifyError);
    expect(fs.readFileSync(path.join(c.root, 'f'), 'utf8')).toBe('old version');
    expect(fs.readdirSync(c.stagingDir)).toEqual([]);
  });

  it('a short block (file claimed bigger than sent) is refused', async () => {
    const c = ctx();
    const data = crypto.randomBytes(BLOCK_SIZE + 100);
    const short = remote(data, (_off, b) => b.subarray(0, b.length - 1));
    await expect(pullFile(c, entryFor('f', data), short)).rejects.toThrow(/expected/);
    expect(fs.existsSync(path.join(c.root, 'f'))).toBe(false);
  });

  it('reuses local blocks and fetches only the changed one', async () => {
    const c = ctx();
    const old = crypto.randomBytes(4 * BLOCK_SIZE);
    fs.writeFileSync(path.join(c.root, 'f'), old);
    const next = Buffer.from(old);
    next.fill(9, BLOCK_SIZE + 10, BLOCK_SIZE + 20);
    const e = entryFor('f', next);
    const oldEntry = entryFor('f', old);
    const src = remote(next);
    const local = (h: Buffer) => {
      const out = [];
      for (let i = 0; i < 4; i++) if (oldEntry.blocks.subarray(i * 32, i * 32 + 32).equals(h)) out.push({ file: path.join(c.root, 'f'), offset: i * BLOCK_SIZE });
      return out;
    };
    await pullFile(c, e, { ...src, findLocal: local, fetch: src.fetch });
    expect(src.fetched).toBe(BLOCK_SIZE);
    expect(fs.readFileSync(path.join(c.root, 'f')).equals(next)).toBe(true);
  });

  it('empty files commit', async () => {
    const c = ctx();
    await pullFile(c, entryFor('empty', Buffer.alloc(0), 0o600), remote(Buffer.alloc(0)));
    expect(fs.statSync(path.join(c.root, 'empty')).size).toBe(0);
  });

  it('never writes through a symlink planted in the root', async () => {
    const c = ctx();
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-outside-'));
    dirs.push(outside);
    fs.symlinkSync(outside, path.join(c.root, 'evil'));
    const data = Buffer.from('x');
    await expect(pullFile(c, entryFor('evil/pwned', data), remote(data))).rejects.toThrow(/symlink/);
    expect(fs.readdirSync(outside)).toEqual([]);
  });
});

describe('commits that check what is there first (expect.ts)', () => {
  const stampOf = (file: string) => {
    const st = fs.lstatSync(file);
    return { type: 'file' as const, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
  };

  it('replaces a file only while it still shows the recorded stamp (small and large files)', async () => {
    const c = ctx();
    const pool = new FsPool(1);
    try {
      for (const size of [100, 2 * 1024 * 1024]) {
        const target = path.join(c.root, `f${size}`);
        fs.writeFileSync(target, 'recorded');
        const recorded = stampOf(target);
        fs.writeFileSync(target, 'edited since, not scanned yet');
        const data = crypto.randomBytes(size);
        await expect(pullFile({ ...c, pool }, entryFor(`f${size}`, data), remote(data), undefined, undefined, recorded)).rejects.toBeInstanceOf(ChangedMeanwhile);
        expect(fs.readFileSync(target, 'utf8')).toBe('edited since, not scanned yet');
        await pullFile({ ...c, pool }, entryFor(`f${size}`, data), remote(data), undefined, undefined, stampOf(target));
        expect(fs.readFileSync(target).equals(data)).toBe(true);
        // "Nothing there" is an expectation too: a file created meanwhile is not replaced.
        fs.writeFileSync(path.join(c.root, `new${size}`), 'created meanwhile');
        await expect(pullFile({ ...c, pool }, entryFor(`new${size}`, data), remote(data), undefined, undefined, null)).rejects.toBeInstanceOf(ChangedMeanwhile);
      }
      expect(fs.readdirSync(c.stagingDir)).toEqual([]);
    } finally {
      await pool.close();
    }
  });

  it('deletes only what was recorded: a file replaced under the same name (as a case-only rename looks on a case-insensitive file system) stays', async () => {
    const c = ctx();
    const target = path.join(c.root, 'Readme.md');
    fs.writeFileSync(target, 'old');
    const recorded = stampOf(target);
    // A new inode under the same name.
    fs.writeFileSync(`${target}.new`, 'the renamed file');
    fs.renameSync(`${target}.new`, target);
    await expect(applyDelete(c, 'Readme.md', recorded)).rejects.toBeInstanceOf(ChangedMeanwhile);
    expect(fs.readFileSync(target, 'utf8')).toBe('the renamed file');
    await applyDelete(c, 'Readme.md', stampOf(target));
    expect(fs.existsSync(target)).toBe(false);
    // Already gone is what a deletion wants.
    await applyDelete(c, 'Readme.md', recorded);
  });

  it('moves a losing version aside only while it is what was decided on', async () => {
    const c = ctx();
    fs.writeFileSync(path.join(c.root, 'a.md'), 'hub version');
    const recorded = stampOf(path.join(c.root, 'a.md'));
    const from = { ...entryFor('a.md', Buffer.from('hub version')), ...recorded, mode: 0o644 };
    const moved = await applyMove(c, from, 'sub/a.sync-conflict-20260101-000000-hub.md', recorded);
    expect(moved.path).toBe('sub/a.sync-conflict-20260101-000000-hub.md');
    expect(fs.readFileSync(path.join(c.root, moved.path), 'utf8')).toBe('hub version');
    expect(fs.existsSync(path.join(c.root, 'a.md'))).toBe(false);
    // Never over an existing file.
    fs.writeFileSync(path.join(c.root, 'b.md'), 'b');
    fs.writeFileSync(path.join(c.root, 'taken'), 'taken');
    await expect(applyMove(c, { ...from, path: 'b.md' }, 'taken')).rejects.toBeInstanceOf(ChangedMeanwhile);
    expect(fs.readFileSync(path.join(c.root, 'taken'), 'utf8')).toBe('taken');
  });
});
