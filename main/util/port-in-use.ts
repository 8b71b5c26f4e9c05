/**
 * A listener's port already taken, said the same way by the hub's two listeners (the nodes'
 * gRPC one and the UI's HTTP one): which port, and which flag chooses another. Carries
 * `code: 'EADDRINUSE'` and the port, as Node's own error does, so a caller can choose another
 * port by itself (the desktop app does: desktop/listeners.ts).
 */
export class PortInUse extends Error {
  readonly code = 'EADDRINUSE';

  constructor(readonly what: 'node' | 'UI', readonly address: string, readonly port: number, flag: string) {
    super(`the ${what} port ${address} is in use (another hub?); choose another with ${flag} HOST:PORT`);
  }
}

/** Whether an error from listening says the address is taken (Node's code, or gRPC's text, which has no code). */
export function isAddressInUse(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  return err?.code === 'EADDRINUSE' || (typeof err?.message === 'string' && err.message.includes('EADDRINUSE'));
}

/** The port of a `HOST:PORT` (IPv6 hosts in brackets), or NaN. */
export function portOf(hostPort: string): number {
  return Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));
}
