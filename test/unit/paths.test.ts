import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsafePathError, checkNoSymlinkParents, coveringRoots, ensureParents, symlinkTargetProblem, toNative, wirePathProblem } from '../../main/sync/paths';

describe('wire path safety', () => {
  it.each([
    ['a.txt'], ['dir/sub/file.bin'], ['naïve/日本語/émoji 🚀.txt'], ['..hidden'], ['a..b/c'], ['.env'],
  ])('accepts %j', (p) => {
    expect(wirePathProblem(p)).toBeNull();
  });

  it.each([
    ['', 'empty'], ['../x', '".." segment'], ['a/../../x', '".." segment'], ['a/./b', '"." segment'], ['/etc/passwd', 'absolute'],
    ['a\0b', 'NUL'], ['..\\x', 'backslash'], ['C:/x', 'drive letter'], ['c:x', 'drive letter'], ['a//b', 'empty segment'],
    ['a/', 'empty segment'], ['x'.repeat(256), 'longer than 255'], [`${'a/'.repeat(2100)}a`, 'longer than 4096'],
  ])('refuses %j (%s)', (p, reason) => {
    expect(wirePathProblem(p)).toContain(reason);
    expect(() => toNative('/root', p)).toThrow(UnsafePathError);
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


describe('coveringRoots', () => {
  it('keeps the fewest subtrees that cover every changed path', () => {
    expect(coveringRoots(['a/b/c', 'a/b', 'a/bc', 'x', 'a/b/d', 'x'])).toEqual(['a/b', 'a/bc', 'x']);
    expect(coveringRoots(['a', ''])).toEqual(['']);
  });
});
