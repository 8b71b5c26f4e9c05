import { describe, expect, it } from 'vitest';
import { BLOCK_SIZE, fileHashFromBlocks, sha256, symlinkHash } from '../../main/sync/blocks';
import { entryProblem, refusalCode } from '../../main/sync/validate';
import type { Entry } from '../../main/sync/types';
import { fileEntry } from '../helpers/entries';

const blocks = Buffer.concat([sha256(Buffer.from('x')), sha256(Buffer.from('y'))]);
const good: Entry = fileEntry('a/b.bin', { size: BLOCK_SIZE + 5, mtimeMs: 1, hash: fileHashFromBlocks(blocks), blocks, seq: 3 });

describe('entryProblem (what a peer may announce)', () => {
  it('accepts a consistent file, dir, symlink and deletion', () => {
    expect(entryProblem(good)).toBeNull();
    expect(entryProblem({ ...good, type: 'dir', size: 0, blocks: Buffer.alloc(0), hash: Buffer.alloc(0), blockSize: 0 })).toBeNull();
    expect(entryProblem({ ...good, type: 'symlink', target: 'x', hash: symlinkHash('x') })).toBeNull();
    expect(entryProblem({ ...good, path: 'gone', deleted: true })).toBeNull();
    // Weak hashes: one per block, or none (hashed before protocol 3).
    expect(entryProblem({ ...good, weak: Buffer.alloc(8) })).toBeNull();
    expect(entryProblem({ ...good, weak: Buffer.alloc(0) })).toBeNull();
  });

  it.each<[string, Partial<Entry>, RegExp]>([
    ['a hostile path', { path: '../x' }, /unsafe path/],
    ['a deleted hostile path', { path: '/etc', deleted: true }, /unsafe path/],
    ['a size bigger than its blocks', { size: 3 * BLOCK_SIZE }, /block list/],
    ['a size smaller than its blocks', { size: 5 }, /block list/],
    ['a wrong file hash', { hash: sha256(Buffer.from('nope')) }, /hash does not match/],
    ['a foreign block size', { blockSize: 4096 }, /block size/],
    ['weak hashes for fewer blocks than it has', { weak: Buffer.alloc(4) }, /^weak hash list does not match the file size$/],
    ['weak hashes that are not 4 bytes each', { weak: Buffer.alloc(9) }, /^weak hash list does not match the file size$/],
    // The exact refusal: 'size' alone also matches the block-list refusal, which these hit too.
    ['a negative size', { size: -1 }, /^invalid size$/],
    ['an absurd size', { size: 2 ** 60 }, /^invalid size$/],
    ['a bad mode', { mode: 0o17777 }, /mode/],
    ['a symlink out of the root', { type: 'symlink', target: '../../x', hash: symlinkHash('../../x') }, /outside/],
    ['a symlink whose hash lies', { type: 'symlink', target: 'x', hash: symlinkHash('y') }, /symlink hash/],
    ['an unknown type', { type: 'fifo' as never }, /unknown entry type/],
  ])('refuses %s', (_name, over, re) => {
    expect(entryProblem({ ...good, ...over })).toMatch(re);
  });
});

describe('names one side cannot hold', () => {
  it.each([['back\\slash.txt'], ['C:notes.txt'], ['dir/a:b']])('a POSIX hub takes %j as it is', (p) => {
    expect(entryProblem({ ...good, path: p }, 'linux')).toBeNull();
  });

  it.each([['back\\slash.txt', 'backslash'], ['C:notes.txt', 'drive letter'], ['dir/a:b', 'not allow']])('a Windows hub refuses %j as NAME_NOT_SUPPORTED, not as unsafe', (p, reason) => {
    const problem = entryProblem({ ...good, path: p }, 'win32');
    expect(problem).toContain(`name not supported on Windows: the name`);
    expect(problem).toContain(reason);
    expect(refusalCode(problem!)).toBe('NAME_NOT_SUPPORTED');
  });

  it('keeps the other refusal codes', () => {
    expect(refusalCode(entryProblem({ ...good, path: '../x' }, 'win32')!)).toBe('UNSAFE_PATH');
    expect(refusalCode(entryProblem({ ...good, size: 5 })!)).toBe('BAD_ENTRY');
    expect(refusalCode('sequence number 3 does not follow 4')).toBe('PROTOCOL');
  });
});
