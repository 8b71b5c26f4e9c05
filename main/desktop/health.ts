/** What the tray shows: a pure function over node status (what deserves a notification: contract/notices.ts). */
import type { NodeState, NodeStatus } from '../contract';

export type Health = 'ok' | 'busy' | 'bad' | 'idle' | 'empty';

/** The worst state among active nodes, and a one-line summary for the tray's tooltip. */
export function healthOf(nodes: NodeStatus[]): { level: Health; summary: string } {
  const active = nodes.filter((n) => n.state !== 'retired');
  if (active.length === 0) return { level: 'empty', summary: 'no nodes' };
  const count = (s: NodeState) => active.filter((n) => n.state === s).length;
  const errors = count('error');
  const down = count('disconnected');
  // Added, never connected yet: waiting for its first connection, not a problem.
  const fresh = count('new');
  const busy = count('syncing') + count('connected');
  const inSync = count('in-sync');
  const paused = count('paused');
  const parts = [`${inSync}/${active.length} in sync`];
  if (busy) parts.push(`${busy} syncing`);
  if (paused) parts.push(`${paused} paused`);
  if (errors) parts.push(`${errors} in error`);
  if (down) parts.push(`${down} disconnected`);
  if (fresh) parts.push(`${fresh} new`);
  const level: Health = errors > 0 ? 'bad' : busy > 0 ? 'busy' : inSync > 0 ? 'ok' : 'idle';
  return { level, summary: parts.join(', ') };
}
