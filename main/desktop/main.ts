/**
 * The desktop app's main process: runs a serving hub in-process (same data layout and API as
 * `cortex-hub serve`), one hardened window on app://cortex/, the IPC adapter, a tray icon
 * showing node health, native notifications (notify.ts: a node down too long, in error, new
 * problems or conflicts), start on login (a setting), single instance, and a graceful shutdown
 * (sessions flushed, nodes told) before quitting.
 *
 *   npm start                      build, then run this with Electron
 *   electron . --data DIR --grpc HOST:PORT
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { app, BrowserWindow, dialog, ipcMain, Menu, nativeImage, protocol, session, shell, Tray, type WebContents } from 'electron';
import { IPC_CHANNELS } from '../contract/bridge';
import type { HubStatus } from '../contract';
import { DataDirBusyError, resolveDataDir } from '../hub/data-dir';
import { CONTENT_SECURITY_POLICY, contentTypeOf } from '../server/api-server';
import { DEFAULT_STATIC_DIR, runHub, type RunningHub } from '../server/run-hub';
import { installSafetyNet } from '../server/safety-net';
import { trimHeapWhenIdle } from '../util/heap-trim';
import { boundHeapGrowth } from '../util/heap-growth';
import { APP_INDEX, APP_SCHEME, isAppUrl, rendererFile } from './app-url';
import { createIpcAdapter, type IpcAdapter } from './ipc';
import { healthOf, type Health } from './health';
import { applyStartOnLogin, startedHidden, watchNotices } from './notify';
import { DESKTOP_LISTENERS, nextListeners, type Listeners } from './listeners';

protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

let running: RunningHub | null = null;
let win: BrowserWindow | null = null;
let tray: Tray | null = null;
let ipc: IpcAdapter | null = null;
let quitting = false;
let stopNotices: (() => void) | null = null;

/** `npm run dev`: the window loads Vite's dev server (hot reload) instead of app://. */
const DEV_URL = !app.isPackaged && process.env.CORTEX_DEV_URL ? new URL(process.env.CORTEX_DEV_URL).origin : null;

/** Our own UI: app://cortex/, or the dev server during `npm run dev`. */
function isOwnUrl(url: string): boolean {
  if (isAppUrl(url)) return true;
  try {
    return DEV_URL !== null && new URL(url).origin === DEV_URL;
  } catch {
    return false;
  }
}

function args(): { data?: string; grpc?: string } {
  // Electron passes its own flags too: take ours, ignore the rest.
  const { values } = parseArgs({ args: process.argv.slice(app.isPackaged ? 1 : 2), strict: false, options: { data: { type: 'string' }, grpc: { type: 'string' } } });
  return { data: values.data as string | undefined, grpc: values.grpc as string | undefined };
}

/**
 * better-sqlite3 must be built for Electron's ABI. A packaged app gets that from
 * electron-builder's rebuild; from a checkout, `npm start` builds a separate copy
 * (scripts/electron-sqlite.mjs) and we point the engine at it, leaving the Node build alone.
 */
function useElectronSqlite(): void {
  if (app.isPackaged || process.env.CORTEX_SQLITE_BINDING) return;
  const binding = path.resolve(__dirname, '../../../.electron-native/better-sqlite3/build/Release/better_sqlite3.node');
  if (fs.existsSync(binding)) process.env.CORTEX_SQLITE_BINDING = binding;
}

/** A 16×16 round dot in the health's colour (raw BGRA, so no image files to ship). */
function dot(health: Health): Electron.NativeImage {
  const colour: Record<Health, [number, number, number]> = { ok: [59, 127, 27], busy: [235, 99, 37], bad: [40, 40, 198], idle: [128, 114, 107], empty: [128, 114, 107] };
  const [b, g, r] = colour[health];
  const size = 16;
  const buf = Buffer.alloc(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - 7.5, y - 7.5);
      const alpha = Math.max(0, Math.min(1, 6.5 - d));
      const i = (y * size + x) * 4;
      buf[i] = b; buf[i + 1] = g; buf[i + 2] = r; buf[i + 3] = Math.round(alpha * 255);
    }
  }
  return nativeImage.createFromBuffer(buf, { width: size, height: size });
}

function showWindow(): void {
  if (!win) createWindow();
  else {
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
  }
}

function createWindow(): void {
  win = new BrowserWindow({
    width: 1200, height: 780, minWidth: 720, minHeight: 480, show: false, title: 'Cortex Hub',
    webPreferences: {
      preload: path.resolve(__dirname, '../../preload/index.js'),
      contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true,
      webviewTag: false, spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win?.show());
  win.on('closed', () => { win = null; });
  win.loadURL(DEV_URL ? `${DEV_URL}/` : APP_INDEX).catch((e: Error) => running?.hub.log.error('desktop.load-failed', { error: e.message }));
}

/** Every web contents: no new windows, no navigation away, no webviews. */
function harden(contents: WebContents): void {
  contents.setWindowOpenHandler(({ url }) => {
    running?.hub.log.warn('desktop.window-open-denied', { url: url.slice(0, 200) });
    return { action: 'deny' };
  });
  contents.on('will-navigate', (e, url) => {
    if (isOwnUrl(url)) return;
    e.preventDefault();
    running?.hub.log.warn('desktop.navigation-denied', { url: url.slice(0, 200) });
  });
  contents.on('will-redirect', (e, url) => { if (!isOwnUrl(url)) e.preventDefault(); });
  contents.on('will-attach-webview', (e) => e.preventDefault());
}

function serveRenderer(): void {
  protocol.handle(APP_SCHEME, async (req) => {
    const file = rendererFile(req.url, DEFAULT_STATIC_DIR);
    const headers = { 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'X-Content-Type-Options': 'nosniff' };
    if (!file) return new Response('not found', { status: 404, headers });
    try {
      const data = await fs.promises.readFile(file);
      return new Response(data, { headers: { ...headers, 'Content-Type': contentTypeOf(file) } });
    } catch {
      return new Response(`not found (is the UI built? run "npm run build")`, { status: 404, headers });
    }
  });
}

function lockDownSession(): void {
  const ses = session.defaultSession;
  // Only our own page may write to the clipboard (the join string's copy button); nothing else.
  ses.setPermissionRequestHandler((wc, permission, cb) => cb(permission === 'clipboard-sanitized-write' && isOwnUrl(wc.getURL())));
  ses.setPermissionCheckHandler((wc, permission) => permission === 'clipboard-sanitized-write' && wc !== null && isOwnUrl(wc.getURL()));
}

function trackHealth(hub: RunningHub['hub']): void {
  let shown: Health | null = null;
  const update = (s: HubStatus) => {
    const health = healthOf(s.nodes);
    // Status arrives twice a second: redraw the icon only when the health changes.
    if (health.level !== shown) {
      shown = health.level;
      tray?.setImage(dot(health.level));
    }
    tray?.setToolTip(`Cortex Hub: ${health.summary}`);
  };
  hub.on('status', update);
  update(hub.status());
}

async function start(): Promise<void> {
  // Before the hub allocates: its heap stays near its live objects (heap-growth.ts; a V8 flag
  // read at run time, so it needs no js-flags switch, which would reach the renderers only).
  boundHeapGrowth();
  useElectronSqlite();
  serveRenderer();
  lockDownSession();
  const a = args();
  const dataDir = resolveDataDir(a.data);
  const base = { dataDir, consoleLevel: 'warn' as const, desktop: true };
  let listeners: Listeners = { ...DESKTOP_LISTENERS, grpc: a.grpc ?? DESKTOP_LISTENERS.grpc };
  const fellBack: string[] = [];
  for (;;) {
    try {
      running = await runHub({ ...base, ...listeners });
      break;
    } catch (e) {
      // A usual port taken (a `serve` on this machine?): a free one instead (listeners.ts).
      const next = nextListeners(e, listeners, a.grpc !== undefined);
      if (!next) throw e;
      fellBack.push((e as Error).message);
      listeners = next;
    }
  }
  const hub = running.hub;
  if (fellBack.length) hub.log.warn('desktop.port-fallback', { taken: fellBack, grpc: running.grpc, ui: running.ui });
  // The hub runs in this process: a stray error must not quit the app (safety-net.ts says why).
  installSafetyNet(hub.log.child('process'));
  trimHeapWhenIdle({ onTrim: (before, after) => hub.log.debug('heap.trimmed', { beforeMiB: Math.round(before / 2 ** 20), afterMiB: Math.round(after / 2 ** 20) }) });
  hub.log.info('desktop.started', { dataDir, grpc: running.grpc, ui: running.ui, electron: process.versions.electron });
  ipc = createIpcAdapter({ handlers: hub.handlers(), events: hub, eventChannel: IPC_CHANNELS.event, isTrustedUrl: isOwnUrl, log: hub.log.child('ipc') });
  ipcMain.handle(IPC_CHANNELS.invoke, (e, op, input) => ipc!.invoke(e, op, input));
  ipcMain.on(IPC_CHANNELS.subscribe, (e, name) => ipc!.subscribe(e, name));
  ipcMain.on(IPC_CHANNELS.unsubscribe, (e, name) => ipc!.unsubscribe(e, name));

  tray = new Tray(dot('empty'));
  tray.setContextMenu(Menu.buildFromTemplate([
    { label: 'Open Cortex Hub', click: showWindow },
    // Read at the click: `token rotate` changes it.
    { label: 'Open in browser…', click: () => shell.openExternal(running!.uiWithToken).catch((e: Error) => hub.log.warn('desktop.open-browser-failed', { error: e.message })) },
    { type: 'separator' },
    { label: 'Quit', click: () => app.quit() },
  ]));
  tray.on('click', showWindow);
  trackHealth(hub);
  stopNotices = watchNotices(hub, showWindow);
  // Refreshed at every start (the app may have moved since); removed only when switched off: an
  // app on another data dir (where it is off) must not remove the entry this one relies on.
  if (hub.settings().startOnLogin) applyStartOnLogin(true, hub.log.child('desktop'), a.data);
  hub.onSettingsChanged((next, patch) => {
    if (patch.startOnLogin !== undefined) applyStartOnLogin(next.startOnLogin, hub.log.child('desktop'), a.data);
  });
  if (!startedHidden(process.argv)) createWindow();
}

/** Flush and tell the nodes before the process goes. */
async function shutdown(): Promise<void> {
  ipc?.dispose();
  stopNotices?.();
  tray?.destroy();
  tray = null;
  await running?.stop();
}

if (!app.requestSingleInstanceLock()) {
  // Another instance runs on this data dir: it shows its window (second-instance below).
  app.quit();
} else {
  app.on('second-instance', showWindow);
  app.on('web-contents-created', (_e, contents) => harden(contents));
  // The hub keeps serving nodes with the window closed; Quit in the tray (or Cmd+Q) stops it.
  app.on('window-all-closed', () => { /* stay in the tray */ });
  app.on('activate', showWindow);
  app.on('before-quit', (e) => {
    if (quitting) return;
    e.preventDefault();
    quitting = true;
    shutdown().catch((err) => running?.hub.log.error('desktop.shutdown-failed', { error: (err as Error).message })).finally(() => app.exit(0));
  });
  app.whenReady().then(start).catch((e: Error) => {
    const busy = e instanceof DataDirBusyError;
    dialog.showErrorBox('Cortex Hub cannot start', busy ? `${e.message}\n\nAnother hub (cortex-hub serve or this app) uses the same data directory.` : e.stack ?? e.message);
    app.exit(1);
  });
}
