/**
 * The decisions behind pause, resume and rescan as data: which nodes an operation is about
 * (pauseTargets), what of a node's rescan answer is taken (rescanAnswer), and the waits for
 * those answers (RescanWaits: answered, late, refused, ended), with fake timers only.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { operations } from '../../main/contract';
import { ContractError } from '../../main/contract/envelope';
import { pauseTargets } from '../../main/hub/node-controls';
import { RescanWaits, rescanAnswer, type SideAnswer } from '../../main/hub/rescans';
import type { NodeRecord } from '../../main/store/hub-store';

const rec = (id: string, over: Partial<NodeRecord> = {}): NodeRecord => ({
  id, name: `n-${id}`, createdAt: 1, retiredAt: null, lastSeen: null, indexId: null, ackedSeq: 0, settings: {}, hubSeq: 0, hubAcked: 0, pausedAt: null, ...over,
});
const nodes = [rec('a'), rec('b', { pausedAt: 5 }), rec('gone', { retiredAt: 9 })];

describe('pauseTargets', () => {
  it('all: every active node, paused or not; never a retired one', () => {
    expect(pauseTargets(nodes, { all: true }, true).map((n) => n.id)).toEqual(['a', 'b']);
    expect(pauseTargets(nodes, { all: true }, false).map((n) => n.id)).toEqual(['a', 'b']);
    expect(pauseTargets([rec('x', { retiredAt: 1 })], { all: true }, true)).toEqual([]);
  });

  it('one id: that node; unknown is NOT_FOUND, retired is CONFLICT', () => {
    expect(pauseTargets(nodes, { id: 'b' }, false).map((n) => n.id)).toEqual(['b']);
    const refusal = (id: string) => {
      try {
        pauseTargets(nodes, { id }, true);
      } catch (e) {
        return e instanceof ContractError ? `${e.code}: ${e.message}` : String(e);
      }
      return 'none';
    };
    expect(refusal('nope')).toBe('NOT_FOUND: no node with id nope');
    expect(refusal('gone')).toBe('CONFLICT: node gone is retired: there is no sync to pause');
  });

  it('the contract takes exactly one of id and all: true', () => {
    const input = operations['nodes.pause'].input;
    expect(input.safeParse({ id: 'a' }).success).toBe(true);
    expect(input.safeParse({ all: true }).success).toBe(true);
    for (const bad of [{}, { id: 'a', all: true }, { all: false }, { id: '' }, { id: 'x'.repeat(65) }, { id: 'a', extra: 1 }, { all: 'yes' }]) {
      expect(input.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
      expect(operations['nodes.resume'].input.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('rescanAnswer', () => {
  const good = { id: 3, scanned: 10, changed: 2, deleted: 1, hashedFiles: 2, hashedBytes: 300, problems: 0, ms: 12.4, error: '' };

  it('takes a well-formed answer (ms rounded)', () => {
    expect(rescanAnswer(good)).toEqual({ id: 3, answer: { ok: true, side: { scanned: 10, changed: 2, deleted: 1, hashedFiles: 2, hashedBytes: 300, problems: 0, ms: 12 } } });
  });

  it('an answer with an error is a side without result, saying why', () => {
    expect(rescanAnswer({ ...good, error: 'EACCES' })).toEqual({ id: 3, answer: { ok: false, why: "the node's rescan failed: EACCES" } });
  });

  it.each<[string, unknown, string]>([
    ['not an object', 'x', 'a rescan answer must be a message'],
    ['id 0 (a hub that asked with no id)', { ...good, id: 0 }, 'rescan answer id 0 is not a positive integer'],
    ['a negative count', { ...good, changed: -1 }, 'rescan answer field changed is not a valid count: -1'],
    ['a fractional count', { ...good, scanned: 1.5 }, 'rescan answer field scanned is not a valid count: 1.5'],
    ['an infinite time', { ...good, ms: Infinity }, 'rescan answer field ms is not a valid count: Infinity'],
    ['a count past 2^53', { ...good, hashedBytes: 2 ** 60 }, `rescan answer field hashedBytes is not a valid count: ${2 ** 60}`],
  ])('refuses %s', (_what, m, why) => {
    expect(rescanAnswer(m)).toBe(why);
  });
});

describe('RescanWaits', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  const answer = (id: number, scanned = 1) => ({ id, scanned, changed: 0, deleted: 0, hashedFiles: 0, hashedBytes: 0, problems: 0, ms: 1, error: '' });

  it('settles a wait with the answer of its id from its session only', async () => {
    const late: [string, SideAnswer][] = [];
    const w = new RescanWaits((id, a) => late.push([id, a]));
    const s1 = {};
    const s2 = {};
    const sent: number[] = [];
    const p = w.ask(s1, 'n1', (id) => sent.push(id), 1000);
    expect(sent).toHaveLength(1);
    expect(w.answered(s2, answer(sent[0]!))).toBe(`rescan answer ${sent[0]} answers no rescan asked of this node`);
    expect(w.answered(s1, answer(sent[0]! + 1))).toMatch(/answers no rescan/);
    expect(w.answered(s1, answer(sent[0]!, 42))).toBeNull();
    expect(await p).toMatchObject({ ok: true, side: { scanned: 42 } });
    // Answered once: the same answer again is refused.
    expect(w.answered(s1, answer(sent[0]!))).toMatch(/answers no rescan/);
    expect(late).toEqual([]);
  });

  it('after the wait, says why; the answer that comes later goes to `late`', async () => {
    const late: [string, SideAnswer][] = [];
    const w = new RescanWaits((id, a) => late.push([id, a]));
    const s = {};
    let rid = 0;
    const p = w.ask(s, 'n1', (id) => { rid = id; }, 30_000);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(await p).toEqual({ ok: false, why: 'the node has not finished its rescan after 30 s; its result is recorded as a node.rescanned event when it does' });
    expect(w.answered(s, answer(rid, 7))).toBeNull();
    expect(late).toEqual([['n1', { ok: true, side: expect.objectContaining({ scanned: 7 }) }]]);
  });

  it('a session that ends settles its waits, and only its own', async () => {
    const w = new RescanWaits(() => undefined);
    const s1 = {};
    const s2 = {};
    const ids: number[] = [];
    const p1 = w.ask(s1, 'n1', (id) => ids.push(id), 1000);
    const p2 = w.ask(s2, 'n1', (id) => ids.push(id), 1000);
    w.ended(s1);
    expect(await p1).toEqual({ ok: false, why: 'the node disconnected before its rescan was over' });
    expect(w.answered(s2, answer(ids[1]!))).toBeNull();
    expect(await p2).toMatchObject({ ok: true });
  });
});
