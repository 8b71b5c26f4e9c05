/**
 * Failures to apply a change, either way (table `failures`): the truth behind a node's
 * `problems`, kept across restarts with what to retry (a node entry the hub could not apply)
 * and when. A part of HubStore, on its connection.
 */
import type { Entry } from '../sync/types';
import type { DB } from './db';

/** A change one side could not apply (see the `failures` table). */
export interface FailureRecord {
  direction: 'to-hub' | 'to-node';
  path: string;
  code: string;
  reason: string;
  firstAt: number;
  at: number;
  attempts: number;
  /** When it is tried again; null: only when something changes (a newer version, a rescan). */
  retryAt: number | null;
  /** to-hub: the node's entry to apply again. */
  entry: Entry | null;
}

interface FailureRow {
  direction: number; path: string; code: string; reason: string; first_at: number; at: number;
  attempts: number; retry_at: number | null; entry: string | null;
}
const DIRECTIONS: FailureRecord['direction'][] = ['to-hub', 'to-node'];

function encodeEntry(e: Entry): string {
  return JSON.stringify({ ...e, hash: e.hash.toString('base64'), blocks: e.blocks.toString('base64'), weak: e.weak?.toString('base64') ?? '' });
}

function decodeEntry(text: string): Entry {
  const o = JSON.parse(text) as Entry & { hash: string; blocks: string; weak?: string };
  return { ...o, hash: Buffer.from(o.hash, 'base64'), blocks: Buffer.from(o.blocks, 'base64'), weak: Buffer.from(o.weak ?? '', 'base64') };
}

function toFailure(r: FailureRow): FailureRecord {
  return {
    direction: DIRECTIONS[r.direction] ?? 'to-hub', path: r.path, code: r.code, reason: r.reason, firstAt: r.first_at, at: r.at,
    attempts: r.attempts, retryAt: r.retry_at, entry: r.entry === null ? null : decodeEntry(r.entry),
  };
}

export class FailureStore {
  private readonly q;

  constructor(private readonly db: DB) {
    this.q = {
      putFailure: db.prepare(`INSERT INTO failures (node_id, direction, path, code, reason, first_at, at, attempts, retry_at, entry)
        VALUES (@node_id, @direction, @path, @code, @reason, @first_at, @at, @attempts, @retry_at, @entry)
        ON CONFLICT (node_id, direction, path) DO UPDATE SET code = excluded.code, reason = excluded.reason, at = excluded.at,
          attempts = excluded.attempts, retry_at = excluded.retry_at, entry = excluded.entry`),
      deleteFailure: db.prepare('DELETE FROM failures WHERE node_id = ? AND direction = ? AND path = ?'),
      failures: db.prepare<[string], FailureRow & { node_id: string }>('SELECT * FROM failures WHERE node_id = ? ORDER BY direction, path'),
      forPath: db.prepare<[string, string], FailureRow & { node_id: string }>('SELECT * FROM failures WHERE node_id = ? AND direction IN (0, 1) AND path = ? ORDER BY direction'),
      deleteAllFailures: db.prepare('DELETE FROM failures WHERE node_id = ?'),
    };
  }

  list(nodeId: string): FailureRecord[] {
    return this.q.failures.all(nodeId).map(toFailure);
  }

  /** The failures of one path, either way. */
  forPath(nodeId: string, path: string): FailureRecord[] {
    return this.q.forPath.all(nodeId, path).map(toFailure);
  }

  /** Records failures and forgets the ones that cleared, in one transaction. */
  record(nodeId: string, put: FailureRecord[], cleared: { direction: FailureRecord['direction']; path: string }[]): void {
    this.db.transaction(() => {
      for (const c of cleared) this.q.deleteFailure.run(nodeId, DIRECTIONS.indexOf(c.direction), c.path);
      for (const f of put) {
        this.q.putFailure.run({
          node_id: nodeId, direction: DIRECTIONS.indexOf(f.direction), path: f.path, code: f.code, reason: f.reason, first_at: f.firstAt, at: f.at,
          attempts: f.attempts, retry_at: f.retryAt, entry: f.entry ? encodeEntry(f.entry) : null,
        });
      }
    })();
  }

  /** Forgets every failure of a node (HubStore.forgetMirror runs it in its transaction). */
  forget(nodeId: string): void {
    this.q.deleteAllFailures.run(nodeId);
  }
}
