/** Addresses of views other views link to (hash routes), built in one place. */

/** The per-path history view (issue 14, item 4): `#/history/<node id>/<path>`, each part encoded whole. */
export const historyHref = (h: { nodeId: string; path: string }): string => `#/history/${encodeURIComponent(h.nodeId)}/${encodeURIComponent(h.path)}`;
