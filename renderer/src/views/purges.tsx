/**
 * Purges: preview what would go (mirrors of retired nodes and unknown directories under
 * mirrors/) as a plan, choose which of its mirrors go (all by default), confirm, and the hub
 * moves exactly those into the trash; see the result (what was moved, what was kept and why),
 * and the history from the audit log.
 */
import { useEffect, useState } from 'react';
import type { PurgeView } from '../../../main/contract';
import { ago, bytes, dateTime } from '../../../main/util/format';
import { api } from '../api';
import { Dialog, Empty, ErrorNote, Loading } from '../components/bits';
import { useLoad } from '../hooks';
import { useUi } from '../store';

/** A plan's mirrors (with a checkbox each when `selected` is given), or what a run moved. */
function Targets({ view, caption, selected, onToggle }: { view: PurgeView; caption: string; selected?: ReadonlySet<string>; onToggle?: (id: string | null) => void }) {
  const nodes = useUi((s) => s.nodes);
  const chosen = selected ? view.targets.filter((t) => selected.has(t.id)) : view.targets;
  const all = selected !== undefined && chosen.length === view.targets.length;
  return (
    <table className="list purge-targets">
      <caption>{caption}</caption>
      <thead>
        <tr>
          {selected ? <th><input type="checkbox" aria-label="Select all mirrors" checked={all} onChange={() => onToggle?.(null)} /></th> : null}
          <th>Mirror</th><th>Why</th><th className="num">Files</th><th className="num">Bytes</th>
          {view.dryRun ? null : <th>Trash entry</th>}
        </tr>
      </thead>
      <tbody>
        {view.targets.map((t) => (
          <tr key={t.id} data-mirror={t.id}>
            {selected ? <td><input type="checkbox" aria-label={`Purge ${t.id}`} checked={selected.has(t.id)} onChange={() => onToggle?.(t.id)} /></td> : null}
            <td><span className="mono">{t.id}</span>{nodes[t.id] ? <span className="sub"> ({nodes[t.id]!.name})</span> : null}{t.kind !== 'dir' ? <span className="sub"> ({t.kind})</span> : null}</td>
            <td>{t.reason === 'retired' ? 'node retired' : 'no such node'}</td>
            <td className="num">{t.files.toLocaleString()}</td>
            <td className="num">{bytes(t.bytes)}</td>
            {view.dryRun ? null : <td className="mono" data-trash-id={t.trashId}>{t.trashId ?? '–'}</td>}
          </tr>
        ))}
      </tbody>
      <tfoot>
        <tr>
          <td colSpan={selected ? 3 : 2}>{selected ? `Selected: ${chosen.length} of ${view.targets.length}` : 'Total'}</td>
          <td className="num">{chosen.reduce((n, t) => n + t.files, 0).toLocaleString()}</td>
          <td className="num">{bytes(chosen.reduce((n, t) => n + t.bytes, 0))}</td>
          {view.dryRun ? null : <td />}
        </tr>
      </tfoot>
    </table>
  );
}

/** Orphans a preview left out of its plan, or plan targets a purge kept, with why. */
function Skipped({ view }: { view: PurgeView }) {
  if (view.skipped.length === 0) return null;
  return (
    <table className="list purge-skipped">
      <caption>{view.dryRun ? 'Left out of the plan' : 'Kept'}</caption>
      <thead><tr><th>Mirror</th><th>Why</th></tr></thead>
      <tbody>
        {view.skipped.map((k) => (
          <tr key={k.id} data-mirror={k.id} data-why={k.why}>
            <td className="mono">{k.id}</td>
            <td>{k.message}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function PurgesView() {
  const [preview, setPreview] = useState<PurgeView | null>(null);
  /** The preview's mirrors the operator chose (all of them to begin with). */
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [retention, setRetention] = useState<number | null>(null);
  const go = useUi((s) => s.go);
  const [result, setResult] = useState<PurgeView | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState<'preview' | 'purge' | null>(null);
  const [error, setError] = useState<unknown>(null);
  const history = useLoad(() => api().invoke('purge.history', { limit: 50 }), []);
  useEffect(() => {
    api().invoke('settings.get', {}).then((s) => setRetention(s.trashRetentionDays), () => setRetention(null));
  }, []);
  const toggle = (id: string | null) => setSelected((cur) => {
    if (!preview) return cur;
    if (id === null) return cur.size === preview.targets.length ? new Set() : new Set(preview.targets.map((t) => t.id));
    const next = new Set(cur);
    if (!next.delete(id)) next.add(id);
    return next;
  });
  const chosen = preview ? preview.targets.filter((t) => selected.has(t.id)) : [];
  const chosenBytes = chosen.reduce((n, t) => n + t.bytes, 0);
  const plural = (n: number) => `${n} mirror${n === 1 ? '' : 's'}`;

  const runPreview = async () => {
    setBusy('preview');
    setError(null);
    setResult(null);
    try {
      const p = await api().invoke('purge.preview', {});
      setSelected(new Set(p.targets.map((t) => t.id)));
      setPreview(p);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  const runPurge = async () => {
    setConfirming(false);
    setBusy('purge');
    setError(null);
    try {
      // Exactly the plan the operator looked at: mirrors orphaned since are not in it; of its
      // mirrors, those chosen (all: no selection sent).
      const ids = chosen.length === preview!.targets.length ? undefined : chosen.map((t) => t.id);
      setResult(await api().invoke('purge.run', { planId: preview!.planId, ...(ids ? { ids } : {}) }));
      setPreview(null);
      history.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  return (
    <section aria-labelledby="purges-title">
      <div className="toolbar">
        <h1 id="purges-title">Purges</h1>
        <span className="spacer" />
        <button type="button" className="primary" disabled={busy !== null} onClick={() => void runPreview()}>{busy === 'preview' ? 'Checking…' : 'Preview purge'}</button>
      </div>
      <p className="sub">A purge moves mirrors that belong to no active node (those of retired nodes and unknown directories under the mirrors folder) into the trash, where they can be restored{retention ? ` for ${retention} day${retention === 1 ? '' : 's'}` : ''} before they are deleted. Nothing outside the mirrors folder, and never an active node's mirror.</p>
      <ErrorNote error={error} />

      {preview ? (
        preview.targets.length === 0 ? <div className="stack"><Empty>Nothing to purge: every mirror belongs to an active node.</Empty><Skipped view={preview} /></div> : (
          <div className="stack">
            <Targets view={preview} caption="Would be removed" selected={selected} onToggle={toggle} />
            <Skipped view={preview} />
            <p className="sub">Plan <span className="mono" data-plan-id={preview.planId}>{preview.planId}</span>, valid until {dateTime(preview.expiresAt)}: a purge moves only the selected mirrors of this plan, and only while they are still orphaned.</p>
            <div className="actions">
              <button type="button" onClick={() => setPreview(null)}>Discard preview</button>
              <button type="button" className="danger" disabled={busy !== null || chosen.length === 0} onClick={() => setConfirming(true)}>Purge {plural(chosen.length)}…</button>
            </div>
          </div>
        )
      ) : null}

      {result ? (
        <div className="stack result" role="status">
          <Targets view={result} caption={result.targets.length ? 'Moved to the trash' : 'Nothing was moved'} />
          <Skipped view={result} />
          {result.targets.length ? <p className="sub">They can be restored from the <a href="#/trash" onClick={(e) => { e.preventDefault(); go({ name: 'trash' }); }}>trash</a>.</p> : null}
        </div>
      ) : null}

      <h2>History</h2>
      {history.loading && !history.data ? <Loading what="purge history" /> : null}
      <ErrorNote error={history.error} />
      {history.data && history.data.length === 0 ? <Empty>No purge has run on this hub.</Empty> : null}
      {history.data && history.data.length > 0 ? (
        <table className="list purge-history">
          <thead><tr><th>When</th><th>Plan</th><th>Mirrors</th><th className="num">Files</th><th className="num">Bytes</th></tr></thead>
          <tbody>
            {history.data.map((e) => {
              const d = e.data as unknown as PurgeView;
              return (
                <tr key={e.id}>
                  <td title={new Date(e.at).toLocaleString()}>{ago(e.at)}</td>
                  <td className="mono">{d.planId ?? '–'}</td>
                  <td className="mono">{d.targets?.map((t) => t.id).join(', ') || '–'}{d.skipped?.length ? <span className="sub"> (kept {d.skipped.map((k) => k.id).join(', ')})</span> : null}</td>
                  <td className="num">{(d.files ?? 0).toLocaleString()}</td>
                  <td className="num">{bytes(d.bytes ?? 0)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}

      <Dialog title="Purge these mirrors?" open={confirming} onClose={() => setConfirming(false)}>
        {preview ? (
          <div className="stack">
            <p>{plural(chosen.length)}, {chosen.reduce((n, t) => n + t.files, 0).toLocaleString()} files, {bytes(chosenBytes)} will be moved into the trash{chosen.length < preview.targets.length ? ` (${plural(preview.targets.length - chosen.length)} of the plan kept)` : ''}. They can be restored from the trash{retention ? ` for ${retention} day${retention === 1 ? '' : 's'}` : ''}; after that they are deleted.</p>
            <div className="actions">
              <button type="button" autoFocus onClick={() => setConfirming(false)}>Cancel</button>
              <button type="button" className="danger" onClick={() => void runPurge()}>Move {bytes(chosenBytes)} to the trash</button>
            </div>
          </div>
        ) : null}
      </Dialog>
    </section>
  );
}
