/**
 * A hand-written node-protocol client for hostile-input tests: it speaks the real protocol
 * (TLS pinned by fingerprint, `authorization: Bearer` metadata, Hello first) but sends whatever
 * the test tells it to, including messages a real node never would. It loads the protocol
 * straight from the .proto file and shares no code with the real node client.
 */
import crypto, { X509Certificate } from 'node:crypto';
import path from 'node:path';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ROOT } from './procs';
import { PROTOCOL_VERSION } from '../../main/sync/wire';

export { PROTOCOL_VERSION };

export const BLOCK = 128 * 1024;

// Same loader options as the hub, so the decoded shapes match what it sees.
const def = protoLoader.loadSync(path.join(ROOT, 'main', 'proto', 'cortex.proto'), {
  keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true,
});
const NodeSync = (grpc.loadPackageDefinition(def) as unknown as {
  cortex: { v1: { NodeSync: grpc.ServiceClientConstructor } };
}).cortex.v1.NodeSync;

export interface WireFile {
  path: string;
  /** A name, or a raw enum number to send values the schema does not know. */
  type: 'FILE' | 'DIR' | 'SYMLINK' | number;
  size: number;
  mtimeMs: number;
  mode: number;
  hash: Buffer;
  blockSize: number;
  blocks: Buffer;
  target: string;
  deleted: boolean;
  seq: number;
}

export interface OutMessage {
  hello?: { nodeId: string; indexId: string; protocol: number; version: string; workspace?: string };
  index?: { files: WireFile[] };
  done?: { seq: number; full: boolean };
  block?: { id: number; data: Buffer; error: string };
  ping?: { t: number };
}

export interface Refusal { path: string; seq: number; code: string; message: string }
export interface BlockRequest { id: number; path: string; offset: number; size: number; hash: Buffer }

export interface InMessage {
  msg?: 'welcome' | 'request' | 'ack' | 'refusal' | 'pong';
  welcome?: { ackedSeq: number; wantFull: boolean; hubVersion: string };
  request?: BlockRequest;
  requests?: { items: BlockRequest[] };
  ack?: { seq: number };
  refusal?: Refusal;
  pong?: { t: number };
}

// ---- entries -------------------------------------------------------------------------------

export function sha256(b: Uint8Array): Buffer {
  return crypto.createHash('sha256').update(b).digest();
}

/** Block hash list of some content, cut like the real node cuts it. */
export function blockList(content: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let off = 0; off < content.length; off += BLOCK) parts.push(sha256(content.subarray(off, off + BLOCK)));
  return Buffer.concat(parts);
}

/** A self-consistent file entry for `content` (so only what the test breaks is wrong). */
export function fileEntry(p: string, content: Buffer, seq: number, over: Partial<WireFile> = {}): WireFile {
  const blocks = blockList(content);
  return {
    path: p, type: 'FILE', size: content.length, mtimeMs: 1_700_000_000_000, mode: 0o644, hash: sha256(blocks),
    blockSize: BLOCK, blocks, target: '', deleted: false, seq, ...over,
  };
}

export function dirEntry(p: string, seq: number, over: Partial<WireFile> = {}): WireFile {
  return {
    path: p, type: 'DIR', size: 0, mtimeMs: 1_700_000_000_000, mode: 0o755, hash: Buffer.alloc(0),
    blockSize: 0, blocks: Buffer.alloc(0), target: '', deleted: false, seq, ...over,
  };
}

export function symlinkEntry(p: string, target: string, seq: number, over: Partial<WireFile> = {}): WireFile {
  return {
    path: p, type: 'SYMLINK', size: 0, mtimeMs: 1_700_000_000_000, mode: 0o777, hash: sha256(Buffer.from(target, 'utf8')),
    blockSize: 0, blocks: Buffer.alloc(0), target, deleted: false, seq, ...over,
  };
}

export function deletedEntry(p: string, seq: number): WireFile {
  return { ...dirEntry(p, seq), type: 'FILE', deleted: true };
}

// ---- connection ----------------------------------------------------------------------------

/** Fetches the hub's certificate and refuses anything whose SHA-256 is not the pinned one. */
export async function pinnedCert(hostPort: string, fingerprint: string): Promise<string> {
  const i = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, i);
  const port = Number(hostPort.slice(i + 1));
  const cert = await new Promise<X509Certificate>((resolve, reject) => {
    const sock = tls.connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'], servername: 'cortex-hub' }, () => {
      const raw = sock.getPeerCertificate(true)?.raw;
      sock.destroy();
      if (raw) resolve(new X509Certificate(raw));
      else reject(new Error('no certificate'));
    });
    sock.setTimeout(10_000, () => sock.destroy(new Error('TLS handshake timed out')));
    sock.on('error', reject);
  });
  if (cert.fingerprint256 !== fingerprint) throw new Error(`hub certificate ${cert.fingerprint256} is not the pinned ${fingerprint}`);
  return cert.toString();
}

export interface ConnectOptions {
  hub: string;
  fingerprint: string;
  /** Bearer token; null sends no authorization metadata at all. */
  token: string | null;
}

type Call = grpc.ClientDuplexStream<OutMessage, InMessage>;

/**
 * One hostile stream. Every message the hub sends is kept in `received`; the stream's end is
 * kept in `closed` (the gRPC status, OK when the hub ended it cleanly).
 */
export class HostileSession {
  readonly received: InMessage[] = [];
  /** Final status of the stream, once it is over. */
  closed: { code: grpc.status; details: string } | null = null;
  private waiters = new Set<() => void>();
  private readonly served = new Map<string, Buffer>();
  private readonly answered = new Set<number>();
  /** Paths this session sent in its index (requests for others are answered "gone"). */
  private readonly sent = new Set<string>();

  private constructor(private readonly client: grpc.Client, private readonly call: Call) {
    call.on('data', (m: InMessage) => {
      // A batch of requests is recorded as the single requests it stands for.
      const split = m.requests ? m.requests.items.map((request) => ({ msg: 'request' as const, request })) : [m];
      for (const one of split) {
        this.received.push(one);
        if (one.request) this.serveOne(one.request);
      }
      this.wake();
    });
    call.on('error', (e: grpc.ServiceError) => {
      this.closed ??= { code: e.code, details: e.details };
      this.wake();
    });
    call.on('status', (s: grpc.StatusObject) => {
      this.closed ??= { code: s.code, details: s.details };
      this.wake();
    });
  }

  /**
   * Opens a stream. `maxSendBytes` lifts the client's own send limit so that oversized
   * messages actually reach the hub (the hub's limit is what is under test).
   */
  static async open(o: ConnectOptions, maxSendBytes = 64 * 1024 * 1024): Promise<HostileSession> {
    const pem = await pinnedCert(o.hub, o.fingerprint);
    const creds = grpc.credentials.createSsl(Buffer.from(pem), null, null, {
      checkServerIdentity: (_h, cert) => (cert.fingerprint256 === o.fingerprint ? undefined : new Error('certificate does not match the pin')),
    });
    const client = new NodeSync(o.hub, creds, {
      'grpc.ssl_target_name_override': 'cortex-hub',
      'grpc.max_send_message_length': maxSendBytes,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      // A connection of its own: a stream the hub kills must not take other sessions with it.
      'grpc.use_local_subchannel_pool': 1,
    });
    const md = new grpc.Metadata();
    if (o.token !== null) md.set('authorization', `Bearer ${o.token}`);
    const call = (client as unknown as { session(md: grpc.Metadata): Call }).session(md);
    return new HostileSession(client, call);
  }

  /** Opens a stream, says Hello as `nodeId`, and waits for Welcome. */
  static async join(o: ConnectOptions, nodeId: string, indexId = crypto.randomUUID()): Promise<HostileSession> {
    const s = await HostileSession.open(o);
    s.send({ hello: { nodeId, indexId, protocol: PROTOCOL_VERSION, version: 'hostile-test' } });
    await s.next('Welcome', (m) => m.welcome);
    return s;
  }

  send(m: OutMessage): void {
    for (const f of (m as { index?: { files?: { path?: unknown }[] } }).index?.files ?? []) if (typeof f?.path === 'string') this.sent.add(f.path);
    if (!this.closed) this.call.write(m);
  }

  refusals(): Refusal[] {
    return this.received.flatMap((m) => (m.refusal ? [m.refusal] : []));
  }

  requests(): BlockRequest[] {
    return this.received.flatMap((m) => (m.request ? [m.request] : []));
  }

  /** Position in `received`: pass to `next` to consider only later messages. */
  mark(): number {
    return this.received.length;
  }

  /**
   * Waits until `pick` returns something for a received message (already received ones
   * count, from index `from` on). Fails when the stream ends first or after `timeoutMs`.
   */
  next<T>(what: string, pick: (m: InMessage) => T | undefined | null | false, timeoutMs = 30_000, from = 0): Promise<T> {
    return this.until(what, () => {
      for (let i = from; i < this.received.length; i++) {
        const v = pick(this.received[i]!);
        if (v !== undefined && v !== null && v !== false) return v;
      }
      if (this.closed) throw new Error(`stream ended (${grpc.status[this.closed.code]}: ${this.closed.details}) before ${what}`);
      return undefined;
    }, timeoutMs);
  }

  /** Waits for the refusal of path `p`. */
  refusalOf(p: string, timeoutMs = 30_000, from = 0): Promise<Refusal> {
    return this.next(`a refusal of ${JSON.stringify(p)}`, (m) => (m.refusal && m.refusal.path === p ? m.refusal : undefined), timeoutMs, from);
  }

  /** Waits for the refusal of the entry with sequence number `seq`. */
  refusalOfSeq(seq: number, timeoutMs = 30_000): Promise<Refusal> {
    return this.next(`the refusal of seq ${seq}`, (m) => (m.refusal && Number(m.refusal.seq) === seq ? m.refusal : undefined), timeoutMs);
  }

  /**
   * Waits for what became of the entry with sequence number `seq`: its refusal, or an
   * acknowledgement through `seq` without one (the hub applied it).
   */
  outcome(seq: number, timeoutMs = 30_000): Promise<{ refusal?: Refusal; acked?: number }> {
    return this.next(`the refusal or acknowledgement of seq ${seq}`, (m) => {
      if (m.refusal && Number(m.refusal.seq) === seq) return { refusal: m.refusal };
      if (m.ack && Number(m.ack.seq) >= seq) return { acked: Number(m.ack.seq) };
      return undefined;
    }, timeoutMs);
  }

  /** Waits for a block request for `p` at `offset`. */
  requestFor(p: string, offset: number, from = 0, timeoutMs = 30_000): Promise<BlockRequest> {
    return this.next(`a block request for ${p}@${offset}`, (m) => (m.request && m.request.path === p && Number(m.request.offset) === offset ? m.request : undefined), timeoutMs, from);
  }

  /** Waits for an acknowledgement through `seq`. */
  ackThrough(seq: number, timeoutMs = 30_000): Promise<number> {
    return this.next(`an ack through ${seq}`, (m) => (m.ack && Number(m.ack.seq) >= seq ? Number(m.ack.seq) : undefined), timeoutMs);
  }

  /** Waits for the stream to end; resolves with its status. */
  ended(timeoutMs = 30_000): Promise<{ code: grpc.status; details: string }> {
    return this.until('the stream to end', () => this.closed ?? undefined, timeoutMs);
  }

  /** Answers a block request. */
  answer(r: BlockRequest, data: Buffer, error = ''): void {
    this.send({ block: { id: Number(r.id), data, error } });
  }

  /**
   * Answers, honestly, every block request (past and future) for these paths with the bytes
   * of their content; requests for other paths are left to the test.
   */
  serve(files: Record<string, Buffer>): void {
    for (const [p, content] of Object.entries(files)) this.served.set(p, content);
    for (const r of this.requests()) this.serveOne(r);
  }

  /** Stops answering requests for these paths. */
  stopServing(...paths: string[]): void {
    for (const p of paths) this.served.delete(p);
  }

  private serveOne(r: BlockRequest): void {
    const key = Number(r.id);
    if (!this.sent.has(r.path) && !this.answered.has(key)) {
      // The hub retries changes an earlier session of this node sent (and it failed to apply):
      // this session has no such file, and says so, as an honest node would.
      this.answered.add(key);
      this.answer(r, Buffer.alloc(0), 'gone');
      return;
    }
    const content = this.served.get(r.path);
    if (!content || this.answered.has(key)) return;
    this.answered.add(key);
    const offset = Number(r.offset);
    this.answer(r, content.subarray(offset, offset + Number(r.size)));
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const attempt = () => {
        let v: T | undefined;
        try {
          v = check();
        } catch (e) {
          done();
          reject(e);
          return;
        }
        if (v !== undefined) {
          done();
          resolve(v);
        }
      };
      const done = () => {
        this.waiters.delete(attempt);
        if (timer) clearTimeout(timer);
      };
      this.waiters.add(attempt);
      timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received ${JSON.stringify(this.received.map(summary))}`));
      }, timeoutMs);
      attempt();
    });
  }
}

function summary(m: InMessage): unknown {
  if (m.request) return { request: { id: m.request.id, path: m.request.path, offset: m.request.offset, size: m.request.size } };
  if (m.refusal) return { refusal: m.refusal };
  return m;
}
