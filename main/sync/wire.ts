/** The node protocol's generated service and the Entry ↔ FileInfo mapping, shared by hub and node. */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Entry, EntryType } from './types';

/**
 * 3: FileInfo.weak (weak hashes per block, for shifted content) and Welcome.protocol; each side
 * refuses a peer that speaks another version (node-server.ts, hub-link.ts).
 */
export const PROTOCOL_VERSION = 3;
/** Largest message either side accepts: a full index batch or one block plus framing. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
export const INDEX_BATCH_ENTRIES = 1000;
/** At most this many block requests travel in one BlockRequests message. */
export const REQUEST_BATCH = 256;
/** A BlockResponses message is closed before its data passes this size (so the hub verifies
 * at most this much per message: bigger batches showed as event-loop lag). */
export const RESPONSE_BATCH_BYTES = 256 * 1024;
/**
 * Flow control for the index: a node sends at most this many sequence numbers beyond what the
 * hub has acknowledged, so the hub's queue (and memory) stays bounded however big the tree.
 * Every one of them is an entry object alive on the hub (waiting to be judged, or queued):
 * at 20,000, a node → hub sync of small files held ~34k entries there (~40 MiB of the hub's
 * live heap, bench/README.md "Memory: what sets the hub's peak"); the hub applies at most 512
 * files at once and acknowledges every flush (≤ 512 writes or 50 ms), so a few thousand keep
 * it busy. CORTEX_INDEX_WINDOW overrides it (tests use a small window to exercise the waiting).
 */
export const INDEX_WINDOW = Number(process.env.CORTEX_INDEX_WINDOW) > 0 ? Number(process.env.CORTEX_INDEX_WINDOW) : 5_000;

const def = protoLoader.loadSync(path.join(__dirname, '..', 'proto', 'cortex.proto'), {
  keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true,
});
const pkg = grpc.loadPackageDefinition(def) as unknown as {
  cortex: { v1: { NodeSync: grpc.ServiceClientConstructor & { service: grpc.ServiceDefinition } } };
};
export const NodeSyncService = pkg.cortex.v1.NodeSync;

/** FileInfo as proto-loader hands it over: an Entry whose type is the proto enum's name. */
export type WireFileInfo = Omit<Entry, 'type'> & { type: 'FILE' | 'DIR' | 'SYMLINK'; fromHubSeq?: number; seenSeq?: number; content?: Buffer };

/** Starts the details of the status that ends a node's stream when another connection of the same node replaced it. */
export const SUPERSEDED = 'SUPERSEDED';

/** The code of a hub change the node did not apply yet for a reason that is no problem (see HubAck.failed). */
export const DEFERRED = 'DEFERRED';

export interface NodeMessage {
  msg?: 'hello' | 'index' | 'done' | 'block' | 'ping' | 'blocks' | 'request' | 'requests' | 'hubAck' | 'agentState' | 'report' | 'rescanDone' | 'held';
  hello?: { nodeId: string; indexId: string; protocol: number; version: string; workspace?: string };
  index?: { files: WireFileInfo[] };
  done?: { seq: number; full: boolean };
  block?: BlockResponse;
  blocks?: { items: BlockResponse[] };
  ping?: { t: number };
  request?: BlockRequest;
  requests?: { items: BlockRequest[] };
  hubAck?: { seq: number; failed?: RefusalMsg[] };
  agentState?: AgentStateMsg;
  report?: PathReportMsg;
  rescanDone?: RescanDoneMsg;
  held?: HeldMsg;
}

/** What a paused node holds back (cortex.proto Held). */
export interface HeldMsg {
  changes: number;
  bytes: number;
  /** `changes` stopped counting at its cap (node-store.ts: HELD_COUNT_MAX). */
  capped: boolean;
}

/** What a rescan the hub asked for found on the node (cortex.proto RescanDone). */
export interface RescanDoneMsg {
  id: number;
  scanned: number;
  changed: number;
  deleted: number;
  hashedFiles: number;
  hashedBytes: number;
  problems: number;
  ms: number;
  error: string;
}

/** Paths the node cannot send and paths it ignores (cortex.proto PathReport for the semantics). */
export interface PathReportMsg {
  clear: string[];
  problems: { path: string; code: string; reason: string }[];
  ignored: { path: string; kind: string }[];
}

/** A report message stays well under MAX_MESSAGE_BYTES (paths may be 4 KiB each). */
export const REPORT_MESSAGE_BYTES = 1024 * 1024;
export const REPORT_MESSAGE_ITEMS = 1000;

/**
 * A report as messages: the first clears the subtrees, the rest only add. Always at least one
 * message (a report with nothing in it is what clears problems that went away).
 */
export function reportMessages(clear: string[], problems: PathReportMsg['problems'], ignored: PathReportMsg['ignored']): PathReportMsg[] {
  const out: PathReportMsg[] = [{ clear, problems: [], ignored: [] }];
  let bytes = 0;
  const room = (size: number) => {
    const last = out[out.length - 1]!;
    if (last.problems.length + last.ignored.length >= REPORT_MESSAGE_ITEMS || bytes + size > REPORT_MESSAGE_BYTES) {
      out.push({ clear: [], problems: [], ignored: [] });
      bytes = 0;
    }
    bytes += size;
    return out[out.length - 1]!;
  };
  for (const p of problems) room(Buffer.byteLength(p.path) + Buffer.byteLength(p.reason) + p.code.length + 16).problems.push(p);
  for (const i of ignored) room(Buffer.byteLength(i.path) + i.kind.length + 16).ignored.push(i);
  return out;
}

export interface RefusalMsg {
  path: string;
  seq: number;
  code: string;
  message: string;
}

export interface AgentStateMsg {
  id: string;
  state: string;
  hasExitCode: boolean;
  exitCode: number;
  signal: string;
  error: string;
  /** The output's tail, with a final state (cortex.proto AgentState; absent from older nodes). */
  hasOutput?: boolean;
  stdoutTail?: Buffer;
  stderrTail?: Buffer;
  stdoutBytes?: number;
  stderrBytes?: number;
}

export interface BlockRequest {
  id: number;
  path: string;
  offset: number;
  size: number;
  hash: Buffer;
}

export interface BlockResponse {
  id: number;
  data: Buffer;
  error: string;
}

/** Block requests in as few messages as REQUEST_BATCH allows (one alone goes as `request`). */
export function requestMessages(items: BlockRequest[]): ({ request: BlockRequest } | { requests: { items: BlockRequest[] } })[] {
  const out: ({ request: BlockRequest } | { requests: { items: BlockRequest[] } })[] = [];
  for (let i = 0; i < items.length; i += REQUEST_BATCH) {
    const batch = items.slice(i, i + REQUEST_BATCH);
    out.push(batch.length === 1 ? { request: batch[0]! } : { requests: { items: batch } });
  }
  return out;
}

/**
 * The answers to block requests in as few messages as RESPONSE_BATCH_BYTES allows. Each block
 * is read (`serve`) only when the messages before it have been taken, so at most one message's
 * worth of data is held at a time.
 */
export function* responseMessages(requests: BlockRequest[], serve: (r: BlockRequest) => BlockResponse): Generator<{ block: BlockResponse } | { blocks: { items: BlockResponse[] } }> {
  let batch: BlockResponse[] = [];
  let bytes = 0;
  const message = () => (batch.length === 1 ? { block: batch[0]! } : { blocks: { items: batch } });
  for (const r of requests) {
    const res = serve(r);
    if (batch.length > 0 && bytes + res.data.length > RESPONSE_BATCH_BYTES) {
      yield message();
      batch = [];
      bytes = 0;
    }
    batch.push(res);
    bytes += res.data.length;
  }
  if (batch.length > 0) yield message();
}

export interface HubMessage {
  msg?: 'welcome' | 'request' | 'requests' | 'ack' | 'refusal' | 'pong' | 'hubIndex' | 'block' | 'blocks' | 'agentStart' | 'agentStop' | 'rescan' | 'pause';
  rescan?: { id?: number };
  /** The operator paused (or resumed) this node's sync (cortex.proto SyncPause). */
  pause?: { paused: boolean };
  agentStart?: { id: string; command: string; configJson: string };
  agentStop?: { id: string };
  welcome?: { ackedSeq: number; wantFull: boolean; hubVersion: string; protocol: number; paused?: boolean };
  hubIndex?: { files: WireFileInfo[] };
  block?: BlockResponse;
  blocks?: { items: BlockResponse[] };
  request?: BlockRequest;
  requests?: { items: BlockRequest[] };
  ack?: { seq: number };
  refusal?: RefusalMsg;
  pong?: { t: number };
}

const TO_WIRE: Record<EntryType, WireFileInfo['type']> = { file: 'FILE', dir: 'DIR', symlink: 'SYMLINK' };
const FROM_WIRE: Record<string, EntryType> = { FILE: 'file', DIR: 'dir', SYMLINK: 'symlink' };

export function toWireEntry(e: Entry): WireFileInfo {
  return {
    path: e.path, type: TO_WIRE[e.type], size: e.size, mtimeMs: e.mtimeMs, mode: e.mode, hash: e.hash,
    blockSize: e.blockSize, blocks: e.blocks, weak: e.weak ?? Buffer.alloc(0), target: e.target, deleted: e.deleted, seq: e.seq,
    fromHubSeq: e.fromHubSeq ?? 0, seenSeq: e.seenSeq ?? 0,
  };
}

/** Wire → entry. Unknown enum values become an invalid type that validation refuses. */
export function fromWireEntry(w: WireFileInfo): Entry {
  return {
    path: String(w.path ?? ''), type: FROM_WIRE[w.type] ?? ('invalid' as EntryType), size: Number(w.size ?? 0),
    mtimeMs: Number(w.mtimeMs ?? 0), mode: Number(w.mode ?? 0), hash: Buffer.from(w.hash ?? []),
    blockSize: Number(w.blockSize ?? 0), blocks: Buffer.from(w.blocks ?? []), weak: Buffer.from(w.weak ?? []), target: String(w.target ?? ''),
    deleted: Boolean(w.deleted), seq: Number(w.seq ?? 0), fromHubSeq: Number(w.fromHubSeq ?? 0), seenSeq: Number(w.seenSeq ?? 0),
  };
}

/**
 * Transport-level ceiling on the hub: gRPC itself refuses anything bigger (the sender sees
 * RESOURCE_EXHAUSTED). Between MAX_MESSAGE_BYTES and this ceiling the hub's own check refuses
 * the message with a clear error, in the log too.
 */
export const TRANSPORT_MAX_BYTES = 4 * MAX_MESSAGE_BYTES;

/** Marker the hub's deserializer returns for a message larger than MAX_MESSAGE_BYTES. */
export interface Oversized {
  oversized: number;
}

/** The NodeSync service definition with a size check in front of the request deserializer. */
export function hubServiceDefinition(): grpc.ServiceDefinition {
  return Object.fromEntries(Object.entries(NodeSyncService.service).map(([name, method]) => [name, {
    ...method,
    requestDeserialize: (buf: Buffer) => (buf.length > MAX_MESSAGE_BYTES ? ({ oversized: buf.length } satisfies Oversized) : method.requestDeserialize(buf)),
  }]));
}

export const channelOptions: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': 15_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.max_pings_without_data': 0,
  // The client's own receive window (hub → node data); the hub raises its side in http2-window.ts.
  'grpc-node.flow_control_window': 8 * 1024 * 1024,
};
