/** Nodes overview: one row per node, live, sortable and filterable. */
import { memo, useLayoutEffect, useRef, useState } from 'react';
import { useWindowVirtualizer } from '@tanstack/react-virtual';
import { useShallow } from 'zustand/react/shallow';
import { ago, bytes, count, dateTime } from '../../../main/util/format';
import { heldText, needsAttention, nodesSummary, overallPercent, progressText, rateText } from '../../../main/util/describe';
import { currentRate, useUi, visibleIdsCached, type SortKey } from '../store';
import { Empty, Progress, Sparkline, StateBadge } from '../components/bits';
import { AddNodeDialog } from './add-node';
import { PauseAllControls } from './sync-controls';

const COLUMNS: { key: SortKey; label: string; numeric?: boolean }[] = [
  { key: 'name', label: 'Node' },
  { key: 'state', label: 'State' },
  { key: 'lastSeen', label: 'Last seen' },
  { key: 'files', label: 'Files', numeric: true },
  { key: 'bytes', label: 'Size', numeric: true },
  { key: 'outOfSyncFiles', label: 'To hub', numeric: true },
  { key: 'toNodeFiles', label: 'To node', numeric: true },
  { key: 'conflicts', label: 'Conflicts', numeric: true },
  { key: 'problems', label: 'Problems', numeric: true },
  { key: 'rate', label: 'Transfer', numeric: true },
];

/** More rows than this: only those near the viewport are in the DOM (1,000 rows do not fit in a frame). */
export const VIRTUAL_ROWS_FROM = 60;
/** A row's height before it is measured (name and id on two lines). */
const ROW_ESTIMATE = 50;

/**
 * A pending count with its bytes and, while it moves, its percent and time left; '–' when
 * nothing is pending. `held`: what a paused node holds back (to hub only), under the count.
 */
function PendingCell({ files, size, percent, etaMs, held = null }: { files: number; size: number; percent: number | null; etaMs: number | null; held?: string | null }) {
  if (files === 0 && !held) return <td className="num">–</td>;
  const p = progressText(percent, etaMs);
  return (
    <td className="num">
      {files > 0 ? <>{count(files)} · {bytes(size)}</> : null}
      {p ? <div className="sub progress-text">{p}</div> : null}
      {held ? <div className="sub held-text" data-held={files}>{held}</div> : null}
    </td>
  );
}

const Row = memo(function Row({ id, index, measure }: { id: string; index?: number; measure?: (el: HTMLTableRowElement | null) => void }) {
  const n = useUi((s) => s.nodes[id]!);
  const samples = useUi((s) => s.rates[id]?.samples);
  const go = useUi((s) => s.go);
  const syncing = n.state === 'syncing' || n.state === 'connected';
  const percent = overallPercent(n);
  // The rate is shown only while the node syncs and something moves: never a stale or "0 B/s" figure.
  const rate = syncing ? rateText(currentRate(samples)) : null;
  return (
    <tr ref={measure} data-index={index} data-node-id={n.id} data-node-name={n.name} data-state={n.state}>
      <td className="name">
        <a href={`#/node/${encodeURIComponent(n.id)}`} onClick={(e) => { e.preventDefault(); go({ name: 'node', id: n.id }); }}>{n.name}</a>
        <div className="sub mono">{n.id}</div>
      </td>
      <td>
        <StateBadge state={n.state} verifying={n.verifying} />
        {syncing && percent !== null ? <Progress value={percent / 100} label={`${n.name} sync progress`} /> : null}
      </td>
      <td title={n.lastSeen ? dateTime(n.lastSeen) : undefined}>{n.state === 'in-sync' || syncing ? 'now' : ago(n.lastSeen)}</td>
      <td className="num">{count(n.files)}</td>
      <td className="num">{bytes(n.bytes)}</td>
      <PendingCell files={n.outOfSyncFiles} size={n.outOfSyncBytes} percent={n.toHubPercent} etaMs={n.toHubEtaMs} held={heldText(n.held)} />
      <PendingCell files={n.toNodeFiles} size={n.toNodeBytes} percent={n.toNodePercent} etaMs={n.toNodeEtaMs} />
      <td className="num">{n.conflicts > 0 ? <span className="code" title="Conflict copies in the mirror: both versions were kept">{count(n.conflicts)}</span> : '–'}</td>
      <td className="num problems">{n.problems > 0 ? <span className="code" title={`Paths that cannot be synced (see the node's detail)${n.ignored ? `; ${count(n.ignored)} special files ignored` : ''}`}>{count(n.problems)}</span> : '–'}</td>
      <td className="num rate">
        {rate ? <><Sparkline samples={samples ?? []} label={`${n.name} transfer rate`} /><span>{rate}</span></> : '–'}
      </td>
      <td className="first-error">{n.lastError ? <span title={n.lastError.message}>{n.lastError.path ? `${n.lastError.path}: ` : ''}{n.lastError.message}</span> : null}</td>
    </tr>
  );
});

/** How many nodes, in sync, new, needing attention: its own component, so that a state change re-renders only it (and the row). */
function Summary() {
  const counts = useUi(useShallow((s) => {
    const c = { total: s.order.length, inSync: 0, fresh: 0, attention: 0 };
    for (const id of s.order) {
      const st = s.nodes[id]!.state;
      if (st === 'in-sync') c.inSync++;
      if (st === 'new') c.fresh++;
      if (needsAttention(st)) c.attention++;
    }
    return c;
  }));
  return <span className="sub" data-testid="nodes-summary">{nodesSummary(counts)}</span>;
}

export function NodesView() {
  const { order, filter, sort, setFilter, sortBy } = useUi(useShallow((s) => ({ order: s.order, filter: s.filter, sort: s.sort, setFilter: s.setFilter, sortBy: s.sortBy })));
  // Re-sorted when a sort-relevant value changes; rows themselves re-render on their own.
  const ids = useUi(visibleIdsCached);
  const [adding, setAdding] = useState(false);
  return (
    <section aria-labelledby="nodes-title">
      <div className="toolbar">
        <h1 id="nodes-title">Nodes</h1>
        <Summary />
        <span className="spacer" />
        <input type="search" placeholder="Filter by name, id or state" aria-label="Filter nodes" value={filter} onChange={(e) => setFilter(e.target.value)} />
        <button type="button" className="primary" onClick={() => setAdding(true)}>Add node</button>
        <PauseAllControls />
      </div>
      {order.length === 0 ? (
        <Empty>
          <p>No nodes yet.</p>
          <p>Add one, then run the join command it gives you on the machine whose workspace the hub should mirror.</p>
          <button type="button" className="primary" onClick={() => setAdding(true)}>Add your first node</button>
        </Empty>
      ) : ids.length === 0 ? (
        <Empty>No node matches “{filter}”.</Empty>
      ) : (
        <table className="nodes" data-rows={ids.length}>
          {/* Fixed widths (table-layout: fixed): columns do not move as counts and rates come and go. */}
          <colgroup>{COLUMNS.map((c) => <col key={c.key} className={`col-${c.key}`} />)}<col className="col-first-error" /></colgroup>
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th key={c.key} className={c.numeric ? 'num' : undefined} aria-sort={sort.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'}>
                  <button type="button" className="sort" onClick={() => sortBy(c.key)}>
                    {c.label}{sort.key === c.key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
                  </button>
                </th>
              ))}
              <th>First error</th>
            </tr>
          </thead>
          {ids.length > VIRTUAL_ROWS_FROM ? <VirtualRows ids={ids} /> : <tbody>{ids.map((id) => <Row key={id} id={id} />)}</tbody>}
        </table>
      )}
      <AddNodeDialog open={adding} onClose={() => setAdding(false)} />
    </section>
  );
}

/** The rows near the viewport (the window scrolls), with spacer rows for the others. */
function VirtualRows({ ids }: { ids: string[] }) {
  const body = useRef<HTMLTableSectionElement>(null);
  const [margin, setMargin] = useState(0);
  useLayoutEffect(() => {
    if (body.current) setMargin(body.current.getBoundingClientRect().top + window.scrollY);
  }, []);
  const v = useWindowVirtualizer({ count: ids.length, estimateSize: () => ROW_ESTIMATE, overscan: 8, scrollMargin: margin, getItemKey: (i) => ids[i]! });
  const items = v.getVirtualItems();
  const top = items.length ? items[0]!.start - margin : 0;
  const bottom = items.length ? v.getTotalSize() - (items[items.length - 1]!.end - margin) : 0;
  return (
    <tbody ref={body}>
      {top > 0 ? <tr className="spacer" aria-hidden="true" style={{ height: top }} /> : null}
      {items.map((it) => <Row key={it.key} id={ids[it.index]!} index={it.index} measure={v.measureElement} />)}
      {bottom > 0 ? <tr className="spacer" aria-hidden="true" style={{ height: bottom }} /> : null}
    </tbody>
  );
}
