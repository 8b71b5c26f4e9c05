/**
 * Recent changes and file history. The Changes view: the hub-wide feed of what changed where
 * (filtered by node, path or directory, direction and kind; newest first, older pages on
 * demand), each row a sentence with a link to its path's timeline. The feed is also a section
 * of the node detail (ChangeFeed). The History view (`#/history/<node>/<path>`): what the mirror
 * holds there now, whether it is in sync and if not why (waiting behind what, failed with what,
 * paused, locked, the node away), and every change the hub recorded for it.
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { CHANGE_KINDS, type ChangeKind, type ChangesListFilter, type ChangesPage, type ChangeView, type FileHistoryView } from '../../../main/contract';
import { ago, bytes, dateTime } from '../../../main/util/format';
import { api } from '../api';
import { Empty, ErrorNote, Loading } from '../components/bits';
import { useLoad } from '../hooks';
import { historyHash, useUi } from '../store';

const KIND_LABEL: Record<ChangeKind, string> = { change: 'Changes and deliveries', conflict: 'Conflicts', refusal: 'Refusals', failure: 'Failures' };
const REFRESH_MS = 3000;

/** Where a row points: its path's timeline (a conflict's row: the path it copies). */
function PathLink({ c }: { c: Pick<ChangeView, 'nodeId' | 'path'> }) {
  const go = useUi((s) => s.go);
  // Path '': the node or its workspace as a whole (a problem it reported), no file to follow.
  if (c.path === '') return <span>(the node itself)</span>;
  return (
    <a className="mono" href={historyHash(c.nodeId, c.path)} onClick={(e) => { e.preventDefault(); go({ name: 'history', nodeId: c.nodeId, path: c.path }); }}>{c.path}</a>
  );
}

function rowClass(c: ChangeView): string {
  return c.action === 'conflict' || c.action === 'refused' || c.action === 'failed' ? `change notable ${c.action}` : `change ${c.action}`;
}

/**
 * A feed of changes for a filter: the first page is read again every few seconds; "Show older"
 * adds the next page (keyset) and stops the refresh, so the list does not move under the reader,
 * until "Back to the newest".
 */
export function ChangeFeed({ filter, showNode, limit = 100, caption }: { filter: ChangesListFilter; showNode: boolean; limit?: number; caption: string }) {
  const [pages, setPages] = useState<ChangesPage[]>([]);
  const [error, setError] = useState<unknown>(null);
  const seq = useRef(0);
  const key = JSON.stringify(filter);
  const paged = pages.length > 1;
  const first = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const p = await api().invoke('changes.list', { ...filter, limit });
      if (mine === seq.current) {
        setPages([p]);
        setError(null);
      }
    } catch (e) {
      if (mine === seq.current) setError(e);
    }
  }, [key, limit]);
  useEffect(() => {
    if (paged) return undefined;
    void first();
    const t = setInterval(() => void first(), REFRESH_MS);
    return () => clearInterval(t);
  }, [first, paged]);
  const older = async () => {
    const last = pages[pages.length - 1];
    if (last?.next == null) return;
    const mine = ++seq.current;
    try {
      const p = await api().invoke('changes.list', { ...filter, limit, before: last.next });
      if (mine === seq.current) setPages((ps) => [...ps, p]);
    } catch (e) {
      if (mine === seq.current) setError(e);
    }
  };
  const latest = pages[pages.length - 1];
  const items = pages.flatMap((p) => p.items);
  return (
    <div className="change-feed">
      <ErrorNote error={error} />
      {!latest ? <Loading what="changes" /> : items.length === 0 ? (
        <Empty>{latest.oldestAt === null ? 'No changes recorded yet.' : 'No recorded change matches.'} The hub keeps changes for {latest.retentionDays} days.</Empty>
      ) : (
        <>
          <table className="list changes">
            <caption className="sr-only">{caption}</caption>
            <colgroup><col className="when" />{showNode ? <col className="node" /> : null}<col className="path" /><col className="what" /></colgroup>
            <thead><tr><th>When</th>{showNode ? <th>Node</th> : null}<th>Path</th><th>What happened</th></tr></thead>
            <tbody>{items.map((c) => (
              <tr key={c.id} className={rowClass(c)} data-action={c.action} data-direction={c.direction}>
                <td title={dateTime(c.at)}>{ago(c.at)}</td>
                {showNode ? <td>{c.nodeName ?? c.nodeId}</td> : null}
                <td><PathLink c={c} /></td>
                <td className="change-sentence">{c.sentence}</td>
              </tr>
            ))}</tbody>
          </table>
          <div className="actions">
            {paged ? <button type="button" onClick={() => void first()}>Back to the newest</button> : null}
            {latest.next !== null ? <button type="button" onClick={() => void older()}>Show older</button> : null}
          </div>
        </>
      )}
    </div>
  );
}

/** The hub-wide feed with its filters (applied when submitted: typing a path does not query per key). */
export function ChangesView() {
  const nodes = useUi((s) => s.nodes);
  const order = useUi((s) => s.order);
  const [node, setNode] = useState('');
  const [pathText, setPathText] = useState('');
  const [under, setUnder] = useState(false);
  const [direction, setDirection] = useState('');
  const [kind, setKind] = useState('');
  const [filter, setFilter] = useState<ChangesListFilter>({});
  const apply = (e: FormEvent) => {
    e.preventDefault();
    const p = pathText.trim().replace(/^\/+|\/+$/g, '');
    setFilter({
      ...(node ? { nodeId: node } : {}),
      ...(p ? { path: p, ...(under ? { prefix: true } : {}) } : {}),
      ...(direction === 'to-hub' || direction === 'to-node' ? { direction } : {}),
      ...(kind ? { kind: kind as ChangeKind } : {}),
    });
  };
  return (
    <section aria-labelledby="changes-title">
      <div className="toolbar"><h1 id="changes-title">Changes</h1></div>
      <p className="hint">What changed where, newest first: versions each side made and where they reached, conflicts, refusals and failures. Open a path for its timeline and why it is out of sync.</p>
      <form className="filters change-filters" onSubmit={apply} aria-label="Filter the changes">
        <label>Node <select value={node} onChange={(e) => setNode(e.target.value)}>
          <option value="">All nodes</option>
          {order.map((id) => <option key={id} value={id}>{nodes[id]?.name ?? id}</option>)}
        </select></label>
        <label>Path <input type="text" value={pathText} placeholder="docs/plan.md or docs" onChange={(e) => setPathText(e.target.value)} spellCheck={false} /></label>
        <label className="check"><input type="checkbox" checked={under} onChange={(e) => setUnder(e.target.checked)} /> and everything under it</label>
        <label>Direction <select value={direction} onChange={(e) => setDirection(e.target.value)}>
          <option value="">Both ways</option>
          <option value="to-hub">Made on the node (node → hub)</option>
          <option value="to-node">Made on the hub (hub → node)</option>
        </select></label>
        <label>Kind <select value={kind} onChange={(e) => setKind(e.target.value)}>
          <option value="">Everything</option>
          {CHANGE_KINDS.map((k) => <option key={k} value={k}>{KIND_LABEL[k]}</option>)}
        </select></label>
        <button type="submit">Apply</button>
      </form>
      <ChangeFeed filter={filter} showNode={filter.nodeId === undefined} caption="Recent changes, newest first" />
    </section>
  );
}

/** One path's timeline and why it is out of sync. */
export function HistoryView({ nodeId, path }: { nodeId: string; path: string }) {
  const go = useUi((s) => s.go);
  const h = useLoad<FileHistoryView>(() => api().invoke('changes.history', { nodeId, path }), [nodeId, path], 2000);
  const d = h.data;
  return (
    <section aria-labelledby="history-title">
      <nav className="crumbs">
        <a href="#/changes" onClick={(e) => { e.preventDefault(); go({ name: 'changes' }); }}>Changes</a>
        {' / '}<a href={`#/node/${encodeURIComponent(nodeId)}`} onClick={(e) => { e.preventDefault(); go({ name: 'node', id: nodeId }); }}>{d?.nodeName ?? nodeId}</a>
      </nav>
      <div className="toolbar"><h1 id="history-title" className="mono">{path}</h1></div>
      <ErrorNote error={h.error} />
      {!d ? (h.error ? null : <Loading what="the file's history" />) : (
        <>
          <dl className="facts">
            <dt>Node</dt><dd>{d.nodeName}</dd>
            <dt>In the mirror now</dt>
            <dd data-fact="current">{d.current ? `${d.current.type}${d.current.type === 'file' ? `, ${bytes(d.current.size)}, sha256 ${d.current.hash.slice(0, 16)}…` : ''}, modified ${dateTime(d.current.mtimeMs)}` : 'nothing'}</dd>
            <dt>Sync</dt>
            <dd data-fact="sync">{d.inSync ? <span className="ok-note">In sync: nothing keeps it from being the same on both sides.</span> : <span className="warn-text">Out of sync</span>}</dd>
          </dl>
          {!d.inSync ? (
            <div className="why" role="status" aria-label="Why it is out of sync">
              <h2>Why</h2>
              <ul>{d.why.map((w, i) => <li key={i} data-why={w.code}>{w.sentence}</li>)}</ul>
            </div>
          ) : null}
          <h2>Timeline</h2>
          {d.events.length === 0 ? <Empty>No changes recorded for this path (the hub keeps recent changes only).</Empty> : (
            <ol className="timeline" aria-label="Timeline, newest first">
              {d.events.map((c) => (
                <li key={c.id} className={rowClass(c)} data-action={c.action} data-direction={c.direction}>
                  <time dateTime={new Date(c.at).toISOString()} title={dateTime(c.at)}>{dateTime(c.at)}</time>
                  <span className={`side side-${c.madeBy}`}>{c.madeBy === 'node' ? 'node' : 'hub'}</span>
                  <span className="change-sentence">{c.sentence}</span>
                </li>
              ))}
            </ol>
          )}
          {d.truncated ? <p className="hint">Only the newest {d.events.length} changes are shown.</p> : null}
        </>
      )}
    </section>
  );
}
