/**
 * The API server's first checks, as pure functions: request targets parsed without throwing,
 * the Host allowlist (DNS-rebinding defence) and Origins, and the bound on stored JSON objects.
 */
import { describe, expect, it } from 'vitest';
import { jsonObjectProblem } from '../../main/contract';
import { allowedHosts, decodeSegment, hostAllowed, originAllowed, parseTarget } from '../../main/server/guards';

describe('parseTarget', () => {
  it('takes origin-form paths as sent, never decoding or throwing', () => {
    for (const raw of ['//', '/%', '/%zz', '/api/hooks/agents/%E0%A4%A', '/a?%zz=%E0', '/a?b=1&b=2', `/${'x'.repeat(100_000)}`]) {
      const t = parseTarget(raw);
      expect('error' in t, raw.slice(0, 40)).toBe(false);
    }
    expect(parseTarget('//')).toMatchObject({ path: '//', authority: null });
    const q = parseTarget('/api/ws?token=a%2Bb&x=%zz');
    expect(q).toMatchObject({ path: '/api/ws' });
    expect(!('error' in q) && q.query.get('token')).toBe('a+b');
  });

  it('takes absolute-form with its authority, and refuses the rest', () => {
    expect(parseTarget('http://Evil.Example:81/x?y=1')).toMatchObject({ path: '/x', authority: 'evil.example:81' });
    for (const raw of ['*', '', undefined, 'index.html', 'https://evil.example/', 'http://[::1/x', 'ftp://x/']) {
      expect(parseTarget(raw), String(raw)).toHaveProperty('error');
    }
  });

  it('decodes a segment or says null', () => {
    expect(decodeSegment('a%20b')).toBe('a b');
    expect(decodeSegment('%E0%A4%A')).toBeNull();
    expect(decodeSegment('%zz')).toBeNull();
  });
});

describe('the Host allowlist', () => {
  const machine = { addresses: ['192.168.1.5', 'fe80::1', '127.0.0.1'], hostname: 'Hub-Box' };

  it('on loopback: the loopback names with the port, nothing else', () => {
    const a = allowedHosts('127.0.0.1', 7444, machine);
    for (const h of ['127.0.0.1:7444', 'localhost:7444', 'LOCALHOST:7444', '[::1]:7444']) expect(hostAllowed(a, h), h).toBe(true);
    for (const h of ['127.0.0.1', 'localhost', '127.0.0.1:7445', 'evil.example:7444', '192.168.1.5:7444', 'hub-box:7444', '', null, undefined, 'localhost:7444.evil', 'localhost.:7444']) {
      expect(hostAllowed(a, h), String(h)).toBe(false);
    }
  });

  it('a configured address is allowed too; on every interface, the machine\'s own addresses and name', () => {
    expect(hostAllowed(allowedHosts('10.0.0.2', 80, machine), '10.0.0.2')).toBe(true);
    expect(hostAllowed(allowedHosts('10.0.0.2', 80, machine), '10.0.0.2:80')).toBe(true);
    expect(hostAllowed(allowedHosts('::1', 9000, machine), '[::1]:9000')).toBe(true);
    const any = allowedHosts('0.0.0.0', 7444, machine);
    for (const h of ['0.0.0.0:7444', '192.168.1.5:7444', '[fe80::1]:7444', 'hub-box:7444', 'localhost:7444']) expect(hostAllowed(any, h), h).toBe(true);
    expect(hostAllowed(any, 'evil.example:7444')).toBe(false);
  });

  it('an Origin is allowed when it is http:// on an allowed host', () => {
    const a = allowedHosts('127.0.0.1', 7444, machine);
    expect(originAllowed(a, 'http://127.0.0.1:7444')).toBe(true);
    expect(originAllowed(a, 'http://localhost:7444')).toBe(true);
    for (const o of ['http://evil.example', 'https://127.0.0.1:7444', 'null', 'http://127.0.0.1:7444/x', 'file://']) expect(originAllowed(a, o), o).toBe(false);
  });
});

describe('jsonObjectProblem', () => {
  it('passes ordinary objects and refuses deep or big ones without overflowing', () => {
    expect(jsonObjectProblem({ a: { b: [1, 2, { c: 'd' }] } })).toBeNull();
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 200_000; i++) deep = { a: deep };
    expect(jsonObjectProblem(deep)).toBe('nested deeper than 32 levels');
    expect(jsonObjectProblem({ blob: 'x'.repeat(70 * 1024) })).toMatch(/^larger than 64 KiB as JSON/);
    expect(jsonObjectProblem(Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [i, 0])))).toBe('larger than 64 KiB as JSON');
  });
});
