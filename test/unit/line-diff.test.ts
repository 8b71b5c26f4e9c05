/**
 * The line diff behind the conflict view (util/line-diff.ts): the edit script rebuilds both
 * texts and is as short as can be (checked against a plain LCS on random texts), it gives up
 * past its edit budget, and the rows fold long unchanged runs and number the lines of each side.
 */
import { describe, expect, it } from 'vitest';
import { diffLines, diffRows, splitLines, type LineOp } from '../../main/util/line-diff';
import { rng } from '../helpers/procs';

const sideA = (ops: LineOp[]) => ops.filter((o) => o.op !== 'add').map((o) => o.text);
const sideB = (ops: LineOp[]) => ops.filter((o) => o.op !== 'del').map((o) => o.text);
const edits = (ops: LineOp[]) => ops.filter((o) => o.op !== 'same').length;

/** The fewest edits by dynamic programming: |a| + |b| - 2 * LCS. */
function fewest(a: string[], b: string[]): number {
  const t = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) t[i]![j] = a[i] === b[j] ? t[i + 1]![j + 1]! + 1 : Math.max(t[i + 1]![j]!, t[i]![j + 1]!);
  return a.length + b.length - 2 * t[0]![0]!;
}

describe('splitLines', () => {
  it('splits at newlines, drops a \\r before them, and makes no empty last line of a final newline', () => {
    expect(splitLines('')).toEqual([]);
    expect(splitLines('a\nb\n')).toEqual(['a', 'b']);
    expect(splitLines('a\r\nb')).toEqual(['a', 'b']);
    expect(splitLines('a\n\n')).toEqual(['a', '']);
  });
});

describe('diffLines', () => {
  it('marks a changed line in the middle as one deletion and one addition', () => {
    expect(diffLines(['a', 'b', 'c'], ['a', 'B', 'c'])).toEqual([
      { op: 'same', text: 'a' }, { op: 'del', text: 'b' }, { op: 'add', text: 'B' }, { op: 'same', text: 'c' },
    ]);
    expect(diffLines([], ['x'])).toEqual([{ op: 'add', text: 'x' }]);
    expect(diffLines(['x'], [])).toEqual([{ op: 'del', text: 'x' }]);
    expect(diffLines(['x', 'y'], ['x', 'y'])).toEqual([{ op: 'same', text: 'x' }, { op: 'same', text: 'y' }]);
  });

  it('rebuilds both sides with the fewest edits, on 300 random pairs', () => {
    const r = rng(14);
    const words = ['a', 'b', 'c', 'd', 'e'];
    const text = (n: number) => Array.from({ length: n }, () => words[Math.floor(r() * words.length)]!);
    for (let i = 0; i < 300; i++) {
      const a = text(Math.floor(r() * 30));
      const b = r() < 0.5 ? text(Math.floor(r() * 30)) : a.map((w) => (r() < 0.2 ? words[Math.floor(r() * 5)]! : w)).filter(() => r() > 0.1);
      const ops = diffLines(a, b)!;
      expect(sideA(ops), `pair ${i}`).toEqual(a);
      expect(sideB(ops), `pair ${i}`).toEqual(b);
      expect(edits(ops), `pair ${i}`).toBe(fewest(a, b));
    }
  });

  it('gives up past its edit budget (unrelated texts), and not before', () => {
    const a = Array.from({ length: 50 }, (_, i) => `a${i}`);
    const b = Array.from({ length: 50 }, (_, i) => `b${i}`);
    expect(diffLines(a, b, 99)).toBeNull();
    expect(edits(diffLines(a, b, 100)!)).toBe(100);
  });
});

describe('diffRows', () => {
  it('shows changes with three lines of context, folds the rest, and numbers each side', () => {
    const a = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
    const b = [...a];
    b[9] = 'changed 10';
    b.splice(15, 0, 'inserted');
    const { rows, truncated } = diffRows(diffLines(a, b)!);
    expect(truncated).toBe(false);
    expect(rows[0]).toEqual({ op: 'skip', text: '6 unchanged lines', a: null, b: null });
    expect(rows.find((r) => r.op === 'del')).toEqual({ op: 'del', text: 'line 10', a: 10, b: null });
    expect(rows.find((r) => r.op === 'add' && r.text === 'changed 10')).toEqual({ op: 'add', text: 'changed 10', a: null, b: 10 });
    expect(rows.find((r) => r.text === 'inserted')).toEqual({ op: 'add', text: 'inserted', a: null, b: 16 });
    expect(rows.find((r) => r.text === 'line 16')).toEqual({ op: 'same', text: 'line 16', a: 16, b: 17 });
    expect(rows[rows.length - 1]).toEqual({ op: 'skip', text: '2 unchanged lines', a: null, b: null });
    // Everything between the changes is close enough to show: one fold at each end only.
    expect(rows.filter((r) => r.op === 'skip')).toHaveLength(2);
  });

  it('stops at maxRows and says so', () => {
    const a = Array.from({ length: 100 }, (_, i) => `x${i}`);
    const { rows, truncated } = diffRows(diffLines(a, [])!, 3, 10);
    expect(rows).toHaveLength(10);
    expect(truncated).toBe(true);
  });
});
