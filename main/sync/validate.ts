/** Validation of entries received from a peer. Pure: no disk, no network. */
import { BLOCK_SIZE, HASH_LEN, blockCount, fileHashFromBlocks, symlinkHash } from './blocks';
import { symlinkTargetProblem, wirePathProblem } from './paths';
import type { Entry } from './types';

/** Largest file a peer may announce (16 TiB): beyond that the offsets stop being exact doubles anyway. */
export const MAX_FILE_SIZE = 16 * 1024 ** 4;

/** Returns why a peer's entry must be refused, or null when it is acceptable. */
export function entryProblem(e: Entry): string | null {
  const pathProblem = wirePathProblem(e.path);
  if (pathProblem) return `unsafe path: ${pathProblem}`;
  if (!Number.isSafeInteger(e.seq) || e.seq < 0) return 'invalid sequence number';
  if (e.deleted) return null;
  if (!Number.isFinite(e.mtimeMs)) return 'invalid mtime';
  if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777) return 'invalid mode';
  switch (e.type) {
    case 'dir':
      return null;
    case 'symlink': {
      const p = symlinkTargetProblem(e.path, e.target);
      if (p) return p;
      if (!e.hash.equals(symlinkHash(e.target))) return 'symlink hash does not match its target';
      return null;
    }
    case 'file': {
      if (!Number.isSafeInteger(e.size) || e.size < 0 || e.size > MAX_FILE_SIZE) return 'invalid size';
      if (e.blockSize !== BLOCK_SIZE) return `unsupported block size ${e.blockSize}`;
      if (e.blocks.length !== blockCount(e.size, e.blockSize) * HASH_LEN) return 'block list does not match the file size';
      if (e.hash.length !== HASH_LEN || !e.hash.equals(fileHashFromBlocks(e.blocks))) return 'file hash does not match its block list';
      return null;
    }
    default:
      return `unknown entry type ${String((e as Entry).type)}`;
  }
}
