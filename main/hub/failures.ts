/**
 * What could not be applied, either way, per node: the hub's half of a node's `problems`.
 *
 * A change the hub could not apply to the mirror (to-hub) or the node could not apply to its
 * workspace (to-node) is never taken for done: it is kept here and in the hub's database (so
 * a restart still shows it), tried again with backoff, and at once when its cause may be gone
 * (space freed, the node reconnects, the operator asks for a rescan). It clears when a later
 * attempt, or a newer version of the path, is applied.
 */
import type { FailureRecord } from '../store/hub-store';
import type { ProblemView } from '../contract';

export type Direction = FailureRecord['direction'];

/** First retry after this long, doubling per attempt up to RETRY_MAX_MS. */
export const RETRY_MIN_MS = 1000;
export const RETRY_MAX_MS = 60_000;

/** When an attempt that failed for the `attempts`-th time is tried again (null: not by itself). */
export function retryAt(attempts: number, retryable: boolean, now: number): number | null {
  if (!retryable) return null;
  return now + Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(16, Math.max(0, attempts - 1)));
}

const keyOf = (direction: Direction, path: string) => `${direction}\u0000${path}`;

/** The failures of one node, in memory (the database holds the same; see the session's flush). */
export class FailureSet {
  private readonly byKey = new Map<string, FailureRecord>();

  constructor(records: FailureRecord[] = []) {
    for (const r of records) this.byKey.set(keyOf(r.direction, r.path), r);
  }

  get size(): number {
    return this.byKey.size;
  }

  get(direction: Direction, path: string): FailureRecord | undefined {
    return this.byKey.get(keyOf(direction, path));
  }

  /** A new failure of a path, or another failed attempt of one already known. */
  fail(direction: Direction, path: string, code: string, reason: string, retryable: boolean, entry: FailureRecord['entry'], now = Date.now()): FailureRecord {
    const prev = this.get(direction, path);
    const attempts = (prev?.attempts ?? 0) + 1;
    const rec: FailureRecord = { direction, path, code, reason, firstAt: prev?.firstAt ?? now, at: now, attempts, retryAt: retryAt(attempts, retryable, now), entry };
    this.byKey.delete(keyOf(direction, path));
    this.byKey.set(keyOf(direction, path), rec);
    return rec;
  }

  /** Forgets a failure; true if there was one. */
  clear(direction: Direction, path: string): boolean {
    return this.byKey.delete(keyOf(direction, path));
  }

  /** Marks a failure as being tried now (not due again until this attempt has a result). */
  trying(rec: FailureRecord): void {
    rec.retryAt = null;
  }

  /** Failures due for another attempt at `now` (all with something to retry when `all`). */
  due(now: number, all = false): FailureRecord[] {
    return [...this.byKey.values()].filter((r) => (all ? r.direction === 'to-node' || r.entry !== null : r.retryAt !== null && r.retryAt <= now));
  }

  /** The earliest retry time, or null. */
  nextRetry(): number | null {
    let next: number | null = null;
    for (const r of this.byKey.values()) if (r.retryAt !== null && (next === null || r.retryAt < next)) next = r.retryAt;
    return next;
  }

  has(code: string): boolean {
    for (const r of this.byKey.values()) if (r.code === code) return true;
    return false;
  }

  /** Oldest first. */
  list(): FailureRecord[] {
    return [...this.byKey.values()];
  }

  last(): FailureRecord | undefined {
    let last: FailureRecord | undefined;
    for (const r of this.byKey.values()) last = r;
    return last;
  }
}

export function problemOf(r: FailureRecord): ProblemView {
  return { path: r.path, direction: r.direction, code: r.code, reason: r.reason, at: r.at };
}
