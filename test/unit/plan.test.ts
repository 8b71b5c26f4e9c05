/** The pure decision logic: what a receiver does with a peer's entry, and which blocks cross the wire. */
import { describe, expect, it } from 'vitest';
import { BLOCK_SIZE, fileHashFromBlocks, sha256 } from '../../main/sync/blocks';
import { isBarrier, orderBatch, planBlocks, planEntry } from '../../main/sync/plan';
import { stampChanged } from '../../main/sync/scanner';
import { writtenAs } from '../../main/sync/modes';
import type { CachedEntry, Entry } from '../../main/sync/types';
import { dirEntry, fileEntry, linkEntry } from '../helpers/entries';

function blocksOf(...contents: string[]): Buffer {
  return Buffer.concat(contents.map((c) => sha256(Buffer.from(c))));
}

function file(path: string, blocks: Buffer, over: Partial<Entry> = {}): Entry {
  return fileEntry(path, { size: (blocks.length / 32) * BLOCK_SIZE, mtimeMs: 1000, hash: fileHashFromBlocks(blocks), blocks, ...over });
}

function cached(e: Entry, over: Partial<CachedEntry> = {}): CachedEntry {
  return { ...e, ino: 1, ...over };
}

const dir = (path: string, mode = 0o755): Entry => dirEntry(path, mode);
const link = linkEntry;

describe('planEntry', () => {
  const a = file('f', blocksOf('a', 'b'));
  const b = file('f', blocksOf('a', 'c'));
  it.each<[string, Entry, CachedEntry | undefined, string]>([
    ['new file', a, undefined, 'pull'],
    ['same file', a, cached(a), 'none'],
    ['changed content', b, cached(a), 'pull'],
    ['same bytes, new mode', { ...a, mode: 0o600 }, cached(a), 'meta'],
    ['same bytes, new mtime', { ...a, mtimeMs: 2000 }, cached(a), 'meta'],
    ['file replacing a dir', a, cached(dir('f')), 'pull'],
    ['dir replacing a file', dir('f'), cached(a), 'mkdir'],
    ['new dir', dir('d'), undefined, 'mkdir'],
    ['same dir', dir('d'), cached(dir('d')), 'none'],
    ['dir mode change', dir('d', 0o700), cached(dir('d')), 'meta'],
    ['new symlink', link('l', 'x'), undefined, 'symlink'],
    ['same symlink', link('l', 'x'), cached(link('l', 'x')), 'none'],
    ['retargeted symlink', link('l', 'y'), cached(link('l', 'x')), 'symlink'],
    ['deleted, present', { ...a, deleted: true }, cached(a), 'delete'],
    ['deleted, absent', { ...a, deleted: true }, undefined, 'none'],
  ])('%s → %s', (_name, remote, local, kind) => {
    expect(planEntry(remote, local).kind).toBe(kind);
  });
});

describe('planBlocks', () => {
  it('fetches only blocks the receiver lacks, each distinct hash once decided', () => {
    const remote = file('f', blocksOf('a', 'b', 'c', 'b'));
    const have = new Set([sha256(Buffer.from('b')).toString('hex')]);
    const plan = planBlocks(remote, (h) => have.has(h.toString('hex')));
    expect(plan.reuse).toEqual([1, 3]);
    expect(plan.fetch).toEqual([0, 2]);
    expect(plan.fetchBytes).toBe(2 * BLOCK_SIZE);
  });

  it('a 1 MiB change inside a 1 GiB file fetches at most 2 MiB', () => {
    const n = 8192;
    const old = Buffer.alloc(n * 32);
    for (let i = 0; i < n; i++) sha256(Buffer.from(`block ${i}`)).copy(old, i * 32);
    const next = Buffer.from(old);
    // an unaligned 1 MiB write touches 9 blocks
    for (let i = 400; i < 409; i++) sha256(Buffer.from(`changed ${i}`)).copy(next, i * 32);
    const have = new Set(Array.from({ length: n }, (_, i) => old.subarray(i * 32, i * 32 + 32).toString('hex')));
    const plan = planBlocks({ size: n * BLOCK_SIZE, blockSize: BLOCK_SIZE, blocks: next }, (h) => have.has(h.toString('hex')));
    expect(plan.fetch.length).toBe(9);
    expect(plan.fetchBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
  });

  it('an empty file needs nothing', () => {
    expect(planBlocks({ size: 0, blockSize: BLOCK_SIZE, blocks: Buffer.alloc(0) }, () => false)).toEqual({ reuse: [], fetch: [], fetchBytes: 0, reuseBytes: 0 });
  });
});

describe('orderBatch', () => {
  it('creates parents first and deletes children first, creations before deletions', () => {
    const e = (path: string, deleted = false) => ({ path, deleted });
    const out = orderBatch([e('old/x', true), e('new/a/b'), e('old', true), e('new'), e('new/a')]).map((x) => `${x.deleted ? '-' : '+'}${x.path}`);
    expect(out).toEqual(['+new', '+new/a', '+new/a/b', '-old/x', '-old']);
  });

  it('empties a directory replaced by a file before the file takes its place', () => {
    const e = (path: string, type: 'file' | 'dir', deleted = false) => ({ path, type, deleted });
    const out = orderBatch([e('d', 'file'), e('d/x', 'file', true), e('d/sub', 'dir', true), e('d/sub/y', 'file', true), e('other', 'file', true), e('new', 'file')])
      .map((x) => `${x.deleted ? '-' : '+'}${x.path}`);
    expect(out).toEqual(['-d/sub/y', '-d/x', '-d/sub', '+d', '+new', '-other']);
  });
});

describe('stampChanged (the persistent hash cache rule)', () => {
  const e = cached(file('f', blocksOf('a')), { size: 10, mtimeMs: 5, mode: 0o644, ino: 7 });
  const item = { path: 'f', type: 'file' as const, size: 10, mtimeMs: 5, mode: 0o644, ino: 7, target: '' };
  it('an unchanged stamp is never re-read', () => expect(stampChanged(item, e)).toBe(false));
  it.each([['size', { size: 11 }], ['mtime', { mtimeMs: 6 }], ['inode', { ino: 8 }], ['mode', { mode: 0o600 }]])('a changed %s is re-read', (_k, over) => {
    expect(stampChanged({ ...item, ...over }, e)).toBe(true);
  });
  it('a path unknown to the cache is read', () => expect(stampChanged(item, undefined)).toBe(true));
  it('a directory is unchanged whatever its mtime, but one made anew (another inode) is a change', () => {
    const d = { ...cached(dir('d'), { ino: 7, mode: 0o755, mtimeMs: 1 }) };
    const at = { path: 'd', type: 'dir' as const, size: 0, mtimeMs: 99, mode: 0o755, ino: 7, target: '' };
    expect(stampChanged(at, d)).toBe(false);
    expect(stampChanged({ ...at, ino: 8 }, d)).toBe(true);
  });
  it('in a mirror, a mode the hub wrote under the mirror mode rule is unchanged; any other is a change', () => {
    const open = cached(file('f', blocksOf('a')), { size: 10, mtimeMs: 5, mode: 0o666, ino: 7 });
    const dir = { ...open, type: 'dir' as const };
    for (const [c, kind] of [[open, 'file'], [dir, 'dir']] as const) {
      const at = (mode: number) => ({ ...item, type: kind, mode });
      expect(stampChanged(at(0o664), c, writtenAs), kind).toBe(false);
      expect(stampChanged(at(0o666), c, writtenAs), kind).toBe(false);
      expect(stampChanged(at(0o644), c, writtenAs), kind).toBe(true);
      // The default (a node's workspace): the mode must be the recorded one.
      expect(stampChanged(at(0o664), c), kind).toBe(true);
    }
  });
});

describe('isBarrier (one rule for hub and node)', () => {
  const f = file('p', blocksOf('a'));
  it.each<[string, Entry, { type: Entry['type']; deleted?: boolean } | undefined, boolean]>([
    ['a new file', f, undefined, false],
    ['a file over a file', f, { type: 'file' }, false],
    ['a deletion', { ...f, deleted: true }, { type: 'file' }, true],
    ['a deletion of what is not there', { ...f, deleted: true }, undefined, true],
    ['a file replacing a directory', f, { type: 'dir' }, true],
    ['a directory replacing a file (what goes inside must wait)', dir('p'), { type: 'file' }, true],
    ['a directory replacing a symlink', dir('p'), { type: 'symlink' }, true],
    ['a symlink replacing a file', link('p', 't'), { type: 'file' }, true],
    ['a directory over a directory', dir('p'), { type: 'dir' }, false],
    ['anything over a deleted record', dir('p'), { type: 'file', deleted: true }, false],
  ])('%s', (_name, remote, local, want) => {
    expect(isBarrier(remote, local)).toBe(want);
  });
});
