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
 *
 * Over 400 lines (about 490): the window, one entry's steps and the case-only renames of
 * case-insensitive workspaces all work on one batch's state (what to record, the directories
 * checked, the renames made); split apart, each would pass that state to the others.
 */
import { AbortedError, applyMove, type ApplyContext, type BlockLocation } from '../sync/apply';
import { applyAction, applyProblem } from '../sync/apply-action';
import { BLOCK_SIZE, blockIndex, sha256 } from '../sync/blocks';
import { BlockUnavailable, PeerGone } from '../sync/block-fetcher';
import { CaseConflict, ChangedMeanwhile, caseOfParentDiffers, caseVariantSync, expectedOf } from '../sync/expect';
import { checkNoSymlinkParents, toNative } from '../sync/paths';
import { isBarrier, planEntry } from '../sync/plan';
import { sameVersion, versionOf } from '../sync/reconcile';
import type { CachedEntry, Entry } from '../sync/types';
import { entryProblem } from '../sync/validate';
import type { NodeStore } from '../store/node-store';
import type { Logger } from '../util/log';
import { DEFERRED, type RefusalMsg } from '../sync/wire';
import { clip } from '../util/text';

/**
 * The window of one batch: files applied at once, at most WINDOW_FILES and WINDOW_BYTES of
 * their sizes (one file larger than that runs alone). Small files are bound by round trips and
 * by their commits: the commits that queue while a worker is busy go as one group commit
 * (fs-pool.ts, group-commit.ts), so the window sets the groups' size. At 16 files the groups
 * of a small-file tree averaged 13.6 files (below GROUP_MIN_FILES a file is fsynced alone).
 */
export const WINDOW_FILES = 256;
export const WINDOW_BYTES = 16 * 1024 * 1024;

/** What an entry weighs in the window: the bytes a file brings (held in memory up to its commit when small). */
function weight(e: Entry): number {
  return e.type === 'file' && !e.deleted && Number.isSafeInteger(e.size) && e.size > 0 ? e.size : 0;
}

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
  /** Of the fetched bytes, those taken from content the hub sent inline (no round trip). */
  inlineBytes: number;
}

/**
 * One batch being applied: what it has applied and not recorded yet (recorded in one store
 * transaction at the batch's barriers and at its end, never per file), and the parent
 * directories it already found to be real directories.
 */
interface Batch {
  result: BatchResult;
  /** Paths this batch deletes: a creation in another case of one of them is a case-only rename. */
  deletions: Set<string>;
  /** Applied, to record: the hub entry and what goes into the index for it. */
  toRecord: { h: Entry; changes: CachedEntry[] }[];
  /** Paths among toRecord (a lookup of one first records them). */
  unrecorded: Set<string>;
  /** Content the hub sent along with entries (small files): used only where it matches the entry's size and block hash. */
  inline: ReadonlyMap<Entry, Buffer>;
  /** Parent directories (wire paths) checked in this batch, and whether they were sound (no symlink, no file on the way). */
  checkedDirs: Map<string, Promise<boolean>>;
  /**
   * Where case is ignored: parent directories (wire paths) looked at in this batch, and the
   * name in another case found on disk for them (null: on disk as named, or not there).
   */
  dirCase: Map<string, string | null>;
  /**
   * Case-only renames carried out in this batch, by the lower-cased old name: entries that run
   * side by side (a renamed directory and the files in it) all find the same rename to make,
   * and only the first makes it.
   */
  caseMoves: Map<string, Promise<CachedEntry | null | undefined>>;
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
   * Applies one batch in order: up to the window (WINDOW_FILES, WINDOW_BYTES) at once, with deletions and replacements of
   * directories run alone (after what came before, before what follows). Rejects with
   * PeerGone when the connection goes: the batch is then not acknowledged and comes again.
   * `inline`: content the hub sent with some entries (FileInfo.content), taken only where it
   * matches the entry (size, block hash), else the block is fetched as usual.
   */
  async apply(entries: Entry[], inline: ReadonlyMap<Entry, Buffer> = new Map()): Promise<BatchResult> {
    const result: BatchResult = { applied: 0, skipped: 0, refused: 0, failed: 0, fetchedBytes: 0, reusedBytes: 0, inlineBytes: 0, problems: [] };
    const batch: Batch = {
      result, deletions: new Set(entries.filter((e) => e.deleted).map((e) => e.path)), toRecord: [], unrecorded: new Set(), checkedDirs: new Map(), dirCase: new Map(), caseMoves: new Map(), inline,
    };
    /** Entries whose turn ended normally (applied, skipped, refused or failed, and counted so). */
    const handled = new Set<Entry>();
    const running = new Set<Promise<void>>();
    /** The sizes of the files running (weight). */
    let bytes = 0;
    let ended: unknown = null;
    /** `known`: the entry's local record, just looked up (saves a second lookup per file). */
    const start = (e: Entry, known?: CachedEntry | null) => {
      const w = weight(e);
      bytes += w;
      const p: Promise<void> = this.one(e, batch, undefined, known).then(() => { handled.add(e); }, (err) => { ended = err; }).finally(() => {
        running.delete(p);
        bytes -= w;
      });
      running.add(p);
      return p;
    };
    /** Where case is ignored, two paths of one batch may name one file: those never run side by side. */
    const folded = new Set<string>();
    try {
      for (const e of entries) {
        if (ended) break;
        const local = this.local(e.path, batch);
        const key = e.path.toLowerCase();
        const barrier = isBarrier(e, local, { sameFileQueued: this.d.ctx.caseInsensitive === true && folded.has(key) });
        folded.add(key);
        if (barrier) {
          await Promise.all(running);
          if (ended) break;
          // What came before is recorded, and directories are checked again after it.
          this.flush(batch);
          batch.checkedDirs.clear();
          batch.dirCase.clear();
          await start(e);
          continue;
        }
        while (running.size >= WINDOW_FILES || (running.size > 0 && bytes + weight(e) > WINDOW_BYTES)) await Promise.race(running);
        if (ended) break;
        // Only a barrier (run alone) or a case-only rename changes another path's record.
        start(e, this.d.ctx.caseInsensitive ? undefined : local ?? null);
      }
    } catch (err) {
      ended ??= err;
    } finally {
      // Whatever ended the loop, what runs is settled and recorded before the batch is answered.
      await Promise.all(running);
      this.flush(batch);
    }
    if (ended instanceof PeerGone) throw ended;
    if (ended) this.unhandled(entries.filter((e) => !handled.has(e)), ended, result);
    return result;
  }

  /**
   * Something no entry's own handling expected ended the batch: the entries it had not settled
   * are reported failed with that error (the hub keeps them as problems and sends them again),
   * so the batch is still answered. An unanswered batch would hold the hub's changes for this
   * node until the session ends.
   */
  private unhandled(entries: Entry[], err: unknown, result: BatchResult): void {
    for (const e of entries) {
      const why = applyProblem(err, e.path, 'node');
      result.failed++;
      result.problems.push({ path: e.path, seq: e.seq, code: why.code, message: why.reason });
    }
    this.d.log.error('hub.batch_failed', { entries: entries.length, examples: entries.slice(0, 5).map((e) => clip(e.path)), error: (err as Error).message });
  }

  /** The workspace's recorded entry at a path; records the batch's applied entries first if it is among them. */
  private local(path: string, batch: Batch): CachedEntry | undefined {
    if (batch.unrecorded.has(path)) this.flush(batch);
    return this.d.store.get(path);
  }

  /**
   * Records what the batch applied so far, in one transaction. If that fails (a full state
   * directory), those entries are reported failed, like any file that could not be applied,
   * and the hub sends them again.
   */
  private flush(batch: Batch): void {
    if (batch.toRecord.length === 0) return;
    const done = batch.toRecord;
    batch.toRecord = [];
    batch.unrecorded.clear();
    try {
      this.d.store.record(done.flatMap((x) => x.changes));
    } catch (err) {
      const { result } = batch;
      for (const { h } of done) {
        const why = applyProblem(err, h.path, 'node');
        result.applied--;
        result.failed++;
        result.problems.push({ path: h.path, seq: h.seq, code: why.code, message: why.reason });
      }
      this.d.log.error('hub.record_failed', { files: done.length, examples: done.slice(0, 5).map((x) => clip(x.h.path)), error: (err as Error).message });
    }
  }

  /**
   * Before any byte is fetched: never through a symlink or a file in the workspace. A parent
   * directory found sound is not looked at again in this batch (until its next barrier); the
   * commit itself checks the parents again anyway (fs-worker.ts, apply.ts).
   */
  private async checkParents(wirePath: string, batch: Batch, writes: boolean): Promise<void> {
    const slash = wirePath.lastIndexOf('/');
    if (slash <= 0) return;
    const dir = wirePath.slice(0, slash);
    const sound = batch.checkedDirs.get(dir);
    if (sound === undefined) {
      const check = checkNoSymlinkParents(this.d.ctx.root, wirePath);
      batch.checkedDirs.set(dir, check.then(() => true, () => false));
      await check;
    } else if (!(await sound)) {
      // Refused in this path's own words.
      await checkNoSymlinkParents(this.d.ctx.root, wirePath);
    }
    if (writes && this.d.ctx.caseInsensitive) this.checkParentCase(wirePath, dir, batch);
  }

  /**
   * Where case is ignored, a new name under a directory that is on disk in another case
   * ("Many/f1" while "many" is there) would be written into that directory and recorded under a
   * name the scanner never finds: it reads "many/f1" from disk, a new file of the node's, and
   * the hub gets "many/" back beside "Many/". The commit itself sees another case only of a
   * file already at the path (apply.ts, group-commit.ts); this is the same CaseConflict for the
   * directory on the way, so the rename's pieces meet as one rename (caseRename, caseWaiting).
   * One look per directory per batch (again after its barriers and case renames).
   */
  private checkParentCase(wirePath: string, dir: string, batch: Batch): void {
    let variant = batch.dirCase.get(dir);
    if (variant === undefined) {
      variant = caseVariantSync(this.d.ctx.root, dir);
      batch.dirCase.set(dir, variant);
    }
    if (variant !== null) throw new CaseConflict(wirePath, variant + wirePath.slice(dir.length));
  }

  /** `renamed`: the workspace's file at this path, just given this path's case (caseRename). */
  private async one(h: Entry, batch: Batch, renamed?: CachedEntry, known?: CachedEntry | null): Promise<void> {
    const { store, log } = this.d;
    const { result } = batch;
    const problem = entryProblem(h) ?? (this.d.reserved(h.path) ? 'the path is reserved for the node\'s own state' : null);
    if (problem) {
      result.refused++;
      log.warn('hub.entry_refused', { path: clip(h.path), seq: h.seq, reason: problem });
      result.problems.push({ path: h.path, seq: h.seq, code: this.d.reserved(h.path) ? 'RESERVED_PATH' : 'BAD_ENTRY', message: problem });
      return;
    }
    if (h.type === 'file' && !h.deleted) h.mode &= 0o777;
    const local = renamed ?? (known !== undefined ? known ?? undefined : this.local(h.path, batch));
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
      if (caseOfParentDiffers(h.path, waiting.path)) {
        // A directory on the way was renamed ("many/f1" → "Many/f1") and the hub's pieces came
        // apart. Renaming the file alone changes nothing on disk (its directory is still
        // "many"), and recording it gone would have the next scan find it again, as new, under
        // "many", for the hub to take back beside "Many". File and record stay as they are;
        // the directory's own rename carries it (caseMove, or the branch below for the
        // directory), and the hub sends this deletion again (a retryable CASE_CONFLICT).
        result.refused++;
        const message = `"${h.path}" is to become "${waiting.path}" by the rename of a directory on the way, not here yet: this file system ignores case`;
        log.info('hub.case_parent_waits', { path: clip(h.path), seq: h.seq, to: clip(waiting.path) });
        result.problems.push({ path: h.path, seq: h.seq, code: 'CASE_CONFLICT', message });
        return;
      }
      // The second half of a case-only rename: the file takes the new name instead of going.
      this.caseWaiting.delete(h.path.toLowerCase());
      const moved = await applyMove(this.d.ctx, local, waiting.path, expectedOf(local));
      this.d.log.info('hub.case_renamed', { from: h.path, to: waiting.path });
      if (local.type === 'dir') this.settledUnder(h.path, batch);
      this.record(h, local, null, batch);
      return this.one(waiting, batch, moved);
    }
    const live = local && !local.deleted ? local : undefined;
    const expected = expectedOf(live);
    const action = planEntry(h, live);
    try {
      await this.checkParents(h.path, batch, !h.deleted);
      if (action.kind === 'none') return;
      const stats = { fetchedBytes: 0, reusedBytes: 0 };
      const done = await applyAction(this.d.ctx, action, h, expected, { source: () => this.source(h, live, batch.inline.get(h), result), stats });
      result.fetchedBytes += stats.fetchedBytes;
      result.reusedBytes += stats.reusedBytes;
      this.record(h, live, done, batch);
      result.applied++;
      log.debug('hub.applied', { path: h.path, hubSeq: h.seq, action: action.kind });
    } catch (err) {
      if (err instanceof PeerGone) throw err;
      if (err instanceof CaseConflict) {
        // The workspace ignores case. Renamed by the hub (it deletes the old name in this very
        // batch): take the new case and go on; otherwise two names this disk cannot hold apart.
        let moved: CachedEntry | null | undefined;
        try {
          moved = renamed ? undefined : await this.caseRename(h, err, batch);
        } catch (moveErr) {
          // The rename found the disk other than expected: like any change under us.
          this.deferred(h, result);
          log.info('hub.change_raced', { path: h.path, hubSeq: h.seq, reason: (moveErr as Error).message });
          this.d.markDirty(h.path);
          return;
        }
        if (moved) return this.one(h, batch, moved);
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
  private async caseRename(h: Entry, err: CaseConflict, batch: Batch): Promise<CachedEntry | null | undefined> {
    const { from, to } = err.renameSpan();
    const key = from.toLowerCase();
    const under = batch.caseMoves.get(key);
    if (under) {
      // Another entry of this batch (the directory, or a file in it) made this rename, or
      // found it is none (then this entry is no rename either).
      if ((await under) === undefined) return undefined;
      this.d.markDirty(h.path);
      return null;
    }
    const move = this.caseMove(h, from, to, batch);
    batch.caseMoves.set(key, move);
    return move;
  }

  /** caseRename's rename itself, made once per batch and old name. */
  private async caseMove(h: Entry, from: string, to: string, batch: Batch): Promise<CachedEntry | null | undefined> {
    const old = this.local(from, batch);
    if (!batch.deletions.has(from) || !old || old.deleted) return undefined;
    const moved = await applyMove(this.d.ctx, old, to);
    this.d.log.info('hub.case_renamed', { from, to });
    if (old.type === 'dir') this.settledUnder(from, batch);
    // The old name's records go (its deletion in this batch then finds nothing to do).
    this.record({ ...h, path: from }, old, null, batch);
    if (to === h.path) return moved;
    this.d.markDirty(to);
    return null;
  }

  /**
   * A directory was renamed to another case: the new names waiting under its old name (files
   * of it the hub sent ahead of the directory's rename) are on disk now. Dropped, so that the
   * hub's deletions of the old names sent again find nothing to rename (their records went
   * with the directory's). What the batch found of directories' case is stale.
   */
  private settledUnder(dir: string, batch: Batch): void {
    const prefix = `${dir.toLowerCase()}/`;
    for (const key of this.caseWaiting.keys()) if (key.startsWith(prefix)) this.caseWaiting.delete(key);
    batch.dirCase.clear();
  }

  /**
   * Records what was applied (with the hub's sequence number): a new version with the batch's
   * others (flush); a deletion or a directory replaced, with its subtree, at once (after what
   * the batch applied before it).
   */
  private record(h: Entry, previous: CachedEntry | undefined, done: CachedEntry | null, batch: Batch): void {
    const { store } = this.d;
    const put = done ? [{ ...done, seenSeq: 0, fromHubSeq: h.seq }] : [];
    if (!(previous && (done === null || (previous.type === 'dir' && done.type !== 'dir')))) {
      batch.toRecord.push({ h, changes: put });
      batch.unrecorded.add(h.path);
      return;
    }
    this.flush(batch);
    const gone: CachedEntry[] = [];
    for (const p of store.pathsUnder(h.path).filter((x) => x !== h.path).sort().reverse()) {
      const e = store.get(p);
      if (e && !e.deleted) gone.push({ ...e, deleted: true });
    }
    if (done === null) gone.push({ ...previous, deleted: true, fromHubSeq: h.seq });
    store.record([...gone, ...put]);
  }

  /**
   * Blocks already in the workspace version of this path (an edit in place moves few bytes),
   * and the content the hub sent along: a block of it is taken only when the content has the
   * entry's size and the block its hash (a hub may send anything); else it is fetched.
   */
  private source(h: Entry, local: CachedEntry | undefined, content?: Buffer, result?: BatchResult) {
    const have = local?.type === 'file' ? blockIndex(local.blocks) : new Map<string, number[]>();
    const file = local ? toNative(this.d.ctx.root, local.path) : '';
    return {
      findLocal: (hash: Buffer): BlockLocation[] => {
        const i = have.get(hash.toString('hex'))?.[0];
        return i === undefined ? [] : [{ file, offset: i * BLOCK_SIZE }];
      },
      fetch: (offset: number, size: number, hash: Buffer) => {
        if (content && content.length === h.size && offset >= 0 && offset + size <= content.length) {
          const block = content.subarray(offset, offset + size);
          if (sha256(block).equals(hash)) {
            if (result) result.inlineBytes += size;
            return Promise.resolve(block);
          }
        }
        if (content) this.d.log.debug('hub.inline_mismatch', { path: clip(h.path), size: content.length, expected: h.size });
        return this.d.fetch(h.path, offset, size, hash);
      },
      // The workspace's version of this path: the hub's blocks may be in it at other offsets.
      old: () => (local?.type === 'file' && !local.deleted ? { file, blocks: local.blocks, stamp: { size: local.size, mtimeMs: local.mtimeMs, ino: local.ino } } : undefined),
    };
  }
}
