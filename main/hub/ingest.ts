/**
 * The ingest step of a node session: the node's index entries and IndexDone markers, taken in
 * order, in slices of a few milliseconds (INGEST_SLICE_MS), so a 1000-entry batch (validation,
 * a lookup and a verdict per entry) never holds the event loop for long. Each entry is checked
 * (sync/validate.ts, the node's sequence order, the mirror's lock) and handed to the judge; a
 * full index's IndexDone turns what the node no longer mentions into deletions.
 */
import { performance } from 'node:perf_hooks';
import type { HubStore } from '../store/hub-store';
import { LOCK_FILE } from './lock';
import { tombstone, type Entry } from '../sync/types';
import { entryProblem, refusalCode } from '../sync/validate';
import { fromWireEntry, type HubMessage } from '../sync/wire';
import type { Logger } from '../util/log';
import { clip } from '../util/text';
import type { Direction } from './failures';
import type { SessionLock } from './session';

/** Longest the index ingest holds the event loop at a time. */
const INGEST_SLICE_MS = 4;
/** Lock refusals remembered per mirror, at most. */
const MAX_FAILURES_KEPT = 500;

export interface IngestDeps {
  nodeId: string;
  store: HubStore;
  log: Logger;
  lock: SessionLock;
  closed(): boolean;
  /** The operator paused the node: what arrives is kept, not taken in (resume() takes it in). */
  paused(): boolean;
  send(msg: HubMessage): void;
  refuse(path: string, seq: number, code: string, message: string): void;
  failEntry(e: Entry, code: string, reason: string, retryable: boolean, canRetry?: boolean): void;
  clearFailure(direction: Direction, path: string): void;
  judgeAndEnqueue(e: Entry): void;
  /** `cause`: why the hub's version goes (again) to the node, for the change log (e.g. LOCKED). */
  queueForNode(paths: string[], cause?: string): void;
  /** Start what was queued. */
  pump(): void;
  /** The node's index is complete up to `seq`. */
  indexDone(seq: number): void;
  changed(): void;
}

export class IndexIngest {
  /** Highest sequence number accepted from the node in this session. */
  lastSeq: number;
  /** Paths the node's full index has mentioned so far (null: no full index being taken in). */
  private fullPass: Set<string> | null;
  private readonly items: { entry?: unknown; done?: { seq: number; full: boolean } }[] = [];
  private head = 0;
  private draining = false;

  constructor(private readonly d: IngestDeps, ackedSeq: number, wantFull: boolean) {
    this.lastSeq = ackedSeq;
    this.fullPass = wantFull ? new Set() : null;
  }

  /** Entries and markers received and not taken in yet. */
  get waiting(): number {
    return this.items.length - this.head;
  }

  /** A full index is being taken in (its IndexDone has not come). */
  get fullPassOpen(): boolean {
    return this.fullPass !== null;
  }

  /**
   * Index entries and IndexDone markers are ingested in order, in slices of a few
   * milliseconds, so a 1000-entry batch (validation, a lookup and a plan per entry) never
   * holds the event loop for long.
   */
  onIndex(files: unknown[]): void {
    for (const w of files) this.items.push({ entry: w });
    this.drainSoon();
  }

  onDone(seq: number, full: boolean): void {
    this.items.push({ done: { seq, full } });
    this.drainSoon();
  }

  /** The node was resumed: what arrived meanwhile is taken in now. */
  resume(): void {
    this.drainSoon();
  }

  private drainSoon(): void {
    if (this.draining || this.d.closed() || this.d.paused()) return;
    this.draining = true;
    setImmediate(() => this.drain1());
  }

  private drain1(): void {
    const until = performance.now() + INGEST_SLICE_MS;
    while (this.head < this.items.length && performance.now() < until && !this.d.closed() && !this.d.paused()) {
      const item = this.items[this.head++]!;
      try {
        if (item.entry !== undefined) this.ingestEntry(item.entry);
        else if (item.done) this.applyDone(item.done.seq, item.done.full);
      } catch (e) {
        // A bug must not stop the hub: this entry is refused, the others go on.
        this.d.log.error('session.error', { node: this.d.nodeId, error: (e as Error).message, stack: (e as Error).stack });
        this.d.refuse(typeof (item.entry as { path?: unknown })?.path === 'string' ? (item.entry as { path: string }).path : '', 0, 'INTERNAL', `the hub failed on this entry: ${(e as Error).message}`);
      }
    }
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    }
    this.d.pump();
    this.d.changed();
    if (this.head < this.items.length && !this.d.closed() && !this.d.paused()) setImmediate(() => this.drain1());
    else this.draining = false;
  }

  private ingestEntry(w: unknown): void {
    const e = fromWireEntry(w as never);
    // Acknowledgements assume the node's order: every entry must come after the last one.
    const problem = entryProblem(e) ?? (e.seq <= this.lastSeq ? `sequence number ${e.seq} does not follow ${this.lastSeq}` : null);
    if (problem) {
      const code = refusalCode(problem);
      if (code === 'PROTOCOL') this.d.refuse(e.path, e.seq, code, problem);
      else if (e.deleted) {
        // The node no longer has what it could not send: nothing is missing any more.
        this.d.refuse(e.path, e.seq, code, problem);
        this.d.clearFailure('to-hub', e.path);
      } else this.d.failEntry({ ...e, blocks: Buffer.alloc(0) }, code, problem, false, false);
      return;
    }
    this.lastSeq = e.seq;
    if (e.type === 'file' && !e.deleted) e.mode &= 0o777;
    this.fullPass?.add(e.path);
    const glob = this.lockedBy(e);
    if (glob) {
      this.refuseLocked(e, glob);
      return;
    }
    this.d.judgeAndEnqueue(e);
  }

  /**
   * The lock glob that forbids this change, if any: the path itself, or (for a deletion or a
   * directory replaced by something else) a recorded path below it.
   */
  private lockedBy(e: Entry): string | null {
    const own = this.d.lock.lockOf(e.path);
    if (own) return own;
    // Without globs only the root lock file is locked, and no subtree can hold it: no lookup
    // per entry (this runs for every entry a node sends).
    if (this.d.lock.globs.length === 0 || (!e.deleted && e.type === 'dir')) return null;
    for (const p of this.d.store.index.pathsUnder(this.d.nodeId, e.path)) {
      const g = this.d.lock.lockOf(p);
      if (g) return g;
    }
    return null;
  }

  private refuseLocked(e: Entry, glob: string): void {
    const message = glob === LOCK_FILE
      ? `"${clip(e.path)}" is the mirror's lock file, which only the hub side may change`
      : `"${clip(e.path)}" is immutable on the hub (locked by "${clip(glob)}" in ${LOCK_FILE}); the hub's version stays`;
    this.d.log.warn('input.rejected', { node: this.d.nodeId, path: clip(e.path), seq: e.seq, code: 'LOCKED', lock: glob, reason: message });
    this.d.lock.refused.delete(e.path);
    this.d.lock.refused.set(e.path, { path: clip(e.path), glob, at: Date.now() });
    if (this.d.lock.refused.size > MAX_FAILURES_KEPT) this.d.lock.refused.delete(this.d.lock.refused.keys().next().value!);
    this.d.send({ refusal: { path: clip(e.path), seq: e.seq, code: 'LOCKED', message } });
    // Into the change log (its own small write: a refusal is rare and has no transaction around it).
    if (clip(e.path) === e.path) {
      this.d.store.changes.add([{
        nodeId: this.d.nodeId, path: e.path, direction: 'to-hub', action: 'refused', size: e.deleted || e.type !== 'file' ? null : e.size,
        hash: e.deleted || e.type !== 'file' ? null : e.hash, seq: e.seq, code: 'LOCKED', detail: message,
      }]);
    }
    // The hub's version goes back to the node. A locked path the hub does not have is left to
    // the node (refused, counted, logged): deleting the node's new file would lose it.
    if (glob !== LOCK_FILE && (this.d.store.index.file(this.d.nodeId, e.path) || e.deleted)) this.d.queueForNode([e.path], 'LOCKED');
    this.d.changed();
  }

  private applyDone(seq: number, full: boolean): void {
    if (full && this.fullPass) {
      // Paths the mirror has but the node's full index does not mention are gone on the node.
      const seen = this.fullPass;
      this.fullPass = null;
      // Locked paths stay (the lock file too: it exists only on the hub).
      const stale = this.d.store.index.paths(this.d.nodeId).filter((p) => !seen.has(p) && !this.d.lock.lockOf(p));
      for (const p of stale.sort((a, b) => b.length - a.length)) {
        this.d.judgeAndEnqueue(tombstone(p, seq));
      }
    }
    this.d.indexDone(seq);
  }
}
