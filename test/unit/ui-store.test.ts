/** The renderer's state logic, without a browser: structural sharing, rates, sorting. */
import { describe, expect, it } from 'vitest';
import type { HubStatus, NodeStatus } from '../../main/contract';
import { RATE_SAMPLES, applyStream, hashOf, historyHash, merge, nextRate, viewFromHash, visibleIds, visibleIdsCached, type StreamState, type UiState } from '../../renderer/src/store';
import { diffStatus, fullStatusDiff } from '../../main/contract/ws';
import { mutate, node as fullNode, rng, status as hubStatus } from '../helpers/status';

const node = (id: string, over: Partial<NodeStatus> = {}): NodeStatus => ({
  id, name: id, state: 'in-sync', createdAt: 0, retiredAt: null, lastSeen: 1000, files: 1, bytes: 10, outOfSyncFiles: 0, outOfSyncBytes: 0,
  errors: 0, lastError: null, bytesReceived: 0, bytesReused: 0, bytesSent: 0, mirror: `/m/${id}`, verifying: false, problems: 0, ignored: 0, locked: [], lockedRefusals: 0, lockError: null, toNodeFiles: 0, toNodeBytes: 0, toHubPercent: null, toHubEtaMs: null, toNodePercent: null, toNodeEtaMs: null, conflicts: 0, lastConflictAt: null, held: null, pausedAt: null, connected: true, ...over,
});
const status = (nodes: NodeStatus[]): HubStatus => ({ version: 'v', uptimeMs: 1, bytesHashedSinceStart: 0, filesHashedSinceStart: 0, grpc: null, ui: null, fingerprint: 'f', trashBytes: 0, nodes });
const empty = { order: [], nodes: {}, rates: {} };

describe('merging status snapshots', () => {
  it('keeps the object of every node whose numbers did not change (its row does not re-render)', () => {
    const s1 = merge(empty, status([node('a'), node('b')]), 0);
    // A fresh snapshot: equal values in new objects, b's lastSeen moved within the same second.
    const s2 = merge(s1, status([node('a'), node('b', { lastSeen: 1500 })]), 500);
    expect(s2.nodes.a).toBe(s1.nodes.a);
    expect(s2.nodes.b).toBe(s1.nodes.b);
    expect(s2.order).toBe(s1.order);
    expect(s2.rates.a!.samples).toBe(s1.rates.a!.samples);
    const s3 = merge(s2, status([node('a', { outOfSyncFiles: 3 }), node('b')]), 1000);
    expect(s3.nodes.a).not.toBe(s2.nodes.a);
    expect(s3.nodes.a!.outOfSyncFiles).toBe(3);
    expect(s3.nodes.b).toBe(s2.nodes.b);
    // Equal lock lists in new arrays are still "unchanged".
    const l1 = merge(s3, status([node('a', { outOfSyncFiles: 3, locked: ['docs/**'] }), node('b')]), 1100);
    const l2 = merge(l1, status([node('a', { outOfSyncFiles: 3, locked: ['docs/**'] }), node('b')]), 1200);
    expect(l2.nodes.a).toBe(l1.nodes.a);
    const s4 = merge(s3, status([node('b')]), 1500);
    expect(s4.order).toEqual(['b']);
    expect(s4.nodes.a).toBeUndefined();
  });

  it('derives a transfer rate per node, bounded, and resets when a new session starts counting', () => {
    let r = nextRate(undefined, 0, 0);
    r = nextRate(r, 1000, 500);
    expect(r.samples).toEqual([2000]);
    const idle = nextRate(nextRate(r, 1000, 1000), 1000, 1500);
    expect(idle.samples).toEqual([2000, 0]);
    expect(nextRate(idle, 1000, 2000).samples).toBe(idle.samples);
    let many = r;
    for (let i = 1; i <= RATE_SAMPLES + 10; i++) many = nextRate(many, 1000 + i * 100, 500 + i * 1000);
    expect(many.samples).toHaveLength(RATE_SAMPLES);
    expect(nextRate(many, 5, 99_000).samples).toEqual([]);
  });

  it('counts both ways in the rate: bytes received from the node and sent to it', () => {
    const empty = { order: [], nodes: {}, rates: {} };
    const s1 = merge(empty, status([node('up', { bytesReceived: 0 }), node('down', { bytesSent: 0 })]), 0);
    const s2 = merge(s1, status([node('up', { bytesReceived: 4000 }), node('down', { bytesSent: 6000 })]), 2000);
    expect(s2.rates.up!.samples).toEqual([2000]);
    expect(s2.rates.down!.samples).toEqual([3000]);
  });
});

describe('the overview order', () => {
  const base = merge(empty, status([node('zed', { files: 5 }), node('alpha', { files: 50, state: 'error' }), node('mid', { files: 7, state: 'disconnected' })]), 0);
  const view = (over: Partial<Pick<UiState, 'filter' | 'sort'>>) => visibleIds({ ...base, filter: '', sort: { key: 'name', dir: 1 }, ...over });
  it('sorts by a column either way and filters by name, id or state', () => {
    expect(view({})).toEqual(['alpha', 'mid', 'zed']);
    expect(view({ sort: { key: 'files', dir: -1 } })).toEqual(['alpha', 'mid', 'zed']);
    expect(view({ sort: { key: 'files', dir: 1 } })).toEqual(['zed', 'mid', 'alpha']);
    expect(view({ filter: 'ERR' })).toEqual(['alpha']);
    expect(view({ filter: 'disconn' })).toEqual(['mid']);
    expect(view({ filter: 'nothing' })).toEqual([]);
  });
});

describe('the status stream in the store', () => {
  const start: StreamState = { hub: null, order: [], nodes: {}, rates: {}, stream: null };
  /** What ingesting the full status gives (the store's `ingest`). */
  const fromFull = (s: StreamState, st: HubStatus, now: number): StreamState => {
    const { nodes: _n, ...hub } = st;
    return { hub, ...merge(s, st, now), stream: s.stream };
  };
  const wire = (d: unknown) => JSON.parse(JSON.stringify(d)) as unknown;
  const same = (a: StreamState, b: StreamState) => expect({ hub: a.hub, order: a.order, nodes: a.nodes, rates: a.rates }).toEqual({ hub: b.hub, order: b.order, nodes: b.nodes, rates: b.rates });

  it('applies seeded random sequences of diffs to the same state as the full snapshots', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rand = rng(seed);
      let ids = 0;
      const nextId = () => `n${++ids}`;
      let cur = hubStatus(Array.from({ length: 1 + Math.floor(rand() * 8) }, () => fullNode(nextId())));
      let now = 1000;
      let full = fromFull(start, cur, now);
      let diffs = applyStream(start, wire(fullStatusDiff(cur, 1)), now) as StreamState;
      same(diffs, full);
      for (let seq = 2; seq < 50; seq++) {
        const next = mutate(cur, rand, nextId);
        now += 250;
        full = fromFull(full, next, now);
        const applied = applyStream(diffs, wire(diffStatus(cur, next, seq).diff), now);
        expect(applied, `seed ${seed} message ${seq}`).not.toBe('resync');
        diffs = applied as StreamState;
        same(diffs, full);
        cur = next;
      }
    }
  });

  it('asks for a full status after a missed or invalid message, and recovers with it', () => {
    const rand = rng(7);
    let ids = 0;
    const nextId = () => `n${++ids}`;
    const s1b = hubStatus([fullNode(nextId()), fullNode(nextId()), fullNode(nextId())]);
    const s2 = mutate(s1b, rand, nextId);
    const s3 = mutate(s2, rand, nextId);
    const a = applyStream(start, wire(fullStatusDiff(s1b, 1)), 0) as StreamState;
    // Message 2 lost.
    expect(applyStream(a, wire(diffStatus(s2, s3, 3).diff), 250)).toBe('resync');
    // Invalid (a hostile or broken peer): refused, not applied.
    expect(applyStream(a, { seq: 2, full: false, hub: {}, nodes: [{ id: '__proto__', files: 1 }], removed: [], order: null }, 250)).toBe('resync');
    expect(applyStream(a, 'junk', 250)).toBe('resync');
    // The full status at 3 (status.snapshot's answer) recovers; an old diff is then ignored.
    const b = applyStream(a, wire(fullStatusDiff(s3, 3)), 500) as StreamState;
    same(b, fromFull(a, s3, 500));
    expect(b.stream?.seq).toBe(3);
    expect(applyStream(b, wire(diffStatus(s1b, s2, 2).diff), 600)).toBe(b);
  });

  it('keeps the sorted ids while nothing they depend on changed', () => {
    const st = merge(empty, status([node('b'), node('a')]), 0);
    const base = { ...st, filter: '', sort: { key: 'name' as const, dir: 1 as const } };
    const ids = visibleIdsCached(base);
    expect(ids).toEqual(['a', 'b']);
    const counters = merge(st, status([node('b', { outOfSyncFiles: 5 }), node('a')]), 250);
    expect(visibleIdsCached({ ...base, ...counters })).toBe(ids);
    // A state change re-sorts nothing by name, unless a filter (which matches states) is set.
    const flipped = merge(counters, status([node('b', { outOfSyncFiles: 5, state: 'syncing' }), node('a')]), 300);
    expect(visibleIdsCached({ ...base, ...flipped })).toBe(ids);
    const filtered = { ...base, filter: 'in-sync' };
    expect(visibleIdsCached({ ...filtered, ...counters })).toEqual(['a', 'b']);
    expect(visibleIdsCached({ ...filtered, ...flipped })).toEqual(['a']);
    const byFiles = { ...base, ...counters, sort: { key: 'files' as const, dir: -1 as const } };
    const f1 = visibleIdsCached(byFiles);
    const moreFiles = merge(counters, status([node('b', { outOfSyncFiles: 5 }), node('a', { files: 9 })]), 500);
    expect(visibleIdsCached({ ...byFiles, ...moreFiles })).not.toBe(f1);
    expect(visibleIdsCached({ ...byFiles, ...moreFiles })).toEqual(['a', 'b']);
  });
});

describe('addresses of views', () => {
  it('a path\'s timeline round-trips through its address, whatever the path holds', () => {
    for (const p of ['notes/plan.md', 'a b/c#d?e%f.txt', 'ünï/çødé/文件.md', '.env']) {
      const view = { name: 'history' as const, nodeId: 'n-1', path: p };
      expect(hashOf(view)).toBe(historyHash('n-1', p));
      expect(historyHash('n-1', p)).toBe(`#/history/n-1/${encodeURIComponent(p)}`);
      expect(viewFromHash(hashOf(view))).toEqual(view);
    }
    // Slashes left unencoded by hand work too; a malformed escape or no path goes to the overview.
    expect(viewFromHash('#/history/n-1/notes/plan.md')).toEqual({ name: 'history', nodeId: 'n-1', path: 'notes/plan.md' });
    expect(viewFromHash('#/history/n-1/%E0%A4%A')).toEqual({ name: 'nodes' });
    expect(viewFromHash('#/history/n-1')).toEqual({ name: 'nodes' });
    expect(viewFromHash('#/changes')).toEqual({ name: 'changes' });
  });
});
