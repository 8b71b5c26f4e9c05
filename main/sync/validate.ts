/** Validation of entries received from a peer. Pure: no disk, no network. */
import { BLOCK_SIZE, HASH_LEN, WEAK_LEN, blockCount, fileHashFromBlocks, symlinkHash } from './blocks';
import { hostNameProblem, safePathProblem, symlinkTargetProblem } from './paths';
import type { Entry } from './types';

/** Largest file a peer may announce (16 TiB): beyond that the offsets stop being exact doubles anyway. */
export const MAX_FILE_SIZE = 16 * 1024 ** 4;

const NAME_NOT_SUPPORTED_PREFIX = 'name not supported';

/**
 * The refusal code for an entryProblem (or a sequence problem): UNSAFE_PATH for a path that
 * could leave the root, NAME_NOT_SUPPORTED for a name this side's file system cannot hold
 * (a problem of this side, not an attack), PROTOCOL, else BAD_ENTRY.
 */
export function refusalCode(problem: string): string {
  if (problem.startsWith('unsafe path')) return 'UNSAFE_PATH';
  if (problem.startsWith(NAME_NOT_SUPPORTED_PREFIX)) return 'NAME_NOT_SUPPORTED';
  if (problem.startsWith('sequence')) return 'PROTOCOL';
  return 'BAD_ENTRY';
}

/** Returns why a peer's entry must be refused, or null when it is acceptable (refusalCode names it). */
export function entryProblem(e: Entry, platform: NodeJS.Platform = process.platform): string | null {
  const pathProblem = safePathProblem(e.path);
  if (pathProblem) return `unsafe path: ${pathProblem}`;
  // Legal and safe on the sender's side, but this side's file system cannot hold the name.
  const nameProblem = hostNameProblem(e.path, platform);
  if (nameProblem) return `${NAME_NOT_SUPPORTED_PREFIX} on ${platform === 'win32' ? 'Windows' : platform}: the name ${nameProblem}`;
  if (!Number.isSafeInteger(e.seq) || e.seq < 0) return 'invalid sequence number';
  if (e.deleted) return null;
  if (!Number.isFinite(e.mtimeMs)) return 'invalid mtime';
  if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777) return 'invalid mode';
  switch (e.type) {
    case 'dir':
      return null;
    case 'symlink': {
      const p = symlinkTargetProblem(e.path, e.target, platform);
      if (p) return p;
      if (!e.hash.equals(symlinkHash(e.target))) return 'symlink hash does not match its target';
      return null;
    }
    case 'file': {
      if (!Number.isSafeInteger(e.size) || e.size < 0 || e.size > MAX_FILE_SIZE) return 'invalid size';
      if (e.blockSize !== BLOCK_SIZE) return `unsupported block size ${e.blockSize}`;
      if (e.blocks.length !== blockCount(e.size, e.blockSize) * HASH_LEN) return 'block list does not match the file size';
      if (e.hash.length !== HASH_LEN || !e.hash.equals(fileHashFromBlocks(e.blocks))) return 'file hash does not match its block list';
      if (e.weak?.length && e.weak.length !== blockCount(e.size, e.blockSize) * WEAK_LEN) return 'weak hash list does not match the file size';
      return null;
    }
    default:
      return `unknown entry type ${String((e as Entry).type)}`;
  }
}
