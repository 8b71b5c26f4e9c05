/** What every `cortex-hub` command shares: the usage error, argument checks, and printing an answer. */
import { jsonTermSafe, termSafeLines } from '../util/terminal';

/** A mistake in the command line (exit status 2). */
export class UsageError extends Error {}

export function jsonObject(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config must be a JSON object: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError('--config must be a JSON object, like \'{"depth": 2}\'');
  return v as Record<string, unknown>;
}

export function nonNegative(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a number of days, 0 or more`);
  return n;
}

export function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive whole number`);
  return n;
}

/** Prints the answer; text from nodes or the database in it cannot drive the terminal (see util/terminal.ts). */
export function out(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${jsonTermSafe(JSON.stringify(value, null, 2))}\n` : `${termSafeLines(human())}\n`);
}
