/**
 * The Settings view's notifications and start on login: each kind of notice switched on or
 * off, how long a node may stay disconnected before it is told, the browser's permission asked
 * on the operator's click, and start on login (the desktop app's; shown off with the reason
 * in a browser).
 */
import { useEffect, useState } from 'react';
import { NOTIFY_DISCONNECTED_MAX_SECONDS, type Settings } from '../../../main/contract';
import { deliveryText, notificationPermission, type Permission } from '../notify';

type Switch = 'notifyOnDisconnect' | 'notifyOnError' | 'notifyOnProblems' | 'notifyOnConflicts';

export function NotifySettings({ settings, change }: { settings: Settings; change: (patch: Partial<Settings>) => Promise<void> }) {
  const inDesktopApp = Boolean(window.cortex);
  const [permission, setPermission] = useState<Permission>(() => notificationPermission(window));
  const [asking, setAsking] = useState(false);
  /** The seconds as typed; saved on Enter or leaving the field. */
  const [after, setAfter] = useState(String(settings.notifyDisconnectedAfterSeconds));
  useEffect(() => setAfter(String(settings.notifyDisconnectedAfterSeconds)), [settings.notifyDisconnectedAfterSeconds]);
  const seconds = Number(after);
  const afterValid = Number.isInteger(seconds) && seconds >= 1 && seconds <= NOTIFY_DISCONNECTED_MAX_SECONDS;
  const saveAfter = () => {
    if (afterValid && seconds !== settings.notifyDisconnectedAfterSeconds) void change({ notifyDisconnectedAfterSeconds: seconds });
  };

  // Asked only on the operator's click: browsers ignore (or hold against the site) a request that comes by itself.
  const ask = async () => {
    setAsking(true);
    try {
      setPermission(await Notification.requestPermission());
    } catch {
      setPermission(notificationPermission(window));
    } finally {
      setAsking(false);
    }
  };

  const check = (key: Switch, label: string, describedBy?: string) => (
    <label className="check">
      <input type="checkbox" checked={settings[key]} aria-describedby={describedBy} onChange={(e) => void change({ [key]: e.target.checked })} />
      {label}
    </label>
  );

  return (
    <form className="stack narrow" aria-labelledby="notify-title" onSubmit={(e) => { e.preventDefault(); saveAfter(); }}>
      <h2 id="notify-title">Notifications</h2>
      <p className="sub" id="notify-how" data-permission={inDesktopApp ? 'desktop' : permission}>{deliveryText(inDesktopApp, permission)}</p>
      {!inDesktopApp && permission === 'default' ? (
        <div><button type="button" disabled={asking} onClick={() => void ask()}>Allow notifications in this browser</button></div>
      ) : null}
      {check('notifyOnDisconnect', 'A node stays disconnected longer than the time below', 'notify-after-help')}
      <label htmlFor="notify-after">Seconds a node may stay disconnected</label>
      <input id="notify-after" type="number" min={1} max={NOTIFY_DISCONNECTED_MAX_SECONDS} step={1} aria-describedby="notify-after-help" value={after}
        onChange={(e) => setAfter(e.target.value)} onBlur={saveAfter} />
      {afterValid ? null : <p className="error-note" role="alert">A whole number of seconds, 1 to {NOTIFY_DISCONNECTED_MAX_SECONDS}.</p>}
      <p id="notify-after-help" className="sub">
        A node that reconnects sooner is not told. Press Enter or leave the field to save.
      </p>
      {check('notifyOnError', 'A node goes to error')}
      {check('notifyOnProblems', 'New problems on a node (something it cannot mirror)')}
      {check('notifyOnConflicts', 'New conflicts (both versions kept)')}
      <h2 id="login-title">Start on login</h2>
      <label className="check">
        <input type="checkbox" checked={settings.startOnLogin} disabled={!inDesktopApp} aria-describedby="login-help"
          onChange={(e) => void change({ startOnLogin: e.target.checked })} />
        Start Cortex Hub when I log in
      </label>
      <p id="login-help" className="sub">
        {inDesktopApp
          ? 'The system starts the app at login in the tray, without a window; the hub serves its nodes from there.'
          : 'Only the desktop app starts on login, and only from its own window. A hub run by cortex-hub serve is started by a service manager (systemd, launchd) instead.'}
      </p>
    </form>
  );
}
