/**
 * Conflicts: the conflict copies of every node (or of one, in its detail), each with the path it
 * lost to; a dialog shows both versions side by side (size, time, side, hash, a line diff of
 * text) and settles it: keep the winner, keep the copy, or keep both. The hub changes its
 * mirror and the change reaches the node like any other.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { ConflictDetail, ConflictKeep, ConflictVersionView, ConflictView } from '../../../main/contract';
import { bytes, count, dateTime } from '../../../main/util/format';
import { api } from '../api';
import { Dialog, Empty, ErrorNote, Loading } from '../components/bits';
import { useLoad } from '../hooks';
import { useUi } from '../store';

const sideWord = (side: 'node' | 'hub') => (side === 'node' ? 'the node' : 'the hub');
const other = (side: 'node' | 'hub') => (side === 'node' ? 'hub' : 'node');
const keyOf = (c: Pick<ConflictView, 'nodeId' | 'copy'>) => `${c.nodeId}\u0000${c.copy}`;

/** The conflicts count of every node the page knows (a change reloads the list at once). */
function useConflictCount(nodeId?: string): number {
  return useUi((s) => (nodeId ? s.nodes[nodeId]?.conflicts ?? 0 : s.order.reduce((n, id) => n + (s.nodes[id]?.conflicts ?? 0), 0)));
}

function VersionCell({ v }: { v: ConflictVersionView | null }) {
  if (!v) return <span className="sub">nothing there</span>;
  return <span title={`modified ${dateTime(v.mtimeMs)}`}>{v.type === 'file' ? bytes(v.size) : v.type}</span>;
}

/** The conflict copies of one node (`nodeId`) or of all, with a Resolve button each. */
export function ConflictTable({ nodeId }: { nodeId?: string }) {
  const total = useConflictCount(nodeId);
  const list = useLoad(() => api().invoke('conflicts.list', nodeId ? { nodeId } : {}), [nodeId, total], 5000);
  const [open, setOpen] = useState<ConflictView | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const d = list.data;
  if (!d) return list.error ? <ErrorNote error={list.error} /> : <Loading what="conflicts" />;
  return (
    <div className="stack">
      {done ? <p role="status" className="ok-note">{done}</p> : null}
      <ErrorNote error={list.error} />
      {d.conflicts.length === 0 ? (
        <Empty>No conflicts. When the node and the hub change a file at the same time, the newer version stays and the other is kept beside it as <code>name.sync-conflict-DATE-TIME-SIDE.ext</code>, on both sides, until it is resolved here.</Empty>
      ) : (
        <table className="list conflicts" data-rows={d.conflicts.length}>
          <caption>Losing versions kept beside the winners{d.total > d.conflicts.length ? ` (first ${count(d.conflicts.length)} of ${count(d.total)})` : ''}: resolve each to keep one version, or both</caption>
          <thead><tr>{nodeId ? null : <th>Node</th>}<th>Conflict copy</th><th>Kept from</th><th>Lost to</th><th className="num">Copy</th><th className="num">Winner</th><th>Decided</th><th><span className="sr-only">Action</span></th></tr></thead>
          <tbody>{d.conflicts.map((c) => (
            <tr key={keyOf(c)} data-copy={c.copy} data-node-id={c.nodeId}>
              {nodeId ? null : <td>{c.nodeName}</td>}
              <td className="mono">{c.copy}</td>
              <td>{sideWord(c.copySide)}</td>
              <td className="mono">{c.original ?? <span className="sub">(cannot be told)</span>}</td>
              <td className="num"><VersionCell v={c.copyVersion} /></td>
              <td className="num"><VersionCell v={c.originalVersion} /></td>
              <td>{c.madeAt ? dateTime(c.madeAt) : '–'}</td>
              <td><button type="button" onClick={() => { setDone(null); setOpen(c); }} aria-label={`Resolve ${c.copy}`}>Resolve…</button></td>
            </tr>
          ))}</tbody>
        </table>
      )}
      <ResolveDialog conflict={open} onClose={() => setOpen(null)} onResolved={(text) => { setOpen(null); setDone(text); list.reload(); }} />
    </div>
  );
}

function VersionFacts({ title, v, side }: { title: string; v: ConflictVersionView | null; side: string }) {
  return (
    <div className="version">
      <h3>{title}</h3>
      {!v ? <p className="sub">Nothing is at this path now.</p> : (
        <dl className="facts">
          <dt>Path</dt><dd className="mono">{v.path}</dd>
          <dt>Made on</dt><dd>{side}</dd>
          <dt>Size</dt><dd>{v.type === 'file' ? `${bytes(v.size)} (${count(v.size)} bytes)` : v.type}</dd>
          <dt>Modified</dt><dd>{dateTime(v.mtimeMs)}</dd>
          {v.type === 'file' ? (<><dt title="SHA-256 over the SHA-256 of each 128 KiB block: equal content, equal hash">Content hash</dt><dd className="mono small hash">{v.hash}</dd></>) : null}
          {v.type === 'symlink' ? (<><dt>Target</dt><dd className="mono">{v.target}</dd></>) : null}
        </dl>
      )}
    </div>
  );
}

function DiffTable({ d }: { d: ConflictDetail }) {
  if (d.diff.kind === 'none') return <p className="sub diff-none">No line diff: {d.diff.reason}.</p>;
  return (
    <div className="diff-wrap">
      <table className="diff" aria-label="Line differences: the winner (−) against the conflict copy (+)">
        <tbody>{d.diff.rows.map((r, i) => (
          <tr key={i} className={`diff-${r.op}`}>
            <td className="num ln">{r.a ?? ''}</td>
            <td className="num ln">{r.b ?? ''}</td>
            <td className="mark">{r.op === 'del' ? '−' : r.op === 'add' ? '+' : ''}</td>
            <td className="mono">{r.text}</td>
          </tr>
        ))}</tbody>
      </table>
      {d.diff.truncated ? <p className="sub">The diff goes on; only its first rows are shown.</p> : null}
    </div>
  );
}

const OUTCOME: Record<ConflictKeep, (c: ConflictView) => string> = {
  winner: (c) => `Kept ${c.original ?? 'the winner'}; the conflict copy is deleted on both sides.`,
  copy: (c) => `The copy's version is now ${c.original}, on both sides.`,
  both: () => 'Kept both: the copy is now an ordinary file, on both sides.',
};

/** Both versions side by side and the three ways to settle the conflict (a form: Enter resolves, Escape closes). */
export function ResolveDialog({ conflict, onClose, onResolved }: { conflict: ConflictView | null; onClose: () => void; onResolved: (text: string) => void }) {
  const [keep, setKeep] = useState<ConflictKeep>('both');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [detail, setDetail] = useState<ConflictDetail | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const safest = useRef<HTMLInputElement>(null);
  useEffect(() => {
    // After the dialog opened (its showModal() focuses the first control): the safe choice has the focus.
    if (conflict) safest.current?.focus();
  }, [conflict]);
  useEffect(() => {
    setKeep('both');
    setError(null);
    setDetail(null);
    setLoadError(null);
    if (!conflict) return undefined;
    let live = true;
    api().invoke('conflicts.show', { nodeId: conflict.nodeId, copy: conflict.copy }).then((d) => { if (live) setDetail(d); }, (e) => { if (live) setLoadError(e); });
    return () => { live = false; };
  }, [conflict]);

  const c = detail ?? conflict;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!conflict) return;
    setBusy(true);
    setError(null);
    try {
      const r = await api().invoke('conflicts.resolve', { nodeId: conflict.nodeId, copy: conflict.copy, keep });
      onResolved(OUTCOME[r.keep]({ ...conflict, original: r.result ?? r.original }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const winnerSide = c ? sideWord(other(c.copySide)) : '';
  const canKeepCopy = Boolean(c?.original) && c?.originalVersion?.type !== 'dir';
  return (
    <Dialog title="Resolve a conflict" open={conflict !== null} onClose={onClose}>
      {c ? (
        <form className="stack resolve" onSubmit={(e) => void submit(e)}>
          <p>Both sides changed <span className="mono">{c.original ?? c.copy}</span>{c.madeAt ? ` (decided ${dateTime(c.madeAt)})` : ''}. The version from {winnerSide} won; the one from {sideWord(c.copySide)} was kept beside it as a conflict copy.</p>
          <div className="versions">
            <VersionFacts title={`Winner, from ${winnerSide}`} v={c.originalVersion} side={winnerSide} />
            <VersionFacts title={`Conflict copy, from ${sideWord(c.copySide)}`} v={c.copyVersion} side={sideWord(c.copySide)} />
          </div>
          {detail ? <DiffTable d={detail} /> : loadError ? <ErrorNote error={loadError} /> : <Loading what="the differences" />}
          <fieldset className="keep">
            <legend>Keep</legend>
            <label className="check"><input type="radio" name="keep" value="winner" checked={keep === 'winner'} onChange={() => setKeep('winner')} />
              <span><strong>This version</strong> (the winner, from {winnerSide}): the conflict copy is deleted</span></label>
            <label className="check"><input type="radio" name="keep" value="copy" disabled={!canKeepCopy} checked={keep === 'copy'} onChange={() => setKeep('copy')} />
              <span><strong>The other</strong> (the copy, from {sideWord(c.copySide)}): it replaces {c.original ? <span className="mono">{c.original}</span> : 'the winner'}</span></label>
            <label className="check"><input type="radio" name="keep" value="both" ref={safest} checked={keep === 'both'} onChange={() => setKeep('both')} />
              <span><strong>Both</strong>: the copy becomes an ordinary file and no longer counts as a conflict</span></label>
          </fieldset>
          <ErrorNote error={error} />
          <div className="actions">
            <button type="button" onClick={onClose}>Cancel</button>
            <button type="submit" className="primary" disabled={busy}>{busy ? 'Resolving…' : 'Resolve'}</button>
          </div>
        </form>
      ) : null}
    </Dialog>
  );
}

export function ConflictsView() {
  const total = useConflictCount();
  return (
    <section aria-labelledby="conflicts-title">
      <div className="toolbar">
        <h1 id="conflicts-title">Conflicts</h1>
        <span className="sub">{`${count(total)} conflict ${total === 1 ? 'copy' : 'copies'} across the nodes`}</span>
      </div>
      <p className="sub">A conflict copy keeps the version that lost when the node and the hub changed one file at the same time. Resolving it changes the mirror; the change reaches the node like any other, and the copy disappears from both sides.</p>
      <ConflictTable />
    </section>
  );
}
