/**
 * The renderer's state (zustand). Status snapshots from the hub are merged with structural
 * sharing: a node whose numbers did not change keeps its object, so its row does not re-render.
 * The merge and the rate computation are pure functions (tested without a browser).
 */
import { create } from 'zustand';
import type { HubStatus, NodeStatus, Settings } from '../../main/contract';
import { applyStatusDiff, decodeStatusDiff, type StatusCopy } from '../../main/contract/ws';
import type { ConnectionState } from './transport';
import { compareNames } from '../../main/util/format';

/** Samples kept per node for the rate sparkline (one per status event, ~2 per second). */
export const RATE_SAMPLES = 60;

export interface NodeRate {
  /** Bytes received per second, most recent last. */
  samples: number[];
  lastBytes: number;
  lastAt: number;
}

export type View =
  | { name: 'nodes' }
  | { name: 'node'; id: string }
  | { name: 'agents' }
  /** One agent template (`#/agents/templates/<id>`) and its instances; one instance (`#/agents/instances/<id>`). */
  | { name: 'agent-template'; id: string }
  | { name: 'agent-instance'; id: string }
  | { name: 'purges' }
  | { name: 'trash' }
  | { name: 'conflicts' }
  | { name: 'changes' }
  /** One path's timeline (`#/history/<nodeId>/<encodeURIComponent(path)>`: search results link here). */
  | { name: 'history'; nodeId: string; path: string }
  | { name: 'logs' }
  | { name: 'settings' }
  /** Search across mirrors: the query as typed (views/search.tsx). */
  | { name: 'search'; query: string };

export type SortKey = 'name' | 'state' | 'lastSeen' | 'files' | 'bytes' | 'outOfSyncFiles' | 'toNodeFiles' | 'conflicts' | 'problems' | 'rate';

export interface UiState {
  connection: ConnectionState;
  hub: Omit<HubStatus, 'nodes'> | null;
  /** Node ids in the hub's order, and each node's latest status. */
  order: string[];
  nodes: Record<string, NodeStatus>;
  rates: Record<string, NodeRate>;
  /** The status stream as applied so far (the last message's number and the status it gives). */
  stream: StatusCopy | null;
  view: View;
  filter: string;
  sort: { key: SortKey; dir: 1 | -1 };
  /** The hub's settings as last read or saved (the notices follow them), null until read. */
  settings: Settings | null;
  setSettings(s: Settings): void;
  setConnection(c: ConnectionState): void;
  ingest(status: HubStatus, now?: number): void;
  /** Applies a message of the status stream (`status.diff`, `status.snapshot`); false: a full one is needed (missed or refused). */
  ingestStream(data: unknown, now?: number): boolean;
  go(view: View): void;
  setFilter(f: string): void;
  sortBy(key: SortKey): void;
}

function sameNode(a: NodeStatus, b: NodeStatus): boolean {
  for (const k of Object.keys(b) as (keyof NodeStatus)[]) {
    if (k === 'lastError') {
      if (a.lastError?.path !== b.lastError?.path || a.lastError?.message !== b.lastError?.message) return false;
    } else if (k === 'held') {
      if (a.held?.changes !== b.held?.changes || a.held?.bytes !== b.held?.bytes || a.held?.capped !== b.held?.capped) return false;
    } else if (k === 'locked') {
      if (a.locked.join('\n') !== b.locked.join('\n')) return false;
    } else if (k === 'lastSeen') {
      // Connected nodes report "now" on every snapshot; a second's resolution is enough.
      if (Math.floor((a.lastSeen ?? 0) / 1000) !== Math.floor((b.lastSeen ?? 0) / 1000)) return false;
    } else if (a[k] !== b[k]) return false;
  }
  return true;
}

/**
 * The next rate record for a node, from the bytes moved so far this session (both ways). While
 * nothing moves, `samples` stays the same array, so a row that selects it does not re-render.
 */
export function nextRate(prev: NodeRate | undefined, moved: number, now: number): NodeRate {
  if (!prev || moved < prev.lastBytes) return { samples: [], lastBytes: moved, lastAt: now };
  const dt = (now - prev.lastAt) / 1000;
  const rate = dt > 0 ? (moved - prev.lastBytes) / dt : 0;
  const last = prev.samples[prev.samples.length - 1] ?? 0;
  if (rate === 0 && last === 0) return { samples: prev.samples, lastBytes: moved, lastAt: now };
  const samples = prev.samples.length >= RATE_SAMPLES ? prev.samples.slice(1) : prev.samples.slice();
  samples.push(rate);
  return { samples, lastBytes: moved, lastAt: now };
}

/** Merges a snapshot into the state, keeping every unchanged object. */
export function merge(state: Pick<UiState, 'order' | 'nodes' | 'rates'>, status: HubStatus, now: number): Pick<UiState, 'order' | 'nodes' | 'rates'> {
  const nodes: Record<string, NodeStatus> = {};
  const rates: Record<string, NodeRate> = {};
  const order: string[] = [];
  for (const n of status.nodes) {
    order.push(n.id);
    const old = state.nodes[n.id];
    nodes[n.id] = old && (old === n || sameNode(old, n)) ? old : n;
    // Both ways: bytes received from the node and sent to it.
    rates[n.id] = nextRate(state.rates[n.id], n.bytesReceived + n.bytesSent, now);
  }
  const sameOrder = order.length === state.order.length && order.every((id, i) => id === state.order[i]);
  return { order: sameOrder ? state.order : order, nodes, rates };
}

export type StreamState = Pick<UiState, 'hub' | 'order' | 'nodes' | 'rates' | 'stream'>;

/**
 * One message of the hub's status stream, validated, applied to the state: the next state (the
 * same object for a message older than what was applied), or `resync` when it cannot be applied
 * (a number missed, no full status yet, or refused as invalid: the hub is asked for a full one).
 */
export function applyStream(s: StreamState, data: unknown, now: number): StreamState | 'resync' {
  const decoded = decodeStatusDiff(data);
  if (!decoded.ok) {
    console.warn(decoded.reason);
    return 'resync';
  }
  const copy = applyStatusDiff(s.stream, decoded.diff);
  if (copy === 'resync') return 'resync';
  if (copy === s.stream) return s;
  const { nodes: _nodes, ...hub } = copy.status;
  return { hub, ...merge(s, copy.status, now), stream: copy };
}

export function currentRate(samples: number[] | undefined): number {
  return samples?.[samples.length - 1] ?? 0;
}

/** Node ids filtered by name/id/state and sorted; pure. */
export function visibleIds(s: Pick<UiState, 'order' | 'nodes' | 'rates' | 'filter' | 'sort'>): string[] {
  const f = s.filter.trim().toLowerCase();
  const ids = s.order.filter((id) => {
    const n = s.nodes[id]!;
    return !f || n.name.toLowerCase().includes(f) || n.id.includes(f) || n.state.includes(f);
  });
  const { key, dir } = s.sort;
  const val = (id: string): string | number => {
    const n = s.nodes[id]!;
    if (key === 'rate') return currentRate(s.rates[id]?.samples);
    if (key === 'lastSeen') return n.lastSeen ?? 0;
    if (key === 'name' || key === 'state') return n[key].toLowerCase();
    return n[key];
  };
  return ids.sort((a, b) => {
    const va = val(a);
    const vb = val(b);
    return (va < vb ? -1 : va > vb ? 1 : 0) * dir || compareNames(s.nodes[a]!.name, s.nodes[b]!.name);
  });
}

let lastVisible: { order: string[]; filter: string; sort: UiState['sort']; keys: string[]; ids: string[] } | null = null;

/**
 * visibleIds, the same array again while nothing it depends on changed (the order, the filter,
 * the sort, and each node's sort value, name, and state when filtering): a status message that changes only
 * counters neither re-sorts 1,000 names nor re-renders the table, only the rows that changed.
 */
export function visibleIdsCached(s: Pick<UiState, 'order' | 'nodes' | 'rates' | 'filter' | 'sort'>): string[] {
  const { key } = s.sort;
  const f = s.filter.trim() !== '';
  const keys = s.order.map((id) => {
    const n = s.nodes[id]!;
    const v = key === 'rate' ? currentRate(s.rates[id]?.samples) : key === 'lastSeen' ? n.lastSeen ?? 0 : n[key];
    // The name breaks ties; the state matters to the filter only.
    return f ? `${v}\u0000${n.name}\u0000${n.state}` : `${v}\u0000${n.name}`;
  });
  const l = lastVisible;
  if (l && l.order === s.order && l.filter === s.filter && l.sort === s.sort && l.keys.every((k, i) => k === keys[i])) return l.ids;
  const ids = visibleIds(s);
  lastVisible = { order: s.order, filter: s.filter, sort: s.sort, keys, ids };
  return ids;
}

/** decodeURIComponent that gives null for a malformed escape (a hand-edited address) instead of throwing. */
function decoded(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

export function viewFromHash(hash: string): View {
  const [name, id, ...rest] = hash.replace(/^#\/?/, '').split('/');
  if (name === 'node' && id) return { name: 'node', id: decoded(id) ?? id };
  if (name === 'agents' && id === 'templates' && rest[0]) return { name: 'agent-template', id: decoded(rest[0]) ?? rest[0] };
  if (name === 'agents' && id === 'instances' && rest[0]) return { name: 'agent-instance', id: decoded(rest[0]) ?? rest[0] };
  if (name === 'search') return { name: 'search', query: decoded(hash.replace(/^#\/?search\/?/, '')) ?? '' };
  if (name === 'history' && id && rest.length) {
    // The path is one encoded segment; an address with its slashes left unencoded works too.
    const nodeId = decoded(id);
    const p = decoded(rest.join('/'));
    if (nodeId && p) return { name: 'history', nodeId, path: p };
  }
  if (name === 'agents' || name === 'purges' || name === 'trash' || name === 'logs' || name === 'settings' || name === 'conflicts' || name === 'changes') return { name };
  return { name: 'nodes' };
}

export function hashOf(view: View): string {
  switch (view.name) {
    case 'node': return `#/node/${encodeURIComponent(view.id)}`;
    case 'agent-template': return `#/agents/templates/${encodeURIComponent(view.id)}`;
    case 'agent-instance': return `#/agents/instances/${encodeURIComponent(view.id)}`;
    case 'history': return historyHash(view.nodeId, view.path);
    case 'search': return `#/search/${encodeURIComponent(view.query)}`;
    default: return `#/${view.name}`;
  }
}

/** The address of a path's timeline (what search results and the change feed link to). */
export function historyHash(nodeId: string, path: string): string {
  return `#/history/${encodeURIComponent(nodeId)}/${encodeURIComponent(path)}`;
}

export const useUi = create<UiState>()((set, get) => ({
  connection: 'connecting',
  hub: null,
  order: [],
  nodes: {},
  rates: {},
  stream: null,
  view: viewFromHash(typeof location === 'undefined' ? '' : location.hash),
  filter: '',
  sort: { key: 'name', dir: 1 },
  settings: null,
  setSettings: (settings) => set({ settings }),
  setConnection: (connection) => set({ connection }),
  ingest: (status, now = Date.now()) => set((s) => {
    const { nodes: _ignored, ...hub } = status;
    return { hub, ...merge(s, status, now) };
  }),
  ingestStream: (data, now = Date.now()) => {
    const next = applyStream(get(), data, now);
    if (next === 'resync') return false;
    set(next);
    return true;
  },
  go: (view) => {
    if (typeof history !== 'undefined') history.pushState(null, '', hashOf(view));
    set({ view });
  },
  setFilter: (filter) => set({ filter }),
  sortBy: (key) => set((s) => ({ sort: { key, dir: s.sort.key === key ? (-s.sort.dir as 1 | -1) : key === 'name' || key === 'state' ? 1 : -1 } })),
}));

/** Back/forward buttons, links with a hash, and an address edited by hand. */
export function followHash(): void {
  const follow = () => {
    const view = viewFromHash(location.hash);
    if (hashOf(view) !== hashOf(useUi.getState().view)) useUi.setState({ view });
  };
  window.addEventListener('popstate', follow);
  window.addEventListener('hashchange', follow);
}
