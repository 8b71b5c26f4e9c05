/**
 * When to tell the operator about new conflicts: a node the page already knew whose count of
 * conflict copies went up between two status updates. Pure (tested without a browser); the page
 * event `cortex-hub:new-conflicts` is built on it (components/toasts.tsx). What is told to the
 * operator (notification or toast) is decided by contract/notices.ts.
 */
import type { NodeStatus } from '../../main/contract';

export interface ConflictAlert {
  nodeId: string;
  name: string;
  /** How many more conflict copies than at the last update. */
  added: number;
  /** How many the node has now. */
  total: number;
}

/** The name of the in-page event (on window) whose `detail` is a ConflictAlert[]. */
export const NEW_CONFLICTS_EVENT = 'cortex-hub:new-conflicts';

/**
 * Nodes with more conflict copies in `next` than in `prev`. A node absent from `prev` (the
 * page's first status, a node just added) is not news: its conflicts were there before the page looked.
 */
export function newConflicts(prev: Record<string, NodeStatus>, next: Record<string, NodeStatus>, order: readonly string[]): ConflictAlert[] {
  if (prev === next) return [];
  const out: ConflictAlert[] = [];
  for (const id of order) {
    const before = prev[id];
    const now = next[id];
    if (!before || !now || now === before || now.state === 'retired') continue;
    if (now.conflicts > before.conflicts) out.push({ nodeId: id, name: now.name, added: now.conflicts - before.conflicts, total: now.conflicts });
  }
  return out;
}
