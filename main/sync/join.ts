/**
 * Join strings: everything a node needs to reach its hub, in one copy-pasteable token.
 * `cortex1.` + base64url(JSON { hub: "host:port", node, token, fp }).
 */
export interface JoinInfo {
  hub: string;
  node: string;
  token: string;
  /** SHA-256 fingerprint of the hub's certificate, AA:BB:... */
  fp: string;
}

const PREFIX = 'cortex1.';

export function encodeJoin(j: JoinInfo): string {
  return PREFIX + Buffer.from(JSON.stringify({ hub: j.hub, node: j.node, token: j.token, fp: j.fp })).toString('base64url');
}

export class JoinStringError extends Error {
  constructor(reason: string) {
    super(`invalid join string: ${reason} (copy it again from "cortex-hub node add")`);
    this.name = 'JoinStringError';
  }
}

export function decodeJoin(s: string): JoinInfo {
  const t = s.trim();
  if (!t.startsWith(PREFIX)) throw new JoinStringError(`it must start with "${PREFIX}"`);
  let obj: unknown;
  try {
    obj = JSON.parse(Buffer.from(t.slice(PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw new JoinStringError('it is truncated or corrupted');
  }
  const o = obj as Record<string, unknown>;
  for (const k of ['hub', 'node', 'token', 'fp'] as const) {
    if (typeof o?.[k] !== 'string' || (o[k] as string).length === 0) throw new JoinStringError(`field "${k}" is missing`);
  }
  if (!/^[^\s]+:\d{1,5}$/.test(o.hub as string)) throw new JoinStringError(`hub address "${String(o.hub)}" is not host:port`);
  if (!/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(o.fp as string)) throw new JoinStringError('the certificate fingerprint is malformed');
  return { hub: o.hub as string, node: o.node as string, token: o.token as string, fp: o.fp as string };
}
