/**
 * The hub's StatusBoard over a real HubStore (SQLite): a node's status is recomputed only when
 * something about it changed, at most NODES_PER_REFRESH per snapshot (oldest first), and the
 * stream numbers its messages and sends only what changed.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODES_PER_REFRESH, StatusBoard } from '../../main/hub/node-status';
import { NodeReports } from '../../main/hub/node-reports';
import { NodeRuntimes } from '../../main/hub/node-runtime';
import { HubStore } from '../../main/store/hub-store';
import type { FsPool } from '../../main/sync/fs-pool';
import { applyStatusDiff, type StatusCopy, type StatusDiff } from '../../main/contract/ws';
import { cachedEntry, tempDirs } from '../helpers/entries';

const tmp = tempDirs('status-board');

function board(nodes: number, refreshBudgetMs = Infinity): { store: HubStore; b: StatusBoard; counted: () => number } {
  const store = new HubStore(path.join(tmp(), 'hub.db'));
  for (let i = 0; i < nodes; i++) store.addNode(`n${i}`, `node ${i}`, 'secret');
  // The real store, its per-node totals query counted: one per node status computed.
  let totals = 0;
  const real = store.index.totals.bind(store.index);
  store.index.totals = (id: string) => { totals++; return real(id); };
  const runtimes = new NodeRuntimes(store, () => { throw new Error('no runtime in this test'); });
  const b = new StatusBoard({
    store, runtimes, reports: new NodeReports(store.reports), pool: { bytesHashed: 0, filesHashed: 0 } as FsPool, fingerprint: 'fp', startedAt: 0,
    mode: 'serve', grpcAddress: () => null, uiAddress: () => null, mirrorOf: (id) => `/m/${id}`, trashBytes: () => 0, refreshBudgetMs,
  });
  return { store, b, counted: () => totals };
}

describe('StatusBoard', () => {
  it('recomputes only the nodes that changed, at most NODES_PER_REFRESH per snapshot, the oldest first', () => {
    const n = NODES_PER_REFRESH + 50;
    const { store, b, counted } = board(n);
    expect(b.status().nodes).toHaveLength(n);
    expect(counted()).toBe(n);
    // Nothing changed: nothing recomputed.
    b.status();
    expect(counted()).toBe(n);
    // One node changed: that one.
    store.index.putFiles('n7', [cachedEntry('a', { size: 10 })]);
    b.changed('n7');
    expect(b.status().nodes.find((x) => x.id === 'n7')).toMatchObject({ files: 1, bytes: 10 });
    expect(counted()).toBe(n + 1);
    // Every node changed: NODES_PER_REFRESH now, the rest in the next snapshot.
    for (let i = 0; i < n; i++) {
      store.index.putFiles(`n${i}`, [cachedEntry('b', { size: 5 })]);
      b.changed(`n${i}`);
    }
    const first = b.status();
    expect(counted()).toBe(n + 1 + NODES_PER_REFRESH);
    expect(first.nodes.filter((x) => x.files === 2 || (x.id !== 'n7' && x.files === 1)).length).toBe(NODES_PER_REFRESH);
    const second = b.status();
    expect(counted()).toBe(n + 1 + n);
    expect(second.nodes.every((x) => x.files === (x.id === 'n7' ? 2 : 1))).toBe(true);
    // Anything may have changed (a node added, say): the new node at once, the others NODES_PER_REFRESH at a time.
    store.addNode('late', 'late node', 'secret');
    b.changed();
    const withNew = b.status();
    expect(withNew.nodes.map((x) => x.id)).toContain('late');
    expect(counted()).toBe(2 * n + 1 + 1 + NODES_PER_REFRESH);
    store.close();
  });

  it('stops recomputing when its time budget is spent, and goes on in the next snapshot', () => {
    const { store, b, counted } = board(40, 0);
    b.status();
    expect(counted()).toBe(40);
    for (let i = 0; i < 40; i++) b.changed(`n${i}`);
    // A budget of 0: the first few nodes only (checked every 8), the rest in the next snapshots.
    b.status();
    expect(counted()).toBe(48);
    for (let i = 0; i < 4; i++) b.status();
    expect(counted()).toBe(80);
    store.close();
  });

  it('streams a full status, then numbered diffs of what changed; a full one at the current number on demand', () => {
    const { store, b } = board(3);
    const emitted: StatusDiff[] = [];
    let t = 1_000_000;
    const first = b.streamTick(t)!;
    expect(first).toMatchObject({ seq: 1, full: true });
    expect(first.nodes).toHaveLength(3);
    // Nothing changed: nothing to send.
    expect(b.streamTick(t += 250)).toBeNull();
    store.index.putFiles('n1', [cachedEntry('x', { size: 3 })]);
    b.changed('n1');
    const d = b.streamTick(t += 250)!;
    expect(d).toMatchObject({ seq: 2, full: false, removed: [], order: null, nodes: [{ id: 'n1', files: 1, bytes: 3 }] });
    // Applied in order, the diffs give what a full status at the same number says.
    let copy = applyStatusDiff(null, first) as StatusCopy;
    copy = applyStatusDiff(copy, d) as StatusCopy;
    store.index.putFiles('n2', [cachedEntry('y', { size: 4 })]);
    b.changed('n2');
    const full = b.streamFull((x) => emitted.push(x), t += 1000);
    // The stream moved on for the subscribers first, so the full status is at their number.
    expect(emitted.map((x) => x.seq)).toEqual([3]);
    expect(full).toMatchObject({ seq: 3, full: true });
    copy = applyStatusDiff(copy, emitted[0]!) as StatusCopy;
    expect(copy.status.nodes).toEqual(full.nodes);
    store.close();
  });
});
