/**
 * The order in which a session applies a node's changes: a state machine over queued items,
 * with the work itself injected (`run(item)`), so its ordering is tested without a disk.
 *
 * Items are applied in the node's sequence order with up to FILE_CONCURRENCY pulls at once.
 * Anything that removes a directory or a file (deletions, a file replacing a directory), a
 * conflict, and (where case is ignored) a path naming the same file as one still queued is a
 * barrier (sync/plan.ts isBarrier): it waits for running work and blocks later work, so a
 * rename's new path can reuse the old path's blocks before they are deleted. A newer change of
 * a path replaces its queued one (or aborts its running one). Items stay until a flush has
 * recorded them (acknowledgeable(), forget()).
 */
import type { Expected } from '../sync/expect';
import { isBarrier, type Action } from '../sync/plan';
import type { Side } from '../sync/reconcile';
import type { Entry } from '../sync/types';
import type { PendingFileView } from '../contract';

/**
 * Files pulled at once: many, so small files are not bound by round trips. (256 was ~10 %
 * faster on 1 KiB files but raised the hub's event-loop lag p99 from ~20 to ~26 ms.)...
 */
const FILE_CONCURRENCY = 64;
/**
 * Small files may be pulled many more at once, bounded by their bytes rather than their count
 * (SMALL_FILE_CONCURRENCY × SMALL_PULL_BYTES = 32 MiB at most): their commits then queue up
 * together, so the commit workers take them in large groups (group-commit.ts: one barrier per
 * group; a file that arrives alone at an idle worker pays a per-file fsync). At 64 in flight,
 * node → hub groups averaged ~35 files and 12-22 % of the files went alone.
 */
const SMALL_FILE_CONCURRENCY = 512;
const SMALL_PULL_BYTES = 64 * 1024;
/**
 * ...while the memory of running pulls stays bounded: a file of up to 1 MiB is held whole
 * until it is committed, a bigger one streams to staging through a window of about 2 MiB.
 * (The bytes requested and not yet received are bounded by the block fetcher.)
 */
const MAX_PULL_MEMORY = 64 * 1024 * 1024;
const pullMemory = (e: Entry) => Math.min(e.size, 2 * 1024 * 1024);
/** Cheap operations (mkdir, symlink, metadata) may run more at once, but not unboundedly. */
const OP_CONCURRENCY = 64;

export interface QueueItem {
  entry: Entry;
  action: Action;
  barrier: boolean;
  state: 'queued' | 'running' | 'done';
  abort?: AbortController;
  /** Stopped by a lost connection: not applied, so never acknowledged. */
  interrupted?: boolean;
  /** What the mirror showed when this was decided; the commit checks it is still so (expect.ts). */
  expected: Expected;
  /** A conflict: the losing side's version is kept at `copyTo`. */
  conflict?: { loser: Side; copyTo: string };
  /** Resolves when the item has run. */
  settled?: Promise<void>;
  /**
   * The older change of this path that was running when this one came (aborted, but its
   * commit may be past the point an abort can stop): this one starts after it has settled, so
   * two versions of one path never commit side by side (the older could land last).
   */
  after?: Promise<void>;
  /** Enqueued after an item of a higher sequence number (a retry, a change decided again). */
  outOfOrder?: boolean;
}

export interface ApplyQueueOptions {
  /** The mirror ignores case: two paths folding to one name never run side by side. */
  caseInsensitive: boolean;
  /** Carries out an item; never rejects (failures are the runner's to keep). */
  run(item: QueueItem): Promise<void>;
  /** An item has run (and what it let start has started). */
  ran(item: QueueItem): void;
  /** Limits (tests make them small). */
  limits?: ApplyQueueLimits;
}

export interface ApplyQueueLimits {
  /** Pulls running at once... */
  files: number;
  /** ...except that pulls of at most `smallSize` bytes may start while fewer than `smallFiles` run. */
  smallFiles?: number;
  smallSize?: number;
  /** Other operations running at once. */
  ops: number;
  /** What running pulls may hold in memory. */
  pullMemory: number;
}

export class ApplyQueue {
  private readonly items: QueueItem[] = [];
  private readonly latestByPath = new Map<string, QueueItem>();
  /** How many paths in `latestByPath` fold to each lower-case path (case-insensitive mirrors only). */
  private readonly folded = new Map<string, number>();
  private runningCount = 0;
  /** Paths with an item running (or started and waiting for an older one of its path), how many. */
  private readonly runningPaths = new Map<string, number>();
  /** What running pulls may hold in memory (see MAX_PULL_MEMORY). */
  private memory = 0;
  /** Index of the first item that may still be waiting to start. */
  private cursor = 0;
  private barrierRunning = false;
  private stopped = false;
  /** The operator paused the node: queued items wait (running ones finish) until hold(false). */
  private held = false;
  /** The highest sequence number enqueued so far. */
  private maxSeq = -Infinity;
  /**
   * Items in `items` enqueued below `maxSeq`. While there are none, the items are in the node's
   * order, and acknowledgeable() stops at the first one still waiting (O(settled), not O(queue)).
   */
  private outOfOrder = 0;
  private readonly limits: Required<ApplyQueueLimits>;

  constructor(private readonly o: ApplyQueueOptions) {
    const l = o.limits ?? { files: FILE_CONCURRENCY, smallFiles: SMALL_FILE_CONCURRENCY, smallSize: SMALL_PULL_BYTES, ops: OP_CONCURRENCY, pullMemory: MAX_PULL_MEMORY };
    this.limits = { smallFiles: l.files, smallSize: 0, ...l };
  }

  /** How many may run when this item starts. */
  private limitOf(it: QueueItem): number {
    if (it.action.kind !== 'pull') return this.limits.ops;
    return it.entry.size <= this.limits.smallSize ? Math.max(this.limits.files, this.limits.smallFiles) : this.limits.files;
  }

  /** Items running now. */
  get running(): number {
    return this.runningCount;
  }

  /** Something runs, or waits to start. */
  get busy(): boolean {
    if (this.runningCount > 0) return true;
    for (let i = this.cursor; i < this.items.length; i++) if (this.items[i]!.state === 'queued') return true;
    return false;
  }

  /** The newest item of a path not yet recorded by a flush (queued, running or done). */
  latest(wirePath: string): QueueItem | undefined {
    return this.latestByPath.get(wirePath);
  }

  /**
   * Some change of this path is running: its commit may be on disk before its result is known.
   * Not only the newest one: an older one, aborted by a newer change still queued, may be
   * committing yet (its write is the session's, never an edit on the hub's side).
   */
  runs(wirePath: string): boolean {
    return this.runningPaths.has(wirePath);
  }

  /** Node work on this path is queued, running, or done and not recorded yet. */
  has(wirePath: string): boolean {
    return this.latestByPath.has(wirePath);
  }

  /** Queues a change; a queued one of the same path is dropped, a running one aborted. */
  enqueue(e: Entry, action: Action, expected: Expected, conflict?: QueueItem['conflict']): QueueItem {
    const prev = this.latestByPath.get(e.path);
    let after: Promise<void> | undefined;
    if (prev && prev.state !== 'done') {
      if (prev.state === 'queued') {
        prev.state = 'done';
        // It never runs, but what it waited for may still be running.
        after = prev.after;
      } else {
        prev.abort?.abort();
        after = prev.settled;
      }
    }
    const barrier = isBarrier(e, expected, { conflict: conflict !== undefined, sameFileQueued: this.o.caseInsensitive && this.sameFileQueued(e.path) });
    const item: QueueItem = { entry: e, action, barrier, state: 'queued', expected, ...(conflict ? { conflict } : {}), ...(after ? { after } : {}) };
    if (e.seq < this.maxSeq) {
      item.outOfOrder = true;
      this.outOfOrder++;
    } else this.maxSeq = e.seq;
    this.items.push(item);
    if (!this.latestByPath.has(e.path)) this.countFolded(e.path, 1);
    this.latestByPath.set(e.path, item);
    return item;
  }

  /** Holds queued items (what runs finishes), or starts them again. */
  hold(on: boolean): void {
    this.held = on;
    if (!on) this.pump();
  }

  /** Starts queued items in order, within the concurrency limits. O(started), not O(queue). */
  pump(): void {
    if (this.stopped || this.held) return;
    while (this.cursor < this.items.length) {
      const it = this.items[this.cursor]!;
      if (it.state !== 'queued') {
        this.cursor++;
        continue;
      }
      if (this.barrierRunning) return;
      if (it.barrier) {
        if (this.runningCount > 0) return;
        this.barrierRunning = true;
      } else if (this.runningCount >= this.limitOf(it)) {
        return;
      } else if (it.action.kind === 'pull' && this.runningCount > 0 && this.memory + pullMemory(it.entry) > this.limits.pullMemory) {
        return;
      }
      this.cursor++;
      it.state = 'running';
      this.runningCount++;
      const p = it.entry.path;
      this.runningPaths.set(p, (this.runningPaths.get(p) ?? 0) + 1);
      const memory = it.action.kind === 'pull' ? pullMemory(it.entry) : 0;
      this.memory += memory;
      // After the older change of its path, if one still runs; not at all if a newer change came
      // meanwhile or the connection went (then it is interrupted, like what was running).
      const run = () => (this.stopped || this.latestByPath.get(it.entry.path) !== it ? Promise.resolve() : this.o.run(it));
      it.settled = (it.after ? it.after.then(run) : run()).finally(() => {
        delete it.after;
        const left = (this.runningPaths.get(p) ?? 1) - 1;
        if (left > 0) this.runningPaths.set(p, left);
        else this.runningPaths.delete(p);
        it.state = 'done';
        this.runningCount--;
        this.memory -= memory;
        if (it.barrier) this.barrierRunning = false;
        this.pump();
        this.o.ran(it);
      });
    }
  }

  /** The running item of the nearest ancestor directory of a path, if any. */
  runningAncestor(ancestors: string[]): QueueItem | undefined {
    for (const dir of ancestors) {
      const it = this.latestByPath.get(dir);
      if (it?.state === 'running') return it;
    }
    return undefined;
  }

  /** Items not applied yet, and the bytes they pull. */
  pending(): { files: number; bytes: number } {
    let files = 0;
    let bytes = 0;
    for (const it of this.items) {
      if (it.state === 'done') continue;
      files++;
      if (it.action.kind === 'pull') bytes += it.entry.size;
    }
    return { files, bytes };
  }

  /** The first `limit` items not applied yet, in the order they will be applied. */
  pendingItems(limit: number): PendingFileView[] {
    const out: PendingFileView[] = [];
    for (const it of this.items) {
      if (out.length >= limit) break;
      if (it.state === 'done') continue;
      out.push({ path: it.entry.path, action: it.action.kind, size: it.action.kind === 'pull' ? it.entry.size : 0, state: it.state });
    }
    return out;
  }

  /**
   * Up to `limit` items not applied yet whose node sequence number is above `afterSeq`, by that
   * number (a page of nodes.pending: the last one's number is the next page's cursor). Sorted
   * here, since retries of earlier failures run out of order; the queue is bounded (in flight).
   */
  pendingAfter(afterSeq: number, limit: number): { seq: number; view: PendingFileView }[] {
    const out: { seq: number; view: PendingFileView }[] = [];
    for (const it of this.items) {
      if (it.state === 'done' || it.entry.seq <= afterSeq) continue;
      out.push({ seq: it.entry.seq, view: { path: it.entry.path, action: it.action.kind, size: it.action.kind === 'pull' ? it.entry.size : 0, state: it.state } });
    }
    return out.sort((a, b) => a.seq - b.seq).slice(0, limit);
  }

  /**
   * What a flush may record and acknowledge: the node's sequence up to the first of its changes
   * not settled yet (`waiting`: there is one), and the items settled within it. A retry of an
   * earlier failure (its seq acknowledged long ago) never holds later changes back.
   */
  acknowledgeable(ackedSeq: number): { acked: number; waiting: boolean; settled: Set<QueueItem> } {
    let acked = ackedSeq;
    let waiting = false;
    const settled = new Set<QueueItem>();
    for (const it of this.items) {
      const retry = it.entry.seq <= ackedSeq;
      if (it.state !== 'done' || it.interrupted) {
        if (!retry) {
          waiting = true;
          // In the node's order, everything after it has a higher number: none is a retry, so
          // none can be settled now. Stopping here keeps a flush O(settled), not O(queue).
          if (this.outOfOrder === 0) break;
        }
        continue;
      }
      // Done after one still waiting: stays queued until it can be acknowledged in order.
      if (waiting && !retry) continue;
      settled.add(it);
      acked = Math.max(acked, it.entry.seq);
    }
    return { acked, waiting, settled };
  }

  /** What a flush recorded leaves the queue (in place; pump() goes on from where it was). */
  forget(settled: Set<QueueItem>): void {
    // Usually what was settled is the start of the queue: cut it off, without a pass over the rest.
    let prefix = 0;
    while (prefix < this.items.length && settled.has(this.items[prefix]!)) prefix++;
    if (prefix === settled.size) {
      for (let i = 0; i < prefix; i++) this.drop(this.items[i]!);
      this.items.splice(0, prefix);
      this.cursor = Math.max(0, this.cursor - prefix);
      return;
    }
    let kept = 0;
    let cursor = 0;
    for (let i = 0; i < this.items.length; i++) {
      const it = this.items[i]!;
      if (!settled.has(it)) {
        if (i < this.cursor) cursor++;
        this.items[kept++] = it;
        continue;
      }
      this.drop(it);
    }
    this.items.length = kept;
    // Items before the cursor never wait to start again (states only move forward).
    this.cursor = cursor;
  }

  /** An item leaves the queue. */
  private drop(it: QueueItem): void {
    if (it.outOfOrder) this.outOfOrder--;
    if (this.latestByPath.get(it.entry.path) === it) {
      this.latestByPath.delete(it.entry.path);
      this.countFolded(it.entry.path, -1);
    }
  }

  /**
   * The connection went: running items are aborted, and count as interrupted (never
   * acknowledged: the node sends them again on resume), whatever their run reports; nothing
   * more starts.
   */
  stop(): void {
    this.stopped = true;
    for (const it of this.items) {
      if (it.state === 'running') it.interrupted = true;
      it.abort?.abort();
    }
  }

  /** Another path that differs from this one only in case has work queued, running or unrecorded. */
  private sameFileQueued(wirePath: string): boolean {
    const n = this.folded.get(wirePath.toLowerCase()) ?? 0;
    return n > (this.latestByPath.has(wirePath) ? 1 : 0);
  }

  /** Keeps `folded` in step with `latestByPath` (case-insensitive mirrors only). */
  private countFolded(wirePath: string, by: 1 | -1): void {
    if (!this.o.caseInsensitive) return;
    const key = wirePath.toLowerCase();
    const n = (this.folded.get(key) ?? 0) + by;
    if (n > 0) this.folded.set(key, n);
    else this.folded.delete(key);
  }
}
