/**
 * Decisions about what to do with a peer's entry, as pure functions over data.
 * The applier (puller.ts, hub sessions) carries them out; tests drive them without a disk.
 */
import { blockCount, blockHash, blockLength } from './blocks';
import { ancestorsOf } from './paths';
import type { CachedEntry, Entry } from './types';

export type Action =
  | { kind: 'none' }
  | { kind: 'pull' }
  | { kind: 'mkdir' }
  | { kind: 'symlink' }
  | { kind: 'delete' }
  /** Same bytes, different mode and/or mtime: applied through an open fd, no transfer. */
  | { kind: 'meta'; mode: boolean; mtime: boolean };

/** What the receiver must do so that its copy of `remote.path` matches `remote`. */
export function planEntry(remote: Entry, local: CachedEntry | undefined): Action {
  if (remote.deleted) return local ? { kind: 'delete' } : { kind: 'none' };
  switch (remote.type) {
    case 'dir':
      if (local?.type === 'dir') return local.mode === remote.mode ? { kind: 'none' } : { kind: 'meta', mode: true, mtime: false };
      return { kind: 'mkdir' };
    case 'symlink':
      return local?.type === 'symlink' && local.target === remote.target ? { kind: 'none' } : { kind: 'symlink' };
    case 'file': {
      if (!local || local.type !== 'file' || local.size !== remote.size || !local.hash.equals(remote.hash)) return { kind: 'pull' };
      const mode = local.mode !== remote.mode;
      const mtime = local.mtimeMs !== remote.mtimeMs;
      return mode || mtime ? { kind: 'meta', mode, mtime } : { kind: 'none' };
    }
  }
}

/**
 * Whether applying `remote` must wait for everything before it and hold back everything after
 * it (hub and node use this one rule): a deletion, and anything that changes what a path is
 * (a file or symlink replaced by a directory, a directory by a file...). What goes inside a
 * path then never lands before the path has become a directory, and a rename's new path may
 * reuse the old path's blocks before they are deleted. Also a conflict (it moves things around
 * the path: later changes under it wait for it), and, where case is ignored, a path naming the
 * same file as another with work queued before it (the two never run side by side).
 */
export function isBarrier(
  remote: Pick<Entry, 'deleted' | 'type'>,
  local: { type: Entry['type']; deleted?: boolean } | null | undefined,
  also: { conflict?: boolean; sameFileQueued?: boolean } = {},
): boolean {
  if (remote.deleted || also.conflict || also.sameFileQueued) return true;
  return !!local && !local.deleted && local.type !== remote.type;
}

export interface BlockPlan {
  /** Block indices whose bytes the receiver already has somewhere. */
  reuse: number[];
  /** Block indices that must cross the wire. */
  fetch: number[];
  fetchBytes: number;
  reuseBytes: number;
}

/** Splits a file's blocks into those available locally (by hash) and those to fetch. */
export function planBlocks(remote: Pick<Entry, 'size' | 'blockSize' | 'blocks'>, haveBlock: (hash: Buffer) => boolean): BlockPlan {
  const plan: BlockPlan = { reuse: [], fetch: [], fetchBytes: 0, reuseBytes: 0 };
  const n = blockCount(remote.size, remote.blockSize);
  const seen = new Map<string, boolean>();
  for (let i = 0; i < n; i++) {
    const h = blockHash(remote.blocks, i);
    const key = h.toString('hex');
    let have = seen.get(key);
    if (have === undefined) {
      have = haveBlock(h);
      seen.set(key, have);
    }
    const len = blockLength(remote.size, remote.blockSize, i);
    if (have) {
      plan.reuse.push(i);
      plan.reuseBytes += len;
    } else {
      plan.fetch.push(i);
      plan.fetchBytes += len;
    }
  }
  return plan;
}


/**
 * Orders a batch of changes so that the receiver can apply it safely and cheaply:
 * creations and updates first, parents before children; deletions last, children before
 * parents (so a rename's new path can reuse the old path's blocks before they go).
 */
export function orderBatch<T extends Pick<Entry, 'path' | 'deleted'> & { type?: Entry['type'] }>(entries: T[]): T[] {
  const depth = (p: string) => p.split('/').length;
  const live = entries.filter((e) => !e.deleted).sort((a, b) => depth(a.path) - depth(b.path));
  const dead = entries.filter((e) => e.deleted).sort((a, b) => depth(b.path) - depth(a.path));
  // A directory replaced by a file or symlink: what was under it goes first (directories are
  // only removed once empty, see apply.ts).
  if (dead.length === 0) return live;
  const replaced = new Set(live.filter((e) => e.type !== undefined && e.type !== 'dir').map((e) => e.path));
  const under = (e: T) => ancestorsOf(e.path).some((dir) => replaced.has(dir));
  if (replaced.size === 0) return [...live, ...dead];
  return [...dead.filter(under), ...live, ...dead.filter((e) => !under(e))];
}
