/** Statuses for the status-diff tests: nodes, a seeded generator, random next statuses. */
import type { HubStatus, NodeStatus } from '../../main/contract';

export const node = (id: string, over: Partial<NodeStatus> = {}): NodeStatus => ({
  id, name: `n-${id}`, state: 'in-sync', createdAt: 1, retiredAt: null, lastSeen: 1000, files: 1, bytes: 10, outOfSyncFiles: 0, outOfSyncBytes: 0,
  errors: 0, lastError: null, bytesReceived: 0, bytesReused: 0, bytesSent: 0, mirror: `/m/${id}`, verifying: false, problems: 0, ignored: 0, locked: [], lockedRefusals: 0, lockError: null, toNodeFiles: 0, toNodeBytes: 0, toHubPercent: null, toHubEtaMs: null, toNodePercent: null, toNodeEtaMs: null, conflicts: 0, lastConflictAt: null, held: null, pausedAt: null, connected: true, ...over,
});
export const status = (nodes: NodeStatus[], over: Partial<HubStatus> = {}): HubStatus => ({ version: 'v', uptimeMs: 1, bytesHashedSinceStart: 0, filesHashedSinceStart: 0, grpc: '127.0.0.1:1', ui: 'http://127.0.0.1:2', fingerprint: 'f', trashBytes: 0, nodes, ...over });

/** A small deterministic generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The next status after random changes: counters, states, errors, locks; nodes added, removed, moved. */
export function mutate(prev: HubStatus, rand: () => number, nextId: () => string): HubStatus {
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  let nodes = prev.nodes.map((n) => {
    if (rand() < 0.5) return n;
    const c: NodeStatus = { ...n };
    const f = pick(['state', 'files', 'bytes', 'outOfSyncFiles', 'lastError', 'locked', 'lastSeen', 'verifying', 'lockError', 'retiredAt', 'pausedAt'] as const);
    if (f === 'state') c.state = pick(['new', 'connected', 'syncing', 'in-sync', 'paused', 'disconnected', 'error', 'retired'] as const);
    else if (f === 'lastError') c.lastError = rand() < 0.5 ? null : { path: `p${Math.floor(rand() * 9)}`, code: 'E', message: 'm', at: Math.floor(rand() * 5) };
    else if (f === 'locked') c.locked = rand() < 0.5 ? [] : ['a/**', `b${Math.floor(rand() * 3)}`];
    else if (f === 'verifying') c.verifying = !c.verifying;
    else if (f === 'lockError') c.lockError = rand() < 0.5 ? null : 'bad lock';
    else if (f === 'retiredAt' || f === 'lastSeen' || f === 'pausedAt') c[f] = rand() < 0.3 ? null : Math.floor(rand() * 1e6);
    else c[f] = Math.floor(rand() * 1000);
    return c;
  });
  if (rand() < 0.3 && nodes.length) nodes.splice(Math.floor(rand() * nodes.length), 1);
  if (rand() < 0.3) nodes.splice(Math.floor(rand() * (nodes.length + 1)), 0, node(nextId(), { files: Math.floor(rand() * 50) }));
  if (rand() < 0.1 && nodes.length > 1) nodes = [...nodes.slice(1), nodes[0]!];
  return { ...prev, uptimeMs: prev.uptimeMs + 250, bytesHashedSinceStart: prev.bytesHashedSinceStart + (rand() < 0.3 ? 100 : 0), nodes };
}

