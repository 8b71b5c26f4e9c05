/**
 * The hub→node half of a session: sends the changes made on the hub's side of the mirror (the
 * store's queue of hub changes) in the hub's order, within HUB_WINDOW unacknowledged ones, and
 * settles the node's acknowledgements: applied, failed (a to-node problem, retried), or
 * deferred to a change of the node's own (sent again once the node's changes are settled).
 */
import type { HubStore } from '../store/hub-store';
import { LOCK_FILE } from './lock';
import { tombstone, type CachedEntry, type Entry } from '../sync/types';
import { performance } from 'node:perf_hooks';
import { DEFERRED, toWireEntry, type HubMessage, type WireFileInfo } from '../sync/wire';
import type { Logger } from '../util/log';
import { clip } from '../util/text';
import type { Direction, FailureSet } from './failures';
import type { WriteJournal } from './write-journal';

/** Deferred hub changes go to the node again at most this often. */
const DEFERRED_RESEND_MS = 500;
/**
 * A batch (one hub index message, one batch the node applies and acknowledges) holds at most
 * this many changes, this many bytes of message (block lists of big files) and this many
 * bytes of file content (the cap lets the node acknowledge big files often). A change costs
 * ~25 µs to build (its index row and wire form): a batch is built over a few turns.
 */
export const HUB_BATCH_ENTRIES = 500;
/** A batch is built in slices of about this long, a turn of the event loop between them. */
const BUILD_SLICE_MS = 4;
export const MAX_HUB_BATCH_BYTES = 2 * 1024 * 1024;
export const MAX_HUB_BATCH_FILE_BYTES = 32 * 1024 * 1024;
/**
 * Hub-side changes sent and not yet acknowledged by the node, at most: several batches, so the
 * next ones are on their way (and queued at the node) while it applies one.
 */
export const HUB_WINDOW = 2000;
/**
 * Files of at most this size (one block) go with their content inline (FileInfo.content), up
 * to MAX_HUB_BATCH_INLINE bytes per batch: the node then needs no block round trip for them.
 */
export const INLINE_MAX = 128 * 1024;
export const MAX_HUB_BATCH_INLINE = 1024 * 1024;

export interface HubChangeSenderDeps {
  nodeId: string;
  store: HubStore;
  log: Logger;
  failures: FailureSet;
  journal: WriteJournal;
  send(msg: HubMessage): void;
  refuse(path: string, seq: number, code: string, message: string): void;
  closed(): boolean;
  /** The operator paused the node: nothing is sent (send() again on resume). Absent: never paused. */
  paused?(): boolean;
  /** Node work on this path is queued, running, or not recorded yet: the hub's version waits. */
  busy(wirePath: string): boolean;
  /**
   * The mirror's content of small files as their records say, read off the main thread (null
   * for one not readable as recorded: the node then fetches it). Absent: nothing is sent inline.
   */
  content?(recs: CachedEntry[]): Promise<(Buffer | null)[]>;
  /** The node's highest sequence number taken in: every entry sent reflects it (seenSeq). */
  seenSeq(): number;
  /** Node changes not applied yet. */
  nodePending(): number;
  /** Hub-side changes are queued: what the session knew of the mirror's directories is stale. */
  staleDirs(): void;
  clearFailure(direction: Direction, path: string): void;
  /** Failures were added: flush and retry them. */
  failed(): void;
  changed(): void;
}

export class HubChangeSender {
  /** Sent through this hub sequence number in this session, acknowledged through. */
  private sent: number;
  private acked: number;
  private sending = false;
  /** send() was called while a batch was being built: look again once it is sent. */
  private again = false;
  /** Hub-side changes the node deferred (DEFERRED): sent again once its own changes are settled. */
  private readonly deferred = new Set<string>();
  private deferTimer: NodeJS.Timeout | null = null;
  private nextBatch: NodeJS.Immediate | null = null;
  /** Sent and not acknowledged yet: path → hub sequence number, in order sent. */
  private readonly sentPaths = new Map<string, number>();

  constructor(private readonly d: HubChangeSenderDeps, hubAcked: number) {
    this.acked = this.sent = hubAcked;
  }

  /** Changes the node deferred and has not been sent again yet. */
  get deferredCount(): number {
    return this.deferred.size;
  }

  /** Queues mirror paths whose hub-side version must (again) reach the node, and sends. */
  queue(paths: string[], cause?: string): void {
    const send = paths.filter((p) => p !== LOCK_FILE);
    if (send.length) this.d.store.hubChanges.queue(this.d.nodeId, send, cause ?? null);
    this.queued();
  }

  /** Hub-side changes were queued (here, or with a mirror scan's record): send them. */
  queued(): void {
    // Hub-side changes (deletions among them) make what was known of directories stale.
    this.d.staleDirs();
    // In the next turn: the page of a scan that queued them was one turn of work already.
    this.sendSoon();
  }

  /**
   * Sends queued hub-side changes in the hub's order, within HUB_WINDOW unacknowledged ones:
   * one batch at a time, the next in a later turn of the event loop (sendSoon), until the
   * window is full or the queue empty. Stops at a path that still has node work in progress:
   * what is sent must already reflect every node change up to `seenSeq`, which is how the node
   * knows it may apply it (each entry is checked, and given its `seenSeq`, in one turn).
   *
   * A batch is built in slices of at most BUILD_SLICE_MS (a turn of the event loop between
   * them) and its small files are read off the main thread (`content`), so building a batch
   * never holds the event loop for long; batches still leave one at a time, in order.
   */
  send(): void {
    const { d } = this;
    if (d.closed() || d.paused?.()) return;
    if (this.sending) {
      this.again = true;
      return;
    }
    this.sending = true;
    this.again = false;
    void this.sendBatch().then((more) => {
      this.sending = false;
      if (more || this.again) this.sendSoon();
    }, (e: Error) => {
      this.sending = false;
      this.failed(e);
    });
  }

  private async sendBatch(): Promise<boolean> {
    const { d } = this;
    const room = HUB_WINDOW - (this.sent - this.acked);
    if (room <= 0) return false;
    const rows = d.store.hubChanges.after(d.nodeId, this.sent, Math.min(HUB_BATCH_ENTRIES, room));
    const files: WireFileInfo[] = [];
    /** Small files whose content goes inline: the wire entry and the record it is read as. */
    const inline: { wire: WireFileInfo; rec: CachedEntry }[] = [];
    let bytes = 0;
    let fileBytes = 0;
    let inlineBytes = 0;
    let busy = false;
    let since = performance.now();
    /** What building the batch changed, to undo if the node is paused before it leaves. */
    const sentBefore = this.sent;
    const undo: [string, number | undefined][] = [];
    for (let i = 0; i < rows.length; i++) {
      if ((i & 31) === 31 && performance.now() - since > BUILD_SLICE_MS) {
        await new Promise((r) => setImmediate(r));
        if (d.closed()) return false;
        since = performance.now();
      }
      const r = rows[i]!;
      // Busy: node work on it is queued, running, or not recorded yet.
      if (d.busy(r.path)) {
        busy = true;
        break;
      }
      const rec = d.store.index.file(d.nodeId, r.path);
      const size = rec && rec.type === 'file' ? rec.size : 0;
      if (files.length > 0 && (bytes >= MAX_HUB_BATCH_BYTES || fileBytes + size > MAX_HUB_BATCH_FILE_BYTES)) break;
      const entry: Entry = rec ? { ...rec, seq: r.seq, seenSeq: d.seenSeq() } : { ...tombstone(r.path, r.seq), seenSeq: d.seenSeq() };
      const wire = toWireEntry(entry);
      if (rec && rec.type === 'file' && !rec.deleted && size > 0 && size <= INLINE_MAX && inlineBytes + size <= MAX_HUB_BATCH_INLINE && d.content) {
        inline.push({ wire, rec });
        inlineBytes += size;
        bytes += size;
      }
      files.push(wire);
      bytes += entry.blocks.length + entry.path.length + 256;
      fileBytes += size;
      this.sent = r.seq;
      undo.push([r.path, this.sentPaths.get(r.path)]);
      this.sentPaths.delete(r.path);
      this.sentPaths.set(r.path, r.seq);
    }
    if (inline.length > 0) {
      const contents = await d.content!(inline.map((x) => x.rec));
      inline.forEach((x, i) => {
        const c = contents[i];
        if (c) x.wire.content = c;
      });
    }
    if (d.closed()) return false;
    if (d.paused?.()) {
      // Paused while the batch was being built: it does not leave; it is the first on resume.
      this.sent = sentBefore;
      for (const [p, prev] of undo.reverse()) {
        this.sentPaths.delete(p);
        if (prev !== undefined) this.sentPaths.set(p, prev);
      }
      return false;
    }
    if (files.length) d.send({ hubIndex: { files } });
    return !busy && files.length > 0;
  }

  /** As a failure while handling the node's message would be (node-server.ts onMessage). */
  private failed(e: Error): void {
    this.d.log.error('session.error', { node: this.d.nodeId, error: e.message });
    this.d.refuse('', 0, 'INTERNAL', e.message);
  }

  /** The next batch, in the next turn of the event loop (other work runs between batches). */
  private sendSoon(): void {
    if (this.nextBatch) return;
    this.nextBatch = setImmediate(() => {
      this.nextBatch = null;
      this.send();
    });
  }

  /**
   * The node settled our changes through `seq`: applied, or deferred to a change of its own
   * (the hub decides when that arrives), or `failed` (a problem of the path, to-node, queued
   * again after a backoff; cleared once a later attempt is applied).
   */
  onAck(seq: number, failed: unknown[] = []): void {
    const { d } = this;
    if (!Number.isSafeInteger(seq) || seq > this.sent || seq < this.acked) {
      d.refuse('', seq, 'PROTOCOL', `acknowledgement of hub change ${seq} outside what was sent (${this.acked}..${this.sent})`);
      return;
    }
    const failedPaths = new Map<string, { code: string; reason: string }>();
    for (const f of failed.slice(0, HUB_WINDOW) as { path?: unknown; code?: unknown; message?: unknown }[]) {
      const p = typeof f?.path === 'string' ? f.path : '';
      if (!this.sentPaths.has(p)) continue;
      failedPaths.set(p, { code: clip(typeof f.code === 'string' && /^[A-Z_]{1,40}$/.test(f.code) ? f.code : 'NODE_APPLY_FAILED'), reason: clip(typeof f.message === 'string' ? f.message : '') });
    }
    const now = Date.now();
    for (const [p, sentSeq] of this.sentPaths) {
      if (sentSeq > seq) continue;
      this.sentPaths.delete(p);
      const why = failedPaths.get(p);
      if (!why) {
        d.clearFailure('to-node', p);
        continue;
      }
      if (why.code === DEFERRED) {
        this.deferred.add(p);
        continue;
      }
      const rec = d.failures.fail('to-node', p, why.code, `the node's workspace: ${why.reason}`, true, null, now);
      d.journal.failure('to-node', p, rec);
      d.log.warn('sync.node_failed', { node: d.nodeId, path: p, code: why.code, reason: why.reason, attempt: rec.attempts });
    }
    this.acked = seq;
    // Failed and deferred paths are not delivered: their failure (or next sending) is what the change log says.
    d.store.hubChanges.ack(d.nodeId, seq, new Set(failedPaths.keys()));
    if (this.deferred.size) this.resendDeferredSoon();
    if (failedPaths.size) d.failed();
    this.sendSoon();
    d.changed();
  }

  /** The session ended: nothing is sent again. */
  stop(): void {
    if (this.deferTimer) clearTimeout(this.deferTimer);
    if (this.nextBatch) clearImmediate(this.nextBatch);
    this.nextBatch = null;
  }

  /**
   * Sends deferred paths again once the node's own changes have been settled (nothing of the
   * node's is waiting here), at most every DEFERRED_RESEND_MS: the node's change may still be
   * on its way, and the node then defers again.
   */
  private resendDeferredSoon(): void {
    if (this.deferTimer || this.d.closed()) return;
    this.deferTimer = setTimeout(() => {
      this.deferTimer = null;
      if (this.d.closed() || this.deferred.size === 0) return;
      if (this.d.nodePending() > 0) return this.resendDeferredSoon();
      const paths = [...this.deferred].filter((p) => !this.sentPaths.has(p));
      for (const p of paths) this.deferred.delete(p);
      this.d.log.debug('sync.resend_deferred', { node: this.d.nodeId, paths: paths.length, examples: paths.slice(0, 5) });
      this.queue(paths, 'DEFERRED');
      if (this.deferred.size) this.resendDeferredSoon();
    }, DEFERRED_RESEND_MS);
    this.deferTimer.unref();
  }
}
