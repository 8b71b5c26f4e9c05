/**
 * The WebSocket messages both ends share (main/contract/ws.ts): what the hub puts on the wire,
 * and what a client makes of whatever arrives.
 */
import { describe, expect, it } from 'vitest';
import { errorEnvelope, okEnvelope } from '../../main/contract/envelope';
import { WS_PATH, decodeWsServerMessage, wsEvent, wsReply, wsUrl } from '../../main/contract/ws';

const malformed = { ok: false, error: { code: 'INTERNAL', message: 'malformed reply' } };

describe('WebSocket messages', () => {
  it('builds the URL from the page or hub address', () => {
    expect(WS_PATH).toBe('/api/ws');
    expect(wsUrl('http://127.0.0.1:4321', 'a b&c')).toBe('ws://127.0.0.1:4321/api/ws?token=a%20b%26c');
    expect(wsUrl('https://[::1]:9', 't')).toBe('wss://[::1]:9/api/ws?token=t');
  });

  it('puts answers and events on the wire as the hub always has', () => {
    expect(JSON.stringify(wsReply(3, okEnvelope({ n: 1 })))).toBe('{"id":3,"ok":true,"result":{"n":1}}');
    // An (un)subscription's answer: no result.
    expect(JSON.stringify(wsReply('s1', okEnvelope(undefined)))).toBe('{"id":"s1","ok":true}');
    expect(JSON.stringify(wsReply(undefined, errorEnvelope('BAD_REQUEST', 'message is not JSON')))).toBe('{"ok":false,"error":{"code":"BAD_REQUEST","message":"message is not JSON"}}');
    expect(JSON.stringify(wsEvent('log', { t: 1 } as never))).toBe('{"event":"log","data":{"t":1}}');
  });

  it('reads what the hub sends back as it was sent', () => {
    for (const msg of [wsReply(1, okEnvelope([1, 2])), wsReply('x', errorEnvelope('UNAUTHORIZED', 'sign in'))]) {
      expect(decodeWsServerMessage(JSON.stringify(msg))).toEqual({ id: msg.id, envelope: { ...msg, id: undefined } });
    }
    expect(decodeWsServerMessage(JSON.stringify(wsReply(undefined, errorEnvelope('BAD_REQUEST', 'm'))))).toEqual({ id: undefined, envelope: errorEnvelope('BAD_REQUEST', 'm') });
    expect(decodeWsServerMessage('{"event":"status","data":{"nodes":[]}}')).toEqual({ event: 'status', data: { nodes: [] } });
    expect(decodeWsServerMessage('{"event":"status"}')).toEqual({ event: 'status', data: undefined });
  });

  it('ignores what is neither an answer nor an event', () => {
    for (const text of ['', 'not json', '{', 'null', '42', '"s"', 'true', '{"event":3,"data":1}', '{"event":null}', '{"event":{"x":1}}']) {
      expect(decodeWsServerMessage(text), text).toBeNull();
    }
  });

  it('makes a broken answer a typed error, keeping only a usable id', () => {
    expect(decodeWsServerMessage('{"id":5}')).toEqual({ id: 5, envelope: malformed });
    expect(decodeWsServerMessage('{"id":5,"ok":"yes","result":1}')).toEqual({ id: 5, envelope: malformed });
    expect(decodeWsServerMessage('{"id":{"a":1},"ok":true,"result":1}')).toEqual({ id: undefined, envelope: okEnvelope(1) });
    expect(decodeWsServerMessage('{"id":[7],"ok":false}')).toEqual({ id: undefined, envelope: malformed });
    expect(decodeWsServerMessage('{"id":6,"ok":false,"error":{"code":"EVIL","message":"m"}}')).toEqual({ id: 6, envelope: errorEnvelope('INTERNAL', 'm') });
    expect(decodeWsServerMessage('[1,2]')).toEqual({ id: undefined, envelope: malformed });
  });
});
