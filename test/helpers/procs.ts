/**
 * What integration tests use: the shared harness (real `cortex-hub serve` and `cortex-node`s on
 * loopback, in temp dirs, talked to through the hub's real admin API; harness/, shared with the
 * benchmarks), the trees of test/helpers/trees.ts, and two checks of their own. Waits are on
 * conditions, never fixed sleeps.
 */
import Database from 'better-sqlite3';
import { Hub } from '../../harness/hub.mjs';
import { waitFor } from '../../harness/wait.mjs';
import { diffTrees, snapshot } from './trees';

export { Hub, Node, type HubJsonInfo } from '../../harness/hub.mjs';
export { ROOT, readJsonLines, runCli, tempDir, type Proc } from '../../harness/procs.mjs';
export { rng } from '../../harness/rng.mjs';
export { waitFor } from '../../harness/wait.mjs';
export * from './trees';

/** SQLite's own integrity check of a database file (read-only; 'ok' when sound). */
export function integrity(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

/**
 * Waits until two trees are identical (but for `ignore`) and the hub says the node is
 * in-sync; on timeout says what still differs and what the hub reported.
 */
export async function waitConverged(what: string, hub: Hub, id: string, a: string, b: string, ignore: (p: string) => boolean, timeoutMs = 60_000): Promise<void> {
  const diff = () => diffTrees(snapshot(a), snapshot(b), ignore);
  try {
    await waitFor(what, async () => diff().length === 0 && (await hub.node(id)).state === 'in-sync', timeoutMs, 100);
  } catch (e) {
    const st = await hub.node(id).catch((x: Error) => x.message);
    throw new Error(`${(e as Error).message}\ndiff: ${JSON.stringify(diff().slice(0, 10))}\nstatus: ${JSON.stringify(st)}`);
  }
}
