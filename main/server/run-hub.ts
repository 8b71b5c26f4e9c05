/**
 * Starting and stopping a serving hub: the HubService, its gRPC listener for nodes, the HTTP +
 * WebSocket API (with the UI) on loopback, and DIR/hub.json. `cortex-hub serve` and the desktop
 * app both run a hub through this, so they behave the same.
 */
import path from 'node:path';
import { layout, loadAdminToken, removeHubJson, writeHubJson } from '../hub/data-dir';
import { WEBHOOK_MAX_BYTES } from '../agents/agent-service';
import { HubService, type HubOptions } from '../hub/hub-service';
import { VERSION } from '../util/version';
import { ApiServer } from './api-server';

export interface RunHubOptions extends Omit<HubOptions, 'mode'> {
  /** gRPC listen address for nodes (host:port; port 0 picks one). */
  grpc: string;
  /** UI and admin API listener, normally on loopback. */
  ui: { host: string; port: number };
  /** The built renderer to serve; default: dist/renderer beside this build. */
  staticDir?: string | null;
}

export interface RunningHub {
  hub: HubService;
  grpc: string;
  /** The UI's URL; `uiWithToken` opens it signed in (the token is in the fragment, never sent). */
  ui: string;
  /** Both follow `cortex-hub token rotate` (read them when needed, do not keep a copy). */
  readonly uiWithToken: string;
  readonly adminToken: string;
  stop(): Promise<void>;
}

/** dist/renderer, next to dist/main/server where this file is built. */
export const DEFAULT_STATIC_DIR = path.resolve(__dirname, '../../renderer');

export async function runHub(opts: RunHubOptions): Promise<RunningHub> {
  const hub = await HubService.open({ ...opts, mode: 'serve' });
  const l = layout(opts.dataDir);
  let adminToken: string;
  try {
    // Stable across restarts: open UIs and saved links keep working until `token rotate`.
    const t = loadAdminToken(l);
    adminToken = t.token;
    if (t.made === 'replaced') hub.log.warn('admin.token_replaced', { file: l.adminToken, reason: 'the file did not hold a token; a new one was made' });
    else if (t.made === 'created') hub.log.info('admin.token_created', { file: l.adminToken });
  } catch (e) {
    await hub.close();
    throw e;
  }
  const api = new ApiServer({
    ...opts.ui, token: adminToken, handlers: hub.handlers(), events: hub, log: hub.log.child('api'),
    staticDir: opts.staticDir === undefined ? DEFAULT_STATIC_DIR : opts.staticDir,
    webhook: { handle: (id, token, body) => hub.agents.webhook(id, token, body), maxBytes: WEBHOOK_MAX_BYTES },
  });
  let grpc: string;
  let ui: string;
  try {
    grpc = await hub.listen(opts.grpc);
    ui = await api.start();
    hub.noteUiAddress(ui);
  } catch (e) {
    await api.close();
    await hub.close();
    throw e;
  }
  const hubJson = () => writeHubJson(l, { pid: process.pid, grpc, ui, adminToken, fingerprint: hub.identity.fingerprint, version: VERSION });
  hubJson();
  // `token rotate` (through this API, the IPC bridge or any caller of the handlers): the API
  // refuses the old token at once, and hub.json carries the new one for admin commands.
  const unlisten = hub.onAdminToken((token) => {
    adminToken = token;
    api.setToken(token);
    try {
      hubJson();
    } catch (e) {
      hub.log.error('hub.json_failed', { file: l.hubJson, error: (e as Error).message });
    }
  });
  hub.log.info('hub.started', { dataDir: opts.dataDir, grpc, ui, version: VERSION });
  let stopping: Promise<void> | null = null;
  return {
    hub, grpc, ui,
    get adminToken() { return adminToken; },
    get uiWithToken() { return `${ui}/#token=${encodeURIComponent(adminToken)}`; },
    stop() {
      stopping ??= (async () => {
        unlisten();
        removeHubJson(l);
        await api.close();
        await hub.close();
      })();
      return stopping;
    },
  };
}
