/**
 * The node's connection to the hub: one gRPC session at a time (TLS pinned by fingerprint,
 * token), the hub's messages dispatched to their owners (Welcome, acknowledgements, block
 * requests served from the workspace, hub-side batches applied and acknowledged, blocks the
 * node fetched, agents, rescans), and writes that wait for the stream to drain. Whether to
 * connect again is NodeClient.run's business.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { NodeStore } from '../store/node-store';
import { BlockFetcher, PeerGone } from '../sync/block-fetcher';
import { serveBlock } from '../sync/serve-block';
import { NodeSyncService, PROTOCOL_VERSION, channelOptions, fromWireEntry, requestMessages, responseMessages, type BlockRequest, type BlockResponse, type HubMessage, type NodeMessage, type WireFileInfo } from '../sync/wire';
import type { Entry } from '../sync/types';
import { clip } from '../util/text';
import type { Logger } from '../util/log';
import { VERSION } from '../util/version';
import type { AgentRunner } from './agents';
import { FatalNodeError, type NodeConfig } from './config';
import type { BatchResult, HubChanges } from './hub-changes';
import type { IndexSender } from './index-sender';
import { pinnedCredentials } from './pinned-tls';
import type { ReportSender } from './report-sender';
import type { WorkspaceScans } from './workspace-scans';

/** Bytes of hub-side changes requested and not yet received, at most. */
const MAX_FETCH_IN_FLIGHT = 16 * 1024 * 1024;

type Call = grpc.ClientDuplexStream<NodeMessage, HubMessage>;

/** Why this node cannot talk to a hub of protocol `hub` (null: it can). A hub before 3 sends none (0). */
export function protocolRefusal(hub: number): string | null {
  if (hub === PROTOCOL_VERSION) return null;
  return `the hub speaks protocol ${hub || 'older than 3'}, this node speaks ${PROTOCOL_VERSION}: upgrade ${hub < PROTOCOL_VERSION ? 'cortex-hub' : 'cortex-node'}`;
}

/** A fetcher for no session: every fetch fails with PeerGone (as between sessions). */
function closedFetcher(): BlockFetcher {
  const f = new BlockFetcher({ peer: 'the hub', maxBytes: MAX_FETCH_IN_FLIGHT, send: () => undefined });
  f.close();
  return f;
}

export interface HubLinkDeps {
  cfg: NodeConfig;
  store: NodeStore;
  log: Logger;
  index: IndexSender;
  reports: ReportSender;
  scans: WorkspaceScans;
  hubChanges: HubChanges;
  agents: AgentRunner;
  /** A failure of the node's own work (retries.ts DiskRetry.storeFailed). */
  storeFailed(e: Error, msg: string): void;
}

export class HubLink {
  private call: Call | null = null;
  private connected = false;
  /** cancel() was called: a session that starts after it ends at once. */
  private cancelled = false;
  /** The hub accepted the credentials once in this run. */
  private joined = false;
  /** Set when a session reached Welcome; resets the reconnect backoff. */
  private welcomed = false;
  /** The current wait for the stream to drain (see drained()). */
  private drain: { call: Call; promise: Promise<void>; release: () => void } | null = null;
  /**
   * Blocks of hub-side changes, requested from the hub (sync/block-fetcher.ts): one fetcher per
   * session, made at Welcome and closed when the session ends (a closed one fails every fetch).
   */
  private fetcher = closedFetcher();

  constructor(private readonly d: HubLinkDeps) {}

  /** A session is open past Welcome. */
  get isConnected(): boolean {
    return this.connected;
  }

  /** Whether a session reached Welcome since the last call (the reconnect backoff starts afresh). */
  takeWelcomed(): boolean {
    const w = this.welcomed;
    this.welcomed = false;
    return w;
  }

  /** Fetches a block of the hub's version of a path (rejects with BlockUnavailable, or PeerGone between sessions). */
  fetch(p: string, offset: number, size: number, hash: Buffer): Promise<Buffer> {
    return this.fetcher.fetch(p, offset, size, hash);
  }

  /** Writes now if a session is open past Welcome (no wait for the stream to drain); false when not. */
  sendNow(msg: NodeMessage): boolean {
    if (!this.call || !this.connected) return false;
    this.call.write(msg);
    return true;
  }

  /**
   * Ends the session under way and refuses every later one (stop()). A session that is still
   * fetching the hub's certificate has no stream to cancel yet: it checks this flag before it
   * opens one, or it would serve the hub on a store that stop() is closing.
   */
  cancel(): void {
    this.cancelled = true;
    this.call?.cancel();
  }

  /** One session: connects, says Hello, and serves the hub until the stream ends or fails (it always rejects). */
  async session(): Promise<void> {
    const { cfg, store } = this.d;
    const creds = await pinnedCredentials(cfg.hub, cfg.fingerprint);
    if (this.cancelled) throw Object.assign(new Error('the node is stopping'), { code: grpc.status.CANCELLED });
    const client = new NodeSyncService(cfg.hub, creds, { ...channelOptions, 'grpc.ssl_target_name_override': 'cortex-hub' }) as unknown as grpc.Client & { session(md: grpc.Metadata): Call };
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${cfg.token}`);
    const call = client.session(md);
    this.call = call;
    try {
      // A session only ends by an error or the end of the stream; run() decides what follows.
      await new Promise<void>((_resolve, reject) => {
        call.on('data', (m: HubMessage) => {
          // A hub of another protocol version: nothing it says can be trusted to mean the same.
          const refusal = m.welcome ? protocolRefusal(Number(m.welcome.protocol ?? 0)) : null;
          if (refusal) {
            call.cancel();
            reject(new FatalNodeError(refusal, 5));
            return;
          }
          this.onHubMessage(m).catch((e: Error) => this.d.storeFailed(e, 'session.error'));
        });
        call.on('error', (e) => reject(e));
        call.on('end', () => reject(Object.assign(new Error('the hub closed the stream'), { code: grpc.status.UNAVAILABLE })));
        call.write({ hello: { nodeId: cfg.nodeId, indexId: store.indexId, protocol: PROTOCOL_VERSION, version: VERSION, workspace: path.resolve(cfg.workspace) } } satisfies NodeMessage);
      });
    } finally {
      this.connected = false;
      this.call = null;
      this.drain?.release();
      this.d.index.ended();
      this.fetcher.close();
      client.close();
    }
  }

  private async onHubMessage(m: HubMessage): Promise<void> {
    const { d } = this;
    if (m.welcome) {
      this.connected = true;
      this.fetcher = new BlockFetcher({
        peer: 'the hub',
        maxBytes: MAX_FETCH_IN_FLIGHT,
        send: (requests) => { for (const msg of requestMessages(requests)) void this.write(msg).catch(() => undefined); },
      });
      if (!this.joined) {
        this.joined = true;
        d.cfg.onJoined?.();
      }
      this.welcomed = true;
      if (!d.index.welcome(m.welcome.wantFull, Number(m.welcome.ackedSeq))) {
        this.call?.cancel();
        return;
      }
      // Paused by the operator: this node's changes stay here (recorded, not sent) until resumed.
      const paused = m.welcome.paused === true;
      d.index.setPaused(paused);
      d.agents.connected();
      d.log.info('hub.connected', { hub: d.cfg.hub, ackedSeq: d.index.acked, wantFull: m.welcome.wantFull, localSeq: d.store.lastSeq, ...(paused ? { paused } : {}) });
      if (paused) d.log.warn('sync.paused', { by: 'hub', hint: 'changes flow neither way until "cortex-hub node resume"' });
      // The whole report first: the hub knows what is missing before it could call this node in-sync.
      d.reports.changed('');
      await d.reports.send();
      await d.index.sendPending();
    } else if (m.request) {
      await this.serveBlocks([m.request]);
    } else if (m.requests) {
      await this.serveBlocks(m.requests.items ?? []);
    } else if (m.ack) {
      d.index.ack(Number(m.ack.seq));
    } else if (m.refusal) {
      d.log.warn('hub.refused', { path: m.refusal.path, seq: m.refusal.seq, code: m.refusal.code, reason: m.refusal.message });
    } else if (m.hubIndex) {
      const call = this.call;
      const files = m.hubIndex.files ?? [];
      void d.scans.serial(() => this.applyHubBatch(call, files), (e) => d.storeFailed(e, 'hub.batch_failed'));
    } else if (m.agentStart) {
      d.agents.start(String(m.agentStart.id), String(m.agentStart.command), String(m.agentStart.configJson || '{}'));
    } else if (m.agentStop) {
      d.agents.stop(String(m.agentStop.id));
    } else if (m.rescan) {
      const id = Number(m.rescan.id ?? 0);
      d.log.info('rescan.requested', { by: 'hub', id });
      const call = this.call;
      void d.scans.rescanReport(['']).then((r) => {
        // The hub waits for the answer (a hub that sent no id does not).
        if (!id || call !== this.call) return;
        this.sendNow({ rescanDone: { id, ...r } });
      });
    } else if (m.pause) {
      const paused = m.pause.paused === true;
      if (paused === d.index.isPaused) return;
      d.index.setPaused(paused);
      if (paused) d.log.warn('sync.paused', { by: 'hub', hint: 'changes flow neither way until "cortex-hub node resume"' });
      else {
        d.log.info('sync.resumed', { by: 'hub', ackedSeq: d.index.acked, localSeq: d.store.lastSeq });
        await d.index.sendPending();
      }
    } else if (m.block) {
      this.onHubBlock(m.block);
    } else if (m.blocks) {
      for (const b of m.blocks.items ?? []) this.onHubBlock(b);
    }
  }

  /** Applies a batch of the hub's changes, then acknowledges it and sends what changed here. */
  private async applyHubBatch(call: Call | null, files: WireFileInfo[]): Promise<void> {
    const { d } = this;
    if (!call || call !== this.call || !this.connected || files.length === 0) return;
    const entries = files.map(fromWireEntry);
    // Small files' content sent along (protocol 3): checked against the entry before any use.
    const inline = new Map<Entry, Buffer>();
    files.forEach((f, i) => { if (f.content && f.content.length > 0) inline.set(entries[i]!, Buffer.from(f.content)); });
    const last = entries.reduce((m, e) => Math.max(m, Number.isSafeInteger(e.seq) ? e.seq : 0), 0);
    let r: BatchResult;
    try {
      r = await d.hubChanges.apply(entries, inline);
      d.scans.wrote(entries.map((e) => e.path));
      const { problems, ...counts } = r;
      d.log.info('hub.changes', { entries: entries.length, ...counts, throughSeq: last, ...(problems.length ? { problems: problems.slice(0, 5) } : {}) });
    } catch (e) {
      if (e instanceof PeerGone) return;
      throw e;
    }
    if (call !== this.call) return;
    // Refused and failed entries are named: the hub keeps them as problems and sends them again.
    const failed = r.problems.map((f) => ({ ...f, path: clip(f.path), message: clip(f.message) }));
    await this.write({ hubAck: { seq: last, failed } }).catch(() => undefined);
    void d.index.sendPending();
  }

  private onHubBlock(b: BlockResponse): void {
    const id = Number(b.id);
    if (!this.fetcher.onResponse(id, b.error ? Buffer.alloc(0) : Buffer.from(b.data), b.error)) {
      this.d.log.warn('hub.protocol', { reason: `block response ${id} answers no request` });
    }
  }

  /** Writes to the hub, waiting while the stream is full; rejects when no session is open past Welcome. */
  async write(msg: NodeMessage): Promise<void> {
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

  /** Answers a batch of block requests in as few messages as the size limit allows. */
  private async serveBlocks(requests: BlockRequest[]): Promise<void> {
    // Directories checked once per message's worth of requests (serve-block.ts).
    let dirsChecked = new Set<string>();
    for (const msg of responseMessages(requests, (r) => this.readBlock(r, dirsChecked))) {
      await this.write(msg).catch(() => undefined);
      dirsChecked = new Set();
    }
  }

  /** Reads one requested block from the workspace, or says why not (serve-block.ts). */
  private readBlock(r: BlockRequest, dirsChecked: Set<string>): BlockResponse {
    const { res, changed } = serveBlock(this.d.cfg.workspace, r, (p) => this.d.store.get(p), dirsChecked);
    if (changed) this.d.scans.markDirty(r.path);
    return res;
  }
}
