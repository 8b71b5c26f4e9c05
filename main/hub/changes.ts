/**
 * Recent changes and file history, for the operator (`changes.list`, `changes.history`): the
 * change log (store/change-log.ts) read a page at a time with names and sentences, one path's
 * timeline with the facts of why it is out of sync (decided by change-why.ts), and the log
 * kept bounded: rows older than the `changesRetentionDays` setting, or beyond CHANGES_MAX_ROWS,
 * are deleted in small batches, one per turn of the event loop, every TRIM_EVERY_MS.
 */
import path from 'node:path';
import { ContractError, HISTORY_MAX, type ChangeActionName, type ChangesListFilter, type ChangesPage, type ChangeView, type FileHistoryView } from '../contract';
import { CHANGES_TRIM_BATCH } from '../store/change-log';
import type { ChangeAction, ChangeRecord, HubStore, NodeRecord } from '../store/hub-store';
import type { Logger } from '../util/log';
import { Retention } from '../util/retention';
import { changeSentence, whyOutOfSync } from './change-why';
import { LOCK_FILE, MirrorLock } from './lock';
import type { NodeRuntimes } from './node-runtime';

/** The log is trimmed this often (and when the retention setting changes). */
const TRIM_EVERY_MS = 10 * 60 * 1000;
const DEFAULT_PAGE = 100;

export interface ChangeDeskDeps {
  store: HubStore;
  log: Logger;
  mode: 'serve' | 'admin';
  runtimes: NodeRuntimes;
  mirrorOf(id: string): string;
  retentionDays(): number;
}

/** The actions a feed filter asks for (undefined: any). */
export function actionsOf(f: Pick<ChangesListFilter, 'action' | 'kind'>): ChangeAction[] | undefined {
  const byKind: Record<NonNullable<ChangesListFilter['kind']>, ChangeAction[]> = {
    change: ['put', 'delete', 'delivered'], conflict: ['conflict'], refusal: ['refused'], failure: ['failed'],
  };
  const kind = f.kind ? byKind[f.kind] : undefined;
  if (f.action && kind) return kind.includes(f.action) ? [f.action] : [];
  return f.action ? [f.action] : kind;
}

export class ChangeDesk {
  private readonly retention: Retention;

  constructor(private readonly d: ChangeDeskDeps) {
    this.retention = new Retention({
      name: 'changes', log: d.log, everyMs: TRIM_EVERY_MS, batch: CHANGES_TRIM_BATCH, days: d.retentionDays,
      step: (olderThan, batch) => d.store.changes.trim(olderThan, undefined, batch),
    });
  }

  /** A page of the feed, newest first. */
  list(f: ChangesListFilter): ChangesPage {
    if (f.nodeId !== undefined && !this.d.store.node(f.nodeId)) throw new ContractError('NOT_FOUND', `no node with id ${f.nodeId}`);
    const limit = f.limit ?? DEFAULT_PAGE;
    const actions = actionsOf(f);
    const rows = actions?.length === 0 ? [] : this.d.store.changes.list({
      nodeId: f.nodeId, path: f.path, prefix: f.prefix, direction: f.direction, actions, before: f.before, limit,
    });
    const names = this.names();
    return {
      items: rows.map((r) => view(r, names)),
      next: rows.length === limit ? rows[rows.length - 1]!.id : null,
      retentionDays: this.d.retentionDays(),
      oldestAt: this.d.store.changes.oldest()?.at ?? null,
    };
  }

  /** One path's timeline, newest first, and why it is out of sync now (if it is). */
  history(nodeId: string, wirePath: string): FileHistoryView {
    const n = this.d.store.node(nodeId);
    if (!n) throw new ContractError('NOT_FOUND', `no node with id ${nodeId}`);
    const rows = this.d.store.changes.history(nodeId, wirePath, HISTORY_MAX + 1);
    const names = new Map([[n.id, n.name]]);
    const f = this.d.store.index.file(nodeId, wirePath);
    const why = whyOutOfSync(this.facts(n, wirePath));
    return {
      nodeId, nodeName: n.name, path: wirePath,
      current: f ? { type: f.type, size: f.type === 'file' ? f.size : 0, mtimeMs: f.mtimeMs, hash: f.hash.toString('hex') } : null,
      inSync: why.length === 0, why,
      events: rows.slice(0, HISTORY_MAX).map((r) => view(r, names)),
      truncated: rows.length > HISTORY_MAX,
    };
  }

  /** What the hub knows of the path now (change-why.ts decides what it means). */
  private facts(n: NodeRecord, wirePath: string) {
    const rt = this.d.runtimes.get(n.id);
    const s = rt?.session && !rt.session.closed ? rt.session : null;
    // A serving hub keeps each lock loaded; a one-shot admin command reads it for this answer.
    let lock: MirrorLock | null = rt?.mirror.lock ?? null;
    if (!lock && n.retiredAt === null) {
      lock = new MirrorLock(path.join(this.d.mirrorOf(n.id), LOCK_FILE));
      try {
        lock.load();
      } catch {
        lock = null;
      }
    }
    const failures = (rt ? rt.failures.list().filter((x) => x.path === wirePath) : this.d.store.failures.forPath(n.id, wirePath));
    const queued = this.d.store.hubChanges.position(n.id, wirePath);
    // The lock holds the path out of sync only until the hub's version is back on the node: while
    // the refusal is the latest word on it, or the version sent back because of it still waits.
    const latest = this.d.store.changes.history(n.id, wirePath, 1)[0];
    return {
      now: Date.now(), pausedAt: n.pausedAt, retired: n.retiredAt !== null, connected: s !== null, lastSeen: n.lastSeen,
      queued,
      toHub: s?.nodeChange(wirePath) ?? null,
      failures: failures.map((x) => ({ direction: x.direction, code: x.code, reason: x.reason, attempts: x.attempts, retryAt: x.retryAt })),
      nodeProblems: this.d.store.reports.problemsAt(n.id, wirePath).map((p) => ({ code: p.code, reason: p.reason })),
      lockGlob: lock?.lockOf(wirePath) ?? null,
      lockRefused: latest?.action === 'refused' || (queued !== null && latest?.code === 'LOCKED'),
    };
  }

  private names(): Map<string, string> {
    return this.d.store.nodeNames();
  }

  // ---- retention ----------------------------------------------------------------------------

  /** Trims now and every TRIM_EVERY_MS (a serving hub). */
  start(): void {
    if (this.d.mode === 'serve') this.retention.start();
  }

  stop(): void {
    this.retention.stop();
  }

  /** Deletes what the retention keeps no more (util/retention.ts); resolves with how many rows went. */
  trim(now = Date.now()): Promise<number> {
    return this.retention.trim(now);
  }
}

function view(r: ChangeRecord, names: Map<string, string>): ChangeView {
  return {
    id: r.id, at: r.at, nodeId: r.nodeId, nodeName: names.get(r.nodeId) ?? null, path: r.path, direction: r.direction, action: r.action as ChangeActionName,
    madeBy: r.direction === 'to-hub' ? 'node' : 'hub', size: r.size, hash: r.hash, seq: r.seq, code: r.code, detail: r.detail,
    sentence: changeSentence(r),
  };
}
