/** One node: facts of both sides, what is pending either way (paged) or failing and why, recent events as sentences; pause, rescan, retire. */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { PendingDirection, PendingPage } from '../../../main/contract';
import { ago, bytes, count } from '../../../main/util/format';
import { eventSentence, heldText, listNote, plural, progressText, retireLoss } from '../../../main/util/describe';
import { api } from '../api';
import { CopyButton, Dialog, Empty, ErrorNote, Loading, StateBadge } from '../components/bits';
import { useLoad } from '../hooks';
import { useUi } from '../store';
import { AgentsView } from './agents';
import { useNodeSyncControls } from './sync-controls';
import { ConflictTable } from './conflicts';
import { ChangeFeed } from './changes';

export function NodeDetailView({ id }: { id: string }) {
  // The live row keeps the header current; the detail (lists) is re-read every 2 s.
  const live = useUi((s) => s.nodes[id]);
  const go = useUi((s) => s.go);
  const detail = useLoad(() => api().invoke('nodes.detail', { id }), [id], 2000);
  const [confirming, setConfirming] = useState(false);
  const [retireError, setRetireError] = useState<unknown>(null);
  const node = live ?? detail.data?.node;
  // Pause/Resume and Rescan, and what they say (sync-controls.tsx); a hook: called before any return.
  const sync = useNodeSyncControls(node, detail.reload);

  if (!node) {
    if (detail.error) return <section><h1>Node</h1><ErrorNote error={detail.error} /><button type="button" onClick={() => go({ name: 'nodes' })}>Back to nodes</button></section>;
    return <Loading what="node" />;
  }

  const retire = async () => {
    try {
      await api().invoke('nodes.retire', { id });
      setConfirming(false);
      detail.reload();
    } catch (e) {
      setRetireError(e);
    }
  };

  const d = detail.data;
  const f = d?.facts;
  const toHub = progressText(node.toHubPercent, node.toHubEtaMs);
  const toNode = progressText(node.toNodePercent, node.toNodeEtaMs);
  const loss = retireLoss(node);
  // Counts beside lists come from the same answer as the lists (d.node), so the two agree.
  const at = d?.node ?? node;
  // Another process used this node's credentials lately: say so, loudly.
  const duplicate = d?.problems.find((p) => p.code === 'DUPLICATE_CONNECTION');
  const superseded = d?.events.find((e) => e.kind === 'node.superseded' && Date.now() - e.at < 10 * 60_000);
  return (
    <section aria-labelledby="node-title">
      <nav className="crumbs"><a href="#/nodes" onClick={(e) => { e.preventDefault(); go({ name: 'nodes' }); }}>Nodes</a> / {node.name}</nav>
      <div className="toolbar">
        <h1 id="node-title">{node.name}</h1>
        <StateBadge state={node.state} verifying={node.verifying} />
        <span className="spacer" />
        {sync.buttons}
        {node.state !== 'retired' ? <button type="button" className="danger" onClick={() => setConfirming(true)}>Retire node…</button> : null}
      </div>
      {sync.notes}
      {duplicate ? <p className="warn-note" role="alert">{duplicate.reason}</p>
        : superseded ? <p className="warn-note" role="alert">A connection with this node's credentials from {String(superseded.data.by)} replaced the one from {String(superseded.data.replaced)} {ago(superseded.at)}. If that was not a restart of the node, two processes share its credentials.</p> : null}
      <dl className="facts">
        <dt>Id</dt><dd className="mono">{node.id}</dd>
        <dt>Host</dt><dd className="mono" data-fact="host">{f?.host ?? (f ? 'not known (never connected)' : '…')}</dd>
        <dt>Node version</dt><dd data-fact="version">{f?.version ? `cortex-node ${f.version}` : (f ? 'not known' : '…')}</dd>
        <dt>Workspace on the node</dt><dd className="mono" data-fact="workspace">{f?.workspace ?? (f ? 'not known (the node has not said: never connected, or too old to say)' : '…')}</dd>
        <dt>Mirror</dt><dd className="copy-row"><code id="mirror-path" data-fact="mirror">{node.mirror}</code><CopyButton text={node.mirror} label="Copy mirror path" fallbackId="mirror-path" /></dd>
        <dt>Files</dt><dd>{plural(node.files, 'file')} · {bytes(node.bytes)}</dd>
        <dt>Pending to hub</dt><dd data-fact="to-hub">{plural(node.outOfSyncFiles, 'change')} · {bytes(node.outOfSyncBytes)}{toHub ? ` · ${toHub}` : ''}{heldText(node.held) ? ` · ${heldText(node.held)!} (paused)` : ''}</dd>
        <dt>Pending to node</dt><dd data-fact="to-node">{plural(node.toNodeFiles, 'change')} · {bytes(node.toNodeBytes)}{toNode ? ` · ${toNode}` : ''} (changed on the hub's side)</dd>
        <dt>Conflicts</dt><dd>{plural(node.conflicts, 'conflict copy', 'conflict copies')}</dd>
        <dt>Problems</dt><dd>{plural(node.problems, 'path')} that cannot be synced · {count(node.ignored)} ignored</dd>
        <dt>Transferred</dt><dd>{bytes(node.bytesReceived)} received (plus {bytes(node.bytesReused)} reused from the mirror), {bytes(node.bytesSent)} sent, this session</dd>
        <dt>Last seen</dt><dd>{node.state === 'new' ? 'never (it has not connected yet)' : !node.connected ? ago(node.lastSeen) : `connected now${f?.connectedAt ? `, since ${new Date(f.connectedAt).toLocaleString()}` : ''}`}</dd>
        <dt>Added</dt><dd>{new Date(node.createdAt).toLocaleString()}</dd>
        {node.retiredAt ? (<><dt>Retired</dt><dd>{new Date(node.retiredAt).toLocaleString()}</dd></>) : null}
      </dl>
      <ErrorNote error={detail.error} />

      <h2>Problems{d && at.problems > d.problems.length ? ` (first ${d.problems.length} of ${count(at.problems)})` : ''}</h2>
      {!d ? <Loading what="problems" /> : d.problems.length === 0 ? <Empty>No problems: every path the node has can be mirrored.</Empty> : (
        <table className="list problems">
          <caption>Paths that are not mirrored until their cause is fixed (they are retried)</caption>
          <thead><tr><th>Path</th><th>Direction</th><th>Code</th><th>Reason</th><th>Since</th></tr></thead>
          <tbody>{d.problems.map((p) => (
            <tr key={`${p.direction}:${p.code}:${p.path}`}>
              <td className="mono">{p.path || '(the node itself)'}</td>
              <td>{p.direction === 'to-hub' ? 'node → hub' : 'hub → node'}</td>
              <td><span className="code">{p.code}</span></td>
              <td>{p.reason}</td>
              <td title={new Date(p.at).toLocaleString()}>{ago(p.at)}</td>
            </tr>
          ))}</tbody>
        </table>
      )}

      <h2>Ignored{d && at.ignored > d.ignored.length ? ` (first ${d.ignored.length} of ${count(at.ignored)})` : ''}</h2>
      {!d ? <Loading what="ignored paths" /> : d.ignored.length === 0 ? <Empty>Nothing ignored.</Empty> : (
        <table className="list ignored">
          <caption>Left out by design: special files (FIFOs, sockets, devices) and symlinks that lead outside the workspace; they do not keep the node from being in sync</caption>
          <thead><tr><th>Path</th><th>Kind</th></tr></thead>
          <tbody>{d.ignored.map((i) => <tr key={i.path}><td className="mono">{i.path}</td><td>{i.kind}</td></tr>)}</tbody>
        </table>
      )}

      <h2>Conflicts</h2>
      {node.state !== 'retired' ? <ConflictTable nodeId={node.id} /> : <Empty>A retired node's mirror is no longer synced: its conflict copies stay as they are.</Empty>}

      <h2>Immutability lock</h2>
      {node.lockError ? <p className="warn-note" role="alert">{node.lockError} (the last good lock set stays in force)</p> : null}
      {node.locked.length === 0 ? <Empty>No paths are locked. List globs under <code>"immutable"</code> in the mirror's <code>.metadata.json</code> to keep the hub's version of them.</Empty> : (
        <p className="locks">Locked: {node.locked.map((g) => <code key={g}>{g}</code>)}</p>
      )}
      {d && d.lockRefusals.length > 0 ? (
        <table className="list lock-refusals">
          <caption>Node changes refused by the lock ({node.lockedRefusals})</caption>
          <thead><tr><th>Path</th><th>Lock</th><th>When</th></tr></thead>
          <tbody>{[...d.lockRefusals].reverse().map((r) => <tr key={r.path}><td className="mono">{r.path}</td><td className="mono">{r.glob}</td><td>{ago(r.at)}</td></tr>)}</tbody>
        </table>
      ) : null}

      <PendingList id={id} direction="to-hub" title="Pending to hub" progress={toHub}
        none="Nothing pending: every change the node reported is in the mirror."
        unlisted="being taken in from the node's index; listed once queued." />
      <PendingList id={id} direction="to-node" title="Pending to node" progress={toNode}
        none="Nothing pending: every change made on the hub's side has reached the node."
        unlisted="queued; listed in a moment." />

      {node.state !== 'retired' ? <AgentsView nodeId={node.id} /> : null}

      <h2>Recent changes</h2>
      <ChangeFeed filter={{ nodeId: node.id }} showNode={false} limit={20} caption={`Recent changes of ${node.name}, newest first`} />

      <h2>Recent events</h2>
      {!d ? <Loading what="events" /> : d.events.length === 0 ? <Empty>No events recorded.</Empty> : (
        <table className="list events">
          <thead><tr><th>When</th><th>What happened</th></tr></thead>
          <tbody>{d.events.map((e) => <tr key={e.id} data-kind={e.kind}><td title={new Date(e.at).toLocaleString()}>{ago(e.at)}</td><td className="event-sentence">{eventSentence(e)}</td></tr>)}</tbody>
        </table>
      )}

      <Dialog title={`Retire ${node.name}?`} open={confirming} onClose={() => { setConfirming(false); setRetireError(null); }}>
        <div className="stack">
          <p>The node's token is revoked at once: it is disconnected and cannot connect again. Its mirror stays on the hub until a purge removes it.</p>
          {loss.length ? (
            <div className="warn-note" data-testid="retire-loss">
              <p><strong>What retiring it leaves undone:</strong></p>
              <ul>{loss.map((l) => <li key={l}>{l}</li>)}</ul>
            </div>
          ) : <p data-testid="retire-loss">Nothing is pending either way: nothing is lost.</p>}
          <ErrorNote error={retireError} />
          <div className="actions">
            <button type="button" autoFocus onClick={() => setConfirming(false)}>Cancel</button>
            <button type="button" className="danger" onClick={() => void retire()}>Retire</button>
          </div>
        </div>
      </Dialog>
    </section>
  );
}

const PAGE = 100;

/**
 * What is pending one way, a page at a time (`nodes.pending`): the first page is read again
 * every 2 s; "Show more" adds the next (and stops the refresh, so the list does not move under
 * the reader) until "Back to the first page". The heading's count and the list come from the
 * same answer, so they never disagree.
 */
function PendingList({ id, direction, title, progress, none, unlisted }: { id: string; direction: PendingDirection; title: string; progress: string | null; none: string; unlisted: string }) {
  const [pages, setPages] = useState<PendingPage[]>([]);
  const [error, setError] = useState<unknown>(null);
  const paged = pages.length > 1;
  const seq = useRef(0);
  const first = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const p = await api().invoke('nodes.pending', { id, direction, limit: PAGE });
      if (mine === seq.current) {
        setPages([p]);
        setError(null);
      }
    } catch (e) {
      if (mine === seq.current) setError(e);
    }
  }, [id, direction]);
  useEffect(() => {
    if (paged) return undefined;
    void first();
    const t = setInterval(() => void first(), 2000);
    return () => clearInterval(t);
  }, [first, paged]);
  const more = async () => {
    const last = pages[pages.length - 1];
    if (!last?.next) return;
    const mine = ++seq.current;
    try {
      const p = await api().invoke('nodes.pending', { id, direction, limit: PAGE, cursor: last.next });
      if (mine === seq.current) setPages((ps) => [...ps, p]);
    } catch (e) {
      if (mine === seq.current) setError(e);
    }
  };
  const latest = pages[pages.length - 1];
  const items = pages.flatMap((p) => p.items);
  const total = latest?.total ?? 0;
  const note = listNote(total, items.length, none, `${plural(total, 'change')} ${unlisted}`);
  return (
    <section className={`pending ${direction}`} data-direction={direction}>
      <h2>{title}{latest ? note.heading : ''}{latest && total > 0 && progress ? <span className="sub"> · {progress}</span> : null}</h2>
      <ErrorNote error={error} />
      {!latest ? <Loading what="pending changes" /> : note.empty ? <Empty>{note.empty}</Empty> : (
        <>
          <table className={`list ${direction}`}>
            <thead><tr><th>Path</th><th>Action</th><th className="num">Bytes</th><th>State</th></tr></thead>
            <tbody>{items.map((p, i) => <tr key={`${i}:${p.path}`}><td className="mono">{p.path}</td><td>{p.action}</td><td className="num">{p.size ? bytes(p.size) : '–'}</td><td>{p.state}</td></tr>)}</tbody>
          </table>
          <div className="actions">
            {paged ? <button type="button" onClick={() => void first()}>Back to the first page</button> : null}
            {latest.next ? <button type="button" onClick={() => void more()}>Show {PAGE} more</button> : null}
          </div>
        </>
      )}
    </section>
  );
}
