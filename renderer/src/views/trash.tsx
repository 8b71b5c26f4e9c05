/**
 * Trash: the mirrors purges moved into DATA/trash/, with size, purge date and when each is
 * emptied (the retention setting); restore one (its place must be free), or empty the trash
 * (all, or those purged at least some days ago), each after a confirmation.
 */
import { useEffect, useState, type FormEvent } from 'react';
import type { TrashEntryView, TrashView as Trash } from '../../../main/contract';
import { ago, bytes, dateTime } from '../../../main/util/format';
import { api } from '../api';
import { Dialog, Empty, ErrorNote, Loading } from '../components/bits';
import { useLoad } from '../hooks';
import { useUi } from '../store';

const plural = (n: number, one: string) => `${n.toLocaleString()} ${one}${n === 1 ? '' : 's'}`;

/** Where a restore puts an entry, as the hub decides it (trash.ts: restorePlace), in words. */
function restoreSentence(e: TrashEntryView, nodeActive: boolean): string {
  if (nodeActive) return `Node ${e.nodeName ?? e.nodeId} is active: the mirror goes beside its place (${e.name}.restored-${e.id}), as an orphan to inspect or purge, so its old files are not sent to the node.`;
  return `It goes back to ${e.originalPath} as an orphan (${e.nodeId ? 'its node is retired' : 'no node has that id'}): inspect it there, or purge it again. Refused if something is in that place now.`;
}

export function TrashView() {
  const trashBytes = useUi((s) => s.hub?.trashBytes ?? 0);
  const nodes = useUi((s) => s.nodes);
  const list = useLoad<Trash>(() => api().invoke('trash.list', {}), []);
  const [restoring, setRestoring] = useState<TrashEntryView | null>(null);
  const [emptying, setEmptying] = useState(false);
  const [olderThan, setOlderThan] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);

  // The status says when the trash changed (a purge elsewhere, the retention check): list again.
  useEffect(() => {
    list.reload();
  }, [trashBytes]);

  const entries = list.data?.entries ?? [];
  const days = olderThan.trim() === '' ? null : Number(olderThan);
  const daysValid = days === null || (Number.isFinite(days) && days >= 0);
  const affected = days === null || !daysValid ? entries : entries.filter((e) => Date.now() - e.trashedAt >= days * 86_400_000);

  const restore = async () => {
    const e = restoring!;
    setRestoring(null);
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const r = await api().invoke('trash.restore', { id: e.id });
      setDone(r.message);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
      list.reload();
    }
  };

  const empty = async () => {
    if (!daysValid) return;
    setEmptying(false);
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const r = await api().invoke('trash.empty', days === null ? {} : { olderThanDays: days });
      setDone(`Emptied ${plural(r.emptied.length, 'mirror')}: ${plural(r.files, 'file')}, ${bytes(r.bytes)} deleted.${r.failed.length ? ` Not emptied: ${r.failed.map((f) => `${f.id} (${f.message})`).join('; ')}.` : ''}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
      setOlderThan('');
      list.reload();
    }
  };

  return (
    <section aria-labelledby="trash-title">
      <div className="toolbar">
        <h1 id="trash-title">Trash</h1>
        <span className="sub" data-trash-bytes={trashBytes}>{bytes(trashBytes)}</span>
        <span className="spacer" />
        <button type="button" className="danger" disabled={busy || entries.length === 0} onClick={() => setEmptying(true)}>Empty trash…</button>
      </div>
      <p className="sub">
        Purged mirrors wait here{list.data ? ` ${plural(list.data.retentionDays, 'day')}` : ''} (Settings: trash retention), then they are deleted.
        Until then a mirror can be restored to where it was.
      </p>
      <ErrorNote error={error} />
      <ErrorNote error={list.error} />
      {done ? <p className="result" role="status">{done}</p> : null}
      {list.loading && !list.data ? <Loading what="the trash" /> : null}
      {list.data && entries.length === 0 ? <Empty>The trash is empty.</Empty> : null}
      {entries.length > 0 ? (
        <table className="list trash-entries">
          <thead>
            <tr><th>Mirror</th><th className="num">Files</th><th className="num">Bytes</th><th>Purged</th><th>Deleted after</th><th>State</th><th><span className="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id} data-trash-id={e.id} data-mirror={e.name}>
                <td>
                  <span className="mono">{e.name}</span>
                  {e.nodeName ? <span className="sub"> ({e.nodeName})</span> : e.reason === 'unknown' ? <span className="sub"> (no node)</span> : null}
                  {e.kind !== 'dir' ? <span className="sub"> ({e.kind})</span> : null}
                  <div className="sub mono">{e.id}</div>
                </td>
                <td className="num">{e.files.toLocaleString()}</td>
                <td className="num">{bytes(e.bytes)}</td>
                <td title={dateTime(e.trashedAt)}>{ago(e.trashedAt)}</td>
                <td>{dateTime(e.expiresAt)}</td>
                <td>{e.state === 'emptying' ? <span className="warn-note">emptying{e.error ? `: ${e.error}` : ''}</span> : 'restorable'}</td>
                <td><button type="button" disabled={busy || e.state !== 'trashed'} onClick={() => setRestoring(e)} aria-label={`Restore ${e.name}`}>Restore…</button></td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr><td>Total</td><td className="num">{(list.data?.files ?? 0).toLocaleString()}</td><td className="num">{bytes(list.data?.bytes ?? 0)}</td><td colSpan={4} /></tr>
          </tfoot>
        </table>
      ) : null}

      <Dialog title="Restore this mirror?" open={restoring !== null} onClose={() => setRestoring(null)}>
        {restoring ? (
          <div className="stack">
            <p><span className="mono">{restoring.name}</span>{restoring.nodeName ? ` (${restoring.nodeName})` : ''}: {plural(restoring.files, 'file')}, {bytes(restoring.bytes)}, purged {ago(restoring.trashedAt)}.</p>
            <p>{restoreSentence(restoring, restoring.nodeId !== null && nodes[restoring.nodeId]?.retiredAt === null)}</p>
            <div className="actions">
              <button type="button" autoFocus onClick={() => setRestoring(null)}>Cancel</button>
              <button type="button" className="primary" onClick={() => void restore()}>Restore</button>
            </div>
          </div>
        ) : null}
      </Dialog>

      <Dialog title="Empty the trash?" open={emptying} onClose={() => { setEmptying(false); setOlderThan(''); }}>
        {/* Enter in the field does not empty anything: only the button does. */}
        <form className="stack" onSubmit={(e: FormEvent) => e.preventDefault()}>
          <label htmlFor="trash-older-than">Only mirrors purged at least this many days ago (empty: all)</label>
          <input id="trash-older-than" type="number" min={0} step="any" inputMode="decimal" value={olderThan} onChange={(e) => setOlderThan(e.target.value)} />
          {!daysValid ? <p className="error-note" role="alert">A number of days, 0 or more.</p> : null}
          <p>{plural(affected.length, 'mirror')}, {plural(affected.reduce((n, e) => n + e.files, 0), 'file')}, {bytes(affected.reduce((n, e) => n + e.bytes, 0))} will be deleted for good. This cannot be undone.</p>
          <div className="actions">
            <button type="button" onClick={() => { setEmptying(false); setOlderThan(''); }}>Cancel</button>
            <button type="button" className="danger" disabled={!daysValid || affected.length === 0} onClick={() => void empty()}>Empty trash</button>
          </div>
        </form>
      </Dialog>
    </section>
  );
}
