/**
 * The trash (table `trash`): mirrors a purge moved into DATA/trash/, one row each, so they can
 * be listed, restored and emptied after the retention window. A part of HubStore, on its
 * connection. A row goes through states, each written before the disk step it announces, so a
 * kill at any point leaves something the start-up reconcile (hub/trash-service.ts) can settle:
 * `moving` (recorded, the rename may or may not have happened), `trashed` (in the trash),
 * `emptying` (its removal started; resumed until it is gone, then the row goes).
 */
import type { DB } from './db';

export const TRASH_SCHEMA = `
  CREATE TABLE IF NOT EXISTS trash (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    node_id TEXT,
    node_name TEXT,
    reason TEXT NOT NULL,
    kind TEXT NOT NULL,
    files INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    trashed_at INTEGER NOT NULL,
    plan_id TEXT,
    state TEXT NOT NULL,
    error TEXT
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS trash_by_age ON trash (trashed_at);
`;

export type TrashState = 'moving' | 'trashed' | 'emptying';

export interface TrashRecord {
  /** `tr-` and 16 hex digits: also its directory's name under DATA/trash/. */
  id: string;
  /** Its entry name under mirrors/ (a node id for a node's mirror): where it came from and goes back to. */
  name: string;
  /** The node it was the mirror of (null: an unknown entry), and that node's name then. */
  nodeId: string | null;
  nodeName: string | null;
  reason: 'retired' | 'unknown';
  kind: 'dir' | 'symlink' | 'other';
  files: number;
  bytes: number;
  trashedAt: number;
  /** The purge plan that moved it (null: found in the trash at start, with no record). */
  planId: string | null;
  state: TrashState;
  /** Why emptying it failed (it is tried again), or null. */
  error: string | null;
}

interface TrashRow {
  id: string; name: string; node_id: string | null; node_name: string | null; reason: string; kind: string;
  files: number; bytes: number; trashed_at: number; plan_id: string | null; state: string; error: string | null;
}

function toRecord(r: TrashRow): TrashRecord {
  return {
    id: r.id, name: r.name, nodeId: r.node_id, nodeName: r.node_name, reason: r.reason as TrashRecord['reason'], kind: r.kind as TrashRecord['kind'],
    files: r.files, bytes: r.bytes, trashedAt: r.trashed_at, planId: r.plan_id, state: r.state as TrashState, error: r.error,
  };
}

export class TrashStore {
  private readonly q;

  constructor(db: DB) {
    this.q = {
      insert: db.prepare(`INSERT INTO trash (id, name, node_id, node_name, reason, kind, files, bytes, trashed_at, plan_id, state, error)
        VALUES (@id, @name, @nodeId, @nodeName, @reason, @kind, @files, @bytes, @trashedAt, @planId, @state, @error)`),
      get: db.prepare<[string], TrashRow>('SELECT * FROM trash WHERE id = ?'),
      all: db.prepare<[], TrashRow>('SELECT * FROM trash ORDER BY trashed_at DESC, id'),
      setState: db.prepare('UPDATE trash SET state = ?, error = NULL WHERE id = ?'),
      setError: db.prepare('UPDATE trash SET error = ? WHERE id = ?'),
      remove: db.prepare('DELETE FROM trash WHERE id = ?'),
      bytes: db.prepare<[], { bytes: number | null }>("SELECT SUM(bytes) AS bytes FROM trash WHERE state != 'moving'"),
    };
  }

  /** Records an entry (a purge's `moving` before its rename; a found one as `trashed`). */
  add(r: TrashRecord): void {
    this.q.insert.run(r);
  }

  get(id: string): TrashRecord | undefined {
    const r = this.q.get.get(id);
    return r && toRecord(r);
  }

  /** Every entry, newest first. */
  all(): TrashRecord[] {
    return this.q.all.all().map(toRecord);
  }

  /** Moves an entry to `state` (and clears its error). */
  setState(id: string, state: TrashState): void {
    this.q.setState.run(state, id);
  }

  /** Notes why emptying an entry failed (it stays `emptying`, to be tried again). */
  setError(id: string, error: string): void {
    this.q.setError.run(error.slice(0, 2000), id);
  }

  /** Forgets an entry (restored, emptied, or gone from the disk). */
  remove(id: string): void {
    this.q.remove.run(id);
  }

  /** Bytes of the entries in the trash (moved or being emptied). */
  bytes(): number {
    return this.q.bytes.get()?.bytes ?? 0;
  }
}
