import { termSafe } from '../util/terminal';

/**
 * Plain-text tables for the CLIs (sizes and times: ../util/format.ts). Every cell is printed
 * through termSafe: names, paths and messages from nodes cannot drive the terminal.
 */
export function table(cells: string[][]): string {
  if (cells.length === 0) return '';
  const rows = cells.map((r) => r.map(termSafe));
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}
