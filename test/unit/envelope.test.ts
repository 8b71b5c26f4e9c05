/**
 * The contract's envelope (main/contract/envelope.ts): what every transport sends, and what a
 * client makes of whatever a peer sends back, hostile or broken replies included.
 */
import { describe, expect, it } from 'vitest';
import {
  ContractError, ERROR_CODES, decodeEnvelope, errorEnvelope, isErrorCode, okEnvelope, unwrap, wireError,
} from '../../main/contract/envelope';

describe('envelope encoding', () => {
  it('wraps a result and a typed error', () => {
    expect(okEnvelope({ a: 1 })).toEqual({ ok: true, result: { a: 1 } });
    expect(okEnvelope(undefined)).toEqual({ ok: true, result: undefined });
    expect(errorEnvelope('NOT_FOUND', 'no node x')).toEqual({ ok: false, error: { code: 'NOT_FOUND', message: 'no node x' } });
    // The JSON every transport puts on the wire, key order included.
    expect(JSON.stringify(okEnvelope([1]))).toBe('{"ok":true,"result":[1]}');
    expect(JSON.stringify(errorEnvelope('CONFLICT', 'm'))).toBe('{"ok":false,"error":{"code":"CONFLICT","message":"m"}}');
  });

  it('turns a ContractError into its own code and anything else thrown into INTERNAL', () => {
    expect(wireError(new ContractError('BAD_REQUEST', 'status: bad'))).toEqual({ code: 'BAD_REQUEST', message: 'status: bad' });
    expect(wireError(new TypeError('x is undefined'))).toEqual({ code: 'INTERNAL', message: 'x is undefined' });
    expect(wireError('a string')).toEqual({ code: 'INTERNAL', message: 'a string' });
    expect(wireError(null)).toEqual({ code: 'INTERNAL', message: 'null' });
    expect(wireError(undefined)).toEqual({ code: 'INTERNAL', message: 'undefined' });
    expect(wireError({ code: 'NOT_FOUND', message: 'looks typed' })).toEqual({ code: 'INTERNAL', message: 'looks typed' });
  });

  it('knows exactly the contract\'s error codes', () => {
    for (const c of ERROR_CODES) expect(isErrorCode(c)).toBe(true);
    for (const c of ['', 'internal', 'NOPE', 'toString', '__proto__', 1, null, undefined, {}, ['INTERNAL']]) expect(isErrorCode(c), String(c)).toBe(false);
  });
});

describe('envelope decoding of whatever a peer sends', () => {
  it('round-trips what the encoders make', () => {
    for (const env of [okEnvelope({ n: 1 }), okEnvelope(null), okEnvelope('s'), errorEnvelope('UNAUTHORIZED', 'wrong token'), ...ERROR_CODES.map((c) => errorEnvelope(c, c))]) {
      expect(decodeEnvelope(JSON.parse(JSON.stringify(env)))).toEqual(env);
    }
  });

  it('takes only a literal ok: true for a result', () => {
    expect(decodeEnvelope({ ok: true })).toEqual({ ok: true, result: undefined });
    for (const ok of [1, 'true', 'yes', {}, [], null, undefined, false]) {
      expect(decodeEnvelope({ ok, result: 5 }), JSON.stringify(ok)).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'malformed reply' } });
    }
  });

  it('makes a non-object an INTERNAL error with the fallback message', () => {
    for (const body of [null, undefined, 0, 42, '', '{"ok":true}', true, false, [], [{ ok: true, result: 1 }]]) {
      expect(decodeEnvelope(body), JSON.stringify(body)).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'malformed reply' } });
      expect(decodeEnvelope(body, 'HTTP 502')).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'HTTP 502' } });
    }
  });

  it('keeps what is usable of a broken error and fills in the rest', () => {
    const d = (error: unknown) => decodeEnvelope({ ok: false, error }, 'HTTP 500');
    expect(d(undefined)).toEqual(errorEnvelope('INTERNAL', 'HTTP 500'));
    expect(d(null)).toEqual(errorEnvelope('INTERNAL', 'HTTP 500'));
    expect(d('boom')).toEqual(errorEnvelope('INTERNAL', 'HTTP 500'));
    expect(d({})).toEqual(errorEnvelope('INTERNAL', 'HTTP 500'));
    expect(d({ code: 'NOT_FOUND' })).toEqual(errorEnvelope('NOT_FOUND', 'HTTP 500'));
    expect(d({ message: 'it broke' })).toEqual(errorEnvelope('INTERNAL', 'it broke'));
    expect(d({ code: 'MADE_UP', message: 'm' })).toEqual(errorEnvelope('INTERNAL', 'm'));
    expect(d({ code: 404, message: 404 })).toEqual(errorEnvelope('INTERNAL', 'HTTP 500'));
    expect(d({ code: ['NOT_FOUND'], message: ['m'] })).toEqual(errorEnvelope('INTERNAL', 'HTTP 500'));
    expect(d({ code: 'toString', message: 'm' })).toEqual(errorEnvelope('INTERNAL', 'm'));
    // Nothing but code and message is carried over.
    expect(decodeEnvelope({ ok: false, error: { code: 'CONFLICT', message: 'm', stack: 'secret' }, extra: 1 })).toEqual(errorEnvelope('CONFLICT', 'm'));
  });

  it('unwraps a result, and throws an error as the ContractError it stands for', () => {
    expect(unwrap(okEnvelope(7))).toBe(7);
    let thrown: unknown;
    try {
      unwrap(decodeEnvelope({ ok: false, error: { code: 'CONFLICT', message: 'a node named x exists' } }));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ContractError);
    expect((thrown as ContractError).code).toBe('CONFLICT');
    expect((thrown as ContractError).message).toBe('a node named x exists');
    expect(() => unwrap(decodeEnvelope('junk'))).toThrow(new ContractError('INTERNAL', 'malformed reply'));
  });
});
