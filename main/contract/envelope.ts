/**
 * The contract's envelope, encoded and decoded here and nowhere else: every transport (HTTP,
 * WebSocket, Electron IPC) carries `{ok: true, result}` or `{ok: false, error: {code, message}}`,
 * and the typed error (`ContractError`) it stands for. Imports nothing, so the sandboxed
 * preload and the renderer bundle it as they are.
 */

/** UNAVAILABLE: the transport is down (the renderer's own code; the hub never sends it). */
export const ERROR_CODES = ['UNKNOWN_OP', 'BAD_REQUEST', 'NOT_FOUND', 'CONFLICT', 'UNAUTHORIZED', 'FORBIDDEN', 'UNAVAILABLE', 'INTERNAL'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The typed error every transport returns. */
export class ContractError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = 'ContractError';
  }
  toJSON(): WireError {
    return { code: this.code, message: this.message };
  }
}

/** An error as it crosses the wire. */
export interface WireError { code: ErrorCode; message: string }

export type OkEnvelope<T = unknown> = { ok: true; result: T };
export type ErrorEnvelope = { ok: false; error: WireError };
/** A result or a typed error; IPC would mangle a thrown error's fields, so it is returned. */
export type Envelope<T = unknown> = OkEnvelope<T> | ErrorEnvelope;

export function okEnvelope<T>(result: T): OkEnvelope<T> {
  return { ok: true, result };
}

export function errorEnvelope(code: ErrorCode, message: string): ErrorEnvelope {
  return { ok: false, error: { code, message } };
}

/** What a throw becomes on the wire: a ContractError as it is, anything else INTERNAL with its message. */
export function wireError(e: unknown): WireError {
  if (e instanceof ContractError) return e.toJSON();
  return { code: 'INTERNAL', message: (e as Error)?.message ?? String(e) };
}

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && (ERROR_CODES as readonly string[]).includes(v);
}

/**
 * An envelope from whatever arrived (parsed JSON from a peer: anything at all). Only `ok: true`
 * is a result; everything else is an error, INTERNAL with `fallback` as its message where the
 * peer sent no usable code or message.
 */
export function decodeEnvelope(body: unknown, fallback = 'malformed reply'): Envelope {
  if (typeof body !== 'object' || body === null) return errorEnvelope('INTERNAL', fallback);
  const b = body as { ok?: unknown; result?: unknown; error?: unknown };
  if (b.ok === true) return okEnvelope(b.result);
  const e = (typeof b.error === 'object' && b.error !== null ? b.error : {}) as { code?: unknown; message?: unknown };
  return errorEnvelope(isErrorCode(e.code) ? e.code : 'INTERNAL', typeof e.message === 'string' ? e.message : fallback);
}

/** The result, or the envelope's error thrown as a ContractError. */
export function unwrap<T = unknown>(env: Envelope): T {
  if (env.ok) return env.result as T;
  throw new ContractError(env.error.code, env.error.message);
}
