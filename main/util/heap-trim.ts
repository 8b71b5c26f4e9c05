/**
 * Gives memory back once a burst of work is over. V8 sizes a heap from the peak of live objects
 * (a whole-tree scan holds 100k of them at once) and, in a long-running process that then goes
 * quiet, keeps the pages: a hub or node after syncing 100k files kept 70-165 MiB of heap for
 * 10-16 MB of live objects (bench/README.md, "Memory at 100k files"). So every `everyMs`, if the
 * event loop was nearly idle over that time (utilisation ≤ `maxElu`) and the heap holds at
 * least `minGrowthMiB` more than right after the last trim, one full collection runs: its pages
 * go back to the system. A collection of a heap with ~16 MB alive takes ~10-30 ms, once per
 * quiet spell after a burst (the heap must grow again for the next one).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export interface HeapTrimOptions {
  everyMs?: number;
  maxElu?: number;
  minGrowthMiB?: number;
  /** Told after each trim (e.g. a debug log). */
  onTrim?: (before: number, after: number) => void;
}

const MiB = 1024 * 1024;

let fullGc: (() => void) | null = null;
/** A full collection; V8's `gc`, exposed once, reached only from here (not made global). */
function collect(): void {
  if (!fullGc) {
    v8.setFlagsFromString('--expose-gc');
    fullGc = vm.runInNewContext('gc') as () => void;
  }
  fullGc();
}

const physical = (): number => v8.getHeapStatistics().total_physical_size;

/** Starts the trimmer (an unref'd timer: it keeps no process alive); returns its stop. */
export function trimHeapWhenIdle(opts: HeapTrimOptions = {}): () => void {
  const everyMs = opts.everyMs ?? 5_000;
  const maxElu = opts.maxElu ?? 0.05;
  const growth = (opts.minGrowthMiB ?? 32) * MiB;
  let floor = physical();
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const elu = performance.eventLoopUtilization(last);
    last = performance.eventLoopUtilization();
    const before = physical();
    floor = Math.min(floor, before);
    if (elu.utilization > maxElu || before < floor + growth) return;
    collect();
    floor = physical();
    opts.onTrim?.(before, floor);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
