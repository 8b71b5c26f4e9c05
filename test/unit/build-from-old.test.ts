/**
 * A large file's new version built from the old one: the blocks at the same offsets are copied
 * in the kernel (no read-back) only while the old file shows the stamp its block hashes were
 * recorded with, checked before and after the copy; otherwise the verified path. Byte-identical
 * results in every case.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pullFile, type PullSource, type PullStats } from '../../main/sync/apply';
import { BLOCK_SIZE, blockCount, blockLength, fileHashFromBlocks, sha256 } from '../../main/sync/blocks';
import type { Entry } from '../../main/sync/types';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-build-old-'));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

function blocksOf(data: Buffer): Buffer {
  const n = blockCount(data.length, BLOCK_SIZE);
  return Buffer.concat(Array.from({ length: n }, (_, i) => sha256(data.subarray(i * BLOCK_SIZE, i * BLOCK_SIZE + blockLength(data.length, BLOCK_SIZE, i)))));
}

function entryOf(data: Buffer): Entry {
  const blocks = blocksOf(data);
  return { path: 'big.bin', type: 'file', size: data.length, mtimeMs: 1_700_000_000_000, mode: 0o644, hash: fileHashFromBlocks(blocks), blockSize: BLOCK_SIZE, blocks, target: '', deleted: false, seq: 1 };
}

let caseNo = 0;

/** An old version on disk in a fresh root, recorded (blocks + stamp) as the index would. */
function setup(old: Buffer) {
  const dir = path.join(base, `c${caseNo++}`);
  const root = path.join(dir, 'root');
  fs.mkdirSync(root, { recursive: true });
  const file = path.join(root, 'big.bin');
  fs.writeFileSync(file, old);
  const st = fs.statSync(file);
  return { root, file, staging: path.join(dir, 'staging'), record: { file, blocks: blocksOf(old), stamp: { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino } } };
}

/** The peer serves the new version; `onFetch` runs before each fetch is answered. */
function sourceOf(next: Buffer, old: PullSource['old'], onFetch?: () => void): PullSource & { fetched: number } {
  const s = {
    fetched: 0,
    findLocal: () => [],
    fetch: async (offset: number, size: number) => {
      onFetch?.();
      s.fetched += size;
      return next.subarray(offset, offset + size);
    },
    old,
  };
  return s;
}

const OLD = crypto.randomBytes(40 * BLOCK_SIZE + 1000);

/** The old version with blocks 3 and 20 rewritten (same size). */
function edited(): Buffer {
  const next = Buffer.from(OLD);
  crypto.randomBytes(BLOCK_SIZE).copy(next, 3 * BLOCK_SIZE);
  crypto.randomBytes(100).copy(next, 20 * BLOCK_SIZE + 7);
  return next;
}

describe('building a large file from its old version', () => {
  it('copies the unchanged blocks when the old file shows its recorded stamp, fetching only the changed ones', async () => {
    const { root, staging, record } = setup(OLD);
    const next = edited();
    const src = sourceOf(next, () => record);
    const stats: PullStats = { fetchedBytes: 0, reusedBytes: 0 };
    await pullFile({ root, stagingDir: staging }, entryOf(next), src, undefined, stats);
    expect(fs.readFileSync(path.join(root, 'big.bin')).equals(next)).toBe(true);
    expect(stats.fetchedBytes).toBe(2 * BLOCK_SIZE);
    expect(stats.copiedBytes).toBe(next.length - 2 * BLOCK_SIZE);
    expect(stats.reusedBytes).toBe(next.length - 2 * BLOCK_SIZE);
  });

  it('cuts a shorter new version to its size and writes a longer one\'s new tail', async () => {
    for (const next of [Buffer.concat([OLD.subarray(0, 30 * BLOCK_SIZE), Buffer.from('end')]), Buffer.concat([OLD, crypto.randomBytes(3 * BLOCK_SIZE)])]) {
      const { root, staging, record } = setup(OLD);
      const stats: PullStats = { fetchedBytes: 0, reusedBytes: 0 };
      await pullFile({ root, stagingDir: staging }, entryOf(next), sourceOf(next, () => record), undefined, stats);
      expect(fs.readFileSync(path.join(root, 'big.bin')).equals(next)).toBe(true);
      expect(stats.copiedBytes).toBeGreaterThan(0);
    }
  });

  it('takes the verified path when the old file changed since it was recorded (same size, new mtime)', async () => {
    const { root, staging, record, file } = setup(OLD);
    // Block 0 (the same in the new version) changes on disk after the record: copying it would be wrong.
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from('changed behind the record'), 0, 25, 10);
    fs.closeSync(fd);
    fs.utimesSync(file, new Date(), new Date(record.stamp.mtimeMs + 2000));
    const next = edited();
    const stats: PullStats = { fetchedBytes: 0, reusedBytes: 0 };
    await pullFile({ root, stagingDir: staging }, entryOf(next), sourceOf(next, () => record), undefined, stats);
    expect(fs.readFileSync(path.join(root, 'big.bin')).equals(next)).toBe(true);
    expect(stats.copiedBytes ?? 0).toBe(0);
    // Seen before any copy or fetch: each block fetched once (findLocal offers none here).
    expect(stats.fetchedBytes).toBe(next.length);
  });

  it('takes the verified path when the old file changes while the new version is built', async () => {
    const { root, staging, record, file } = setup(OLD);
    const next = edited();
    let touched = false;
    const src = sourceOf(next, () => record, () => {
      if (touched) return;
      touched = true;
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Buffer.from('changed during the copy'), 0, 23, 10);
      fs.closeSync(fd);
      fs.utimesSync(file, new Date(), new Date(record.stamp.mtimeMs + 2000));
    });
    const stats: PullStats = { fetchedBytes: 0, reusedBytes: 0 };
    await pullFile({ root, stagingDir: staging }, entryOf(next), src, undefined, stats);
    expect(touched).toBe(true);
    expect(fs.readFileSync(path.join(root, 'big.bin')).equals(next)).toBe(true);
    expect(stats.copiedBytes ?? 0).toBe(0);
  });

  it('takes the verified path when the old version has no recorded stamp', async () => {
    const { root, staging, record } = setup(OLD);
    const next = edited();
    const stats: PullStats = { fetchedBytes: 0, reusedBytes: 0 };
    await pullFile({ root, stagingDir: staging }, entryOf(next), sourceOf(next, () => ({ file: record.file, blocks: record.blocks })), undefined, stats);
    expect(fs.readFileSync(path.join(root, 'big.bin')).equals(next)).toBe(true);
    expect(stats.copiedBytes ?? 0).toBe(0);
  });
});
