/**
 * How the renderer reaches the contract from inside Electron: the shape the preload script
 * exposes (`window.cortex`) and the IPC channels behind it. Generic: no operation by name.
 * Plain constants and types only, so the sandboxed preload can bundle it.
 */
import type { Envelope } from './envelope';

export type { Envelope } from './envelope';

export const IPC_CHANNELS = {
  /** invoke(op, input) → Envelope */
  invoke: 'cortex:invoke',
  /** send(event name): start / stop forwarding that event to this frame */
  subscribe: 'cortex:subscribe',
  unsubscribe: 'cortex:unsubscribe',
  /** main → renderer: (event name, data) */
  event: 'cortex:event',
} as const;

export interface CortexBridge {
  invoke(op: string, input?: unknown): Promise<Envelope>;
  /** Calls `cb` for each `event`; returns the unsubscribe function. */
  subscribe(event: string, cb: (data: unknown) => void): () => void;
}
