/**
 * What hub and node share around applying a change (sync/apply-action.ts, blocks.ts): the words
 * and codes for why a change could not be applied, on each side, and the block index both use
 * to find blocks they already have. No I/O.
 */
import { describe, expect, it } from 'vitest';
import { VerifyError } from '../../main/sync/apply';
import { applyProblem } from '../../main/sync/apply-action';
import { BlockUnavailable } from '../../main/sync/block-fetcher';
import { blockIndex } from '../../main/sync/blocks';
import { CaseConflict, ChangedMeanwhile } from '../../main/sync/expect';
import { UnsafePathError } from '../../main/sync/paths';

const errno = (code: string, message = `${code}: oops`) => Object.assign(new Error(message), { code });

describe('applyProblem', () => {
  it('names each failure the same way on both sides, in each side\'s words', () => {
    const rows: [unknown, string, { code: string; reason: string; retry: boolean; refused: boolean }, { code: string; reason: string; retry: boolean; refused: boolean }][] = [
      [new UnsafePathError('a/b', 'a parent is a file'), 'a/b',
        { code: 'UNSAFE_PATH', reason: 'unsafe path "a/b": a parent is a file', retry: false, refused: true },
        { code: 'UNSAFE_PATH', reason: 'unsafe path "a/b": a parent is a file', retry: false, refused: true }],
      [errno('ELOOP'), 'l/x',
        { code: 'UNSAFE_PATH', reason: '"l/x" is a symlink in the mirror, and symlinks are never followed', retry: false, refused: true },
        { code: 'UNSAFE_PATH', reason: 'the path is a symlink in the workspace, and symlinks are never followed', retry: false, refused: true }],
      [new VerifyError('block 3 of f does not match its hash'), 'f',
        { code: 'HASH_MISMATCH', reason: 'block 3 of f does not match its hash (fetched again after a while)', retry: true, refused: true },
        { code: 'HASH_MISMATCH', reason: 'block 3 of f does not match its hash', retry: true, refused: true }],
      [new BlockUnavailable('node', 'unreadable'), 'f',
        { code: 'BLOCK_UNAVAILABLE', reason: 'node could not supply the block: unreadable', retry: true, refused: false },
        { code: 'BLOCK_UNAVAILABLE', reason: 'node could not supply the block: unreadable', retry: true, refused: false }],
      [new ChangedMeanwhile('f'), 'f',
        { code: 'CHANGED_ON_HUB', reason: 'f changed on disk since it was last scanned; not overwritten', retry: true, refused: false },
        { code: 'CHANGED_ON_HUB', reason: 'f changed on disk since it was last scanned; not overwritten', retry: true, refused: false }],
      [new CaseConflict('A', 'a'), 'A',
        { code: 'CASE_CONFLICT', reason: '"A" and "a" would be one file here: this file system ignores case', retry: true, refused: false },
        { code: 'CASE_CONFLICT', reason: '"A" and "a" would be one file here: this file system ignores case', retry: true, refused: false }],
      [errno('ENOSPC', 'ENOSPC: no space'), 'f',
        { code: 'DISK_FULL', reason: "the hub's mirror: no space left on the device (ENOSPC: no space)", retry: true, refused: false },
        { code: 'DISK_FULL', reason: 'workspace: no space left on the device (ENOSPC: no space)', retry: true, refused: false }],
      [new Error('something else'), 'f',
        { code: 'APPLY_FAILED', reason: 'something else', retry: true, refused: false },
        { code: 'APPLY_FAILED', reason: 'something else', retry: true, refused: false }],
    ];
    for (const [err, p, hub, node] of rows) {
      expect(applyProblem(err, p, 'hub'), `hub: ${(err as Error).message}`).toEqual(hub);
      expect(applyProblem(err, p, 'node'), `node: ${(err as Error).message}`).toEqual(node);
    }
  });
});

describe('blockIndex', () => {
  it('lists where each block hash occurs, in order', () => {
    const a = Buffer.alloc(32, 1);
    const b = Buffer.alloc(32, 2);
    const idx = blockIndex(Buffer.concat([a, b, a, a]));
    expect([...idx.keys()]).toEqual([a.toString('hex'), b.toString('hex')]);
    expect(idx.get(a.toString('hex'))).toEqual([0, 2, 3]);
    expect(idx.get(b.toString('hex'))).toEqual([1]);
    expect(blockIndex(Buffer.alloc(0)).size).toBe(0);
  });
});
