/**
 * The hub's admin API as the contract tests call it, on both transports: `POST /api/invoke`
 * (HTTP) and the WebSocket (`{id, op, input}` answered by id; other messages kept as events).
 */
import WebSocket from 'ws';
import type { Envelope } from '../../main/contract/envelope';

/** Where a running hub's UI listens, and its admin token (a RunningHub). */
export interface ApiTarget {
  ui: string;
  adminToken: string;
}

/** One operation over HTTP: the status and the envelope. */
export async function invokeHttp(hub: ApiTarget, op: string, input: unknown): Promise<{ status: number; body: Envelope }> {
  const res = await fetch(`${hub.ui}/api/invoke`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${hub.adminToken}` }, body: JSON.stringify({ op, input }),
  });
  return { status: res.status, body: (await res.json()) as Envelope };
}

export interface WsApi {
  /** One operation, answered by its id. */
  call(op: string, input: unknown): Promise<Envelope>;
  /** A raw message (`{subscribe}`, `{unsubscribe}`). */
  send(msg: object): void;
  /** The events received so far (`{event, data}`), oldest first. */
  events: { event: string; data: unknown }[];
  close(): void;
}

/** A WebSocket to the hub's API, open. */
export async function openWsApi(hub: ApiTarget): Promise<WsApi> {
  const ws = new WebSocket(`${hub.ui.replace('http', 'ws')}/api/ws?token=${hub.adminToken}`);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const waiting = new Map<number, (m: Envelope) => void>();
  const events: WsApi['events'] = [];
  let next = 1;
  ws.on('message', (d) => {
    const m = JSON.parse(String(d)) as Envelope & { id?: number; event?: string; data?: unknown };
    if (typeof m.id === 'number') waiting.get(m.id)?.(m);
    else if (m.event) events.push({ event: m.event, data: m.data });
  });
  return {
    events,
    send: (msg) => ws.send(JSON.stringify(msg)),
    close: () => ws.close(),
    call: (op, input) => new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ id, op, input }));
    }),
  };
}

/** The result of an answer that must have succeeded (else the error, as a thrown Error). */
export function resultOf<T>(e: Envelope | { body: Envelope }): T {
  const env = 'body' in e ? e.body : e;
  if (!env.ok) throw new Error(`expected success, got ${env.error.code}: ${env.error.message}`);
  return env.result as T;
}
