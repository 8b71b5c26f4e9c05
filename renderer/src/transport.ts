/**
 * The renderer's side of the one contract: a typed client over either transport, the
 * Electron preload bridge (`window.cortex`) or the hub's WebSocket API (browser). Both carry
 * the same envelopes; neither knows an operation by name.
 */
import type { EventMap, EventName, OpInput, OpName, OpOutput } from '../../main/contract';
import type { CortexBridge } from '../../main/contract/bridge';
import { decodeEnvelope, errorEnvelope, unwrap, type Envelope } from '../../main/contract/envelope';
import { HubUnreachableError, postInvoke } from '../../main/contract/http';
import { WS_CLOSE_TOKEN_CHANGED, decodeWsServerMessage, type WsClientMessage } from '../../main/contract/ws';

/** `signed-out`: the hub no longer accepts our admin token; the transport has stopped for good. */
export type ConnectionState = 'connecting' | 'open' | 'closed' | 'signed-out';

/** What a transport does: carry envelopes and events. */
export interface Transport {
  invoke(op: string, input: unknown): Promise<Envelope>;
  subscribe(event: string, cb: (data: unknown) => void): () => void;
  onState(cb: (s: ConnectionState) => void): void;
}

/** The typed API the views use. */
export class Client {
  constructor(private readonly transport: Transport) {}

  async invoke<K extends OpName>(op: K, input: OpInput<K>): Promise<OpOutput<K>> {
    return unwrap<OpOutput<K>>(await this.transport.invoke(op, input));
  }

  subscribe<E extends EventName>(event: E, cb: (data: EventMap[E]) => void): () => void {
    return this.transport.subscribe(event, cb as (d: unknown) => void);
  }

  onState(cb: (s: ConnectionState) => void): void {
    this.transport.onState(cb);
  }
}

/** Inside Electron: the preload's bridge; IPC never drops while the window lives. */
export function bridgeTransport(bridge: CortexBridge): Transport {
  return {
    invoke: async (op, input) => decodeEnvelope(await bridge.invoke(op, input)),
    subscribe: (event, cb) => bridge.subscribe(event, cb),
    onState: (cb) => cb('open'),
  };
}

export type TokenCheck = { ok: true } | { ok: false; refused: boolean; message: string };

/**
 * Checks an admin token against the hub over HTTP (a browser hides why a WebSocket was
 * refused): `refused` when the hub answered 401 (the token is wrong or was rotated), else
 * the hub could not be asked.
 */
export async function verifyToken(token: string): Promise<TokenCheck> {
  try {
    const res = await postInvoke('', token, 'status', {});
    if (res.status >= 200 && res.status < 300) return { ok: true };
    if (res.status === 401) return { ok: false, refused: true, message: 'The hub did not accept this admin token.' };
    return { ok: false, refused: false, message: `The hub answered ${res.status} ${res.statusText}.` };
  } catch (e) {
    return { ok: false, refused: false, message: `Cannot reach the hub: ${e instanceof HubUnreachableError ? e.detail : (e as Error).message}` };
  }
}

/** null when the hub accepts the token, else the reason to show. */
export async function checkToken(token: string): Promise<string | null> {
  const r = await verifyToken(token);
  return r.ok ? null : r.message;
}

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;

/**
 * In a browser: one WebSocket to the hub (`/api/ws?token=…`), re-opened with backoff when it
 * drops; subscriptions are renewed on every new socket. Calls made while it is down fail at
 * once with UNAVAILABLE rather than hang.
 *
 * When the hub no longer accepts the token it stops for good in state `signed-out`, at once,
 * instead of retrying forever: the hub closed the socket with WS_CLOSE_TOKEN_CHANGED (rotated
 * while open), answered UNAUTHORIZED, or, after a drop (a refused upgrade looks like any other
 * to a page), `tokenRefused` (an HTTP check) says the token is refused.
 */
export function webSocketTransport(url: string, opts: { tokenRefused?: () => Promise<boolean> } = {}): Transport {
  let ws: WebSocket | null = null;
  let state: ConnectionState = 'connecting';
  let nextId = 1;
  let delay = RECONNECT_MIN_MS;
  let stopped = false;
  const pending = new Map<number, (e: Envelope) => void>();
  const listeners = new Map<string, Set<(d: unknown) => void>>();
  const stateListeners: ((s: ConnectionState) => void)[] = [];
  const send = (sock: WebSocket, msg: WsClientMessage) => sock.send(JSON.stringify(msg));

  const setState = (s: ConnectionState) => {
    state = s;
    for (const cb of stateListeners) cb(s);
  };
  const failAll = (code: 'UNAVAILABLE' | 'UNAUTHORIZED', message: string) => {
    for (const [id, resolve] of pending) {
      pending.delete(id);
      resolve(errorEnvelope(code, message));
    }
  };
  const signOut = () => {
    if (stopped) return;
    stopped = true;
    const sock = ws;
    ws = null;
    failAll('UNAUTHORIZED', 'signed out: the admin token changed');
    sock?.close();
    setState('signed-out');
  };
  const retry = () => {
    if (stopped) return;
    setTimeout(open, delay);
    delay = Math.min(RECONNECT_MAX_MS, delay * 2);
  };

  const open = () => {
    if (stopped) return;
    setState('connecting');
    const sock = new WebSocket(url);
    ws = sock;
    sock.onopen = () => {
      delay = RECONNECT_MIN_MS;
      for (const name of listeners.keys()) send(sock, { subscribe: name as EventName });
      setState('open');
    };
    sock.onmessage = (m) => {
      const msg = decodeWsServerMessage(String(m.data));
      if (!msg) return;
      if ('event' in msg) {
        for (const cb of listeners.get(msg.event) ?? []) cb(msg.data);
        return;
      }
      const { id, envelope } = msg;
      const resolve = typeof id === 'number' ? pending.get(id) : undefined;
      if (resolve) {
        pending.delete(id as number);
        resolve(envelope);
      }
      if (!envelope.ok && envelope.error.code === 'UNAUTHORIZED') signOut();
    };
    sock.onclose = (ev) => {
      if (ws === sock) ws = null;
      if (stopped) return;
      if (ev.code === WS_CLOSE_TOKEN_CHANGED) {
        signOut();
        return;
      }
      failAll('UNAVAILABLE', 'the connection to the hub was lost');
      setState('closed');
      if (!opts.tokenRefused) {
        retry();
        return;
      }
      opts.tokenRefused().then((refused) => (refused ? signOut() : retry()), retry);
    };
  };
  open();

  return {
    invoke(op, input) {
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        return Promise.resolve(errorEnvelope('UNAVAILABLE', 'not connected to the hub'));
      }
      const id = nextId++;
      const sock = ws;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        send(sock, { id, op, input });
      });
    },
    subscribe(event, cb) {
      let set = listeners.get(event);
      if (!set) {
        set = new Set();
        listeners.set(event, set);
        if (ws?.readyState === WebSocket.OPEN) send(ws, { subscribe: event as EventName });
      }
      set.add(cb);
      return () => {
        set.delete(cb);
        if (set.size === 0) {
          listeners.delete(event);
          if (ws?.readyState === WebSocket.OPEN) send(ws, { unsubscribe: event as EventName });
        }
      };
    },
    onState(cb) {
      stateListeners.push(cb);
      cb(state);
    },
  };
}
