/** A node's states, on their own so that both contract/index.ts and contract/ws.ts can read them (no import cycle). */
export const NODE_STATES = ['new', 'connected', 'syncing', 'in-sync', 'disconnected', 'error', 'retired'] as const;
export type NodeState = (typeof NODE_STATES)[number];
