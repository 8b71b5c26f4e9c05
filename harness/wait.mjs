/**
 * Waiting on a condition, for the tests and the benchmarks: polls until the condition holds or
 * a deadline passes, never a fixed sleep. Plain ESM with types in wait.d.mts (see README.md).
 */

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Thrown inside a waitFor condition to stop waiting at once (a process died, a hard error). */
export class FatalWait extends Error {}

/**
 * Polls `fn` every `everyMs` until it returns a value that is neither `undefined`, `null` nor
 * `false` (so 0 and '' are values one can wait for), and returns that value. An exception from
 * `fn` counts as "not yet" (its message ends the timeout's error) unless it is a FatalWait.
 */
export async function waitFor(what, fn, timeoutMs = 60_000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (e) {
      if (e instanceof FatalWait) throw e;
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(everyMs);
  }
}
