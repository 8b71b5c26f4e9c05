/**
 * In-page notices of new conflicts: a toast (polite live region) that links to the Conflicts
 * view, and the page event NEW_CONFLICTS_EVENT for anything else that wants to know (a desktop
 * notification, say). Fed by the status stream (conflict-alerts.ts decides).
 */
import { useEffect, useState } from 'react';
import { NEW_CONFLICTS_EVENT, alertText, newConflicts, type ConflictAlert } from '../conflict-alerts';
import { useUi } from '../store';

/** A toast goes by itself after this long (it can be dismissed sooner). */
const TOAST_MS = 30_000;

interface Toast { id: number; text: string; alerts: ConflictAlert[] }

let nextId = 1;

export function ConflictToasts() {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const go = useUi((s) => s.go);
  useEffect(() => useUi.subscribe((s, prev) => {
    const alerts = newConflicts(prev.nodes, s.nodes, s.order);
    if (alerts.length === 0) return;
    window.dispatchEvent(new CustomEvent(NEW_CONFLICTS_EVENT, { detail: alerts }));
    const toast = { id: nextId++, text: alertText(alerts), alerts };
    setToasts((t) => [...t.slice(-4), toast]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== toast.id)), TOAST_MS);
  }), []);
  const dismiss = (id: number) => setToasts((t) => t.filter((x) => x.id !== id));
  return (
    <div className="toasts" role="status" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} className="toast" data-toast="conflicts">
          <span>{t.text}</span>
          <button type="button" onClick={() => { dismiss(t.id); go({ name: 'conflicts' }); }}>Show conflicts</button>
          <button type="button" className="close" aria-label="Dismiss" onClick={() => dismiss(t.id)}>×</button>
        </div>
      ))}
    </div>
  );
}
