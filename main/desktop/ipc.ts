/**
 * The Electron IPC adapter over the contract: generic (no operation by name), every message's
 * sender frame checked, every request validated by `dispatch`, errors returned as typed
 * envelopes. Only types come from electron, so this runs (and is tested) under plain Node.
 */
import { ContractError, EVENT_NAMES, dispatch, type EventName, type EventSource, type Handlers } from '../contract';
import { errorEnvelope, okEnvelope, wireError, type Envelope } from '../contract/envelope';
import type { Logger } from '../util/log';

/** The parts of an IPC event this adapter reads (a subset of Electron's IpcMainEvent). */
export interface IpcSenderEvent {
  /** `parent` is null for a top-level frame (Electron's WebFrameMain). */
  senderFrame: { url: string; parent: unknown } | null;
  sender: {
    id: number;
    send(channel: string, ...args: unknown[]): void;
    isDestroyed(): boolean;
    once(event: 'destroyed', cb: () => void): unknown;
  };
}

export interface IpcAdapterOptions {
  handlers: Handlers;
  events: EventSource;
  /** Channel on which events are sent to a subscribed frame. */
  eventChannel: string;
  /** Whether a frame URL is our own UI (e.g. app://cortex/…). */
  isTrustedUrl: (url: string) => boolean;
  log: Logger;
}

export function createIpcAdapter(opts: IpcAdapterOptions) {
  /** Per web contents: its forwarding callback per event. */
  const subs = new Map<number, Map<EventName, (data: unknown) => void>>();

  /** The main frame of our own page, else why not. */
  const refusal = (e: IpcSenderEvent): string | null => {
    const url = e.senderFrame?.url ?? '';
    if (!e.senderFrame || e.senderFrame.parent !== null) return 'not the main frame';
    if (!opts.isTrustedUrl(url)) return `untrusted frame ${url.slice(0, 200)}`;
    return null;
  };

  const dropAll = (id: number) => {
    for (const [name, cb] of subs.get(id) ?? []) opts.events.off(name, cb);
    subs.delete(id);
  };

  return {
    async invoke(e: IpcSenderEvent, op: unknown, input: unknown): Promise<Envelope> {
      const why = refusal(e);
      if (why) {
        opts.log.warn('ipc.refused', { op: typeof op === 'string' ? op.slice(0, 64) : typeof op, reason: why });
        return errorEnvelope('FORBIDDEN', `IPC refused: ${why}`);
      }
      try {
        return okEnvelope(await dispatch(opts.handlers, op, input));
      } catch (err) {
        const { code, message } = wireError(err);
        if (err instanceof ContractError) {
          if (code === 'BAD_REQUEST' || code === 'UNKNOWN_OP') opts.log.warn('ipc.rejected', { code, error: message });
        } else {
          opts.log.error('ipc.failed', { op: String(op), error: message });
        }
        return errorEnvelope(code, message);
      }
    },

    subscribe(e: IpcSenderEvent, name: unknown): void {
      const why = refusal(e);
      if (why || typeof name !== 'string' || !EVENT_NAMES.includes(name as EventName)) {
        opts.log.warn('ipc.refused', { subscribe: String(name).slice(0, 64), reason: why ?? 'unknown event' });
        return;
      }
      const ev = name as EventName;
      const sender = e.sender;
      let mine = subs.get(sender.id);
      if (!mine) {
        mine = new Map();
        subs.set(sender.id, mine);
        sender.once('destroyed', () => dropAll(sender.id));
      }
      if (mine.has(ev)) return;
      const cb = (data: unknown) => {
        if (sender.isDestroyed()) dropAll(sender.id);
        else sender.send(opts.eventChannel, ev, data);
      };
      mine.set(ev, cb);
      opts.events.on(ev, cb);
    },

    unsubscribe(e: IpcSenderEvent, name: unknown): void {
      const mine = subs.get(e.sender.id);
      const cb = mine?.get(name as EventName);
      if (!mine || !cb) return;
      opts.events.off(name as EventName, cb);
      mine.delete(name as EventName);
    },

    /** Stops every forwarding (window closed, app quitting). */
    dispose(): void {
      for (const id of [...subs.keys()]) dropAll(id);
    },

    subscriberCount(): number {
      let n = 0;
      for (const m of subs.values()) n += m.size;
      return n;
    },
  };
}

export type IpcAdapter = ReturnType<typeof createIpcAdapter>;
