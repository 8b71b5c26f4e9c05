/**
 * Entry point: picks the transport (the preload bridge inside Electron, else the hub's
 * WebSocket API behind the admin token), feeds the store from the status stream, renders.
 */
import { StrictMode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import type { CortexBridge } from '../../main/contract/bridge';
import { wsUrl } from '../../main/contract/ws';
import { setClient } from './api';
import { App } from './app';
import { Login } from './login';
import { followHash, useUi } from './store';
import { Client, bridgeTransport, verifyToken, webSocketTransport } from './transport';
import './styles.css';

declare global {
  interface Window { cortex?: CortexBridge }
}

const TOKEN_KEY = 'cortex-hub-admin-token';

/** What the sign-in form says when the hub stopped accepting the token this page had. */
const SIGNED_OUT = 'Signed out: the admin token changed.';

let followingHash = false;

function start(root: Root, client: Client, onSignedOut?: () => void): void {
  setClient(client);
  client.onState((c) => {
    useUi.getState().setConnection(c);
    if (c === 'signed-out') {
      onSignedOut?.();
      return;
    }
    // On every (re)connection: a full status to apply the hub's diffs to.
    if (c === 'open') resync();
  });
  // The status as numbered diffs; a message that cannot be applied (one missed, or refused as
  // invalid) asks for a full one, once at a time; diffs until it arrives are ignored.
  let resyncing = false;
  function resync(): void {
    if (resyncing) return;
    resyncing = true;
    client.invoke('status.snapshot', {}).then(
      (full) => { resyncing = false; useUi.getState().ingestStream(full); },
      () => { resyncing = false; },
    );
  }
  client.subscribe('status.diff', (d) => {
    if (!useUi.getState().ingestStream(d)) resync();
  });
  if (!followingHash) followHash();
  followingHash = true;
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
    let token: string | null = null;
    try {
      token = decodeURIComponent(fromUrl[1]!);
    } catch { /* a mangled link: ask for the token */ }
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', `${location.pathname}#/nodes`);
  }
  const signIn = (reason: string | null) => root.render(<StrictMode><Login key={Date.now()} reason={reason} onToken={connect} /></StrictMode>);
  function connect(token: string): void {
    sessionStorage.setItem(TOKEN_KEY, token);
    const transport = webSocketTransport(wsUrl(location.origin, token), { tokenRefused: async () => { const r = await verifyToken(token); return !r.ok && r.refused; } });
    start(root, new Client(transport), () => {
      // At once, and once: no retrying with a token the hub refuses.
      sessionStorage.removeItem(TOKEN_KEY);
      signIn(SIGNED_OUT);
    });
  }
  const saved = sessionStorage.getItem(TOKEN_KEY);
  const check = saved ? await verifyToken(saved) : null;
  if (saved && check?.ok) connect(saved);
  else {
    if (check && !check.ok && check.refused) sessionStorage.removeItem(TOKEN_KEY);
    signIn(check && !check.ok ? (check.refused ? SIGNED_OUT : check.message) : null);
  }
}

boot().catch((e: unknown) => {
  const p = document.createElement('p');
  p.setAttribute('role', 'alert');
  p.textContent = `The UI failed to start: ${(e as Error)?.message ?? String(e)}`;
  document.body.append(p);
});
