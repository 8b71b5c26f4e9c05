/**
 * What the API server checks before it routes anything, as pure functions: the request target
 * (parsed without `new URL`'s surprises and never throwing) and the Host allowlist that keeps a
 * DNS-rebinding page from reaching the admin API under a name it controls.
 */
import os from 'node:os';

export interface Target {
  /** The path as sent (percent-escapes NOT decoded: routes compare it exactly). */
  path: string;
  query: URLSearchParams;
  /** host[:port] of an absolute-form target (`GET http://h:p/x`), which then stands for Host. */
  authority: string | null;
}

/**
 * The request target of an HTTP request line: origin-form (`/p?q`) or absolute-form
 * (`http://h:p/p?q`, which RFC 9112 §3.2.2 says a server must accept); anything else (`*`,
 * `x`, a malformed URL) is why it is refused. Never throws.
 */
export function parseTarget(raw: string | undefined): Target | { error: string } {
  if (!raw) return { error: 'the request has no target' };
  if (raw.startsWith('/')) {
    const q = raw.indexOf('?');
    return { path: q < 0 ? raw : raw.slice(0, q), query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)), authority: null };
  }
  if (/^http:\/\//i.test(raw)) {
    try {
      const u = new URL(raw);
      return { path: u.pathname, query: u.searchParams, authority: u.host };
    } catch {
      return { error: 'the request target is not a valid URL' };
    }
  }
  return { error: `the request target must be a path starting with "/"` };
}

/** decodeURIComponent without the throw: null for a bad escape (`%zz`, `%E0%A4%A`). */
export function decodeSegment(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]']);

function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * Every `Host` value the API answers to: the loopback names (127.0.0.1, localhost, [::1]) and
 * the configured listen address, each with the bound port (and bare when that port is 80).
 * When the UI listens on every interface (0.0.0.0 / ::), the machine's own interface addresses
 * and host name are added. A name a web page's DNS controls is never
 * in it: that is the DNS-rebinding defence.
 */
export function allowedHosts(configured: string, port: number, machine: { addresses: string[]; hostname: string } = localMachine()): Set<string> {
  // The configured address itself, even 0.0.0.0 (the URL `serve` prints): no page's DNS
  // controls a literal address.
  const names = ['127.0.0.1', 'localhost', '[::1]', bracket(configured)];
  if (WILDCARDS.has(configured)) names.push(...machine.addresses.map(bracket), machine.hostname);
  const out = new Set<string>();
  for (const n of names) {
    if (!n) continue;
    const name = n.toLowerCase();
    out.add(`${name}:${port}`);
    if (port === 80) out.add(name);
  }
  return out;
}

function localMachine(): { addresses: string[]; hostname: string } {
  const addresses: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    // A zone (fe80::1%eth0) cannot appear in a Host header.
    for (const a of list ?? []) if (!a.address.includes('%')) addresses.push(a.address);
  }
  return { addresses, hostname: os.hostname() };
}

/** Whether a Host header (or an absolute-form authority) names this server. */
export function hostAllowed(allowed: Set<string>, host: string | null | undefined): boolean {
  return typeof host === 'string' && allowed.has(host.toLowerCase());
}

/** Whether an Origin header is a page of this server (served over http under an allowed host). */
export function originAllowed(allowed: Set<string>, origin: string): boolean {
  const o = origin.toLowerCase();
  return o.startsWith('http://') && allowed.has(o.slice('http://'.length));
}
