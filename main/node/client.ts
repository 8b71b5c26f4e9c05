/**
 * cortex-node: keeps a workspace mirrored on the hub.
 *
 * Scan (persistent hash cache) → connect (TLS pinned by fingerprint, token) → send the index
 * entries the hub has not acknowledged → serve the hub's block requests → follow live changes
 * with a file-system watcher. Reconnects with backoff; gives up only on a revoked or wrong
 * token or a hub whose certificate does not match the pin.
 *
 * This file wires the node's parts and owns run() (the reconnect loop) and stop():
 *   config.ts           what the node is given, its state and staging dirs, paths it never syncs
 *   workspace-scans.ts  the watcher, dirty marks, scans, full rescans and the sweep
 *   retries.ts          unreadable paths scanned again; the node's own disk full, retried
 *   report-sender.ts    problems and ignored paths, sent to the hub
 *   hub-link.ts         one session with the hub and its messages
 *   index-sender.ts     the index entries the hub has not acknowledged, under a window
 *   hub-changes.ts      the hub's changes applied to the workspace
 *   pinned-tls.ts       the hub's certificate checked against the pin
 *   agents.ts           the agents the hub starts on this node
 */
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { NodeStore } from '../store/node-store';
import { caseInsensitive, clearStaging } from '../sync/apply';
import { FsPool } from '../sync/fs-pool';
import { SUPERSEDED, type NodeMessage } from '../sync/wire';
import { AgentRunner } from './agents';
import { FatalNodeError, nodeOwnPaths, stagingFor, type NodeConfig } from './config';
import { HubChanges } from './hub-changes';
import { HubLink } from './hub-link';
import { IndexSender } from './index-sender';
import { ReportSender } from './report-sender';
import { DiskRetry, ProblemRetry, ReconnectBackoff } from './retries';
import { WorkspaceScans } from './workspace-scans';
import type { Logger } from '../util/log';

export { FatalNodeError, defaultStateDir, type NodeConfig } from './config';

const BACKOFF_MAX_MS = 30_000;
/** First wait after the hub said another connection took over this node's identity. */
const SUPERSEDED_BACKOFF_MS = 2000;

export class NodeClient {
  readonly store: NodeStore;
  readonly pool: FsPool;
  private stopped = false;
  private readonly log: Logger;
  private readonly stagingDir: string;
  private readonly scans: WorkspaceScans;
  private readonly problemRetry: ProblemRetry;
  private readonly disk: DiskRetry;
  private readonly reports: ReportSender;
  private readonly index: IndexSender;
  private readonly link: HubLink;
  private readonly agents: AgentRunner;
  private stopSignal!: () => void;
  /** Resolves when stop() is called. */
  private readonly stopped$ = new Promise<void>((r) => { this.stopSignal = r; });

  constructor(private readonly cfg: NodeConfig) {
    this.log = cfg.log;
    this.pool = cfg.pool ?? new FsPool(undefined, { log: cfg.log });
    try {
      const st = fs.statSync(cfg.workspace);
      if (!st.isDirectory()) throw new Error('not a directory');
      fs.readdirSync(cfg.workspace);
    } catch (e) {
      throw new FatalNodeError(`workspace ${cfg.workspace} is not a readable directory: ${(e as Error).message}`, 2);
    }
    fs.mkdirSync(cfg.stateDir, { recursive: true, mode: 0o700 });
    const store = this.store = new NodeStore(path.join(cfg.stateDir, 'node.db'));
    const log = this.log;
    // This index belonged to another node (its credentials were removed for new ones): what it
    // learnt from that node's hub means nothing to this one, which gets a full index.
    const previousNode = store.getMeta('node_id');
    if (previousNode !== cfg.nodeId) {
      if (previousNode !== undefined) {
        store.forgetHub();
        log.warn('index.new_node', { previous: previousNode, now: cfg.nodeId });
      }
      store.setMeta('node_id', cfg.nodeId);
    }
    const ignore = nodeOwnPaths(cfg.workspace, cfg.stateDir);
    this.stagingDir = stagingFor(cfg.workspace, cfg.stateDir);
    /** The workspace's file system ignores case (macOS, Windows): see expect.ts CaseConflict. */
    const caseless = caseInsensitive(this.stagingDir);
    const stopped = () => this.stopped;
    const connected = () => this.link.isConnected;
    const write = (msg: NodeMessage) => this.link.write(msg);
    this.reports = new ReportSender({ log, connected, write, nodeProblem: () => this.disk.nodeProblem });
    this.index = new IndexSender({ store, log, connected, write });
    this.problemRetry = new ProblemRetry({ found: this.reports.found, rescan: (s) => this.scans.rescan(s), stopped });
    this.disk = new DiskRetry({
      stateDir: cfg.stateDir,
      log,
      probe: () => store.setMeta('write_probe', String(Date.now())),
      rescan: (s) => this.scans.rescan(s),
      serial: (fn, onError) => this.scans.serial(fn, onError),
      reportChanged: () => this.reports.changed(''),
      sendReports: () => this.reports.send(),
      stopped,
    });
    this.scans = new WorkspaceScans({
      workspace: cfg.workspace, store, pool: this.pool, log, ignore, caseInsensitive: caseless,
      reports: this.reports, problemRetry: this.problemRetry, disk: this.disk,
      sendPending: () => this.index.sendPending(),
      sending: () => this.index.busy,
      stopped,
    });
    const hubChanges = new HubChanges({
      ctx: { root: cfg.workspace, stagingDir: this.stagingDir, pool: this.pool, caseInsensitive: caseless },
      store,
      log,
      reserved: ignore,
      fetch: (p, offset, size, hash) => this.link.fetch(p, offset, size, hash),
      markDirty: (p) => this.scans.markDirty(p),
    });
    this.agents = new AgentRunner(cfg.workspace, log, (m) => this.link.sendNow({ agentState: m } satisfies NodeMessage));
    this.link = new HubLink({
      cfg, store, log, index: this.index, reports: this.reports, scans: this.scans, hubChanges, agents: this.agents,
      storeFailed: (e, msg) => this.disk.storeFailed(e, msg),
    });
  }

  /** Runs until stop(); throws FatalNodeError when retrying cannot help. */
  async run(): Promise<void> {
    await this.scans.watch();
    const leftovers = await clearStaging(this.stagingDir);
    if (leftovers) this.log.info('staging.cleared', { files: leftovers });
    await this.scans.rescan(['']);
    await this.scans.startSafetyNets();
    const backoff = new ReconnectBackoff();
    /** Backoff after being superseded (another process with our credentials took over). */
    let superseded = 0;
    while (!this.stopped) {
      try {
        await this.link.session();
      } catch (e) {
        if (e instanceof FatalNodeError) throw e;
        // A session that got as far as Welcome was a success: start backing off afresh.
        if (this.link.takeWelcomed()) backoff.welcomed();
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
        const { waitMs: wait, attempt, fast } = backoff.next();
        // Right after a lost session the node retries every ~100 ms: one warning, then every 10th.
        this.log[fast && attempt % 10 !== 1 ? 'debug' : 'warn']('hub.unreachable', { hub: this.cfg.hub, error: err.details ?? err.message, retryInMs: wait, attempt });
        await Promise.race([new Promise((r) => setTimeout(r, wait)), this.stopped$]);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.problemRetry.stop();
    this.disk.stop();
    // Every agent's whole process group, before the session ends (their `stopped` can still reach the hub).
    await this.agents.stopAll();
    this.stopSignal();
    await this.scans.stop();
    this.link.cancel();
    await this.scans.idle();
    if (!this.cfg.pool) await this.pool.close();
    this.store.close();
  }
}
