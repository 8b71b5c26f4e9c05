/**
 * Entries for unit tests: file, directory and symlink entries (with placeholder hashes, or
 * describing given bytes exactly), their cached form (with an inode), and temp dirs that are
 * removed after each test. A test overrides only the fields it is about.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { BLOCK_SIZE, fileHashFromBlocks, sha256, symlinkHash } from '../../main/sync/blocks';
import type { CachedEntry, Entry } from '../../main/sync/types';

/** A 3-byte file entry with placeholder hashes (they do not describe any bytes). */
export function fileEntry(p: string, over: Partial<Entry> = {}): Entry {
  return { path: p, type: 'file', size: 3, mtimeMs: 1.5, mode: 0o644, hash: Buffer.alloc(32, 1), blockSize: BLOCK_SIZE, blocks: Buffer.alloc(32, 2), target: '', deleted: false, seq: 1, ...over };
}

/** An entry as an index holds it: with an inode (a file entry unless `over` says otherwise). */
export function cachedEntry(p: string, over: Partial<CachedEntry> = {}): CachedEntry {
  return { ...fileEntry(p), ino: 9, ...over };
}

/** The hashes of `data`'s blocks, BLOCK_SIZE bytes each (the last one shorter). */
export function blockHashes(data: Buffer): Buffer {
  const blocks: Buffer[] = [];
  for (let off = 0; off < data.length; off += BLOCK_SIZE) blocks.push(sha256(data.subarray(off, off + BLOCK_SIZE)));
  return Buffer.concat(blocks);
}

/** A file entry that describes `data` exactly: its size, block hashes and file hash. */
export function entryOf(p: string, data: Buffer, over: Partial<Entry> = {}): Entry {
  const blocks = blockHashes(data);
  return fileEntry(p, { size: data.length, mtimeMs: 1_600_000_000_000, hash: fileHashFromBlocks(blocks), blocks, ...over });
}

export function dirEntry(p: string, mode = 0o755, over: Partial<Entry> = {}): Entry {
  return { path: p, type: 'dir', size: 0, mtimeMs: 1, mode, hash: Buffer.alloc(0), blockSize: 0, blocks: Buffer.alloc(0), target: '', deleted: false, seq: 1, ...over };
}

export function linkEntry(p: string, target: string, over: Partial<Entry> = {}): Entry {
  return dirEntry(p, 0o777, { type: 'symlink', target, hash: symlinkHash(target), ...over });
}

/** A maker of fresh temp dirs (`cortex-PREFIX-…`); every one is removed after each test. */
export function tempDirs(prefix: string): () => string {
  const made: string[] = [];
  afterEach(() => {
    for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), `cortex-${prefix}-`));
    made.push(d);
    return d;
  };
}
