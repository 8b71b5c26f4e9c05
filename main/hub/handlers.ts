/**
 * The contract's handler table: each operation the UI, the CLI and the API may call, mapped
 * to the HubService (or its agents) that does it. Transports reach it through dispatch().
 */
import { ContractError, LOG_LEVELS, SEARCH_LIMIT_DEFAULT, type Handlers, type LogEntryView, type LogLevel } from '../contract';
import type { LogEntry } from '../util/log';
import type { HubService } from './hub-service';
import { BadCursor } from '../store/search-query';

/** The newest `limit` log entries at `level` or more severe, of one node if given. */
export function recentLogs(ring: readonly LogEntry[], f: { level?: LogLevel; node?: string; limit?: number }): LogEntryView[] {
  const max = f.level ? LOG_LEVELS.indexOf(f.level) : LOG_LEVELS.length - 1;
  return ring.filter((e) => LOG_LEVELS.indexOf(e.level) <= max && (!f.node || e.node === f.node)).slice(-(f.limit ?? 200));
}

export function handlers(hub: HubService): Handlers {
  return {
    'status': () => hub.status(),
    'status.snapshot': () => hub.statusSnapshot(),
    'nodes.list': () => hub.nodes(),
    'nodes.add': ({ name }) => hub.addNode(name),
    'nodes.retire': ({ id }) => hub.retireNode(id),
    'nodes.rescan': ({ id }) => hub.rescanNode(id),
    'nodes.pause': (t) => hub.pauseNodes(t, true),
    'nodes.resume': (t) => hub.pauseNodes(t, false),
    'nodes.detail': ({ id }) => {
      const rec = hub.store.node(id);
      if (!rec) throw new ContractError('NOT_FOUND', `no node with id ${id}`);
      return hub.statusBoard.detail(rec);
    },
    'nodes.pending': ({ id, direction, cursor, limit }) => {
      const rec = hub.store.node(id);
      if (!rec) throw new ContractError('NOT_FOUND', `no node with id ${id}`);
      return hub.statusBoard.pendingPage(rec, direction, cursor, limit ?? 100);
    },
    'purge.preview': () => hub.purgePreview(),
    'purge.run': ({ planId, ids }) => hub.purge(planId, ids),
    'purge.history': ({ limit }) => hub.store.events.list({ kind: 'purge', limit: limit ?? 50 }),
    'trash.list': () => hub.trash.list(),
    'trash.restore': ({ id }) => hub.trash.restore(id),
    'trash.empty': (f) => hub.trash.empty(f),
    'events.list': (f) => hub.store.events.list(f),
    'logs.recent': (f) => recentLogs(hub.logRing, f),
    'settings.get': () => hub.settings(),
    'settings.set': (patch) => hub.updateSettings(patch),
    'agents.templates': ({ deleted }) => hub.agents.templates(deleted),
    'agents.createTemplate': (t) => hub.agents.createTemplate(t),
    'agents.updateTemplate': (u) => hub.agents.updateTemplate(u),
    'agents.deleteTemplate': ({ id }) => hub.agents.deleteTemplate(id),
    'agents.overview': () => hub.agents.overview(),
    'agents.list': (f) => hub.agents.list(f),
    'agents.get': ({ id }) => hub.agents.get(id),
    'agents.output': ({ id }) => hub.agents.output(id),
    'agents.start': (s) => hub.agents.start(s),
    'agents.rerun': ({ id }) => hub.agents.rerun(id),
    'agents.stop': ({ id }) => hub.agents.stop(id),
    'token.rotate': () => hub.rotateAdminToken(),
    'conflicts.list': (f) => hub.conflicts.list(f),
    'conflicts.show': ({ nodeId, copy }) => hub.conflicts.show(nodeId, copy),
    'conflicts.resolve': ({ nodeId, copy, keep }) => hub.conflicts.resolve(nodeId, copy, keep),
    'changes.list': (f) => hub.changes.list(f),
    'changes.history': ({ nodeId, path }) => hub.changes.history(nodeId, path),
    'search.paths': ({ query, nodeId, limit, cursor }) => {
      if (nodeId !== undefined && !hub.store.node(nodeId)) throw new ContractError('NOT_FOUND', `no node with id ${nodeId}`);
      try {
        return hub.store.search.find(query, { nodeId, limit: limit ?? SEARCH_LIMIT_DEFAULT, cursor });
      } catch (err) {
        // planSearch's refusal of a cursor that is not one of this query's (a sentence); anything else is the hub's.
        if (err instanceof BadCursor) throw new ContractError('BAD_REQUEST', `search.paths: ${err.message}`);
        throw err;
      }
    },
  };
}
