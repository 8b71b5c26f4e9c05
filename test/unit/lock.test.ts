/** The immutability lock: glob semantics, parsing errors, and reads only on change. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_FILE, LockFileError, MirrorLock, compileLocks, globToRegExp, parseLockFile } from '../../main/sync/lock';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('lock globs', () => {
  const cases: [string, string[], string[]][] = [
    ['*.lock', ['a.lock', 'yarn.lock'], ['dir/a.lock', 'a.locked', 'lock']],
    ['docs/*.md', ['docs/a.md'], ['docs/x/a.md', 'a.md', 'docs/a.mdx']],
    ['docs/**', ['docs/a', 'docs/x/y/z.md'], ['doc/a', 'docsx/a']],
    ['**/secret.txt', ['secret.txt', 'a/secret.txt', 'a/b/secret.txt'], ['a/secret.txt.bak', 'xsecret.txt']],
    ['a/**/z', ['a/z', 'a/b/z', 'a/b/c/z'], ['a/bz', 'b/a/z']],
    ['file?.bin', ['file1.bin', 'fileA.bin'], ['file.bin', 'file12.bin', 'file/.bin']],
    ['v[0-9].txt', ['v1.txt'], ['va.txt', 'v10.txt']],
    ['v[!0-9].txt', ['va.txt'], ['v1.txt']],
    ['a+b (1).txt', ['a+b (1).txt'], ['aab (1).txt']],
  ];
  it.each(cases)('%s', (glob, yes, no) => {
    const re = globToRegExp(glob);
    for (const p of yes) expect(re.test(p), `${glob} should match ${p}`).toBe(true);
    for (const p of no) expect(re.test(p), `${glob} should not match ${p}`).toBe(false);
  });

  it('locks a directory and everything below it, and always the lock file itself', () => {
    const set = compileLocks(['release', '/config/']);
    expect(set.lockOf('release')).toBe('release');
    expect(set.lockOf('release/v1/app.bin')).toBe('release');
    expect(set.lockOf('releases/x')).toBeNull();
    expect(set.lockOf('config/a.json')).toBe('/config/');
    expect(set.lockOf(LOCK_FILE)).toBe(LOCK_FILE);
    expect(set.lockOf('src/.metadata.json')).toBeNull();
  });

  it('refuses malformed lock files with a reason', () => {
    expect(() => parseLockFile('{')).toThrow(/not valid JSON/);
    expect(() => parseLockFile('{"immutable": "docs/**"}')).toThrow(/immutable/);
    expect(() => parseLockFile('{"immutable": [""]}')).toThrow(LockFileError);
    expect(() => parseLockFile('{"immutable": ["a[b"]}')).toThrow(/without a closing/);
    expect(parseLockFile('{"owner": "ops"}')).toEqual([]);
  });
});

describe('MirrorLock', () => {
  it('reads the file only when loaded or told it changed, never per check', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-lock-'));
    dirs.push(root);
    const file = path.join(root, LOCK_FILE);
    const lock = new MirrorLock(file);
    lock.load();
    expect(lock.reads).toBe(1);
    expect(lock.lockOf('docs/a.md')).toBeNull();
    fs.writeFileSync(file, JSON.stringify({ immutable: ['docs/**'] }));
    // Not told yet: still the old set, and no read.
    for (let i = 0; i < 10_000; i++) lock.lockOf(`docs/f${i}.md`);
    expect(lock.reads).toBe(1);
    expect(lock.lockOf('docs/a.md')).toBeNull();
    lock.changed();
    expect(lock.reads).toBe(2);
    expect(lock.lockOf('docs/a.md')).toBe('docs/**');
    // A broken edit keeps the last good set (never unlocks by accident) and says why.
    fs.writeFileSync(file, '{"immutable": [');
    lock.changed();
    expect(lock.error).toMatch(/not valid JSON/);
    expect(lock.lockOf('docs/a.md')).toBe('docs/**');
    fs.rmSync(file);
    lock.changed();
    expect(lock.error).toBeNull();
    expect(lock.lockOf('docs/a.md')).toBeNull();
    expect(lock.reads).toBe(4);
  });
});
