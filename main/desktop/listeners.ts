/**
 * Where the desktop app's hub listens: the usual ports (nodes' gRPC 7443, the UI and its
 * webhooks on 127.0.0.1:7444, stable across starts so join strings and webhook URLs keep
 * working), or a free port for one that is taken (a `cortex-hub serve` on the same machine,
 * say): join strings and the status carry the port it got. No Electron here: pure, and tested.
 */
import { PortInUse } from '../util/port-in-use';

export interface Listeners {
  grpc: string;
  ui: { host: string; port: number };
}

export const DESKTOP_LISTENERS: Listeners = { grpc: '0.0.0.0:7443', ui: { host: '127.0.0.1', port: 7444 } };

/**
 * What to try after a start failed with `err`: the taken listener on a free port (port 0).
 * Null when that is not the failure, when the port was the operator's choice (`--grpc`: the
 * error stands), or when it already was a free port.
 */
export function nextListeners(err: unknown, tried: Listeners, grpcChosen: boolean): Listeners | null {
  if (!(err instanceof PortInUse)) return null;
  if (err.what === 'UI') return tried.ui.port === 0 ? null : { ...tried, ui: { ...tried.ui, port: 0 } };
  if (grpcChosen || tried.grpc.endsWith(':0')) return null;
  return { ...tried, grpc: `${tried.grpc.slice(0, tried.grpc.lastIndexOf(':'))}:0` };
}
