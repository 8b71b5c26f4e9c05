/** The index entry: what one side says a path is. Same shape on hub, node and wire. */
export type EntryType = 'file' | 'dir' | 'symlink';

export interface Entry {
  /** Relative wire path, `/`-separated (see paths.ts). */
  path: string;
  type: EntryType;
  size: number;
  mtimeMs: number;
  /** Permission bits (0o777). */
  mode: number;
  /** Files: SHA-256 over the concatenated block hashes. Symlinks: SHA-256 of the target. Dirs: empty. */
  hash: Buffer;
  blockSize: number;
  /** Concatenated 32-byte SHA-256 block hashes. */
  blocks: Buffer;
  /**
   * Files larger than WEAK_MIN_SIZE: the 4-byte weak hash of each block (blocks.ts), so a
   * receiver can find the blocks at other offsets of its old version. Empty or absent: unknown
   * (hashed before weak hashes existed): no search, never a wrong block.
   */
  weak?: Buffer;
  /** Symlink target (relative, inside the root). */
  target: string;
  deleted: boolean;
  /** Sender's sequence number for this version; 0 when unknown. */
  seq: number;
  /** Node → hub: this version was applied from the hub's change with this sequence number (0: a node change). */
  fromHubSeq?: number;
  /** Hub → node: every node change up to this sequence number was settled when this was sent. */
  seenSeq?: number;
}

/** What the local disk looked like when an entry was last hashed: the persistent hash cache key. */
export interface DiskStamp {
  size: number;
  mtimeMs: number;
  mode: number;
  ino: number;
}

export type CachedEntry = Entry & DiskStamp;

/**
 * What a scan compares a walked entry with (scanner.ts stampChanged): a recorded entry without
 * its hashes and block list. Whole-tree scans hold one per path, so it stays this small.
 */
export type Stamp = Pick<CachedEntry, 'type' | 'size' | 'mtimeMs' | 'mode' | 'ino' | 'target' | 'deleted'>;

/** An entry saying `path` is gone (a deletion), with this sequence number. */
export function tombstone(path: string, seq: number): Entry {
  return { path, type: 'file', size: 0, mtimeMs: 0, mode: 0, hash: Buffer.alloc(0), blockSize: 0, blocks: Buffer.alloc(0), target: '', deleted: true, seq };
}
