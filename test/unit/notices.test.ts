/**
 * What deserves a notification (main/contract/notices.ts), as a table over successive statuses
 * and a clock: each kind told once, after the set time for a disconnection, never for what was
 * so at first sight, each switch honoured, and a burst told as one summary after the quiet time.
 */
import { describe, expect, it } from 'vitest';
import { defaultSettings, type NodeStatus } from '../../main/contract';
import { QUIET_MS, duration, emptyWatch, messageOf, noticePrefs, watchStep, type NoticeMessage, type NoticePrefs, type NoticeWatch } from '../../main/contract/notices';
import { deliveryOf, notificationPermission, viewOf } from '../../renderer/src/notify';
import { node } from '../helpers/status';

const prefs = (over: Partial<NoticePrefs> = {}): NoticePrefs => ({ ...noticePrefs({ ...defaultSettings(), notifyDisconnectedAfterSeconds: 60 }), ...over });

/** Feeds statuses at given times; collects what would be shown. */
function run(steps: [number, NodeStatus[]][], p = prefs()): { shown: NoticeMessage[]; watch: NoticeWatch } {
  let watch = emptyWatch();
  const shown: NoticeMessage[] = [];
  for (const [t, nodes] of steps) {
    const r = watchStep(watch, nodes, t, p);
    watch = r.watch;
    if (r.show) shown.push(r.show);
  }
  return { shown, watch };
}

const alpha = (over: Partial<NodeStatus> = {}) => node('a', { name: 'alpha', ...over });
const beta = (over: Partial<NodeStatus> = {}) => node('b', { name: 'beta', ...over });

describe('notices', () => {
  it('tell a disconnection once, when it has lasted the set time, and again for the next one', () => {
    const up = [alpha()];
    const down = [alpha({ state: 'disconnected', connected: false })];
    const { shown } = run([[0, up], [1000, down], [60_000, down], [61_000, down], [62_000, down], [200_000, down], [300_000, up], [310_000, down], [371_000, down], [400_000, down]]);
    expect(shown.map((s) => [s.title, s.body])).toEqual([
      ['alpha disconnected', 'Not connected to the hub for 1 min; its changes wait on the node.'],
      ['alpha disconnected', 'Not connected to the hub for 1 min; its changes wait on the node.'],
    ]);
  });

  it('do not tell a disconnection shorter than the set time', () => {
    const { shown } = run([[0, [alpha()]], [1000, [alpha({ state: 'disconnected' })]], [60_000, [alpha({ state: 'disconnected' })]], [60_500, [alpha()]], [500_000, [alpha()]]]);
    expect(shown).toEqual([]);
  });

  it('never tell what was so at first sight: a node down, in error, with problems or conflicts', () => {
    const first = [alpha({ state: 'disconnected' }), beta({ state: 'error', problems: 3, conflicts: 2 })];
    expect(run([[0, first], [100_000, first], [900_000, first]]).shown).toEqual([]);
  });

  it('never tell about new, paused or retired nodes going down', () => {
    for (const state of ['new', 'paused', 'retired'] as const) {
      const { shown } = run([[0, [alpha({ state })]], [1000, [alpha({ state, conflicts: state === 'retired' ? 5 : 0 })]], [900_000, [alpha({ state })]]]);
      expect(shown, state).toEqual([]);
    }
  });

  it('tell a node going to error with its failure, and fold the problems that caused it into that one notice', () => {
    const failure = { path: 'caf\ufffd.txt', code: 'EILSEQ', message: 'not UTF-8', at: 1 };
    const { shown } = run([[0, [alpha()]], [1000, [alpha({ state: 'error', problems: 1, lastError: failure })]], [2000, [alpha({ state: 'error', problems: 1, lastError: failure })]]]);
    expect(shown.map((s) => [s.title, s.body])).toEqual([['alpha: error', 'caf\ufffd.txt: not UTF-8']]);
    // No failure of the hub's to tell: the count of the node's problems.
    expect(run([[0, [beta()]], [1000, [beta({ state: 'error', problems: 2 })]]]).shown.map((s) => s.body)).toEqual(['2 problems: the node detail says what and why']);
  });

  it('tell new problems and new conflicts by how many, not when counts fall', () => {
    const { shown } = run([[0, [alpha({ conflicts: 1 })]], [1000, [alpha({ conflicts: 3 })]], [20_000, [alpha({ conflicts: 0 })]], [40_000, [alpha({ conflicts: 0, problems: 2 })]]]);
    expect(shown.map((s) => s.title)).toEqual(['2 new conflicts on alpha', '2 new problems on alpha']);
  });

  it('tell a new conflict when another was resolved meanwhile (the count stayed the same, the newest conflict is newer)', () => {
    const { shown } = run([[0, [alpha({ conflicts: 1, lastConflictAt: 100 })]], [1000, [alpha({ conflicts: 1, lastConflictAt: 900 })]], [20_000, [alpha({ conflicts: 0, lastConflictAt: 900 })]]]);
    expect(shown.map((s) => s.title)).toEqual(['1 new conflict on alpha']);
    // The log trimmed (no conflict kept any more): not news.
    expect(run([[0, [alpha({ conflicts: 0, lastConflictAt: 100 })]], [1000, [alpha({ conflicts: 0, lastConflictAt: null })]]]).shown).toEqual([]);
  });

  it('honour each switch, and a switched-off event is not told later when switched on', () => {
    const down = alpha({ state: 'disconnected' });
    const steps: [number, NodeStatus[]][] = [[0, [alpha(), beta()]], [1000, [down, beta({ state: 'error', problems: 1, conflicts: 1 })]], [70_000, [down, beta({ state: 'error', problems: 2, conflicts: 1 })]]];
    const kinds = (p: NoticePrefs) => run(steps, p).shown.flatMap((s) => s.notices.map((n) => `${n.kind}:${n.name}`)).sort();
    expect(kinds(prefs())).toEqual(['conflicts:beta', 'disconnected:alpha', 'error:beta', 'problems:beta']);
    expect(kinds(prefs({ disconnected: false }))).toEqual(['conflicts:beta', 'error:beta', 'problems:beta']);
    expect(kinds(prefs({ conflicts: false }))).toEqual(['disconnected:alpha', 'error:beta', 'problems:beta']);
    // With error notices off, the problem that came with the error is told as a problem (then the next one).
    expect(kinds(prefs({ error: false }))).toEqual(['conflicts:beta', 'disconnected:alpha', 'problems:beta', 'problems:beta']);
    expect(kinds(prefs({ problems: false }))).toEqual(['conflicts:beta', 'disconnected:alpha', 'error:beta']);
    expect(kinds(prefs({ disconnected: false, error: false, problems: false, conflicts: false }))).toEqual([]);
    // Switched on after the disconnection passed the set time: that one is not told late.
    const { watch } = run(steps.slice(0, 3), prefs({ disconnected: false }));
    expect(watchStep(watch, [down, beta({ state: 'error', problems: 2, conflicts: 1 })], 200_000, prefs()).show).toBeNull();
  });

  it('tell a burst as one summary: the first event at once, the rest together after the quiet time', () => {
    const nodes = (k: number, over: Partial<NodeStatus>) => Array.from({ length: 8 }, (_, i) => node(`n${i}`, { name: `n${i}`, ...(i < k ? over : {}) }));
    let watch = emptyWatch();
    const shown: NoticeMessage[] = [];
    const step = (t: number, ns: NodeStatus[]) => {
      const r = watchStep(watch, ns, t, prefs());
      watch = r.watch;
      if (r.show) shown.push(r.show);
    };
    step(0, nodes(0, {}));
    step(1000, nodes(1, { conflicts: 1 }));
    expect(shown.map((s) => s.title)).toEqual(['1 new conflict on n0']);
    // Seven more nodes get conflicts one after the other within the quiet time: nothing yet.
    for (let k = 2; k <= 8; k++) step(1000 + k * 100, nodes(k, { conflicts: 1 }));
    step(1000 + QUIET_MS - 1, nodes(8, { conflicts: 1 }));
    expect(shown).toHaveLength(1);
    step(1000 + QUIET_MS, nodes(8, { conflicts: 1 }));
    expect(shown).toHaveLength(2);
    expect(shown[1]!.title).toBe('Cortex Hub: 7 new conflicts');
    expect(shown[1]!.body.split('\n')).toEqual(['1 new conflict on n1', '1 new conflict on n2', '1 new conflict on n3', '1 new conflict on n4', '1 new conflict on n5', 'and 2 more']);
    expect(shown[0]!.tag).not.toBe(shown[1]!.tag);
    // Quiet afterwards: nothing more, however often it looks.
    for (let t = 12_000; t < 100_000; t += 1000) step(t, nodes(8, { conflicts: 1 }));
    expect(shown).toHaveLength(2);
  });

  it('count one node and kind once in a summary, adding its counts', () => {
    const m = messageOf([
      { kind: 'disconnected', nodeId: 'a', name: 'alpha', count: 1, detail: null, forMs: 3_720_000 },
      { kind: 'error', nodeId: 'b', name: 'beta', count: 1, detail: 'disk full', forMs: 0 },
      { kind: 'problems', nodeId: 'c', name: 'gamma', count: 4, detail: null, forMs: 0 },
    ], 5);
    expect(m.title).toBe('Cortex Hub: 1 node disconnected, 1 in error, 4 new problems');
    expect(m.body).toBe('alpha disconnected (1 h 2 min)\nbeta in error: disk full\n4 new problems on gamma');
    // One tag for the same events told by two pages within the minute; another for other events or later.
    expect(messageOf(m.notices, 59_999).tag).toBe(m.tag);
    expect(messageOf(m.notices, 60_000).tag).not.toBe(m.tag);
    expect(messageOf(m.notices.slice(1), 5).tag).not.toBe(m.tag);
    expect(messageOf([{ ...m.notices[2]!, count: 5 }], 5).tag).not.toBe(messageOf([m.notices[2]!], 5).tag);
    let watch = emptyWatch();
    watch = watchStep(watch, [alpha()], 0, prefs()).watch;
    watch = watchStep(watch, [alpha({ conflicts: 1 })], 1, prefs()).watch;
    const held = watchStep(watchStep(watch, [alpha({ conflicts: 2 })], 2, prefs()).watch, [alpha({ conflicts: 5 })], 3, prefs()).watch;
    expect(held.held).toEqual([expect.objectContaining({ kind: 'conflicts', nodeId: 'a', count: 4 })]);
    expect(watchStep(held, [alpha({ conflicts: 5 })], QUIET_MS + 1, prefs()).show?.title).toBe('4 new conflicts on alpha');
  });

  it('say durations in whole units', () => {
    expect([duration(0), duration(44_600), duration(60_000), duration(3_599_000), duration(7_200_000), duration(7_260_000)]).toEqual(['0 s', '45 s', '1 min', '59 min', '2 h', '2 h 1 min']);
  });
});

describe('how the page tells a notice (renderer/src/notify.ts)', () => {
  it('uses the Notification API only when granted, a toast otherwise, and nothing inside the desktop app', () => {
    expect(deliveryOf(false, 'granted')).toBe('system');
    for (const p of ['default', 'denied', 'unsupported'] as const) expect(deliveryOf(false, p), p).toBe('toast');
    for (const p of ['granted', 'default', 'denied', 'unsupported'] as const) expect(deliveryOf(true, p), p).toBe('none');
    expect(notificationPermission({})).toBe('unsupported');
    expect(notificationPermission({ Notification: { permission: 'denied' } })).toBe('denied');
  });

  it('leads to the Conflicts view, the one node, or the overview', () => {
    const n = (kind: 'conflicts' | 'error', nodeId: string) => ({ kind, nodeId, name: nodeId, count: 1, detail: null, forMs: 0 });
    expect(viewOf({ notices: [n('conflicts', 'a'), n('conflicts', 'b')] })).toEqual({ name: 'conflicts' });
    expect(viewOf({ notices: [n('conflicts', 'a'), n('error', 'a')] })).toEqual({ name: 'node', id: 'a' });
    expect(viewOf({ notices: [n('error', 'a'), n('error', 'b')] })).toEqual({ name: 'nodes' });
  });
});
