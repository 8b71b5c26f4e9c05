/**
 * The desktop app's notifications and start on login, the Electron side only (decisions live
 * in contract/notices.ts and autostart.ts, tested under Node).
 *
 * Notifications come from this main process, not from the window's web Notification API: the
 * hub keeps running in the tray with the window closed, and then no page exists to notify. So
 * the page inside Electron tells nothing itself (renderer/src/components/notices.tsx), and
 * each event is told once, natively, whether a window is open or not.
 */
import os from 'node:os';
import { app, Notification } from 'electron';
import type { HubStatus } from '../contract';
import { emptyWatch, noticePrefs, watchStep } from '../contract/notices';
import type { RunningHub } from '../server/run-hub';
import type { Logger } from '../util/log';
import { autostartFile, desktopEntry, HIDDEN_FLAG, loginCommand, setAutostart } from './autostart';

/** How often the watcher looks without a status change (a disconnection turns into news by time alone). */
const TICK_MS = 1000;

/** Shows a native notification for what the hub's statuses make news; returns the stop function. */
export function watchNotices(hub: RunningHub['hub'], onClick: () => void): () => void {
  let watch = emptyWatch();
  let nodes = hub.status().nodes;
  let prefs = noticePrefs(hub.settings());
  // Held until closed: a notification collected by the GC loses its click handler.
  const open = new Set<Notification>();
  const look = () => {
    const step = watchStep(watch, nodes, Date.now(), prefs);
    watch = step.watch;
    if (!step.show) return;
    hub.log.info('desktop.notified', { title: step.show.title, events: step.show.notices.length });
    if (!Notification.isSupported()) return;
    const n = new Notification({ title: step.show.title, body: step.show.body });
    open.add(n);
    n.on('click', onClick);
    n.on('close', () => open.delete(n));
    n.show();
  };
  const onStatus = (s: HubStatus) => {
    nodes = s.nodes;
    look();
  };
  hub.on('status', onStatus);
  const offSettings = hub.onSettingsChanged((next) => { prefs = noticePrefs(next); });
  const timer = setInterval(look, TICK_MS);
  look();
  return () => {
    hub.off('status', onStatus);
    offSettings();
    clearInterval(timer);
  };
}

/**
 * Makes the system start this app at login, or not: the XDG autostart entry on Linux (where
 * `setLoginItemSettings` does nothing), the login item on macOS and Windows. Failures are
 * logged, never thrown: the setting stays as the operator chose, the log says why it did not take.
 */
export function applyStartOnLogin(enabled: boolean, log: Logger, dataDir: string | undefined): void {
  const command = loginCommand({ execPath: process.execPath, isPackaged: app.isPackaged, appPath: app.getAppPath(), appImage: process.env.APPIMAGE, dataDir });
  try {
    if (process.platform === 'linux') {
      const file = autostartFile(process.env, os.homedir());
      log.info('desktop.start-on-login', { enabled, file, result: setAutostart(file, enabled ? desktopEntry(command) : null) });
    } else {
      app.setLoginItemSettings({ openAtLogin: enabled, openAsHidden: true, path: command[0], args: command.slice(1) });
      log.info('desktop.start-on-login', { enabled });
    }
  } catch (e) {
    log.error('desktop.start-on-login-failed', { enabled, error: (e as Error).message });
  }
}

/** Started by the system at login: stay in the tray, no window. */
export function startedHidden(argv: readonly string[]): boolean {
  return argv.includes(HIDDEN_FLAG) || (process.platform === 'darwin' && app.getLoginItemSettings().wasOpenedAtLogin);
}
