/**
 * Shifted content (blocks.ts): the rolling weak hash rolls to what direct computation gives, and
 * the receiver finds the sender's blocks at any offset of its old version, each confirmed by
 * SHA-256, so an insertion or deletion costs only the blocks it touches.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pullFile, type BlockLocation } from '../../main/sync/apply';
import {
  BLOCK_SIZE, HASH_LEN, WEAK_LEN, WEAK_WINDOW, blockCount, blockHash, blockLength, blockWeak, fileHashFromBlocks,
  SEARCH_UNMATCHED_MAX, findShifted, rollWeak, searchRanges, sha256, weakHash, type WantedFile,
} from '../../main/sync/blocks';
import { FsPool } from '../../main/sync/fs-pool';
import type { Entry } from '../../main/sync/types';

/** Seeded bytes (xorshift32), so a failure can be replayed. */
function seeded(seed: number, n: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** The sender's view of `data`: SHA-256 and weak hash per block. */
function wanted(data: Buffer, blockSize = BLOCK_SIZE): WantedFile {
  const n = blockCount(data.length, blockSize);
  const blocks = Buffer.alloc(n * HASH_LEN);
  const weak = Buffer.alloc(n * WEAK_LEN);
  for (let i = 0; i < n; i++) {
    const len = blockLength(data.length, blockSize, i);
    sha256(data.subarray(i * blockSize, i * blockSize + len)).copy(blocks, i * HASH_LEN);
    weak.writeUInt32BE(blockWeak(data, i * blockSize, len), i * WEAK_LEN);
  }
  return { size: data.length, blockSize, blocks, weak };
}

function oldOf(data: Buffer) {
  return { size: data.length, read: (pos: number, len: number) => data.subarray(pos, Math.min(data.length, pos + len)) };
}

/** Searches the whole old version for every block; checks each found offset really holds the block. */
function search(oldData: Buffer, newData: Buffer, w = wanted(newData)): Map<number, number> {
  const found = findShifted(oldOf(oldData), w, () => true, [[0, oldData.length]]);
  for (const [i, at] of found) {
    const len = blockLength(w.size, w.blockSize, i);
    expect(oldData.subarray(at, at + len).equals(newData.subarray(i * w.blockSize, i * w.blockSize + len)), `block ${i} at ${at}`).toBe(true);
  }
  return found;
}

describe('the rolling weak hash', () => {
  it('rolled over seeded random data equals direct computation at every offset', () => {
    for (const [seed, win] of [[1, 16], [7, 257], [42, WEAK_WINDOW]] as const) {
      const d = seeded(seed, 3 * win + 4099);
      let w = weakHash(d, 0, win);
      for (let p = 0; p + win < d.length; p++) {
        w = rollWeak(w, d[p]!, d[p + win]!, win);
        if (w !== weakHash(d, p + 1, win)) expect.fail(`window ${win}, seed ${seed}: offset ${p + 1} rolled to ${w}, direct ${weakHash(d, p + 1, win)}`);
      }
    }
  });

  it('covers every byte of the window and tells order apart', () => {
    const d = seeded(3, WEAK_WINDOW);
    const other = Buffer.from(d);
    other[WEAK_WINDOW - 1] = other[WEAK_WINDOW - 1]! ^ 1;
    expect(weakHash(other, 0, WEAK_WINDOW)).not.toBe(weakHash(d, 0, WEAK_WINDOW));
    const swapped = Buffer.from(d);
    [swapped[0], swapped[1]] = [d[1]!, d[0]!];
    if (d[0] !== d[1]) expect(weakHash(swapped, 0, WEAK_WINDOW)).not.toBe(weakHash(d, 0, WEAK_WINDOW));
  });
});

describe('finding the sender\'s blocks in an old version', () => {
  const old = seeded(11, 20 * BLOCK_SIZE + 777);

  it('one byte inserted at the start: every block but the first is found, shifted by one', () => {
    const now = Buffer.concat([Buffer.from([0x5a]), old]);
    const found = search(old, now);
    const n = blockCount(now.length, BLOCK_SIZE);
    expect(found.has(0)).toBe(false);
    for (let i = 1; i < n; i++) expect(found.get(i), `block ${i}`).toBe(i * BLOCK_SIZE - 1);
  });

  it('bytes deleted at the start: every block is found (the last one at the old end)', () => {
    const now = old.subarray(1000);
    const found = search(old, now);
    const n = blockCount(now.length, BLOCK_SIZE);
    for (let i = 0; i < n; i++) expect(found.get(i), `block ${i}`).toBe(i * BLOCK_SIZE + 1000);
  });

  it('a shifted middle: blocks before the insertion in place, after it shifted, only the touched one missing', () => {
    const at = 7 * BLOCK_SIZE + 5000;
    const now = Buffer.concat([old.subarray(0, at), seeded(99, 3333), old.subarray(at)]);
    const found = search(old, now);
    const n = blockCount(now.length, BLOCK_SIZE);
    for (let i = 0; i < 7; i++) expect(found.get(i)).toBe(i * BLOCK_SIZE);
    expect(found.has(7)).toBe(false);
    // Block 8 starts 3333 bytes of new content later: at old offset 8 * B - 3333.
    for (let i = 8; i < n; i++) expect(found.get(i), `block ${i}`).toBe(i * BLOCK_SIZE - 3333);
  });

  it('repeated blocks: every copy is found, each at an offset that holds it', () => {
    const a = seeded(5, BLOCK_SIZE);
    const b = seeded(6, BLOCK_SIZE);
    const oldData = Buffer.concat([Buffer.from('q'), b, a, b]);
    const now = Buffer.concat([a, a, b, a]);
    const found = search(oldData, now);
    expect(found.get(0)).toBe(BLOCK_SIZE + 1);
    expect(found.get(1)).toBe(BLOCK_SIZE + 1);
    expect(found.get(3)).toBe(BLOCK_SIZE + 1);
    expect(found.has(2)).toBe(true);
  });

  it('a weak-hash collision is settled by SHA-256: same weak hash, other bytes, not taken', () => {
    const block = seeded(21, BLOCK_SIZE);
    const now = Buffer.concat([block, Buffer.from('y')]);
    const w = wanted(now);
    // Old: the block's first WEAK_WINDOW bytes (the same weak hash) followed by other bytes.
    const decoy = Buffer.concat([block.subarray(0, WEAK_WINDOW), seeded(22, BLOCK_SIZE - WEAK_WINDOW)]);
    const oldData = Buffer.concat([decoy, seeded(23, 100), block]);
    expect(weakHash(oldData, 0, WEAK_WINDOW)).toBe(w.weak.readUInt32BE(0));
    const found = search(oldData, now, w);
    expect(found.get(0)).toBe(BLOCK_SIZE + 100);
  });

  it('a forged weak hash finds nothing wrong: a block is only taken when its SHA-256 matches', () => {
    const now = Buffer.concat([Buffer.from('z'), old]);
    const w = wanted(now);
    // Every weak hash replaced by the weak hash at old offset 0: every window there "matches".
    const forged = Buffer.alloc(w.weak.length);
    for (let i = 0; i < forged.length; i += WEAK_LEN) forged.writeUInt32BE(weakHash(old, 0, WEAK_WINDOW), i);
    const found = search(old, now, { ...w, weak: forged });
    // Only the short last block, which is checked at the old end by its SHA-256 alone.
    expect([...found.keys()]).toEqual([blockCount(now.length, BLOCK_SIZE) - 1]);
  });

  it('gives up after SEARCH_UNMATCHED_MAX bytes without a match (a file rewritten whole costs no more)', () => {
    const block = seeded(61, BLOCK_SIZE);
    const now = Buffer.concat([block, Buffer.from('tail')]);
    const near = Buffer.concat([seeded(62, 1000), block]);
    expect(search(near, now).get(0)).toBe(1000);
    const far = Buffer.concat([seeded(62, SEARCH_UNMATCHED_MAX + 1000), block]);
    expect(search(far, now).has(0)).toBe(false);
  });

  it('looks only where the old version\'s own blocks do not already supply the new ones', () => {
    // 1 block changed in place in a 20-block file: only around block 9 is worth rolling over.
    const now = Buffer.from(old);
    seeded(77, BLOCK_SIZE).copy(now, 9 * BLOCK_SIZE);
    const ranges = searchRanges(old.length, BLOCK_SIZE, wanted(old).blocks, wanted(now).blocks);
    expect(ranges).toEqual([[8 * BLOCK_SIZE + 1, 10 * BLOCK_SIZE]]);
    // Without the old version's block list: everything.
    expect(searchRanges(old.length, BLOCK_SIZE, Buffer.alloc(0), wanted(now).blocks)).toEqual([[0, old.length]]);
  });
});

describe('pullFile with an old version', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-shifted-'));
  afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

  it('fetches only the blocks the insertion touched and builds the exact new version', async () => {
    const root = path.join(base, 'root');
    fs.mkdirSync(root);
    const oldData = seeded(31, 24 * BLOCK_SIZE + 99);
    fs.writeFileSync(path.join(root, 'f.bin'), oldData);
    const now = Buffer.concat([Buffer.from('inserted at the start'), oldData]);
    const w = wanted(now);
    const entry: Entry = { path: 'f.bin', type: 'file', size: now.length, mtimeMs: 1_700_000_000_000, mode: 0o644, hash: fileHashFromBlocks(w.blocks), blockSize: BLOCK_SIZE, blocks: w.blocks, weak: w.weak, target: '', deleted: false, seq: 1 };
    const old = wanted(oldData);
    // Aligned reuse by hash, as the stores offer it: the old version's blocks at their own offsets.
    const byHash = new Map<string, number>();
    for (let i = 0; i * HASH_LEN < old.blocks.length; i++) byHash.set(blockHash(old.blocks, i).toString('hex'), i);
    const fetched: number[] = [];
    const pool = new FsPool(1);
    try {
      const stats = { fetchedBytes: 0, reusedBytes: 0 };
      await pullFile({ root, stagingDir: path.join(base, 'staging'), pool }, entry, {
        findLocal: (h): BlockLocation[] => {
          const i = byHash.get(h.toString('hex'));
          return i === undefined ? [] : [{ file: path.join(root, 'f.bin'), offset: i * BLOCK_SIZE }];
        },
        fetch: async (offset, size) => {
          fetched.push(offset);
          return now.subarray(offset, offset + size);
        },
        old: () => ({ file: path.join(root, 'f.bin'), blocks: old.blocks }),
      }, undefined, stats);
      expect(fs.readFileSync(path.join(root, 'f.bin')).equals(now)).toBe(true);
      expect(fetched).toEqual([0]);
      expect(stats.fetchedBytes).toBe(BLOCK_SIZE);
    } finally {
      await pool.close();
    }
  });

  it('an edit in place: each block is looked up once (on the hub a lookup is a query), only the changed one fetched', async () => {
    const root = path.join(base, 'root3');
    fs.mkdirSync(root);
    const oldData = seeded(51, 16 * BLOCK_SIZE + 7);
    fs.writeFileSync(path.join(root, 'h.bin'), oldData);
    const now = Buffer.from(oldData);
    seeded(52, 1000).copy(now, 5 * BLOCK_SIZE + 17);
    const w = wanted(now);
    const old = wanted(oldData);
    const entry: Entry = { path: 'h.bin', type: 'file', size: now.length, mtimeMs: 1_700_000_000_000, mode: 0o644, hash: fileHashFromBlocks(w.blocks), blockSize: BLOCK_SIZE, blocks: w.blocks, weak: w.weak, target: '', deleted: false, seq: 1 };
    const byHash = new Map<string, number>();
    for (let i = 0; i * HASH_LEN < old.blocks.length; i++) byHash.set(blockHash(old.blocks, i).toString('hex'), i);
    let lookups = 0;
    const fetched: number[] = [];
    const pool = new FsPool(1);
    try {
      await pullFile({ root, stagingDir: path.join(base, 'staging3'), pool }, entry, {
        findLocal: (h): BlockLocation[] => {
          lookups++;
          const i = byHash.get(h.toString('hex'));
          return i === undefined ? [] : [{ file: path.join(root, 'h.bin'), offset: i * BLOCK_SIZE }];
        },
        fetch: async (offset, size) => {
          fetched.push(offset / BLOCK_SIZE);
          return now.subarray(offset, offset + size);
        },
        old: () => ({ file: path.join(root, 'h.bin'), blocks: old.blocks }),
      });
      expect(fs.readFileSync(path.join(root, 'h.bin')).equals(now)).toBe(true);
      expect(fetched).toEqual([5]);
      expect(lookups).toBe(blockCount(now.length, BLOCK_SIZE));
    } finally {
      await pool.close();
    }
  });
});
