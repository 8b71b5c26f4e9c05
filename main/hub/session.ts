/**
 * One connected node: ingests its index, pulls what the mirror lacks (block reuse, verified,
 * atomic commit), records progress, and acknowledges applied sequence numbers.
 *
 * Items are applied in the node's sequence order with up to FILE_CONCURRENCY pulls at once.
 * The queue stays bounded because the node keeps at most INDEX_WINDOW unacknowledged entries
 * in flight (wire.ts); the stream itself is never paused, so block responses always get in.
 * Anything that removes a directory or a file (deletions, a file replacing a directory) is a
 * barrier: it waits for running work and blocks later work, so a rename's new path can reuse
 * the old path's blocks before they are deleted.
 */
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { AbortedError, fsyncDir, applyDir, applyMove, applySymlink, pullFile, type ApplyContext, type BlockLocation, type PullSource, type PullStats } from '../sync/apply';
import { applyAction, applyProblem } from '../sync/apply-action';
import { BLOCK_SIZE, blockIndex } from '../sync/blocks';
import { BlockFetcher, BlockUnavailable, PeerGone } from '../sync/block-fetcher';
import { CaseConflict, ChangedMeanwhile, expectedOf, stampMatches } from '../sync/expect';
import { sameVersion, versionOf, type Version } from '../sync/reconcile';
import { freeConflictName, judge, keepAside, type Verdict } from './judge';
import { ApplyQueue, type QueueItem } from './apply-queue';
import { HubChangeSender } from './hub-change-sender';
import { WriteJournal, failureChanges, failureKey, type Writes } from './write-journal';
import { serveBlock } from '../sync/serve-block';
import { entryProblem, refusalCode } from '../sync/validate';
import { fromWireEntry, requestMessages, responseMessages, type BlockRequest, type HubMessage, type NodeMessage } from '../sync/wire';
import { UnsafePathError, ancestorsOf, checkNoSymlinkParents, toNative } from '../sync/paths';
import { tombstone, type CachedEntry, type Entry } from '../sync/types';
import type { HubStore } from '../store/hub-store';
import { errnoProblem } from '../sync/problems';
import { FailureSet, type Direction } from './failures';
import type { LockRefusalView, PendingFileView } from '../contract';
import { LOCK_FILE } from '../sync/lock';
import type { FsPool } from '../sync/fs-pool';
import type { PartialFiles } from './partials';
import type { Logger } from '../util/log';
import { clip } from '../util/text';

/** Bytes requested from the node and not yet received, at most (sync/block-fetcher.ts). */
const MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024;
const FLUSH_MS = 25;
/** Longest the index ingest holds the event loop at a time. */
const INGEST_SLICE_MS = 4;
const MAX_FAILURES_KEPT = 500;
/** Failing paths kept per node (persisted), at most. */
const MAX_FAILURES = 10_000;
/** A failed flush is tried again after this long, doubling up to the max. */
const FLUSH_RETRY_MIN_MS = 1000;
const FLUSH_RETRY_MAX_MS = 30_000;
/** While something failed for lack of space, free space is checked this often… */
const SPACE_POLL_MS = 1000;
/** …and this much more of it is taken as "space was freed": retry at once. */
const SPACE_FREED_BYTES = 1024 * 1024;

export type Duplex = grpc.ServerDuplexStream<NodeMessage, HubMessage>;



/** How often a change that lost a race with an edit on the hub's side is decided again. */
const MAX_REDECIDE = 3;

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
}

/** The mirror's immutability lock as a session sees it (hub-service.ts keeps it current). */
export interface SessionLock {
  lockOf(wirePath: string): string | null;
  /** The lock's globs (none: only the lock file itself is locked). */
  readonly globs: readonly string[];
  /** Refusals by path, oldest first (bounded by the session). */
  refused: Map<string, LockRefusalView>;
}

export class NodeSession {
  readonly connectedAt = Date.now();
  readonly counters: SessionCounters = { bytesReceived: 0, bytesReused: 0 };
  /** Node's latest IndexDone: its index is complete up to this seq. -1 until the first. */
  doneSeq = -1;
  ackedSeq: number;
  /** Highest sequence number accepted from the node in this session. */
  private lastSeq: number;
  closed = false;
  /** Node changes in the order they are applied (apply-queue.ts). */
  private readonly queue: ApplyQueue;
  /** Node changes refused for a name on disk in another case, by lower-cased path (see execute's delete). */
  private readonly caseWaiting = new Map<string, Entry>();
  /** What this session wrote and has not recorded yet (write-journal.ts). */
  private readonly journal = new WriteJournal();
  /** Hub-side changes, to the node (hub-change-sender.ts). */
  private readonly toNodeSender: HubChangeSender;
  /** Parent conflicts being settled, by each ancestor of the change that found it (parentConflict). */
  private readonly resolvingParent = new Map<string, Promise<boolean>>();
  /** Directories known to be recorded in the mirror index (restoreParents); cleared on any deletion. */
  private readonly knownDirs = new Set<string>();
  private flushTimer: NodeJS.Timeout | null = null;
  /** The last flush could not be recorded (cleared by the next that is); retried with backoff. */
  flushError: { code: string; reason: string; at: number } | null = null;
  private flushBackoff = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryTimerAt: number | null = null;
  private spaceWatch: NodeJS.Timeout | null = null;
  private flushChain: Promise<void> = Promise.resolve();
  private readonly dirsToSync = new Set<string>();
  private progressNotifiedAt = 0;
  /** Blocks of node files, requested from the node (sync/block-fetcher.ts). */
  private readonly blocks: BlockFetcher;
  private fullPass: Set<string> | null = null;
  private readonly ingest: { entry?: unknown; done?: { seq: number; full: boolean } }[] = [];
  private ingestHead = 0;
  private draining = false;
  private readonly ctx: ApplyContext;
  private readonly indexId: string;

  constructor(
    readonly nodeId: string,
    private readonly call: Duplex,
    /** The node's address as gRPC sees it (for the operator: who connected from where). */
    readonly peer: string,
    private readonly store: HubStore,
    mirrorRoot: string,
    stagingDir: string,
    pool: FsPool,
    private readonly log: Logger,
    private readonly failures: FailureSet,
    private readonly onChange: () => void,
    indexId: string,
    wantFull: boolean,
    private readonly lock: SessionLock,
    private readonly partials: PartialFiles,
    private readonly hooks: SessionHooks,
  ) {
    this.blocks = new BlockFetcher({
      peer: 'node',
      maxBytes: MAX_BYTES_IN_FLIGHT,
      send: (requests) => { for (const msg of requestMessages(requests)) this.send(msg); },
    });
    this.ctx = {
      root: mirrorRoot, stagingDir, pool, deferDirSync: (d) => this.dirsToSync.add(d),
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
      run: (it) => this.run(it).catch((e: Error) => {
        // run() handles every failure it knows; anything else is a bug, kept as the path's problem.
        this.log.error('session.error', { node: this.nodeId, path: it.entry.path, error: e.message, stack: e.stack });
        this.failEntry(it.entry, 'INTERNAL', `the hub failed applying this change: ${e.message}`, true);
      }),
      ran: () => {
        this.scheduleFlush();
        this.onChange();
      },
    });
    this.ackedSeq = wantFull ? 0 : store.node(nodeId)!.ackedSeq;
    this.lastSeq = this.ackedSeq;
    if (wantFull) {
      this.fullPass = new Set();
      store.setAcked(nodeId, 0, indexId);
    }
    this.indexId = indexId;
    this.toNodeSender = new HubChangeSender({
      nodeId, store, log, failures, journal: this.journal,
      send: (msg) => this.send(msg),
      refuse: (path, seq, code, message) => this.refuse(path, seq, code, message),
      closed: () => this.closed,
      busy: (p) => this.queue.has(p) || this.unflushed(p) !== undefined,
      seenSeq: () => this.lastSeq,
      nodePending: () => this.pending().files,
      staleDirs: () => this.knownDirs.clear(),
      clearFailure: (direction, path) => this.clearFailure(direction, path),
      failed: () => {
        this.scheduleFlush();
        this.scheduleRetry();
      },
      changed: () => this.onChange(),
    }, store.node(nodeId)!.hubAcked);
  }

  /** Entries not applied yet (including those still being ingested), and the bytes to pull. */
  pending(): { files: number; bytes: number } {
    const queued = this.queue.pending();
    return { files: this.ingest.length - this.ingestHead + queued.files, bytes: queued.bytes };
  }

  /** The first `limit` entries not applied yet, in the order they will be applied. */
  pendingItems(limit: number): PendingFileView[] {
    return this.queue.pendingItems(limit);
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
    return this.queue.latest(wirePath)?.state === 'running';
  }

  /** Changes made on the hub's side that the node has not applied yet. */
  toNode(): { files: number; bytes: number } {
    return this.store.hubPending(this.nodeId);
  }

  /**
   * Everything the node has is in the mirror and everything the hub changed reached the node:
   * nothing pending either way, nothing failed, and every result recorded.
   */
  get inSync(): boolean {
    return this.doneSeq >= 0 && this.ackedSeq >= this.doneSeq && this.pending().files === 0 && this.toNode().files === 0
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

  // ---- incoming ----------------------------------------------------------------------------

  /**
   * Index entries and IndexDone markers are ingested in order, in slices of a few
   * milliseconds, so a 1000-entry batch (validation, a lookup and a plan per entry) never
   * holds the event loop for long.
   */
  onIndex(files: unknown[]): void {
    for (const w of files) this.ingest.push({ entry: w });
    this.drainSoon();
  }

  onDone(seq: number, full: boolean): void {
    this.ingest.push({ done: { seq, full } });
    this.drainSoon();
  }

  private drainSoon(): void {
    if (this.draining || this.closed) return;
    this.draining = true;
    setImmediate(() => this.drain1());
  }

  private drain1(): void {
    const until = performance.now() + INGEST_SLICE_MS;
    while (this.ingestHead < this.ingest.length && performance.now() < until && !this.closed) {
      const item = this.ingest[this.ingestHead++]!;
      try {
        if (item.entry !== undefined) this.ingestEntry(item.entry);
        else if (item.done) this.applyDone(item.done.seq, item.done.full);
      } catch (e) {
        // A bug must not stop the hub: this entry is refused, the others go on.
        this.log.error('session.error', { node: this.nodeId, error: (e as Error).message, stack: (e as Error).stack });
        this.refuse(typeof (item.entry as { path?: unknown })?.path === 'string' ? (item.entry as { path: string }).path : '', 0, 'INTERNAL', `the hub failed on this entry: ${(e as Error).message}`);
      }
    }
    if (this.ingestHead === this.ingest.length) {
      this.ingest.length = 0;
      this.ingestHead = 0;
    }
    this.queue.pump();
    this.onChange();
    if (this.ingestHead < this.ingest.length && !this.closed) setImmediate(() => this.drain1());
    else this.draining = false;
  }

  private ingestEntry(w: unknown): void {
    const e = fromWireEntry(w as never);
    // Acknowledgements assume the node's order: every entry must come after the last one.
    const problem = entryProblem(e) ?? (e.seq <= this.lastSeq ? `sequence number ${e.seq} does not follow ${this.lastSeq}` : null);
    if (problem) {
      const code = refusalCode(problem);
      if (code === 'PROTOCOL') this.refuse(e.path, e.seq, code, problem);
      else if (e.deleted) {
        // The node no longer has what it could not send: nothing is missing any more.
        this.refuse(e.path, e.seq, code, problem);
        this.clearFailure('to-hub', e.path);
      } else this.failEntry({ ...e, blocks: Buffer.alloc(0) }, code, problem, false, false);
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
    this.judgeAndEnqueue(e);
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
    const taken = (p: string) => Boolean(this.store.file(this.nodeId, p)) || this.queue.has(p);
    const now = Date.now();
    const v = aside
      ? keepAside({ entry: e, now, taken })
      : judge({ entry: e, local: this.store.file(this.nodeId, e.path), ancestor: this.store.ancestor(this.nodeId, e.path), now, taken, hubChangesUnder: (dir) => this.store.hubChangesUnder(this.nodeId, dir) });
    if (v.agreed.length) this.store.setAncestors(this.nodeId, v.agreed);
    if (v.logged) this.log.warn('sync.conflict', { node: this.nodeId, path: e.path, ...v.logged });
    return v;
  }

  /** Queues mirror paths whose hub-side version must (again) reach the node, and sends. */
  queueForNode(paths: string[]): void {
    this.toNodeSender.queue(paths);
  }

  /**
   * The lock glob that forbids this change, if any: the path itself, or (for a deletion or a
   * directory replaced by something else) a recorded path below it.
   */
  private lockedBy(e: Entry): string | null {
    const own = this.lock.lockOf(e.path);
    if (own) return own;
    // Without globs only the root lock file is locked, and no subtree can hold it: no lookup
    // per entry (this runs for every entry a node sends).
    if (this.lock.globs.length === 0 || (!e.deleted && e.type === 'dir')) return null;
    for (const p of this.store.pathsUnder(this.nodeId, e.path)) {
      const g = this.lock.lockOf(p);
      if (g) return g;
    }
    return null;
  }

  private refuseLocked(e: Entry, glob: string): void {
    const message = glob === LOCK_FILE
      ? `"${clip(e.path)}" is the mirror's lock file, which only the hub side may change`
      : `"${clip(e.path)}" is immutable on the hub (locked by "${clip(glob)}" in ${LOCK_FILE}); the hub's version stays`;
    this.log.warn('input.rejected', { node: this.nodeId, path: clip(e.path), seq: e.seq, code: 'LOCKED', lock: glob, reason: message });
    this.lock.refused.delete(e.path);
    this.lock.refused.set(e.path, { path: clip(e.path), glob, at: Date.now() });
    if (this.lock.refused.size > MAX_FAILURES_KEPT) this.lock.refused.delete(this.lock.refused.keys().next().value!);
    this.send({ refusal: { path: clip(e.path), seq: e.seq, code: 'LOCKED', message } });
    // The hub's version goes back to the node. A locked path the hub does not have is left to
    // the node (refused, counted, logged): deleting the node's new file would lose it.
    if (glob !== LOCK_FILE && (this.store.file(this.nodeId, e.path) || e.deleted)) this.queueForNode([e.path]);
    this.onChange();
  }

  private applyDone(seq: number, full: boolean): void {
    if (full && this.fullPass) {
      // Paths the mirror has but the node's full index does not mention are gone on the node.
      const seen = this.fullPass;
      this.fullPass = null;
      // Locked paths stay (the lock file too: it exists only on the hub).
      const stale = this.store.paths(this.nodeId).filter((p) => !seen.has(p) && !this.lock.lockOf(p));
      for (const p of stale.sort((a, b) => b.length - a.length)) {
        this.judgeAndEnqueue(tombstone(p, seq));
      }
    }
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
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.spaceWatch) clearInterval(this.spaceWatch);
    this.toNodeSender.stop();
    this.retryTimer = this.spaceWatch = null;
    void this.drain();
  }

  // ---- queue -------------------------------------------------------------------------------

  private async run(it: QueueItem): Promise<void> {
    const e = it.entry;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.execute(it);
        this.clearFailure('to-hub', e.path);
        return;
      } catch (err) {
        if (err instanceof AbortedError || err instanceof PeerGone || this.closed) {
          // Left unacknowledged when the connection dropped: the node sends it again on resume.
          if (!(err instanceof AbortedError)) it.interrupted = true;
          return;
        }
        if (err instanceof ChangedMeanwhile && !(it.conflict?.loser === 'node')) {
          // Something on the hub's side changed the path after we decided: record that change
          // and decide again (now possibly a conflict), rather than overwrite it.
          this.log.info('sync.raced', { node: this.nodeId, path: e.path, attempt });
          await this.hooks.rescan([e.path, ...(it.conflict ? [it.conflict.copyTo] : [])]);
          if (this.closed) {
            it.interrupted = true;
            return;
          }
          const v = this.verdict(e, attempt >= MAX_REDECIDE);
          if (v.sendBack) this.queueForNode([e.path]);
          it.action = v.action;
          it.expected = v.expected;
          delete it.conflict;
          if (v.conflict) it.conflict = v.conflict;
          continue;
        }
        if (err instanceof CaseConflict && attempt <= MAX_REDECIDE && (await this.caseRename(it, err))) continue;
        if (err instanceof CaseConflict) this.caseWaiting.set(e.path.toLowerCase(), e);
        const parent = err instanceof UnsafePathError && attempt <= MAX_REDECIDE ? this.queue.runningAncestor(ancestorsOf(e.path)) : undefined;
        if (parent) {
          // A parent is being turned into a directory right now (a conflict decided late): wait.
          await parent.settled;
          continue;
        }
        if (err instanceof UnsafePathError && attempt <= MAX_REDECIDE && !e.deleted && (await this.parentConflict(e))) continue;
        if (err instanceof BlockUnavailable && (err.reason === 'changed' || err.reason === 'gone')) {
          // The file changed or went away on the node while we pulled it: not a failure, the
          // node's watcher sends the newer entry (or the deletion), which replaces this one (and
          // settles an earlier failure of the path: this version is no longer the node's).
          this.log.debug('file.superseded', { node: this.nodeId, path: e.path, seq: e.seq, reason: err.reason });
          this.clearFailure('to-hub', e.path);
          return;
        }
        const f = applyProblem(err, e.path, 'hub');
        this.failEntry(e, f.code, f.reason, f.retry);
        return;
      }
    }
  }

  /**
   * The mirror ignores case and already has this path in another case. When the node deletes
   * that other name in the same breath (a case-only rename, of the file or of a directory on
   * its way), the name on disk is renamed to the new case and the item runs again. Otherwise
   * the node has two names this file system cannot tell apart: refused as CASE_CONFLICT.
   */
  private async caseRename(it: QueueItem, err: CaseConflict): Promise<boolean> {
    const { from, to } = err.renameSpan();
    if (this.queue.latest(from)?.entry.deleted !== true) return false;
    const old = this.store.file(this.nodeId, from) ?? (await this.lstatEntry(from));
    if (!old) return false;
    const moved = await applyMove(this.ctx, old, to);
    this.log.info('sync.case_renamed', { node: this.nodeId, from, to });
    this.wrote({ del: [from] });
    if (to === it.entry.path) it.expected = expectedOf(moved);
    return true;
  }

  /**
   * The node's change lies under a path the mirror holds as a regular file (the hub made a file
   * where the node made a directory): a directory beats a file, so the hub's file steps aside as
   * a conflict copy, on both sides, and the directory takes its place. True if so.
   */
  private parentConflict(e: Entry): Promise<boolean> {
    // Several changes under one such file fail at once: one of them moves it, the others wait.
    const outermost = ancestorsOf(e.path).reverse();
    for (const dir of outermost) {
      const busy = this.resolvingParent.get(dir);
      if (busy) return busy.then(() => true);
    }
    const run = this.resolveParent(e).finally(() => {
      for (const dir of outermost) if (this.resolvingParent.get(dir) === run) this.resolvingParent.delete(dir);
    });
    for (const dir of outermost) this.resolvingParent.set(dir, run);
    return run;
  }

  private async resolveParent(e: Entry): Promise<boolean> {
    for (const dir of ancestorsOf(e.path).reverse()) {
      const st = await fs.promises.lstat(toNative(this.ctx.root, dir)).catch(() => undefined);
      if (!st) return false;
      if (st.isDirectory()) continue;
      // Only a regular file steps aside; a symlink in the way is refused (UNSAFE_PATH), never touched.
      if (!st.isFile()) return false;
      let ours = this.store.file(this.nodeId, dir);
      if (!ours || !stampMatches(st, expectedOf(ours))) {
        await this.hooks.rescan([dir]);
        ours = this.store.file(this.nodeId, dir);
      }
      if (!ours || ours.type === 'dir' || this.closed) return false;
      // The node's own last version of it (the agreed one): the node contradicts itself (a
      // file, and something inside it). Refused; only a file made on the hub's side steps aside.
      const before = this.store.ancestor(this.nodeId, dir);
      if (sameVersion(before, versionOf(ours))) return false;
      const copyTo = freeConflictName({ now: Date.now(), taken: (p) => Boolean(this.store.file(this.nodeId, p)) || this.queue.has(p) }, dir, 'hub');
      this.log.warn('sync.conflict', { node: this.nodeId, path: dir, winner: 'node', copy: copyTo, reason: 'the node made a directory where the hub has a file' });
      const moved = await applyMove(this.ctx, ours, copyTo, expectedOf(ours));
      const made = await applyDir(this.ctx, { ...tombstone(dir, 0), deleted: false, type: 'dir', mode: before?.type === 'dir' ? before.mode : 0o755 }, null);
      this.wrote({ put: [moved, made], forNode: [moved.path, dir], agreed: [[dir, versionOf(made)]] });
      return true;
    }
    return false;
  }

  /**
   * The parents of a node's path must be directories the hub has recorded. One the hub deleted
   * on its side while the node changed something inside it comes back (a modification beats a
   * deletion), is recorded, and goes to the node as the directory it still is there (which
   * replaces the deletion queued for it). Without this the mirror held a directory its index
   * did not know, and the node was sent its deletion forever.
   */
  private async restoreParents(wirePath: string): Promise<void> {
    const missing: string[] = [];
    for (const dir of ancestorsOf(wirePath)) {
      if (this.knownDirs.has(dir)) break;
      // The node's own entry for this directory is being applied: it records it.
      const coming = this.queue.latest(dir)?.entry;
      if (coming && !coming.deleted && coming.type === 'dir') break;
      const w = this.unflushed(dir);
      const rec = w !== undefined ? w : this.store.stamp(this.nodeId, dir);
      if (rec?.type === 'dir' && !rec.deleted) {
        this.knownDirs.add(dir);
        break;
      }
      // A file or symlink in the way, recorded or not: parentConflict() settles it when the
      // commit fails, or the change is refused (a symlink is never touched).
      if (rec) return;
      const st = await fs.promises.lstat(toNative(this.ctx.root, dir)).catch(() => undefined);
      if (st && !st.isDirectory()) return;
      missing.push(dir);
    }
    if (missing.length === 0) return;
    const made: CachedEntry[] = [];
    for (const dir of missing.reverse()) {
      const before = this.store.ancestor(this.nodeId, dir);
      made.push(await applyDir(this.ctx, { ...tombstone(dir, 0), deleted: false, type: 'dir', mode: before?.type === 'dir' ? before.mode : 0o755 }, null));
    }
    for (const m of made) this.knownDirs.add(m.path);
    this.log.info('sync.parents_restored', { node: this.nodeId, path: wirePath, dirs: made.map((m) => m.path) });
    this.wrote({ put: made, forNode: made.map((m) => m.path), agreed: made.map((m): [string, Version] => [m.path, versionOf(m)!]) });
  }

  /** A minimal entry for what is on disk at a mirror path (for moving it), if anything. */
  private async lstatEntry(wirePath: string): Promise<CachedEntry | undefined> {
    const st = await fs.promises.lstat(toNative(this.ctx.root, wirePath)).catch(() => undefined);
    if (!st) return undefined;
    return { ...tombstone(wirePath, 0), deleted: false, type: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file', size: st.isFile() ? st.size : 0, mtimeMs: st.mtimeMs, mode: st.mode & 0o777, ino: st.ino };
  }

  /**
   * Carries out an item's decision. Results go to the journal only after the last await: a
   * flush may take the journal's writes while an operation runs.
   */
  private async execute(it: QueueItem): Promise<void> {
    const e = it.entry;
    const agreed = versionOf(e);
    if (it.action.kind === 'none') return;
    if (!e.deleted) await this.restoreParents(e.path);
    if (it.conflict?.loser === 'node') {
      // The hub's version stays; the node's is kept beside it, on both sides.
      const copy = { ...e, path: it.conflict.copyTo };
      it.abort = new AbortController();
      const done = e.type === 'symlink' ? await applySymlink(this.ctx, copy, null) : await pullFile(this.ctx, copy, this.source(e), it.abort.signal, undefined, null);
      // A directory that won goes to the node whole: what it holds may have been refused there.
      const ours = this.store.file(this.nodeId, e.path);
      this.wrote({ put: [done], forNode: [copy.path, e.path, ...(ours?.type === 'dir' ? this.store.pathsUnder(this.nodeId, e.path) : [])] });
      return;
    }
    let expected = it.expected;
    if (it.conflict?.loser === 'hub') {
      // The node's version wins: ours moves aside first (only if it is still what we decided on).
      const ours = this.store.file(this.nodeId, e.path);
      if (ours) {
        const moved = await applyMove(this.ctx, ours, it.conflict.copyTo, expected);
        this.wrote({ put: [moved], del: [e.path], forNode: [moved.path] });
      }
      expected = null;
    }
    // A directory replaced by something else takes its recorded subtree with it.
    const replacesDir = it.expected?.type === 'dir' && e.type !== 'dir' ? [e.path] : [];
    if (it.action.kind === 'delete') {
      const waiting = this.caseWaiting.get(e.path.toLowerCase());
      const ours = waiting && waiting.path !== e.path ? this.store.file(this.nodeId, e.path) : undefined;
      if (waiting && ours) {
        // The second half of a case-only rename whose first half was refused: rename, then apply it.
        this.caseWaiting.delete(e.path.toLowerCase());
        await applyMove(this.ctx, ours, waiting.path, expected);
        this.log.info('sync.case_renamed', { node: this.nodeId, from: e.path, to: waiting.path });
        this.wrote({ del: [e.path], agreed: [[e.path, null]] });
        this.judgeAndEnqueue(waiting);
        return;
      }
    }
    const stats: PullStats = { fetchedBytes: 0, reusedBytes: 0 };
    if (it.action.kind === 'pull') {
      // A retry (of a change acknowledged long ago) may meet a path that still cannot take it:
      // found before any byte is asked for. (First tries leave this to the commit: a stat per
      // parent of every file would cost the initial sync.)
      if (e.seq <= this.ackedSeq) await checkNoSymlinkParents(this.ctx.root, e.path);
      it.abort = new AbortController();
    }
    const done = await applyAction(this.ctx, it.action, e, expected, { source: () => this.source(e), signal: it.abort?.signal, stats });
    if (!done) {
      this.wrote({ del: [e.path], agreed: [[e.path, null]] });
      return;
    }
    if (it.action.kind === 'pull') {
      this.partials.drop(e);
      this.counters.bytesReused += stats.reusedBytes;
    }
    this.wrote({ del: replacesDir, put: [done], agreed: [[e.path, agreed]] });
    if (it.action.kind === 'pull') this.log.debug('file.committed', { node: this.nodeId, path: e.path, size: e.size, fetched: stats.fetchedBytes, reused: stats.reusedBytes });
  }

  /** Adds an operation's results to what the next flush records, and tells running scans. */
  private wrote(w: Partial<Writes>): void {
    if (w.del?.length) this.knownDirs.clear();
    this.journal.add(w);
    this.hooks.written([...(w.del ?? []), ...(w.put ?? []).map((x) => x.path)]);
  }

  private source(e: Entry): PullSource {
    // Blocks of an earlier, interrupted pull of this very version, by hash (verified on read).
    const partial = this.partials.of(e);
    let inPartial: Map<string, number[]> | null = null;
    if (partial) {
      inPartial = blockIndex(e.blocks);
    }
    return {
      findLocal: (hash: Buffer): BlockLocation[] => [
        ...(inPartial?.get(hash.toString('hex')) ?? []).map((i) => ({ file: partial!, offset: i * e.blockSize })),
        ...this.store.findBlock(this.nodeId, hash).map((b) => ({ file: toNative(this.ctx.root, b.path), offset: b.idx * BLOCK_SIZE })),
      ],
      fetch: (offset, size, hash) => this.fetch(e.path, offset, size, hash),
    };
  }

  private async fetch(path: string, offset: number, size: number, hash: Buffer): Promise<Buffer> {
    const data = await this.blocks.fetch(path, offset, size, hash);
    // Counted as it arrives, so status shows a large file's progress while it transfers.
    this.counters.bytesReceived += data.length;
    const now = Date.now();
    if (now - this.progressNotifiedAt >= 250) {
      this.progressNotifiedAt = now;
      this.onChange();
    }
    return data;
  }

  // ---- hub-side changes, to the node ---------------------------------------------------------

  /** Sends queued hub-side changes the node may take now (hub-change-sender.ts). */
  sendHubChanges(): void {
    this.toNodeSender.send();
  }

  /** The node settled our changes through `seq` (hub-change-sender.ts). */
  onHubAck(seq: number, failed: unknown[] = []): void {
    this.toNodeSender.onAck(seq, failed);
  }

  /** Answers the node's block requests for hub-side changes, from the mirror. */
  onNodeRequests(items: BlockRequest[]): void {
    const serve = (r: BlockRequest) => {
      const { res, changed } = serveBlock(this.ctx.root, r, (p) => this.store.file(this.nodeId, p));
      if (changed) void this.hooks.rescan([String(r.path)]);
      return res;
    };
    for (const msg of responseMessages(items, serve)) this.send(msg);
  }

  // ---- persistence -------------------------------------------------------------------------

  private scheduleFlush(): void {
    if (!this.flushTimer) this.flushTimer = setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Queues a flush after any running one; flushes never overlap. */
  private flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.flushChain = this.flushChain.then(() => this.flushNow()).catch((e: Error) => {
      this.log.error('session.flush_failed', { node: this.nodeId, error: e.message });
    });
    return this.flushChain;
  }

  /**
   * Makes applied items durable and acknowledges them: fsync the directories renamed into,
   * record the new versions (and failures), then tell the node. Only items whose effects are
   * in this write may be acknowledged. If recording fails (the hub's disk is full, say),
   * nothing is lost: the writes stay queued, nothing is acknowledged, and the flush is tried
   * again with backoff while the node shows the problem.
   */
  private async flushNow(): Promise<void> {
    // Acknowledged: the node's sequence up to the first of its changes not settled yet. A retry
    // of an earlier failure (its seq acknowledged long ago) never holds later changes back.
    const { waiting, settled, ...through } = this.queue.acknowledgeable(this.ackedSeq);
    let acked = through.acked;
    // Still visible to unflushed() until they are recorded.
    const writes = this.journal.take();
    const dirs = [...this.dirsToSync];
    this.dirsToSync.clear();
    if (!waiting && this.doneSeq > acked && this.fullPass === null) acked = Math.max(acked, this.doneSeq);
    await Promise.all(dirs.map((d) => fsyncDir(d).catch(() => undefined)));
    // A path whose failing version reached the mirror some other way is no longer a problem.
    for (const x of writes.put) {
      const f = this.failures.get('to-hub', x.path);
      if (f?.entry && !writes.failures.has(failureKey('to-hub', x.path)) && sameVersion(versionOf(f.entry), versionOf(x)) && this.failures.clear('to-hub', x.path)) {
        writes.failures.set(failureKey('to-hub', x.path), null);
      }
    }
    const { failed, cleared } = failureChanges(writes);
    try {
      this.store.recordFlush(this.nodeId, { ...writes, failed, cleared, acked: acked !== this.ackedSeq ? acked : null, indexId: this.indexId });
    } catch (e) {
      this.journal.notRecorded(writes);
      for (const d of dirs) this.dirsToSync.add(d);
      this.flushFailed(e as Error);
      return;
    }
    if (this.flushError) {
      this.log.info('session.flush_recovered', { node: this.nodeId, failedFor: Date.now() - this.flushError.at });
      this.flushError = null;
      this.flushBackoff = 0;
    }
    this.queue.forget(settled);
    this.journal.recorded(writes);
    // Paths that were busy may now be sent to the node (and conflict copies must be).
    this.sendHubChanges();
    if (acked !== this.ackedSeq) {
      this.ackedSeq = acked;
      this.send({ ack: { seq: acked } });
    }
    this.onChange();
  }

  /** Recording failed: keep everything, say so, and try again later (1 s, doubling to 30 s). */
  private flushFailed(e: Error): void {
    const problem = errnoProblem(e, "the hub's database") ?? (/SQLITE_FULL|database or disk is full/i.test(`${(e as NodeJS.ErrnoException).code} ${e.message}`)
      ? { code: 'DISK_FULL', reason: `the hub's database: no space left on the device (${e.message})`, retry: true }
      : { code: 'HUB_DATABASE', reason: `the hub could not record progress: ${e.message}`, retry: true });
    this.flushBackoff = Math.min(FLUSH_RETRY_MAX_MS, Math.max(FLUSH_RETRY_MIN_MS, this.flushBackoff * 2));
    this.log.error('session.flush_failed', { node: this.nodeId, code: problem.code, error: e.message, retryInMs: this.flushBackoff });
    this.flushError ??= { code: problem.code, reason: problem.reason, at: Date.now() };
    // A closed session's leftovers are not retried: its node resends what was not acknowledged.
    if (!this.closed) {
      const t = setTimeout(() => void this.flush(), this.flushBackoff);
      t.unref();
    }
    this.onChange();
  }

  // ---- failures: retried with backoff, and at once when the cause may be gone ---------------

  /** Arms the retry timer for the earliest failure due, and the free-space watch for DISK_FULL. */
  private scheduleRetry(): void {
    if (this.closed) return;
    const next = this.failures.nextRetry();
    if (next !== null && (this.retryTimerAt === null || next < this.retryTimerAt)) {
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimerAt = next;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.retryTimerAt = null;
        this.retryDue('due');
      }, Math.max(0, next - Date.now()));
      this.retryTimer.unref();
    }
    if (!this.spaceWatch && (this.failures.has('DISK_FULL') || this.flushError?.code === 'DISK_FULL')) {
      // Freed space is noticed within a couple of seconds, not at the end of a backoff.
      let free = freeBytes(this.ctx.root);
      this.spaceWatch = setInterval(() => {
        if (!this.failures.has('DISK_FULL') && this.flushError?.code !== 'DISK_FULL') {
          clearInterval(this.spaceWatch!);
          this.spaceWatch = null;
          return;
        }
        const now = freeBytes(this.ctx.root);
        if (now > free + SPACE_FREED_BYTES) {
          this.log.info('sync.space_freed', { node: this.nodeId, freeBytes: now });
          if (this.flushError) void this.flush();
          this.retryDue('retryable', 'DISK_FULL');
        }
        free = now;
      }, SPACE_POLL_MS);
      this.spaceWatch.unref();
    }
  }

  /**
   * Tries failed changes again: those due by their backoff; `retryable`: every one that retries
   * by itself, now (the node reconnected, space was freed); `all`: everything, the ones that
   * wait for someone too (the operator's rescan). Only those with `code`, if given. A node change
   * is decided afresh (the mirror or the node may have moved on); a hub change is queued for the
   * node again. Returns how many were tried.
   */
  retryDue(which: 'due' | 'retryable' | 'all', code?: string): number {
    if (this.closed) return 0;
    let n = 0;
    for (const f of this.failures.due(which === 'retryable' ? Number.POSITIVE_INFINITY : Date.now(), which === 'all')) {
      if (code && f.code !== code) continue;
      this.failures.trying(f);
      n++;
      if (f.direction === 'to-node') {
        this.queueForNode([f.path]);
        continue;
      }
      // A newer change of this path is already on its way: it settles (or fails) the path.
      if (!f.entry || this.queue.has(f.path)) continue;
      this.log.info('sync.retry', { node: this.nodeId, path: f.path, code: f.code, attempt: f.attempts + 1 });
      this.judgeAndEnqueue({ ...f.entry });
    }
    if (n) {
      this.queue.pump();
      this.onChange();
    }
    this.scheduleRetry();
    return n;
  }

  /** Something changed at these mirror paths (the watcher): failures at or under them may be gone. */
  mirrorTouched(paths: string[]): void {
    if (this.failures.size === 0 || this.closed) return;
    const hit = this.failures.list().filter((f) => f.direction === 'to-hub' && f.entry && paths.some((p) => p === '' || f.path === p || f.path.startsWith(`${p}/`) || p.startsWith(`${f.path}/`) || ancestorsOf(f.path).includes(p)));
    // Also what waits for someone (a file in the way that has just changed, say).
    for (const f of hit) {
      if (this.queue.has(f.path)) continue;
      this.failures.trying(f);
      this.judgeAndEnqueue({ ...f.entry! });
    }
    if (hit.length) {
      this.queue.pump();
      this.scheduleRetry();
    }
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
    await this.flush();
  }

}


/** Free bytes for unprivileged writers on the file system holding `dir` (0 if unknown). */
function freeBytes(dir: string): number {
  try {
    const st = fs.statfsSync(dir);
    return st.bavail * st.bsize;
  } catch {
    return 0;
  }
}


