/**
 * Raises the HTTP/2 flow-control window of the hub's gRPC server.
 *
 * Node data flows node → hub, i.e. into the server, whose receive window @grpc/grpc-js leaves
 * at HTTP/2's default 64 KiB (the server ignores `grpc-node.flow_control_window`; see
 * grpc/grpc-node#3058). With 64 KiB a transfer is capped at window / round trip, about 40 MB/s
 * on loopback with busy event loops. Until grpc-js can do it, we set the window on the HTTP/2
 * servers it creates: a larger initial stream window in SETTINGS, and a larger connection
 * window on every session. Memory stays bounded by the hub's own request budget.
 */
import http2 from 'node:http2';

let installedBytes = 0;

export function raiseServerFlowControlWindow(bytes: number): void {
  if (installedBytes) return;
  installedBytes = bytes;
  const original = http2.createSecureServer;
  const patched = (options: http2.SecureServerOptions, ...rest: unknown[]): http2.Http2SecureServer => {
    const server = (original as (...a: unknown[]) => http2.Http2SecureServer)(
      { ...options, settings: { ...options?.settings, initialWindowSize: installedBytes } },
      ...rest,
    );
    server.on('session', (session: http2.ServerHttp2Session) => {
      try {
        session.setLocalWindowSize(installedBytes);
      } catch {
        /* the session is already closing */
      }
    });
    return server;
  };
  (http2 as unknown as { createSecureServer: typeof patched }).createSecureServer = patched;
}
