/**
 * The page's notices: what contract/notices.ts decides from the status stream and a clock (a
 * node down too long, in error, new problems, new conflicts), told by the browser's
 * Notification API when allowed, else as a toast (a polite live region) with a button to the
 * view it is about (notify.ts). In the desktop app the main process tells them, so the page
 * does not. The page event NEW_CONFLICTS_EVENT still goes out for each update with new conflicts.
 */
import { useEffect, useState } from 'react';
import { emptyWatch, noticePrefs, watchStep, type NoticeMessage } from '../../../main/contract/notices';
import { api } from '../api';
import { NEW_CONFLICTS_EVENT, newConflicts } from '../conflict-alerts';
import { deliveryOf, notificationPermission, showLabel, viewOf } from '../notify';
import { useUi, type View } from '../store';

/** A toast goes by itself after this long (it can be dismissed sooner). */
const TOAST_MS = 30_000;
/** How often the page looks without a status change (a disconnection turns into news by time alone). */
const TICK_MS = 1000;

interface Toast { id: number; message: NoticeMessage; view: View }

let nextId = 1;

export function Notices() {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const go = useUi((s) => s.go);
  const connection = useUi((s) => s.connection);

  // The switches: read at each (re)connection, then followed as anyone changes them.
  useEffect(() => {
    if (connection !== 'open') return;
    api().invoke('settings.get', {}).then((s) => useUi.getState().setSettings(s), (e: unknown) => console.warn('settings for notices unread', e));
  }, [connection]);
  useEffect(() => api().subscribe('settings', (s) => useUi.getState().setSettings(s)), []);

  useEffect(() => {
    const inDesktopApp = Boolean(window.cortex);
    let watch = emptyWatch();
    const tell = (message: NoticeMessage) => {
      const view = viewOf(message);
      const how = deliveryOf(inDesktopApp, notificationPermission(window));
      if (how === 'none') return;
      if (how === 'system') {
        try {
          const n = new Notification(message.title, { body: message.body, tag: message.tag });
          n.onclick = () => {
            window.focus();
            useUi.getState().go(view);
            n.close();
          };
          return;
        } catch (e) {
          // Some browsers allow the permission but not the constructor (a service worker is wanted): a toast then.
          console.warn('notification refused, shown in the page', e);
        }
      }
      const toast = { id: nextId++, message, view };
      setToasts((t) => [...t.slice(-4), toast]);
      setTimeout(() => setToasts((t) => t.filter((x) => x.id !== toast.id)), TOAST_MS);
    };
    const look = () => {
      const s = useUi.getState();
      // Nothing before the first status and the switches: what is there then is not news.
      if (!s.hub || !s.settings) return;
      const step = watchStep(watch, s.order.map((id) => s.nodes[id]!), Date.now(), noticePrefs(s.settings));
      watch = step.watch;
      if (step.show) tell(step.show);
    };
    const unsubscribe = useUi.subscribe((s, prev) => {
      const alerts = newConflicts(prev.nodes, s.nodes, s.order);
      if (alerts.length > 0) window.dispatchEvent(new CustomEvent(NEW_CONFLICTS_EVENT, { detail: alerts }));
      if (s.nodes !== prev.nodes || s.settings !== prev.settings) look();
    });
    const timer = setInterval(look, TICK_MS);
    return () => {
      unsubscribe();
      clearInterval(timer);
    };
  }, []);

  const dismiss = (id: number) => setToasts((t) => t.filter((x) => x.id !== id));
  return (
    <div className="toasts" role="status" aria-live="polite">
      {toasts.map((t) => {
        const kinds = [...new Set(t.message.notices.map((n) => n.kind))];
        return (
          <div key={t.id} className="toast" data-toast={kinds.length === 1 ? kinds[0] : 'summary'}>
            <div className="toast-text">
              <strong>{t.message.title}</strong>
              {t.message.body.split('\n').map((l, i) => <span key={i}>{l}</span>)}
            </div>
            <button type="button" onClick={() => { dismiss(t.id); go(t.view); }}>{showLabel(t.view)}</button>
            <button type="button" className="close" aria-label="Dismiss" onClick={() => dismiss(t.id)}>×</button>
          </div>
        );
      })}
    </div>
  );
}
