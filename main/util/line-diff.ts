/**
 * A line diff (Myers' O((N+M)D) algorithm, after trimming the common head and tail), and the
 * rows a reader sees: changed lines with a few lines of context, long unchanged runs folded.
 * Pure; bounded by the number of edits it will look for, so a diff of two unrelated files
 * gives up rather than grinding.
 */

export type LineOp = { op: 'same' | 'del' | 'add'; text: string };

export interface DiffRowOut {
  op: 'same' | 'del' | 'add' | 'skip';
  text: string;
  a: number | null;
  b: number | null;
}

/** Lines of a text: split at \n (a \r before it dropped); a final newline makes no empty last line. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * The edit script turning `a` into `b` (shortest, by lines), or null when it needs more than
 * `maxEdits` inserted plus deleted lines (memory grows with the square of that).
 */
export function diffLines(a: readonly string[], b: readonly string[], maxEdits = 1000): LineOp[] | null {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const A = a.slice(head, a.length - tail);
  const B = b.slice(head, b.length - tail);
  const middle = myers(A, B, maxEdits);
  if (middle === null) return null;
  return [
    ...a.slice(0, head).map((text) => ({ op: 'same' as const, text })),
    ...middle,
    ...a.slice(a.length - tail).map((text) => ({ op: 'same' as const, text })),
  ];
}

function myers(A: readonly string[], B: readonly string[], maxEdits: number): LineOp[] | null {
  const N = A.length;
  const M = B.length;
  if (N === 0) return B.map((text) => ({ op: 'add', text }));
  if (M === 0) return A.map((text) => ({ op: 'del', text }));
  // trace[d][k + d]: the furthest x on diagonal k (x - y) reached with d edits.
  const trace: Int32Array[] = [];
  const limit = Math.min(N + M, maxEdits);
  for (let d = 0; d <= limit; d++) {
    const prev = trace[d - 1];
    const cur = new Int32Array(2 * d + 1);
    for (let k = -d; k <= d; k += 2) {
      // A point past either end (-1) is never on a path to (N, M): no move leads back inside.
      let x: number;
      if (d === 0) x = 0;
      else if (k === -d || (k !== d && prev![k - 1 + d - 1]! < prev![k + 1 + d - 1]!)) x = prev![k + 1 + d - 1]!;
      else x = prev![k - 1 + d - 1]! < 0 ? -1 : prev![k - 1 + d - 1]! + 1;
      let y = x - k;
      if (x < 0 || x > N || y > M) {
        cur[k + d] = -1;
        continue;
      }
      while (x < N && y < M && A[x] === B[y]) {
        x++;
        y++;
      }
      cur[k + d] = x;
      if (x === N && y === M) {
        trace.push(cur);
        return backtrack(A, B, trace);
      }
    }
    trace.push(cur);
  }
  return null;
}

function backtrack(A: readonly string[], B: readonly string[], trace: Int32Array[]): LineOp[] {
  const out: LineOp[] = [];
  let x = A.length;
  let y = B.length;
  for (let d = trace.length - 1; d > 0; d--) {
    const prev = trace[d - 1]!;
    const k = x - y;
    const down = k === -d || (k !== d && prev[k - 1 + d - 1]! < prev[k + 1 + d - 1]!);
    const pk = down ? k + 1 : k - 1;
    const px = prev[pk + d - 1]!;
    const py = px - pk;
    while (x > (down ? px : px + 1) && y > (down ? py + 1 : py)) {
      out.push({ op: 'same', text: A[x - 1]! });
      x--;
      y--;
    }
    if (down) {
      out.push({ op: 'add', text: B[y - 1]! });
      y--;
    } else {
      out.push({ op: 'del', text: A[x - 1]! });
      x--;
    }
  }
  while (x > 0 && y > 0) {
    out.push({ op: 'same', text: A[x - 1]! });
    x--;
    y--;
  }
  return out.reverse();
}

/**
 * Rows to show: every changed line with `context` unchanged lines around it; a longer unchanged
 * run is folded into one `skip` row ("N unchanged lines"). At most `maxRows` rows (`truncated`).
 */
export function diffRows(ops: readonly LineOp[], context = 3, maxRows = 2000): { rows: DiffRowOut[]; truncated: boolean } {
  const near = new Uint8Array(ops.length);
  ops.forEach((o, i) => {
    if (o.op === 'same') return;
    for (let j = Math.max(0, i - context); j <= Math.min(ops.length - 1, i + context); j++) near[j] = 1;
  });
  const rows: DiffRowOut[] = [];
  let a = 0;
  let b = 0;
  let folded = 0;
  const fold = () => {
    if (folded > 0) rows.push({ op: 'skip', text: `${folded} unchanged ${folded === 1 ? 'line' : 'lines'}`, a: null, b: null });
    folded = 0;
  };
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    if (o.op !== 'add') a++;
    if (o.op !== 'del') b++;
    if (o.op === 'same' && !near[i]) {
      folded++;
      continue;
    }
    fold();
    if (rows.length >= maxRows) return { rows, truncated: true };
    rows.push({ op: o.op, text: o.text, a: o.op === 'add' ? null : a, b: o.op === 'del' ? null : b });
  }
  fold();
  return { rows, truncated: false };
}
