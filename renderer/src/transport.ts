/**
 * The renderer's side of the one contract: a typed client over either transport, the
 * Electron preload bridge (`window.cortex`) or the hub's WebSocket API (browser). Both carry
 * the same envelopes; neither knows an operation by name.
 */
import { ContractError, type EventMap, type EventName, type OpInput, type OpName, type OpOutput } from '../../main/contract';
import type { CortexBridge, Envelope } from '../../main/contract/bridge';

export type ConnectionState = 'connecting' | 'open' | 'closed';

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
    const env = await this.transport.invoke(op, input);
    if (!env.ok) throw new ContractError(env.error.code, env.error.message);
    return env.result as OpOutput<K>;
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
    invoke: (op, input) => bridge.invoke(op, input),
    subscribe: (event, cb) => bridge.subscribe(event, cb),
    onState: (cb) => cb('open'),
  };
}

/**
 * Checks an admin token against the hub over HTTP (a browser hides why a WebSocket was
 * refused): null when it is accepted, else the reason to show.
 */
export async function checkToken(token: string): Promise<string | null> {
  try {
    const res = await fetch('/api/invoke', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ op: 'status', input: {} }),
    });
    if (res.ok) return null;
    if (res.status === 401) return 'The hub did not accept this admin token.';
    return `The hub answered ${res.status} ${res.statusText}.`;
  } catch (e) {
    return `Cannot reach the hub: ${(e as Error).message}`;
  }
}

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;

/**
 * In a browser: one WebSocket to the hub (`/api/ws?token=…`), re-opened with backoff when it
 * drops; subscriptions are renewed on every new socket. Calls made while it is down fail at
 * once with UNAVAILABLE rather than hang.
 */
export function webSocketTransport(url: string): Transport {
  let ws: WebSocket | null = null;
  let state: ConnectionState = 'connecting';
  let nextId = 1;
  let delay = RECONNECT_MIN_MS;
  const pending = new Map<number, (e: Envelope) => void>();
  const listeners = new Map<string, Set<(d: unknown) => void>>();
  const stateListeners: ((s: ConnectionState) => void)[] = [];

  const setState = (s: ConnectionState) => {
    state = s;
    for (const cb of stateListeners) cb(s);
  };
  const failAll = (message: string) => {
    for (const [id, resolve] of pending) {
      pending.delete(id);
      resolve({ ok: false, error: { code: 'UNAVAILABLE', message } });
    }
  };

  const open = () => {
    setState('connecting');
    const sock = new WebSocket(url);
    ws = sock;
    sock.onopen = () => {
      delay = RECONNECT_MIN_MS;
      for (const name of listeners.keys()) sock.send(JSON.stringify({ subscribe: name }));
      setState('open');
    };
    sock.onmessage = (m) => {
      let msg: { id?: number; ok?: boolean; result?: unknown; error?: { code: never; message: string }; event?: string; data?: unknown };
      try {
        msg = JSON.parse(String(m.data)) as typeof msg;
      } catch {
        return;
      }
      if (msg.event !== undefined) {
        for (const cb of listeners.get(msg.event) ?? []) cb(msg.data);
        return;
      }
      const resolve = msg.id === undefined ? undefined : pending.get(msg.id);
      if (!resolve) return;
      pending.delete(msg.id!);
      resolve(msg.ok ? { ok: true, result: msg.result } : { ok: false, error: msg.error ?? { code: 'INTERNAL' as never, message: 'malformed reply' } });
    };
    sock.onclose = () => {
      ws = null;
      failAll('the connection to the hub was lost');
      setState('closed');
      setTimeout(open, delay);
      delay = Math.min(RECONNECT_MAX_MS, delay * 2);
    };
  };
  open();

  return {
    invoke(op, input) {
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        return Promise.resolve({ ok: false, error: { code: 'UNAVAILABLE', message: 'not connected to the hub' } });
      }
      const id = nextId++;
      const sock = ws;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        sock.send(JSON.stringify({ id, op, input }));
      });
    },
    subscribe(event, cb) {
      let set = listeners.get(event);
      if (!set) {
        set = new Set();
        listeners.set(event, set);
        if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ subscribe: event }));
      }
      set.add(cb);
      return () => {
        set.delete(cb);
        if (set.size === 0) {
          listeners.delete(event);
          if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ unsubscribe: event }));
        }
      };
    },
    onState(cb) {
      stateListeners.push(cb);
      cb(state);
    },
  };
}
