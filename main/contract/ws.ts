/**
 * The hub's WebSocket API, declared once for both ends (main/server/api-server.ts and the
 * renderer's transport): where it is, what a client sends, what the hub answers and pushes, and
 * how a client reads the hub's messages. Types and pure helpers only (the renderer bundles it).
 */
import { decodeEnvelope, type Envelope } from './envelope';
import type { EventMap, EventName } from './index';

/** Where the WebSocket is; the admin token goes in the query (`?token=…`). */
export const WS_PATH = '/api/ws';

/** The close code of a WebSocket whose admin token is no longer the hub's (4000–4999: the application's own). */
export const WS_CLOSE_TOKEN_CHANGED = 4001;

/** The WebSocket URL of the hub at `httpBase` (`http://host:port`, or a page's `location.origin`). */
export function wsUrl(httpBase: string, token: string): string {
  return `${httpBase.replace(/^http/, 'ws')}${WS_PATH}?token=${encodeURIComponent(token)}`;
}

/** A message's id, echoed in its answer: a number or a string of at most 200 characters. */
export type WsId = number | string;

/** Client → hub: run an operation; start or stop receiving an event. */
export type WsInvoke = { id?: WsId; op: string; input?: unknown };
export type WsSubscribe = { id?: WsId; subscribe: EventName };
export type WsUnsubscribe = { id?: WsId; unsubscribe: EventName };
export type WsClientMessage = WsInvoke | WsSubscribe | WsUnsubscribe;

/**
 * Hub → client: the answer to a message, with its id (none when the message could not be read;
 * an (un)subscription's answer has no result), or an event a client subscribed to.
 */
export type WsReply = Envelope & { id?: WsId };
export type WsEvent<E extends EventName = EventName> = { event: E; data: EventMap[E] };
export type WsServerMessage = WsReply | WsEvent;

export function wsReply(id: WsId | undefined, env: Envelope): WsReply {
  return { id, ...env };
}

export function wsEvent<E extends EventName>(event: E, data: EventMap[E]): WsEvent<E> {
  return { event, data };
}

/** A hub message as a client reads it: an event, an answer (its envelope decoded), or null for what is neither. */
export type WsReceived = { event: string; data: unknown } | { id: WsId | undefined; envelope: Envelope };

/** Reads one message from the hub (or from anyone: anything at all may arrive). */
export function decodeWsServerMessage(text: string): WsReceived | null {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof msg !== 'object' || msg === null) return null;
  const m = msg as { id?: unknown; event?: unknown; data?: unknown };
  if (m.event !== undefined) return typeof m.event === 'string' ? { event: m.event, data: m.data } : null;
  const id = typeof m.id === 'number' || typeof m.id === 'string' ? m.id : undefined;
  return { id, envelope: decodeEnvelope(msg) };
}
