/**
 * The three-way reconcile decision, table-driven over every (ancestor, node, hub) combination
 * of absent (X), file A, file B (newer than A) and a directory (D), plus the tie-breaks,
 * mode-only conflicts, symlinks and conflict copy names. No I/O.
 */
import { describe, expect, it } from 'vitest';
import { conflictName, isConflictCopy, reconcile, utf8Prefix, type Decision, type Version } from '../../main/sync/reconcile';

const V: Record<string, Version | null> = {
  X: null,
  A: { type: 'file', hash: 'aaaa', mode: 0o644, mtimeMs: 1000, target: '' },
  B: { type: 'file', hash: 'bbbb', mode: 0o644, mtimeMs: 2000, target: '' },
  D: { type: 'dir', hash: '', mode: 0o755, mtimeMs: 1500, target: '' },
};

const SHORT: Record<string, Decision> = {
  '-': { kind: 'none' },
  '=': { kind: 'agree' },
  '>hub': { kind: 'toHub' },
  '>node': { kind: 'toNode' },
  'C:node': { kind: 'conflict', winner: 'node', copyLoser: true },
  'C:hub': { kind: 'conflict', winner: 'hub', copyLoser: true },
};

// Rows: ancestor and node; columns: hub = X, A, B, D. Written out by hand from the rules (not
// computed), so the test can disagree with the implementation.
const TABLE: [string, string, [string, string, string, string]][] = [
  ['X', 'X', ['-', '>node', '>node', '>node']],
  ['X', 'A', ['>hub', '=', 'C:hub', 'C:hub']],
  ['X', 'B', ['>hub', 'C:node', '=', 'C:hub']],
  ['X', 'D', ['>hub', 'C:node', 'C:node', '=']],
  ['A', 'X', ['=', '>hub', '>node', '>node']],
  ['A', 'A', ['>node', '-', '>node', '>node']],
  ['A', 'B', ['>hub', '>hub', '=', 'C:hub']],
  ['A', 'D', ['>hub', '>hub', 'C:node', '=']],
  ['B', 'X', ['=', '>node', '>hub', '>node']],
  ['B', 'A', ['>hub', '=', '>hub', 'C:hub']],
  ['B', 'B', ['>node', '>node', '-', '>node']],
  ['B', 'D', ['>hub', 'C:node', '>hub', '=']],
  ['D', 'X', ['=', '>node', '>node', '>hub']],
  ['D', 'A', ['>hub', '=', 'C:hub', '>hub']],
  ['D', 'B', ['>hub', 'C:node', '=', '>hub']],
  ['D', 'D', ['>node', '>node', '>node', '-']],
];

describe('reconcile', () => {
  it('covers all 64 combinations of absent, file A, file B and a directory', () => {
    const seen = new Set<string>();
    for (const [anc, node, row] of TABLE) {
      ['X', 'A', 'B', 'D'].forEach((hub, i) => {
        const key = `ancestor ${anc}, node ${node}, hub ${hub}`;
        seen.add(key);
        expect(reconcile(V[anc]!, V[node]!, V[hub]!), key).toEqual(SHORT[row[i]!]);
      });
    }
    expect(seen.size).toBe(64);
  });

  it('never loses a modification to a deletion', () => {
    for (const anc of ['A', 'B', 'D']) {
      for (const changed of ['A', 'B', 'D'].filter((x) => x !== anc)) {
        expect(reconcile(V[anc]!, null, V[changed]!).kind).toBe('toNode');
        expect(reconcile(V[anc]!, V[changed]!, null).kind).toBe('toHub');
      }
    }
  });

  it('breaks mtime ties by content hash, then for the hub, the same way whichever side asks', () => {
    const a = { ...V.A!, mtimeMs: 5 };
    const b = { ...V.B!, mtimeMs: 5 };
    expect(reconcile(null, a, b)).toEqual({ kind: 'conflict', winner: 'hub', copyLoser: true });
    expect(reconcile(null, b, a)).toEqual({ kind: 'conflict', winner: 'node', copyLoser: true });
  });

  it('settles a mode-only conflict by mtime without a conflict copy', () => {
    const old = V.A!;
    const nodeMode = { ...old, mode: 0o600, mtimeMs: 3000 };
    const hubMode = { ...old, mode: 0o640, mtimeMs: 2000 };
    expect(reconcile(old, nodeMode, hubMode)).toEqual({ kind: 'conflict', winner: 'node', copyLoser: false });
    // A mode change on one side only just travels.
    expect(reconcile(old, nodeMode, old)).toEqual({ kind: 'toHub' });
  });

  it('treats symlinks by their target, and a directory beats a symlink', () => {
    const l1: Version = { type: 'symlink', hash: '', mode: 0o777, mtimeMs: 10, target: 'a' };
    const l2: Version = { ...l1, target: 'b', mtimeMs: 20 };
    expect(reconcile(null, l1, { ...l1, mtimeMs: 99 })).toEqual({ kind: 'agree' });
    expect(reconcile(l1, l2, l1)).toEqual({ kind: 'toHub' });
    expect(reconcile(null, l1, l2)).toEqual({ kind: 'conflict', winner: 'hub', copyLoser: true });
    expect(reconcile(null, V.D!, l2)).toEqual({ kind: 'conflict', winner: 'node', copyLoser: true });
    expect(reconcile(null, V.A!, l2)).toEqual({ kind: 'conflict', winner: 'node', copyLoser: true }); // A is newer
  });
});

describe('conflict copies', () => {
  const at = new Date(Date.UTC(2026, 10, 5, 7, 3, 9));
  it('are named beside the file, with the UTC time and the losing side, before the last extension', () => {
    expect(conflictName('src/app.ts', 'node', at)).toBe('src/app.sync-conflict-20261105-070309-node.ts');
    expect(conflictName('a.tar.gz', 'hub', at)).toBe('a.tar.sync-conflict-20261105-070309-hub.gz');
    expect(conflictName('deep/.env', 'hub', at)).toBe('deep/.env.sync-conflict-20261105-070309-hub');
    expect(conflictName('Makefile', 'node', at)).toBe('Makefile.sync-conflict-20261105-070309-node');
    expect(conflictName('dir.d/noext', 'node', at)).toBe('dir.d/noext.sync-conflict-20261105-070309-node');
  });

  it('fit in 255 bytes per name: the stem is cut at a character boundary, the marker stays whole, the extension when it fits', () => {
    const bytes = (s: string) => Buffer.byteLength(s);
    const mark = (side: string) => `.sync-conflict-20261105-070309-${side}`;
    const cases: { what: string; path: string; side: 'node' | 'hub'; want: string }[] = [
      { what: 'ASCII, 255 bytes', path: `d/${'a'.repeat(251)}.txt`, side: 'node', want: `d/${'a'.repeat(255 - 35 - 4)}${mark('node')}.txt` },
      { what: 'ASCII, the hub side (one byte shorter marker)', path: `${'a'.repeat(251)}.txt`, side: 'hub', want: `${'a'.repeat(255 - 34 - 4)}${mark('hub')}.txt` },
      // 3-byte characters: 216 bytes of room leave 72 whole ones, never a torn 73rd.
      { what: 'multi-byte (3 bytes each)', path: `${'日'.repeat(83)}.md`, side: 'node', want: `${'日'.repeat(72)}${mark('node')}.md` },
      // 4-byte characters (surrogate pairs in JS): 217 bytes of room leave 54, not 54 and a half.
      { what: 'multi-byte (4 bytes each, surrogate pairs)', path: `${'🚀'.repeat(62)}.js`, side: 'node', want: `${'🚀'.repeat(54)}${mark('node')}.js` },
      { what: 'mixed widths cut before the character that would not fit', path: `${'a'.repeat(219)}é${'b'.repeat(34)}`, side: 'node', want: `${'a'.repeat(219)}${mark('node')}` },
      { what: 'no extension', path: `x/${'n'.repeat(255)}`, side: 'node', want: `x/${'n'.repeat(220)}${mark('node')}` },
      { what: 'a dotfile (no extension)', path: `.${'e'.repeat(254)}`, side: 'hub', want: `.${'e'.repeat(220)}${mark('hub')}` },
      { what: 'a long extension that fits', path: `${'s'.repeat(50)}.${'x'.repeat(200)}`, side: 'node', want: `${'s'.repeat(19)}${mark('node')}.${'x'.repeat(200)}` },
      { what: 'an extension that leaves no room is cut with the name', path: `s.${'x'.repeat(250)}`, side: 'node', want: `s.${'x'.repeat(218)}${mark('node')}` },
      { what: 'a short name is left alone', path: 'a/b.txt', side: 'node', want: `a/b${mark('node')}.txt` },
    ];
    for (const c of cases) {
      const got = conflictName(c.path, c.side, at);
      expect(got, c.what).toBe(c.want);
      const name = got.slice(got.lastIndexOf('/') + 1);
      expect(bytes(name), c.what).toBeLessThanOrEqual(255);
      expect(isConflictCopy(got), c.what).toBe(true);
      // Valid UTF-8 throughout: nothing was torn (a torn character would not survive the round trip).
      expect(Buffer.from(got, 'utf8').toString('utf8'), c.what).toBe(got);
    }
    // Another second gives another name of the same length (the free-name search steps by seconds).
    const long = `${'a'.repeat(251)}.txt`;
    const later = conflictName(long, 'node', new Date(at.getTime() + 1000));
    expect(later).not.toBe(conflictName(long, 'node', at));
    expect(bytes(later)).toBe(255);
  });

  it('utf8Prefix never splits a character', () => {
    expect(utf8Prefix('aé🚀', 1)).toBe('a');
    expect(utf8Prefix('aé🚀', 2)).toBe('a');
    expect(utf8Prefix('aé🚀', 3)).toBe('aé');
    expect(utf8Prefix('aé🚀', 6)).toBe('aé');
    expect(utf8Prefix('aé🚀', 7)).toBe('aé🚀');
    expect(utf8Prefix('', 5)).toBe('');
  });

  it('are recognised, and ordinary names are not', () => {
    for (const p of ['src/app.sync-conflict-20261105-070309-node.ts', 'Makefile.sync-conflict-20261105-070309-hub', 'deep/.env.sync-conflict-20261105-070309-hub']) {
      expect(isConflictCopy(p), p).toBe(true);
    }
    for (const p of ['src/app.ts', 'sync-conflict.txt', 'a.sync-conflict-2026-node.ts', 'x.sync-conflict-20261105-070309-other.ts']) {
      expect(isConflictCopy(p), p).toBe(false);
    }
  });
});
