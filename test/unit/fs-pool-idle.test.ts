/** The pool's idle workers end (mocked time) and come back on demand; its workers' heap limit. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BLOCK_SIZE } from '../../main/sync/blocks';
import { FsPool, IDLE_WORKER_MS } from '../../main/sync/fs-pool';

const dirs: string[] = [];
function tree(n: number): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-pool-idle-'));
  dirs.push(dir);
  return Array.from({ length: n }, (_, i) => {
    const f = path.join(dir, `f${i}`);
    fs.writeFileSync(f, `file ${i}`);
    return f;
  });
}

/** Worker threads of the pool that are alive (test-only peek at its private list). */
const threads = (pool: FsPool): Worker[] => (pool as unknown as { all: Worker[] }).all;

afterEach(() => {
  vi.useRealTimers();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('FsPool idle workers', () => {
  it('ends workers idle for IDLE_WORKER_MS, keeps one fresh one, and starts more on demand', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const pool = new FsPool(2);
    try {
      const files = tree(4);
      // Two tasks at once: both workers start.
      await Promise.all([pool.hash(files[0]!, BLOCK_SIZE), pool.hash(files[1]!, BLOCK_SIZE)]);
      expect(pool.workers).toBe(2);
      expect(pool.workersStarted).toBe(2);
      const used = [...threads(pool)];
      const exited = used.map((w) => new Promise<void>((r) => w.once('exit', () => r())));

      vi.advanceTimersByTime(IDLE_WORKER_MS - 1);
      expect(pool.workers).toBe(2);
      vi.advanceTimersByTime(1);
      // Both used workers end; one fresh worker takes their place.
      expect(pool.workers).toBe(1);
      await Promise.all(exited);
      expect(pool.workersStarted).toBe(3);
      expect(used).not.toContain(threads(pool)[0]);

      // The fresh one is not ended for being idle (it has nothing to give back)...
      vi.advanceTimersByTime(10 * IDLE_WORKER_MS);
      expect(pool.workers).toBe(1);
      // ...and work is done again, by it and by one more started on demand.
      const again = await Promise.all([pool.hash(files[2]!, BLOCK_SIZE), pool.hash(files[3]!, BLOCK_SIZE)]);
      expect(again.every((h) => !h.changed && h.size > 0)).toBe(true);
      expect(pool.workers).toBe(2);
      expect(pool.workersStarted).toBe(4);
    } finally {
      await pool.close();
    }
  });

  it('keeps its workers while they are busy within IDLE_WORKER_MS of each other', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const pool = new FsPool(1);
    try {
      const [f] = tree(1);
      for (let i = 0; i < 3; i++) {
        await pool.hash(f!, BLOCK_SIZE);
        vi.advanceTimersByTime(IDLE_WORKER_MS - 1);
      }
      expect(pool.workersStarted).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('caps each worker\'s young generation', async () => {
    const pool = new FsPool(1);
    try {
      const [f] = tree(1);
      await pool.hash(f!, BLOCK_SIZE);
      expect(threads(pool)[0]!.resourceLimits?.maxYoungGenerationSizeMb).toBe(8);
    } finally {
      await pool.close();
    }
  });
});
