/**
 * What a node says of itself when it connects (hub/connection-facts.ts): kept when it is short
 * printable text, refused (and said why) otherwise; the host from the peer address.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HubStore } from '../../main/store/hub-store';
import { MAX_VERSION, MAX_WORKSPACE, connectionFactsOf, factsOf, helloFieldProblem } from '../../main/hub/connection-facts';

describe('facts from a Hello', () => {
  it('keeps version and workspace with the host of the peer', () => {
    expect(connectionFactsOf('127.0.0.1:4242', { version: '0.9.0', workspace: '/srv/ws' }, 5)).toEqual({
      facts: { host: '127.0.0.1', version: '0.9.0', workspace: '/srv/ws', at: 5 }, refused: {},
    });
  });

  it('takes an absent or empty field as not said (an older node)', () => {
    expect(connectionFactsOf('::1:1', { version: '0.8.0' }, 1).facts).toEqual({ host: '::1', version: '0.8.0', workspace: null, at: 1 });
    expect(connectionFactsOf('::1:1', { version: '', workspace: '' }, 1)).toEqual({ facts: { host: '::1', version: null, workspace: null, at: 1 }, refused: {} });
  });

  it('refuses what is too long, not text, or holds control or bidi characters, and says why', () => {
    const r = connectionFactsOf('10.0.0.1:1', { version: 'v'.repeat(MAX_VERSION + 1), workspace: '/ws/\u202egnp.exe' }, 1);
    expect(r.facts).toEqual({ host: '10.0.0.1', version: null, workspace: null, at: 1 });
    expect(r.refused).toEqual({ version: `longer than ${MAX_VERSION} characters`, workspace: 'holds control or invisible formatting characters' });
    expect(helloFieldProblem(42, 10)).toBe('not a string');
    expect(helloFieldProblem('/a\nb', 10)).toBe('holds control or invisible formatting characters');
    expect(helloFieldProblem('x'.repeat(MAX_WORKSPACE), MAX_WORKSPACE)).toBeNull();
    expect(helloFieldProblem('/home/zoë/项目 ws', MAX_WORKSPACE)).toBeNull();
  });

  it('gives the detail nulls for a node never seen', () => {
    expect(factsOf(null)).toEqual({ host: null, version: null, workspace: null, connectedAt: null });
    expect(factsOf({ host: 'h', version: 'v', workspace: 'w', at: 3 })).toEqual({ host: 'h', version: 'v', workspace: 'w', connectedAt: 3 });
  });
});

describe('the facts in the hub store', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-facts-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps the latest connection\'s facts across a reopen, marks the node seen, and reads nothing from a damaged record', () => {
    const file = path.join(dir, 'hub.db');
    const s = new HubStore(file);
    s.addNode('n1', 'one', 'secret');
    s.addNode('n2', 'two', 'secret');
    expect(s.connection('n1')).toBeNull();
    s.recordConnection('n1', { host: '10.0.0.1', version: '0.8.0', workspace: null, at: 100 });
    s.recordConnection('n1', { host: '10.0.0.2', version: '0.9.0', workspace: '/ws', at: 200 });
    expect(s.node('n1')!.lastSeen).toBe(200);
    expect(s.node('n2')!.lastSeen).toBeNull();
    s.setMeta('node.connection.n2', '{"host": 5');
    s.close();
    const again = new HubStore(file);
    expect(again.connection('n1')).toEqual({ host: '10.0.0.2', version: '0.9.0', workspace: '/ws', at: 200 });
    expect(again.connection('n2')).toBeNull();
    again.close();
  });
});
