import { describe, expect, it } from 'vitest';
import { decodeJoin, encodeJoin } from '../../main/sync/join';

const fp = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, '0').toUpperCase()).join(':');

describe('join strings', () => {
  it('round-trip', () => {
    const j = { hub: '10.0.0.2:7443', node: 'abc', token: 'secret', fp };
    expect(decodeJoin(encodeJoin(j))).toEqual(j);
    expect(decodeJoin(`  ${encodeJoin(j)}\n`)).toEqual(j);
  });

  it.each([
    ['garbage', /must start with/],
    ['cortex1.!!!!', /truncated or corrupted|missing/],
    [`cortex1.${Buffer.from('{"hub":"h:1"}').toString('base64url')}`, /field "node" is missing/],
    [`cortex1.${Buffer.from(JSON.stringify({ hub: 'nohostport', node: 'a', token: 't', fp })).toString('base64url')}`, /host:port/],
    [`cortex1.${Buffer.from(JSON.stringify({ hub: 'h:1', node: 'a', token: 't', fp: 'AB' })).toString('base64url')}`, /fingerprint/],
  ])('refuses %j with a clear reason', (s, re) => {
    expect(() => decodeJoin(s)).toThrow(re);
  });
});

describe('node tokens', () => {
  it('never start with "-" (cortex-node --token X would read it as an option; 1 in 64 did)', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { HubService } = await import('../../main/hub/hub-service');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-tokens-'));
    const hub = await HubService.open({ dataDir: dir, mode: 'admin', consoleLevel: false });
    try {
      const tokens = Array.from({ length: 400 }, (_, i) => decodeJoin(hub.addNode(`node ${i}`).join).token);
      expect(tokens.filter((t) => t.startsWith('-'))).toEqual([]);
      expect(new Set(tokens).size).toBe(400);
    } finally {
      await hub.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
