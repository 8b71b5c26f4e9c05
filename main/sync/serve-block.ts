/**
 * Answering a peer's block request from a local root (the node's workspace, or a hub mirror
 * when the node pulls a hub-side change). Shared by both ends.
 *
 * Synchronous reads: a block from (usually) the page cache costs microseconds, far less than
 * fs.promises round trips. Only what the local index records as a file is served, only while
 * the file on disk still has the recorded size and mtime, never through a symlink; the
 * receiver verifies every byte against its hash anyway.
 */
import fs from 'node:fs';
import { BLOCK_SIZE } from './blocks';
import { checkNoSymlinkParentsSync, toNative, wirePathProblem } from './paths';
import type { CachedEntry } from './types';
import type { BlockRequest, BlockResponse } from './wire';
import { readFullySync } from './read-fully';

export interface Served {
  res: BlockResponse;
  /** The file on disk no longer matches the index: the caller should rescan it. */
  changed: boolean;
}

/**
 * `dirsChecked`: the directories (wire paths) already found to be real directories while
 * answering the same batch of requests, so that a batch of many small files in few directories
 * costs one lstat per directory level, not one per file and level. Filled here.
 */
export function serveBlock(root: string, r: BlockRequest, recorded: (wirePath: string) => CachedEntry | undefined, dirsChecked?: Set<string>): Served {
  const refuse = (error: string, changed = false): Served => ({ res: { id: r.id, data: Buffer.alloc(0), error }, changed });
  const problem = wirePathProblem(r.path);
  if (problem) return refuse(`refused: unsafe path (${problem})`);
  const size = Number(r.size);
  const offset = Number(r.offset);
  if (!(Number.isSafeInteger(size) && Number.isSafeInteger(offset) && size > 0 && size <= BLOCK_SIZE && offset >= 0)) return refuse('refused: bad block range');
  const entry = recorded(r.path);
  if (!entry || entry.deleted || entry.type !== 'file') return refuse('gone');
  let fd = -1;
  try {
    const slash = r.path.lastIndexOf('/');
    const dir = slash < 0 ? '' : r.path.slice(0, slash);
    const known = dir === '' || dirsChecked?.has(dir) === true;
    fd = fs.openSync(known ? toNative(root, r.path) : checkNoSymlinkParentsSync(root, r.path), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    // Opened through directories that were all real directories when checked.
    if (!known) dirsChecked?.add(dir);
    const st = fs.fstatSync(fd);
    if (st.size !== entry.size || st.mtimeMs !== entry.mtimeMs) return refuse('changed', true);
    const buf = Buffer.allocUnsafe(size);
    if (readFullySync(fd, buf, size, offset) < size) return refuse('changed', true);
    return { res: { id: r.id, data: buf, error: '' }, changed: false };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return refuse('gone', true);
    if (code === 'ELOOP') return refuse('refused: the path is a symlink');
    return refuse((e as Error).message);
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}
