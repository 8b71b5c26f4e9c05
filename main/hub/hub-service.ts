/**
 * HubService: the one owner of the hub's state. The gRPC node server, the HTTP/WebSocket API,
 * the Electron IPC adapter and the CLI all go through it (via the contract's handlers).
 * It opens and closes the hub (data dir, log, store, the rooms below wired together), and does
 * the admin operations: nodes added, retired, rescanned; purges (into the trash: trash-service.ts);
 * the admin token; settings.
 * Its rooms: a Mirror per node (mirror.ts), the node server (node-server.ts), the status
 * (node-status.ts), the handler table (handlers.ts). A little over 400 lines: the admin
 * operations share its state and each is short; splitting them would only pass it around.
 */
import { EventEmitter } from 'node:events';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ContractError, nodeNameKey, nodeNameProblem, normalizeNodeName, SettingsSchema, defaultSettings, type Settings, type EventMap, type EventName, type Handlers, type HubStatus, type NodeInfo, type PauseView, PURGE_PLAN_TTL_MS, type PurgeTargetView, type PurgeView, type RescanView } from '../contract';
import type { StatusDiff } from '../contract/ws';
import { HubStore, type NodeRecord } from '../store/hub-store';
import { NodeReports } from './node-reports';
import { AgentService } from '../agents/agent-service';
import { FsPool } from '../sync/fs-pool';
import { FULL_RESCAN_MS } from '../sync/scanner';
import { SWEEP_TICK_MS } from '../sync/dir-sweep';
import type { MirrorModes } from '../sync/modes';
import { encodeJoin } from '../sync/join';
import { clip } from '../util/text';
import { createLogger, type LogEntry, type Logger } from '../util/log';
import { acquireLock, layout, rotateAdminToken, tightenDataDir, writeActiveMirrors, type Layout } from './data-dir';
import { executePurge, mountPointsUnder, noLongerOrphan, planPurge, planRefusal, selectTargets, type PurgeTarget } from './purge';
import { TrashService } from './trash-service';
import { SearchIndexer } from './search-indexer';
import { handlers } from './handlers';
import { ConflictDesk } from './conflicts';
import { ChangeDesk } from './changes';
import { dropEarlyWatches } from './early-watch';
import { NodeRuntimes } from './node-runtime';
import { NodeServer } from './node-server';
import { NodeControls, type PauseTarget } from './node-controls';
import { RescanWaits } from './rescans';
import { STATUS_MS, StatusBoard } from './node-status';
import { loadOrCreateIdentity, type HubIdentity } from './tls';

export interface HubOptions {
  dataDir: string;
  /** 'serve' verifies mirrors and accepts nodes; 'admin' only answers admin operations. */
  mode: 'serve' | 'admin';
  /** Address written into join strings (host[:port]); default: this machine's address. */
  advertise?: string;
  consoleLevel?: 'error' | 'warn' | 'info' | 'debug' | false;
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** Run by the desktop app, which can start on login (the `startOnLogin` setting); a headless hub refuses it. */
  desktop?: boolean;
}

const LOG_RING = 2000;
/** Purge plans are forgotten a day after their preview (until then an old one is refused as expired, not unknown). */
const PURGE_PLANS_KEPT_MS = 24 * 60 * 60 * 1000;

/** The events HubService emits: the contract's, each with its one argument. */
type HubEvents = { [K in EventName]: [EventMap[K]] };

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

export class HubService extends EventEmitter<HubEvents> {
  readonly startedAt = Date.now();
  readonly layout: Layout;
  readonly log: Logger;
  readonly store: HubStore;
  readonly pool: FsPool;
  private readonly commitPool: FsPool;
  /** Per node: session, failures, mirror (node-runtime.ts). */
  private readonly runtimes: NodeRuntimes;
  /** The gRPC server nodes connect to (node-server.ts). */
  private readonly nodeServer: NodeServer;
  /** Status and node detail (node-status.ts). */
  readonly statusBoard: StatusBoard;
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
  /** Pause, resume and rescan now (node-controls.ts). */
  private readonly controls: NodeControls;
  /** Purged mirrors, restorable until emptied (trash-service.ts). */
  readonly trash: TrashService;
  /** Fills the search's trigram index while the hub is idle (search-indexer.ts). */
  readonly searchIndexer: SearchIndexer;
  /** Conflict copies listed, compared and resolved (conflicts.ts). */
  readonly conflicts: ConflictDesk;
  /** Recent changes and file history, and the change log's retention (changes.ts). */
  readonly changes: ChangeDesk;

  private constructor(
    readonly opts: HubOptions,
    readonly identity: HubIdentity,
    private readonly releaseLock: () => void,
    store: HubStore,
    log: Logger,
    /** The newest log entries (logs.recent). */
    readonly logRing: readonly LogEntry[],
  ) {
    super();
    this.layout = layout(opts.dataDir);
    this.store = store;
    this.log = log;
    this.pool = new FsPool();
    this.commitPool = new FsPool(commitWorkers(), { log });
    this.reports = new NodeReports(store.reports);
    this.runtimes = new NodeRuntimes(store, (id) => ({
      id, root: this.mirrorOf(id), staging: this.stagingOf(id), store, pool: this.pool, log,
      changed: () => this.changed(id), closed: () => this.closed, modes: () => this.mirrorModes,
      swept: (s) => this.nodeServer.sessionChanged(id, s),
    }));
    this.statusBoard = new StatusBoard({
      store, runtimes: this.runtimes, reports: this.reports, pool: this.pool, fingerprint: identity.fingerprint, startedAt: this.startedAt,
      mode: opts.mode, grpcAddress: () => this.nodeServer.address, uiAddress: () => this.uiAddress, mirrorOf: (id) => this.mirrorOf(id), trashBytes: () => this.trash.bytes(),
    });
    this.searchIndexer = new SearchIndexer(store.search, log.child('search'));
    this.trash = new TrashService({ layout: this.layout, store, log: log.child('trash'), retentionDays: () => this.settings().trashRetentionDays, changed: () => this.statusBoard.hubChanged() });
    this.agents = new AgentService(store.agents, {
      sendToNode: (nodeId, msg) => {
        const s = this.runtimes.get(nodeId)?.session;
        if (!s || s.closed) return false;
        s.send(msg);
        return true;
      },
      nodeState: (nodeId) => {
        const n = store.node(nodeId);
        return n ? (n.retiredAt === null ? 'active' : 'retired') : undefined;
      },
      changed: (i) => this.emit('agent', i),
      templateChanged: (t) => this.emit('agent.template', t),
      historyDays: () => this.settings().agentHistoryDays,
      log: log.child('agents'),
    });
    const rescans = new RescanWaits((id, answer) => this.controls.lateAnswer(id, answer));
    this.controls = new NodeControls({ store, log, runtimes: this.runtimes, rescans, mode: opts.mode, changed: (id) => this.changed(id) });
    this.nodeServer = new NodeServer({
      identity, store, log, runtimes: this.runtimes, status: this.statusBoard, commitPool: this.commitPool, agents: this.agents, reports: this.reports, rescans,
      advertise: opts.advertise, mirrorOf: (id) => this.mirrorOf(id), stagingOf: (id) => this.stagingOf(id), modes: () => this.mirrorModes, closed: () => this.closed,
    });
    this.conflicts = new ConflictDesk({
      store, log: log.child('conflicts'), mode: opts.mode, mirrorOf: (id) => this.mirrorOf(id),
      applying: (id, p) => this.runtimes.get(id)?.session?.applying(p) === true,
      scan: (id, paths) => this.runtimes.of(id).mirror.scan(paths),
    });
    this.changes = new ChangeDesk({
      store, log: log.child('changes'), mode: opts.mode, runtimes: this.runtimes, mirrorOf: (id) => this.mirrorOf(id), retentionDays: () => this.settings().changesRetentionDays,
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
      fs.mkdirSync(l.trash, { recursive: true, mode: 0o700 });
      // Staging leftovers (partials a stop cut short) are garbage at start; they go before the
      // first write (log, database, hub.json), which a disk they filled would refuse.
      clearStagingLeftovers(l.staging);
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
      // What a kill left in the trash is settled before anything uses it (either mode).
      hub.trash.reconcile();
      if (opts.mode === 'serve') {
        // Read and clear the clean-shutdown mark: if this hub crashes, the next start will know.
        const clean = store.getMeta('clean_shutdown') === '1';
        store.setMeta('clean_shutdown', '0');
        hub.verifyMirrors(clean);
        hub.trash.start();
        hub.changes.start();
        hub.agents.history.start();
        hub.searchIndexer.start();
        dropEarlyWatches();
        const lost = hub.agents.recover();
        if (lost) log.warn('agents.recovered', { lost });
      }
      return hub;
    } catch (e) {
      dropEarlyWatches();
      release();
      throw e;
    }
  }

  // ---- start-up: verify mirrors against the persistent hash cache --------------------------

  /**
   * Verifies every active mirror against the index (Mirror.verifyAtStart), once the server
   * listens so start-up is not delayed by it.
   */
  private verifyMirrors(cleanShutdown: boolean): void {
    for (const n of this.store.nodes()) {
      if (n.retiredAt !== null) continue;
      this.runtimes.of(n.id).mirror.verifyAtStart(this.listening, cleanShutdown);
    }
    this.noteServedMirrors();
  }

  /** The active nodes, for the next start: its watchers start before the hub loads (early-watch.ts). */
  private noteServedMirrors(): void {
    writeActiveMirrors(this.layout, this.store.nodes().filter((n) => n.retiredAt === null).map((n) => n.id));
  }

  // ---- the node server ---------------------------------------------------------------------

  /** The UI and admin API's address once it listens (run-hub.ts): in the status, for webhook URLs. */
  private uiAddress: string | null = null;

  noteUiAddress(url: string): void {
    this.uiAddress = url;
  }

  async listen(hostPort: string): Promise<string> {
    const address = await this.nodeServer.listen(hostPort);
    this.store.setMeta('advertise', this.nodeServer.advertised());
    this.statusTimer = setInterval(() => this.emitStatus(), STATUS_MS);
    this.statusTimer.unref();
    this.agents.startScheduler();
    this.rescanTimer = setInterval(() => {
      for (const rt of this.runtimes.all()) rt.mirror.rescan();
    }, FULL_RESCAN_MS);
    this.rescanTimer.unref();
    this.sweepTimer = setInterval(() => {
      for (const rt of this.runtimes.all()) rt.mirror.sweep();
    }, SWEEP_TICK_MS);
    this.sweepTimer.unref();
    if (process.env.CORTEX_EVENTLOOP_LOG === '1') this.startLoopMonitor();
    this.log.info('hub.listening', { grpc: address, fingerprint: this.identity.fingerprint });
    this.markListening();
    return address;
  }

  /**
   * Logs the event loop's delay every 5 s (msg hub.eventloop): what the lag benchmark reads;
   * and how commits were grouped in that time (msg hub.commits, when there were any).
   */
  private startLoopMonitor(): void {
    const h: IntervalHistogram = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    const t = setInterval(() => {
      this.log.info('hub.eventloop', { p50Ms: h.percentile(50) / 1e6, p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 });
      h.reset();
      const c = this.commitPool.takeCommitStats();
      if (c.groups > 0) this.log.info('hub.commits', c);
    }, 5000);
    t.unref();
  }

  // ---- status ------------------------------------------------------------------------------

  /** Something shown changed: for one node, or (no id) for any. */
  private changed(nodeId?: string): void {
    this.statusBoard.changed(nodeId);
  }

  /** Sends the status stream's next message to subscribers when one is due (StatusBoard.streamTick). */
  private emitStatus(): void {
    if (this.listenerCount('status.diff') === 0 && this.listenerCount('status') === 0) return;
    const d = this.statusBoard.streamTick();
    if (d) this.streamed(d);
  }

  private streamed(d: StatusDiff): void {
    this.emit('status.diff', d);
    if (this.listenerCount('status') > 0) this.emit('status', this.statusBoard.streamStatus()!);
  }

  status(): HubStatus {
    return this.statusBoard.status();
  }

  /** The status stream's full message at its current number (`status.snapshot`). */
  statusSnapshot(): StatusDiff {
    return this.statusBoard.streamFull((d) => this.streamed(d));
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
    this.store.events.add(id, 'node.added', { name });
    this.log.info('node.added', { node: id, name });
    this.noteServedMirrors();
    this.changed();
    return { node: toInfo(rec), join: encodeJoin({ hub: this.nodeServer.advertised(), node: id, token: secret, fp: this.identity.fingerprint }) };
  }

  retireNode(id: string): NodeInfo {
    const rec = this.store.node(id);
    if (!rec) throw new ContractError('NOT_FOUND', `no node with id ${id}`);
    if (rec.retiredAt !== null) throw new ContractError('CONFLICT', `node ${id} is already retired`);
    this.store.retireNode(id);
    this.reports.forget(id);
    this.store.events.add(id, 'node.retired', { name: rec.name });
    this.agents.nodeDisconnected(id);
    const retiring = this.runtimes.get(id);
    if (retiring) {
      void retiring.mirror.stopWatching();
      retiring.partials.clear();
    }
    this.log.info('node.retired', { node: id, name: rec.name });
    this.noteServedMirrors();
    const rt = this.runtimes.get(id);
    if (rt?.session) {
      const s = rt.session;
      s.close();
      rt.session = null;
      s.end(grpc.status.PERMISSION_DENIED, `node ${id} has been retired; its token is revoked`);
    }
    this.changed(id);
    return toInfo(this.store.node(id)!);
  }

  /**
   * The operator's rescan: the mirror and the node's whole workspace are looked at again now,
   * everything that failed is tried again, and what each side found is answered (node-controls.ts).
   */
  rescanNode(id: string): Promise<RescanView> {
    return this.controls.rescan(id);
  }

  /** Pauses (or resumes) one node's sync or every node's; kept across restarts (node-controls.ts). */
  pauseNodes(t: PauseTarget, paused: boolean): PauseView {
    return this.controls.setPaused(t, paused);
  }

  /**
   * A purge preview: the orphaned mirrors, stored as a plan (PURGE_PLAN_TTL_MS) that
   * purge(planId) runs. Mirrors that are or hold a mount point are listed as skipped.
   */
  purgePreview(): PurgeView {
    const plan = planPurge(this.layout.mirrors, this.store.nodes(), this.runtimes.connectedIds(), mountPointsUnder(this.layout.mirrors));
    const now = Date.now();
    const id = `pp-${crypto.randomBytes(9).toString('base64url')}`;
    const expiresAt = now + PURGE_PLAN_TTL_MS;
    this.store.purgePlans.save({ id, createdAt: now, expiresAt, targets: plan.targets }, now - PURGE_PLANS_KEPT_MS);
    this.log.info('purge.planned', { plan: id, mirrors: plan.targets.map((t) => t.id), files: plan.files, bytes: plan.bytes, skipped: plan.skipped });
    return { dryRun: true, planId: id, expiresAt, targets: plan.targets.map(targetView), files: plan.files, bytes: plan.bytes, skipped: plan.skipped };
  }

  /**
   * Runs a preview's plan, once: moves into the trash its mirrors (all, or those in `ids`) that
   * are still orphaned and still what the preview saw; keeps and reports the others. An
   * unknown, expired or used plan is refused, and so is a selection naming a mirror the plan
   * does not have (the plan stays runnable).
   */
  purge(planId: string, ids?: string[]): PurgeView {
    const rec = this.store.purgePlans.get(planId);
    const refusal = planRefusal(rec, planId, Date.now());
    if (!rec || refusal) {
      const message = refusal?.message ?? `no purge plan ${planId}`;
      this.log.warn('purge.refused', { plan: clip(planId), reason: message });
      throw new ContractError(refusal?.code ?? 'NOT_FOUND', message);
    }
    const selection = selectTargets(rec.targets, ids);
    if (selection.unknown.length) {
      const message = `purge.run: not in plan ${planId}: ${selection.unknown.slice(0, 10).map((n) => JSON.stringify(clip(n))).join(', ')} (the plan has ${rec.targets.map((t) => t.id).join(', ') || 'nothing'})`;
      this.log.warn('purge.refused', { plan: planId, reason: message });
      throw new ContractError('BAD_REQUEST', message);
    }
    // One run per plan (one process owns DATA at a time, and this is synchronous to the end).
    this.store.purgePlans.markRun(planId);
    const nodes = this.store.nodes();
    const connected = this.runtimes.connectedIds();
    const result = executePurge(this.layout.mirrors, selection.chosen, (name) => noLongerOrphan(name, nodes, connected), mountPointsUnder(this.layout.mirrors), (t) => this.trash.put(t, planId));
    for (const t of result.removed) {
      fs.rmSync(this.stagingOf(t.id), { recursive: true, force: true });
      if (this.store.node(t.id)) this.store.forgetMirror(t.id);
    }
    result.skipped.push(...selection.unselected);
    const view: PurgeView = { dryRun: false, planId, expiresAt: rec.expiresAt, targets: result.removed.map((t) => ({ ...targetView(t), trashId: t.trashId })), files: result.files, bytes: result.bytes, skipped: result.skipped };
    this.store.events.add(null, 'purge', { planId, targets: view.targets, files: view.files, bytes: view.bytes, skipped: view.skipped });
    this.log.info('purge.done', { plan: planId, mirrors: result.removed.map((t) => t.id), files: result.files, bytes: result.bytes, skipped: result.skipped });
    if (result.skipped.length) this.log.warn('purge.skipped', { plan: planId, skipped: result.skipped });
    this.changed();
    return view;
  }

  /** Every node, active and retired. */
  nodes(): NodeInfo[] {
    return this.store.nodes().map(toInfo);
  }

  /** The contract's handler table (handlers.ts). */
  handlers(): Handlers {
    return handlers(this);
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

  private readonly settingsListeners = new Set<(next: Settings, patch: Partial<Settings>) => void>();

  /** Calls `cb` after each change of the settings (the desktop app applies `startOnLogin`); returns the unsubscribe function. */
  onSettingsChanged(cb: (next: Settings, patch: Partial<Settings>) => void): () => void {
    this.settingsListeners.add(cb);
    return () => this.settingsListeners.delete(cb);
  }

  updateSettings(patch: Partial<Settings>): Settings {
    if (patch.startOnLogin && !this.opts.desktop) {
      throw new ContractError('BAD_REQUEST', 'startOnLogin: only the desktop app starts on login; this hub runs headless (cortex-hub serve): start it with your service manager (systemd, launchd) instead');
    }
    const next = { ...this.settings(), ...patch };
    this.store.setMeta('settings', JSON.stringify(next));
    this.mirrorModes = next.mirrorModes;
    if (patch.logLevel) this.log.setLevel(patch.logLevel);
    // A shorter retention window applies now, not at the next hourly check.
    if (patch.trashRetentionDays !== undefined && this.opts.mode === 'serve') this.trash.check();
    if (patch.changesRetentionDays !== undefined && this.opts.mode === 'serve') void this.changes.trim();
    if (patch.agentHistoryDays !== undefined && this.opts.mode === 'serve') void this.agents.history.trim();
    this.log.info('settings.changed', { changed: patch });
    this.emit('settings', next);
    for (const cb of this.settingsListeners) {
      try {
        cb(next, patch);
      } catch (e) {
        this.log.error('settings.listener-failed', { error: (e as Error).message });
      }
    }
    return next;
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  mirrorOf(id: string): string {
    return path.join(this.layout.mirrors, id);
  }

  stagingOf(id: string): string {
    return path.join(this.layout.staging, id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.markListening();
    if (this.statusTimer) clearInterval(this.statusTimer);
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.agents.stopScheduler();
    this.searchIndexer.stop();
    await this.trash.stop();
    this.changes.stop();
    this.agents.history.stop();
    await Promise.all([...this.runtimes.all()].map((rt) => rt.mirror.stopWatching()));
    await this.nodeServer.endSessions();
    await this.commitPool.close();
    await this.nodeServer.shutdown();
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
  return { id: n.id, name: n.name, createdAt: n.createdAt, retiredAt: n.retiredAt, lastSeen: n.lastSeen, pausedAt: n.pausedAt };
}

function targetView(t: PurgeTarget): PurgeTargetView {
  return { id: t.id, reason: t.reason, kind: t.kind, files: t.files, bytes: t.bytes };
}

/** Removes every node's staging leftovers (*.tmp), as each mirror's start-up would, only earlier. */
function clearStagingLeftovers(staging: string): void {
  for (const d of fs.readdirSync(staging, { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    const dir = path.join(staging, d.name);
    for (const name of fs.readdirSync(dir)) if (name.endsWith('.tmp')) fs.rmSync(path.join(dir, name), { force: true, recursive: true });
  }
}
