/** Small presentational pieces shared by the views. */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { NodeState } from '../../../main/contract';

const STATE_LABEL: Record<NodeState, string> = {
  'new': 'new', 'connected': 'connected', 'syncing': 'syncing', 'in-sync': 'in sync', 'paused': 'paused', 'disconnected': 'disconnected', 'error': 'error', 'retired': 'retired',
};

const STATE_TITLE: Partial<Record<NodeState, string>> = {
  'new': 'Added, never connected yet: run the join command on the node',
  'paused': 'Paused by the operator: nothing flows either way until it is resumed',
  'disconnected': 'Was connected, is not now: its changes wait until it is back',
  'retired': 'Retired: its token is revoked; its mirror stays until a purge removes it',
};

export function StateBadge({ state, verifying }: { state: NodeState; verifying?: boolean }) {
  return (
    <span className={`badge badge-${state}`} data-state={state} title={STATE_TITLE[state]}>
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
 * `onEscape`, when given, is asked first: returning false keeps the dialog open (e.g. to ask
 * for a confirmation); the browser lets a page refuse only one Escape in a row, so a second
 * Escape closes it anyway.
 */
export function Dialog({ title, open, onClose, onEscape, children }: { title: string; open: boolean; onClose: () => void; onEscape?: () => boolean; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} onClose={onClose} onCancel={(e) => { if (onEscape && !onEscape()) e.preventDefault(); }} aria-label={title}>
      <h2>{title}</h2>
      {open ? children : null}
    </dialog>
  );
}

/**
 * Copies `text` to the clipboard and says so; without clipboard access it selects the text of
 * the element `fallbackId` so Ctrl+C / Cmd+C copies it.
 */
export function CopyButton({ text, label, fallbackId }: { text: string; label: string; fallbackId?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
    } catch {
      const el = fallbackId ? document.getElementById(fallbackId) : null;
      if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
        el.focus();
        el.select();
      } else if (el) {
        window.getSelection()?.selectAllChildren(el);
      }
    }
  };
  return <button type="button" className="copy" onClick={() => void copy()} aria-label={label} data-copied={copied ? 'yes' : undefined}>{copied ? 'Copied' : label}</button>;
}
