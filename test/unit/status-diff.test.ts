/**
 * The status as diffs (main/contract/ws.ts, the `status.diff` event and `status.snapshot`): what
 * the hub computes, what a client accepts from anyone, and how a client follows the numbering
 * (a missed message asks for a full one; a full one after it recovers).
 */
import { describe, expect, it } from 'vitest';
import { mutate, node, rng, status } from '../helpers/status';
import { applyStatusDiff, decodeStatusDiff, diffStatus, fullStatusDiff, type StatusCopy, type StatusDiff } from '../../main/contract/ws';

/** Through the wire: JSON text, then the client's validation. */
function wire(d: StatusDiff): StatusDiff {
  const r = decodeStatusDiff(JSON.parse(JSON.stringify(d)));
  if (!r.ok) throw new Error(r.reason);
  return r.diff;
}

describe('status diffs', () => {
  it('carry only what changed, and rebuild the same status on the other end', () => {
    const a = status([node('1'), node('2'), node('3')]);
    const b = { ...a, uptimeMs: 2, nodes: [a.nodes[0]!, { ...a.nodes[1]!, state: 'syncing' as const, outOfSyncFiles: 4 }, node('4')] };
    const { diff, changes } = diffStatus(a, b, 8);
    expect(changes).toBe(true);
    expect(diff).toEqual({ seq: 8, full: false, hub: { uptimeMs: 2 }, nodes: [{ id: '2', state: 'syncing', outOfSyncFiles: 4 }, node('4')], removed: ['3'], order: ['1', '2', '4'] });
    const copy = applyStatusDiff({ seq: 7, status: a }, wire(diff));
    expect(copy).toEqual({ seq: 8, status: b });
    // Only time moved: nothing to tell but the uptime.
    expect(diffStatus(b, { ...b, uptimeMs: 3 }, 9)).toEqual({ diff: { seq: 9, full: false, hub: { uptimeMs: 3 }, nodes: [], removed: [], order: null }, changes: false });
    // Equal values in a new object (a recomputed node): not sent.
    expect(diffStatus(b, { ...b, nodes: b.nodes.map((n) => ({ ...n, locked: [...n.locked] })) }, 9).diff.nodes).toEqual([]);
  });

  it('follow random sequences of statuses exactly, through JSON and validation (seeded)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rand = rng(seed);
      let ids = 0;
      const nextId = () => `id${++ids}`;
      let cur = status(Array.from({ length: 1 + Math.floor(rand() * 6) }, () => node(nextId())));
      let copy: StatusCopy | 'resync' = applyStatusDiff(null, wire(fullStatusDiff(cur, 1)));
      for (let seq = 2; seq < 60; seq++) {
        const next = mutate(cur, rand, nextId);
        copy = applyStatusDiff(copy as StatusCopy, wire(diffStatus(cur, next, seq).diff));
        expect(copy, `seed ${seed}, message ${seq}`).toEqual({ seq, status: next });
        cur = next;
      }
    }
  });

  it('ask for a full status after a missed message, ignore older ones, and recover with a full one', () => {
    const s1 = status([node('a'), node('b')]);
    const s2 = { ...s1, nodes: [s1.nodes[0]!, { ...s1.nodes[1]!, files: 5 }] };
    const s3 = { ...s2, nodes: [{ ...s2.nodes[0]!, files: 7 }, s2.nodes[1]!] };
    const c1 = applyStatusDiff(null, fullStatusDiff(s1, 1)) as StatusCopy;
    // No full status yet: a diff alone cannot be applied.
    expect(applyStatusDiff(null, diffStatus(s1, s2, 2).diff)).toBe('resync');
    // Message 2 lost: 3 does not follow 1.
    expect(applyStatusDiff(c1, diffStatus(s2, s3, 3).diff)).toBe('resync');
    // A message already applied (or older): ignored, the copy unchanged.
    const c2 = applyStatusDiff(c1, diffStatus(s1, s2, 2).diff) as StatusCopy;
    expect(applyStatusDiff(c2, diffStatus(s1, s2, 2).diff)).toBe(c2);
    expect(applyStatusDiff(c2, fullStatusDiff(s1, 1))).toBe(c2);
    // The full status at 3 (what status.snapshot answers) recovers; 4 then follows it.
    const c3 = applyStatusDiff(c1, fullStatusDiff(s3, 3)) as StatusCopy;
    expect(c3).toEqual({ seq: 3, status: s3 });
    const s4 = { ...s3, nodes: [s3.nodes[1]!] };
    expect(applyStatusDiff(c3, diffStatus(s3, s4, 4).diff)).toEqual({ seq: 4, status: s4 });
  });

  it('that do not fit the copy ask for a full status instead of guessing', () => {
    const s1 = status([node('a'), node('b')]);
    const c1 = applyStatusDiff(null, fullStatusDiff(s1, 1)) as StatusCopy;
    const d = (over: Partial<StatusDiff>): StatusDiff => ({ seq: 2, full: false, hub: {}, nodes: [], removed: [], order: null, ...over });
    expect(applyStatusDiff(c1, d({ nodes: [{ id: 'c', files: 1 }] }))).toBe('resync'); // a new node, not whole
    expect(applyStatusDiff(c1, d({ removed: ['zz'] }))).toBe('resync'); // removing what is not there
    expect(applyStatusDiff(c1, d({ order: ['a'] }))).toBe('resync'); // an order without b
    expect(applyStatusDiff(c1, d({ nodes: [node('c')] }))).toBe('resync'); // a new node without the new order
    expect(applyStatusDiff(c1, d({ nodes: [node('c')], order: ['c', 'a', 'b'] }))).toEqual({ seq: 2, status: { ...s1, nodes: [node('c'), ...s1.nodes] } });
  });

  it('refuse what is not a valid message, whoever sent it', () => {
    const good = wire(diffStatus(status([node('a')]), status([node('a', { files: 2 }), node('b')], { uptimeMs: 9 }), 5).diff);
    const full = fullStatusDiff(status([node('a')]), 1);
    expect(decodeStatusDiff(full).ok).toBe(true);
    const hostile: [string, unknown][] = [
      ['null', null], ['a list', []], ['a string', 'x'],
      ['no seq', { ...good, seq: undefined }], ['seq 0', { ...good, seq: 0 }], ['seq fractional', { ...good, seq: 1.5 }],
      ['seq too large', { ...good, seq: 2 ** 60 }], ['seq a string', { ...good, seq: '5' }],
      ['full not boolean', { ...good, full: 1 }], ['an extra field', { ...good, extra: 1 }],
      ['hub not an object', { ...good, hub: [] }], ['hub unknown field', { ...good, hub: { evil: 1 } }],
      ['hub bad value', { ...good, hub: { uptimeMs: -1 } }], ['hub NaN-ish', { ...good, hub: { uptimeMs: 'NaN' } }],
      ['nodes not a list', { ...good, nodes: {} }], ['a node not an object', { ...good, nodes: [1] }],
      ['a node without id', { ...good, nodes: [{ files: 1 }] }], ['a node id __proto__', { ...good, nodes: [{ id: '__proto__', files: 1 }] }],
      ['a node id too long', { ...good, nodes: [{ id: 'x'.repeat(65) }] }], ['a node twice', { ...good, nodes: [{ id: 'a' }, { id: 'a' }] }],
      ['a node field unknown', { ...good, nodes: [{ id: 'a', constructor: 1 }] }],
      ['a node state unknown', { ...good, nodes: [{ id: 'a', state: 'happy' }] }],
      ['a node count negative', { ...good, nodes: [{ id: 'a', files: -3 }] }],
      ['a node count Infinity', { ...good, nodes: [{ id: 'a', bytes: 1e400 }] }],
      ['lastError with extra', { ...good, nodes: [{ id: 'a', lastError: { path: '', code: 'c', message: 'm', at: 1, x: 1 } }] }],
      ['locked not strings', { ...good, nodes: [{ id: 'a', locked: [1] }] }],
      ['a huge text', { ...good, nodes: [{ id: 'a', name: 'x'.repeat(70_000) }] }],
      ['removed not ids', { ...good, removed: [7] }], ['removed twice', { ...good, removed: ['b', 'b'] }],
      ['order not a list', { ...good, order: 'a' }], ['order twice', { ...good, order: ['a', 'a'] }],
      ['too many nodes', { ...good, nodes: Array.from({ length: 100_001 }, (_, i) => ({ id: `n${i}` })) }],
      ['a full status lacking hub fields', { ...full, hub: { version: 'v' } }],
      ['a full status with a partial node', { ...full, nodes: [{ id: 'a', files: 1 }] }],
      ['a full status with removed ids', { ...full, removed: ['a'] }],
    ];
    for (const [what, msg] of hostile) {
      const r = JSON.parse(JSON.stringify(msg ?? null)) as unknown;
      expect(decodeStatusDiff(r).ok, what).toBe(false);
    }
    // __proto__ as a key, as JSON.parse makes it (an own property): refused, nothing polluted.
    expect(decodeStatusDiff(JSON.parse('{"seq":2,"full":false,"hub":{"__proto__":{"x":1}},"nodes":[],"removed":[],"order":null}')).ok).toBe(false);
    expect(decodeStatusDiff(JSON.parse('{"seq":2,"full":false,"hub":{},"nodes":[{"id":"a","__proto__":{"files":1}}],"removed":[],"order":null}')).ok).toBe(false);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});
