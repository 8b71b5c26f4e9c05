/** The shell: navigation, the connection banner and the current view. */
import { useUi, type View } from './store';
import { NodesView } from './views/nodes';
import { NodeDetailView } from './views/node-detail';
import { PurgesView } from './views/purges';
import { TrashView } from './views/trash';
import { AgentsTab, TemplatePage } from './views/agent-templates';
import { InstancePage } from './views/agent-instance';
import { LogsView } from './views/logs';
import { SettingsView } from './views/settings';
import { ConflictsView } from './views/conflicts';
import { Notices } from './components/toasts';
import { ChangesView, HistoryView } from './views/changes';
import { SearchBox } from './components/search-box';
import { SearchView } from './views/search';

const TABS: { view: View; label: string }[] = [
  { view: { name: 'nodes' }, label: 'Nodes' },
  { view: { name: 'conflicts' }, label: 'Conflicts' },
  { view: { name: 'changes' }, label: 'Changes' },
  { view: { name: 'agents' }, label: 'Agents' },
  { view: { name: 'purges' }, label: 'Purges' },
  { view: { name: 'trash' }, label: 'Trash' },
  { view: { name: 'logs' }, label: 'Logs' },
  { view: { name: 'settings' }, label: 'Settings' },
];

function Current({ view }: { view: View }) {
  switch (view.name) {
    // Keyed by the node: another node's detail starts afresh (its lists, its agents, its dialogs), never showing the previous node's.
    case 'node': return <NodeDetailView key={view.id} id={view.id} />;
    case 'agents': return <AgentsTab />;
    case 'agent-template': return <TemplatePage key={view.id} id={view.id} />;
    case 'agent-instance': return <InstancePage key={view.id} id={view.id} />;
    case 'purges': return <PurgesView />;
    case 'trash': return <TrashView />;
    case 'conflicts': return <ConflictsView />;
    case 'changes': return <ChangesView />;
    // Keyed by the path: another path's timeline starts afresh.
    case 'history': return <HistoryView key={`${view.nodeId}\0${view.path}`} nodeId={view.nodeId} path={view.path} />;
    case 'logs': return <LogsView />;
    case 'settings': return <SettingsView />;
    case 'search': return <SearchView query={view.query} />;
    default: return <NodesView />;
  }
}

export function App() {
  const view = useUi((s) => s.view);
  const go = useUi((s) => s.go);
  const connection = useUi((s) => s.connection);
  const hub = useUi((s) => s.hub);
  const active = view.name === 'node' ? 'nodes' : view.name === 'agent-template' || view.name === 'agent-instance' ? 'agents' : view.name === 'history' ? 'changes' : view.name;
  return (
    <div className="app">
      <header>
        <span className="brand">Cortex Hub</span>
        <nav aria-label="Views">
          {TABS.map((t) => (
            <a key={t.view.name} href={`#/${t.view.name}`} aria-current={active === t.view.name ? 'page' : undefined}
              onClick={(e) => { e.preventDefault(); go(t.view); }}>{t.label}</a>
          ))}
        </nav>
        <span className="spacer" />
        <SearchBox />
        <span className={`conn conn-${connection}`} role="status">
          {connection === 'open' ? `hub ${hub?.version ?? ''}` : connection === 'connecting' ? 'connecting…' : connection === 'signed-out' ? 'signed out' : 'disconnected, retrying…'}
        </span>
      </header>
      {connection === 'closed' ? <div className="banner" role="alert">The connection to the hub is lost. Showing the last known state; reconnecting…</div> : null}
      <main>
        {hub ? <Current view={view} /> : <div className="loading" aria-busy="true">Connecting to the hub…</div>}
      </main>
      <Notices />
    </div>
  );
}
