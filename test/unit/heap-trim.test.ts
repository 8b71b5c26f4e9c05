/** The idle heap trimmer gives a grown heap's pages back (mocked time), once per growth. */
import v8 from 'node:v8';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { trimHeapWhenIdle } from '../../main/util/heap-trim';

const MiB = 1024 * 1024;
const physical = (): number => v8.getHeapStatistics().total_physical_size;

/** Many objects alive at once (as in a whole-tree scan), then dropped: garbage V8 keeps pages for. */
function burst(): number {
  let live: { path: string; size: number; mtime: number }[] = [];
  for (let i = 0; i < 400_000; i++) live.push({ path: `dir${i % 1000}/file-${i}.txt`, size: i, mtime: i * 2 });
  const n = live.length;
  live = [];
  return n;
}

afterEach(() => vi.useRealTimers());

describe('trimHeapWhenIdle', () => {
  it('collects once the heap has grown by minGrowthMiB, and not again until it grows again', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const trims: [number, number][] = [];
    const stop = trimHeapWhenIdle({ everyMs: 1000, maxElu: 1, minGrowthMiB: 32, onTrim: (b, a) => trims.push([b, a]) });
    try {
      expect(burst()).toBe(400_000);
      const grown = physical();
      vi.advanceTimersByTime(1000);
      expect(trims).toHaveLength(1);
      expect(physical()).toBeLessThan(grown - 32 * MiB);
      vi.advanceTimersByTime(5000);
      expect(trims).toHaveLength(1);
    } finally {
      stop();
    }
  });
});
