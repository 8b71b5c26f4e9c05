/**
 * The hub's event log (table `events`): audit events (nodes added and retired, purges), kept
 * for good, and session events (connects, disconnects, syncs completed), kept as recent history
 * only. A part of HubStore, on its connection.
 */
import type { DB } from './db';

export interface EventRecord {
  id: number;
  at: number;
  nodeId: string | null;
  kind: string;
  data: Record<string, unknown>;
}

/** Events about sessions rather than decisions: kept only as recent history. */
export const SESSION_EVENT_KINDS: readonly string[] = ['node.connected', 'node.disconnected', 'sync.complete', 'node.rescan', 'node.rescanned'];
export const SESSION_EVENTS_KEPT = 20_000;

type EventRow = { id: number; at: number; node_id: string | null; kind: string; data: string };

export class EventLog {
  private readonly q;
  private sessionEventsAdded = 0;

  constructor(db: DB) {
    const kinds = SESSION_EVENT_KINDS.map(() => '?').join(', ');
    this.q = {
      addEvent: db.prepare('INSERT INTO events (at, node_id, kind, data) VALUES (?, ?, ?, ?)'),
      eventsAll: db.prepare<[number], EventRow>('SELECT * FROM events ORDER BY id DESC LIMIT ?'),
      eventsByKind: db.prepare<[string, number], EventRow>('SELECT * FROM events WHERE kind = ? ORDER BY id DESC LIMIT ?'),
      eventsByNode: db.prepare<[string, number], EventRow>('SELECT * FROM events WHERE node_id = ? ORDER BY id DESC LIMIT ?'),
      eventsByNodeKind: db.prepare<[string, string, number], EventRow>('SELECT * FROM events WHERE node_id = ? AND kind = ? ORDER BY id DESC LIMIT ?'),
      pruneSessionEvents: db.prepare(`DELETE FROM events WHERE kind IN (${kinds}) AND id NOT IN (SELECT id FROM events WHERE kind IN (${kinds}) ORDER BY id DESC LIMIT ?)`),
    };
  }

  /**
   * Records an event. Audit events (node added/retired, purges) are kept for good; session
   * events (SESSION_EVENT_KINDS) only the newest SESSION_EVENTS_KEPT, so a node that keeps
   * reconnecting cannot grow the database without bound.
   */
  add(nodeId: string | null, kind: string, data: Record<string, unknown>): void {
    this.q.addEvent.run(Date.now(), nodeId, kind, JSON.stringify(data));
    if (!SESSION_EVENT_KINDS.includes(kind)) return;
    if (++this.sessionEventsAdded % 500 === 0) this.pruneSession(SESSION_EVENTS_KEPT);
  }

  /** Keeps only the newest `keep` session events; returns how many went. */
  pruneSession(keep: number): number {
    return this.q.pruneSessionEvents.run(...SESSION_EVENT_KINDS, ...SESSION_EVENT_KINDS, keep).changes;
  }

  list(filter: { nodeId?: string; kind?: string; limit?: number } = {}): EventRecord[] {
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 10_000);
    const rows = filter.nodeId && filter.kind ? this.q.eventsByNodeKind.all(filter.nodeId, filter.kind, limit)
      : filter.nodeId ? this.q.eventsByNode.all(filter.nodeId, limit)
      : filter.kind ? this.q.eventsByKind.all(filter.kind, limit)
        : this.q.eventsAll.all(limit);
    return rows.map((r) => ({ id: r.id, at: r.at, nodeId: r.node_id, kind: r.kind, data: JSON.parse(r.data) as Record<string, unknown> }));
  }
}
