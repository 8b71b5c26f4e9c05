/**
 * The node's half of two-way sync: applying changes made on the hub's side of the mirror to
 * the workspace, with the same verified, atomic commit and path safety as the hub uses.
 *
 * The node never decides a conflict; the hub does, against the ancestor it keeps. Each hub
 * entry says up to which node sequence number the hub had settled the node's changes
 * (`seenSeq`). A workspace path whose recorded version is newer than that holds a change the
 * hub has not seen yet: the entry is skipped, and the hub decides when that change arrives.
 * Every commit also checks the path still shows what the index recorded (expect.ts), so an
 * edit the scanner has not picked up yet is never overwritten either.
 *
 * What was applied is recorded in the node's index with the hub's sequence number
 * (`fromHubSeq`), and so reaches the hub as "the node now has your version": the agreement.
 */
import { AbortedError, applyMove, type ApplyContext, type BlockLocation } from '../sync/apply';
import { applyAction, applyProblem } from '../sync/apply-action';
import { BLOCK_SIZE, blockIndex } from '../sync/blocks';
import { BlockUnavailable, PeerGone } from '../sync/block-fetcher';
import { CaseConflict, ChangedMeanwhile, expectedOf } from '../sync/expect';
import { checkNoSymlinkParents, toNative } from '../sync/paths';
import { isBarrier, planEntry } from '../sync/plan';
import { sameVersion, versionOf } from '../sync/reconcile';
import type { CachedEntry, Entry } from '../sync/types';
import { entryProblem } from '../sync/validate';
import type { NodeStore } from '../store/node-store';
import type { Logger } from '../util/log';
import { DEFERRED, type RefusalMsg } from '../sync/wire';
import { clip } from '../util/text';

/** Pulls of one batch that run at once (small files are bound by round trips). */
const CONCURRENCY = 16;

export interface HubChangeDeps {
  ctx: ApplyContext;
  store: NodeStore;
  log: Logger;
  /** Paths the node never takes from the hub (its own state and staging directories). */
  reserved: (wirePath: string) => boolean;
  /** Fetches a block of the hub's version of a path; rejects with BlockUnavailable, or PeerGone when the session ends (sync/block-fetcher.ts). */
  fetch(path: string, offset: number, size: number, hash: Buffer): Promise<Buffer>;
  /** The workspace changed under us: have the scanner look at this path. */
  markDirty(wirePath: string): void;
}

export interface BatchResult {
  applied: number;
  /** Skipped: the node has a change the hub has not seen, or the path changed meanwhile. */
  skipped: number;
  /** Refused: unsafe or invalid entries, or bytes that did not match their hash. */
  refused: number;
  /** Could not be applied for another reason (logged). */
  failed: number;
  /** What was refused or failed, with why: reported to the hub with the acknowledgement (never taken for applied). */
  problems: RefusalMsg[];
  /** Bytes fetched from the hub, and bytes reused from the workspace's previous versions. */
  fetchedBytes: number;
  reusedBytes: number;
}

export class HubChanges {
  /**
   * Hub paths refused because another case of them is on disk (case-insensitive workspaces),
   * by lower-cased path: when the hub then deletes that other name (a case-only rename whose
   * halves came in separate batches), the file is renamed instead and the change applied.
   */
  private readonly caseWaiting = new Map<string, Entry>();

  constructor(private readonly d: HubChangeDeps) {}

  /**
   * Applies one batch in order: up to CONCURRENCY at once, with deletions and replacements of
   * directories run alone (after what came before, before what follows). Rejects with
   * PeerGone when the connection goes: the batch is then not acknowledged and comes again.
   */
  async apply(entries: Entry[]): Promise<BatchResult> {
    const result: BatchResult = { applied: 0, skipped: 0, refused: 0, failed: 0, fetchedBytes: 0, reusedBytes: 0, problems: [] };
    const running = new Set<Promise<void>>();
    let ended: unknown = null;
    /** Paths this batch deletes: a creation in another case of one of them is a case-only rename. */
    const deletions = new Set(entries.filter((e) => e.deleted).map((e) => e.path));
    const start = (e: Entry) => {
      const p: Promise<void> = this.one(e, result, deletions).catch((err) => { ended = err; }).finally(() => running.delete(p));
      running.add(p);
      return p;
    };
    /** Where case is ignored, two paths of one batch may name one file: those never run side by side. */
    const folded = new Set<string>();
    for (const e of entries) {
      if (ended) break;
      const local = this.d.store.get(e.path);
      const key = e.path.toLowerCase();
      const barrier = isBarrier(e, local, { sameFileQueued: this.d.ctx.caseInsensitive === true && folded.has(key) });
      folded.add(key);
      if (barrier) {
        await Promise.all(running);
        if (ended) break;
        await start(e);
        continue;
      }
      while (running.size >= CONCURRENCY) await Promise.race(running);
      start(e);
    }
    await Promise.all(running);
    if (ended) throw ended;
    return result;
  }

  /** `renamed`: the workspace's file at this path, just given this path's case (caseRename). */
  private async one(h: Entry, result: BatchResult, deletions: Set<string>, renamed?: CachedEntry): Promise<void> {
    const { store, log } = this.d;
    const problem = entryProblem(h) ?? (this.d.reserved(h.path) ? 'the path is reserved for the node\'s own state' : null);
    if (problem) {
      result.refused++;
      log.warn('hub.entry_refused', { path: clip(h.path), seq: h.seq, reason: problem });
      result.problems.push({ path: h.path, seq: h.seq, code: this.d.reserved(h.path) ? 'RESERVED_PATH' : 'BAD_ENTRY', message: problem });
      return;
    }
    if (h.type === 'file' && !h.deleted) h.mode &= 0o777;
    const local = renamed ?? store.get(h.path);
    if (!renamed && local && local.seq > (h.seenSeq ?? 0)) {
      // Our change is on its way to the hub, which will decide (and keep both if they conflict).
      this.deferred(h, result);
      log.debug('hub.change_deferred', { path: h.path, hubSeq: h.seq, localSeq: local.seq, seenSeq: h.seenSeq });
      return;
    }
    if (!renamed && local?.type === 'dir' && !local.deleted && (h.deleted || h.type !== 'dir') && store.newestUnder(h.path) > (h.seenSeq ?? 0)) {
      // The hub removes or replaces a directory holding changes of ours it has not seen: those
      // reach it first, and it decides (a directory with new content beats a file).
      this.deferred(h, result);
      log.debug('hub.change_deferred', { path: h.path, hubSeq: h.seq, reason: 'changes under it not seen by the hub', seenSeq: h.seenSeq });
      return;
    }
    if (sameVersion(versionOf(local), versionOf(h))) return;
    const waiting = h.deleted ? this.caseWaiting.get(h.path.toLowerCase()) : undefined;
    if (waiting && waiting.path !== h.path && local && !local.deleted) {
      // The second half of a case-only rename: the file takes the new name instead of going.
      this.caseWaiting.delete(h.path.toLowerCase());
      const moved = await applyMove(this.d.ctx, local, waiting.path, expectedOf(local));
      this.d.log.info('hub.case_renamed', { from: h.path, to: waiting.path });
      this.record(h, local, null);
      return this.one(waiting, result, deletions, moved);
    }
    const live = local && !local.deleted ? local : undefined;
    const expected = expectedOf(live);
    const action = planEntry(h, live);
    try {
      // Before any byte is fetched: never through a symlink or a file in the workspace.
      await checkNoSymlinkParents(this.d.ctx.root, h.path);
      if (action.kind === 'none') return;
      const stats = { fetchedBytes: 0, reusedBytes: 0 };
      const done = await applyAction(this.d.ctx, action, h, expected, { source: () => this.source(h, live), stats });
      result.fetchedBytes += stats.fetchedBytes;
      result.reusedBytes += stats.reusedBytes;
      this.record(h, live, done);
      result.applied++;
      log.debug('hub.applied', { path: h.path, hubSeq: h.seq, action: action.kind });
    } catch (err) {
      if (err instanceof PeerGone) throw err;
      if (err instanceof CaseConflict) {
        // The workspace ignores case. Renamed by the hub (it deletes the old name in this very
        // batch): take the new case and go on; otherwise two names this disk cannot hold apart.
        const moved = renamed ? undefined : await this.caseRename(h, err, deletions);
        if (moved) return this.one(h, result, deletions, moved);
        if (moved === null) {
          this.deferred(h, result);
          return;
        }
        result.refused++;
        this.caseWaiting.set(h.path.toLowerCase(), h);
        log.warn('hub.entry_refused', { path: clip(h.path), seq: h.seq, code: 'CASE_CONFLICT', reason: err.message });
        result.problems.push({ path: h.path, seq: h.seq, code: 'CASE_CONFLICT', message: err.message });
        return;
      }
      if (err instanceof ChangedMeanwhile || err instanceof AbortedError) {
        this.deferred(h, result);
        log.info('hub.change_raced', { path: h.path, hubSeq: h.seq, reason: (err as Error).message });
        this.d.markDirty(h.path);
        return;
      }
      if (err instanceof BlockUnavailable) {
        // Changed or gone on the hub meanwhile: its newer entry follows.
        this.deferred(h, result);
        log.debug('hub.change_superseded', { path: h.path, hubSeq: h.seq, reason: err.reason });
        return;
      }
      const why = applyProblem(err, h.path, 'node');
      if (why.refused) {
        result.refused++;
        log.warn('hub.entry_refused', { path: clip(h.path), seq: h.seq, reason: why.reason });
        result.problems.push({ path: h.path, seq: h.seq, code: why.code, message: why.reason });
        return;
      }
      result.failed++;
      log.error('hub.apply_failed', { path: clip(h.path), seq: h.seq, code: why.code, error: (err as Error).message });
      result.problems.push({ path: h.path, seq: h.seq, code: why.code, message: why.reason });
    }
  }

  /**
   * Not applied now, for a reason that is not a problem: a change of ours the hub has not seen
   * yet, or the path changed under us. The hub is told (DEFERRED), so it sends its version
   * again once it has settled what we send; skipping is never taken for applied.
   */
  private deferred(h: Entry, result: BatchResult): void {
    result.skipped++;
    result.problems.push({ path: h.path, seq: h.seq, code: DEFERRED, message: 'deferred: the node has a change the hub has not seen, or the path changed meanwhile' });
  }

  /**
   * Gives the name on disk the case the hub now uses, when the hub deletes the old name in this
   * same batch (a case-only rename). Returns the file now at `h.path`; null when a parent
   * directory was renamed (the scanner records the new names); undefined when it is no rename.
   */
  private async caseRename(h: Entry, err: CaseConflict, deletions: Set<string>): Promise<CachedEntry | null | undefined> {
    const { from, to } = err.renameSpan();
    const old = this.d.store.get(from);
    if (!deletions.has(from) || !old || old.deleted) return undefined;
    const moved = await applyMove(this.d.ctx, old, to);
    this.d.log.info('hub.case_renamed', { from, to });
    // The old name's records go (its deletion in this batch then finds nothing to do).
    this.record({ ...h, path: from }, old, null);
    if (to === h.path) return moved;
    this.d.markDirty(to);
    return null;
  }

  /** Records what was applied (with the hub's sequence number), replacing a directory's subtree. */
  private record(h: Entry, previous: CachedEntry | undefined, done: CachedEntry | null): void {
    const { store } = this.d;
    const gone: CachedEntry[] = [];
    if (previous && (done === null || (previous.type === 'dir' && done.type !== 'dir'))) {
      for (const p of store.pathsUnder(h.path).filter((x) => x !== h.path).sort().reverse()) {
        const e = store.get(p);
        if (e && !e.deleted) gone.push({ ...e, deleted: true });
      }
      if (done === null) gone.push({ ...previous, deleted: true, fromHubSeq: h.seq });
    }
    const put = done ? [{ ...done, seenSeq: 0, fromHubSeq: h.seq }] : [];
    store.record([...gone, ...put]);
  }

  /** Blocks already in the workspace version of this path (an edit in place moves few bytes). */
  private source(h: Entry, local: CachedEntry | undefined) {
    const have = local?.type === 'file' ? blockIndex(local.blocks) : new Map<string, number[]>();
    const file = local ? toNative(this.d.ctx.root, local.path) : '';
    return {
      findLocal: (hash: Buffer): BlockLocation[] => {
        const i = have.get(hash.toString('hex'))?.[0];
        return i === undefined ? [] : [{ file, offset: i * BLOCK_SIZE }];
      },
      fetch: (offset: number, size: number, hash: Buffer) => this.d.fetch(h.path, offset, size, hash),
      // The workspace's version of this path: the hub's blocks may be in it at other offsets.
      old: () => (local?.type === 'file' && !local.deleted ? { file, blocks: local.blocks, stamp: { size: local.size, mtimeMs: local.mtimeMs, ino: local.ino } } : undefined),
    };
  }
}
