/**
 * When the page tells of new conflicts (renderer/src/conflict-alerts.ts): only for a node it
 * already knew whose count of conflict copies went up, never for the first status or a node
 * just added, nor when the count went down.
 */
import { describe, expect, it } from 'vitest';
import type { NodeStatus } from '../../main/contract';
import { newConflicts } from '../../renderer/src/conflict-alerts';
import { node } from '../helpers/status';

const byId = (...ns: NodeStatus[]) => Object.fromEntries(ns.map((n) => [n.id, n]));

describe('new conflict alerts', () => {
  it('fire for a known node whose conflicts went up, with how many', () => {
    const prev = byId(node('a', { name: 'alpha', conflicts: 1 }), node('b', { name: 'beta' }));
    const next = byId(node('a', { name: 'alpha', conflicts: 3 }), node('b', { name: 'beta' }));
    expect(newConflicts(prev, next, ['a', 'b'])).toEqual([{ nodeId: 'a', name: 'alpha', added: 2, total: 3 }]);
  });

  it('do not fire for the first status, a new node, fewer conflicts, the same object or a retired node', () => {
    const withOne = byId(node('a', { conflicts: 1 }));
    expect(newConflicts({}, withOne, ['a'])).toEqual([]);
    expect(newConflicts(byId(node('b')), byId(node('b'), node('a', { conflicts: 4 })), ['b', 'a'])).toEqual([]);
    expect(newConflicts(byId(node('a', { conflicts: 2 })), withOne, ['a'])).toEqual([]);
    expect(newConflicts(withOne, withOne, ['a'])).toEqual([]);
    expect(newConflicts(byId(node('a')), byId(node('a', { conflicts: 1, state: 'retired' })), ['a'])).toEqual([]);
  });
});
