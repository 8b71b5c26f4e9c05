/**
 * Percent and time left of a node's sync (main/hub/progress.ts), from samples of what is
 * pending: work added while it runs raises the total instead of pushing the percent back, a
 * byte counter shows a big file's progress before it is committed, the percent stays under
 * 100 while anything is pending, a new session or nothing pending starts afresh.
 */
import { describe, expect, it } from 'vitest';
import { ETA_AFTER_MS, ProgressBoard, nextTrack, progressOf, type ProgressSample, type ProgressTrack } from '../../main/hub/progress';

const sample = (files: number, bytes: number, moved: number | null = null, epoch = 1): ProgressSample => ({ files, bytes, moved, epoch });

/** Feeds samples at the given times; the progress after each. */
function run(samples: [at: number, s: ProgressSample][]) {
  let t: ProgressTrack | null = null;
  return samples.map(([at, s]) => {
    t = nextTrack(t, s, at);
    return progressOf(t, s, at);
  });
}

describe('sync progress', () => {
  it('is null when nothing is pending, and starts at 0 % with no estimate', () => {
    expect(run([[0, sample(0, 0)]])).toEqual([null]);
    expect(run([[0, sample(10, 1000)]])).toEqual([{ percent: 0, etaMs: null }]);
  });

  it('counts bytes done against the work seen, with the time left at the average rate', () => {
    const p = run([[0, sample(10, 1000)], [2000, sample(5, 500)], [4000, sample(1, 250)]]);
    expect(p[1]).toEqual({ percent: 50, etaMs: 2000 });
    // 750 of 1000 in 4 s: 250 left at 187.5 B/s.
    expect(p[2]).toEqual({ percent: 75, etaMs: 1333 });
  });

  it('adds work that comes while it runs to the total instead of going backwards', () => {
    const p = run([[0, sample(10, 1000)], [1000, sample(5, 500)], [2000, sample(8, 1100)]]);
    // 500 done; 600 more came: the total is 1600, 1100 left.
    expect(p[2]!.percent).toBe(31);
    expect(p[2]!.percent).toBeLessThan(50 + 1);
  });

  it('shows a large file arriving through the byte counter before it is committed', () => {
    const p = run([[0, sample(1, 1000, 0)], [2000, sample(1, 1000, 400)]]);
    expect(p[1]).toEqual({ percent: 40, etaMs: 3000 });
  });

  it('stays below 100 % while anything is pending, and ends when nothing is', () => {
    const p = run([[0, sample(1, 1000, 0)], [1000, sample(1, 1000, 5000)], [2000, sample(0, 0, 5000)]]);
    expect(p[1]!.percent).toBe(99);
    expect(p[2]).toBeNull();
  });

  it('goes by entries when there are no bytes to move (deletions, directories)', () => {
    const p = run([[0, sample(4, 0)], [2000, sample(1, 0)]]);
    expect(p[1]).toEqual({ percent: 75, etaMs: 667 });
  });

  it('gives no time left before ETA_AFTER_MS, however much was done', () => {
    const p = run([[0, sample(10, 1000)], [ETA_AFTER_MS - 1, sample(1, 100)]]);
    expect(p[1]).toEqual({ percent: 90, etaMs: null });
  });

  it('starts a new episode with a new session or a counter that went back', () => {
    const a = run([[0, sample(10, 1000, 0, 1)], [1000, sample(5, 500, 500, 1)], [2000, sample(5, 500, 0, 2)]]);
    expect(a[2]).toEqual({ percent: 0, etaMs: null });
    const b = run([[0, sample(10, 1000, 100)], [1000, sample(10, 1000, 50)]]);
    expect(b[1]).toEqual({ percent: 0, etaMs: null });
  });

  it('keeps one episode per key on a board, and forgets it when nothing is pending', () => {
    const board = new ProgressBoard();
    expect(board.sample('a', sample(2, 200), 0)).toEqual({ percent: 0, etaMs: null });
    expect(board.sample('b', sample(4, 400), 0)).toEqual({ percent: 0, etaMs: null });
    expect(board.sample('a', sample(1, 100), 1000)).toEqual({ percent: 50, etaMs: 1000 });
    expect(board.sample('a', null, 1500)).toBeNull();
    expect(board.sample('a', sample(1, 100), 2000)).toEqual({ percent: 0, etaMs: null });
    expect(board.sample('b', sample(1, 100), 2000)).toEqual({ percent: 75, etaMs: 667 });
  });
});
