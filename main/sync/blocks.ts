/**
 * Block hashing arithmetic shared by the hasher, the puller and validation.
 *
 * A file is cut into fixed blocks of BLOCK_SIZE bytes (the last one shorter). Each block has a
 * SHA-256; the file hash is the SHA-256 of the concatenated block hashes. So bytes are hashed
 * exactly once: a receiver verifies each block as it arrives, and the file as a whole by
 * hashing the (small) block list at commit.
 */
import crypto from 'node:crypto';

export const BLOCK_SIZE = 128 * 1024;
export const HASH_LEN = 32;

export function sha256(data: Uint8Array): Buffer {
  return crypto.createHash('sha256').update(data).digest();
}

export function blockCount(size: number, blockSize: number): number {
  return size === 0 ? 0 : Math.ceil(size / blockSize);
}

export function blockHash(blocks: Buffer, i: number): Buffer {
  return blocks.subarray(i * HASH_LEN, (i + 1) * HASH_LEN);
}

/** Where each block hash occurs in a block list: hex hash → block indices, in order. */
export function blockIndex(blocks: Buffer): Map<string, number[]> {
  const at = new Map<string, number[]>();
  for (let i = 0; i * HASH_LEN < blocks.length; i++) {
    const key = blockHash(blocks, i).toString('hex');
    const list = at.get(key);
    if (list) list.push(i);
    else at.set(key, [i]);
  }
  return at;
}

export function blockLength(size: number, blockSize: number, i: number): number {
  return Math.min(blockSize, size - i * blockSize);
}

export function fileHashFromBlocks(blocks: Buffer): Buffer {
  return sha256(blocks);
}

export function symlinkHash(target: string): Buffer {
  return sha256(Buffer.from(target, 'utf8'));
}
