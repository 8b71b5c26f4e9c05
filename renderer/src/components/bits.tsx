/** Small presentational pieces shared by the views. */
import { useEffect, useRef, type ReactNode } from 'react';
import type { NodeState } from '../../../main/contract';

const STATE_LABEL: Record<NodeState, string> = {
  'connected': 'connected', 'syncing': 'syncing', 'in-sync': 'in sync', 'paused': 'paused', 'disconnected': 'disconnected', 'error': 'error', 'retired': 'retired',
};

export function StateBadge({ state, verifying }: { state: NodeState; verifying?: boolean }) {
  return (
    <span className={`badge badge-${state}`} data-state={state}>
      {STATE_LABEL[state]}{verifying ? ' · verifying' : ''}
    </span>
  );
}

/** A rate history as a line; the last value is the right end. */
export function Sparkline({ samples, width = 80, height = 18, label }: { samples: number[]; width?: number; height?: number; label: string }) {
  if (samples.length < 2) return <svg className="sparkline" width={width} height={height} role="img" aria-label={label} />;
  const max = Math.max(...samples, 1);
  const step = width / (samples.length - 1);
  const points = samples.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`).join(' ');
  return (
    <svg className="sparkline" width={width} height={height} role="img" aria-label={label}>
      <polyline points={points} fill="none" strokeWidth="1.5" />
    </svg>
  );
}

export function Progress({ value, label }: { value: number; label: string }) {
  const pct = Math.max(0, Math.min(100, Math.round(value * 100)));
  return (
    <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
      <div className="progress-bar" style={{ width: `${pct}%` }} />
    </div>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error as { code?: string; message?: string };
  return <p className="error-note" role="alert">{e.code ? `${e.code}: ` : ''}{e.message ?? String(error)}</p>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

export function Loading({ what }: { what: string }) {
  return <div className="loading" aria-busy="true">Loading {what}…</div>;
}

/**
 * A modal dialog (native <dialog>: focus moves into it, Esc closes it, the page behind is inert).
 */
export function Dialog({ title, open, onClose, children }: { title: string; open: boolean; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} onClose={onClose} aria-label={title}>
      <h2>{title}</h2>
      {open ? children : null}
    </dialog>
  );
}
