/**
 * Search results: paths in every node's mirror (or one node's) found by a piece of their name,
 * from the hub's index (`search.paths`), a page at a time. Each hit links to the path's history
 * (#/history/<node>/<path>) and to its node. Arrow keys move between the results; the search box
 * is in the header (components/search-box.tsx).
 */
import { useEffect, useState, type KeyboardEvent } from 'react';
import { SEARCH_SUBSTRING_MIN, searchQueryProblem, type SearchHit, type SearchPage } from '../../../main/contract';
import { bytes, dateTime } from '../../../main/util/format';
import { api } from '../api';
import { Empty, ErrorNote, Loading } from '../components/bits';
import { resultLinks } from '../components/search-box';
import { useUi } from '../store';
import { historyHref } from '../links';

const PAGE = 50;
const KIND = { file: 'file', dir: 'folder', symlink: 'link' } as const;


/** ArrowDown / ArrowUp from one result link to the next or previous (Home / End: first, last). */
function moveFocus(e: KeyboardEvent<HTMLElement>) {
  const links = resultLinks();
  const at = links.indexOf(document.activeElement as HTMLElement);
  if (at === -1) return;
  const to = e.key === 'ArrowDown' ? at + 1 : e.key === 'ArrowUp' ? at - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? links.length - 1 : null;
  if (to === null) return;
  e.preventDefault();
  if (to < 0) document.getElementById('path-search')?.focus();
  else links[Math.min(to, links.length - 1)]?.focus();
}

export function SearchView({ query }: { query: string }) {
  // Two stable selections (a selector that built the list would give a new array each time: a render loop).
  const order = useUi((s) => s.order);
  const byId = useUi((s) => s.nodes);
  const nodes = order.map((id) => byId[id]).filter((n) => n !== undefined);
  const go = useUi((s) => s.go);
  const [nodeId, setNodeId] = useState('');
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [page, setPage] = useState<SearchPage | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const problem = query.trim() === '' ? null : searchQueryProblem(query);

  const load = async (cursor: string | null, live: () => boolean = () => true) => {
    setBusy(true);
    setError(null);
    try {
      // Each answer checks a bounded number of candidates (README, "Search across mirrors"), so
      // one may come back short with a cursor: ask on (at most 20 times) until the page is full.
      const got: SearchHit[] = [];
      let r: SearchPage;
      let at = cursor;
      let asked = 0;
      do {
        r = await api().invoke('search.paths', { query, limit: PAGE - got.length, ...(nodeId ? { nodeId } : {}), ...(at ? { cursor: at } : {}) });
        if (!live()) return;
        got.push(...r.hits);
        at = r.next;
      } while (got.length < PAGE && at && ++asked < 20);
      setPage(r);
      setHits((h) => (cursor ? [...(h ?? []), ...got] : got));
    } catch (e) {
      if (live()) setError(e);
    } finally {
      if (live()) setBusy(false);
    }
  };

  useEffect(() => {
    setHits(null);
    setPage(null);
    if (query.trim() === '' || problem) return undefined;
    let on = true;
    void load(null, () => on);
    return () => { on = false; };
  }, [query, nodeId]);

  const how = (n: number) => (page?.match === 'name-prefix' ? `name${n === 1 ? '' : 's'} starting with` : `path${n === 1 ? '' : 's'} containing`);
  return (
    <section aria-labelledby="search-title" className="search-view">
      <div className="toolbar">
        <h1 id="search-title">Search</h1>
        <label>Node{' '}
          <select value={nodeId} onChange={(e) => setNodeId(e.target.value)}>
            <option value="">every node</option>
            {nodes.map((n) => <option key={n.id} value={n.id}>{n.name}{n.state === 'retired' ? ' (retired)' : ''}</option>)}
          </select>
        </label>
        <span className="sub">From the hub's index of every mirror (no disk is walked). {SEARCH_SUBSTRING_MIN} characters or more: anywhere in the path; fewer: the start of a name.</span>
      </div>
      {query.trim() === '' ? <Empty>Type in the search box above (press <kbd>/</kbd> to get there) and press Enter.</Empty> : null}
      {problem ? <p className="error-note" role="alert">{problem}</p> : null}
      <ErrorNote error={error} />
      {hits === null ? (query.trim() && !problem && !error ? <Loading what="results" /> : null) : hits.length === 0 ? (
        <Empty>No {how(0)} “{query}”{nodeId ? ' in this node\u2019s mirror' : ' in any mirror'}.{page?.match === 'name-prefix' ? ' Type 3 characters or more to search anywhere in the path.' : ''}</Empty>
      ) : (
        <table className="list search-hits" data-rows={hits.length} onKeyDown={moveFocus}>
          <caption>{hits.length.toLocaleString()} {how(hits.length)} “{query}”{page?.next ? ' so far' : ''}</caption>
          <colgroup><col className="col-node" /><col /><col className="col-type" /><col className="col-size" /><col className="col-mtime" /><col className="col-links" /></colgroup>
          <thead><tr><th>Node</th><th>Path</th><th>Type</th><th className="num">Size</th><th>Modified</th><th><span className="sr-only">Links</span></th></tr></thead>
          <tbody>{hits.map((h) => (
            <tr key={`${h.nodeId}\u0000${h.path}`} data-search-hit={h.path} data-node-id={h.nodeId}>
              <td>{h.nodeName ?? h.nodeId}{h.nodeRetired ? <span className="sub"> (retired)</span> : null}</td>
              <td className="mono path-cell">
                <a className="hit-path" href={historyHref(h)} title={`History of ${h.path}`}>{h.path}</a>
                {h.conflictCopy ? <span className="badge badge-conflict">conflict copy</span> : null}
              </td>
              <td>{KIND[h.type]}</td>
              <td className="num">{h.type === 'file' ? bytes(h.size) : '–'}</td>
              <td className="mtime">{dateTime(h.mtimeMs)}</td>
              <td className="links">
                <a href={historyHref(h)} aria-label={`History of ${h.path}`} tabIndex={-1}>History</a>{' · '}
                <a href={`#/node/${encodeURIComponent(h.nodeId)}`} onClick={(e) => { e.preventDefault(); go({ name: 'node', id: h.nodeId }); }}
                  aria-label={`Node ${h.nodeName ?? h.nodeId}`}>Node</a>
              </td>
            </tr>
          ))}</tbody>
        </table>
      )}
      {page?.next ? (
        <div className="actions"><button type="button" disabled={busy} onClick={() => void load(page.next)}>{busy ? 'Loading…' : `Show ${PAGE} more`}</button></div>
      ) : null}
    </section>
  );
}
