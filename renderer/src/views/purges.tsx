/**
 * Purges: preview what would go (mirrors of retired nodes and unknown directories under
 * mirrors/) as a plan, confirm, and the hub runs exactly that plan; see the result (what was
 * removed, what was kept and why), and the history from the audit log.
 */
import { useState } from 'react';
import type { PurgeView } from '../../../main/contract';
import { ago, bytes, dateTime } from '../../../main/util/format';
import { api } from '../api';
import { Dialog, Empty, ErrorNote, Loading } from '../components/bits';
import { useLoad } from '../hooks';
import { useUi } from '../store';

function Targets({ view, caption }: { view: PurgeView; caption: string }) {
  const nodes = useUi((s) => s.nodes);
  return (
    <table className="list purge-targets">
      <caption>{caption}</caption>
      <thead><tr><th>Mirror</th><th>Why</th><th className="num">Files</th><th className="num">Bytes</th></tr></thead>
      <tbody>
        {view.targets.map((t) => (
          <tr key={t.id} data-mirror={t.id}>
            <td><span className="mono">{t.id}</span>{nodes[t.id] ? <span className="sub"> ({nodes[t.id]!.name})</span> : null}{t.kind !== 'dir' ? <span className="sub"> ({t.kind})</span> : null}</td>
            <td>{t.reason === 'retired' ? 'node retired' : 'no such node'}</td>
            <td className="num">{t.files.toLocaleString()}</td>
            <td className="num">{bytes(t.bytes)}</td>
          </tr>
        ))}
      </tbody>
      <tfoot><tr><td colSpan={2}>Total</td><td className="num">{view.files.toLocaleString()}</td><td className="num">{bytes(view.bytes)}</td></tr></tfoot>
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
  const [result, setResult] = useState<PurgeView | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState<'preview' | 'purge' | null>(null);
  const [error, setError] = useState<unknown>(null);
  const history = useLoad(() => api().invoke('purge.history', { limit: 50 }), []);

  const runPreview = async () => {
    setBusy('preview');
    setError(null);
    setResult(null);
    try {
      setPreview(await api().invoke('purge.preview', {}));
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
      // Exactly the plan the operator looked at: mirrors orphaned since are not in it.
      setResult(await api().invoke('purge.run', { planId: preview!.planId }));
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
      <p className="sub">A purge removes mirrors that belong to no active node: those of retired nodes and unknown directories under the mirrors folder. Nothing outside it, and never an active node's mirror.</p>
      <ErrorNote error={error} />

      {preview ? (
        preview.targets.length === 0 ? <div className="stack"><Empty>Nothing to purge: every mirror belongs to an active node.</Empty><Skipped view={preview} /></div> : (
          <div className="stack">
            <Targets view={preview} caption="Would be removed" />
            <Skipped view={preview} />
            <p className="sub">Plan <span className="mono" data-plan-id={preview.planId}>{preview.planId}</span>, valid until {dateTime(preview.expiresAt)}: a purge removes only these mirrors, and only while they are still orphaned.</p>
            <div className="actions">
              <button type="button" onClick={() => setPreview(null)}>Discard preview</button>
              <button type="button" className="danger" disabled={busy !== null} onClick={() => setConfirming(true)}>Purge {preview.targets.length} mirror{preview.targets.length === 1 ? '' : 's'}…</button>
            </div>
          </div>
        )
      ) : null}

      {result ? (
        <div className="stack result" role="status">
          <Targets view={result} caption={result.targets.length ? 'Removed' : 'Nothing was removed'} />
          <Skipped view={result} />
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
            <p>{preview.targets.length} mirror{preview.targets.length === 1 ? '' : 's'}, {preview.files.toLocaleString()} files, {bytes(preview.bytes)} will be deleted from this hub. This cannot be undone.</p>
            <div className="actions">
              <button type="button" autoFocus onClick={() => setConfirming(false)}>Cancel</button>
              <button type="button" className="danger" onClick={() => void runPurge()}>Delete {bytes(preview.bytes)}</button>
            </div>
          </div>
        ) : null}
      </Dialog>
    </section>
  );
}
