/**
 * The flush step of a node session: makes applied items durable and acknowledges them, as one
 * group commit at a time (fsync the directories renamed into, record the journal's writes and
 * failures in one store call, then acknowledge to the node), never two at once. When nothing
 * else is being applied a flush follows at once (a single change is not held back); while
 * changes are being applied, results are gathered for up to FLUSH_BUSY_MS or FLUSH_BATCH writes,
 * so the per-flush work (a transaction, the directory fsyncs, an acknowledgement) is shared by
 * many files. A flush that cannot record (the hub's disk is full, say) loses nothing: it is
 * tried again with backoff, and the session shows why meanwhile.
 */
import type { FlushRecord, HubStore } from '../store/hub-store';
import { fsyncDir } from '../sync/apply';
import { errnoProblem } from '../sync/problems';
import { sameVersion, versionOf } from '../sync/reconcile';
import type { Logger } from '../util/log';
import type { ApplyQueue } from './apply-queue';
import type { FailureSet } from './failures';
import { failureChanges, failureKey, type WriteJournal } from './write-journal';

/** Longest a result waits for its flush while other changes are being applied. */
const FLUSH_BUSY_MS = 50;
/** ...or until this many writes are waiting (one transaction stays short: event-loop lag). */
const FLUSH_BATCH = 512;
/** A failed flush is tried again after this long, doubling up to the max. */
const FLUSH_RETRY_MIN_MS = 1000;
const FLUSH_RETRY_MAX_MS = 30_000;

/**
 * One transaction for the flushes of all sessions in a turn of the event loop: with many nodes
 * connected, each session's flush is small and its own transaction (its COMMIT, a WAL append)
 * cost more than its rows. A flush hands its record here; the records handed in during one turn
 * are written together right after it (setImmediate, no timer: a lone flush waits for nothing
 * but the turn), and each flush goes on (acknowledges) only once its record is written. If the
 * shared transaction fails, each record is tried alone, so one node's failure (its disk full,
 * a bug in its record) holds no other node back and is reported to its own session.
 */
export class FlushGroup {
  private waiting: { nodeId: string; w: FlushRecord; done: (e: Error | null) => void }[] = [];
  private scheduled: NodeJS.Immediate | null = null;

  constructor(private readonly store: Pick<HubStore, 'recordFlush' | 'recordFlushes'>) {}

  /** Resolves once `w` is written (with the others of this turn), rejects if it cannot be. */
  record(nodeId: string, w: FlushRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ nodeId, w, done: (e) => (e ? reject(e) : resolve()) });
      this.scheduled ??= setImmediate(() => this.write());
    });
  }

  private write(): void {
    this.scheduled = null;
    const batch = this.waiting;
    this.waiting = [];
    if (batch.length > 1) {
      try {
        this.store.recordFlushes(batch.map(({ nodeId, w }) => ({ nodeId, w })));
        for (const b of batch) b.done(null);
        return;
      } catch {
        // Rolled back as a whole: each alone below.
      }
    }
    for (const b of batch) {
      try {
        this.store.recordFlush(b.nodeId, b.w);
      } catch (e) {
        b.done(e as Error);
        continue;
      }
      b.done(null);
    }
  }
}

export interface SessionFlushDeps {
  nodeId: string;
  indexId: string;
  store: HubStore;
  /** Records shared with the other sessions' flushes (one transaction a turn); else recorded alone. */
  group?: FlushGroup;
  log: Logger;
  failures: FailureSet;
  queue: ApplyQueue;
  journal: WriteJournal;
  closed(): boolean;
  /** Node changes are being applied or wait to be: results are gathered for a while. */
  busy(): boolean;
  /** The node's sequence acknowledged so far. */
  ackedSeq(): number;
  /** The node's latest IndexDone, and whether a full pass is still being taken in. */
  doneSeq(): number;
  fullPassOpen(): boolean;
  /** Recorded through `seq`: tell the node. */
  acknowledge(seq: number): void;
  /** Paths that were busy may now go to the node. */
  sendHubChanges(): void;
  changed(): void;
}

export class SessionFlush {
  /** The last flush could not be recorded (cleared by the next that is); retried with backoff. */
  error: { code: string; reason: string; at: number } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private backoff = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly dirsToSync = new Set<string>();

  constructor(private readonly d: SessionFlushDeps) {}

  /** A directory renamed into: fsynced by the next flush, before anything in it is recorded. */
  deferDirSync(dir: string): void {
    this.dirsToSync.add(dir);
  }

  /**
   * Something waits to be recorded: flushed in the next turn of the event loop when nothing
   * else is being applied (or FLUSH_BATCH writes wait), else within FLUSH_BUSY_MS.
   */
  schedule(): void {
    if (this.immediate) return;
    if (!this.d.busy() || this.d.journal.size >= FLUSH_BATCH) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.immediate = setImmediate(() => {
        this.immediate = null;
        void this.flush();
      });
      return;
    }
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_BUSY_MS);
  }

  /** Queues a flush after any running one; flushes never overlap. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    this.chain = this.chain.then(() => this.flushNow()).catch((e: Error) => {
      this.d.log.error('session.flush_failed', { node: this.d.nodeId, error: e.message });
    });
    return this.chain;
  }

  /**
   * Makes applied items durable and acknowledges them: fsync the directories renamed into,
   * record the new versions (and failures), then tell the node. Only items whose effects are
   * in this write may be acknowledged. If recording fails (the hub's disk is full, say),
   * nothing is lost: the writes stay queued, nothing is acknowledged, and the flush is tried
   * again with backoff while the node shows the problem.
   */
  private async flushNow(): Promise<void> {
    const { d } = this;
    // Acknowledged: the node's sequence up to the first of its changes not settled yet. A retry
    // of an earlier failure (its seq acknowledged long ago) never holds later changes back.
    const ackedBefore = d.ackedSeq();
    const { waiting, settled, ...through } = d.queue.acknowledgeable(ackedBefore);
    let acked = through.acked;
    // Still visible to unflushed() until they are recorded.
    const writes = d.journal.take();
    const dirs = [...this.dirsToSync];
    this.dirsToSync.clear();
    if (!waiting && d.doneSeq() > acked && !d.fullPassOpen()) acked = Math.max(acked, d.doneSeq());
    if (acked !== ackedBefore) d.log.debug('flush.acks', { node: d.nodeId, from: ackedBefore, to: acked, byQueue: through.acked, waiting, doneSeq: d.doneSeq(), settled: settled.size });
    await Promise.all(dirs.map((dir) => fsyncDir(dir).catch(() => undefined)));
    // A path whose failing version reached the mirror some other way is no longer a problem.
    for (const x of writes.put) {
      const f = d.failures.get('to-hub', x.path);
      if (f?.entry && !writes.failures.has(failureKey('to-hub', x.path)) && sameVersion(versionOf(f.entry), versionOf(x)) && d.failures.clear('to-hub', x.path)) {
        writes.failures.set(failureKey('to-hub', x.path), null);
      }
    }
    const { failed, cleared } = failureChanges(writes);
    try {
      const record = { ...writes, failed, cleared, acked: acked !== d.ackedSeq() ? acked : null, indexId: d.indexId };
      if (d.group) await d.group.record(d.nodeId, record);
      else d.store.recordFlush(d.nodeId, record);
    } catch (e) {
      d.journal.notRecorded(writes);
      for (const dir of dirs) this.dirsToSync.add(dir);
      this.failed(e as Error);
      return;
    }
    if (this.error) {
      d.log.info('session.flush_recovered', { node: d.nodeId, failedFor: Date.now() - this.error.at });
      this.error = null;
      this.backoff = 0;
    }
    d.queue.forget(settled);
    d.journal.recorded(writes);
    // Paths that were busy may now be sent to the node (and conflict copies must be).
    d.sendHubChanges();
    if (acked !== d.ackedSeq()) d.acknowledge(acked);
    d.changed();
  }

  /** Recording failed: keep everything, say so, and try again later (1 s, doubling to 30 s). */
  private failed(e: Error): void {
    const { d } = this;
    const problem = errnoProblem(e, "the hub's database") ?? (/SQLITE_FULL|database or disk is full/i.test(`${(e as NodeJS.ErrnoException).code} ${e.message}`)
      ? { code: 'DISK_FULL', reason: `the hub's database: no space left on the device (${e.message})`, retry: true }
      : { code: 'HUB_DATABASE', reason: `the hub could not record progress: ${e.message}`, retry: true });
    this.backoff = Math.min(FLUSH_RETRY_MAX_MS, Math.max(FLUSH_RETRY_MIN_MS, this.backoff * 2));
    d.log.error('session.flush_failed', { node: d.nodeId, code: problem.code, error: e.message, retryInMs: this.backoff });
    this.error ??= { code: problem.code, reason: problem.reason, at: Date.now() };
    // A closed session's leftovers are not retried: its node resends what was not acknowledged.
    if (!d.closed()) {
      const t = setTimeout(() => void this.flush(), this.backoff);
      t.unref();
    }
    d.changed();
  }
}
