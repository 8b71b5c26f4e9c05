/**
 * The serving process's last line of defence (`cortex-hub serve` and the desktop app's main
 * process): an error nothing caught is logged at error level with its stack, and the process
 * keeps serving. Every handler answers its own errors (api-server.ts, the gRPC sessions, the
 * IPC adapter); this is for the bug that slips past them, so it never turns into a remote
 * "stop the hub" button (the design invariant "bad input never stops the hub").
 *
 * Both kinds are survived, and the choice for `uncaughtException` is deliberate. Node's advice
 * is to exit after one, because a synchronous throw may have unwound a function halfway. Here:
 * - what is durable cannot be left half-done by an unwound stack: SQLite writes are
 *   transactions (better-sqlite3 rolls back when the function throws), a mirror file becomes
 *   visible only by rename after fsync, and a restart recovers from exactly that state anyway;
 * - what may be left half-done is in memory and local to one connection or request (the
 *   throwing callback's), whose peer retries, while exiting would drop every node's session,
 *   every open UI and, in the desktop app, the operator's window, and would make any such bug
 *   reachable from the network a way to stop the hub (the UI port is reachable from any web
 *   page the operator opens);
 * - a supervisor cannot be assumed (the desktop app has none), and Electron itself keeps its
 *   main process alive after an uncaught exception (it shows a dialog); a log line is better.
 * So: log loudly (error level, stack, a running count, `hint` for the operator), never silently,
 * and keep serving. A storm of them stays visible in the log and the UI's log view.
 */
import type { Logger } from '../util/log';

export interface SafetyNetTarget {
  on(event: 'unhandledRejection', cb: (reason: unknown) => void): unknown;
  on(event: 'uncaughtException', cb: (err: Error, origin: string) => void): unknown;
  off(event: 'unhandledRejection', cb: (reason: unknown) => void): unknown;
  off(event: 'uncaughtException', cb: (err: Error, origin: string) => void): unknown;
}

function describe(reason: unknown): { error: string; stack?: string; name?: string } {
  if (reason instanceof Error) return { name: reason.name, error: reason.message, ...(reason.stack ? { stack: reason.stack } : {}) };
  let text: string;
  try {
    text = typeof reason === 'string' ? reason : JSON.stringify(reason) ?? String(reason);
  } catch {
    text = String(reason);
  }
  return { error: text.slice(0, 2000) };
}

/** Installs the handlers on `proc` (the process); returns the function that removes them. */
export function installSafetyNet(log: Logger, proc: SafetyNetTarget = process): () => void {
  let count = 0;
  const hint = 'a bug: please report it with this log line; the hub keeps serving';
  const onRejection = (reason: unknown) => {
    log.error('process.unhandled_rejection', { ...describe(reason), count: ++count, hint });
  };
  const onException = (err: Error, origin: string) => {
    log.error('process.uncaught_exception', { ...describe(err), origin, count: ++count, hint });
  };
  proc.on('unhandledRejection', onRejection);
  proc.on('uncaughtException', onException);
  // A closed terminal or pipe on stderr must not make every log line one more uncaught error.
  const quiet = () => undefined;
  if (proc === process) for (const s of [process.stdout, process.stderr]) s.on('error', quiet);
  return () => {
    if (proc === process) for (const s of [process.stdout, process.stderr]) s.off('error', quiet);
    proc.off('unhandledRejection', onRejection);
    proc.off('uncaughtException', onException);
  };
}
