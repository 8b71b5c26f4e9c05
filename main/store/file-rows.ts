/** Row ↔ entry mapping for the `files` tables of both databases. */
import type { CachedEntry, EntryType, Stamp } from '../sync/types';

/** Entry types as stored: the index is the `type` column's value (every table that keeps one). */
const TYPES: readonly EntryType[] = ['file', 'dir', 'symlink'];

export function typeOfCode(code: number): EntryType {
  return TYPES[code] ?? 'file';
}

export function codeOfType(type: EntryType): number {
  return TYPES.indexOf(type);
}

export interface FileRow {
  path: string;
  type: number;
  size: number;
  mtime_ms: number;
  mode: number;
  ino: number;
  hash: Buffer;
  block_size: number;
  blocks: Buffer;
  /** Weak hash per block (blocks.ts); empty when unknown. Absent in stamp-only rows. */
  weak?: Buffer;
  target: string;
  seq: number;
  deleted: number;
}

export function rowToEntry(r: FileRow): CachedEntry {
  return {
    path: r.path, type: typeOfCode(r.type), size: r.size, mtimeMs: r.mtime_ms, mode: r.mode, ino: r.ino,
    hash: r.hash, blockSize: r.block_size, blocks: r.blocks, ...(r.weak?.length ? { weak: r.weak } : {}), target: r.target, seq: r.seq, deleted: r.deleted !== 0,
  };
}

export function entryToRow(e: CachedEntry): FileRow {
  return {
    path: e.path, type: codeOfType(e.type), size: e.size, mtime_ms: e.mtimeMs, mode: e.mode, ino: e.ino,
    hash: e.hash, block_size: e.blockSize, blocks: e.blocks, weak: e.weak ?? NO_WEAK, target: e.target, seq: e.seq, deleted: e.deleted ? 1 : 0,
  };
}

/** The columns of a stamp (types.ts Stamp), for raw rows read with stampOfRaw. */
export const STAMP_COLUMNS = 'path, type, size, mtime_ms, mode, ino, target, deleted';
export type StampRaw = [path: string, type: number, size: number, mtimeMs: number, mode: number, ino: number, target: string, deleted: number];

/** A stamp from a raw row of STAMP_COLUMNS: one small object, no row object and no hash buffers. */
export function stampOfRaw(r: StampRaw): Stamp {
  return { type: typeOfCode(r[1]), size: r[2], mtimeMs: r[3], mode: r[4], ino: r[5], target: r[6], deleted: r[7] !== 0 };
}


export const NO_WEAK = Buffer.alloc(0);

/** The columns of FileRow (`weak` was added by a later migration of each database: WEAK_COLUMN). */
export const FILE_COLUMNS = 'path, type, size, mtime_ms, mode, ino, hash, block_size, blocks, target, seq, deleted, weak';
/**
 * The migration that adds the weak hashes (protocol 3) to a `files` table. Versions recorded
 * before it have none (empty): they are sent and kept without, and their receivers do not
 * search for shifted blocks until the file is hashed again; never a wrong block.
 */
export const WEAK_COLUMN = "ALTER TABLE files ADD COLUMN weak BLOB NOT NULL DEFAULT x''";
export const FILE_COLUMN_DEFS = `
  path TEXT NOT NULL,
  type INTEGER NOT NULL,
  size INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  mode INTEGER NOT NULL,
  ino INTEGER NOT NULL,
  hash BLOB NOT NULL,
  block_size INTEGER NOT NULL,
  blocks BLOB NOT NULL,
  target TEXT NOT NULL,
  seq INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0`;
