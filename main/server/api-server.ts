/**
 * The hub's HTTP + WebSocket API on 127.0.0.1, behind the admin token: the transport the
 * browser UI and the admin CLI use. Generic over the contract: it knows no operation by name.
 *
 *   POST /api/invoke   {"op": "...", "input": {...}}  → {"ok": true, "result": ...} | {"ok": false, "error": {code, message}}
 *   GET  /api/ws?token=…  WebSocket: {"id", "op", "input"} → {"id", "ok", ...}; {"subscribe": "status"} → {"event", "data"}
 *
 *   GET  /, /assets/…   the renderer's static files (no token needed: nothing secret in them;
 *                       the page asks for the token, or takes it from the URL's #token=…)
 *
 * Requests without the token get 401; requests whose Origin is not this server get 403.
 */
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { ContractError, EVENT_NAMES, dispatch, type ErrorCode, type EventName, type EventSource, type Handlers } from '../contract';
import type { Logger } from '../util/log';

const MAX_BODY = 1024 * 1024;

export interface ApiServerOptions {
  host: string;
  port: number;
  token: string;
  handlers: Handlers;
  /** Source of events for WebSocket subscribers. */
  events: EventSource;
  log: Logger;
  /** The built renderer (dist/renderer) to serve at /; none: the API only. */
  staticDir?: string | null;
  /**
   * Agent webhooks, `POST /api/hooks/agents/<template>`: authorized by the template's own
   * token (Bearer), not the admin token; bodies over `webhookMaxBytes` get 413.
   */
  webhook?: { handle: (templateId: string, token: string | null, body: string) => [number, unknown]; maxBytes: number };
}

/** The page may load only its own scripts and styles, and talk only to this server. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
  "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json', '.map': 'application/json',
  '.woff2': 'font/woff2',
};

/** The Content-Type of one of the UI's files (also used by the desktop app's app:// handler). */
export function contentTypeOf(file: string): string {
  return MIME[path.extname(file)] ?? 'application/octet-stream';
}

/** Every file under `dir` by URL path ("/assets/x.js"); only these are ever served. */
function staticFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const visit = (d: string, prefix: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) visit(path.join(d, e.name), `${prefix}${e.name}/`);
      else if (e.isFile()) files.set(`${prefix}${e.name}`, path.join(d, e.name));
    }
  };
  visit(dir, '/');
  return files;
}

function tokenOk(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b);
}

function errorBody(e: unknown): { code: ErrorCode; message: string } {
  if (e instanceof ContractError) return e.toJSON();
  return { code: 'INTERNAL', message: (e as Error).message ?? String(e) };
}

const STATUS_OF: Record<ErrorCode, number> = { UNKNOWN_OP: 404, BAD_REQUEST: 400, NOT_FOUND: 404, CONFLICT: 409, UNAUTHORIZED: 401, FORBIDDEN: 403, UNAVAILABLE: 503, INTERNAL: 500 };

export class ApiServer {
  private server: http.Server | null = null;
  private wss: WebSocketServer | null = null;
  private files = new Map<string, string>();
  url = '';

  constructor(private readonly opts: ApiServerOptions) {}

  async start(): Promise<string> {
    if (this.opts.staticDir) {
      try {
        this.files = staticFiles(this.opts.staticDir);
      } catch (e) {
        this.opts.log.warn('ui.missing', { dir: this.opts.staticDir, error: (e as Error).message, hint: 'run "npm run build"; the API works without it' });
      }
    }
    const server = http.createServer((req, res) => void this.handle(req, res));
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY });
    server.on('upgrade', (req, socket, head) => {
      const problem = this.refusal(req, new URL(req.url ?? '/', 'http://x').searchParams.get('token'));
      if (problem || !req.url?.startsWith('/api/ws')) {
        const [code, text] = problem ?? [404, 'not found'];
        this.opts.log.warn('api.refused', { transport: 'ws', status: code, reason: text, origin: req.headers.origin });
        socket.end(`HTTP/1.1 ${code} ${http.STATUS_CODES[code]}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${text}\n`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    this.wss = wss;
    const addr = server.address() as { address: string; port: number };
    const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    this.url = `http://${host}:${addr.port}`;
    return this.url;
  }

  async close(): Promise<void> {
    for (const c of this.wss?.clients ?? []) c.terminate();
    this.wss?.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections?.();
  }

  /** This server's own origin, under the address it listens on or, on loopback, as localhost. */
  private sameOrigin(origin: string): boolean {
    if (origin === this.url) return true;
    const u = new URL(this.url);
    const loopback = u.hostname === '127.0.0.1' || u.hostname === '[::1]';
    return loopback && origin === `http://localhost:${u.port}`;
  }

  /** [status, reason] when the request must be refused, else null. */
  private refusal(req: http.IncomingMessage, queryToken?: string | null): [number, string] | null {
    const origin = req.headers.origin;
    if (origin && !this.sameOrigin(origin)) return [403, `origin ${origin} is not allowed`];
    const auth = req.headers.authorization;
    const given = auth?.startsWith('Bearer ') ? auth.slice(7) : queryToken;
    if (!tokenOk(given, this.opts.token)) return [401, 'missing or wrong admin token'];
    return null;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith('/api/') && (req.method === 'GET' || req.method === 'HEAD')) return this.serveStatic(url.pathname, req, res);
    const hook = /^\/api\/hooks\/agents\/([^/]{1,100})$/.exec(url.pathname);
    if (hook && this.opts.webhook) {
      if (req.method !== 'POST') return send(405, { ok: false, error: { code: 'BAD_REQUEST', message: 'use POST' } });
      const auth = req.headers.authorization;
      let text: string;
      try {
        text = await readBody(req, this.opts.webhook.maxBytes);
      } catch (e) {
        this.opts.log.warn('agent.webhook_refused', { status: 413, reason: (e as Error).message });
        return send(413, { ok: false, error: { code: 'BAD_REQUEST', message: `request body ${(e as Error).message}` } });
      }
      const [status, body] = this.opts.webhook.handle(decodeURIComponent(hook[1]!), auth?.startsWith('Bearer ') ? auth.slice(7) : null, text);
      return send(status, body);
    }
    if (url.pathname !== '/api/invoke') return send(404, { ok: false, error: { code: 'NOT_FOUND', message: `no route ${url.pathname}` } });
    if (req.method !== 'POST') return send(405, { ok: false, error: { code: 'BAD_REQUEST', message: 'use POST' } });
    const problem = this.refusal(req);
    if (problem) {
      this.opts.log.warn('api.refused', { transport: 'http', status: problem[0], reason: problem[1], origin: req.headers.origin });
      return send(problem[0], { ok: false, error: { code: problem[0] === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', message: problem[1] } });
    }
    let body: { op?: unknown; input?: unknown };
    try {
      body = JSON.parse(await readBody(req)) as typeof body;
    } catch (e) {
      return send(400, { ok: false, error: { code: 'BAD_REQUEST', message: `request body: ${(e as Error).message}` } });
    }
    try {
      const result = await dispatch(this.opts.handlers, body?.op, body?.input);
      send(200, { ok: true, result });
    } catch (e) {
      const err = errorBody(e);
      if (err.code === 'INTERNAL') this.opts.log.error('api.failed', { op: body?.op, error: err.message });
      send(STATUS_OF[err.code] ?? 500, { ok: false, error: err });
    }
  }

  private serveStatic(pathname: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    const file = this.files.get(pathname === '/' ? '/index.html' : pathname);
    const headers: http.OutgoingHttpHeaders = {
      'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY', 'Referrer-Policy': 'no-referrer', 'Cross-Origin-Opener-Policy': 'same-origin',
    };
    if (!file) {
      const body = this.files.size === 0 ? 'The UI is not built: run "npm run build". The API is at /api/invoke.\n' : 'not found\n';
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(500, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`cannot read ${pathname}\n`);
        return;
      }
      // Vite names assets by their content hash: they never change under one name.
      const cache = pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
      res.writeHead(200, { ...headers, 'Content-Type': contentTypeOf(file), 'Cache-Control': cache, 'Content-Length': data.length });
      res.end(req.method === 'HEAD' ? undefined : data);
    });
  }

  private onSocket(ws: WebSocket): void {
    const subs = new Map<EventName, (data: unknown) => void>();
    ws.on('message', (raw) => {
      let msg: { id?: unknown; op?: unknown; input?: unknown; subscribe?: unknown; unsubscribe?: unknown };
      try {
        msg = JSON.parse(String(raw)) as typeof msg;
      } catch {
        ws.send(JSON.stringify({ ok: false, error: { code: 'BAD_REQUEST', message: 'message is not JSON' } }));
        return;
      }
      if (msg.subscribe !== undefined || msg.unsubscribe !== undefined) {
        const name = (msg.subscribe ?? msg.unsubscribe) as EventName;
        if (!EVENT_NAMES.includes(name)) {
          ws.send(JSON.stringify({ id: msg.id, ok: false, error: { code: 'BAD_REQUEST', message: `unknown event ${JSON.stringify(name)}` } }));
          return;
        }
        if (msg.subscribe !== undefined && !subs.has(name)) {
          const cb = (data: unknown) => ws.send(JSON.stringify({ event: name, data }));
          subs.set(name, cb);
          this.opts.events.on(name, cb);
        } else if (msg.unsubscribe !== undefined && subs.has(name)) {
          this.opts.events.off(name, subs.get(name)!);
          subs.delete(name);
        }
        ws.send(JSON.stringify({ id: msg.id, ok: true }));
        return;
      }
      dispatch(this.opts.handlers, msg.op, msg.input).then(
        (result) => ws.send(JSON.stringify({ id: msg.id, ok: true, result })),
        (e) => ws.send(JSON.stringify({ id: msg.id, ok: false, error: errorBody(e) })),
      );
    });
    ws.on('close', () => {
      for (const [name, cb] of subs) this.opts.events.off(name, cb);
    });
  }
}

function readBody(req: http.IncomingMessage, max = MAX_BODY): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new Error(`larger than ${max >= 1024 * 1024 ? `${max / 1024 / 1024} MiB` : `${max / 1024} KiB`}`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8') || '{}'));
    req.on('error', reject);
  });
}
