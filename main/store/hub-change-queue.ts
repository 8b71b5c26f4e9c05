/**
 * The hub→node queue (table `hub_changes`, and the `hub_seq` / `hub_acked` counters of the node's
 * row): paths changed on the hub's side of a mirror that the node has not applied yet, in the
 * hub's own sequence. A part of HubStore, on its connection.
 */
import type { ChangeLog } from './change-log';
import type { DB } from './db';

/** A node's pending figures are counted again at most this often while nothing is queued or acknowledged. */
const PENDING_FRESH_MS = 1000;

export class HubChangeQueue {
  private readonly q;
  /**
   * Each node's queue length, kept in memory once read (the in-sync check asks after every
   * change of a session: no SQL count each time). Updated by every write here; a write that
   * throws, or a transaction around it that throws (HubStore calls `invalidate`), drops the
   * node's entry so that the next `count` reads it again.
   */
  private readonly counts = new Map<string, number>();
  /**
   * The bytes of pending() per node, as last summed: the sum joins every queued row with its
   * file, and the status asks for it at every change (it was the hub's top function during a
   * 20k-file burst). Queueing, acknowledging and forgetting drop it; the bytes of a queued file
   * that changes otherwise show within PENDING_FRESH_MS. (The number of files is `counts`.)
   */
  private readonly pendingCache = new Map<string, { bytes: number; at: number }>();

  constructor(private readonly db: DB, private readonly changes: ChangeLog) {
    this.q = {
      bumpHubSeq: db.prepare<[string], { hub_seq: number }>('UPDATE nodes SET hub_seq = hub_seq + 1 WHERE id = ? RETURNING hub_seq'),
      unqueueHubChange: db.prepare('DELETE FROM hub_changes WHERE node_id = ? AND path = ?'),
      queueHubChange: db.prepare('INSERT INTO hub_changes (node_id, seq, path) VALUES (?, ?, ?)'),
      hubChangesAfter: db.prepare<[string, number, number], { seq: number; path: string }>('SELECT seq, path FROM hub_changes WHERE node_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
      hubAck: db.prepare('UPDATE nodes SET hub_acked = max(hub_acked, ?) WHERE id = ?'),
      pruneHubChanges: db.prepare<[string, number], { seq: number; path: string }>('DELETE FROM hub_changes WHERE node_id = ? AND seq <= ? RETURNING seq, path'),
      position: db.prepare<[string, string], { seq: number }>('SELECT seq FROM hub_changes WHERE node_id = ? AND path = ?'),
      ahead: db.prepare<[string, number], { n: number }>('SELECT count(*) AS n FROM hub_changes WHERE node_id = ? AND seq < ?'),
      head: db.prepare<[string, number, number], { path: string }>('SELECT path FROM hub_changes WHERE node_id = ? AND seq < ? ORDER BY seq LIMIT ?'),
      deleteAllHubChanges: db.prepare('DELETE FROM hub_changes WHERE node_id = ?'),
      hubPending: db.prepare<[string], { files: number; bytes: number | null }>('SELECT count(*) AS files, sum(f.size) AS bytes FROM hub_changes c LEFT JOIN files f ON f.node_id = c.node_id AND f.path = c.path AND f.type = 0 WHERE c.node_id = ?'),
      hubChangesUnder: db.prepare<[string, string, string], { n: number }>('SELECT count(*) AS n FROM hub_changes WHERE node_id = ? AND path >= ? AND path < ?'),
      hubCount: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM hub_changes WHERE node_id = ?'),
    };
  }

  /** Runs a write that changes the node's queue length by what it returns (its entry dropped if it throws). */
  private counted(nodeId: string, write: () => number): void {
    try {
      const delta = write();
      const n = this.counts.get(nodeId);
      if (n !== undefined) this.counts.set(nodeId, n + delta);
    } catch (e) {
      this.counts.delete(nodeId);
      throw e;
    }
  }

  /** A transaction that wrote to the node's queue was rolled back: its length is read again. */
  invalidate(nodeId: string): void {
    this.counts.delete(nodeId);
    this.pendingCache.delete(nodeId);
  }

  /** How many hub-side changes the node has not applied yet (in memory after the first read). */
  count(nodeId: string): number {
    let n = this.counts.get(nodeId);
    if (n === undefined) {
      n = this.q.hubCount.get(nodeId)!.n;
      this.counts.set(nodeId, n);
    }
    return n;
  }

  /**
   * Queues paths changed on the hub's side for the node, each with the next hub sequence
   * number (a path already queued moves to the end: only its latest state is sent). Each is
   * noted in the change log, in the same transaction (`cause`: why, when not an edit on the
   * hub's side: e.g. LOCKED, the hub's version sent back over a refused change).
   */
  queue(nodeId: string, paths: Iterable<string>, cause: string | null = null): void {
    this.pendingCache.delete(nodeId);
    this.counted(nodeId, () => this.db.transaction(() => {
      let delta = 0;
      const at = Date.now();
      for (const p of paths) {
        delta -= this.q.unqueueHubChange.run(nodeId, p).changes;
        const { hub_seq } = this.q.bumpHubSeq.get(nodeId)!;
        delta += this.q.queueHubChange.run(nodeId, hub_seq, p).changes;
        this.changes.queued(nodeId, p, hub_seq, cause, at);
      }
      return delta;
    })());
  }

  /**
   * Where a path waits in the node's queue: its sequence number, how many changes are ahead of
   * it and the first few of those (the queue's head: what goes first); null: not queued.
   */
  position(nodeId: string, path: string, headPaths = 3): { seq: number; ahead: number; head: string[] } | null {
    const r = this.q.position.get(nodeId, path);
    if (!r) return null;
    const ahead = this.q.ahead.get(nodeId, r.seq)!.n;
    return { seq: r.seq, ahead, head: ahead > 0 ? this.q.head.all(nodeId, r.seq, headPaths).map((x) => x.path) : [] };
  }

  after(nodeId: string, seq: number, limit: number): { seq: number; path: string }[] {
    return this.q.hubChangesAfter.all(nodeId, seq, limit);
  }

  /**
   * The node has applied (or settled) the hub's changes through `seq`: they are done, and each
   * is noted in the change log as delivered (same transaction), but those in `notApplied` (the
   * node failed or deferred them: their failure, or their next sending, tells).
   */
  ack(nodeId: string, seq: number, notApplied: ReadonlySet<string> = new Set()): void {
    this.pendingCache.delete(nodeId);
    this.counted(nodeId, () => this.db.transaction(() => {
      this.q.hubAck.run(seq, nodeId);
      const done = this.q.pruneHubChanges.all(nodeId, seq);
      this.changes.add(done.filter((d) => !notApplied.has(d.path)).map((d) => ({
        nodeId, path: d.path, direction: 'to-node', action: 'delivered', size: null, seq: d.seq, code: null, detail: null,
      })));
      return -done.length;
    })());
  }

  /** Hub-side changes the node has not applied yet, and the bytes of their files. */
  pending(nodeId: string): { files: number; bytes: number } {
    if (this.count(nodeId) === 0) return { files: 0, bytes: 0 };
    const now = Date.now();
    const c = this.pendingCache.get(nodeId);
    if (c && now - c.at < PENDING_FRESH_MS && !this.db.inTransaction) return { files: this.count(nodeId), bytes: c.bytes };
    const r = this.q.hubPending.get(nodeId)!;
    if (!this.db.inTransaction) this.pendingCache.set(nodeId, { bytes: r.bytes ?? 0, at: now });
    return { files: r.files, bytes: r.bytes ?? 0 };
  }

  /** Hub-side changes queued for the node strictly under a directory (the node has not got them). */
  countUnder(nodeId: string, dir: string): number {
    return this.q.hubChangesUnder.get(nodeId, `${dir}/`, `${dir}0`)!.n;
  }

  /** Forgets the node's whole queue (HubStore.forgetMirror runs it in its transaction). */
  forget(nodeId: string): void {
    this.pendingCache.delete(nodeId);
    this.counted(nodeId, () => -this.q.deleteAllHubChanges.run(nodeId).changes);
  }
}
