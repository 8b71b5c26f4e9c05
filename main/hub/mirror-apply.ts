/**
 * The apply step of a node session: carries out a queued node change in the mirror (sync/
 * apply-action.ts does the disk work) with what the hub adds around it: conflict copies on
 * both sides, parents the hub deleted brought back, a file of the hub's in the way of a node's
 * directory stepping aside, case-only renames, and deciding again when the mirror changed under
 * the change. Results go to the session's write journal; the flush records them.
 */
import fs from 'node:fs';
import { AbortedError, applyDir, applyMove, applySymlink, pullFile, type ApplyContext, type BlockLocation, type PullSource, type PullStats } from '../sync/apply';
import { applyAction, applyProblem } from '../sync/apply-action';
import { BlockUnavailable, PeerGone, type BlockFetcher } from '../sync/block-fetcher';
import { BLOCK_SIZE, HASH_LEN, blockIndex } from '../sync/blocks';
import { CaseConflict, ChangedMeanwhile, expectedOf, stampMatches } from '../sync/expect';
import { UnsafePathError, ancestorsOf, checkNoSymlinkParents, toNative } from '../sync/paths';
import { sameVersion, versionOf, type Version } from '../sync/reconcile';
import { tombstone, type CachedEntry, type Entry } from '../sync/types';
import type { HubStore } from '../store/hub-store';
import type { Logger } from '../util/log';
import type { ApplyQueue, QueueItem } from './apply-queue';
import type { Direction } from './failures';
import { freeConflictName, type Verdict } from './judge';
import type { PartialFiles } from './partials';
import type { SessionCounters, SessionHooks } from './session';
import type { WriteJournal, Writes } from './write-journal';

/** How often a change that lost a race with an edit on the hub's side is decided again. */
const MAX_REDECIDE = 3;

export interface MirrorApplierDeps {
  nodeId: string;
  ctx: ApplyContext;
  store: HubStore;
  log: Logger;
  queue: ApplyQueue;
  journal: WriteJournal;
  partials: PartialFiles;
  /** Blocks of node files, from the node. */
  blocks: BlockFetcher;
  counters: SessionCounters;
  hooks: Pick<SessionHooks, 'rescan' | 'written'>;
  closed(): boolean;
  /** The node's sequence acknowledged so far: an item at or below it is a retry. */
  ackedSeq(): number;
  /** The session's verdict on a node change (judge.ts), recorded and logged. */
  verdict(e: Entry, aside: boolean): Verdict;
  judgeAndEnqueue(e: Entry): void;
  queueForNode(paths: string[]): void;
  failEntry(e: Entry, code: string, reason: string, retryable: boolean): void;
  clearFailure(direction: Direction, path: string): void;
  changed(): void;
}

export class MirrorApplier {
  /** Node changes refused for a name on disk in another case, by lower-cased path (see execute's delete). */
  private readonly caseWaiting = new Map<string, Entry>();
  /** Parent conflicts being settled, by each ancestor of the change that found it (parentConflict). */
  private readonly resolvingParent = new Map<string, Promise<boolean>>();
  /** Directories known to be recorded in the mirror index (restoreParents); cleared on any deletion. */
  private readonly knownDirs = new Set<string>();
  private progressNotifiedAt = 0;

  constructor(private readonly d: MirrorApplierDeps) {}

  /** Hub-side changes (deletions among them) make what was known of directories stale. */
  staleDirs(): void {
    this.knownDirs.clear();
  }

  /**
   * Applies a queued node change, deciding again when the mirror changed meanwhile, settling
   * case renames and parent conflicts; a failure is kept as the path's problem. Never rejects
   * for a failure it knows (a lost connection leaves the item interrupted, unacknowledged).
   */
  async run(it: QueueItem): Promise<void> {
    const e = it.entry;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.execute(it);
        this.d.clearFailure('to-hub', e.path);
        return;
      } catch (err) {
        if (err instanceof AbortedError || err instanceof PeerGone || this.d.closed()) {
          // Left unacknowledged when the connection dropped: the node sends it again on resume.
          if (!(err instanceof AbortedError)) it.interrupted = true;
          return;
        }
        if (err instanceof ChangedMeanwhile && !(it.conflict?.loser === 'node')) {
          // Something on the hub's side changed the path after we decided: record that change
          // and decide again (now possibly a conflict), rather than overwrite it.
          this.d.log.info('sync.raced', { node: this.d.nodeId, path: e.path, attempt });
          await this.d.hooks.rescan([e.path, ...(it.conflict ? [it.conflict.copyTo] : [])]);
          if (this.d.closed()) {
            it.interrupted = true;
            return;
          }
          const v = this.d.verdict(e, attempt >= MAX_REDECIDE);
          if (v.sendBack) this.d.queueForNode([e.path]);
          it.action = v.action;
          it.expected = v.expected;
          delete it.conflict;
          if (v.conflict) it.conflict = v.conflict;
          continue;
        }
        if (err instanceof CaseConflict && attempt <= MAX_REDECIDE && (await this.caseRename(it, err))) continue;
        if (err instanceof CaseConflict) this.caseWaiting.set(e.path.toLowerCase(), e);
        const parent = err instanceof UnsafePathError && attempt <= MAX_REDECIDE ? this.d.queue.runningAncestor(ancestorsOf(e.path)) : undefined;
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
          this.d.log.debug('file.superseded', { node: this.d.nodeId, path: e.path, seq: e.seq, reason: err.reason });
          this.d.clearFailure('to-hub', e.path);
          return;
        }
        const f = applyProblem(err, e.path, 'hub');
        this.d.failEntry(e, f.code, f.reason, f.retry);
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
    if (this.d.queue.latest(from)?.entry.deleted !== true) return false;
    const old = this.d.store.index.file(this.d.nodeId, from) ?? (await this.lstatEntry(from));
    if (!old) return false;
    const moved = await applyMove(this.d.ctx, old, to);
    this.d.log.info('sync.case_renamed', { node: this.d.nodeId, from, to });
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
      const st = await fs.promises.lstat(toNative(this.d.ctx.root, dir)).catch(() => undefined);
      if (!st) return false;
      if (st.isDirectory()) continue;
      // Only a regular file steps aside; a symlink in the way is refused (UNSAFE_PATH), never touched.
      if (!st.isFile()) return false;
      let ours = this.d.store.index.file(this.d.nodeId, dir);
      if (!ours || !stampMatches(st, expectedOf(ours))) {
        await this.d.hooks.rescan([dir]);
        ours = this.d.store.index.file(this.d.nodeId, dir);
      }
      if (!ours || ours.type === 'dir' || this.d.closed()) return false;
      // The node's own last version of it (the agreed one): the node contradicts itself (a
      // file, and something inside it). Refused; only a file made on the hub's side steps aside.
      const before = this.d.store.ancestors.get(this.d.nodeId, dir);
      if (sameVersion(before, versionOf(ours))) return false;
      const copyTo = freeConflictName({ now: Date.now(), taken: (p) => Boolean(this.d.store.index.file(this.d.nodeId, p)) || this.d.queue.has(p) }, dir, 'hub');
      this.d.log.warn('sync.conflict', { node: this.d.nodeId, path: dir, winner: 'node', copy: copyTo, reason: 'the node made a directory where the hub has a file' });
      const moved = await applyMove(this.d.ctx, ours, copyTo, expectedOf(ours));
      const made = await applyDir(this.d.ctx, { ...tombstone(dir, 0), deleted: false, type: 'dir', mode: before?.type === 'dir' ? before.mode : 0o755 }, null);
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
      const coming = this.d.queue.latest(dir)?.entry;
      if (coming && !coming.deleted && coming.type === 'dir') break;
      const w = this.d.journal.unflushed(dir);
      const rec = w !== undefined ? w : this.d.store.index.stamp(this.d.nodeId, dir);
      if (rec?.type === 'dir' && !rec.deleted) {
        this.knownDirs.add(dir);
        break;
      }
      // A file or symlink in the way, recorded or not: parentConflict() settles it when the
      // commit fails, or the change is refused (a symlink is never touched).
      if (rec) return;
      const st = await fs.promises.lstat(toNative(this.d.ctx.root, dir)).catch(() => undefined);
      if (st && !st.isDirectory()) return;
      missing.push(dir);
    }
    if (missing.length === 0) return;
    const made: CachedEntry[] = [];
    for (const dir of missing.reverse()) {
      const before = this.d.store.ancestors.get(this.d.nodeId, dir);
      made.push(await applyDir(this.d.ctx, { ...tombstone(dir, 0), deleted: false, type: 'dir', mode: before?.type === 'dir' ? before.mode : 0o755 }, null));
    }
    for (const m of made) this.knownDirs.add(m.path);
    this.d.log.info('sync.parents_restored', { node: this.d.nodeId, path: wirePath, dirs: made.map((m) => m.path) });
    this.wrote({ put: made, forNode: made.map((m) => m.path), agreed: made.map((m): [string, Version] => [m.path, versionOf(m)!]) });
  }

  /** The path's directory is the root, or known to be recorded (restoreParents would do nothing). */
  private parentKnown(wirePath: string): boolean {
    const slash = wirePath.lastIndexOf('/');
    return slash < 0 || this.knownDirs.has(wirePath.slice(0, slash));
  }

  /** A minimal entry for what is on disk at a mirror path (for moving it), if anything. */
  private async lstatEntry(wirePath: string): Promise<CachedEntry | undefined> {
    const st = await fs.promises.lstat(toNative(this.d.ctx.root, wirePath)).catch(() => undefined);
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
    // Most files land in a directory known to be recorded: no async step for them.
    if (!e.deleted && !this.parentKnown(e.path)) await this.restoreParents(e.path);
    if (it.conflict?.loser === 'node') {
      // The hub's version stays; the node's is kept beside it, on both sides.
      const copy = { ...e, path: it.conflict.copyTo };
      it.abort = new AbortController();
      if (e.type === 'file') this.d.journal.intend(copy.path, e.hash);
      const done = e.type === 'symlink' ? await applySymlink(this.d.ctx, copy, null) : await pullFile(this.d.ctx, copy, this.source(e), it.abort.signal, undefined, null);
      // A directory that won goes to the node whole: what it holds may have been refused there.
      const ours = this.d.store.index.file(this.d.nodeId, e.path);
      this.wrote({ put: [done], forNode: [copy.path, e.path, ...(ours?.type === 'dir' ? this.d.store.index.pathsUnder(this.d.nodeId, e.path) : [])] });
      return;
    }
    let expected = it.expected;
    if (it.conflict?.loser === 'hub') {
      // The node's version wins: ours moves aside first (only if it is still what we decided on).
      const ours = this.d.store.index.file(this.d.nodeId, e.path);
      if (ours) {
        if (ours.type === 'file') this.d.journal.intend(it.conflict.copyTo, ours.hash);
        const moved = await applyMove(this.d.ctx, ours, it.conflict.copyTo, expected);
        this.wrote({ put: [moved], del: [e.path], forNode: [moved.path] });
      }
      expected = null;
    }
    // A directory replaced by something else takes its recorded subtree with it.
    const replacesDir = it.expected?.type === 'dir' && e.type !== 'dir' ? [e.path] : [];
    if (it.action.kind === 'delete') {
      const waiting = this.caseWaiting.get(e.path.toLowerCase());
      const ours = waiting && waiting.path !== e.path ? this.d.store.index.file(this.d.nodeId, e.path) : undefined;
      if (waiting && ours) {
        // The second half of a case-only rename whose first half was refused: rename, then apply it.
        this.caseWaiting.delete(e.path.toLowerCase());
        await applyMove(this.d.ctx, ours, waiting.path, expected);
        this.d.log.info('sync.case_renamed', { node: this.d.nodeId, from: e.path, to: waiting.path });
        this.wrote({ del: [e.path], agreed: [[e.path, null]] });
        this.d.judgeAndEnqueue(waiting);
        return;
      }
    }
    const stats: PullStats = { fetchedBytes: 0, reusedBytes: 0 };
    if (it.action.kind === 'pull') {
      // A retry (of a change acknowledged long ago) may meet a path that still cannot take it:
      // found before any byte is asked for. (First tries leave this to the commit: a stat per
      // parent of every file would cost the initial sync.)
      if (e.seq <= this.d.ackedSeq()) await checkNoSymlinkParents(this.d.ctx.root, e.path);
      it.abort = new AbortController();
      this.d.journal.intend(e.path, e.hash);
    }
    const done = await applyAction(this.d.ctx, it.action, e, expected, { source: () => this.source(e), signal: it.abort?.signal, stats });
    if (!done) {
      this.wrote({ del: [e.path], agreed: [[e.path, null]] });
      return;
    }
    if (it.action.kind === 'pull') {
      this.d.partials.drop(e);
      this.d.counters.bytesReused += stats.reusedBytes;
    }
    this.wrote({ del: replacesDir, put: [done], agreed: [[e.path, agreed]] });
    if (it.action.kind === 'pull') this.d.log.debug('file.committed', { node: this.d.nodeId, path: e.path, size: e.size, fetched: stats.fetchedBytes, reused: stats.reusedBytes, copied: stats.copiedBytes ?? 0, buildMs: stats.buildMs, syncMs: stats.syncMs });
  }

  /** Adds an operation's results to what the next flush records, and tells running scans. */
  private wrote(w: Partial<Writes>): void {
    if (w.del?.length) this.knownDirs.clear();
    this.d.journal.add(w);
    this.d.hooks.written([...(w.del ?? []), ...(w.put ?? []).map((x) => x.path)]);
  }

  private source(e: Entry): PullSource {
    // Blocks of an earlier, interrupted pull of this very version, by hash (verified on read).
    const partial = this.d.partials.of(e);
    let inPartial: Map<string, number[]> | null = null;
    if (partial) {
      inPartial = blockIndex(e.blocks);
    }
    // A file of one block: the mirror index keeps no block rows of such files (mirror-index.ts
    // putFiles), so a lookup per small file would almost never find its one block; it is fetched.
    const lookUp = e.blocks.length > HASH_LEN;
    return {
      findLocal: (hash: Buffer): BlockLocation[] => {
        if (!lookUp && !inPartial) return [];
        return [
          ...(inPartial?.get(hash.toString('hex')) ?? []).map((i) => ({ file: partial!, offset: i * e.blockSize })),
          ...(lookUp ? this.d.store.index.findBlock(this.d.nodeId, hash).map((b) => ({ file: toNative(this.d.ctx.root, b.path), offset: b.idx * BLOCK_SIZE })) : []),
        ];
      },
      fetch: (offset, size, hash) => this.fetch(e.path, offset, size, hash),
      // The mirror's version of this path: the new one's blocks may be in it at other offsets.
      old: () => {
        const ours = this.d.store.index.file(this.d.nodeId, e.path);
        return ours?.type === 'file' && !ours.deleted ? { file: toNative(this.d.ctx.root, ours.path), blocks: ours.blocks, stamp: { size: ours.size, mtimeMs: ours.mtimeMs, ino: ours.ino } } : undefined;
      },
    };
  }

  private async fetch(path: string, offset: number, size: number, hash: Buffer): Promise<Buffer> {
    const data = await this.d.blocks.fetch(path, offset, size, hash);
    // Counted as it arrives, so status shows a large file's progress while it transfers.
    this.d.counters.bytesReceived += data.length;
    const now = Date.now();
    if (now - this.progressNotifiedAt >= 250) {
      this.progressNotifiedAt = now;
      this.d.changed();
    }
    return data;
  }
}
