/**
 * One connected node: wires the steps of its sync together and answers for it (status, the
 * hub's calls). Each step has its own file:
 *
 *   ingest (ingest.ts) → judge (judge.ts, pure) → enqueue (apply-queue.ts) → apply
 *   (mirror-apply.ts, blocks from the node through sync/block-fetcher.ts) → journal
 *   (write-journal.ts) → flush (session-flush.ts: record, then acknowledge to the node)
 *
 * and beside them the hub-side changes going to the node (hub-change-sender.ts) and the retries
 * of what failed (retries.ts). The queue stays bounded because the node keeps at most
 * INDEX_WINDOW unacknowledged entries in flight (wire.ts); the stream itself is never paused,
 * so block responses always get in.
 *
 * A little over 400 lines: the wiring of the steps (each one's deps, as closures over this
 * session) and the session's answers to the hub; the work itself is in the files above.
 */
import * as grpc from '@grpc/grpc-js';
import type { ApplyContext } from '../sync/apply';
import { BlockFetcher } from '../sync/block-fetcher';
import { judge, keepAside, type Verdict } from './judge';
import { ApplyQueue } from './apply-queue';
import { HubChangeSender } from './hub-change-sender';
import { IndexIngest } from './ingest';
import { MirrorApplier } from './mirror-apply';
import { Retries } from './retries';
import { type FlushGroup, SessionFlush } from './session-flush';
import { WriteJournal } from './write-journal';
import type { CommitIntents } from './commit-intents';
import { requestMessages, responseMessages, type BlockRequest, type HubMessage, type NodeMessage } from '../sync/wire';
import type { CachedEntry, Entry } from '../sync/types';
import type { HubStore } from '../store/hub-store';
import { FailureSet, type Direction } from './failures';
import type { HeldView, LockRefusalView, PendingFileView } from '../contract';
import type { FsPool } from '../sync/fs-pool';
import type { PartialFiles } from './partials';
import type { Logger } from '../util/log';
import { clip } from '../util/text';

/** Bytes requested from the node and not yet received, at most (sync/block-fetcher.ts). */
const MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024;
/** Blocks the node asked for are read by a pool worker this many bytes at a time (onNodeRequests). */
const SERVE_CHUNK_BYTES = 2 * 1024 * 1024;
/** Failing paths kept per node (persisted), at most. */
const MAX_FAILURES = 10_000;
/** Index entries held while the node is paused, at most (an honest node stays within INDEX_WINDOW). */
const MAX_HELD_ENTRIES = 50_000;

export type Duplex = grpc.ServerDuplexStream<NodeMessage, HubMessage>;

/** What the session needs from the hub around it (hub-service.ts). */
export interface SessionHooks {
  /** Rescans these mirror paths and records what changed on the hub's side. */
  rescan(paths: string[]): Promise<void>;
  /** The session wrote these mirror paths: a scan running now must not take them for hub-side edits. */
  written(paths: string[]): void;
  /** The mirror's file system ignores case (probed once per mirror by the hub). */
  readonly caseInsensitive: boolean;
  /** The mode a node's entry gets on disk in the mirror (the mirror mode rule, sync/modes.ts). */
  diskMode(mode: number): number;
}

export interface SessionCounters {
  bytesReceived: number;
  bytesReused: number;
  /** Bytes of the mirror sent to the node (blocks it asked for, small files sent whole): hub → node progress. */
  bytesSent: number;
}

/** The mirror's immutability lock as a session sees it (hub-service.ts keeps it current). */
export interface SessionLock {
  lockOf(wirePath: string): string | null;
  /** The lock's globs (none: only the lock file itself is locked). */
  readonly globs: readonly string[];
  /** Refusals by path, oldest first (bounded by the session). */
  refused: Map<string, LockRefusalView>;
}

/** What a session is made of (hub-service.ts acceptSession). */
export interface NodeSessionDeps {
  nodeId: string;
  call: Duplex;
  /** The node's address as gRPC sees it (for the operator: who connected from where). */
  peer: string;
  store: HubStore;
  mirrorRoot: string;
  stagingDir: string;
  pool: FsPool;
  log: Logger;
  failures: FailureSet;
  /** Something the status shows changed. */
  onChange: () => void;
  /** The node's index id (Hello). */
  indexId: string;
  /** The node sends its whole index: paths it does not mention are gone there. */
  wantFull: boolean;
  lock: SessionLock;
  partials: PartialFiles;
  /** The mirror's commit intents (commit-intents.ts), noted before each commit of a node version. */
  intents: CommitIntents;
  hooks: SessionHooks;
  /** Shares one transaction a turn among the sessions' flushes (session-flush.ts). */
  flushGroup?: FlushGroup;
  /** The operator has paused the node (setPaused() changes it). */
  paused?: boolean;
}

export class NodeSession {
  readonly connectedAt = Date.now();
  readonly counters: SessionCounters = { bytesReceived: 0, bytesReused: 0, bytesSent: 0 };
  /** Node's latest IndexDone: its index is complete up to this seq. -1 until the first. */
  doneSeq = -1;
  /** What the node said it holds back while paused (Held), or null: not said in this session. */
  held: HeldView | null = null;
  ackedSeq: number;
  closed = false;
  /**
   * The operator paused the node: nothing flows either way. The node's index entries that
   * arrive are kept unapplied and unacknowledged (ingest), queued ones wait, failures are not
   * tried again, and no hub-side change is sent; what was running or on the wire finishes.
   */
  private paused: boolean;
  /** Node changes in the order they are applied (apply-queue.ts). */
  private readonly queue: ApplyQueue;
  /** What this session wrote and has not recorded yet (write-journal.ts). */
  private readonly journal: WriteJournal;
  /** Hub-side changes, to the node (hub-change-sender.ts). */
  private readonly toNodeSender: HubChangeSender;
  /** Records what was applied and acknowledges it (session-flush.ts). */
  private readonly flusher: SessionFlush;
  /** Tries failed changes again (retries.ts). */
  private readonly retries: Retries;
  /** Blocks of node files, requested from the node (sync/block-fetcher.ts). */
  private readonly blocks: BlockFetcher;
  /** Carries out queued node changes in the mirror (mirror-apply.ts). */
  private readonly applier: MirrorApplier;
  /** Takes the node's index in (ingest.ts). */
  private readonly ingest: IndexIngest;
  private readonly ctx: ApplyContext;
  /** Reads small files for the node off the main thread (inlineContent). */
  private readonly pool: FsPool;

  readonly nodeId: string;
  /** The node's address as gRPC sees it (for the operator: who connected from where). */
  readonly peer: string;
  private readonly call: Duplex;
  private readonly store: HubStore;
  private readonly log: Logger;
  private readonly failures: FailureSet;
  private readonly onChange: () => void;
  private readonly partials: PartialFiles;
  private readonly hooks: SessionHooks;

  constructor(deps: NodeSessionDeps) {
    const { nodeId, store, log, failures, hooks, partials, indexId, wantFull } = deps;
    this.nodeId = nodeId;
    this.peer = deps.peer;
    this.journal = new WriteJournal(deps.intents);
    this.call = deps.call;
    this.store = store;
    this.log = log;
    this.failures = failures;
    this.onChange = deps.onChange;
    this.partials = partials;
    this.hooks = hooks;
    this.paused = deps.paused === true;
    this.blocks = new BlockFetcher({
      peer: 'node',
      maxBytes: MAX_BYTES_IN_FLIGHT,
      send: (requests) => { for (const msg of requestMessages(requests)) this.send(msg); },
    });
    this.pool = deps.pool;
    this.ctx = {
      root: deps.mirrorRoot, stagingDir: deps.stagingDir, pool: deps.pool, deferDirSync: (d) => this.flusher.deferDirSync(d),
      caseInsensitive: hooks.caseInsensitive, diskMode: (m) => hooks.diskMode(m),
      // A large file cut off by the connection: keep what arrived for the next session.
      keepPartial: (entry, staged) => {
        if (!this.closed) return false;
        this.partials.keep(entry, staged);
        this.log.debug('file.partial_kept', { node: this.nodeId, path: entry.path, staged });
        return true;
      },
    };
    this.queue = new ApplyQueue({
      caseInsensitive: hooks.caseInsensitive === true,
      run: (it) => this.applier.run(it).catch((e: Error) => {
        // run() handles every failure it knows; anything else is a bug, kept as the path's problem.
        this.log.error('session.error', { node: this.nodeId, path: it.entry.path, error: e.message, stack: e.stack });
        this.failEntry(it.entry, 'INTERNAL', `the hub failed applying this change: ${e.message}`, true);
      }),
      ran: () => {
        this.scheduleFlush();
        this.onChange();
      },
    });
    this.applier = new MirrorApplier({
      nodeId, ctx: this.ctx, store, log, queue: this.queue, journal: this.journal, partials, blocks: this.blocks, counters: this.counters, hooks,
      closed: () => this.closed,
      ackedSeq: () => this.ackedSeq,
      verdict: (e, aside) => this.verdict(e, aside),
      judgeAndEnqueue: (e) => this.judgeAndEnqueue(e),
      queueForNode: (paths, cause?: string) => this.queueForNode(paths, cause),
      failEntry: (e, code, reason, retryable) => this.failEntry(e, code, reason, retryable),
      clearFailure: (direction, path) => this.clearFailure(direction, path),
      changed: () => this.onChange(),
    });
    this.ackedSeq = wantFull ? 0 : store.node(nodeId)!.ackedSeq;
    if (wantFull) store.setAcked(nodeId, 0, indexId);
    this.ingest = new IndexIngest({
      nodeId, store, log, lock: deps.lock,
      closed: () => this.closed,
      paused: () => this.paused,
      send: (msg) => this.send(msg),
      refuse: (path, seq, code, message) => this.refuse(path, seq, code, message),
      failEntry: (e, code, reason, retryable, canRetry) => this.failEntry(e, code, reason, retryable, canRetry),
      clearFailure: (direction, path) => this.clearFailure(direction, path),
      judgeAndEnqueue: (e) => this.judgeAndEnqueue(e),
      queueForNode: (paths, cause?: string) => this.queueForNode(paths, cause),
      pump: () => this.queue.pump(),
      indexDone: (seq) => this.indexDone(seq),
      changed: () => this.onChange(),
    }, this.ackedSeq, wantFull);
    this.flusher = new SessionFlush({
      nodeId, indexId, store, group: deps.flushGroup, log, failures, queue: this.queue, journal: this.journal,
      closed: () => this.closed,
      busy: () => this.queue.busy || this.ingest.waiting > 0,
      ackedSeq: () => this.ackedSeq,
      doneSeq: () => this.doneSeq,
      fullPassOpen: () => this.ingest.fullPassOpen,
      acknowledge: (seq) => {
        this.ackedSeq = seq;
        this.send({ ack: { seq } });
      },
      sendHubChanges: () => this.sendHubChanges(),
      changed: () => this.onChange(),
    });
    this.retries = new Retries({
      nodeId, root: deps.mirrorRoot, log, failures, queue: this.queue,
      closed: () => this.closed,
      paused: () => this.paused,
      flushErrorCode: () => this.flusher.error?.code,
      flush: () => void this.flusher.flush(),
      judgeAndEnqueue: (e) => this.judgeAndEnqueue(e),
      queueForNode: (paths, cause?: string) => this.queueForNode(paths, cause),
      changed: () => this.onChange(),
    });
    this.toNodeSender = new HubChangeSender({
      nodeId, store, log, failures, journal: this.journal,
      send: (msg) => this.send(msg),
      refuse: (path, seq, code, message) => this.refuse(path, seq, code, message),
      closed: () => this.closed,
      paused: () => this.paused,
      busy: (p) => this.queue.has(p) || this.unflushed(p) !== undefined,
      seenSeq: () => this.ingest.lastSeq,
      content: (recs) => this.inlineContent(recs),
      nodePending: () => this.pending().files,
      staleDirs: () => this.applier.staleDirs(),
      clearFailure: (direction, path) => this.clearFailure(direction, path),
      failed: () => {
        this.scheduleFlush();
        this.scheduleRetry();
      },
      changed: () => this.onChange(),
    }, store.node(nodeId)!.hubAcked);
    this.queue.hold(this.paused);
  }

  /** The operator paused the node's sync: nothing flows either way. */
  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * Pauses or resumes this session's sync and tells the node (SyncPause). On resume what was
   * held on the hub's side goes on: the node's entries that arrived are taken in, queued work
   * starts, failures due are tried again and the hub's changes are sent.
   */
  setPaused(paused: boolean): void {
    if (this.closed || paused === this.paused) return;
    this.paused = paused;
    this.send({ pause: { paused } });
    this.queue.hold(paused);
    if (!paused) {
      this.ingest.resume();
      this.retries.retryDue('due');
      this.sendHubChanges();
      this.scheduleFlush();
    }
    this.onChange();
  }

  /** Entries not applied yet (including those still being ingested), and the bytes to pull. */
  pending(): { files: number; bytes: number } {
    const queued = this.queue.pending();
    return { files: this.ingest.waiting + queued.files, bytes: queued.bytes };
  }

  /** The first `limit` entries not applied yet, in the order they will be applied. */
  pendingItems(limit: number): PendingFileView[] {
    return this.queue.pendingItems(limit);
  }

  /** A page of the entries not applied yet, by the node's sequence number (ApplyQueue.pendingAfter). */
  pendingAfter(afterSeq: number, limit: number): { seq: number; view: PendingFileView }[] {
    return this.queue.pendingAfter(afterSeq, limit);
  }

  /**
   * What this session wrote at a mirror path and has not recorded yet (`orRecent`: or recorded
   * in the last second or so, which is when the watcher reports it): the new stamp, null for a
   * deletion (also of a parent directory), undefined when there is nothing. Lets the hub tell
   * its own commits from edits on its side without a database lookup per watcher event.
   */
  unflushed(wirePath: string, orRecent = false): CachedEntry | null | undefined {
    return this.journal.unflushed(wirePath, orRecent);
  }

  /** A node change of this path is being applied right now (its result is not known yet). */
  applying(wirePath: string): boolean {
    return this.queue.runs(wirePath);
  }

  /** A node change of this path waits here to be applied ('queued'), is being applied ('running'), or neither (null). */
  nodeChange(wirePath: string): 'queued' | 'running' | null {
    return this.queue.runs(wirePath) ? 'running' : this.queue.has(wirePath) ? 'queued' : null;
  }

  /** Changes made on the hub's side that the node has not applied yet. */
  toNode(): { files: number; bytes: number } {
    return this.store.hubChanges.pending(this.nodeId);
  }

  /**
   * Everything the node has is in the mirror and everything the hub changed reached the node:
   * nothing pending either way, nothing failed, and every result recorded. Never while paused
   * (the node's held changes are not known here).
   */
  get inSync(): boolean {
    return !this.paused && this.doneSeq >= 0 && this.ackedSeq >= this.doneSeq && this.pending().files === 0 && this.store.hubChanges.count(this.nodeId) === 0
      && this.toNodeSender.deferredCount === 0 && this.failures.size === 0 && this.flushError === null;
  }

  send(msg: HubMessage): void {
    if (!this.closed) this.call.write(msg);
  }

  refuse(fullPath: string, seq: number, code: string, fullMessage: string): void {
    // A hostile path can be megabytes long: keep what is logged, remembered and echoed small.
    const path = clip(fullPath);
    const message = clip(fullMessage);
    this.log.warn('input.rejected', { node: this.nodeId, path, seq, code, reason: message });
    this.send({ refusal: { path, seq, code, message } });
  }

  /**
   * A node change that could not be applied: refused to the node, kept as a problem (with the
   * entry, to try again: by itself after a backoff when `retryable`, else on a rescan or a
   * newer version) and recorded with the flush that acknowledges it, so it outlives a restart.
   */
  private failEntry(e: Entry, code: string, reason: string, retryable: boolean, canRetry = true): void {
    this.refuse(e.path, e.seq, code, reason);
    if (e.path === '' || clip(e.path) !== e.path) return;
    if (this.failures.size >= MAX_FAILURES && !this.failures.get('to-hub', e.path)) {
      // Bounded against a hostile node; the node is in error already and says why.
      this.log.warn('sync.failures_capped', { node: this.nodeId, path: clip(e.path), kept: MAX_FAILURES });
      return;
    }
    const rec = this.failures.fail('to-hub', e.path, code, clip(reason), retryable, canRetry ? e : null);
    this.journal.failure('to-hub', e.path, rec);
    this.scheduleRetry();
    this.scheduleFlush();
  }

  /** A path applied (or settled) in one direction: its failure there, if any, is over. */
  private clearFailure(direction: Direction, path: string): void {
    if (!this.failures.clear(direction, path)) return;
    this.journal.failure(direction, path, null);
    this.log.info('sync.recovered', { node: this.nodeId, path, direction });
    this.scheduleFlush();
  }

  /** Index entries and IndexDone markers from the node, taken in order (ingest.ts). */
  onIndex(files: unknown[]): void {
    this.ingest.onIndex(files);
    // An honest node sends nothing while paused but what was on the wire (its window bounds it).
    if (this.paused && this.ingest.waiting > MAX_HELD_ENTRIES) {
      this.log.warn('input.rejected', { node: this.nodeId, code: 'PAUSED', reason: `more than ${MAX_HELD_ENTRIES} index entries sent while paused` });
      this.end(grpc.status.RESOURCE_EXHAUSTED, `this node is paused and sent more than ${MAX_HELD_ENTRIES} index entries: nothing is taken in while paused`);
    }
  }

  onDone(seq: number, full: boolean): void {
    this.ingest.onDone(seq, full);
  }

  /**
   * Judges a node change (judge.ts) and queues the work it takes. What it sends back tells the
   * node which of its changes were taken into account (seenSeq).
   */
  private judgeAndEnqueue(e: Entry): void {
    const v = this.verdict(e);
    this.queue.enqueue(e, v.action, v.expected, v.conflict);
    if (v.sendBack) this.queueForNode([e.path]);
  }

  /** The pure verdict on a node change (`aside`: the hub's version stays, judge.ts keepAside), its agreements recorded and its conflict logged. */
  private verdict(e: Entry, aside = false): Verdict {
    const taken = (p: string) => Boolean(this.store.index.file(this.nodeId, p)) || this.queue.has(p);
    const now = Date.now();
    const v = aside
      ? keepAside({ entry: e, now, taken })
      : judge({ entry: e, local: this.store.index.file(this.nodeId, e.path), ancestor: this.store.ancestors.get(this.nodeId, e.path), now, taken, hubChangesUnder: (dir) => this.store.hubChanges.countUnder(this.nodeId, dir) });
    if (v.agreed.length) this.store.ancestors.set(this.nodeId, v.agreed);
    if (v.logged) this.log.warn('sync.conflict', { node: this.nodeId, path: e.path, ...v.logged });
    return v;
  }

  /** Queues mirror paths whose hub-side version must (again) reach the node, and sends. */
  queueForNode(paths: string[], cause?: string): void {
    this.toNodeSender.queue(paths, cause);
  }

  /** A mirror scan recorded hub-side changes and queued them for the node (HubStore.recordMirrorChanges). */
  hubChangesQueued(): void {
    this.toNodeSender.queued();
  }

  /** The node's index is complete up to `seq` (its IndexDone, taken in order). */
  private indexDone(seq: number): void {
    // The node's index is in: what failed before is tried again now (its newer versions, if any,
    // are already queued and take precedence).
    if (this.doneSeq < 0) this.retryDue('retryable');
    this.doneSeq = Math.max(this.doneSeq, seq);
    this.scheduleFlush();
  }

  onBlock(id: number, data: Buffer, error: string): void {
    if (!this.blocks.onResponse(id, data, error)) this.refuse('', 0, 'PROTOCOL', `block response ${id} answers no request`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.blocks.close();
    this.queue.stop();
    this.retries.stop();
    this.toNodeSender.stop();
    void this.drain();
  }

  // ---- hub-side changes, to the node ---------------------------------------------------------

  /** Sends queued hub-side changes the node may take now (hub-change-sender.ts). */
  sendHubChanges(): void {
    this.toNodeSender.send();
  }

  /** The paused node's count of what it holds back (Held): kept for the status, or why it is refused. */
  onHeld(m: unknown): string | null {
    const { changes, bytes, capped } = (m ?? {}) as Record<string, unknown>;
    const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (!count(changes) || !count(bytes)) return 'Held: changes and bytes must be whole numbers, 0 or more';
    this.held = { changes: changes as number, bytes: bytes as number, capped: capped === true };
    return null;
  }

  /** The node settled our changes through `seq` (hub-change-sender.ts). */
  onHubAck(seq: number, failed: unknown[] = []): void {
    this.toNodeSender.onAck(seq, failed);
  }

  /**
   * Small files' content for the node, read from the mirror by a pool worker as a block
   * request would be (serve-block.ts: only as recorded, never through a symlink); null for one
   * that cannot be (the node then fetches it), and for all of them if the read fails.
   */
  private inlineContent(recs: CachedEntry[]): Promise<(Buffer | null)[]> {
    return this.pool.readMany(this.ctx.root, recs.map((r) => ({ path: r.path, size: r.size, mtimeMs: r.mtimeMs })))
      .then((got) => {
        for (const b of got) if (b) this.counters.bytesSent += b.length;
        return got;
      }, () => recs.map(() => null));
  }

  /**
   * Answers the node's block requests for hub-side changes, from the mirror: each block only
   * from a file as recorded, read by a pool worker (SERVE_CHUNK_BYTES of them per message),
   * answered in the order asked, one chunk after the other (`serving`).
   */
  onNodeRequests(items: BlockRequest[]): void {
    for (let i = 0; i < items.length;) {
      const chunk: BlockRequest[] = [];
      for (let bytes = 0; i < items.length && (chunk.length === 0 || bytes + Number(items[i]!.size) <= SERVE_CHUNK_BYTES); i++) {
        chunk.push(items[i]!);
        bytes += Math.max(0, Number(items[i]!.size) || 0);
      }
      this.serving = this.serving.then(() => this.serveChunk(chunk)).catch((e: Error) => {
        // As a failure while handling the node's message would be (node-server.ts onMessage).
        this.log.error('session.error', { node: this.nodeId, error: e.message });
        this.refuse('', 0, 'INTERNAL', e.message);
      });
    }
  }

  private async serveChunk(items: BlockRequest[]): Promise<void> {
    if (this.closed) return;
    // The records are looked up now (in order with the session's own writes), the bytes read off the main thread.
    const serveItems = items.map((r) => {
      const rec = typeof r.path === 'string' ? this.store.index.file(this.nodeId, r.path) : undefined;
      return { path: r.path, offset: Number(r.offset), size: Number(r.size), rec: rec && !rec.deleted && rec.type === 'file' ? { path: rec.path, size: rec.size, mtimeMs: rec.mtimeMs } : null };
    });
    let served: { data: Buffer; error: string; changed: boolean }[];
    try {
      served = await this.pool.serveMany(this.ctx.root, serveItems);
    } catch (e) {
      served = items.map(() => ({ data: Buffer.alloc(0), error: (e as Error).message, changed: false }));
    }
    if (this.closed) return;
    const changed = items.filter((_, k) => served[k]!.changed).map((r) => String(r.path));
    if (changed.length) void this.hooks.rescan(changed);
    for (const r of served) this.counters.bytesSent += r.data.length;
    let k = 0;
    for (const msg of responseMessages(items, (r) => ({ id: r.id, data: served[k]!.data, error: served[k++]!.error }))) this.send(msg);
  }

  /** Block requests being answered, in order (onNodeRequests). */
  private serving: Promise<void> = Promise.resolve();

  /** The last flush could not be recorded (cleared by the next that is); retried with backoff. */
  get flushError(): { code: string; reason: string; at: number } | null {
    return this.flusher.error;
  }

  private scheduleFlush(): void {
    this.flusher.schedule();
  }

  private scheduleRetry(): void {
    this.retries.schedule();
  }

  /** Tries failed changes again now (retries.ts retryDue). Returns how many were tried. */
  retryDue(which: 'due' | 'retryable' | 'all', code?: string): number {
    return this.retries.retryDue(which, code);
  }

  /** Something changed at these mirror paths (the watcher): failures at or under them may be gone. */
  mirrorTouched(paths: string[]): void {
    this.retries.mirrorTouched(paths);
  }

  /** Ends the node's stream with a status it can act on (it will reconnect, or not). */
  end(code: grpc.status, details: string): void {
    try {
      this.call.emit('error', { code, details });
    } catch {
      /* already ended */
    }
  }

  /** After close(): waits for running operations to settle and records what they completed. */
  async drain(): Promise<void> {
    while (this.queue.running > 0) await new Promise((r) => setTimeout(r, 5));
    await this.flusher.flush();
  }
}
