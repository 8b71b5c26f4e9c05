/**
 * The HTTP client of the hub's API (main/contract/http.ts) against a real server on 127.0.0.1
 * that answers what each case needs: envelopes, typed errors, replies that are not envelopes,
 * and no reply at all.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractError } from '../../main/contract/envelope';
import { HubUnreachableError, INVOKE_PATH, httpInvoke, postInvoke } from '../../main/contract/http';

/** What the server saw of the last request. */
let seen: { method?: string; url?: string; auth?: string; type?: string; body: string } = { body: '' };
/** How the server answers the next request: status and raw body, or 'hang up'. */
let answer: [number, string] | 'hang up' = [200, '{}'];
let server: http.Server;
let base = '';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen = { method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body: Buffer.concat(chunks).toString() };
      if (answer === 'hang up') {
        res.socket?.destroy();
        return;
      }
      res.writeHead(answer[0], { 'Content-Type': 'application/json' });
      res.end(answer[1]);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function thrown(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('it did not throw');
}

describe('the HTTP transport', () => {
  it('posts {op, input} with the admin token to /api/invoke and returns the result', async () => {
    answer = [200, '{"ok":true,"result":{"token":"new"}}'];
    expect(await httpInvoke(base, 'secret token', 'token.rotate', {})).toEqual({ token: 'new' });
    expect(seen).toEqual({ method: 'POST', url: INVOKE_PATH, auth: 'Bearer secret token', type: 'application/json', body: '{"op":"token.rotate","input":{}}' });
    expect(INVOKE_PATH).toBe('/api/invoke');
  });

  it('throws the hub\'s typed error as a ContractError', async () => {
    answer = [409, '{"ok":false,"error":{"code":"CONFLICT","message":"a node named a exists"}}'];
    const e = await thrown(httpInvoke(base, 't', 'nodes.add', { name: 'a' }));
    expect(e).toBeInstanceOf(ContractError);
    expect(e).toMatchObject({ code: 'CONFLICT', message: 'a node named a exists' });
  });

  it('gives the status and the envelope of any request, hostile ones included', async () => {
    answer = [404, '{"ok":false,"error":{"code":"UNKNOWN_OP","message":"unknown operation \\"nope\\""}}'];
    expect(await postInvoke(base, 't', 'nope', [1])).toEqual({ status: 404, statusText: 'Not Found', envelope: { ok: false, error: { code: 'UNKNOWN_OP', message: 'unknown operation "nope"' } } });
    expect(JSON.parse(seen.body)).toEqual({ op: 'nope', input: [1] });
  });

  it('makes a reply that is not an envelope an INTERNAL error naming the status', async () => {
    for (const [status, body] of [[502, '<html>Bad Gateway</html>'], [200, ''], [200, 'null'], [500, '[]'], [200, '{"ok":1}']] as const) {
      answer = [status, body];
      expect((await postInvoke(base, 't', 'status', {})).envelope, body).toEqual({ ok: false, error: { code: 'INTERNAL', message: `HTTP ${status}` } });
      const e = await thrown(httpInvoke(base, 't', 'status', {}));
      expect(e).toBeInstanceOf(ContractError);
      expect(e).toMatchObject({ code: 'INTERNAL', message: `HTTP ${status}` });
    }
  });

  it('says the hub cannot be reached when nothing answers', async () => {
    answer = 'hang up';
    const hungUp = await thrown(postInvoke(base, 't', 'status', {}));
    expect(hungUp).toBeInstanceOf(HubUnreachableError);
    expect((hungUp as Error).message).toMatch(new RegExp(`^cannot reach the running hub at ${base}: `));
    const closed = `http://127.0.0.1:${await freePort()}`;
    const refused = await thrown(httpInvoke(closed, 't', 'status', {}));
    expect(refused).toBeInstanceOf(HubUnreachableError);
    expect(refused).toMatchObject({ url: closed, message: `cannot reach the running hub at ${closed}: ${(refused as HubUnreachableError).detail}` });
    // Says why (fetch's own message is only "fetch failed").
    expect((refused as HubUnreachableError).detail).toMatch(/ECONNREFUSED/);
  });

  it('stops waiting when its signal aborts', async () => {
    const e = await thrown(httpInvoke(base, 't', 'status', {}, { signal: AbortSignal.abort(new Error('gave up')) }));
    expect(e).toBeInstanceOf(HubUnreachableError);
    expect((e as Error).message).toContain('gave up');
  });
});

/** A port nothing listens on (taken from the OS, then released). */
async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}
