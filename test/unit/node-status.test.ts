/** The status decisions as data: a node's state from its facts, and the log filter of logs.recent. */
import { describe, expect, it } from 'vitest';
import { nodeState, type StateFacts } from '../../main/hub/node-status';
import { recentLogs } from '../../main/hub/handlers';
import type { LogEntry } from '../../main/util/log';

const facts = (over: Partial<StateFacts>): StateFacts => ({
  retired: false, paused: false, connected: true, everConnected: true, errors: 0, indexed: true, settled: true, reportedProblems: 0, ...over,
});

describe('nodeState', () => {
  it.each<[string, Partial<StateFacts>, ReturnType<typeof nodeState>]>([
    ['settled with nothing reported', {}, 'in-sync'],
    ['retired, whatever else', { retired: true, connected: true, errors: 3 }, 'retired'],
    ['no session', { connected: false, errors: 2 }, 'disconnected'],
    ['never connected: new, not disconnected', { connected: false, everConnected: false }, 'new'],
    ['never connected, with stored problems: still new', { connected: false, everConnected: false, errors: 2 }, 'new'],
    ['retired before it ever connected', { retired: true, connected: false, everConnected: false }, 'retired'],
    ['an error (failure, node problem, blocking report)', { errors: 1 }, 'error'],
    ['an error before its first index', { errors: 1, indexed: false }, 'error'],
    ['connected, no index yet', { indexed: false }, 'connected'],
    ['not settled (work queued, echoes or a sweep due)', { settled: false }, 'syncing'],
    ['settled but a path it cannot send (not blocking)', { reportedProblems: 1 }, 'syncing'],
    ['paused, even when everything else says in-sync', { paused: true }, 'paused'],
    ['paused and not connected', { paused: true, connected: false }, 'paused'],
    ['paused with an error (the problems count still shows it)', { paused: true, errors: 2 }, 'paused'],
    ['paused and retired', { paused: true, retired: true }, 'retired'],
  ])('%s', (_what, over, state) => {
    expect(nodeState(facts(over))).toBe(state);
  });
});

describe('recentLogs', () => {
  const e = (level: LogEntry['level'], msg: string, node?: string): LogEntry => ({ t: '', level, component: 'hub', msg, ...(node ? { node } : {}) });
  const ring = [e('debug', 'a'), e('info', 'b', 'n1'), e('warn', 'c', 'n2'), e('error', 'd', 'n1'), e('info', 'e')];

  it('keeps the level asked for and the more severe, of one node if asked, the newest last', () => {
    expect(recentLogs(ring, {}).map((x) => x.msg)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(recentLogs(ring, { level: 'info' }).map((x) => x.msg)).toEqual(['b', 'c', 'd', 'e']);
    expect(recentLogs(ring, { level: 'warn' }).map((x) => x.msg)).toEqual(['c', 'd']);
    expect(recentLogs(ring, { level: 'error' }).map((x) => x.msg)).toEqual(['d']);
    expect(recentLogs(ring, { node: 'n1' }).map((x) => x.msg)).toEqual(['b', 'd']);
    expect(recentLogs(ring, { limit: 2 }).map((x) => x.msg)).toEqual(['d', 'e']);
  });
});
