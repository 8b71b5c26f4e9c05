/**
 * cortex-node: keeps a workspace mirrored on the hub.
 *
 * Scan (persistent hash cache) → connect (TLS pinned by fingerprint, token) → send the index
 * entries the hub has not acknowledged → serve the hub's block requests → follow live changes
 * with a file-system watcher. Reconnects with backoff; gives up only on a revoked or wrong
 * token or a hub whose certificate does not match the pin.
 */
import crypto, { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import watcher from '@parcel/watcher';
import { NodeStore } from '../store/node-store';
import { caseInsensitive, clearStaging } from '../sync/apply';
import { FsPool } from '../sync/fs-pool';
import { coveringRoots, outsideRoot } from '../sync/paths';
import { PROBLEM_CODES, PathReports, covers, retried, scannablePath, type PathProblem } from '../sync/problems';
import { orderBatch } from '../sync/plan';
import { FULL_RESCAN_MS, scanAll } from '../sync/scanner';
import { DirSweep, SWEEP_IDLE_MS, SWEEP_TICK_MS, differingChildren } from '../sync/dir-sweep';
import { Echoes } from '../sync/echo';
import { serveBlock } from '../sync/serve-block';
import type { CachedEntry } from '../sync/types';
import { INDEX_BATCH_ENTRIES, INDEX_WINDOW, NodeSyncService, type BlockRequest, type BlockResponse, PROTOCOL_VERSION, SUPERSEDED, channelOptions, fromWireEntry, reportMessages, requestMessages, responseMessages, toWireEntry, type HubMessage, type NodeMessage, type WireFileInfo } from '../sync/wire';
import { HubChanges, type BatchResult } from './hub-changes';
import { BlockFetcher, PeerGone } from '../sync/block-fetcher';
import { clip } from '../util/text';
import { AgentRunner } from './agents';
import type { Logger } from '../util/log';
import { VERSION } from '../util/version';

export interface NodeConfig {
  hub: string;
  nodeId: string;
  token: string;
  fingerprint: string;
  workspace: string;
  stateDir: string;
  log: Logger;
  /** Called once per run, when the hub first accepts these credentials (Welcome). */
  onJoined?: () => void;
}

/** Errors after which retrying cannot help; the CLI exits with `exitCode`. */
export class FatalNodeError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = 'FatalNodeError';
  }
}

export function defaultStateDir(workspace: string): string {
  const base = process.env.CORTEX_NODE_STATE
    ?? path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'cortex-node');
  const key = crypto.createHash('sha256').update(path.resolve(workspace)).digest('hex').slice(0, 16);
  return path.join(base, key);
}

const WATCH_DEBOUNCE_MS = 10;
/** Bytes of hub-side changes requested and not yet received, at most. */
const MAX_FETCH_IN_FLIGHT = 16 * 1024 * 1024;
/** Staging inside the workspace, when the state directory is on another file system. */
export const WORKSPACE_STAGING = '.cortex-staging';

/**
 * Where hub-side changes are assembled: it must be on the workspace's file system (commits are
 * renames). The state directory when it is, else a hidden directory in the workspace that the
 * node never syncs.
 */
function stagingFor(workspace: string, stateDir: string): string {
  const inState = path.join(stateDir, 'staging');
  return fs.statSync(stateDir).dev === fs.statSync(workspace).dev ? inState : path.join(workspace, WORKSPACE_STAGING);
}
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 30_000;
/** First wait after the hub said another connection took over this node's identity. */
const SUPERSEDED_BACKOFF_MS = 2000;
/**
 * Paths that could not be read are looked at again this often (besides their watcher events
 * and the full rescan): a permission change is not always seen by the watcher.
 * CORTEX_PROBLEM_RETRY_MS overrides it.
 */
const PROBLEM_RETRY_MS = Number(process.env.CORTEX_PROBLEM_RETRY_MS) > 0 ? Number(process.env.CORTEX_PROBLEM_RETRY_MS) : 30_000;
/** The node's own state dir full: retried with backoff from the first to the second. */
const DISK_RETRY_MIN_MS = 500;
const DISK_RETRY_MAX_MS = 30_000;
/** A report's clear list longer than this is sent as one full report instead. */
const MAX_CLEAR_BYTES = 256 * 1024;
const MAX_CLEAR_PATHS = 1000;

/** The node's own database or disk is full (SQLite SQLITE_FULL, ENOSPC, a quota). */
export function isDiskFull(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' ? err.code : '';
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT' || /database or disk is full|no space left on device/i.test(String(err?.message ?? ''));
}

type Call = grpc.ClientDuplexStream<NodeMessage, HubMessage>;

/** A fetcher for no session: every fetch fails with PeerGone (as between sessions). */
function closedFetcher(): BlockFetcher {
  const f = new BlockFetcher({ peer: 'the hub', maxBytes: MAX_FETCH_IN_FLIGHT, send: () => undefined });
  f.close();
  return f;
}

function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hostPort.slice(i + 1)) };
}

/** Fetches the hub's certificate and checks it against the pinned fingerprint. */
export async function fetchPinnedCert(hostPort: string, fingerprint: string, timeoutMs = 10_000): Promise<string> {
  const { host, port } = splitHostPort(hostPort);
  const cert = await new Promise<X509Certificate>((resolve, reject) => {
    const sock = tls.connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'], servername: 'cortex-hub' }, () => {
      const raw = sock.getPeerCertificate(true)?.raw;
      sock.destroy();
      if (!raw) reject(new Error('the hub presented no certificate'));
      else resolve(new X509Certificate(raw));
    });
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`no TLS answer from ${hostPort} within ${timeoutMs} ms`)));
    sock.on('error', reject);
  });
  if (cert.fingerprint256 !== fingerprint) {
    throw new FatalNodeError(`the hub at ${hostPort} presented certificate ${cert.fingerprint256}, but the join string pins ${fingerprint}; refusing to connect (a different hub, or someone in between)`, 4);
  }
  return cert.toString();
}

export class NodeClient {
  readonly store: NodeStore;
  readonly pool = new FsPool();
  private subscription: watcher.AsyncSubscription | null = null;
  private call: Call | null = null;
  private stopped = false;
  private scanning: Promise<void> = Promise.resolve();
  private dirty = new Set<string>();
  private debounce: NodeJS.Timeout | null = null;
  private sentSeq = 0;
  private sending = false;
  private fullPass = false;
  private ackedSeq = 0;
  private readonly ackWaiters: (() => void)[] = [];
  private connected = false;
  /** The hub accepted the credentials once in this run. */
  private joined = false;
  /** Set when a session reached Welcome; resets the reconnect backoff. */
  private welcomed = false;
  private readonly log: Logger;
  private readonly ignoreState: (p: string) => boolean;
  private readonly stagingDir: string;
  /** The workspace's file system ignores case (macOS, Windows): see expect.ts CaseConflict. */
  private readonly caseInsensitive: boolean;
  private readonly hubChanges: HubChanges;
  private readonly agents: AgentRunner;
  /**
   * Blocks of hub-side changes, requested from the hub (sync/block-fetcher.ts): one fetcher per
   * session, made at Welcome and closed when the session ends (a closed one fails every fetch).
   */
  private fetcher = closedFetcher();
  /** What the node cannot send or ignores, by path, as the scans found it; sent to the hub. */
  private readonly reports = new PathReports();
  /** Subtrees whose report changed since it was last sent ('' = all). */
  private readonly reportDirty = new Set<string>();
  private reporting = false;
  private problemRetry: NodeJS.Timeout | null = null;
  /** The node's own failure (its state dir full), reported with path ''. */
  private nodeProblem: PathProblem | null = null;
  private diskRetry: { timer: NodeJS.Timeout | null; waitMs: number; subtrees: Set<string> } = { timer: null, waitMs: DISK_RETRY_MIN_MS, subtrees: new Set() };
  /** The current wait for the stream to drain (see drained()). */
  private drain: { call: Call; promise: Promise<void>; release: () => void } | null = null;
  /** Resolves when stop() is called. */
  /** The safety net under the watcher (sync/dir-sweep.ts): activity counted, and what the last sweep settled. */
  private readonly dirSweep: DirSweep;
  private activity = 0;
  private activityAt = 0;
  private sweptActivity = -1;
  private sweptAt = 0;
  private sweeping = false;
  /** Paths a hub batch wrote whose watcher event has not come yet: scanned again when it never does. */
  private readonly echoes = new Echoes((silent) => { for (const p of silent) this.markDirty(p); });
  private stopSignal!: () => void;
  private readonly stopped$ = new Promise<void>((r) => { this.stopSignal = r; });

  constructor(private readonly cfg: NodeConfig) {
    this.log = cfg.log;
    try {
      const st = fs.statSync(cfg.workspace);
      if (!st.isDirectory()) throw new Error('not a directory');
      fs.readdirSync(cfg.workspace);
    } catch (e) {
      throw new FatalNodeError(`workspace ${cfg.workspace} is not a readable directory: ${(e as Error).message}`, 2);
    }
    fs.mkdirSync(cfg.stateDir, { recursive: true, mode: 0o700 });
    this.store = new NodeStore(path.join(cfg.stateDir, 'node.db'));
    // This index belonged to another node (its credentials were removed for new ones): what it
    // learnt from that node's hub means nothing to this one, which gets a full index.
    const previousNode = this.store.getMeta('node_id');
    if (previousNode !== cfg.nodeId) {
      if (previousNode !== undefined) {
        this.store.forgetHub();
        this.log.warn('index.new_node', { previous: previousNode, now: cfg.nodeId });
      }
      this.store.setMeta('node_id', cfg.nodeId);
    }
    const rel = path.relative(cfg.workspace, cfg.stateDir);
    const stateWire = !outsideRoot(rel) ? rel.split(path.sep).join('/') : null;
    const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);
    this.ignoreState = (p) => (stateWire !== null && under(p, stateWire)) || under(p, WORKSPACE_STAGING);
    this.stagingDir = stagingFor(cfg.workspace, cfg.stateDir);
    this.dirSweep = new DirSweep(cfg.workspace, this.ignoreState);
    this.caseInsensitive = caseInsensitive(this.stagingDir);
    this.hubChanges = new HubChanges({
      ctx: { root: cfg.workspace, stagingDir: this.stagingDir, pool: this.pool, caseInsensitive: this.caseInsensitive },
      store: this.store,
      log: this.log,
      reserved: this.ignoreState,
      fetch: (p, offset, size, hash) => this.fetcher.fetch(p, offset, size, hash),
      markDirty: (p) => this.markDirty(p),
    });
    this.agents = new AgentRunner(cfg.workspace, this.log, (m) => {
      if (!this.call || !this.connected) return false;
      this.call.write({ agentState: m } satisfies NodeMessage);
      return true;
    });
  }

  /** Runs until stop(); throws FatalNodeError when retrying cannot help. */
  async run(): Promise<void> {
    this.subscription = await this.watch();
    const leftovers = await clearStaging(this.stagingDir);
    if (leftovers) this.log.info('staging.cleared', { files: leftovers });
    await this.rescan(['']);
    // The sweep's baseline is what the scan just recorded: anything after it is looked at.
    await this.dirSweep.changedDirs(['', ...this.store.dirs()]).catch(() => undefined);
    // A safety net for events the watcher lost: the whole workspace is compared (stat only) now and then.
    const full = setInterval(() => void this.rescan(['']), FULL_RESCAN_MS);
    full.unref();
    // ...and, much more often, a sweep of the workspace's directories (sync/dir-sweep.ts).
    const sweep = setInterval(() => void this.sweepWorkspace(), SWEEP_TICK_MS);
    sweep.unref();
    void this.stopped$.then(() => {
      clearInterval(full);
      clearInterval(sweep);
    });
    let backoff = BACKOFF_MIN_MS;
    /** Backoff after being superseded (another process with our credentials took over). */
    let superseded = 0;
    while (!this.stopped) {
      try {
        await this.session();
      } catch (e) {
        if (e instanceof FatalNodeError) throw e;
        // A session that got as far as Welcome was a success: start backing off afresh.
        if (this.welcomed) {
          this.welcomed = false;
          backoff = BACKOFF_MIN_MS;
        }
        const err = e as grpc.ServiceError;
        if (err.code === grpc.status.UNAUTHENTICATED) throw new FatalNodeError(`the hub refused this node's token: ${err.details}. Ask the operator for a new join string ("cortex-hub node add").`, 3);
        if (err.code === grpc.status.PERMISSION_DENIED) throw new FatalNodeError(`the hub refused this node: ${err.details}.`, 3);
        if (err.code === grpc.status.FAILED_PRECONDITION) throw new FatalNodeError(`the hub refused this node: ${err.details}.`, 5);
        if (this.stopped) break;
        if (err.code === grpc.status.ABORTED && String(err.details).startsWith(SUPERSEDED)) {
          // Another process connected with this node's credentials and took over. Back off for
          // longer each time: two processes sharing one identity must not fight at full speed.
          superseded = Math.min(BACKOFF_MAX_MS, Math.max(SUPERSEDED_BACKOFF_MS, superseded * 2));
          const wait = Math.round(superseded * (0.75 + Math.random() / 2));
          this.log.error('hub.superseded', { hub: this.cfg.hub, reason: err.details, retryInMs: wait, hint: 'another cortex-node runs with these credentials; stop one of them' });
          await Promise.race([new Promise((r) => setTimeout(r, wait)), this.stopped$]);
          continue;
        }
        superseded = 0;
        const wait = Math.round(backoff * (0.75 + Math.random() / 2));
        this.log.warn('hub.unreachable', { hub: this.cfg.hub, error: err.details ?? err.message, retryInMs: wait });
        await Promise.race([new Promise((r) => setTimeout(r, wait)), this.stopped$]);
        backoff = Math.min(backoff * 1.5, BACKOFF_MAX_MS);
      }
    }
  }

  private watch(): Promise<watcher.AsyncSubscription> {
    return watcher.subscribe(this.cfg.workspace, (err, events) => {
      if (err) {
        this.log.warn('watch.error', { error: err.message });
        this.markDirty('');
        return;
      }
      this.activity++;
      this.activityAt = Date.now();
      for (const ev of events) {
        const rel = path.relative(this.cfg.workspace, ev.path).split(path.sep).join('/');
        if (outsideRoot(rel, '/')) continue;
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
    if (this.stopped) return;
    try {
      await this.subscription?.unsubscribe();
      this.subscription = null;
      if (this.stopped) return;
      this.subscription = await this.watch();
      this.log.info('watch.renewed', { readable: dirs.slice(0, 10) });
    } catch (e) {
      this.log.warn('watch.renew_failed', { error: (e as Error).message });
    }
    this.markDirty('');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.problemRetry) clearTimeout(this.problemRetry);
    if (this.diskRetry.timer) clearTimeout(this.diskRetry.timer);
    // Every agent's whole process group, before the session ends (their `stopped` can still reach the hub).
    await this.agents.stopAll();
    this.stopSignal();
    this.echoes.clear();
    await this.subscription?.unsubscribe();
    this.call?.cancel();
    await this.scanning.catch(() => undefined);
    await this.pool.close();
    this.store.close();
  }

  // ---- scanning ----------------------------------------------------------------------------

  private markDirty(changed: string): void {
    // A name that is not valid UTF-8 arrives with U+FFFD: its directory is what can be scanned.
    const wire = scannablePath(changed);
    if (this.ignoreState(wire)) return;
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
  private rescan(subtrees: string[]): Promise<void> {
    return this.serial(() => this.doScan(subtrees), (e) => this.storeFailed(e, 'scan.failed', { subtrees }));
  }

  /**
   * Scans and hub-side batches run one at a time, in order: a scan never sees a commit of ours
   * that is not recorded yet (it would take it for a local edit and send it back).
   */
  private serial(fn: () => Promise<void>, onError: (e: Error) => void): Promise<void> {
    this.scanning = this.scanning.then(fn).catch(onError);
    return this.scanning;
  }

  /**
   * Scans the subtrees and records all their changes as one batch, so that the two halves of
   * a rename get sequence numbers in the order the hub can use (creation before deletion).
   * What cannot be sent is a problem, what is left out by design is ignored: both go to the hub.
   */
  private async doScan(subtrees: string[]): Promise<void> {
    if (this.stopped) return;
    const t0 = Date.now();
    const full = subtrees.includes('');
    const roots = full ? [''] : coveringRoots(subtrees);
    const cache = full ? this.store.all() : null;
    const res = await scanAll(roots, {
      root: this.cfg.workspace,
      pool: this.pool,
      cached: (p) => (cache ? cache.get(p) : this.store.get(p)),
      knownUnder: (s) => (cache ? cache.keys() : this.store.pathsUnder(s)),
      ignore: this.ignoreState,
      caseInsensitive: this.caseInsensitive,
    });
    // Each new problem is a warning once; one already known is only debug (it is retried).
    for (const p of res.problems) {
      const known = this.reports.problems.get(p.path);
      this.log[known?.code === p.code ? 'debug' : 'warn']('scan.problem', { path: p.path, code: p.code, reason: p.reason });
    }
    for (const i of res.ignored) this.log[this.reports.ignored.has(i.path) ? 'debug' : 'info']('scan.ignored', { path: i.path, kind: i.kind, reason: i.reason });
    const { updated, problems, walked, hashedFiles, hashedBytes } = res;
    const ignored = res.ignored.map((i) => ({ path: i.path, kind: i.kind }));
    const deleted: CachedEntry[] = [];
    for (const p of res.deleted) {
      const prev = cache ? cache.get(p) : this.store.get(p);
      if (prev) deleted.push({ ...prev, deleted: true });
    }
    const wasUnreadable = [...this.reports.problems.values()].filter((p) => p.code === PROBLEM_CODES.UNREADABLE && roots.some((r) => covers(r, p.path)));
    if (this.reports.replace(roots, problems, ignored)) {
      for (const r of roots) this.reportDirty.add(r);
    }
    // A directory that could not be read and now can: the watcher must start watching inside it.
    const nowReadable = wasUnreadable.filter((p) => !this.reports.problems.has(p.path) && (p.path === '' || this.store.get(p.path)?.type === 'dir' || updated.some((e) => e.path === p.path && e.type === 'dir')));
    if (nowReadable.length) void this.renewWatch(nowReadable.map((p) => p.path));
    this.scheduleProblemRetry();
    if (updated.length || deleted.length) {
      try {
        this.store.record(orderBatch([...updated, ...deleted]));
      } catch (e) {
        if (!isDiskFull(e)) throw e;
        // Nothing of this scan was recorded: the same subtrees are scanned again once there is room.
        this.diskFull(e as Error, roots);
        void this.sendReports();
        return;
      }
      // Only a write tells that there is room again.
      this.diskRetried(roots);
      this.diskRecovered();
    } else {
      // Nothing to write: these subtrees no longer wait, and a probe will tell when there is room.
      this.diskRetried(roots);
      this.scheduleDiskRetry();
    }
    if (full || hashedFiles > 0) {
      this.log.info('scan.done', { subtrees: roots.slice(0, 20), walked, changed: updated.length, deleted: deleted.length, hashedFiles, hashedBytes, problems: problems.length, ignored: ignored.length, ms: Date.now() - t0 });
    }
    void this.sendReports();
    void this.sendPending();
  }

  /** Paths that could not be read are looked at again later (see PROBLEM_RETRY_MS). */
  private scheduleProblemRetry(): void {
    if (this.problemRetry || this.stopped) return;
    if (![...this.reports.problems.values()].some((p) => retried(p.code))) return;
    this.problemRetry = setTimeout(() => {
      this.problemRetry = null;
      const paths = [...this.reports.problems.values()].filter((p) => retried(p.code)).map((p) => p.path);
      if (paths.length) void this.rescan(coveringRoots(paths));
    }, PROBLEM_RETRY_MS);
    this.problemRetry.unref();
  }

  // ---- the node's own failures (its state dir full) ----------------------------------------

  /**
   * The node's database could not be written (its disk is full): reported to the hub as a
   * problem while it lasts, retried with backoff, and what was not recorded is scanned again.
   */
  private diskFull(e: Error, subtrees: string[]): void {
    for (const s of subtrees) this.diskRetry.subtrees.add(s);
    if (!this.nodeProblem) {
      this.nodeProblem = { path: '', code: PROBLEM_CODES.NODE_DISK_FULL, reason: `the node cannot write its state dir ${this.cfg.stateDir} (${e.message}); changes wait until there is room again` };
      this.reportDirty.add('');
      this.log.error('state.disk_full', { stateDir: this.cfg.stateDir, error: e.message });
    }
    this.scheduleDiskRetry();
  }

  /** While the state dir is full: try again later, with backoff (a rescan of what failed, or a probe write). */
  private scheduleDiskRetry(): void {
    if (!this.nodeProblem || this.diskRetry.timer || this.stopped) return;
    const wait = this.diskRetry.waitMs;
    this.diskRetry.waitMs = Math.min(wait * 2, DISK_RETRY_MAX_MS);
    this.log.debug('state.retry', { inMs: wait });
    this.diskRetry.timer = setTimeout(() => {
      this.diskRetry.timer = null;
      const subtreesToRetry = [...this.diskRetry.subtrees];
      if (subtreesToRetry.length) {
        void this.rescan(coveringRoots(subtreesToRetry)).then(() => this.scheduleDiskRetry());
        return;
      }
      void this.serial(async () => {
        try {
          this.store.setMeta('write_probe', String(Date.now()));
        } catch (err) {
          if (!isDiskFull(err)) throw err;
          this.scheduleDiskRetry();
          return;
        }
        this.diskRecovered();
        void this.sendReports();
      }, (err) => this.log.error('state.probe_failed', { error: err.message }));
    }, wait);
    this.diskRetry.timer.unref();
  }

  private diskRetried(roots: string[]): void {
    for (const s of [...this.diskRetry.subtrees]) if (roots.some((r) => covers(r, s))) this.diskRetry.subtrees.delete(s);
  }

  /**
   * A write of the node's database succeeded: the disk-full problem (if any) is over, and what
   * failed to be recorded meanwhile is scanned again.
   */
  private diskRecovered(): void {
    const missed = [...this.diskRetry.subtrees];
    this.diskRetry.subtrees.clear();
    this.diskRetry.waitMs = DISK_RETRY_MIN_MS;
    if (this.diskRetry.timer) clearTimeout(this.diskRetry.timer);
    this.diskRetry.timer = null;
    if (missed.length) void this.rescan(coveringRoots(missed));
    if (!this.nodeProblem) return;
    this.log.info('state.disk_recovered', { stateDir: this.cfg.stateDir });
    this.nodeProblem = null;
    this.reportDirty.add('');
  }

  /** Any failure of the node's own work: a full state dir is reported and retried, the rest logged. */
  private storeFailed(e: Error, msg: string, fields: Record<string, unknown> = {}): void {
    this.log.error(msg, { ...fields, error: e.message });
    if (isDiskFull(e)) {
      this.diskFull(e, []);
      void this.sendReports();
    }
  }

  /**
   * Sends what changed in the report (problems and ignored paths) to the hub, one report at a
   * time: each replaces what the hub has at or under its subtrees.
   */
  private async sendReports(): Promise<void> {
    if (this.reporting || !this.connected || this.reportDirty.size === 0) return;
    this.reporting = true;
    try {
      while (this.connected && this.reportDirty.size > 0) {
        let clear = coveringRoots([...this.reportDirty]);
        this.reportDirty.clear();
        if (clear.length > MAX_CLEAR_PATHS || clear.reduce((n, c) => n + Buffer.byteLength(c) + 8, 0) > MAX_CLEAR_BYTES) clear = [''];
        const { problems, ignored } = this.reports.under(clear);
        if (this.nodeProblem && clear.includes('')) problems.unshift(this.nodeProblem);
        const send = problems.map(({ path: p, code, reason }) => ({ path: p, code, reason }));
        for (const report of reportMessages(clear, send, ignored.map(({ path: p, kind }) => ({ path: p, kind })))) {
          await this.write({ report });
        }
        this.log.debug('report.sent', { clear: clear.slice(0, 10), problems: problems.length, ignored: ignored.length });
      }
    } catch (e) {
      // The connection went: the next Welcome sends the whole report.
      this.log.debug('report.interrupted', { error: (e as Error).message });
    } finally {
      this.reporting = false;
    }
    if (this.connected && this.reportDirty.size > 0) void this.sendReports();
  }

  // ---- session -----------------------------------------------------------------------------

  private async session(): Promise<void> {
    const pem = await fetchPinnedCert(this.cfg.hub, this.cfg.fingerprint);
    const creds = grpc.credentials.createSsl(Buffer.from(pem), null, null, {
      checkServerIdentity: (_host, cert) => (cert.fingerprint256 === this.cfg.fingerprint ? undefined : new Error(`hub certificate ${cert.fingerprint256} does not match the pinned ${this.cfg.fingerprint}`)),
    });
    const client = new NodeSyncService(this.cfg.hub, creds, { ...channelOptions, 'grpc.ssl_target_name_override': 'cortex-hub' }) as unknown as grpc.Client & { session(md: grpc.Metadata): Call };
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${this.cfg.token}`);
    const call = client.session(md);
    this.call = call;
    try {
      // A session only ends by an error or the end of the stream; run() decides what follows.
      await new Promise<void>((_resolve, reject) => {
        call.on('data', (m: HubMessage) => this.onHubMessage(m).catch((e: Error) => this.storeFailed(e, 'session.error')));
        call.on('error', (e) => reject(e));
        call.on('end', () => reject(Object.assign(new Error('the hub closed the stream'), { code: grpc.status.UNAVAILABLE })));
        call.write({ hello: { nodeId: this.cfg.nodeId, indexId: this.store.indexId, protocol: PROTOCOL_VERSION, version: VERSION } } satisfies NodeMessage);
      });
    } finally {
      this.connected = false;
      this.call = null;
      this.drain?.release();
      for (const w of this.ackWaiters.splice(0)) w();
      this.fetcher.close();
      client.close();
    }
  }

  private async onHubMessage(m: HubMessage): Promise<void> {
    if (m.welcome) {
      this.connected = true;
      this.fetcher = new BlockFetcher({
        peer: 'the hub',
        maxBytes: MAX_FETCH_IN_FLIGHT,
        send: (requests) => { for (const msg of requestMessages(requests)) void this.write(msg).catch(() => undefined); },
      });
      if (!this.joined) {
        this.joined = true;
        this.cfg.onJoined?.();
      }
      this.welcomed = true;
      this.fullPass = m.welcome.wantFull;
      this.ackedSeq = m.welcome.wantFull ? 0 : Number(m.welcome.ackedSeq);
      if (!m.welcome.wantFull && this.ackedSeq < this.store.prunedTo) {
        // The hub has less than we pruned (its database went back in time): only a full
        // index can tell it about those deletions. A new index id makes it ask for one.
        this.log.warn('index.behind_pruned', { ackedSeq: this.ackedSeq, prunedTo: this.store.prunedTo });
        this.store.renewIndexId();
        this.call?.cancel();
        return;
      }
      this.sentSeq = this.ackedSeq;
      this.agents.connected();
      this.log.info('hub.connected', { hub: this.cfg.hub, ackedSeq: this.ackedSeq, wantFull: m.welcome.wantFull, localSeq: this.store.lastSeq });
      // The whole report first: the hub knows what is missing before it could call this node in-sync.
      this.reportDirty.add('');
      await this.sendReports();
      await this.sendPending();
    } else if (m.request) {
      await this.serveBlocks([m.request]);
    } else if (m.requests) {
      await this.serveBlocks(m.requests.items ?? []);
    } else if (m.ack) {
      this.ackedSeq = Number(m.ack.seq);
      for (const w of this.ackWaiters.splice(0)) w();
      const pruned = this.store.pruneTombstones(this.ackedSeq);
      if (pruned) this.log.debug('index.pruned', { tombstones: pruned, upTo: this.ackedSeq });
      if (this.ackedSeq >= this.store.lastSeq) this.log.info('sync.complete', { seq: this.ackedSeq });
    } else if (m.refusal) {
      this.log.warn('hub.refused', { path: m.refusal.path, seq: m.refusal.seq, code: m.refusal.code, reason: m.refusal.message });
    } else if (m.hubIndex) {
      const call = this.call;
      const files = m.hubIndex.files ?? [];
      void this.serial(() => this.applyHubBatch(call, files), (e) => this.storeFailed(e, 'hub.batch_failed'));
    } else if (m.agentStart) {
      this.agents.start(String(m.agentStart.id), String(m.agentStart.command), String(m.agentStart.configJson || '{}'));
    } else if (m.agentStop) {
      this.agents.stop(String(m.agentStop.id));
    } else if (m.rescan) {
      this.log.info('rescan.requested', { by: 'hub' });
      void this.rescan(['']);
    } else if (m.block) {
      this.onHubBlock(m.block);
    } else if (m.blocks) {
      for (const b of m.blocks.items ?? []) this.onHubBlock(b);
    }
  }

  // ---- hub-side changes --------------------------------------------------------------------

  /** Applies a batch of the hub's changes, then acknowledges it and sends what changed here. */
  private async applyHubBatch(call: Call | null, files: WireFileInfo[]): Promise<void> {
    if (!call || call !== this.call || !this.connected || files.length === 0) return;
    const entries = files.map(fromWireEntry);
    const last = entries.reduce((m, e) => Math.max(m, Number.isSafeInteger(e.seq) ? e.seq : 0), 0);
    let r: BatchResult;
    try {
      r = await this.hubChanges.apply(entries);
      this.activity++;
      this.activityAt = Date.now();
      this.echoes.expect(entries.map((e) => e.path));
      const { problems, ...counts } = r;
      this.log.info('hub.changes', { entries: entries.length, ...counts, throughSeq: last, ...(problems.length ? { problems: problems.slice(0, 5) } : {}) });
    } catch (e) {
      if (e instanceof PeerGone) return;
      throw e;
    }
    if (call !== this.call) return;
    // Refused and failed entries are named: the hub keeps them as problems and sends them again.
    const failed = r.problems.map((f) => ({ ...f, path: clip(f.path), message: clip(f.message) }));
    await this.write({ hubAck: { seq: last, failed } }).catch(() => undefined);
    void this.sendPending();
  }

  private onHubBlock(b: BlockResponse): void {
    const id = Number(b.id);
    if (!this.fetcher.onResponse(id, b.error ? Buffer.alloc(0) : Buffer.from(b.data), b.error)) {
      this.log.warn('hub.protocol', { reason: `block response ${id} answers no request` });
    }
  }

  /**
   * Looks for edits the watcher lost: the directories whose entries changed since the last
   * sweep are compared with the index, and what differs is scanned. Runs after activity (a
   * watcher batch, a hub batch) and now and then anyway; one at a time, beside scans.
   */
  private async sweepWorkspace(): Promise<void> {
    if (this.stopped || this.sweeping) return;
    if (this.sweptActivity === this.activity && Date.now() - this.sweptAt < SWEEP_IDLE_MS) return;
    // Only when quiet: what is being scanned or sent right now is not lost.
    if (this.dirty.size > 0 || this.debounce || this.sending || Date.now() - this.activityAt < SWEEP_TICK_MS) return;
    this.sweeping = true;
    const started = this.activity;
    try {
      const dirs = await this.dirSweep.changedDirs(['', ...this.store.dirs()]);
      const differing: string[] = [];
      for (const d of dirs) differing.push(...differingChildren(await this.dirSweep.children(d), this.store.children(d)));
      if (differing.length) {
        this.log.info('scan.sweep_found', { paths: differing.length, examples: differing.slice(0, 5), hint: 'edits the watcher did not report' });
        for (const p of differing) this.markDirty(p);
      }
      this.sweptAt = Date.now();
      this.sweptActivity = started;
    } catch (e) {
      this.log.error('scan.sweep_failed', { error: (e as Error).message });
    } finally {
      this.sweeping = false;
    }
  }

  private async write(msg: NodeMessage): Promise<void> {
    const call = this.call;
    if (!call || !this.connected) throw new Error('not connected');
    if (!call.write(msg)) await this.drained(call);
  }

  /**
   * One wait for the stream's 'drain', shared by every write that waits (block answers, index
   * batches and fetches all write at once on a big first sync: a listener each piled up past
   * Node's limit of 10). It also ends with the session, so no writer waits forever.
   */
  private drained(call: Call): Promise<void> {
    if (this.drain?.call !== call) {
      let release!: () => void;
      const promise = new Promise<void>((resolve) => { release = resolve; });
      const onDrain = () => {
        if (this.drain?.call === call) this.drain = null;
        release();
      };
      call.once('drain', onDrain);
      this.drain = { call, promise, release: () => { call.off('drain', onDrain); onDrain(); } };
    }
    return this.drain.promise;
  }

  /** Sends every index entry the hub has not seen, then IndexDone. One sender at a time. */
  private async sendPending(): Promise<void> {
    if (this.sending || !this.connected) return;
    this.sending = true;
    try {
      while (this.connected) {
        // Flow control: wait for acknowledgements rather than piling entries up at the hub.
        while (this.connected && this.sentSeq - this.ackedSeq >= INDEX_WINDOW) {
          await new Promise<void>((resolve) => this.ackWaiters.push(resolve));
        }
        const batch = this.store.since(this.sentSeq, Math.min(INDEX_BATCH_ENTRIES, INDEX_WINDOW - (this.sentSeq - this.ackedSeq)));
        if (batch.length === 0) {
          // Numbers up to lastSeq not returned belonged to pruned tombstones: the hub may
          // acknowledge through them (so a reconnect never looks behind what was pruned).
          this.sentSeq = Math.max(this.sentSeq, this.store.lastSeq);
          break;
        }
        await this.write({ index: { files: batch.map(toWireEntry) } });
        this.sentSeq = batch[batch.length - 1]!.seq;
      }
      if (this.connected) {
        await this.write({ done: { seq: this.sentSeq, full: this.fullPass } });
        this.fullPass = false;
      }
    } catch (e) {
      this.log.debug('send.interrupted', { error: (e as Error).message });
    } finally {
      this.sending = false;
    }
    if (this.connected && this.store.lastSeq > this.sentSeq) void this.sendPending();
  }

  /** Answers a batch of block requests in as few messages as the size limit allows. */
  private async serveBlocks(requests: BlockRequest[]): Promise<void> {
    for (const msg of responseMessages(requests, (r) => this.readBlock(r))) await this.write(msg).catch(() => undefined);
  }

  /** Reads one requested block from the workspace, or says why not (serve-block.ts). */
  private readBlock(r: BlockRequest): BlockResponse {
    const { res, changed } = serveBlock(this.cfg.workspace, r, (p) => this.store.get(p));
    if (changed) this.markDirty(r.path);
    return res;
  }
}
