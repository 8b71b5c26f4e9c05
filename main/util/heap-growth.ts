/**
 * How far V8 lets a heap grow past its live objects before a full collection. By default it
 * sizes the next limit from the live size at the last full collection times a factor of up
 * to 4 when collections are cheap: a hub holding ~45 MB of live objects while syncing 30k-100k
 * small files grew its heap to ~170-200 MB of mostly garbage between collections (`--trace-gc`,
 * bench/README.md "Memory: what sets the hub's peak"). `--heap-growing-percent` replaces that
 * factor (the limit is then live × (1 + p/100), at least live + V8's minimum step, plus the
 * young generation). V8 reads it at every full collection, so unlike the young generation's
 * size (fixed when an isolate is made: command line only) it can be set at run time, here,
 * in the desktop app's main process too, and it reaches the worker threads' isolates.
 * CORTEX_HEAP_GROWING_PERCENT overrides it (0: V8's own factor).
 */
import v8 from 'node:v8';

export const HEAP_GROWING_PERCENT = 25;

/** The percent to use: the environment's override (0 = V8's default), else HEAP_GROWING_PERCENT. */
export function heapGrowingPercent(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.CORTEX_HEAP_GROWING_PERCENT;
  if (raw === undefined || raw.trim() === '') return HEAP_GROWING_PERCENT;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 0 ? n : HEAP_GROWING_PERCENT;
}

/** The V8 flag for a percent. */
export const heapGrowthFlag = (percent: number): string => `--heap-growing-percent=${percent}`;

/** Sets the growth for this process (all its isolates); returns the percent set (0: left to V8). */
export function boundHeapGrowth(percent = heapGrowingPercent()): number {
  if (percent > 0) v8.setFlagsFromString(heapGrowthFlag(percent));
  return percent;
}
