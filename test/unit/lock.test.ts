/** The immutability lock: glob semantics, parsing errors, and reads only on change. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rng } from '../../harness/rng.mjs';
import { LOCK_FILE, LockFileError, MirrorLock, compileGlob, compileLocks, globWork, parseLockFile } from '../../main/hub/lock';

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
    const re = compileGlob(glob);
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

/**
 * The RegExp compilation the lock used before the linear-time matcher: kept here only as the
 * reference of the glob semantics (it backtracks exponentially on globs like `*a*a*a*b`).
 */
function referenceRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const segStart = i === 0 || glob[i - 1] === '/';
        const segEnd = i + 2 === glob.length || glob[i + 2] === '/';
        if (segStart && segEnd) {
          if (glob[i + 2] === '/') { re += '(?:[^/]*/)*'; i += 2; } else { re += '.*'; i += 1; }
          continue;
        }
      }
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) throw new LockFileError(`glob "${glob}": "[" without a closing "]"`);
      let body = glob.slice(i + 1, close);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = close;
    } else {
      re += c.replace(/[.+^${}()|\\]/g, (m) => `\\${m}`);
    }
  }
  return new RegExp(`^${re}$`);
}

describe('linear-time glob matching', () => {
  it('answers a pathological glob in linear work (a backtracking RegExp took seconds)', () => {
    const globs = ['*a*a*a*a*a*a*a*a*b', '**/*a*a*a*a*a*a*a*a*a*a*b', '?*?*?*?*?*?*?*?*?*?*b', 'a/**/**/**/**/**/**/**/**/b'];
    const paths = ['a'.repeat(60), 'a'.repeat(4000), `${'a/'.repeat(40)}c`, 'a'.repeat(59) + 'c'];
    const started = performance.now();
    for (const g of globs) {
      const matcher = compileGlob(g);
      for (const p of paths) {
        const before = globWork.steps;
        expect(matcher.test(p), `${g} vs ${p.slice(0, 20)}…`).toBe(false);
        // Each character moves each live state once: at most (length + 1) x (2 x tokens + 1).
        expect(globWork.steps - before).toBeLessThanOrEqual((p.length + 1) * (2 * g.length + 1));
      }
    }
    // The old RegExp needed about 17 s for the first glob against the first path alone.
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('matches a line break in a name like any other character ("**" did not)', () => {
    expect(compileGlob('docs/**').test('docs/a\nb')).toBe(true);
    expect(compileGlob('docs/*').test('docs/a\nb')).toBe(true);
    expect(compileLocks(['docs/**']).lockOf('docs/x\u2028y/z')).toBe('docs/**');
  });

  it('refuses a class range out of order with a reason', () => {
    expect(() => compileGlob('v[9-0]')).toThrow(/range "9-0" is out of order/);
    expect(() => parseLockFile('{"immutable": ["v[z-a]"]}')).toThrow(LockFileError);
  });

  it('agrees with the old RegExp semantics on random globs and paths', () => {
    const rand = rng(20261111);
    const pick = <T,>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    const globParts = ['a', 'b', '.', '/', '*', '**', '**/', '/**', '?', '[ab]', '[!a]', '[a-c]', '[!]', '[]a]', '[-a]', '[a-]', '[/]', '[!/]', '[\\^]', '\\', '+', '(', ']', '{', 'é', '\u{1F600}'];
    const pathParts = ['a', 'b', 'c', '/', '.', '-', ']', '^', '\\', '(', '+', 'é', '\u{1F600}', 'ab', 'a/b'];
    let matched = 0;
    let compared = 0;
    for (let round = 0; round < 3000; round++) {
      const glob = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => pick(globParts)).join('');
      let reference: RegExp;
      try {
        reference = referenceRegExp(glob);
      } catch {
        expect(() => compileGlob(glob), glob).toThrow(LockFileError);
        continue;
      }
      const matcher = compileGlob(glob);
      for (let k = 0; k < 20; k++) {
        const p = Array.from({ length: Math.floor(rand() * 8) }, () => pick(pathParts)).join('');
        const want = reference.test(p);
        expect(matcher.test(p), `${JSON.stringify(glob)} vs ${JSON.stringify(p)}`).toBe(want);
        compared++;
        if (want) matched++;
      }
    }
    // Both answers occur often enough for the comparison to mean something.
    expect(compared).toBeGreaterThan(40_000);
    expect(matched).toBeGreaterThan(compared / 50);
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
