/**
 * The hub's HTTP + WebSocket API on 127.0.0.1, behind the admin token: the transport the
 * browser UI and the admin CLI use. Generic over the contract: it knows no operation by name.
 *
 *   POST /api/invoke   {"op": "...", "input": {...}}  → {"ok": true, "result": ...} | {"ok": false, "error": {code, message}}
 *   GET  /api/ws?token=…  WebSocket: {"id", "op", "input"} → {"id", "ok", ...}; {"subscribe": "status"} → {"event", "data"}
 *                       (the envelope: contract/envelope.ts; the WebSocket messages: contract/ws.ts)
 *
 *   GET  /, /assets/…   the renderer's static files (no token needed: nothing secret in them;
 *                       the page asks for the token, or takes it from the URL's #token=…)
 *
 * The rules, in the order they are checked (every refusal is logged with its reason):
 * - a request target that is not a path (`*`, junk) or a malformed request gets 400 (431 for
 *   huge headers);
 * - a Host (or absolute-form authority) that is not this hub's address (guards.ts: loopback
 *   names and the configured address, with the port) gets 421 Misdirected Request, on every
 *   route including the static files: a DNS-rebinding page never gets an answer;
 * - requests without the token get 401; requests whose Origin is not this server get 403;
 * - /api/invoke bodies over 1 MiB get 413; the WebSocket lives at exactly /api/ws;
 * - every handler catches what it throws and answers the contract's typed error
 *   (`{ok: false, error: {code, message}}`, 500 INTERNAL for a bug): nothing a client sends
 *   stops the hub.
 *
 * Over 400 lines: these checks are one ordered chain over the same request and socket, kept
 * together so that their order can be read (and reviewed) in one place.
 */
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { EVENT_NAMES, dispatch, type ErrorCode, type EventMap, type EventName, type EventSource, type Handlers } from '../contract';
import { errorEnvelope, okEnvelope, wireError } from '../contract/envelope';
import { INVOKE_PATH } from '../contract/http';
import { WS_CLOSE_TOKEN_CHANGED, WS_PATH, wsEvent, wsReply, type WsId, type WsServerMessage } from '../contract/ws';
import type { Logger } from '../util/log';
import { clip } from '../util/text';
import { PortInUse, isAddressInUse } from '../util/port-in-use';
import { allowedHosts, decodeSegment, hostAllowed, originAllowed, parseTarget } from './guards';

const MAX_BODY = 1024 * 1024;

export interface ApiServerOptions {
  host: string;
  port: number;
  /** The admin token at start; `setToken` changes it. */
  token: string;
  handlers: Handlers;
  /** Source of events for WebSocket subscribers. */
  events: EventSource;
  log: Logger;
  /** The built renderer (dist/renderer) to serve at /; none: the API only. */
  staticDir?: string | null;
  /**
   * Agent webhooks, `POST /api/hooks/agents/<template>`: authorized by the template's own
   * token (Bearer), not the admin token; bodies over `webhookMaxBytes` get 413. The template
   * name is null when the path's escapes do not decode.
   */
  webhook?: { handle: (templateId: string | null, token: string | null, body: string) => [number, unknown]; maxBytes: number };
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

/**
 * Answers on a raw socket (an upgrade refused, a request Node could not parse) and closes it.
 * Destroyed once written: nobody reads such a socket any more, so a half-closed one would
 * never see its peer's end and would stay open (and keep the server from closing) forever.
 */
function answerAndClose(socket: Duplex, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  socket.once('finish', () => socket.destroy());
  // A peer that never reads does not hold it either.
  setTimeout(() => socket.destroy(), 10_000).unref();
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n`
    + `X-Content-Type-Options: nosniff\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
}

const STATUS_OF: Record<ErrorCode, number> = { UNKNOWN_OP: 404, BAD_REQUEST: 400, NOT_FOUND: 404, CONFLICT: 409, UNAUTHORIZED: 401, FORBIDDEN: 403, UNAVAILABLE: 503, INTERNAL: 500 };

type Subscriptions = Map<EventName, (data: unknown) => void>;

export class ApiServer {
  private server: http.Server | null = null;
  private wss: WebSocketServer | null = null;
  private files = new Map<string, string>();
  private token: string;
  /** Host header values this server answers to (set once it listens). */
  private allowed = new Set<string>();
  /** Each open WebSocket and the admin token it was opened with. */
  private readonly sockets = new Map<WebSocket, string>();
  url = '';

  constructor(private readonly opts: ApiServerOptions) {
    this.token = opts.token;
  }

  async start(): Promise<string> {
    if (this.opts.staticDir) {
      try {
        this.files = staticFiles(this.opts.staticDir);
      } catch (e) {
        this.opts.log.warn('ui.missing', { dir: this.opts.staticDir, error: (e as Error).message, hint: 'run "npm run build"; the API works without it' });
      }
    }
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => this.failed(e, req, res));
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.clientError(err, socket));
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY });
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      // Node takes its own error listener off an upgraded socket: a reset would throw.
      socket.on('error', (e: NodeJS.ErrnoException) => this.opts.log.debug('api.socket_error', { transport: 'ws', error: e.code ?? e.message }));
      try {
        this.upgrade(req, socket, head);
      } catch (e) {
        this.opts.log.error('api.failed', { transport: 'ws', url: clip(req.url ?? ''), error: (e as Error)?.message ?? String(e), stack: (e as Error)?.stack });
        socket.destroy();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(isAddressInUse(e) ? new PortInUse('UI', `${this.opts.host}:${this.opts.port}`, this.opts.port, '--ui') : e));
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    this.wss = wss;
    const addr = server.address() as { address: string; port: number };
    const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    this.url = `http://${host}:${addr.port}`;
    this.allowed = allowedHosts(this.opts.host, addr.port);
    return this.url;
  }

  async close(): Promise<void> {
    for (const c of this.wss?.clients ?? []) c.terminate();
    this.wss?.close();
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Requests still in progress (a body that never ends) must not hold the hub's stop.
    server.closeAllConnections();
    await closed;
  }

  /**
   * Switches to a new admin token at once: requests and WebSocket messages with the old one
   * are refused from now on, and WebSockets opened with it are closed with
   * WS_CLOSE_TOKEN_CHANGED (after the replies already queued, such as the one to the rotation
   * itself), so an open UI knows at once that it is signed out.
   */
  setToken(token: string): void {
    this.token = token;
    setImmediate(() => {
      for (const [ws, t] of this.sockets) if (t !== this.token) this.signOut(ws);
    });
  }

  /** [status, reason] when the request must be refused for its origin or token, else null. */
  private refusal(req: http.IncomingMessage, queryToken?: string | null): [number, string] | null {
    const origin = req.headers.origin;
    if (origin && !originAllowed(this.allowed, origin)) return [403, `origin ${clip(origin)} is not allowed`];
    const auth = req.headers.authorization;
    const given = auth?.startsWith('Bearer ') ? auth.slice(7) : queryToken;
    if (!tokenOk(given, this.token)) return [401, 'missing or wrong admin token'];
    return null;
  }

  /** A request Node's parser refused (bad request line, huge headers, timeout): a typed answer, then close. */
  private clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      // The client went away (a closed tab resets its idle connections): nobody to answer.
      this.opts.log.debug('api.socket_error', { transport: 'http', error: err.code ?? err.message });
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    this.opts.log.warn('api.refused', { transport: 'http', status, reason: err.code ?? err.message });
    const message = status === 431 ? 'request headers too large' : status === 408 ? 'request timed out' : `malformed request (${err.code ?? err.message})`;
    answerAndClose(socket, status, errorEnvelope(status === 408 ? 'UNAVAILABLE' : 'BAD_REQUEST', message));
  }

  /** What a handler threw that it did not answer: logged with its stack, a 500 to the client. */
  private failed(e: unknown, req: http.IncomingMessage, res: http.ServerResponse): void {
    this.opts.log.error('api.failed', { transport: 'http', method: req.method, url: clip(req.url ?? ''), error: (e as Error)?.message ?? String(e), stack: (e as Error)?.stack });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(500, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    res.end(JSON.stringify(errorEnvelope('INTERNAL', 'the hub failed to answer this request (see its log)')));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const send = (status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...headers });
      res.end(text);
    };
    const refuse = (status: number, code: ErrorCode, message: string, headers?: http.OutgoingHttpHeaders) => {
      this.opts.log.warn('api.refused', { transport: 'http', status, reason: message, method: clip(req.method ?? ''), origin: clip(req.headers.origin ?? '') });
      send(status, errorEnvelope(code, message), headers);
    };
    const target = parseTarget(req.url);
    if ('error' in target) return refuse(400, 'BAD_REQUEST', target.error);
    const host = target.authority ?? req.headers.host;
    if (!hostAllowed(this.allowed, host)) return refuse(421, 'FORBIDDEN', `host ${clip(host ?? '(none)')} is not this hub's address; open ${this.url}`);
    if (!target.path.startsWith('/api/') && (req.method === 'GET' || req.method === 'HEAD')) return this.serveStatic(target.path, req, res);
    const hook = /^\/api\/hooks\/agents\/([^/]{1,100})$/.exec(target.path);
    if (hook && this.opts.webhook) {
      if (req.method !== 'POST') return refuse(405, 'BAD_REQUEST', 'use POST', { Allow: 'POST' });
      const auth = req.headers.authorization;
      const text = await readBody(req, this.opts.webhook.maxBytes);
      if (typeof text !== 'string') {
        this.opts.log.warn('agent.webhook_refused', { status: text[0], reason: text[1] });
        return send(text[0], errorEnvelope('BAD_REQUEST', text[1]), { Connection: 'close' });
      }
      const [status, body] = this.opts.webhook.handle(decodeSegment(hook[1]!), auth?.startsWith('Bearer ') ? auth.slice(7) : null, text);
      return send(status, body);
    }
    if (target.path !== INVOKE_PATH) return refuse(404, 'NOT_FOUND', `no route ${clip(target.path)}`);
    if (req.method !== 'POST') return refuse(405, 'BAD_REQUEST', 'use POST', { Allow: 'POST' });
    const problem = this.refusal(req);
    if (problem) return refuse(problem[0], problem[0] === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', problem[1]);
    const text = await readBody(req);
    if (typeof text !== 'string') return refuse(text[0], 'BAD_REQUEST', text[1], { Connection: 'close' });
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      return refuse(400, 'BAD_REQUEST', `request body: ${(e as Error).message}`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return refuse(400, 'BAD_REQUEST', 'request body must be a JSON object: {"op", "input"}');
    const { op, input } = body as { op?: unknown; input?: unknown };
    try {
      const result = await dispatch(this.opts.handlers, op, input);
      send(200, okEnvelope(result));
    } catch (e) {
      const err = wireError(e);
      if (err.code === 'INTERNAL') this.opts.log.error('api.failed', { op: clip(String(op)), error: err.message, stack: (e as Error)?.stack });
      send(STATUS_OF[err.code] ?? 500, errorEnvelope(err.code, err.message));
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

  /** A WebSocket upgrade: the same checks as HTTP, at exactly /api/ws, the token in the query. */
  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number, code: ErrorCode, message: string) => {
      this.opts.log.warn('api.refused', { transport: 'ws', status, reason: message, origin: clip(req.headers.origin ?? '') });
      answerAndClose(socket, status, errorEnvelope(code, message));
    };
    const target = parseTarget(req.url);
    if ('error' in target) return refuse(400, 'BAD_REQUEST', target.error);
    const host = target.authority ?? req.headers.host;
    if (!hostAllowed(this.allowed, host)) return refuse(421, 'FORBIDDEN', `host ${clip(host ?? '(none)')} is not this hub's address; open ${this.url}`);
    if (target.path !== WS_PATH) return refuse(404, 'NOT_FOUND', `no WebSocket at ${clip(target.path)}: it is ${WS_PATH}`);
    const problem = this.refusal(req, target.query.get('token'));
    if (problem) return refuse(problem[0], problem[0] === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', problem[1]);
    const token = this.token;
    this.wss!.handleUpgrade(req, socket, head, (ws) => {
      try {
        this.onSocket(ws, token);
      } catch (e) {
        this.opts.log.error('api.failed', { transport: 'ws', error: (e as Error)?.message ?? String(e), stack: (e as Error)?.stack });
        ws.terminate();
      }
    });
  }

  /** Sends when the socket is open; a socket that went away meanwhile is not an error. */
  private reply(ws: WebSocket, msg: WsServerMessage): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    let text: string;
    try {
      text = JSON.stringify(msg);
    } catch (e) {
      this.opts.log.error('api.failed', { transport: 'ws', error: `reply not encodable: ${(e as Error).message}` });
      text = JSON.stringify(errorEnvelope('INTERNAL', 'the reply could not be encoded (see the hub log)'));
    }
    ws.send(text, (err) => {
      if (err) this.opts.log.debug('api.ws_send_failed', { error: err.message });
    });
  }

  private signOut(ws: WebSocket): void {
    this.opts.log.info('api.ws_signed_out', { reason: 'the admin token changed' });
    ws.close(WS_CLOSE_TOKEN_CHANGED, 'the admin token changed');
  }

  private onSocket(ws: WebSocket, token: string): void {
    const subs: Subscriptions = new Map();
    this.sockets.set(ws, token);
    ws.on('error', (e: Error & { code?: string }) => this.opts.log.warn('api.ws_error', { error: e.message, code: e.code }));
    ws.on('close', () => {
      this.sockets.delete(ws);
      for (const [name, cb] of subs) this.opts.events.off(name, cb);
      subs.clear();
    });
    ws.on('message', (raw) => {
      try {
        this.onMessage(ws, subs, raw);
      } catch (e) {
        this.opts.log.error('api.failed', { transport: 'ws', error: (e as Error)?.message ?? String(e), stack: (e as Error)?.stack });
        this.reply(ws, errorEnvelope('INTERNAL', 'the hub failed to answer this message (see its log)'));
      }
    });
    // Rotated between the check of its token and now.
    if (token !== this.token) this.signOut(ws);
  }

  private onMessage(ws: WebSocket, subs: Subscriptions, raw: RawData): void {
    if (this.sockets.get(ws) !== this.token) {
      this.reply(ws, errorEnvelope('UNAUTHORIZED', 'the admin token changed: sign in again'));
      this.signOut(ws);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(String(raw));
    } catch {
      this.reply(ws, errorEnvelope('BAD_REQUEST', 'message is not JSON'));
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      this.reply(ws, errorEnvelope('BAD_REQUEST', 'a message must be a JSON object: {"id", "op", "input"}, {"subscribe": EVENT} or {"unsubscribe": EVENT}'));
      return;
    }
    const msg = parsed as { id?: unknown; op?: unknown; input?: unknown; subscribe?: unknown; unsubscribe?: unknown };
    // The id is echoed in the reply: a number or a short string, never a structure to re-encode.
    const idOk = msg.id === undefined || (typeof msg.id === 'number' && Number.isFinite(msg.id)) || (typeof msg.id === 'string' && msg.id.length <= 200);
    if (!idOk) {
      this.reply(ws, errorEnvelope('BAD_REQUEST', 'id must be a number or a string of at most 200 characters'));
      return;
    }
    const id = msg.id as WsId | undefined;
    if (msg.subscribe !== undefined || msg.unsubscribe !== undefined) {
      const name = msg.subscribe !== undefined ? msg.subscribe : msg.unsubscribe;
      if (typeof name !== 'string' || !EVENT_NAMES.includes(name as EventName)) {
        this.reply(ws, wsReply(id, errorEnvelope('BAD_REQUEST', `unknown event ${clip(String(JSON.stringify(name)))}; events: ${EVENT_NAMES.join(', ')}`)));
        return;
      }
      const ev = name as EventName;
      if (msg.subscribe !== undefined && !subs.has(ev)) {
        const cb = (data: unknown) => this.reply(ws, wsEvent(ev, data as EventMap[typeof ev]));
        subs.set(ev, cb);
        this.opts.events.on(ev, cb);
      } else if (msg.unsubscribe !== undefined && subs.has(ev)) {
        this.opts.events.off(ev, subs.get(ev)!);
        subs.delete(ev);
      }
      this.reply(ws, wsReply(id, okEnvelope(undefined)));
      return;
    }
    dispatch(this.opts.handlers, msg.op, msg.input).then(
      (result) => this.reply(ws, wsReply(id, okEnvelope(result))),
      (e: unknown) => {
        const err = wireError(e);
        if (err.code === 'INTERNAL') this.opts.log.error('api.failed', { transport: 'ws', op: clip(String(msg.op)), error: err.message, stack: (e as Error)?.stack });
        this.reply(ws, wsReply(id, errorEnvelope(err.code, err.message)));
      },
    ).catch((e: unknown) => this.opts.log.error('api.failed', { transport: 'ws', error: (e as Error)?.message ?? String(e), stack: (e as Error)?.stack }));
  }
}

/**
 * The body as text, or [status, reason] when it cannot be had: 413 past `max` bytes (announced
 * or sent), 400 when the client ends or breaks it early (the answer then goes nowhere, but
 * the reason is logged).
 */
function readBody(req: http.IncomingMessage, max = MAX_BODY): Promise<string | [number, string]> {
  const tooLarge: [number, string] = [413, `request body larger than ${max >= 1024 * 1024 ? `${max / 1024 / 1024} MiB` : `${max / 1024} KiB`}`];
  return new Promise((resolve) => {
    const announced = Number(req.headers['content-length']);
    if (Number.isFinite(announced) && announced > max) {
      req.resume();
      resolve(tooLarge);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (v: string | [number, string]) => {
      if (done) return;
      done = true;
      resolve(v);
    };
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > max) {
        finish(tooLarge);
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => finish(Buffer.concat(chunks).toString('utf8') || '{}'));
    req.on('error', (e) => finish([400, `request body: ${e.message}`]));
    req.on('close', () => finish([400, 'request body: the client went away before it ended']));
  });
}
