/**
 * Entry point: picks the transport (the preload bridge inside Electron, else the hub's
 * WebSocket API behind the admin token), feeds the store from the status stream, renders.
 */
import { StrictMode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import type { CortexBridge } from '../../main/contract/bridge';
import { setClient } from './api';
import { App } from './app';
import { Login } from './login';
import { followHash, useUi } from './store';
import { Client, bridgeTransport, checkToken, webSocketTransport } from './transport';
import './styles.css';

declare global {
  interface Window { cortex?: CortexBridge }
}

const TOKEN_KEY = 'cortex-hub-admin-token';

function start(root: Root, client: Client): void {
  setClient(client);
  client.onState((c) => {
    useUi.getState().setConnection(c);
    // After a reconnect, one fresh snapshot at once instead of waiting for the next change.
    if (c === 'open') client.invoke('status', {}).then((s) => useUi.getState().ingest(s), () => undefined);
  });
  client.subscribe('status', (s) => useUi.getState().ingest(s));
  followHash();
  root.render(<StrictMode><App /></StrictMode>);
}

async function boot(): Promise<void> {
  const root = createRoot(document.getElementById('root')!);
  if (window.cortex) {
    start(root, new Client(bridgeTransport(window.cortex)));
    return;
  }
  // A link from `cortex-hub serve` carries the token in the fragment (never sent to a server).
  const fromUrl = /^#token=([^&]+)/.exec(location.hash);
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(fromUrl[1]!));
    history.replaceState(null, '', `${location.pathname}#/nodes`);
  }
  const connect = (token: string) => {
    sessionStorage.setItem(TOKEN_KEY, token);
    const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/ws?token=${encodeURIComponent(token)}`;
    start(root, new Client(webSocketTransport(wsUrl)));
  };
  const saved = sessionStorage.getItem(TOKEN_KEY);
  const problem = saved ? await checkToken(saved) : null;
  if (saved && !problem) connect(saved);
  else root.render(<StrictMode><Login reason={problem} onToken={connect} /></StrictMode>);
}

void boot();
