/** Offsets beyond 4 GiB: hashing in the worker pool and a verified commit of a > 4 GiB file. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pullFile } from '../../main/sync/apply';
import { BLOCK_SIZE, blockHash } from '../../main/sync/blocks';
import { FsPool } from '../../main/sync/fs-pool';
import type { Entry } from '../../main/sync/types';

const SIZE = 4 * 1024 ** 3 + 3 * BLOCK_SIZE + 123;
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-large-'));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

describe('files larger than 4 GiB', () => {
  it('hash and commit with exact offsets past 2^32', async () => {
    const src = path.join(base, 'src.bin');
    const fd = fs.openSync(src, 'w');
    const tail = Buffer.from('the bytes that live beyond the 4 GiB mark '.repeat(5000)).subarray(0, 2 * BLOCK_SIZE + 123);
    fs.writeSync(fd, tail, 0, tail.length, SIZE - tail.length);
    fs.writeSync(fd, Buffer.from('head'), 0, 4, 0);
    fs.closeSync(fd);
    const pool = new FsPool(1);
    const h = await pool.hash(src, BLOCK_SIZE);
    await pool.close();
    if (h.changed) throw new Error('source changed while hashing');
    expect(h.size).toBe(SIZE);
    expect(h.blocks.length).toBe(Math.ceil(SIZE / BLOCK_SIZE) * 32);
    const entry: Entry = { path: 'big.bin', type: 'file', size: SIZE, mtimeMs: 1_700_000_000_000, mode: 0o644, hash: h.hash, blockSize: BLOCK_SIZE, blocks: h.blocks, target: '', deleted: false, seq: 1 };
    const root = path.join(base, 'mirror');
    fs.mkdirSync(root);
    // Every block comes from the source file at its own offset (a local copy: no network needed).
    const n = Math.ceil(SIZE / BLOCK_SIZE);
    const where = new Map<string, number>();
    for (let i = n - 1; i >= 0; i--) where.set(blockHash(h.blocks, i).toString('hex'), i);
    let fetched = 0;
    await pullFile({ root, stagingDir: path.join(base, 'staging') }, entry, {
      findLocal: (hash) => [{ file: src, offset: where.get(hash.toString('hex'))! * BLOCK_SIZE }],
      fetch: async () => { fetched++; throw new Error('no block should need fetching'); },
    });
    expect(fetched).toBe(0);
    const out = path.join(root, 'big.bin');
    expect(fs.statSync(out).size).toBe(SIZE);
    const check = Buffer.alloc(tail.length);
    const ofd = fs.openSync(out, 'r');
    fs.readSync(ofd, check, 0, tail.length, SIZE - tail.length);
    fs.closeSync(ofd);
    expect(check.equals(tail)).toBe(true);
  }, 300_000);
});
