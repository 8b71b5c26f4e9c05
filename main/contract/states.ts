/** A node's states, on their own so that both contract/index.ts and contract/ws.ts can read them (no import cycle). */
/** `new`: added, never connected yet. `paused`: the operator paused the node's sync (connected or not); nothing flows either way until it is resumed. */
export const NODE_STATES = ['new', 'connected', 'syncing', 'in-sync', 'paused', 'disconnected', 'error', 'retired'] as const;
export type NodeState = (typeof NODE_STATES)[number];
