/**
 * The three-way reconcile decision, table-driven over every (ancestor, node, hub) combination
 * of absent (X), file A, file B (newer than A) and a directory (D), plus the tie-breaks,
 * mode-only conflicts, symlinks and conflict copy names. No I/O.
 */
import { describe, expect, it } from 'vitest';
import { conflictName, isConflictCopy, reconcile, type Decision, type Version } from '../../main/sync/reconcile';

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

  it('are recognised, and ordinary names are not', () => {
    for (const p of ['src/app.sync-conflict-20261105-070309-node.ts', 'Makefile.sync-conflict-20261105-070309-hub', 'deep/.env.sync-conflict-20261105-070309-hub']) {
      expect(isConflictCopy(p), p).toBe(true);
    }
    for (const p of ['src/app.ts', 'sync-conflict.txt', 'a.sync-conflict-2026-node.ts', 'x.sync-conflict-20261105-070309-other.ts']) {
      expect(isConflictCopy(p), p).toBe(false);
    }
  });
});
