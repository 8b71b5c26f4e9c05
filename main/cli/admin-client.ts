/**
 * How admin commands reach the hub: through a running hub's HTTP API (found via hub.json),
 * or, when no hub runs on the data directory, by opening it directly. Either way the request
 * goes through the contract's dispatch.
 */
import { dispatch, type OpInput, type OpName, type OpOutput } from '../contract';
import { httpInvoke } from '../contract/http';
import { layout, readHubJson, type HubJson } from '../hub/data-dir';
import { HubService } from '../hub/hub-service';

export type Invoke = <K extends OpName>(op: K, input: OpInput<K>) => Promise<OpOutput<K>>;

/** Runs `fn` against the hub; `running` is the hub.json of the running hub it goes through, or null (DIR opened directly). */
export async function withHub<T>(dataDir: string, fn: (invoke: Invoke, running: HubJson | null) => Promise<T>): Promise<T> {
  const running = readHubJson(layout(dataDir));
  if (running) {
    return fn((op, input) => httpInvoke(running.ui, running.adminToken, op, input), running);
  }
  const hub = await HubService.open({ dataDir, mode: 'admin', consoleLevel: 'error' });
  try {
    const handlers = hub.handlers();
    return await fn(((op, input) => dispatch(handlers, op, input)) as Invoke, null);
  } finally {
    await hub.close();
  }
}
