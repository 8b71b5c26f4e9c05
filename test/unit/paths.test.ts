import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsafePathError, checkNoSymlinkParents, coveringRoots, scanRoots, ensureParents, hostNameProblem, safePathProblem, symlinkTargetProblem, toNative, wirePathProblem } from '../../main/sync/paths';

describe('wire path safety', () => {
  it.each([
    ['a.txt'], ['dir/sub/file.bin'], ['naïve/日本語/émoji 🚀.txt'], ['..hidden'], ['a..b/c'], ['.env'],
  ])('accepts %j', (p) => {
    expect(wirePathProblem(p)).toBeNull();
    // A name that merely starts with two dots is inside the root.
    expect(toNative('/root', p)).toBe(path.join('/root', ...p.split('/')));
  });

  it.each([
    ['', 'empty'], ['../x', '".." segment'], ['a/../../x', '".." segment'], ['a/./b', '"." segment'], ['/etc/passwd', 'absolute'],
    ['a\0b', 'NUL'], ['a//b', 'empty segment'],
    ['a/', 'empty segment'], ['x'.repeat(256), 'longer than 255'], [`${'a/'.repeat(2100)}a`, 'longer than 4096'],
  ])('refuses %j (%s)', (p, reason) => {
    expect(wirePathProblem(p)).toContain(reason);
    expect(() => toNative('/root', p)).toThrow(UnsafePathError);
  });

  // On POSIX only "/" and NUL are special in a name: these are ordinary names, mirrored as they are.
  it.each([['back\\slash.txt'], ['..\\x'], ['C:notes.txt'], ['c:x'], ['C:/x'], ['a:b/c<d>|e?*"'], ['trailing. '], ['CON'], ['nul.txt']])('on POSIX accepts %j', (p) => {
    expect(wirePathProblem(p, 'linux')).toBeNull();
    expect(wirePathProblem(p, 'darwin')).toBeNull();
    if (process.platform !== 'win32') expect(toNative('/root', p)).toBe(path.join('/root', ...p.split('/')));
  });

  // Windows reads them as a separator, a drive, a stream or a device: a problem of a Windows side, not an unsafe path.
  it.each([
    ['back\\slash.txt', 'backslash'], ['..\\x', 'backslash'], ['C:notes.txt', 'drive letter'], ['c:x', 'drive letter'], ['C:/x', 'drive letter'],
    ['a/file:stream', 'not allow'], ['a/b<c', 'not allow'], ['q?', 'not allow'], ['tab\there', 'not allow'], ['dir/name.', 'ends in a space or a dot'],
    ['name ', 'ends in a space or a dot'], ['CON', 'reserves for a device'], ['sub/nul.txt', 'reserves for a device'], ['COM1', 'reserves for a device'],
  ])('on Windows refuses %j (%s) as a name it cannot hold', (p, reason) => {
    expect(safePathProblem(p)).toBeNull();
    expect(hostNameProblem(p, 'win32')).toContain(reason);
    expect(wirePathProblem(p, 'win32')).toContain(reason);
    expect(hostNameProblem(p, 'linux')).toBeNull();
  });

  it('symlink targets with a backslash or drive prefix are names on POSIX, absolute on Windows', () => {
    expect(symlinkTargetProblem('link', 'a\\b', 'linux')).toBeNull();
    expect(symlinkTargetProblem('link', 'C:x', 'linux')).toBeNull();
    expect(symlinkTargetProblem('link', 'a\\b', 'win32')).toContain('absolute');
    expect(symlinkTargetProblem('link', 'C:x', 'win32')).toContain('absolute');
  });

  it('maps to a native path under the root', () => {
    expect(toNative('/srv/m', 'a/b')).toBe(path.join('/srv/m', 'a', 'b'));
  });

  it('keeps symlinks only when relative and inside the root', () => {
    expect(symlinkTargetProblem('a/link', 'b.txt')).toBeNull();
    expect(symlinkTargetProblem('a/link', '../c.txt')).toBeNull();
    expect(symlinkTargetProblem('a/link', '../../c.txt')).toContain('outside');
    expect(symlinkTargetProblem('link', '/etc/passwd')).toContain('absolute');
    expect(symlinkTargetProblem('link', '')).toContain('empty');
    expect(symlinkTargetProblem('a', 'sub/b/..')).toContain('after a name');
    expect(symlinkTargetProblem('a/b/l', '../../x/y')).toBeNull();
    expect(symlinkTargetProblem('a/l', '../../x')).toContain('outside');
  });

  it('refuses to write through a symlinked directory planted inside the root', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-paths-'));
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-outside-'));
    fs.symlinkSync(outside, path.join(root, 'evil'));
    await expect(checkNoSymlinkParents(root, 'evil/x.txt')).rejects.toThrow(/symlink evil/);
    await expect(ensureParents(root, 'evil/deeper/x.txt')).rejects.toThrow(UnsafePathError);
    expect(fs.readdirSync(outside)).toEqual([]);
    await ensureParents(root, 'ok/deeper/x.txt');
    expect(fs.statSync(path.join(root, 'ok', 'deeper')).isDirectory()).toBe(true);
    fs.rmSync(root, { recursive: true });
    fs.rmSync(outside, { recursive: true });
  });
});


describe('scanRoots', () => {
  it('scans a directory where many of its entries changed, each path elsewhere, never the whole root for top-level files', () => {
    const many = Array.from({ length: 20 }, (_, i) => `out/run/f${i}`);
    expect(scanRoots([...many, 'docs/a.md', 'top1', 'top2'], 16)).toEqual(['docs/a.md', 'out/run', 'top1', 'top2']);
    expect(scanRoots(many.slice(0, 15), 16)).toEqual(many.slice(0, 15).sort());
    expect(scanRoots(Array.from({ length: 30 }, (_, i) => `t${i}`), 16)).toHaveLength(30);
    // A parent that is itself among the paths covers its files either way.
    expect(scanRoots(['out', 'out/x', 'out/y'], 16)).toEqual(['out']);
  });
});

describe('coveringRoots', () => {
  it('keeps the fewest subtrees that cover every changed path', () => {
    expect(coveringRoots(['a/b/c', 'a/b', 'a/bc', 'x', 'a/b/d', 'x'])).toEqual(['a/b', 'a/bc', 'x']);
    expect(coveringRoots(['a', ''])).toEqual(['']);
    // "a-b" sorts between "a" and "a/c": a path is matched against all its ancestors.
    expect(coveringRoots(['a/c', 'a-b', 'a', 'a-b/x/y', 'b/c/d', 'b/c'])).toEqual(['a', 'a-b', 'b/c']);
  });

  it('takes thousands of paths in one pass (each is checked against its own ancestors)', () => {
    const paths = Array.from({ length: 20_000 }, (_, i) => `d${i % 200}/f${i}`);
    expect(coveringRoots(paths)).toHaveLength(20_000);
    expect(coveringRoots([...paths, 'd7'])).toHaveLength(20_000 - 100 + 1);
  });
});
