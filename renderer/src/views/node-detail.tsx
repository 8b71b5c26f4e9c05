/** One node: its mirror, what is pending either way or failing and why, recent events; rescan, retire. */
import { useState } from 'react';
import { ago, bytes } from '../../../main/util/format';
import { api } from '../api';
import { Dialog, Empty, ErrorNote, Loading, StateBadge } from '../components/bits';
import { useLoad } from '../hooks';
import { useUi } from '../store';
import { AgentsView } from './agents';
import { ConflictTable } from './conflicts';

const files = (n: number) => `${n.toLocaleString()} ${n === 1 ? 'file' : 'files'}`;

export function NodeDetailView({ id }: { id: string }) {
  // The live row keeps the header current; the detail (lists) is re-read every 2 s.
  const live = useUi((s) => s.nodes[id]);
  const go = useUi((s) => s.go);
  const detail = useLoad(() => api().invoke('nodes.detail', { id }), [id], 2000);
  const [confirming, setConfirming] = useState(false);
  const [retireError, setRetireError] = useState<unknown>(null);
  const [rescan, setRescan] = useState<{ text: string } | { error: unknown } | null>(null);
  const node = live ?? detail.data?.node;

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

  const rescanNow = async () => {
    try {
      const r = await api().invoke('nodes.rescan', { id });
      setRescan({ text: `Rescanning${r.rescanning ? ' the mirror and the workspace' : ' the mirror (the workspace when the node connects)'}; ${r.retried} failed ${r.retried === 1 ? 'change' : 'changes'} tried again.` });
      detail.reload();
    } catch (e) {
      setRescan({ error: e });
    }
  };

  const d = detail.data;
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
        {node.state !== 'retired' ? <button type="button" onClick={() => void rescanNow()} title="Look at the mirror and the node's workspace again, and try everything that failed now">Rescan</button> : null}
        {node.state !== 'retired' ? <button type="button" className="danger" onClick={() => setConfirming(true)}>Retire node…</button> : null}
      </div>
      {rescan && 'text' in rescan ? <p role="status">{rescan.text}</p> : null}
      {rescan && 'error' in rescan ? <ErrorNote error={rescan.error} /> : null}
      {duplicate ? <p className="warn-note" role="alert">{duplicate.reason}</p>
        : superseded ? <p className="warn-note" role="alert">A connection with this node's credentials from {String(superseded.data.by)} replaced the one from {String(superseded.data.replaced)} {ago(superseded.at)}. If that was not a restart of the node, two processes share its credentials.</p> : null}
      <dl className="facts">
        <dt>Id</dt><dd className="mono">{node.id}</dd>
        <dt>Mirror</dt><dd className="mono">{node.mirror}</dd>
        <dt>Files</dt><dd>{node.files.toLocaleString()} · {bytes(node.bytes)}</dd>
        <dt>Pending to hub</dt><dd>{files(node.outOfSyncFiles)} · {bytes(node.outOfSyncBytes)}</dd>
        <dt>Pending to node</dt><dd>{files(node.toNodeFiles)} · {bytes(node.toNodeBytes)} (changed on the hub's side)</dd>
        <dt>Conflicts</dt><dd>{node.conflicts.toLocaleString()} conflict {node.conflicts === 1 ? 'copy' : 'copies'}</dd>
        <dt>Problems</dt><dd>{node.problems.toLocaleString()} {node.problems === 1 ? 'path' : 'paths'} that cannot be synced · {node.ignored.toLocaleString()} ignored</dd>
        <dt>Received</dt><dd>{bytes(node.bytesReceived)} (plus {bytes(node.bytesReused)} reused from the mirror) this session</dd>
        <dt>Last seen</dt><dd>{node.state === 'disconnected' || node.state === 'retired' ? ago(node.lastSeen) : 'connected now'}</dd>
        <dt>Added</dt><dd>{new Date(node.createdAt).toLocaleString()}</dd>
        {node.retiredAt ? (<><dt>Retired</dt><dd>{new Date(node.retiredAt).toLocaleString()}</dd></>) : null}
      </dl>
      <ErrorNote error={detail.error} />

      <h2>Problems{d && node.problems > d.problems.length ? ` (first ${d.problems.length} of ${node.problems.toLocaleString()})` : ''}</h2>
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

      <h2>Ignored{d && node.ignored > d.ignored.length ? ` (first ${d.ignored.length} of ${node.ignored.toLocaleString()})` : ''}</h2>
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

      <h2>Pending to hub{d && node.outOfSyncFiles > d.pending.length ? ` (first ${d.pending.length} of ${node.outOfSyncFiles.toLocaleString()})` : ''}</h2>
      {!d ? <Loading what="pending files" /> : d.pending.length === 0 ? <Empty>Nothing pending.</Empty> : (
        <table className="list">
          <thead><tr><th>Path</th><th>Action</th><th className="num">Bytes</th><th>State</th></tr></thead>
          <tbody>{d.pending.map((p) => <tr key={p.path}><td className="mono">{p.path}</td><td>{p.action}</td><td className="num">{p.size ? bytes(p.size) : '–'}</td><td>{p.state}</td></tr>)}</tbody>
        </table>
      )}

      <h2>Pending to node{d && node.toNodeFiles > d.toNode.length ? ` (first ${d.toNode.length} of ${node.toNodeFiles.toLocaleString()})` : ''}</h2>
      {!d ? <Loading what="pending changes" /> : d.toNode.length === 0 ? <Empty>Nothing pending: every change made on the hub's side has reached the node.</Empty> : (
        <table className="list to-node">
          <thead><tr><th>Path</th><th>Action</th><th className="num">Bytes</th></tr></thead>
          <tbody>{d.toNode.map((p) => <tr key={p.path}><td className="mono">{p.path}</td><td>{p.action}</td><td className="num">{p.size ? bytes(p.size) : '–'}</td></tr>)}</tbody>
        </table>
      )}

      {node.state !== 'retired' ? <AgentsView nodeId={node.id} /> : null}

      <h2>Recent events</h2>
      {!d ? <Loading what="events" /> : d.events.length === 0 ? <Empty>No events recorded.</Empty> : (
        <table className="list">
          <thead><tr><th>When</th><th>Event</th><th>Details</th></tr></thead>
          <tbody>{d.events.map((e) => <tr key={e.id}><td title={new Date(e.at).toLocaleString()}>{ago(e.at)}</td><td>{e.kind}</td><td className="mono small">{JSON.stringify(e.data)}</td></tr>)}</tbody>
        </table>
      )}

      <Dialog title={`Retire ${node.name}?`} open={confirming} onClose={() => { setConfirming(false); setRetireError(null); }}>
        <div className="stack">
          <p>The node's token is revoked at once: it is disconnected and cannot connect again. Its mirror stays on the hub until a purge removes it.</p>
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
