/**
 * Settling a conflict copy, as pure functions (hub/conflict-plan.ts): what a copy's name says
 * (read back from the names reconcile.ts makes, long and short), the ordinary name kept copies
 * take, and the steps of each resolution, refusals included. No I/O.
 */
import { describe, expect, it } from 'vitest';
import { keptName, originalOf, parseCopyName, planResolution, type ResolveInput } from '../../main/hub/conflict-plan';
import { conflictName, isConflictCopy } from '../../main/sync/reconcile';

const AT = new Date(Date.UTC(2026, 10, 25, 12, 0, 7));
const none = () => false;

describe('a conflict copy\'s name', () => {
  it.each([
    ['notes.md', 'hub'],
    ['dir/sub/notes.md', 'node'],
    ['archive.tar.gz', 'hub'],
    ['.env', 'node'],
    ['dir/Makefile', 'hub'],
    ['a.', 'node'],
    ['日本語/ファイル.txt', 'hub'],
  ] as const)('%s (%s) reads back as the path it lost to, the side and the time', (original, side) => {
    const copy = conflictName(original, side, AT);
    const n = parseCopyName(copy)!;
    expect(n).not.toBeNull();
    expect(n.side).toBe(side);
    expect(n.at).toBe(AT.getTime());
    expect(n.stamp).toBe('20261125-120007');
    expect(`${n.dir}${n.stem}${n.ext}`).toBe(original);
    expect(originalOf(copy, (p) => p === original, () => [])).toBe(original);
  });

  it('is not read from names that are not conflict copies', () => {
    for (const p of ['notes.md', 'notes.sync-conflict-2026-hub.md', 'notes.sync-conflict-20261125-120000-agent.md', 'x/.sync-conflict-20261125-120000-hub']) {
      expect(parseCopyName(p), p).toBeNull();
    }
  });

  it('of a shortened long name finds the one sibling it was cut from, and says null when it cannot tell', () => {
    const long = `${'日本語'.repeat(20)}${'n'.repeat(71)}.txt`;
    expect(Buffer.byteLength(long)).toBe(255);
    const copy = conflictName(`long/${long}`, 'hub', AT);
    expect(Buffer.byteLength(copy.slice('long/'.length))).toBeLessThanOrEqual(255);
    const n = parseCopyName(copy)!;
    expect(`${n.stem}${n.ext}`).not.toBe(long);
    // Not recorded as cut: found among the directory's entries (copies and other names left out).
    const siblings = [`long/${long}`, copy, 'long/other.txt'];
    expect(originalOf(copy, (p) => p === `long/${long}`, () => siblings)).toBe(`long/${long}`);
    // Two candidates: cannot tell.
    const twin = `long/${n.stem}zz.txt`;
    expect(originalOf(copy, (p) => siblings.includes(p), () => [...siblings, twin])).toBeNull();
    // None: cannot tell either.
    expect(originalOf(copy, none, () => ['long/other.txt'])).toBeNull();
    // A short name is never guessed: its plain name is the answer, recorded or not.
    expect(originalOf('a/b.sync-conflict-20261125-120000-hub.txt', none, () => ['a/bee.txt'])).toBe('a/b.txt');
  });
});

describe('the ordinary name of a kept copy', () => {
  it('names the side and the time, keeps the extension, and is no conflict copy', () => {
    const copy = conflictName('docs/plan.md', 'hub', AT);
    const k = keptName(copy, none);
    expect(k).toBe('docs/plan (hub copy 20261125-120007).md');
    expect(isConflictCopy(k)).toBe(false);
    expect(keptName(conflictName('.env', 'node', AT), none)).toBe('.env (node copy 20261125-120007)');
  });

  it('counts up while the name is taken', () => {
    const copy = conflictName('plan.md', 'node', AT);
    const taken = new Set(['plan (node copy 20261125-120007).md', 'plan (node copy 20261125-120007 2).md']);
    expect(keptName(copy, (p) => taken.has(p))).toBe('plan (node copy 20261125-120007 3).md');
  });

  it('fits in 255 bytes, cutting the stem at a character boundary', () => {
    const long = `${'日本語'.repeat(20)}${'n'.repeat(71)}.txt`;
    const k = keptName(conflictName(`long/${long}`, 'hub', AT), none);
    const name = k.slice('long/'.length);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name).toMatch(/^(日本語)+n* \(hub copy 20261125-120007\)\.txt$/);
    expect(name).not.toContain('\uFFFD');
  });

  it('refuses a name that is not a conflict copy', () => {
    expect(() => keptName('plan.md', none)).toThrow(/not a conflict copy/);
  });
});

describe('the steps of a resolution', () => {
  const copy = conflictName('notes.md', 'hub', AT);
  const base: ResolveInput = { copy, copyType: 'file', original: 'notes.md', originalType: 'file', keep: 'winner', taken: none };

  it.each([
    ['winner', {}, { steps: [{ kind: 'delete', path: copy }], result: 'notes.md' }],
    ['winner, nothing at the original', { originalType: null }, { steps: [{ kind: 'delete', path: copy }], result: null }],
    ['copy', { keep: 'copy' }, { steps: [{ kind: 'move', from: copy, to: 'notes.md', replaces: true }], result: 'notes.md' }],
    ['copy, nothing at the original', { keep: 'copy', originalType: null }, { steps: [{ kind: 'move', from: copy, to: 'notes.md', replaces: false }], result: 'notes.md' }],
    ['copy of a symlink over a file', { keep: 'copy', copyType: 'symlink' }, { steps: [{ kind: 'move', from: copy, to: 'notes.md', replaces: true }], result: 'notes.md' }],
    ['both', { keep: 'both' }, { steps: [{ kind: 'move', from: copy, to: 'notes (hub copy 20261125-120007).md', replaces: false }], result: 'notes (hub copy 20261125-120007).md' }],
    ['both, original unknown', { keep: 'both', original: null, originalType: null }, { steps: [{ kind: 'move', from: copy, to: 'notes (hub copy 20261125-120007).md', replaces: false }], result: 'notes (hub copy 20261125-120007).md' }],
  ] as const)('keep %s', (_name, over, want) => {
    expect(planResolution({ ...base, ...over } as ResolveInput)).toEqual(want);
  });

  it.each([
    ['a directory named like a copy', { copyType: 'dir' }, /is a directory, not a conflict copy/],
    ['the copy over a directory', { keep: 'copy', originalType: 'dir' }, /notes\.md is a directory now: keep both instead/],
    ['the copy when the original cannot be told', { keep: 'copy', original: null, originalType: null }, /cannot be told .*keep both/],
  ] as const)('refuses %s', (_name, over, why) => {
    const r = planResolution({ ...base, ...over } as ResolveInput);
    expect('refused' in r && r.refused).toMatch(why);
  });
});
