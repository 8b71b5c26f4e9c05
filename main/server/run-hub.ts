/**
 * Starting and stopping a serving hub: the HubService, its gRPC listener for nodes, the HTTP +
 * WebSocket API (with the UI) on loopback, and DIR/hub.json. `cortex-hub serve` and the desktop
 * app both run a hub through this, so they behave the same.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { layout, removeHubJson, writeHubJson } from '../hub/data-dir';
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
  uiWithToken: string;
  adminToken: string;
  stop(): Promise<void>;
}

/** dist/renderer, next to dist/main/server where this file is built. */
export const DEFAULT_STATIC_DIR = path.resolve(__dirname, '../../renderer');

export async function runHub(opts: RunHubOptions): Promise<RunningHub> {
  const hub = await HubService.open({ ...opts, mode: 'serve' });
  const adminToken = crypto.randomBytes(32).toString('base64url');
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
  } catch (e) {
    await api.close();
    await hub.close();
    throw e;
  }
  const l = layout(opts.dataDir);
  writeHubJson(l, { pid: process.pid, grpc, ui, adminToken, fingerprint: hub.identity.fingerprint, version: VERSION });
  hub.log.info('hub.started', { dataDir: opts.dataDir, grpc, ui, version: VERSION });
  let stopping: Promise<void> | null = null;
  return {
    hub, grpc, ui, adminToken,
    uiWithToken: `${ui}/#token=${encodeURIComponent(adminToken)}`,
    stop() {
      stopping ??= (async () => {
        removeHubJson(l);
        await api.close();
        await hub.close();
      })();
      return stopping;
    },
  };
}
