/**
 * The gRPC node server: binds (TLS, HTTP/2 flow control), accepts a node's stream (Hello within
 * HELLO_TIMEOUT_MS, token check, the mirror made ready), starts its NodeSession, routes the
 * node's messages to it, and ends it (a newer connection with the same credentials supersedes
 * it). It also notes when a session first reaches in-sync (sync.complete).
 */
import fs from 'node:fs';
import os from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { AgentService } from '../agents/agent-service';
import type { HubStore } from '../store/hub-store';
import type { FsPool } from '../sync/fs-pool';
import { mirrorMode, type MirrorModes } from '../sync/modes';
import { MAX_MESSAGE_BYTES, PROTOCOL_VERSION, SUPERSEDED, TRANSPORT_MAX_BYTES, channelOptions, hubServiceDefinition, type HubMessage, type NodeMessage, type Oversized } from '../sync/wire';
import { connectionFactsOf } from './connection-facts';
import { clip } from '../util/text';
import type { Logger } from '../util/log';
import { VERSION } from '../util/version';
import { raiseServerFlowControlWindow } from './http2-window';
import type { NodeReports } from './node-reports';
import type { NodeRuntime, NodeRuntimes } from './node-runtime';
import type { RescanWaits } from './rescans';
import { SUPERSEDE_WINDOW_MS, settled, type StatusBoard } from './node-status';
import { NodeSession, type Duplex } from './session';
import { FlushGroup } from './session-flush';
import type { HubIdentity } from './tls';
import { PortInUse, isAddressInUse, portOf } from '../util/port-in-use';

const HELLO_TIMEOUT_MS = 10_000;
const DEFAULT_GRPC_PORT = 7443;
/** HTTP/2 receive window of the node server (per stream and per connection). */
const FLOW_CONTROL_WINDOW = 8 * 1024 * 1024;

export interface NodeServerDeps {
  identity: HubIdentity;
  store: HubStore;
  log: Logger;
  runtimes: NodeRuntimes;
  status: StatusBoard;
  /** The workers that commit what sessions receive. */
  commitPool: FsPool;
  agents: AgentService;
  reports: NodeReports;
  /** The operator's rescans waiting for the nodes' answers (rescans.ts). */
  rescans: RescanWaits;
  /** Address join strings carry (host[:port]), if the operator gave one. */
  advertise: string | undefined;
  mirrorOf(id: string): string;
  stagingOf(id: string): string;
  /** The mirror mode setting (read per file written). */
  modes(): MirrorModes;
  /** The hub is closing. */
  closed(): boolean;
}

export class NodeServer {
  private server: grpc.Server | null = null;
  /** host:port actually bound, once listening. */
  address: string | null = null;
  private lastSeenWrite = 0;
  private readonly store: HubStore;
  private readonly log: Logger;
  private readonly commitPool: FsPool;
  /** The sessions' flushes of one turn share a transaction. */
  private readonly flushGroup: FlushGroup;

  constructor(private readonly deps: NodeServerDeps) {
    this.store = deps.store;
    this.log = deps.log;
    this.commitPool = deps.commitPool;
    this.flushGroup = new FlushGroup(deps.store);
  }

  /** Binds the node server (TLS with the hub's identity); returns host:port bound. */
  async listen(hostPort: string): Promise<string> {
    raiseServerFlowControlWindow(FLOW_CONTROL_WINDOW);
    const server = new grpc.Server({ ...channelOptions, 'grpc.max_receive_message_length': TRANSPORT_MAX_BYTES, 'grpc.max_concurrent_streams': 4 });
    server.addService(hubServiceDefinition(), { session: (call: Duplex) => this.acceptSession(call) });
    const { identity } = this.deps;
    const creds = grpc.ServerCredentials.createSsl(null, [{ cert_chain: identity.cert, private_key: identity.key }], false);
    // gRPC's own logger writes to stderr ("E No address added…", said better below): its lines go to the hub's log file instead.
    grpc.setLogger({ error: (...args: unknown[]) => this.log.info('grpc.log', { message: args.map(String).join(' ') }) } as Partial<Console>);
    let port: number;
    try {
      port = await new Promise<number>((resolve, reject) => server.bindAsync(hostPort, creds, (err, p) => (err ? reject(err) : resolve(p))));
    } catch (e) {
      throw isAddressInUse(e) ? new PortInUse('node', hostPort, portOf(hostPort), '--grpc') : e;
    }
    this.server = server;
    const host = hostPort.slice(0, hostPort.lastIndexOf(':'));
    this.address = `${host}:${port}`;
    return this.address;
  }

  /** host:port that join strings carry. */
  advertised(): string {
    const bound = this.address;
    const port = bound ? bound.slice(bound.lastIndexOf(':') + 1) : String(DEFAULT_GRPC_PORT);
    const advertise = this.deps.advertise;
    if (advertise) return advertise.includes(':') ? advertise : `${advertise}:${port}`;
    if (!bound) return this.store.getMeta('advertise') ?? `${os.hostname()}:${port}`;
    const host = bound.slice(0, bound.lastIndexOf(':'));
    if (host === '0.0.0.0' || host === '[::]' || host === '::') {
      const ip = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
      return `${ip?.address ?? os.hostname()}:${port}`;
    }
    return `${host}:${port}`;
  }

  /** Ends every session, telling the nodes (so the server can shut down at once), and waits for them to drain. */
  async endSessions(): Promise<void> {
    const sessions = [...this.deps.runtimes.all()].map((rt) => rt.session).filter((x): x is NodeSession => x !== null);
    for (const s of sessions) {
      s.close();
      // Tell the nodes, so the server can shut down at once instead of waiting for their streams.
      s.end(grpc.status.UNAVAILABLE, 'the hub is shutting down; reconnect later');
    }
    await Promise.all(sessions.map((s) => s.drain()));
  }

  /** Stops the server: gracefully, or after 2 s at once. */
  async shutdown(): Promise<void> {
    if (!this.server) return;
    const server = this.server;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { server.forceShutdown(); resolve(); }, 2000);
      server.tryShutdown(() => { clearTimeout(t); resolve(); });
    });
  }

  private mirrorOf(id: string): string {
    return this.deps.mirrorOf(id);
  }

  private stagingOf(id: string): string {
    return this.deps.stagingOf(id);
  }

  /** Something shown changed: for one node, or (no id) for any. */
  private changed(nodeId?: string): void {
    this.deps.status.changed(nodeId);
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
      if (hello.protocol !== PROTOCOL_VERSION) return fail(grpc.status.FAILED_PRECONDITION, `protocol ${hello.protocol} not supported (hub speaks ${PROTOCOL_VERSION}); upgrade ${hello.protocol < PROTOCOL_VERSION ? 'cortex-node' : 'cortex-hub'}`);
      const verdict = typeof hello.nodeId === 'string' && hello.nodeId.length <= 64 ? this.store.verifyToken(hello.nodeId, secret) : 'unknown';
      if (verdict === 'retired') return fail(grpc.status.PERMISSION_DENIED, `node ${hello.nodeId} has been retired; its token is revoked`, { node: hello.nodeId });
      if (verdict !== 'ok') return fail(grpc.status.UNAUTHENTICATED, 'unknown node or wrong token', { node: hello.nodeId });
      const id = hello.nodeId;
      nodeId = id;
      const rt = this.deps.runtimes.of(id);
      const mirror = rt.mirror;
      await mirror.ready;
      if (call.cancelled || this.deps.closed()) return;
      if (rt.session) this.supersede(id, rt, rt.session, peer);
      const rec = this.store.node(id)!;
      const wantFull = rec.indexId !== hello.indexId || rec.ackedSeq === 0;
      fs.mkdirSync(this.mirrorOf(id), { recursive: true, mode: 0o755 });
      await mirror.startWatching();
      if (call.cancelled || this.deps.closed()) return;
      // A different index on the node (reinstalled, or its database renewed): what it agreed
      // on before cannot be trusted, so nothing is taken for a deletion; both sides keep all.
      if (rec.indexId !== null && rec.indexId !== hello.indexId) {
        this.store.ancestors.clear(id);
        this.log.warn('node.new_index', { node: id, previous: rec.indexId, now: hello.indexId });
      }
      const s: NodeSession = new NodeSession({
        nodeId: id, call, peer, store: this.store, mirrorRoot: this.mirrorOf(id), stagingDir: this.stagingOf(id), pool: this.commitPool, flushGroup: this.flushGroup,
        log: this.log.child('session', { node: id }), failures: rt.failures, onChange: () => this.sessionChanged(id, s), indexId: hello.indexId, wantFull,
        lock: { lockOf: (p) => mirror.lock.lockOf(p), get globs() { return mirror.lock.globs; }, refused: mirror.lockRefused }, partials: rt.partials, intents: mirror.intents,
        hooks: {
          // The session asks after a failed commit of these paths: they are not its own writes.
          rescan: (paths) => mirror.scan(paths, true),
          written: (paths) => mirror.written(paths),
          caseInsensitive: mirror.ignoresCase(),
          diskMode: (mode) => mirrorMode(mode, this.deps.modes()),
        },
        // Read now: from here to `rt.session = s` nothing else runs, so a pause cannot slip between.
        paused: this.store.node(id)!.pausedAt !== null,
      });
      session = s;
      rt.session = s;
      rt.reachedInSync = false;
      // What the node says of itself (version, workspace) is checked, kept for its detail, and
      // left out (logged) when it is not short printable text.
      const { facts, refused } = connectionFactsOf(peer, hello, Date.now());
      if (Object.keys(refused).length) this.log.warn('input.rejected', { node: id, peer, code: 'BAD_HELLO_FIELD', reason: 'a field of the Hello is not kept', fields: refused });
      this.store.recordConnection(id, facts);
      this.store.events.add(id, 'node.connected', { peer, version: facts.version, fullIndex: wantFull });
      s.send({ welcome: { ackedSeq: s.ackedSeq, wantFull, hubVersion: VERSION, protocol: PROTOCOL_VERSION, paused: s.isPaused } });
      s.sendHubChanges();
      this.log.info('node.connected', { node: id, peer, ackedSeq: s.ackedSeq, wantFull, version: facts.version, workspace: facts.workspace, ...(s.isPaused ? { paused: true } : {}) });
      this.changed(id);
      for (const m of early.splice(0)) this.onMessage(s, m);
      call.resume();
      this.deps.agents.nodeConnected(id);
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
      this.deps.rescans.ended(session);
      const rt = this.deps.runtimes.get(session.nodeId);
      if (rt?.session === session) rt.session = null;
      this.store.markSeen(session.nodeId);
      this.log.info('node.disconnected', { node: session.nodeId, reason: why });
      this.deps.agents.nodeDisconnected(session.nodeId);
      this.store.events.add(session.nodeId, 'node.disconnected', { reason: clip(why) });
      this.changed(session.nodeId);
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
    this.store.events.add(id, 'node.superseded', { replaced: old.peer, by: peer });
    old.close();
    this.deps.rescans.ended(old);
    old.end(grpc.status.ABORTED, `${SUPERSEDED}: another connection with this node's credentials (from ${peer}) replaced this one (from ${old.peer}); if two cortex-node processes use the same credentials, stop one`);
    this.changed(id);
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
        const problem = this.deps.agents.nodeReported(s.nodeId, m.agentState);
        if (problem) s.refuse('', 0, 'BAD_AGENT_STATE', problem);
      } else if (m.report) {
        const problem = this.deps.reports.apply(s.nodeId, m.report);
        if (problem) s.refuse('', 0, 'BAD_REPORT', problem);
        this.changed(s.nodeId);
      } else if (m.rescanDone) {
        const problem = this.deps.rescans.answered(s, m.rescanDone);
        if (problem) s.refuse('', 0, 'BAD_RESCAN', problem);
      } else if (m.held) {
        const problem = s.onHeld(m.held);
        if (problem) s.refuse('', 0, 'BAD_HELD', problem);
        this.changed(s.nodeId);
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

  /** A session applied something (or its mirror was swept): record the moment it first reaches in-sync. */
  sessionChanged(id: string, s: NodeSession): void {
    this.changed(id);
    const rt = this.deps.runtimes.get(id);
    if (!rt || rt.session !== s) return;
    // Quiet now: the sweep that in-sync waits for runs at once, not at the next tick.
    if (s.inSync) rt.mirror.sweepIfActive();
    if (rt.reachedInSync || !settled(rt.mirror, s) || this.deps.reports.counts(id).problems > 0) return;
    rt.reachedInSync = true;
    const totals = this.deps.status.totals(id);
    const fields = { files: totals.files, bytes: totals.bytes, bytesReceived: s.counters.bytesReceived, bytesReused: s.counters.bytesReused, ms: Date.now() - s.connectedAt };
    this.log.info('sync.complete', { node: id, ...fields });
    this.store.events.add(id, 'sync.complete', fields);
  }
}
