/**
 * Pause, resume and rescan now: the node detail's controls (and what they say: since when the
 * node is paused, what a rescan found on each side), and the overview's controls for every node
 * (pause all, after a confirmation; resume all).
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { NodeStatus, RescanSideView, RescanView } from '../../../main/contract';
import { ago, bytes, count } from '../../../main/util/format';
import { api } from '../api';
import { Dialog, ErrorNote } from '../components/bits';
import { useUi } from '../store';

const plural = (n: number, one: string, many: string) => `${count(n)} ${n === 1 ? one : many}`;

/** A rescan's result: one row per side, or why a side has none. */
export function RescanResult({ r }: { r: RescanView }) {
  const row = (label: string, v: RescanSideView | null, missing: string | null) => (
    <tr>
      <th scope="row">{label}</th>
      {v ? (
        <>
          <td className="num">{count(v.scanned)}</td>
          <td className="num">{count(v.changed)}</td>
          <td className="num">{count(v.deleted)}</td>
          <td className="num">{count(v.hashedFiles)} · {bytes(v.hashedBytes)}</td>
          <td className="num">{count(v.problems)}</td>
          <td className="num">{v.ms < 1000 ? `${v.ms} ms` : `${(v.ms / 1000).toFixed(1)} s`}</td>
        </>
      ) : <td colSpan={6} className="missing">{missing}</td>}
    </tr>
  );
  return (
    <div className="rescan-result" role="status" aria-label="Rescan result">
      <table className="list">
        <caption>Rescan {ago(r.at)}: {plural(r.retried, 'failed change', 'failed changes')} tried again{r.paused ? '; the node is paused, so what was found is held on each side until it is resumed' : ''}</caption>
        <thead><tr><th>Side</th><th className="num">Scanned</th><th className="num">New or changed</th><th className="num">Deleted</th><th className="num">Hashed</th><th className="num">Problems</th><th className="num">Took</th></tr></thead>
        <tbody>
          {row('Mirror (hub)', r.hub, r.hubMissing)}
          {row('Workspace (node)', r.node, r.nodeMissing)}
        </tbody>
      </table>
    </div>
  );
}

/**
 * The node detail's sync controls: Pause/Resume and Rescan for its toolbar (`buttons`), and
 * below it (`notes`) since when the node is paused, a rescan under way or its result, errors.
 */
export function useNodeSyncControls(node: NodeStatus | undefined, reload: () => void): { buttons: ReactNode; notes: ReactNode } {
  const [busy, setBusy] = useState<null | 'pause' | 'rescan'>(null);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<RescanView | null>(null);
  // Another node's result is not this one's (the view stays mounted when the route changes).
  const shown = result && result.nodeId === node?.id ? result : null;
  if (!node || node.state === 'retired') return { buttons: null, notes: null };
  const paused = node.pausedAt !== null;

  const togglePause = async () => {
    setBusy('pause');
    setError(null);
    try {
      await api().invoke(paused ? 'nodes.resume' : 'nodes.pause', { id: node.id });
      reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  const rescan = async () => {
    setBusy('rescan');
    setError(null);
    setResult(null);
    try {
      setResult(await api().invoke('nodes.rescan', { id: node.id }));
      reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  const buttons = (
    <>
      <button type="button" onClick={() => void togglePause()} disabled={busy !== null}
        title={paused ? 'Let changes flow again, both ways: each side catches up on what the other held' : 'Stop changes flowing either way: each side holds its own until resumed (kept across restarts)'}>
        {paused ? 'Resume' : 'Pause'}
      </button>
      <button type="button" onClick={() => void rescan()} disabled={busy !== null} title="Look at the mirror and the node's workspace again, and try everything that failed now">
        {busy === 'rescan' ? 'Rescanning…' : 'Rescan'}
      </button>
    </>
  );
  const notes = (
    <>
      {paused ? (
        <p className="paused-note" role="note">
          Paused {ago(node.pausedAt)}: nothing flows either way. Changes made on the node stay there, and changes made in the mirror stay
          here ({plural(node.toNodeFiles, 'change', 'changes')} waiting); both sides catch up on resume.{node.connected ? '' : ' The node is not connected now.'}
        </p>
      ) : null}
      {busy === 'rescan' ? <p role="status" aria-busy="true">Rescanning the mirror{node.connected ? ' and the node’s workspace' : ''}…</p> : null}
      {shown ? <RescanResult r={shown} /> : null}
      <ErrorNote error={error} />
    </>
  );
  return { buttons, notes };
}

/** The overview's controls for every node: Pause all (after a confirmation), Resume all, and how many are paused. */
export function PauseAllControls() {
  const { active, paused } = useUi(useShallow((s) => {
    let a = 0;
    let p = 0;
    for (const id of s.order) {
      const n = s.nodes[id]!;
      if (n.state === 'retired') continue;
      a++;
      if (n.pausedAt !== null) p++;
    }
    return { active: a, paused: p };
  }));
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const confirmButton = useRef<HTMLButtonElement>(null);
  // The confirmation takes the focus, so Enter pauses (after the dialog's own effect, which
  // opens it and focuses its first button: a parent's effects run after its children's).
  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);
  if (active === 0) return null;

  const run = async (pause: boolean) => {
    setBusy(true);
    setError(null);
    try {
      await api().invoke(pause ? 'nodes.pause' : 'nodes.resume', { all: true });
      setConfirming(false);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      {paused > 0 ? <span className="sub paused-count">{paused} paused</span> : null}
      {paused < active ? <button type="button" onClick={() => { setError(null); setConfirming(true); }}>Pause all…</button> : null}
      {paused > 0 ? <button type="button" disabled={busy} onClick={() => void run(false)}>Resume all</button> : null}
      {!confirming ? <ErrorNote error={error} /> : null}
      <Dialog title="Pause every node?" open={confirming} onClose={() => setConfirming(false)}>
        <div className="stack">
          <p>
            Changes stop flowing either way for {plural(active - paused, 'node', 'nodes')}: each node keeps its changes and the hub keeps the
            mirrors' changes until they are resumed. Pauses are kept across restarts of the hub and the nodes.
          </p>
          <ErrorNote error={error} />
          <div className="actions">
            <button type="button" onClick={() => setConfirming(false)}>Cancel</button>
            <button type="button" className="primary" ref={confirmButton} disabled={busy} onClick={() => void run(true)}>Pause all nodes</button>
          </div>
        </div>
      </Dialog>
    </>
  );
}
