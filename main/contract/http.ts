/**
 * The one HTTP client of the hub's API (`POST /api/invoke` behind the admin token): the admin
 * CLI, the renderer's token check, the tests and the benches reach a running hub through it.
 * Only `fetch`, no Node imports, so the renderer bundles it too.
 */
import { decodeEnvelope, unwrap, type Envelope } from './envelope';
import type { OpInput, OpName, OpOutput } from './index';

export const INVOKE_PATH = '/api/invoke';

/** The hub could not be asked (nothing listening, a reset, an abort), or its answer broke off. */
export class HubUnreachableError extends Error {
  constructor(readonly url: string, readonly detail: string) {
    super(`cannot reach the running hub at ${url}: ${detail}`);
    this.name = 'HubUnreachableError';
  }
}

/**
 * Why a request got no reply: fetch says only "fetch failed", the cause says what happened
 * (refused, reset, closed by the other side), with its code when it has one.
 */
function describeFailure(e: unknown): string {
  const msg = (e as Error)?.message ?? String(e);
  const cause = (e as { cause?: { message?: string; code?: string } } | null)?.cause;
  if (!cause || typeof cause !== 'object') return msg;
  const why = [cause.code, cause.message].filter((x) => typeof x === 'string' && x !== '' && !msg.includes(x)).join(': ');
  return why ? `${msg} (${why})` : msg;
}

/** What the hub answered: the HTTP status and the envelope, decoded. */
export interface InvokeReply {
  status: number;
  statusText: string;
  envelope: Envelope;
}

export interface InvokeOptions {
  /** Aborts the request (e.g. `AbortSignal.timeout(ms)`): then HubUnreachableError. */
  signal?: AbortSignal;
}

/**
 * Sends one request, any `op` and `input` (hostile ones included), to the hub at `baseUrl`
 * (`http://host:port`, or '' for the page's own server). A reply that is not an envelope (not
 * JSON, not an object) becomes an INTERNAL error `HTTP <status>`. Throws HubUnreachableError
 * only when there is no reply to read.
 */
export async function postInvoke(baseUrl: string, token: string, op: string, input: unknown, opts: InvokeOptions = {}): Promise<InvokeReply> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${baseUrl}${INVOKE_PATH}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ op, input }),
      signal: opts.signal,
    });
    text = await res.text();
  } catch (e) {
    throw new HubUnreachableError(baseUrl, describeFailure(e));
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, statusText: res.statusText, envelope: decodeEnvelope(body, `HTTP ${res.status}`) };
}

/** Runs one operation on the hub at `baseUrl`: its result, or its error thrown as a ContractError (HubUnreachableError when the hub cannot be asked). */
export async function httpInvoke<K extends OpName>(baseUrl: string, token: string, op: K, input: OpInput<K>, opts: InvokeOptions = {}): Promise<OpOutput<K>> {
  return unwrap<OpOutput<K>>((await postInvoke(baseUrl, token, op, input, opts)).envelope);
}
