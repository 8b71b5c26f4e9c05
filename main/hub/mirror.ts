/**
 * One node's mirror on the hub (Syncthing's "folder"): its watcher, the scans that find edits
 * made on the hub's side (dirty marks, rechecks, write echoes, the sweep under the watcher),
 * the case probe, its immutability lock and its verification at start-up. What a scan finds
 * is recorded in the mirror index and queued for the node; the node's session writes into it.
 *
 * Over 400 lines for one role: the watcher, the scans, the sweep and the verification all
 * read and move the same private state (activity, echoes, the scan chain), which is what keeps
 * a hub-side edit from being taken for the session's own write or lost between them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type watcher from '@parcel/watcher';
import type { LockRefusalView } from '../contract';
import type { HubStore } from '../store/hub-store';
import type { CachedEntry, Stamp } from '../sync/types';
import type { FsPool } from '../sync/fs-pool';
import { scanAll } from '../sync/scanner';
import { DirSweep, SWEEP_MIN_GAP_MS, SweepPace } from '../sync/dir-sweep';
import { Echoes } from '../sync/echo';
import { expectedOf, stampMatches } from '../sync/expect';
import { orderBatch } from '../sync/plan';
import { versionOf, type Version } from '../sync/reconcile';
import { coveringRoots, outsideRoot, scanRoots, toNative } from '../sync/paths';
import { caseInsensitive, clearStaging } from '../sync/apply';
import { hubSideMode, writtenAs, type MirrorModes } from '../sync/modes';
import type { Logger } from '../util/log';
import { CommitIntents } from './commit-intents';
import { subscribeMirror } from './early-watch';
import { LOCK_FILE, MirrorLock } from './lock';
import type { NodeSession } from './session';

/** Stamps loaded per query (a turn of the event loop between them: ~1 ms per 1,000). */
const STAMP_PAGE = 1000;
/**
 * Hub-side changes recorded (and queued for the node) per transaction, and how long such
 * transactions may follow each other before the event loop gets a turn (a transaction of 256
 * new files took 5-18 ms).
 */
const RECORD_PAGE = 64;
const RECORD_SLICE_MS = 4;
/** Hub-side edits are gathered this long before they are checked. */
const MIRROR_DEBOUNCE_MS = 50;
const MIRROR_RECHECK_MS = 1000;
/** Changed entries of one directory from which the directory is scanned rather than each (sync/paths.ts scanRoots). */
const SCAN_PARENT_AT = 32;

export interface MirrorDeps {
  id: string;
  /** The mirror's directory, and its staging directory (same file system, never inside it). */
  root: string;
  staging: string;
  store: HubStore;
  pool: FsPool;
  log: Logger;
  /** The node's current session, if any. */
  session(): NodeSession | null;
  /** Something the status shows changed. */
  changed(): void;
  /** The hub is closing. */
  closed(): boolean;
  /** The mirror mode setting (read per change). */
  modes(): MirrorModes;
  /** A sweep ended while `s` was the node's session (it may be settled now). */
  swept(s: NodeSession): void;
}

export interface ScanTotals { walked: number; updated: number; deleted: number; hashedFiles: number; hashedBytes: number; examples: string[]; skipped: number }

export class Mirror {
  readonly id: string;
  /** The mirror's immutability lock, re-read only when the watcher sees `.metadata.json` change. */
  readonly lock: MirrorLock;
  readonly lockRefused = new Map<string, LockRefusalView>();
  /** Sessions of this node wait for this before they start. */
  ready: Promise<void> = Promise.resolve();
  /** The session's commits of node versions, noted before their rename (commit-intents.ts). */
  readonly intents: CommitIntents;
  /** Those an earlier run noted and did not record: for the verification at start. */
  private earlierCommits = new Map<string, Set<string>>();
  /** A background verification of the mirror is running. */
  verifying = false;
  scanError: string | null = null;
  /** The mirror's watcher: hub-side edits, and `.metadata.json` (the lock). */
  private watch: Promise<watcher.AsyncSubscription | null> | null = null;
  /** Mirror paths the watcher reported, to check at the next debounce. */
  private readonly dirty = new Set<string>();
  private dirtyTimer: NodeJS.Timeout | null = null;
  /** Mirror scans run one at a time per node. */
  private scanChain: Promise<void> = Promise.resolve();
  /** The mirror's file system ignores case (probed on first use). */
  private caseInsensitive?: boolean;
  /** Directories to look into once more (recheckLater). */
  private readonly recheck = new Set<string>();
  private recheckTimer: NodeJS.Timeout | null = null;
  /**
   * Paths the session wrote whose watcher event has not come yet, with when they were written.
   * The watcher may fold the "created" of our write and the "deleted" of a hub-side edit right
   * after it into nothing; a path whose event never comes is looked at again (echoCheck).
   */
  private readonly echoes = new Echoes((silent) => this.echoMissing(silent));
  /** The safety net under the watcher (sync/dir-sweep.ts), and what it has looked at. */
  private sweeper: DirSweep | null = null;
  /** Counts watcher batches and session writes; a sweep settles the count it started at. */
  private readonly pace = new SweepPace(Date.now, SWEEP_MIN_GAP_MS);
  /** Paths the session wrote while a scan ran: not hub-side edits (checked again later). */
  private readonly scans = new Set<Set<string>>();

  constructor(private readonly deps: MirrorDeps) {
    this.id = deps.id;
    this.lock = new MirrorLock(path.join(deps.root, LOCK_FILE));
    this.intents = new CommitIntents(deps.staging);
  }

  private get log(): Logger {
    return this.deps.log;
  }

  /** The watcher runs (the mirror is served). */
  get watching(): boolean {
    return this.watch !== null;
  }

  /** Every write of ours seen by the watcher, and a sweep of the directories done since the last activity. */
  get caughtUp(): boolean {
    return this.echoes.size === 0 && this.pace.settled;
  }

  /**
   * The start of a serving hub: once it listens, staging leftovers are cleared, the mirror is
   * watched and verified against its index (stat only; only changed files are re-hashed).
   *
   * After a crash the index may lag behind the mirror, so a node waits for its mirror's
   * verification before it may sync. After a clean shutdown the index matched the mirror when
   * the hub stopped: nodes may sync at once while the verification runs beside them
   * (`verifying` in status); if it finds the mirror changed while the hub was down, the node's
   * session is ended and it resyncs with a full index.
   */
  verifyAtStart(listening: Promise<void>, cleanShutdown: boolean): void {
    const fail = (e: Error) => {
      this.scanError = e.message;
      this.log.error('mirror.verify_failed', { node: this.id, error: e.message });
    };
    // The watcher's first look at a big mirror takes about a second (its own thread, ~1 s for
    // 100k files): it starts now, beside the hub's own start-up, so that it is watching by the
    // time the verification walks the mirror (what changes after the walk is the watcher's).
    const early = !this.deps.closed() && fs.existsSync(this.deps.root) ? this.startWatching() : Promise.resolve();
    const exists = listening.then(() => (this.deps.closed() ? false : this.prepare()));
    // The verification starts as soon as the hub listens: it reads the index's stamps while
    // the watcher still crawls the mirror (on its own thread), but walks the mirror only once
    // the watcher is watching. The order is what keeps an edit made during the start-up from
    // being lost: one made before the walk reaches it is found by the walk, one made after
    // the watcher started is the watcher's; a walk beside the crawl could read a directory
    // before its edit and the watcher watch it only after.
    const watching = exists.then((yes) => (yes ? early.then(() => this.startWatching()).then(() => true) : false));
    const prepared = exists.then((yes) => (yes ? watching : false));
    const verified = exists.then((yes) => (yes ? this.verify(watching) : undefined)).catch(fail);
    if (!cleanShutdown) {
      this.ready = verified;
      return;
    }
    // Sessions wait only for the staging clean-up; a failure is reported once, by `verified`.
    this.ready = prepared.then(() => undefined, () => undefined);
    this.verifying = true;
    void verified.finally(() => {
      this.verifying = false;
      this.deps.changed();
    });
  }

  /**
   * Loads the mirror's lock and watches the mirror for changes made on the hub's side (agents,
   * operators). The lock file is read again only when the watcher reports it. Idempotent.
   */
  startWatching(): Promise<unknown> {
    if (this.watch || this.deps.closed()) return this.watch ?? Promise.resolve();
    const id = this.id;
    const report = (why: string) => {
      this.log.info('lock.loaded', { node: id, why, globs: this.lock.globs, reads: this.lock.reads, ...(this.lock.error ? { error: this.lock.error } : {}) });
      if (this.lock.error) this.log.warn('lock.unusable', { node: id, error: this.lock.error, kept: this.lock.globs });
      this.deps.changed();
    };
    this.lock.load();
    report('start');
    const root = this.deps.root;
    this.sweeper = new DirSweep(root);
    this.watch = subscribeMirror(root, (err, events) => {
      this.pace.touch();
      if (err) {
        this.log.warn('mirror.watch_error', { node: id, error: err.message });
        this.markDirty('');
        return;
      }
      for (const ev of events) {
        const rel = path.relative(root, ev.path).split(path.sep).join('/');
        if (rel === '' || outsideRoot(rel, '/')) continue;
        // An edit of someone's (not an echo of the session's writes): its directory is swept closely.
        if (!this.echoes.expecting(rel)) this.sweeper?.touched(rel);
        if (this.echoes.seen(rel)) this.deps.changed();
        if (rel === LOCK_FILE) {
          this.lock.changed();
          report('changed');
        }
        this.markDirty(rel);
      }
    }).then(({ sub, startedAt }) => {
      // (The watcher's first look at the mirror: ~0.3-1 s per 100k files, on its own thread;
      // `cortex-hub serve` starts it before the hub loads: early-watch.ts.)
      this.log.info('mirror.watching', { node: id, ms: Date.now() - startedAt });
      return sub;
    }, (e: Error) => {
      this.log.warn('mirror.watch_failed', { node: id, error: e.message });
      return null;
    });
    return this.watch;
  }

  async stopWatching(): Promise<void> {
    const sub = await this.watch;
    this.watch = null;
    if (this.dirtyTimer) clearTimeout(this.dirtyTimer);
    if (this.recheckTimer) clearTimeout(this.recheckTimer);
    this.dirtyTimer = this.recheckTimer = null;
    this.echoes.clear();
    await sub?.unsubscribe().catch(() => undefined);
  }

  /** The session wrote these paths: its own work, not hub-side edits (their watcher events are expected). */
  written(paths: string[]): void {
    this.pace.touch();
    for (const set of this.scans) for (const p of paths) set.add(p);
    if (this.watch) this.echoes.expect(paths);
  }

  /** The whole mirror is looked at again (if it is watched). */
  rescan(): void {
    if (this.watch) void this.scan(['']);
  }

  /**
   * The operator's rescan: the whole mirror is looked at once the scan under way is over, what
   * it finds recorded like any hub-side edit; what it found, and how long it took; null when
   * the mirror is not served (not watched: it does not exist yet). Rejects when the scan fails.
   */
  async rescanNow(): Promise<(ScanTotals & { ms: number }) | null> {
    if (!this.watch) return null;
    let res: (ScanTotals & { ms: number }) | undefined;
    const run = this.scanChain.then(async () => {
      const t0 = Date.now();
      const totals = await this.scanNow(['']);
      res = { ...totals, ms: Date.now() - t0 };
    });
    this.scanChain = run.catch(() => undefined);
    await run;
    return res ?? null;
  }

  private markDirty(rel: string): void {
    this.dirty.add(rel);
    if (!this.dirtyTimer) {
      this.dirtyTimer = setTimeout(() => {
        this.dirtyTimer = null;
        const paths = [...this.dirty];
        this.dirty.clear();
        this.checkPaths(paths).catch((e: Error) => this.log.error('mirror.check_failed', { node: this.id, error: e.message, stack: e.stack }));
      }, MIRROR_DEBOUNCE_MS);
    }
  }

  /**
   * Watcher events, filtered cheaply before any scan: most are the session's own commits, whose
   * stamps (recorded, or about to be) match what is on disk. A path the session is writing
   * right now is looked at again at the next debounce.
   */
  private async checkPaths(paths: string[]): Promise<void> {
    if (paths.includes('')) return this.scan(['']);
    const root = this.deps.root;
    const s = this.deps.session();
    const candidates: string[] = [];
    // Thousands of events (an agent writing a tree file by file): a turn of the event loop
    // every few milliseconds.
    let since = Date.now();
    for (let i = 0; i < paths.length; i++) {
      const p = paths[i]!;
      if ((i & 63) === 63 && Date.now() - since > 8) {
        await new Promise((r) => setImmediate(r));
        since = Date.now();
      }
      if (s?.applying(p)) {
        this.markDirty(p);
        continue;
      }
      const known = this.recordedStamp(p, true);
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(toNative(root, p));
      } catch {
        st = undefined;
      }
      // A directory is always looked into, and once more a little later: the watcher
      // coalesces events per batch, and the "created" it reports late for the files of a new
      // directory can cancel the "deleted" of one of them.
      if (st?.isDirectory()) this.recheckLater(p);
      const same = st === undefined ? !known : !st.isDirectory() && known && stampMatches(st, expectedOf(known)) && writtenAs(st.mode, known.mode);
      if (!same) candidates.push(p);
    }
    this.log.debug('mirror.events', { node: this.id, paths: paths.slice(0, 20), candidates: candidates.slice(0, 20) });
    // A change of permissions or space in the mirror may have cured a failure there.
    s?.mirrorTouched(paths);
    if (candidates.length) await this.scan(scanRoots(candidates, SCAN_PARENT_AT));
  }

  /** Paths the session wrote whose watcher event never came: usually still what it wrote. */
  private echoMissing(silent: string[]): void {
    this.deps.changed();
    if (this.deps.closed() || !this.watch) return;
    this.log.debug('mirror.echo_missing', { node: this.id, paths: silent.length, examples: silent.slice(0, 5) });
    this.checkPaths(silent).catch((e: Error) => this.log.error('mirror.check_failed', { node: this.id, error: e.message }));
  }

  private recheckLater(dir: string): void {
    this.recheck.add(dir);
    if (this.recheckTimer) return;
    this.recheckTimer = setTimeout(() => {
      this.recheckTimer = null;
      const dirs = [...this.recheck];
      this.recheck.clear();
      if (!this.deps.closed() && this.watch) void this.scan(dirs);
    }, MIRROR_RECHECK_MS);
    this.recheckTimer.unref();
  }

  /** Whether the mirror's file system ignores case: probed once, in its staging directory (same file system). */
  ignoresCase(): boolean {
    return (this.caseInsensitive ??= caseInsensitive(this.deps.staging));
  }

  /**
   * What the hub last recorded at a mirror path: the session's unrecorded writes (`orRecent`:
   * and those it recorded in the last second) first, then `stamps` (a preloaded index) or the
   * index itself.
   */
  private recordedStamp(p: string, orRecent: boolean, stamps?: Map<string, Stamp> | null): Stamp | undefined {
    const pending = this.deps.session()?.unflushed(p, orRecent);
    if (pending !== undefined) return pending ?? undefined;
    return stamps ? stamps.get(p) : this.deps.store.index.stamp(this.id, p);
  }

  /**
   * Scans mirror subtrees ('' for all) and records what changed on the hub's side: the mirror
   * index is updated and the paths are queued for the node, in an order it can apply
   * (creations parents first, deletions children first). One scan per node at a time.
   */
  scan(subtrees: string[], forSession = false): Promise<void> {
    this.scanChain = this.scanChain.then(async () => { await this.scanNow(subtrees, forSession); }).catch((e: Error) => {
      this.log.error('mirror.scan_failed', { node: this.id, error: e.message });
    });
    return this.scanChain;
  }

  private async scanNow(subtrees: string[], forSession = false, ownCommit?: (e: CachedEntry) => boolean, walkAfter?: Promise<unknown>, dirSeen?: (wirePath: string, mtimeMs: number) => void): Promise<ScanTotals> {
    const totals: ScanTotals = { walked: 0, updated: 0, deleted: 0, hashedFiles: 0, hashedBytes: 0, examples: [], skipped: 0 };
    const { id, store } = this.deps;
    if (this.deps.closed() || store.node(id)?.retiredAt !== null) return totals;
    const root = this.deps.root;
    const written = new Set<string>();
    this.scans.add(written);
    try {
      const roots = coveringRoots(subtrees);
      const full = roots.includes('');
      // What is scanned is compared against stamps (no hashes or block lists) loaded in pages,
      // yielding between pages (nodes may be syncing meanwhile): a whole mirror's while the
      // workers walk it; for subtrees, what is recorded under each (one range of the index's
      // order), not one lookup per path walked (a new tree of 20k files: ~0.5 s of the main
      // thread before anything could be sent).
      const stamps = new Map<string, Stamp>();
      /** For subtrees: the paths loaded at or under each (what the scan may find deleted). */
      const under = new Map<string, string[]>();
      let loaded: Promise<void> | undefined;
      if (full) {
        loaded = (async () => {
          for (let after: string | null = ''; after !== null;) {
            await new Promise((r) => setImmediate(r));
            after = store.index.stampPage(id, after, STAMP_PAGE, stamps);
          }
        })();
      } else {
        for (const st of roots) {
          const own = store.index.stamp(id, st);
          if (own) stamps.set(st, own);
          const keys = [st];
          under.set(st, keys);
          for (let after: string | null = `${st}/`, left = store.index.countUnder(id, st); left > 0 && after !== null;) {
            const page = new Map<string, Stamp>();
            after = store.index.stampPage(id, after, Math.min(STAMP_PAGE, left), page);
            if (page.size === 0) break;
            for (const [p, stamp] of page) {
              stamps.set(p, stamp);
              keys.push(p);
            }
            left -= page.size;
            if (left > 0) await new Promise((r) => setImmediate(r));
          }
        }
      }
      // (Or recorded lately: a write pending when the stamps were loaded may be recorded, and
      // gone from the pending view, by the time its path is compared.)
      const cached = (p: string) => this.recordedStamp(p, true, stamps);
      // What the session wrote during the scan is its own work, not a hub-side edit; it is
      // looked at again once recorded, in case someone changed it right after.
      const ours = (p: string) => written.has(p) || (!forSession && this.deps.session()?.applying(p) === true);
      const examples: string[] = [];
      /** Records what the scan found (a page of it, or the rest at its end) and queues it for the node. */
      const found = async (updated: CachedEntry[], deleted: string[]) => {
        // A mode as the hub wrote it (the mirror mode rule) is not a hub-side change (sameMode
        // below), and what a real hub-side change records (and sends to the node) is the node's
        // mode with the bits changed on the hub's side, never the stripped mode on disk.
        for (const e of updated) {
          const prev = cached(e.path);
          if (e.type !== 'symlink') e.mode = hubSideMode(e.mode, prev && !prev.deleted && prev.type === e.type ? prev.mode : undefined, this.deps.modes());
        }
        const done = await this.recordHubChanges(updated, deleted, ours, ownCommit);
        totals.updated += done.updated;
        totals.deleted += done.deleted;
        if (examples.length < 10) examples.push(...done.paths.slice(0, 10 - examples.length));
      };
      // (The verification at start: the index is read while the watcher starts; the walk waits for it.)
      if (walkAfter) {
        void loaded?.catch(() => undefined); // (its failure is scanAll's, once it waits for it)
        await walkAfter;
      }
      if (this.deps.closed()) return totals;
      const res = await scanAll(roots, {
        root, pool: this.deps.pool, cached, caseInsensitive: this.ignoresCase(), ready: loaded, dirSeen,
        knownUnder: (st) => (full ? stamps.keys() : under.get(st) ?? [st]),
        sameMode: writtenAs,
        // A new tree goes to the node page by page as it is hashed (each page one transaction),
        // not once the whole tree is: the first files leave at once, and the event loop runs
        // between pages. One subtree only: the deletions of another (a rename's other half, in
        // another case perhaps) must not come after what is new here.
        ...(roots.length === 1 ? { pages: { take: (page: CachedEntry[]) => found(page, []) } } : {}),
      });
      for (const sk of res.skipped) this.log.warn('mirror.skipped', { node: id, path: sk.path, reason: sk.reason });
      await found(res.updated, res.deleted);
      totals.walked = res.walked;
      totals.hashedFiles = res.hashedFiles;
      totals.hashedBytes = res.hashedBytes;
      totals.examples = examples;
      totals.skipped = res.skipped.length;
      if (totals.updated || totals.deleted) this.log.info('mirror.changed', { node: id, changed: totals.updated, deleted: totals.deleted, examples: examples.slice(0, 5) });
      return totals;
    } finally {
      this.scans.delete(written);
    }
  }

  /**
   * Records hub-side changes in the mirror index and queues them for the node, in the order
   * the node can apply them, RECORD_PAGE at a time (one transaction each, a turn of the event
   * loop every RECORD_SLICE_MS: a renamed tree of 20k files is not one 300 ms transaction). Paths the
   * session wrote meanwhile (`ours`, asked right before each page) are its own work, looked at
   * again later. `ownCommit` tells among them the hub's own commits of node versions (the
   * verification after a crash), recorded as agreed. A crash between pages leaves the index
   * behind the mirror, which the verification at start catches up on.
   */
  private async recordHubChanges(updated: CachedEntry[], deleted: string[], ours: (p: string) => boolean, ownCommit?: (e: CachedEntry) => boolean): Promise<{ updated: number; deleted: number; paths: string[] }> {
    const { id, store } = this.deps;
    const done = { updated: 0, deleted: 0, paths: [] as string[] };
    const puts = new Map(updated.map((e) => [e.path, e]));
    const ordered = orderBatch([...updated.map((e) => ({ path: e.path, type: e.type, deleted: false })), ...deleted.map((p) => ({ path: p, deleted: true }))]);
    let since = performance.now();
    let told = true;
    const tell = () => {
      if (told) return;
      told = true;
      this.deps.session()?.hubChangesQueued();
      this.deps.changed();
    };
    for (let i = 0; i < ordered.length; i += RECORD_PAGE) {
      if (i > 0 && performance.now() - since > RECORD_SLICE_MS) {
        tell();
        await new Promise((r) => setImmediate(r));
        since = performance.now();
      }
      const page = ordered.slice(i, i + RECORD_PAGE).filter((x) => {
        if (!ours(x.path)) return true;
        this.markDirty(x.path);
        return false;
      });
      if (page.length === 0) continue;
      const put = page.flatMap((x) => (x.deleted ? [] : [puts.get(x.path)!]));
      const del = page.filter((x) => x.deleted).map((x) => x.path);
      store.recordMirrorChanges(id, {
        del, put: put.map((e) => ({ ...e, seq: 0 })), forNode: page.map((x) => x.path).filter((p) => p !== LOCK_FILE),
        agreed: (ownCommit ? put.filter(ownCommit) : []).map((e): [string, Version | null] => [e.path, versionOf(e)]),
      });
      done.updated += put.length;
      done.deleted += del.length;
      if (done.paths.length < 10) done.paths.push(...page.slice(0, 10 - done.paths.length).map((x) => x.path));
      told = false;
    }
    tell();
    return done;
  }

  /** Clears staging leftovers; forgets the index of a mirror that is gone. False if it is. */
  private async prepare(): Promise<boolean> {
    const { id, store, root } = this.deps;
    const leftovers = await clearStaging(this.deps.staging);
    if (leftovers) this.log.info('staging.cleared', { node: id, files: leftovers });
    this.earlierCommits = this.intents.takeEarlier();
    if (fs.existsSync(root)) return true;
    const known = store.index.totals(id).files;
    if (known > 0) {
      store.forgetMirror(id);
      this.log.warn('mirror.missing', { node: id, mirror: root, forgotten: known });
    }
    return false;
  }

  /**
   * Compares the mirror with its index (stat only; only changed files are re-hashed). What
   * differs is recorded and goes to the node like any hub-side edit.
   *
   * A difference is an edit made on the hub's side while the hub was down or just before it
   * crashed, or, after a crash, the hub's own commit of a node version that was renamed into
   * place but not recorded. The latter were noted before their rename (commit-intents.ts):
   * such a file, at the noted path with the noted hash, is recorded as agreed (the node has
   * that version, and its next change is no conflict); every other difference is a hub-side
   * change, and a node change of the same file then keeps both. (Taking every difference after
   * a crash as agreed, as before, let a node's change overwrite such a hub-side edit without a
   * conflict copy: two-way.test.ts and two-way-crash.test.ts.)
   */
  private async verify(watching: Promise<unknown>): Promise<void> {
    const t0 = Date.now();
    let res: ScanTotals | undefined;
    const earlier = this.earlierCommits;
    this.earlierCommits = new Map();
    const ownCommit = (e: CachedEntry) => e.type === 'file' && earlier.get(e.path)?.has(e.hash.toString('hex')) === true;
    let watchedAt = t0;
    // The sweep's baseline (sync/dir-sweep.ts) is each directory's mtime as the walk saw it (the
    // root's, taken right before the walk starts): a change after that moves the mtime, and
    // the sweeps look there. (A second look at every directory after the verification cost
    // ~0.1 s of a restart, and missed what changed between the walk and that look.)
    const dirMtimes = new Map<string, number>();
    void watching.then(() => {
      watchedAt = Date.now();
      const st = fs.lstatSync(this.deps.root, { throwIfNoEntry: false });
      if (st?.isDirectory()) dirMtimes.set('', st.mtimeMs);
    }, () => undefined);
    const run = this.scanChain.then(async () => { res = await this.scanNow([''], false, ownCommit, watching, (d, mtimeMs) => dirMtimes.set(d, mtimeMs)); });
    this.scanChain = run.catch(() => undefined);
    await run;
    if (!res) return;
    this.sweeper?.baseline(dirMtimes);
    this.log.info('mirror.verified', {
      node: this.id, files: res.walked, changed: res.updated, deleted: res.deleted,
      hashedFiles: res.hashedFiles, hashedBytes: res.hashedBytes, ms: Date.now() - t0, walkAfterMs: watchedAt - t0,
      ...(res.updated + res.deleted > 0 ? { examples: res.examples } : {}),
    });
  }

  /** Sweeps now if there was activity since the last sweep (the in-sync the status waits for). */
  sweepIfActive(): void {
    if (!this.pace.settled) this.sweep();
  }

  /** Sweeps the mirror if it is quiet and due (a failure is logged). */
  sweep(): void {
    this.sweepNow().catch((e: Error) => this.log.error('mirror.sweep_failed', { node: this.id, error: e.message }));
  }

  /**
   * Sweeps a quiet mirror (sync/dir-sweep.ts): after activity, and now and then anyway; what
   * differs from the index is scanned like a watcher event.
   */
  private async sweepNow(): Promise<void> {
    const { id, store } = this.deps;
    const s = this.deps.session();
    const sweeper = this.sweeper;
    if (!sweeper || !s || s.closed || !s.inSync || this.echoes.size > 0) return;
    const ran = await this.pace.run(async () => {
      const differing = await sweeper.differing(['', ...store.index.dirs(id)], (dir, onDisk) => {
        const known = store.index.childStamps(id, dir);
        const recorded = new Map<string, Stamp>();
        for (const p of new Set([...onDisk.keys(), ...known.keys()])) {
          const r = this.recordedStamp(p, true, known);
          if (r) recorded.set(p, r);
        }
        return recorded;
      }, writtenAs);
      if (differing.length) {
        this.log.info('mirror.sweep_found', { node: id, paths: differing.length, examples: differing.slice(0, 5), hint: 'edits the watcher did not report' });
        await this.scan(differing);
      }
    });
    if (ran && this.deps.session() === s) this.deps.swept(s);
  }
}
