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
import { coveringRoots, wirePathProblem } from '../sync/paths';
import { orderBatch } from '../sync/plan';
import { FULL_RESCAN_MS, scan } from '../sync/scanner';
import { serveBlock } from '../sync/serve-block';
import type { CachedEntry } from '../sync/types';
import { INDEX_BATCH_ENTRIES, INDEX_WINDOW, NodeSyncService, type BlockRequest, type BlockResponse, PROTOCOL_VERSION, channelOptions, fromWireEntry, requestMessages, responseMessages, toWireEntry, type HubMessage, type NodeMessage, type WireFileInfo } from '../sync/wire';
import { HubBlockUnavailable, HubChanges, SessionEnded } from './hub-changes';
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

type Call = grpc.ClientDuplexStream<NodeMessage, HubMessage>;

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
  /** Hub-side changes are applied one batch at a time, never beside a scan (see serial()). */
  private nextFetchId = 1;
  private fetchBytes = 0;
  private readonly fetchWaiters: (() => void)[] = [];
  private readonly fetches = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void; size: number }>();
  private fetchOutbox: BlockRequest[] = [];
  /** The current wait for the stream to drain (see drained()). */
  private drain: { call: Call; promise: Promise<void>; release: () => void } | null = null;
  /** Resolves when stop() is called. */
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
    const stateWire = !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : null;
    const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);
    this.ignoreState = (p) => (stateWire !== null && under(p, stateWire)) || under(p, WORKSPACE_STAGING);
    this.stagingDir = stagingFor(cfg.workspace, cfg.stateDir);
    this.caseInsensitive = caseInsensitive(this.stagingDir);
    this.hubChanges = new HubChanges({
      ctx: { root: cfg.workspace, stagingDir: this.stagingDir, pool: this.pool, caseInsensitive: this.caseInsensitive },
      store: this.store,
      log: this.log,
      reserved: this.ignoreState,
      fetch: (p, offset, size, hash) => this.fetchFromHub(p, offset, size, hash),
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
    this.subscription = await watcher.subscribe(this.cfg.workspace, (err, events) => {
      if (err) {
        this.log.warn('watch.error', { error: err.message });
        this.markDirty('');
        return;
      }
      for (const ev of events) {
        const rel = path.relative(this.cfg.workspace, ev.path).split(path.sep).join('/');
        if (rel.startsWith('..')) continue;
        this.markDirty(rel);
      }
    });
    const leftovers = await clearStaging(this.stagingDir);
    if (leftovers) this.log.info('staging.cleared', { files: leftovers });
    await this.rescan(['']);
    // A safety net for events the watcher lost: the whole workspace is compared (stat only) now and then.
    const full = setInterval(() => void this.rescan(['']), FULL_RESCAN_MS);
    full.unref();
    void this.stopped$.then(() => clearInterval(full));
    let backoff = BACKOFF_MIN_MS;
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
        const wait = Math.round(backoff * (0.75 + Math.random() / 2));
        this.log.warn('hub.unreachable', { hub: this.cfg.hub, error: err.details ?? err.message, retryInMs: wait });
        await Promise.race([new Promise((r) => setTimeout(r, wait)), this.stopped$]);
        backoff = Math.min(backoff * 1.5, BACKOFF_MAX_MS);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.agents.stopAll();
    this.stopSignal();
    await this.subscription?.unsubscribe();
    this.call?.cancel();
    await this.scanning.catch(() => undefined);
    await this.pool.close();
    this.store.close();
  }

  // ---- scanning ----------------------------------------------------------------------------

  private markDirty(wire: string): void {
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
    return this.serial(() => this.doScan(subtrees), (e) => this.log.error('scan.failed', { subtrees, error: e.message }));
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
   */
  private async doScan(subtrees: string[]): Promise<void> {
    if (this.stopped) return;
    const t0 = Date.now();
    const full = subtrees.includes('');
    const cache = full ? this.store.all() : null;
    const updated: CachedEntry[] = [];
    const deleted: CachedEntry[] = [];
    let walked = 0;
    let hashedFiles = 0;
    let hashedBytes = 0;
    for (const subtree of full ? [''] : subtrees) {
      if (subtree && wirePathProblem(subtree)) continue;
      const res = await scan({
        root: this.cfg.workspace,
        pool: this.pool,
        subtree,
        cached: (p) => (cache ? cache.get(p) : this.store.get(p)),
        knownUnder: (s) => (cache ? cache.keys() : this.store.pathsUnder(s)),
        ignore: this.ignoreState,
        caseInsensitive: this.caseInsensitive,
      });
      for (const s of res.skipped) this.log.warn('scan.skipped', { path: s.path, reason: s.reason });
      updated.push(...res.updated);
      for (const p of res.deleted) {
        const prev = cache ? cache.get(p) : this.store.get(p);
        if (prev) deleted.push({ ...prev, deleted: true });
      }
      walked += res.walked;
      hashedFiles += res.hashedFiles;
      hashedBytes += res.hashedBytes;
    }
    if (updated.length || deleted.length) {
      this.store.record(orderBatch([...updated, ...deleted]));
    }
    if (full || hashedFiles > 0) {
      this.log.info('scan.done', { subtrees, walked, changed: updated.length, deleted: deleted.length, hashedFiles, hashedBytes, ms: Date.now() - t0 });
    }
    void this.sendPending();
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
        call.on('data', (m: HubMessage) => this.onHubMessage(m).catch((e: Error) => this.log.error('session.error', { error: e.message })));
        call.on('error', (e) => reject(e));
        call.on('end', () => reject(Object.assign(new Error('the hub closed the stream'), { code: grpc.status.UNAVAILABLE })));
        call.write({ hello: { nodeId: this.cfg.nodeId, indexId: this.store.indexId, protocol: PROTOCOL_VERSION, version: VERSION } } satisfies NodeMessage);
      });
    } finally {
      this.connected = false;
      this.call = null;
      this.drain?.release();
      for (const w of this.ackWaiters.splice(0)) w();
      for (const f of this.fetches.values()) f.reject(new SessionEnded());
      this.fetches.clear();
      this.fetchOutbox = [];
      this.fetchBytes = 0;
      for (const w of this.fetchWaiters.splice(0)) w();
      client.close();
    }
  }

  private async onHubMessage(m: HubMessage): Promise<void> {
    if (m.welcome) {
      this.connected = true;
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
      this.agents.flush();
      this.log.info('hub.connected', { hub: this.cfg.hub, ackedSeq: this.ackedSeq, wantFull: m.welcome.wantFull, localSeq: this.store.lastSeq });
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
      void this.serial(() => this.applyHubBatch(call, files), (e) => this.log.error('hub.batch_failed', { error: e.message }));
    } else if (m.agentStart) {
      this.agents.start(String(m.agentStart.id), String(m.agentStart.command), String(m.agentStart.configJson || '{}'));
    } else if (m.agentStop) {
      this.agents.stop(String(m.agentStop.id));
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
    try {
      const r = await this.hubChanges.apply(entries);
      this.log.info('hub.changes', { entries: entries.length, ...r, throughSeq: last });
    } catch (e) {
      if (e instanceof SessionEnded) return;
      throw e;
    }
    if (call !== this.call) return;
    await this.write({ hubAck: { seq: last } }).catch(() => undefined);
    void this.sendPending();
  }

  /** Fetches a block of a hub-side change, within MAX_FETCH_IN_FLIGHT bytes. */
  private async fetchFromHub(p: string, offset: number, size: number, hash: Buffer): Promise<Buffer> {
    while (this.fetchBytes + size > MAX_FETCH_IN_FLIGHT && this.fetchBytes > 0 && this.connected) {
      await new Promise<void>((r) => this.fetchWaiters.push(r));
    }
    if (!this.connected) throw new SessionEnded();
    const id = this.nextFetchId++;
    this.fetchBytes += size;
    return new Promise<Buffer>((resolve, reject) => {
      this.fetches.set(id, { resolve, reject, size });
      this.fetchOutbox.push({ id, path: p, offset, size, hash });
      if (this.fetchOutbox.length === 1) {
        setImmediate(() => {
          for (const msg of requestMessages(this.fetchOutbox.splice(0))) void this.write(msg).catch(() => undefined);
        });
      }
    });
  }

  private onHubBlock(b: BlockResponse): void {
    const id = Number(b.id);
    const f = this.fetches.get(id);
    if (!f) {
      this.log.warn('hub.protocol', { reason: `block response ${id} answers no request` });
      return;
    }
    this.fetches.delete(id);
    this.fetchBytes -= f.size;
    this.fetchWaiters.shift()?.();
    if (b.error) f.reject(new HubBlockUnavailable(b.error));
    else f.resolve(Buffer.from(b.data));
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
