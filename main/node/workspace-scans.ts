/**
 * What the node finds on its workspace: the file-system watcher (and renewing it when a
 * directory becomes readable), dirty marks gathered into scans, the scans themselves (recorded
 * in the node's index as one batch each, their problems and ignored paths reported), the full
 * rescan now and then and the sweep under the watcher (sync/dir-sweep.ts). Scans and hub-side
 * batches run one at a time, in order (serial()).
 */
import fs from 'node:fs';
import path from 'node:path';
import watcher from '@parcel/watcher';
import type { NodeStore } from '../store/node-store';
import type { FsPool } from '../sync/fs-pool';
import { coveringRoots, outsideRoot, toNative } from '../sync/paths';
import { PROBLEM_CODES, covers, scannablePath } from '../sync/problems';
import { orderBatch } from '../sync/plan';
import { FULL_RESCAN_MS, scanAll } from '../sync/scanner';
import { DirSweep, SWEEP_TICK_MS, SweepPace, fileShowsRecord, seenOf } from '../sync/dir-sweep';
import { Echoes } from '../sync/echo';
import { HotDirs } from './hot-dirs';
import type { CachedEntry, Stamp } from '../sync/types';
import type { Logger } from '../util/log';
import type { ReportSender } from './report-sender';
import { isDiskFull, type DiskRetry, type ProblemRetry } from './retries';

const WATCH_DEBOUNCE_MS = 10;

/** What one scan looked at and found (the answer to the hub's Rescan, cortex.proto RescanDone). */
export interface ScanSummary {
  scanned: number;
  changed: number;
  deleted: number;
  hashedFiles: number;
  hashedBytes: number;
  problems: number;
  ms: number;
  /** The scan failed, or its end could not be recorded: why (the counts are what it got to). */
  error: string;
}

const noScan = (error: string): ScanSummary => ({ scanned: 0, changed: 0, deleted: 0, hashedFiles: 0, hashedBytes: 0, problems: 0, ms: 0, error });

export interface WorkspaceScansDeps {
  workspace: string;
  store: NodeStore;
  pool: FsPool;
  log: Logger;
  /** Paths the node never syncs (its own state and staging directories). */
  ignore: (wirePath: string) => boolean;
  /** The workspace's file system ignores case (macOS, Windows): see expect.ts CaseConflict. */
  caseInsensitive: boolean;
  reports: ReportSender;
  problemRetry: ProblemRetry;
  disk: DiskRetry;
  /** Sends the index entries the hub has not seen (IndexSender.sendPending). */
  sendPending(): Promise<void>;
  /** Index entries are being sent right now (the sweep waits for quiet). */
  sending(): boolean;
  stopped(): boolean;
}

export class WorkspaceScans {
  private subscription: watcher.AsyncSubscription | null = null;
  private scanning: Promise<void> = Promise.resolve();
  private readonly dirty = new Set<string>();
  private debounce: NodeJS.Timeout | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  /** The safety net under the watcher (sync/dir-sweep.ts), and when it is due. */
  private readonly dirSweep: DirSweep;
  private readonly pace = new SweepPace();
  /** Paths a hub batch wrote whose watcher event has not come yet: scanned again when it never does. */
  private readonly echoes = new Echoes((silent) => { for (const p of silent) this.markDirty(p); });
  /** Directories being edited now, heard without the watcher's 50 ms debounce (hot-dirs.ts). */
  private readonly hotDirs: HotDirs;

  constructor(private readonly d: WorkspaceScansDeps) {
    this.dirSweep = new DirSweep(d.workspace, d.ignore);
    this.hotDirs = new HotDirs({ root: d.workspace, changed: (p) => this.markDirty(p), echo: (p) => this.echoes.expecting(p) });
  }

  /** Starts watching the workspace. */
  async watch(): Promise<void> {
    this.subscription = await this.subscribe();
  }

  /**
   * Starts the safety nets under the watcher, after the first scan: the sweep's baseline is
   * what that scan recorded (anything after it is looked at).
   */
  async startSafetyNets(): Promise<void> {
    await this.dirSweep.changedDirs(['', ...this.d.store.dirs()]).catch(() => undefined);
    if (this.d.stopped()) return;
    // A safety net for events the watcher lost: the whole workspace is compared (stat only) now and then.
    const full = setInterval(() => void this.rescan(['']), FULL_RESCAN_MS);
    full.unref();
    // ...and, much more often, a sweep of the workspace's directories (sync/dir-sweep.ts).
    const sweep = setInterval(() => void this.sweep(), SWEEP_TICK_MS);
    sweep.unref();
    this.timers.push(full, sweep);
  }

  /** Stops the timers and the watcher; see idle() for the scan under way. */
  async stop(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.echoes.clear();
    this.hotDirs.close();
    await this.subscription?.unsubscribe();
  }

  /** Resolves when the scan or hub batch under way (and those queued) ended. */
  idle(): Promise<void> {
    return this.scanning.catch(() => undefined);
  }

  /** A hub batch wrote these paths: their watcher events are echoes of ours, and the sweep has activity to look at. */
  wrote(paths: string[]): void {
    this.pace.touch();
    this.echoes.expect(paths);
  }

  private subscribe(): Promise<watcher.AsyncSubscription> {
    const { d } = this;
    return watcher.subscribe(d.workspace, (err, events) => {
      if (err) {
        d.log.warn('watch.error', { error: err.message });
        this.markDirty('');
        return;
      }
      this.pace.touch();
      for (const ev of events) {
        const rel = path.relative(d.workspace, ev.path).split(path.sep).join('/');
        if (outsideRoot(rel, '/')) continue;
        // An edit of someone's (not our own write's echo): its directory is watched closely for a
        // while, and swept entry by entry (dir-sweep.ts touched: the watcher can lose an event).
        if (!this.echoes.expecting(rel) && !d.ignore(scannablePath(rel))) {
          this.hotDirs.edited(rel);
          this.dirSweep.touched(rel);
        }
        this.echoes.seen(rel);
        this.markDirty(rel);
      }
    });
  }

  /**
   * The watcher cannot watch inside a directory it could not read, and does not start when
   * the directory becomes readable: a new subscription does (rare: after such a directory's
   * problem went away). @parcel/watcher shares one watcher per directory among subscriptions,
   * so the old one must go first; a full (stat-only) scan then catches what changed meanwhile.
   */
  private async renewWatch(dirs: string[]): Promise<void> {
    if (this.d.stopped()) return;
    try {
      await this.subscription?.unsubscribe();
      this.subscription = null;
      if (this.d.stopped()) return;
      this.subscription = await this.subscribe();
      this.d.log.info('watch.renewed', { readable: dirs.slice(0, 10) });
    } catch (e) {
      this.d.log.warn('watch.renew_failed', { error: (e as Error).message });
    }
    this.markDirty('');
  }

  /** This path may have changed: it is scanned soon (marks are gathered for WATCH_DEBOUNCE_MS). */
  markDirty(changed: string): void {
    // A name that is not valid UTF-8 arrives with U+FFFD: its directory is what can be scanned.
    const wire = scannablePath(changed);
    if (this.d.ignore(wire)) return;
    this.dirty.add(wire);
    if (!this.debounce) {
      this.debounce = setTimeout(() => {
        this.debounce = null;
        const paths = [...this.dirty];
        this.dirty.clear();
        void this.rescan(coveringRoots(paths));
      }, WATCH_DEBOUNCE_MS);
    }
  }

  /** Queues a scan of these subtrees ('' = everything); see serial(). */
  rescan(subtrees: string[]): Promise<void> {
    return this.serial(async () => { await this.scan(subtrees); }, (e) => this.d.disk.storeFailed(e, 'scan.failed', { subtrees }));
  }

  /** As rescan(), and what the scan looked at and found (the hub's Rescan asks for it). */
  async rescanReport(subtrees: string[]): Promise<ScanSummary> {
    let summary = null as ScanSummary | null;
    let failed = null as Error | null;
    await this.serial(async () => { summary = await this.scan(subtrees); }, (e) => {
      failed = e;
      this.d.disk.storeFailed(e, 'scan.failed', { subtrees });
    });
    if (failed) return noScan(failed.message);
    return summary ?? noScan(this.d.stopped() ? 'the node is stopping' : 'nothing to scan');
  }

  /**
   * Scans and hub-side batches run one at a time, in order: a scan never sees a commit of ours
   * that is not recorded yet (it would take it for a local edit and send it back).
   */
  serial(fn: () => Promise<void>, onError: (e: Error) => void): Promise<void> {
    this.scanning = this.scanning.then(fn).catch(onError);
    return this.scanning;
  }

  /**
   * Scans the subtrees and records all their changes as one batch, so that the two halves of
   * a rename get sequence numbers in the order the hub can use (creation before deletion).
   * What cannot be sent is a problem, what is left out by design is ignored: both go to the hub.
   */
  private async scan(subtrees: string[]): Promise<ScanSummary | null> {
    const { d } = this;
    if (d.stopped()) return null;
    const t0 = Date.now();
    const full = subtrees.includes('');
    const roots = full ? [''] : await this.unsettled(coveringRoots(subtrees));
    if (roots.length === 0) return null;
    // A whole workspace is compared with every path's stamp (no hashes or block lists: see stamps()).
    const cache = full ? d.store.stamps() : null;
    let early = 0;
    const res = await scanAll(roots, {
      root: d.workspace,
      pool: d.pool,
      cached: (p) => (cache ? cache.get(p) : d.store.get(p)),
      knownUnder: (s) => (cache ? cache.keys() : d.store.pathsUnder(s)),
      ignore: d.ignore,
      caseInsensitive: d.caseInsensitive,
      // Only a whole-tree scan (a first scan, the full rescan) holds enough to be worth it, and
      // not while the state dir is known to be full: such a scan records all at its end, as
      // the disk-full retries expect (node-problems.test.ts).
      handOver: !full || d.disk.nodeProblem ? undefined : (batch) => {
        const n = this.recordEarly(batch, cache);
        early += n;
        return n > 0;
      },
    });
    const known = d.reports.found;
    // Each new problem is a warning once; one already known is only debug (it is retried).
    for (const p of res.problems) {
      const before = known.problems.get(p.path);
      d.log[before?.code === p.code ? 'debug' : 'warn']('scan.problem', { path: p.path, code: p.code, reason: p.reason });
    }
    for (const i of res.ignored) d.log[known.ignored.has(i.path) ? 'debug' : 'info']('scan.ignored', { path: i.path, kind: i.kind, reason: i.reason });
    const { updated, problems, walked, hashedFiles, hashedBytes } = res;
    const ignored = res.ignored.map((i) => ({ path: i.path, kind: i.kind }));
    const deleted: CachedEntry[] = [];
    for (const p of res.deleted) {
      const prev = d.store.get(p);
      if (prev) deleted.push({ ...prev, deleted: true });
    }
    const wasUnreadable = [...known.problems.values()].filter((p) => p.code === PROBLEM_CODES.UNREADABLE && roots.some((r) => covers(r, p.path)));
    d.reports.replace(roots, problems, ignored);
    // A directory that could not be read and now can: the watcher must start watching inside it.
    const nowReadable = wasUnreadable.filter((p) => !known.problems.has(p.path) && (p.path === '' || d.store.get(p.path)?.type === 'dir' || updated.some((e) => e.path === p.path && e.type === 'dir')));
    if (nowReadable.length) void this.renewWatch(nowReadable.map((p) => p.path));
    d.problemRetry.schedule();
    if (updated.length || deleted.length) {
      try {
        d.store.record(orderBatch([...updated, ...deleted]));
      } catch (e) {
        if (!isDiskFull(e)) throw e;
        // The end of this scan was not recorded: the same subtrees are scanned again once there is room.
        d.disk.full(e as Error, roots);
        void d.reports.send();
        // What was recorded while hashing goes to the hub all the same.
        if (early > 0) void d.sendPending();
        return { scanned: walked, changed: early, deleted: 0, hashedFiles, hashedBytes, problems: problems.length, ms: Date.now() - t0, error: `the node's state dir is full: the end of the scan is recorded once there is room (${(e as Error).message})` };
      }
      // Only a write tells that there is room again.
      d.disk.retried(roots);
      d.disk.recovered();
    } else if (early > 0) {
      // All of it was recorded while hashing (a scan whose last batch failed is handled above).
      d.disk.retried(roots);
      d.disk.recovered();
    } else {
      // Nothing to write: these subtrees no longer wait, and a probe will tell when there is room.
      d.disk.retried(roots);
      d.disk.schedule();
    }
    if (full || hashedFiles > 0) {
      d.log.info('scan.done', { subtrees: roots.slice(0, 20), walked, changed: early + updated.length, deleted: deleted.length, hashedFiles, hashedBytes, problems: problems.length, ignored: ignored.length, ms: Date.now() - t0 });
    }
    void d.reports.send();
    void d.sendPending();
    return { scanned: walked, changed: early + updated.length, deleted: deleted.length, hashedFiles, hashedBytes, problems: problems.length, ms: Date.now() - t0, error: '' };
  }

  /**
   * Of these scan roots, those a scan could find something in: a regular file showing its
   * recorded stamp (dir-sweep.ts fileShowsRecord) is left out, as its scan would find nothing.
   * Most are the echoes of what a hub batch just wrote and recorded (scans run after it:
   * serial()); a scan each cost a worker round trip and an index query per file. Not where case
   * is ignored (a scan then also checks the name's case on disk), nor for a path with a known
   * problem or ignored (its scan would clear it).
   */
  private async unsettled(roots: string[]): Promise<string[]> {
    const { d } = this;
    if (d.caseInsensitive) return roots;
    const known = d.reports.found;
    const out: string[] = [];
    let since = Date.now();
    for (let i = 0; i < roots.length; i++) {
      if ((i & 63) === 63 && Date.now() - since > 8) {
        await new Promise((r) => setImmediate(r));
        since = Date.now();
      }
      const p = roots[i]!;
      if (p !== '' && !known.problems.has(p) && !known.ignored.has(p)) {
        let st: fs.Stats | undefined;
        try {
          st = fs.lstatSync(toNative(d.workspace, p));
        } catch {
          st = undefined;
        }
        if (st && fileShowsRecord(seenOf(st), d.store.stamp(p))) continue;
      }
      out.push(p);
    }
    return out;
  }

  /**
   * Records a batch the scan hands over while it runs (scanner.ts handOver): new directories
   * and symlinks first, then hashed files, each after its parent; deletions wait for the end
   * of the scan (a rename's new path is recorded before its old one goes). A batch holding a
   * path that was a directory is refused (its old children's deletions must come first: the
   * rest of the scan is then recorded at its end as one batch), and so is one that cannot be
   * written (a full disk: the end of the scan handles it). Returns how many were recorded.
   */
  private recordEarly(batch: CachedEntry[], stamps: Map<string, Stamp> | null): number {
    const { d } = this;
    for (const e of batch) {
      const prev = stamps ? stamps.get(e.path) : d.store.get(e.path);
      if (prev && !prev.deleted && prev.type === 'dir' && e.type !== 'dir') return 0;
    }
    try {
      d.store.record(orderBatch(batch));
    } catch (e) {
      if (isDiskFull(e)) return 0;
      throw e;
    }
    return batch.length;
  }

  /**
   * Looks for edits the watcher lost: the directories whose entries changed since the last
   * sweep are compared with the index, and what differs is scanned. Runs after activity (a
   * watcher batch, a hub batch) and now and then anyway; one at a time, beside scans.
   */
  private async sweep(): Promise<void> {
    const { d } = this;
    // Only when quiet: what is being scanned or sent right now is not lost.
    if (d.stopped() || this.dirty.size > 0 || this.debounce || d.sending() || this.pace.quietFor() < SWEEP_TICK_MS) return;
    await this.pace.run(async () => {
      const differing = await this.dirSweep.differing(['', ...d.store.dirs()], (dir) => d.store.children(dir));
      if (differing.length) {
        d.log.info('scan.sweep_found', { paths: differing.length, examples: differing.slice(0, 5), hint: 'edits the watcher did not report' });
        for (const p of differing) this.markDirty(p);
      }
    }).catch((e: Error) => d.log.error('scan.sweep_failed', { error: e.message }));
  }
}
