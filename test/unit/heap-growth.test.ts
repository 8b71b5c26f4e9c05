/**
 * The heap's growth past its live objects (util/heap-growth.ts): the override is read from the
 * environment, and the flag, set at run time, bounds the heap of a process that keeps ~40 MB
 * alive while it allocates much more (as the hub does during an initial sync): real child
 * processes, one with the flag as boundHeapGrowth sets it and one without.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { HEAP_GROWING_PERCENT, heapGrowingPercent, heapGrowthFlag } from '../../main/util/heap-growth';

/** Peak total heap (MiB) of a process that keeps ~40 MB of objects alive and churns through ~800 MB. */
function peakHeapMiB(percent: number | null): number {
  const program = `
    const v8 = require('node:v8');
    ${percent === null ? '' : `v8.setFlagsFromString(${JSON.stringify(heapGrowthFlag(percent))});`}
    const live = [];
    let peak = 0;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 20000; i++) live.push({ path: 'dir/' + round + '/' + i, hash: Buffer.alloc(32), n: i });
      if (live.length > 200000) live.splice(0, 20000);
      peak = Math.max(peak, v8.getHeapStatistics().total_heap_size);
    }
    process.stdout.write(String(Math.round(peak / 1048576)));
  `;
  const r = spawnSync(process.execPath, ['-e', program], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return Number(r.stdout);
}

describe('heap growth', () => {
  it('takes the percent from CORTEX_HEAP_GROWING_PERCENT (0: V8 decides), else the default', () => {
    expect(heapGrowingPercent({})).toBe(HEAP_GROWING_PERCENT);
    expect(heapGrowingPercent({ CORTEX_HEAP_GROWING_PERCENT: '0' })).toBe(0);
    expect(heapGrowingPercent({ CORTEX_HEAP_GROWING_PERCENT: '60' })).toBe(60);
    expect(heapGrowingPercent({ CORTEX_HEAP_GROWING_PERCENT: 'lots' })).toBe(HEAP_GROWING_PERCENT);
    expect(heapGrowingPercent({ CORTEX_HEAP_GROWING_PERCENT: '-5' })).toBe(HEAP_GROWING_PERCENT);
  });

  it('set at run time, keeps a churning heap well below what V8 lets it grow to by default', () => {
    // What V8 lets the heap grow to by default varies with the machine's load (it collects sooner
    // when busy: 197-270 MiB seen, 156-161 bounded): the most of three runs is what it allows;
    // the bounded heap is taken at its most too.
    const unbounded = Math.max(...[0, 1, 2].map(() => peakHeapMiB(null)));
    const bounded = Math.max(...[0, 1].map(() => peakHeapMiB(HEAP_GROWING_PERCENT)));
    console.log(`peak heap: ${unbounded} MiB by default, ${bounded} MiB bounded`);
    expect(bounded).toBeLessThan(unbounded * 0.8);
  }, 60_000);
});
