/** Recent structured log entries, live, filtered by level and node. */
import { useEffect, useMemo, useState } from 'react';
import { LOG_LEVELS, type LogEntryView, type LogLevel } from '../../../main/contract';
import { api } from '../api';
import { Empty, ErrorNote, Loading } from '../components/bits';
import { useUi } from '../store';

const KEEP = 1000;
const FLUSH_MS = 300;

function passes(e: LogEntryView, level: LogLevel, node: string): boolean {
  return LOG_LEVELS.indexOf(e.level) <= LOG_LEVELS.indexOf(level) && (!node || e.node === node);
}

export function LogsView() {
  const [level, setLevel] = useState<LogLevel>('info');
  const [node, setNode] = useState('');
  const [entries, setEntries] = useState<LogEntryView[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const nodes = useUi((s) => s.nodes);
  const order = useUi((s) => s.order);

  useEffect(() => {
    let live = true;
    let buffer: LogEntryView[] = [];
    setEntries(null);
    api().invoke('logs.recent', { level, ...(node ? { node } : {}), limit: KEEP }).then(
      (r) => { if (live) { setEntries(r); setError(null); } },
      (e) => { if (live) { setError(e); setEntries([]); } },
    );
    // Entries arrive one by one; render them in batches.
    const off = api().subscribe('log', (e) => { if (passes(e, level, node)) buffer.push(e); });
    const t = setInterval(() => {
      if (buffer.length === 0) return;
      const add = buffer;
      buffer = [];
      setEntries((cur) => (cur ? [...cur, ...add].slice(-KEEP) : cur));
    }, FLUSH_MS);
    return () => { live = false; off(); clearInterval(t); };
  }, [level, node]);

  const shown = useMemo(() => (entries ? [...entries].reverse() : null), [entries]);

  return (
    <section aria-labelledby="logs-title">
      <div className="toolbar">
        <h1 id="logs-title">Logs</h1>
        <span className="spacer" />
        <label>Level{' '}
          <select value={level} onChange={(e) => setLevel(e.target.value as LogLevel)}>
            {LOG_LEVELS.map((l) => <option key={l} value={l}>{l} and worse</option>)}
          </select>
        </label>
        <label>Node{' '}
          <select value={node} onChange={(e) => setNode(e.target.value)}>
            <option value="">all</option>
            {order.map((id) => <option key={id} value={id}>{nodes[id]!.name}</option>)}
          </select>
        </label>
      </div>
      <ErrorNote error={error} />
      {!shown ? <Loading what="logs" /> : shown.length === 0 ? <Empty>No log entries at this level{node ? ' for this node' : ''}.</Empty> : (
        <table className="list logs">
          <thead><tr><th>Time</th><th>Level</th><th>Component</th><th>Message</th><th>Node</th><th>Fields</th></tr></thead>
          <tbody>
            {shown.map((e, i) => {
              const { t, level: l, component, msg, node: nodeId, ...fields } = e;
              const nodeName = typeof nodeId === 'string' ? (nodes[nodeId]?.name ?? nodeId) : '';
              return (
                <tr key={`${t}-${i}`} className={`log-${l}`}>
                  <td className="mono small" title={t}>{new Date(t).toLocaleTimeString([], { hour12: false })}</td>
                  <td><span className={`level level-${l}`}>{l}</span></td>
                  <td>{component}</td>
                  <td>{msg}</td>
                  <td title={typeof nodeId === 'string' ? nodeId : undefined}>{nodeName}</td>
                  <td className="mono small">{Object.keys(fields).length ? JSON.stringify(fields) : ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
