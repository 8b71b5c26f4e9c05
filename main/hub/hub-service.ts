/**
 * HubService: the one owner of the hub's state. The gRPC node server, the HTTP/WebSocket API,
 * the Electron IPC adapter and the CLI all go through it (via the contract's handlers).
 */
import { EventEmitter } from 'node:events';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import watcher from '@parcel/watcher';
import { ContractError, nodeNameKey, nodeNameProblem, normalizeNodeName, PENDING_LIMIT, type LockRefusalView, SettingsSchema, defaultSettings, type Settings, type Handlers, type HubEvent, type HubStatus, type LogEntryView, type NodeInfo, type NodeStatus, type ProblemView, PURGE_PLAN_TTL_MS, type PurgeTargetView, type PurgeView } from '../contract';
import { HubStore, type NodeRecord } from '../store/hub-store';
import { AgentStore } from '../store/agent-store';
import { ReportStore } from '../store/report-store';
import { NodeReports } from './node-reports';
import { AgentService } from '../agents/agent-service';
import type { CachedEntry } from '../sync/types';
import { FsPool } from '../sync/fs-pool';
import { FULL_RESCAN_MS, scan } from '../sync/scanner';
import { DirSweep, differingChildren } from '../sync/dir-sweep';
import { Echoes } from '../sync/echo';
import { expectedOf, stampMatches } from '../sync/expect';
import { orderBatch } from '../sync/plan';
import { versionOf, type Version } from '../sync/reconcile';
import { coveringRoots, outsideRoot, toNative } from '../sync/paths';
import { caseInsensitive, clearStaging } from '../sync/apply';
import { hubSideMode, mirrorMode, writtenAs, type MirrorModes } from '../sync/modes';
import { LOCK_FILE, MirrorLock } from '../sync/lock';
import { PartialFiles } from './partials';
import { encodeJoin } from '../sync/join';
import { MAX_MESSAGE_BYTES, PROTOCOL_VERSION, SUPERSEDED, TRANSPORT_MAX_BYTES, channelOptions, hubServiceDefinition, type HubMessage, type NodeMessage, type Oversized } from '../sync/wire';
import { clip } from '../util/text';
import { createLogger, type LogEntry, type Logger } from '../util/log';
import { VERSION } from '../util/version';
import { acquireLock, layout, rotateAdminToken, tightenDataDir, type Layout } from './data-dir';
import { executePurge, mountPointsUnder, noLongerOrphan, planPurge, planRefusal, type PurgeTarget } from './purge';
import { NodeSession, type Duplex } from './session';
import { FailureSet, problemOf } from './failures';
import { loadOrCreateIdentity, type HubIdentity } from './tls';
import { raiseServerFlowControlWindow } from './http2-window';

export interface HubOptions {
  dataDir: string;
  /** 'serve' verifies mirrors and accepts nodes; 'admin' only answers admin operations. */
  mode: 'serve' | 'admin';
  /** Address written into join strings (host[:port]); default: this machine's address. */
  advertise?: string;
  consoleLevel?: 'error' | 'warn' | 'info' | 'debug' | false;
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

const HELLO_TIMEOUT_MS = 10_000;
/** Status snapshots to subscribers: at most this often… */
const STATUS_MS = 500;
/** …and at least this often. */
const STATUS_HEARTBEAT_MS = 5000;
const STAMP_PAGE = 5000;
/** Hub-side edits are gathered this long before they are checked. */
const MIRROR_DEBOUNCE_MS = 50;
const MIRROR_RECHECK_MS = 1000;
/** A quiet mirror's directories are swept this long after activity (sync/dir-sweep.ts)... */
const SWEEP_TICK_MS = 500;
/** ...and this often anyway. */
const SWEEP_IDLE_MS = 10_000;
const LOG_RING = 2000;
const DEFAULT_GRPC_PORT = 7443;
/** This many connections of one node replacing each other within the window: two processes share its credentials. */
const SUPERSEDE_FIGHT = 3;
const SUPERSEDE_WINDOW_MS = Number(process.env.CORTEX_SUPERSEDE_WINDOW_MS) > 0 ? Number(process.env.CORTEX_SUPERSEDE_WINDOW_MS) : 120_000;
/** Purge plans are forgotten a day after their preview (until then an old one is refused as expired, not unknown). */
const PURGE_PLANS_KEPT_MS = 24 * 60 * 60 * 1000;
/** HTTP/2 receive window of the node server (per stream and per connection). */
const FLOW_CONTROL_WINDOW = 8 * 1024 * 1024;

interface NodeRuntime {
  session: NodeSession | null;
  /** What could not be applied either way (persisted; retried by the session). */
  failures: FailureSet;
  /** Connections of this node replaced by another with its credentials, lately (times and peers). */
  supersessions: { at: number; replaced: string; by: string }[];
  /** Sessions of this node wait for this before they start. */
  mirrorReady: Promise<void>;
  /** A background verification of the mirror is running. */
  verifying: boolean;
  scanError: string | null;
  /** The current session has reached in-sync since it connected (for the sync.complete event). */
  reachedInSync: boolean;
  /** The mirror's immutability lock, re-read only when the watcher sees `.metadata.json` change. */
  lock: MirrorLock;
  lockRefused: Map<string, LockRefusalView>;
  /** The mirror's watcher: hub-side edits, and `.metadata.json` (the lock). */
  watch: Promise<watcher.AsyncSubscription | null> | null;
  /** Mirror paths the watcher reported, to check at the next debounce. */
  dirty: Set<string>;
  dirtyTimer: NodeJS.Timeout | null;
  /** Mirror scans run one at a time per node. */
  scanChain: Promise<void>;
  /** The mirror's file system ignores case (probed on first use). */
  caseInsensitive?: boolean;
  /** Directories to look into once more (recheckLater). */
  recheck: Set<string>;
  /**
   * Paths the session wrote whose watcher event has not come yet, with when they were written.
   * The watcher may fold the "created" of our write and the "deleted" of a hub-side edit right
   * after it into nothing; a path whose event never comes is looked at again (echoCheck).
   */
  echoes: Echoes;
  /** The safety net under the watcher (sync/dir-sweep.ts), and what it has looked at. */
  sweep: DirSweep | null;
  /** Counts watcher batches and session writes; a sweep settles the count it started at. */
  activity: number;
  sweptActivity: number;
  sweptAt: number;
  sweeping: boolean;
  recheckTimer: NodeJS.Timeout | null;
  /** Paths the session wrote while a scan ran: not hub-side edits (checked again later). */
  scans: Set<Set<string>>;
  /** Large files a lost connection cut short, to resume in the next session. */
  partials: PartialFiles;
}

/**
 * Commit workers: one more than the cores, since a commit mostly waits on fsync. Measured on
 * 2 cores (bench/initial-sync.mjs, 1 GiB in 10k files): 8 workers gave the same throughput
 * as 3 but pushed the hub's event-loop lag p99 from 14-16 ms to 25-27 ms (the workers take
 * the cores from the loop). CORTEX_COMMIT_WORKERS overrides it (1-64).
 */
function commitWorkers(): number {
  const env = Number(process.env.CORTEX_COMMIT_WORKERS);
  if (Number.isInteger(env) && env >= 1 && env <= 64) return env;
  return Math.min(8, Math.max(2, os.availableParallelism() + 1));
}

export class HubService extends EventEmitter {
  readonly startedAt = Date.now();
  readonly layout: Layout;
  readonly log: Logger;
  readonly store: HubStore;
  readonly pool: FsPool;
  private readonly commitPool: FsPool;
  private server: grpc.Server | null = null;
  private grpcAddress: string | null = null;
  private readonly runtime = new Map<string, NodeRuntime>();
  private statusTimer: NodeJS.Timeout | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private markListening!: () => void;
  /** Resolves once the node server is bound (or the hub closes). */
  private readonly listening = new Promise<void>((resolve) => { this.markListening = resolve; });
  private closed = false;
  readonly agents: AgentService;
  /** What nodes report they cannot send, and what they ignore (node-reports.ts). */
  readonly reports: NodeReports;

  private constructor(
    readonly opts: HubOptions,
    readonly identity: HubIdentity,
    private readonly releaseLock: () => void,
    store: HubStore,
    log: Logger,
    private readonly logRing: LogEntry[],
  ) {
    super();
    this.layout = layout(opts.dataDir);
    this.store = store;
    this.log = log;
    this.pool = new FsPool();
    this.commitPool = new FsPool(commitWorkers());
    this.reports = new NodeReports(new ReportStore(store.db));
    this.agents = new AgentService(new AgentStore(store.db), {
      sendToNode: (nodeId, msg) => {
        const s = this.runtime.get(nodeId)?.session;
        if (!s || s.closed) return false;
        s.send(msg);
        return true;
      },
      nodeState: (nodeId) => {
        const n = store.node(nodeId);
        return n ? (n.retiredAt === null ? 'active' : 'retired') : undefined;
      },
      changed: (i) => this.emit('agent', i),
      log: log.child('agents'),
    });
  }

  static async open(opts: HubOptions): Promise<HubService> {
    const l = layout(opts.dataDir);
    const release = acquireLock(l);
    try {
      // DATA is private (data-dir.ts): what an earlier run left looser is tightened first.
      const tightened = tightenDataDir(l);
      fs.mkdirSync(l.mirrors, { recursive: true, mode: 0o700 });
      fs.mkdirSync(l.staging, { recursive: true, mode: 0o700 });
      const ring: LogEntry[] = [];
      const hubRef: { hub?: HubService } = {};
      const log = createLogger('hub', {
        file: path.join(l.logs, opts.mode === 'serve' ? 'hub.log' : 'admin.log'),
        fileLevel: opts.logLevel ?? 'info',
        consoleLevel: opts.consoleLevel ?? 'warn',
        sink: (e) => {
          ring.push(e);
          if (ring.length > LOG_RING) ring.shift();
          hubRef.hub?.emit('log', e);
        },
      });
      const rel = (p: string) => path.relative(l.root, p) || '.';
      if (tightened.changed.length) log.warn('data.tightened', { dir: l.root, count: tightened.changed.length, examples: tightened.changed.slice(0, 10).map(rel) });
      if (tightened.failed.length) log.warn('data.not_tightened', { dir: l.root, count: tightened.failed.length, examples: tightened.failed.slice(0, 10).map((f) => ({ path: rel(f.path), error: f.error })) });
      const store = new HubStore(l.db);
      const identity = await loadOrCreateIdentity(l.root);
      const hub = new HubService(opts, identity, release, store, log, ring);
      hubRef.hub = hub;
      // --log-level wins for this run; otherwise the level the operator chose in the settings.
      if (!opts.logLevel) log.setLevel(hub.settings().logLevel);
      hub.mirrorModes = hub.settings().mirrorModes;
      if (opts.mode === 'serve') {
        // Read and clear the clean-shutdown mark: if this hub crashes, the next start will know.
        const clean = store.getMeta('clean_shutdown') === '1';
        store.setMeta('clean_shutdown', '0');
        hub.verifyMirrors(clean);
        const lost = hub.agents.recover();
        if (lost) log.warn('agents.recovered', { lost });
      }
      return hub;
    } catch (e) {
      release();
      throw e;
    }
  }

  // ---- start-up: verify mirrors against the persistent hash cache --------------------------

  /**
   * Verifies every active mirror against the index (stat only; only changed files are
   * re-hashed), once the server listens so start-up is not delayed by it.
   *
   * After a crash the index may lag behind the mirror, so a node waits for its mirror's
   * verification before it may sync. After a clean shutdown the index matched the mirror when
   * the hub stopped: nodes may sync at once while the verification runs beside them
   * (`verifying` in status); if it finds the mirror changed while the hub was down, the node's
   * session is ended and it resyncs with a full index.
   */
  private verifyMirrors(cleanShutdown: boolean): void {
    for (const n of this.store.nodes()) {
      if (n.retiredAt !== null) continue;
      const rt = this.rt(n.id);
      const fail = (e: Error) => {
        rt.scanError = e.message;
        this.log.error('mirror.verify_failed', { node: n.id, error: e.message });
      };
      const prepared = this.listening.then(() => (this.closed ? false : this.prepareMirror(n))).then((exists) => {
        return exists ? this.watchMirror(n.id, rt).then(() => true) : false;
      });
      const verified = prepared.then((exists) => (exists ? this.verifyMirror(n, rt, cleanShutdown) : undefined)).catch(fail);
      if (!cleanShutdown) {
        rt.mirrorReady = verified;
        continue;
      }
      // Sessions wait only for the staging clean-up; a failure is reported once, by `verified`.
      rt.mirrorReady = prepared.then(() => undefined, () => undefined);
      rt.verifying = true;
      void verified.finally(() => {
        rt.verifying = false;
        this.changed();
      });
    }
  }

  /**
   * Loads the mirror's lock and watches the mirror for changes made on the hub's side (agents,
   * operators). The lock file is read again only when the watcher reports it. Idempotent.
   */
  private watchMirror(id: string, rt: NodeRuntime): Promise<unknown> {
    if (rt.watch || this.closed) return rt.watch ?? Promise.resolve();
    const report = (why: string) => {
      this.log.info('lock.loaded', { node: id, why, globs: rt.lock.globs, reads: rt.lock.reads, ...(rt.lock.error ? { error: rt.lock.error } : {}) });
      if (rt.lock.error) this.log.warn('lock.unusable', { node: id, error: rt.lock.error, kept: rt.lock.globs });
      this.changed();
    };
    rt.lock.load();
    report('start');
    const root = this.mirrorOf(id);
    rt.sweep = new DirSweep(root);
    rt.watch = watcher.subscribe(root, (err, events) => {
      rt.activity++;
      if (err) {
        this.log.warn('mirror.watch_error', { node: id, error: err.message });
        this.markMirrorDirty(id, rt, '');
        return;
      }
      for (const ev of events) {
        const rel = path.relative(root, ev.path).split(path.sep).join('/');
        if (rel === '' || outsideRoot(rel, '/')) continue;
        if (rt.echoes.seen(rel)) this.changed();
        if (rel === LOCK_FILE) {
          rt.lock.changed();
          report('changed');
        }
        this.markMirrorDirty(id, rt, rel);
      }
    }).catch((e: Error) => {
      this.log.warn('mirror.watch_failed', { node: id, error: e.message });
      return null;
    });
    return rt.watch;
  }

  private async unwatchMirror(rt: NodeRuntime): Promise<void> {
    const sub = await rt.watch;
    rt.watch = null;
    if (rt.dirtyTimer) clearTimeout(rt.dirtyTimer);
    if (rt.recheckTimer) clearTimeout(rt.recheckTimer);
    rt.dirtyTimer = rt.recheckTimer = null;
    rt.echoes.clear();
    await sub?.unsubscribe().catch(() => undefined);
  }

  private markMirrorDirty(id: string, rt: NodeRuntime, rel: string): void {
    rt.dirty.add(rel);
    if (!rt.dirtyTimer) {
      rt.dirtyTimer = setTimeout(() => {
        rt.dirtyTimer = null;
        const paths = [...rt.dirty];
        rt.dirty.clear();
        this.checkMirrorPaths(id, rt, paths).catch((e: Error) => this.log.error('mirror.check_failed', { node: id, error: e.message, stack: e.stack }));
      }, MIRROR_DEBOUNCE_MS);
    }
  }

  /**
   * Watcher events, filtered cheaply before any scan: most are the session's own commits, whose
   * stamps (recorded, or about to be) match what is on disk. A path the session is writing
   * right now is looked at again at the next debounce.
   */
  private async checkMirrorPaths(id: string, rt: NodeRuntime, paths: string[]): Promise<void> {
    if (paths.includes('')) return this.scanMirror(id, rt, ['']);
    const root = this.mirrorOf(id);
    const s = rt.session;
    const candidates: string[] = [];
    for (const p of paths) {
      if (s?.applying(p)) {
        this.markMirrorDirty(id, rt, p);
        continue;
      }
      const known = this.recordedStamp(id, p, true);
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(toNative(root, p));
      } catch {
        st = undefined;
      }
      // A directory is always looked into, and once more a little later: the watcher
      // coalesces events per batch, and the "created" it reports late for the files of a new
      // directory can cancel the "deleted" of one of them.
      if (st?.isDirectory()) this.recheckLater(id, rt, p);
      const same = st === undefined ? !known : !st.isDirectory() && known && stampMatches(st, expectedOf(known)) && writtenAs(st.mode, known.mode);
      if (!same) candidates.push(p);
    }
    this.log.debug('mirror.events', { node: id, paths: paths.slice(0, 20), candidates: candidates.slice(0, 20) });
    // A change of permissions or space in the mirror may have cured a failure there.
    s?.mirrorTouched(paths);
    if (candidates.length) await this.scanMirror(id, rt, candidates);
  }

  /** Paths the session wrote whose watcher event never came: usually still what it wrote. */
  private echoMissing(id: string, rt: NodeRuntime, silent: string[]): void {
    this.changed();
    if (this.closed || !rt.watch) return;
    this.log.debug('mirror.echo_missing', { node: id, paths: silent.length, examples: silent.slice(0, 5) });
    this.checkMirrorPaths(id, rt, silent).catch((e: Error) => this.log.error('mirror.check_failed', { node: id, error: e.message }));
  }

  private recheckLater(id: string, rt: NodeRuntime, dir: string): void {
    rt.recheck.add(dir);
    if (rt.recheckTimer) return;
    rt.recheckTimer = setTimeout(() => {
      rt.recheckTimer = null;
      const dirs = [...rt.recheck];
      rt.recheck.clear();
      if (!this.closed && rt.watch) void this.scanMirror(id, rt, dirs);
    }, MIRROR_RECHECK_MS);
    rt.recheckTimer.unref();
  }

  /** Whether the mirror's file system ignores case: probed once, in its staging directory (same file system). */
  private caseInsensitiveOf(id: string, rt: NodeRuntime): boolean {
    return (rt.caseInsensitive ??= caseInsensitive(this.stagingOf(id)));
  }

  /**
   * What the hub last recorded at a mirror path: the session's unrecorded writes (`orRecent`:
   * and those it recorded in the last second) first, then `stamps` (a preloaded index) or the
   * index itself.
   */
  private recordedStamp(id: string, p: string, orRecent: boolean, stamps?: Map<string, CachedEntry> | null): CachedEntry | undefined {
    const pending = this.runtime.get(id)?.session?.unflushed(p, orRecent);
    if (pending !== undefined) return pending ?? undefined;
    return stamps ? stamps.get(p) : this.store.stamp(id, p);
  }

  /**
   * Scans mirror subtrees ('' for all) and records what changed on the hub's side: the mirror
   * index is updated and the paths are queued for the node, in an order it can apply
   * (creations parents first, deletions children first). One scan per node at a time.
   */
  private scanMirror(id: string, rt: NodeRuntime, subtrees: string[], forSession = false): Promise<void> {
    rt.scanChain = rt.scanChain.then(async () => { await this.scanMirrorNow(id, rt, subtrees, false, forSession); }).catch((e: Error) => {
      this.log.error('mirror.scan_failed', { node: id, error: e.message });
    });
    return rt.scanChain;
  }

  private async scanMirrorNow(id: string, rt: NodeRuntime, subtrees: string[], asAgreed = false, forSession = false): Promise<{ walked: number; updated: number; deleted: number; hashedFiles: number; hashedBytes: number; examples: string[] }> {
    const totals = { walked: 0, updated: 0, deleted: 0, hashedFiles: 0, hashedBytes: 0, examples: [] as string[] };
    if (this.closed || this.store.node(id)?.retiredAt !== null) return totals;
    const root = this.mirrorOf(id);
    const written = new Set<string>();
    rt.scans.add(written);
    try {
      const roots = coveringRoots(subtrees);
      const full = roots.includes('');
      // A whole mirror is compared against stamps loaded in pages (no hashes or block lists),
      // yielding between pages: nodes may be syncing meanwhile.
      let stamps: Map<string, CachedEntry> | null = null;
      if (full) {
        stamps = new Map();
        for (let after = ''; ;) {
          const page = this.store.stampsAfter(id, after, STAMP_PAGE);
          for (const e of page) stamps.set(e.path, e);
          if (page.length < STAMP_PAGE) break;
          after = page[page.length - 1]!.path;
          await new Promise((r) => setImmediate(r));
        }
      }
      const cached = (p: string) => this.recordedStamp(id, p, false, stamps);
      const updated: CachedEntry[] = [];
      const deleted: string[] = [];
      for (const subtree of roots) {
        const res = await scan({
          root, pool: this.pool, subtree, cached, caseInsensitive: this.caseInsensitiveOf(id, rt),
          knownUnder: (st) => (stamps ? stamps.keys() : [st, ...this.store.pathsUnder(id, st)]),
          // A mode as the hub wrote it (the mirror mode rule) is not a hub-side change...
          sameMode: writtenAs,
        });
        for (const sk of res.skipped) this.log.warn('mirror.skipped', { node: id, path: sk.path, reason: sk.reason });
        // ...and what a real hub-side change records (and sends to the node) is the node's mode
        // with the bits changed on the hub's side, never the stripped mode on disk.
        for (const e of res.updated) {
          const prev = cached(e.path);
          if (e.type !== 'symlink') e.mode = hubSideMode(e.mode, prev && !prev.deleted && prev.type === e.type ? prev.mode : undefined, this.mirrorModes);
        }
        updated.push(...res.updated);
        deleted.push(...res.deleted);
        totals.walked += res.walked;
        totals.hashedFiles += res.hashedFiles;
        totals.hashedBytes += res.hashedBytes;
      }
      // What the session wrote during the scan is its own work, not a hub-side edit; it is
      // looked at again once recorded, in case someone changed it right after.
      const ours = (p: string) => written.has(p) || (!forSession && rt.session?.applying(p) === true);
      const up = updated.filter((e) => !ours(e.path));
      const del = deleted.filter((p) => !ours(p));
      for (const p of [...updated.map((e) => e.path), ...deleted].filter(ours)) this.markMirrorDirty(id, rt, p);
      if (up.length || del.length) this.recordHubChanges(id, up, del, asAgreed);
      Object.assign(totals, { updated: up.length, deleted: del.length, examples: [...up.map((e) => e.path), ...del].slice(0, 10) });
      return totals;
    } finally {
      rt.scans.delete(written);
    }
  }

  /** Records hub-side changes in the mirror index and queues them for the node. */
  private recordHubChanges(id: string, updated: CachedEntry[], deleted: string[], asAgreed: boolean): void {
    const ordered = orderBatch([...updated.map((e) => ({ path: e.path, type: e.type, deleted: false })), ...deleted.map((p) => ({ path: p, deleted: true }))]);
    this.store.db.transaction(() => {
      this.store.deletePaths(id, deleted);
      this.store.putFiles(id, updated.map((e) => ({ ...e, seq: 0 })));
      if (asAgreed) this.store.setAncestors(id, [...updated.map((e): [string, Version | null] => [e.path, versionOf(e)]), ...deleted.map((p): [string, null] => [p, null])]);
    })();
    const session = this.runtime.get(id)?.session;
    const paths = ordered.map((x) => x.path);
    if (session) session.queueForNode(paths);
    else this.store.queueHubChanges(id, paths.filter((p) => p !== LOCK_FILE));
    this.log.info('mirror.changed', { node: id, changed: updated.length, deleted: deleted.length, examples: paths.slice(0, 5) });
    this.changed();
  }

  /** Clears staging leftovers; forgets the index of a mirror that is gone. False if it is. */
  private async prepareMirror(n: NodeRecord): Promise<boolean> {
    const leftovers = await clearStaging(this.stagingOf(n.id));
    if (leftovers) this.log.info('staging.cleared', { node: n.id, files: leftovers });
    if (fs.existsSync(this.mirrorOf(n.id))) return true;
    const known = this.store.totals(n.id).files;
    if (known > 0) {
      this.store.forgetMirror(n.id);
      this.log.warn('mirror.missing', { node: n.id, mirror: this.mirrorOf(n.id), forgotten: known });
    }
    return false;
  }

  /**
   * Compares the mirror with its index (stat only; only changed files are re-hashed). What
   * differs is recorded and goes to the node like any hub-side edit.
   *
   * After a clean shutdown a difference can only be an edit made while the hub was down. After
   * a crash it is almost always a commit of the node's version that was renamed into place but
   * not recorded yet: it is then taken as agreed (the ancestor), so the node's next change of
   * that path is not mistaken for a conflict. (Only an edit on the hub's side during the
   * downtime of a path the node also changed would then go without a conflict copy.)
   */
  private async verifyMirror(n: NodeRecord, rt: NodeRuntime, cleanShutdown: boolean): Promise<void> {
    const t0 = Date.now();
    let res: Awaited<ReturnType<HubService['scanMirrorNow']>> | undefined;
    const run = rt.scanChain.then(async () => { res = await this.scanMirrorNow(n.id, rt, [''], !cleanShutdown); });
    rt.scanChain = run.catch(() => undefined);
    await run;
    if (!res) return;
    // The sweep's baseline is the mirror as just verified: anything after it is looked at.
    await rt.sweep?.changedDirs(['', ...this.store.dirs(n.id)]).catch(() => undefined);
    this.log.info('mirror.verified', {
      node: n.id, files: res.walked, changed: res.updated, deleted: res.deleted,
      hashedFiles: res.hashedFiles, hashedBytes: res.hashedBytes, ms: Date.now() - t0,
      ...(res.updated + res.deleted > 0 ? { examples: res.examples } : {}),
    });
  }

  // ---- gRPC node server --------------------------------------------------------------------

  async listen(hostPort: string): Promise<string> {
    raiseServerFlowControlWindow(FLOW_CONTROL_WINDOW);
    const server = new grpc.Server({ ...channelOptions, 'grpc.max_receive_message_length': TRANSPORT_MAX_BYTES, 'grpc.max_concurrent_streams': 4 });
    server.addService(hubServiceDefinition(), { session: (call: Duplex) => this.acceptSession(call) });
    const creds = grpc.ServerCredentials.createSsl(null, [{ cert_chain: this.identity.cert, private_key: this.identity.key }], false);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync(hostPort, creds, (err, p) => (err ? reject(err) : resolve(p))));
    this.server = server;
    const host = hostPort.slice(0, hostPort.lastIndexOf(':'));
    this.grpcAddress = `${host}:${port}`;
    this.store.setMeta('advertise', this.advertised());
    this.statusTimer = setInterval(() => this.emitStatus(), STATUS_MS);
    this.statusTimer.unref();
    this.agents.startScheduler();
    this.rescanTimer = setInterval(() => {
      for (const [id, rt] of this.runtime) if (rt.watch) void this.scanMirror(id, rt, ['']);
    }, FULL_RESCAN_MS);
    this.rescanTimer.unref();
    this.sweepTimer = setInterval(() => {
      for (const [id, rt] of this.runtime) this.sweepMirror(id, rt).catch((e: Error) => this.log.error('mirror.sweep_failed', { node: id, error: e.message }));
    }, SWEEP_TICK_MS);
    this.sweepTimer.unref();
    if (process.env.CORTEX_EVENTLOOP_LOG === '1') this.startLoopMonitor();
    this.log.info('hub.listening', { grpc: this.grpcAddress, fingerprint: this.identity.fingerprint });
    this.markListening();
    return this.grpcAddress;
  }

  /** host:port that join strings carry. */
  private advertised(): string {
    const bound = this.grpcAddress;
    const port = bound ? bound.slice(bound.lastIndexOf(':') + 1) : String(DEFAULT_GRPC_PORT);
    if (this.opts.advertise) return this.opts.advertise.includes(':') ? this.opts.advertise : `${this.opts.advertise}:${port}`;
    if (!bound) return this.store.getMeta('advertise') ?? `${os.hostname()}:${port}`;
    const host = bound.slice(0, bound.lastIndexOf(':'));
    if (host === '0.0.0.0' || host === '[::]' || host === '::') {
      const ip = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
      return `${ip?.address ?? os.hostname()}:${port}`;
    }
    return `${host}:${port}`;
  }

  private acceptSession(call: Duplex): void {
    const peer = call.getPeer();
    const fail = (code: grpc.status, details: string, fields: Record<string, unknown> = {}) => {
      this.log.warn('node.refused', { peer, code: grpc.status[code], reason: details, ...fields });
      call.emit('error', { code, details });
    };
    const auth = String(call.metadata.get('authorization')[0] ?? '');
    const secret = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const timer = setTimeout(() => fail(grpc.status.DEADLINE_EXCEEDED, 'no Hello within 10 s'), HELLO_TIMEOUT_MS);
    let session: NodeSession | null = null;
    let nodeId: string | undefined;
    /** Messages that arrive while the Hello is being checked: applied in order once it is. */
    const early: NodeMessage[] = [];
    let helloSeen = false;
    const onHello = async (first: NodeMessage) => {
      const hello = first.hello;
      if (!hello || first.msg !== 'hello') return fail(grpc.status.INVALID_ARGUMENT, 'the first message must be Hello');
      if (hello.protocol !== PROTOCOL_VERSION) return fail(grpc.status.FAILED_PRECONDITION, `protocol ${hello.protocol} not supported (hub speaks ${PROTOCOL_VERSION}); upgrade cortex-node`);
      const verdict = typeof hello.nodeId === 'string' && hello.nodeId.length <= 64 ? this.store.verifyToken(hello.nodeId, secret) : 'unknown';
      if (verdict === 'retired') return fail(grpc.status.PERMISSION_DENIED, `node ${hello.nodeId} has been retired; its token is revoked`, { node: hello.nodeId });
      if (verdict !== 'ok') return fail(grpc.status.UNAUTHENTICATED, 'unknown node or wrong token', { node: hello.nodeId });
      const id = hello.nodeId;
      nodeId = id;
      const rt = this.rt(id);
      await rt.mirrorReady;
      if (call.cancelled || this.closed) return;
      if (rt.session) this.supersede(id, rt, rt.session, peer);
      const rec = this.store.node(id)!;
      const wantFull = rec.indexId !== hello.indexId || rec.ackedSeq === 0;
      fs.mkdirSync(this.mirrorOf(id), { recursive: true, mode: 0o755 });
      await this.watchMirror(id, rt);
      if (call.cancelled || this.closed) return;
      // A different index on the node (reinstalled, or its database renewed): what it agreed
      // on before cannot be trusted, so nothing is taken for a deletion; both sides keep all.
      if (rec.indexId !== null && rec.indexId !== hello.indexId) {
        this.store.clearAncestors(id);
        this.log.warn('node.new_index', { node: id, previous: rec.indexId, now: hello.indexId });
      }
      const s: NodeSession = new NodeSession({
        nodeId: id, call, peer, store: this.store, mirrorRoot: this.mirrorOf(id), stagingDir: this.stagingOf(id), pool: this.commitPool,
        log: this.log.child('session', { node: id }), failures: rt.failures, onChange: () => this.sessionChanged(id, s), indexId: hello.indexId, wantFull,
        lock: { lockOf: (p) => rt.lock.lockOf(p), get globs() { return rt.lock.globs; }, refused: rt.lockRefused }, partials: rt.partials,
        hooks: {
          // The session asks after a failed commit of these paths: they are not its own writes.
          rescan: (paths) => this.scanMirror(id, rt, paths, true),
          written: (paths) => {
            rt.activity++;
            for (const set of rt.scans) for (const p of paths) set.add(p);
            if (rt.watch) rt.echoes.expect(paths);
          },
          caseInsensitive: this.caseInsensitiveOf(id, rt),
          diskMode: (mode) => mirrorMode(mode, this.mirrorModes),
        },
      });
      session = s;
      rt.session = s;
      rt.reachedInSync = false;
      this.store.markSeen(id);
      this.store.addEvent(id, 'node.connected', { peer, version: hello.version, fullIndex: wantFull });
      s.send({ welcome: { ackedSeq: s.ackedSeq, wantFull, hubVersion: VERSION } });
      s.sendHubChanges();
      this.log.info('node.connected', { node: id, peer, ackedSeq: s.ackedSeq, wantFull, version: hello.version });
      this.changed();
      for (const m of early.splice(0)) this.onMessage(s, m);
      call.resume();
      this.agents.nodeConnected(id);
    };
    call.on('data', (m: NodeMessage | Oversized) => {
      if ('oversized' in m) {
        // Refused by our own size check (bigger messages gRPC refuses before we see them).
        const details = `message of ${m.oversized} bytes exceeds the ${MAX_MESSAGE_BYTES}-byte limit`;
        this.log.warn('input.rejected', { node: nodeId, peer, code: 'MESSAGE_TOO_LARGE', reason: details });
        call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details });
        return;
      }
      if (!helloSeen) {
        helloSeen = true;
        clearTimeout(timer);
        onHello(m).catch((e: Error) => fail(grpc.status.INTERNAL, e.message));
      } else if (session) {
        this.onMessage(session, m);
      } else {
        early.push(m);
        if (early.length > 64) call.pause();
      }
    });
    const end = (why: string) => {
      clearTimeout(timer);
      if (!session || session.closed) return;
      session.close();
      const rt = this.runtime.get(session.nodeId);
      if (rt?.session === session) rt.session = null;
      this.store.markSeen(session.nodeId);
      this.log.info('node.disconnected', { node: session.nodeId, reason: why });
      this.agents.nodeDisconnected(session.nodeId);
      this.store.addEvent(session.nodeId, 'node.disconnected', { reason: clip(why) });
      this.changed();
    };
    call.on('end', () => { end('stream ended'); call.end(); });
    call.on('cancelled', () => end(`cancelled (the node went away, or sent a message over the ${TRANSPORT_MAX_BYTES}-byte transport limit)`));
    // Our own refusals emit {code, details}, not an Error.
    call.on('error', (e: Error & { details?: string }) => end(e.message ?? e.details ?? String(e)));
    call.on('close', () => end('closed'));
  }

  /**
   * A new connection with a node's credentials replaces the current one, which is ended with
   * SUPERSEDED (its process logs it and reconnects later). A node that keeps being replaced is
   * two processes sharing one identity: shown as the node's problem, not a silent stall.
   */
  private supersede(id: string, rt: NodeRuntime, old: NodeSession, peer: string): void {
    const now = Date.now();
    rt.supersessions = rt.supersessions.filter((x) => now - x.at < SUPERSEDE_WINDOW_MS);
    rt.supersessions.push({ at: now, replaced: old.peer, by: peer });
    this.log.warn('node.superseded', { node: id, replaced: old.peer, by: peer, lately: rt.supersessions.length });
    this.store.addEvent(id, 'node.superseded', { replaced: old.peer, by: peer });
    old.close();
    old.end(grpc.status.ABORTED, `${SUPERSEDED}: another connection with this node's credentials (from ${peer}) replaced this one (from ${old.peer}); if two cortex-node processes use the same credentials, stop one`);
    this.changed();
  }

  /** Problems of the node as a whole (not of one path): its credentials used from two places, the mirror unreadable, progress not recorded. */
  private nodeProblems(rt: NodeRuntime | undefined): ProblemView[] {
    if (!rt) return [];
    const out: ProblemView[] = [];
    const now = Date.now();
    const recent = rt.supersessions.filter((x) => now - x.at < SUPERSEDE_WINDOW_MS);
    if (recent.length >= SUPERSEDE_FIGHT) {
      const peers = [...new Set(recent.flatMap((x) => [x.replaced, x.by]))];
      out.push({ path: '', direction: 'to-hub', code: 'DUPLICATE_CONNECTION', at: recent[recent.length - 1]!.at,
        reason: `credentials in use from two places: this node connected ${recent.length} times in ${Math.round(SUPERSEDE_WINDOW_MS / 1000)} s, each connection replacing the other (peers ${peers.slice(0, 4).join(', ')}); stop one of the cortex-node processes` });
    }
    if (rt.scanError) out.push({ path: '', direction: 'to-node', code: 'MIRROR_SCAN', reason: `the mirror could not be scanned: ${rt.scanError}`, at: this.startedAt });
    const fe = rt.session?.flushError;
    if (fe) out.push({ path: '', direction: 'to-hub', code: fe.code, reason: fe.reason, at: fe.at });
    return out;
  }

  private onMessage(s: NodeSession, m: NodeMessage): void {
    if (s.closed) return;
    try {
      if (m.index) s.onIndex(m.index.files ?? []);
      else if (m.done) s.onDone(Number(m.done.seq), Boolean(m.done.full));
      else if (m.block) s.onBlock(Number(m.block.id), m.block.data, m.block.error);
      else if (m.blocks) for (const b of m.blocks.items ?? []) s.onBlock(Number(b.id), b.data, b.error);
      else if (m.ping) s.send({ pong: { t: m.ping.t } } satisfies HubMessage);
      else if (m.request) s.onNodeRequests([m.request]);
      else if (m.requests) s.onNodeRequests(m.requests.items ?? []);
      else if (m.hubAck) s.onHubAck(Number(m.hubAck.seq), Array.isArray(m.hubAck.failed) ? m.hubAck.failed : []);
      else if (m.agentState) {
        const problem = this.agents.nodeReported(s.nodeId, m.agentState);
        if (problem) s.refuse('', 0, 'BAD_AGENT_STATE', problem);
      } else if (m.report) {
        const problem = this.reports.apply(s.nodeId, m.report);
        if (problem) s.refuse('', 0, 'BAD_REPORT', problem);
        this.changed();
      }
      else s.refuse('', 0, 'PROTOCOL', `unexpected message ${m.msg ?? '(empty)'}`);
      const now = Date.now();
      if (now - this.lastSeenWrite > 5000) {
        this.lastSeenWrite = now;
        this.store.markSeen(s.nodeId, now);
      }
    } catch (e) {
      this.log.error('session.error', { node: s.nodeId, error: (e as Error).message });
      s.refuse('', 0, 'INTERNAL', (e as Error).message);
    }
  }

  /** Logs the event loop's delay every 5 s (msg hub.eventloop): what the lag benchmark reads. */
  private startLoopMonitor(): void {
    const h: IntervalHistogram = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    const t = setInterval(() => {
      this.log.info('hub.eventloop', { p50Ms: h.percentile(50) / 1e6, p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 });
      h.reset();
    }, 5000);
    t.unref();
  }

  // ---- status ------------------------------------------------------------------------------

  private statusDirty = true;
  private readonly totalsCache = new Map<string, { files: number; bytes: number }>();
  private lastSeenWrite = 0;

  /** A session applied something: record the moment it first reaches in-sync. */
  private sessionChanged(id: string, s: NodeSession): void {
    this.changed();
    const rt = this.runtime.get(id);
    if (!rt || rt.session !== s) return;
    // Quiet now: the sweep that in-sync waits for runs at once, not at the next tick.
    if (s.inSync && rt.sweptActivity !== rt.activity) this.sweepMirror(id, rt).catch((e: Error) => this.log.error('mirror.sweep_failed', { node: id, error: e.message }));
    if (rt.reachedInSync || !this.settled(rt, s) || this.reports.counts(id).problems > 0) return;
    rt.reachedInSync = true;
    const totals = this.totals(id);
    const fields = { files: totals.files, bytes: totals.bytes, bytesReceived: s.counters.bytesReceived, bytesReused: s.counters.bytesReused, ms: Date.now() - s.connectedAt };
    this.log.info('sync.complete', { node: id, ...fields });
    this.store.addEvent(id, 'sync.complete', fields);
  }

  /**
   * In sync, every write of ours seen by the mirror's watcher, and a sweep of the mirror's
   * directories done since the last activity: no hub-side edit the watcher lost can hide.
   */
  private settled(rt: NodeRuntime, s: NodeSession): boolean {
    return s.inSync && rt.echoes.size === 0 && rt.sweptActivity === rt.activity;
  }

  /**
   * Sweeps a quiet mirror (sync/dir-sweep.ts): after activity, and now and then anyway; what
   * differs from the index is scanned like a watcher event.
   */
  private async sweepMirror(id: string, rt: NodeRuntime): Promise<void> {
    const s = rt.session;
    if (!rt.sweep || rt.sweeping || !s || s.closed || !s.inSync || rt.echoes.size > 0) return;
    if (rt.sweptActivity === rt.activity && Date.now() - rt.sweptAt < SWEEP_IDLE_MS) return;
    rt.sweeping = true;
    const started = rt.activity;
    try {
      const dirs = await rt.sweep.changedDirs(['', ...this.store.dirs(id)]);
      const differing: string[] = [];
      for (const d of dirs) {
        const onDisk = await rt.sweep.children(d);
        const known = this.store.childStamps(id, d);
        const recorded = new Map<string, CachedEntry>();
        for (const p of new Set([...onDisk.keys(), ...known.keys()])) {
          const r = this.recordedStamp(id, p, true, known);
          if (r) recorded.set(p, r);
        }
        differing.push(...differingChildren(onDisk, recorded, writtenAs));
      }
      if (differing.length) {
        this.log.info('mirror.sweep_found', { node: id, paths: differing.length, examples: differing.slice(0, 5), hint: 'edits the watcher did not report' });
        await this.scanMirror(id, rt, differing);
      }
      rt.sweptAt = Date.now();
      if (rt.activity === started) rt.sweptActivity = started;
      if (rt.session === s) this.sessionChanged(id, s);
    } finally {
      rt.sweeping = false;
    }
  }

  private changed(): void {
    this.statusDirty = true;
    this.totalsCache.clear();
  }

  private lastStatusEmit = 0;

  /**
   * Pushes a snapshot to subscribers at most every STATUS_MS when something changed, and at
   * least every STATUS_HEARTBEAT_MS anyway (uptime, last seen and rates move with time).
   */
  private emitStatus(): void {
    if (this.listenerCount('status') === 0) return;
    if (!this.statusDirty && Date.now() - this.lastStatusEmit < STATUS_HEARTBEAT_MS) return;
    this.statusDirty = false;
    this.lastStatusEmit = Date.now();
    this.emit('status', this.status());
  }

  nodeStatus(n: NodeRecord): NodeStatus {
    const rt = this.runtime.get(n.id);
    const s = rt?.session ?? null;
    const failures = rt?.failures ?? new FailureSet(n.retiredAt === null ? this.store.failures(n.id) : []);
    const whole = this.nodeProblems(rt);
    const totals = this.totals(n.id);
    const pending = s?.pending() ?? { files: 0, bytes: 0 };
    const toNode = this.store.hubPending(n.id);
    const reported = this.reports.counts(n.id);
    let state: NodeStatus['state'];
    if (n.retiredAt !== null) state = 'retired';
    else if (!s) state = 'disconnected';
    else if (whole.length > 0 || failures.size > 0 || reported.blocking > 0) state = 'error';
    else if (s.doneSeq < 0) state = 'connected';
    // A path the node cannot send is not in the mirror: never in-sync (a transient one is still syncing).
    else state = this.settled(rt!, s) && reported.problems === 0 ? 'in-sync' : 'syncing';
    const lastFailure = failures.last();
    const last = lastFailure ? { path: lastFailure.path, code: lastFailure.code, message: lastFailure.reason, at: lastFailure.at } : null;
    // A serving hub keeps each lock loaded; a one-shot admin command reads it for this answer.
    let lock: MirrorLock | null = rt?.lock ?? null;
    if (!rt && this.opts.mode === 'admin' && n.retiredAt === null) {
      lock = new MirrorLock(path.join(this.mirrorOf(n.id), LOCK_FILE));
      lock.load();
    }
    return {
      id: n.id, name: n.name, state, createdAt: n.createdAt, retiredAt: n.retiredAt,
      lastSeen: s ? Date.now() : n.lastSeen,
      files: totals.files, bytes: totals.bytes,
      outOfSyncFiles: pending.files, outOfSyncBytes: pending.bytes,
      toNodeFiles: toNode.files, toNodeBytes: toNode.bytes, conflicts: this.store.conflicts(n.id).length,
      errors: failures.size + whole.length + reported.problems,
      problems: failures.size + whole.length + reported.problems,
      ignored: reported.ignored,
      lastError: last ?? (whole[0] ? { path: '', code: whole[0].code, message: whole[0].reason, at: whole[0].at } : null),
      bytesReceived: s?.counters.bytesReceived ?? 0, bytesReused: s?.counters.bytesReused ?? 0,
      mirror: this.mirrorOf(n.id),
      verifying: rt?.verifying ?? false,
      locked: lock?.globs ?? [],
      lockedRefusals: rt?.lockRefused.size ?? 0,
      lockError: lock?.error ?? null,
    };
  }

  /** Files and bytes recorded for a node's mirror, recounted only after something changed. */
  private totals(nodeId: string): { files: number; bytes: number } {
    let t = this.totalsCache.get(nodeId);
    if (!t) {
      t = this.store.totals(nodeId);
      this.totalsCache.set(nodeId, t);
    }
    return t;
  }

  status(): HubStatus {
    return {
      version: VERSION,
      uptimeMs: Date.now() - this.startedAt,
      bytesHashedSinceStart: this.pool.bytesHashed,
      filesHashedSinceStart: this.pool.filesHashed,
      grpc: this.grpcAddress,
      fingerprint: this.identity.fingerprint,
      nodes: this.store.nodes().map((n) => this.nodeStatus(n)),
    };
  }

  // ---- admin operations --------------------------------------------------------------------

  /**
   * Registers a node. Its name (trimmed, NFC) must be printable (no controls, bidi or invisible
   * format characters; see contract/names.ts) and unique among active nodes, ignoring case.
   */
  addNode(given: string): { node: NodeInfo; join: string } {
    const name = normalizeNodeName(given);
    const problem = nodeNameProblem(name);
    if (problem) {
      this.log.warn('node.add_refused', { name: clip(given), reason: problem });
      throw new ContractError('BAD_REQUEST', `nodes.add: ${problem}`);
    }
    const key = nodeNameKey(name);
    const taken = this.store.nodes().find((n) => n.retiredAt === null && nodeNameKey(n.name) === key);
    if (taken) {
      const reason = `an active node is already named "${taken.name}" (${taken.id}); names are unique among active nodes, ignoring case: choose another name or retire that node first`;
      this.log.warn('node.add_refused', { name: clip(given), reason, existing: taken.id });
      throw new ContractError('CONFLICT', reason);
    }
    const id = crypto.randomBytes(8).toString('hex');
    // Never starting with '-': `cortex-node --token X` would take it for an option (1 in 64 did).
    let secret: string;
    do secret = crypto.randomBytes(32).toString('base64url'); while (secret.startsWith('-'));
    const rec = this.store.addNode(id, name, secret);
    this.store.addEvent(id, 'node.added', { name });
    this.log.info('node.added', { node: id, name });
    this.changed();
    return { node: toInfo(rec), join: encodeJoin({ hub: this.advertised(), node: id, token: secret, fp: this.identity.fingerprint }) };
  }

  retireNode(id: string): NodeInfo {
    const rec = this.store.node(id);
    if (!rec) throw new ContractError('NOT_FOUND', `no node with id ${id}`);
    if (rec.retiredAt !== null) throw new ContractError('CONFLICT', `node ${id} is already retired`);
    this.store.retireNode(id);
    this.reports.forget(id);
    this.store.addEvent(id, 'node.retired', { name: rec.name });
    this.agents.nodeDisconnected(id);
    const retiring = this.runtime.get(id);
    if (retiring) {
      void this.unwatchMirror(retiring);
      retiring.partials.clear();
    }
    this.log.info('node.retired', { node: id, name: rec.name });
    const rt = this.runtime.get(id);
    if (rt?.session) {
      const s = rt.session;
      s.close();
      rt.session = null;
      s.end(grpc.status.PERMISSION_DENIED, `node ${id} has been retired; its token is revoked`);
    }
    this.changed();
    return toInfo(this.store.node(id)!);
  }

  /**
   * The operator's rescan: the mirror is compared with its index, the node is asked to look at
   * its whole workspace, and everything that failed is tried again now.
   */
  rescanNode(id: string): { rescanning: boolean; retried: number } {
    const rec = this.store.node(id);
    if (!rec) throw new ContractError('NOT_FOUND', `no node with id ${id}`);
    if (rec.retiredAt !== null) throw new ContractError('CONFLICT', `node ${id} is retired`);
    if (this.opts.mode !== 'serve') throw new ContractError('UNAVAILABLE', 'no hub is running on this data directory: start one with "cortex-hub serve"');
    const rt = this.rt(id);
    if (rt.watch) void this.scanMirror(id, rt, ['']);
    const s = rt.session;
    const retried = s && !s.closed ? s.retryDue('all') : 0;
    s?.send({ rescan: {} });
    this.log.info('node.rescan', { node: id, connected: !!s, retried });
    return { rescanning: !!s, retried };
  }

  private connectedIds(): Set<string> {
    return new Set([...this.runtime].filter(([, rt]) => rt.session && !rt.session.closed).map(([id]) => id));
  }

  /**
   * A purge preview: the orphaned mirrors, stored as a plan (PURGE_PLAN_TTL_MS) that
   * purge(planId) runs. Mirrors that are or hold a mount point are listed as skipped.
   */
  purgePreview(): PurgeView {
    const plan = planPurge(this.layout.mirrors, this.store.nodes(), this.connectedIds(), mountPointsUnder(this.layout.mirrors));
    const now = Date.now();
    const id = `pp-${crypto.randomBytes(9).toString('base64url')}`;
    const expiresAt = now + PURGE_PLAN_TTL_MS;
    this.store.savePurgePlan({ id, createdAt: now, expiresAt, targets: plan.targets }, now - PURGE_PLANS_KEPT_MS);
    this.log.info('purge.planned', { plan: id, mirrors: plan.targets.map((t) => t.id), files: plan.files, bytes: plan.bytes, skipped: plan.skipped });
    return { dryRun: true, planId: id, expiresAt, targets: plan.targets.map(targetView), files: plan.files, bytes: plan.bytes, skipped: plan.skipped };
  }

  /**
   * Runs a preview's plan, once: removes its mirrors that are still orphaned and still what
   * the preview saw; keeps and reports the others. An unknown, expired or used plan is refused.
   */
  purge(planId: string): PurgeView {
    const rec = this.store.purgePlan(planId);
    const refusal = planRefusal(rec, planId, Date.now());
    if (!rec || refusal) {
      const message = refusal?.message ?? `no purge plan ${planId}`;
      this.log.warn('purge.refused', { plan: clip(planId), reason: message });
      throw new ContractError(refusal?.code ?? 'NOT_FOUND', message);
    }
    // One run per plan (one process owns DATA at a time, and this is synchronous to the end).
    this.store.markPurgePlanRun(planId);
    const nodes = this.store.nodes();
    const connected = this.connectedIds();
    const result = executePurge(this.layout.mirrors, rec.targets, (name) => noLongerOrphan(name, nodes, connected), mountPointsUnder(this.layout.mirrors));
    for (const t of result.removed) {
      fs.rmSync(this.stagingOf(t.id), { recursive: true, force: true });
      if (this.store.node(t.id)) this.store.forgetMirror(t.id);
    }
    const view: PurgeView = { dryRun: false, planId, expiresAt: rec.expiresAt, targets: result.removed.map(targetView), files: result.files, bytes: result.bytes, skipped: result.skipped };
    this.store.addEvent(null, 'purge', { planId, targets: view.targets, files: view.files, bytes: view.bytes, skipped: view.skipped });
    this.log.info('purge.done', { plan: planId, mirrors: result.removed.map((t) => t.id), files: result.files, bytes: result.bytes, skipped: result.skipped });
    if (result.skipped.length) this.log.warn('purge.skipped', { plan: planId, skipped: result.skipped });
    this.changed();
    return view;
  }

  handlers(): Handlers {
    return {
      'status': () => this.status(),
      'nodes.list': () => this.store.nodes().map(toInfo),
      'nodes.add': ({ name }) => this.addNode(name),
      'nodes.retire': ({ id }) => this.retireNode(id),
      'nodes.rescan': ({ id }) => this.rescanNode(id),
      'nodes.detail': ({ id }) => {
        const rec = this.store.node(id);
        if (!rec) throw new ContractError('NOT_FOUND', `no node with id ${id}`);
        const rt = this.runtime.get(id);
        const failures = (rt?.failures ?? new FailureSet(this.store.failures(id))).list();
        return {
          node: this.nodeStatus(rec),
          problems: [...this.nodeProblems(rt), ...failures.map(problemOf), ...this.reports.problems(id, PENDING_LIMIT)].slice(0, PENDING_LIMIT),
          pending: rt?.session?.pendingItems(PENDING_LIMIT) ?? [],
          toNode: this.store.hubChangesAfter(id, rec.hubAcked, PENDING_LIMIT).map((c) => {
            const f = this.store.stamp(id, c.path);
            return { path: c.path, action: !f ? 'delete' : f.type === 'file' ? 'pull' : f.type === 'dir' ? 'mkdir' : 'symlink', size: f?.type === 'file' ? f.size : 0, state: 'queued' as const };
          }),
          lockRefusals: [...(rt?.lockRefused.values() ?? [])].slice(-PENDING_LIMIT),
          conflicts: this.store.conflicts(id).slice(0, PENDING_LIMIT),
          ignored: this.reports.ignored(id, PENDING_LIMIT),
          events: this.store.events({ nodeId: id, limit: 100 }) as HubEvent[],
        };
      },
      'purge.preview': () => this.purgePreview(),
      'purge.run': ({ planId }) => this.purge(planId),
      'purge.history': ({ limit }) => this.store.events({ kind: 'purge', limit: limit ?? 50 }) as HubEvent[],
      'events.list': (f) => this.store.events(f) as HubEvent[],
      'logs.recent': ({ level, node, limit }) => {
        const order = ['error', 'warn', 'info', 'debug'];
        const max = level ? order.indexOf(level) : 3;
        return this.logRing.filter((e) => order.indexOf(e.level) <= max && (!node || e.node === node)).slice(-(limit ?? 200)) as LogEntryView[];
      },
      'settings.get': () => this.settings(),
      'settings.set': (patch) => this.updateSettings(patch),
      'agents.templates': () => this.agents.templates(),
      'agents.createTemplate': (t) => this.agents.createTemplate(t),
      'agents.list': (f) => this.agents.list(f),
      'agents.get': ({ id }) => this.agents.get(id),
      'agents.start': (s) => this.agents.start(s),
      'agents.stop': ({ id }) => this.agents.stop(id),
      'token.rotate': () => this.rotateAdminToken(),
    };
  }

  // ---- the admin token ---------------------------------------------------------------------

  private readonly tokenListeners = new Set<(token: string) => void>();

  /** `cb` hears every new admin token at once (the serving API switches to it). */
  onAdminToken(cb: (token: string) => void): () => void {
    this.tokenListeners.add(cb);
    return () => this.tokenListeners.delete(cb);
  }

  /** A new admin token in DATA/admin-token (the serving API, if any, switches to it at once). */
  rotateAdminToken(): { token: string } {
    const token = rotateAdminToken(this.layout);
    this.log.info('admin.token_rotated', { file: this.layout.adminToken });
    for (const cb of this.tokenListeners) cb(token);
    return { token };
  }

  // ---- settings ----------------------------------------------------------------------------

  /** The stored settings over the defaults (a fresh object each call). */
  settings(): Settings {
    const raw = this.store.getMeta('settings');
    const base = defaultSettings();
    if (!raw) return base;
    try {
      const parsed = SettingsSchema.partial().safeParse(JSON.parse(raw));
      if (parsed.success) return { ...base, ...parsed.data };
    } catch { /* falls through */ }
    this.log.warn('settings.unreadable', { stored: raw.slice(0, 200) });
    return base;
  }

  /** The mirror mode setting, for every write into a mirror (kept here: read per file). */
  private mirrorModes: MirrorModes = defaultSettings().mirrorModes;

  updateSettings(patch: Partial<Settings>): Settings {
    const next = { ...this.settings(), ...patch };
    this.store.setMeta('settings', JSON.stringify(next));
    this.mirrorModes = next.mirrorModes;
    if (patch.logLevel) this.log.setLevel(patch.logLevel);
    this.log.info('settings.changed', { changed: patch });
    return next;
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  mirrorOf(id: string): string {
    return path.join(this.layout.mirrors, id);
  }

  stagingOf(id: string): string {
    return path.join(this.layout.staging, id);
  }

  private rt(id: string): NodeRuntime {
    let rt = this.runtime.get(id);
    if (!rt) {
      rt = {
        session: null, failures: new FailureSet(this.store.failures(id)), supersessions: [], mirrorReady: Promise.resolve(), verifying: false, scanError: null, reachedInSync: false,
        lock: new MirrorLock(path.join(this.mirrorOf(id), LOCK_FILE)), lockRefused: new Map(), partials: new PartialFiles(),
        watch: null, dirty: new Set(), dirtyTimer: null, echoes: new Echoes((silent) => this.echoMissing(id, this.runtime.get(id)!, silent)),
        sweep: null, activity: 0, sweptActivity: -1, sweptAt: 0, sweeping: false, scanChain: Promise.resolve(), scans: new Set(), recheck: new Set(), recheckTimer: null,
      };
      this.runtime.set(id, rt);
    }
    return rt;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.markListening();
    if (this.statusTimer) clearInterval(this.statusTimer);
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.agents.stopScheduler();
    await Promise.all([...this.runtime.values()].map((rt) => this.unwatchMirror(rt)));
    const sessions = [...this.runtime.values()].map((rt) => rt.session).filter((x): x is NodeSession => x !== null);
    for (const s of sessions) {
      s.close();
      // Tell the nodes, so the server can shut down at once instead of waiting for their streams.
      s.end(grpc.status.UNAVAILABLE, 'the hub is shutting down; reconnect later');
    }
    await Promise.all(sessions.map((s) => s.drain()));
    await this.commitPool.close();
    if (this.server) {
      const server = this.server;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { server.forceShutdown(); resolve(); }, 2000);
        server.tryShutdown(() => { clearTimeout(t); resolve(); });
      });
    }
    await this.pool.close();
    // Everything applied is recorded: the next start may trust the index while it verifies.
    try {
      if (this.opts.mode === 'serve') this.store.setMeta('clean_shutdown', '1');
    } catch (e) {
      // The disk is full, say: the next start verifies the mirrors as after a crash.
      this.log.error('hub.shutdown_unrecorded', { error: (e as Error).message });
    }
    this.log.info('hub.stopped', { uptimeMs: Date.now() - this.startedAt });
    this.store.close();
    this.releaseLock();
  }
}

function toInfo(n: NodeRecord): NodeInfo {
  return { id: n.id, name: n.name, createdAt: n.createdAt, retiredAt: n.retiredAt, lastSeen: n.lastSeen };
}

function targetView(t: PurgeTarget): PurgeTargetView {
  return { id: t.id, reason: t.reason, kind: t.kind, files: t.files, bytes: t.bytes };
}
