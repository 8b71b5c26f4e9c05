/**
 * Fills the search's trigram index (store/path-search.ts: catchUp) while the hub is idle: the
 * paths a sync recorded get their trigrams in small steps between other work, not inside the
 * sync's transactions. Until then a search reads them directly, so nothing is missing from the
 * results meanwhile; only slower to find. A step runs only when paths stopped arriving since the
 * last look (a sync recording them is busy enough) and its timer fired on time (a late timer
 * means the event loop is busy: a scan, a commit); otherwise it waits for a quieter moment.
 * Once every path is in, the same quiet moments merge the index's b-trees into one, in small
 * steps, when enough was added since the last merge (mergeDue): fewer b-trees, faster searches.
 */
import type { Logger } from '../util/log';
import type { CatchUp, MergeProgress } from '../store/path-search';

/**
 * Paths per step: ~12 µs each (bench/search.mjs: indexCpuUsPerPath), 5 ms a step at p50 at 1M
 * paths; a step in which FTS5 merges its b-trees takes longer (p99 ~70 ms, a few of 2,000
 * up to 300: see MERGE_STEP_PAGES).
 */
export const INDEX_STEP = 500;
/** Between steps while paths wait; between looks when none wait; a timer this late means busy. */
export const STEP_GAP_MS = 10;
export const IDLE_LOOK_MS = 1000;
export const BUSY_LATE_MS = 15;

/**
 * Leaf pages one merge step asks FTS5 to write. At 1M paths (bench/search.mjs: mergeSteps),
 * 16 pages took 5 ms a step at p50 (64: 14 ms), but FTS5 writes a trigram's whole list in one
 * step, and the commonest (`src`, `.ts`: in most paths) make a few steps of 100-300 ms
 * whatever the count: the same stalls its own merges give catchUp steps (indexSteps). Both
 * run only while the hub is idle.
 */
export const MERGE_STEP_PAGES = 16;
/** A merge is due once this many paths, or this share of the index, were added since the last one (whichever is more). */
export const MERGE_MIN_NEW = 10_000;
export const MERGE_NEW_SHARE = 0.25;

/**
 * Whether to merge the index's b-trees: when the paths added since the last merge are enough
 * to have made several (MERGE_MIN_NEW) and a fair share of the whole (MERGE_NEW_SHARE). A merge
 * rewrites the whole index, so merging at every growth of a fixed share keeps the total work
 * within a few times the index's size (sizes growing by 25 % sum to 5 times the last).
 * Ids stand for paths here (deleted ones included): close enough for when to merge.
 */
export function mergeDue(p: MergeProgress): boolean {
  const added = p.upto - p.mergedUpto;
  return added >= Math.max(MERGE_MIN_NEW, p.mergedUpto * MERGE_NEW_SHARE);
}

/** Whether to take a step now: nothing recorded since the last look, and the timer on time. */
export function mayStep(r: { lateMs: number; latest: number; seen: number }): boolean {
  return r.latest === r.seen && r.lateMs <= BUSY_LATE_MS;
}

/** When to look again: soon while paths wait and the hub is quiet, later when busy, idle or failing. */
export function nextLook(r: { stepped: boolean; more: boolean; failed: boolean }): number {
  if (r.failed) return IDLE_LOOK_MS * 30;
  if (!r.stepped) return IDLE_LOOK_MS / 4;
  return r.more ? STEP_GAP_MS : IDLE_LOOK_MS;
}

export class SearchIndexer {
  private timer: NodeJS.Timeout | null = null;
  /** The newest path id at the last look (-1: none yet, so the first look only notes it). */
  private seen = -1;

  constructor(
    private readonly index: { catchUp(max: number): CatchUp; latestId(): number; progress(): MergeProgress; mergeStep(pages: number): { more: boolean } },
    private readonly log: Logger,
  ) {}

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(ms: number): void {
    const due = Date.now() + ms;
    this.timer = setTimeout(() => this.tick(due), ms);
    this.timer.unref();
  }

  private tick(due: number): void {
    const lateMs = Date.now() - due;
    let stepped = false;
    let more = false;
    let failed = false;
    try {
      const latest = this.index.latestId();
      if (mayStep({ lateMs, latest, seen: this.seen })) {
        stepped = true;
        const step = this.index.catchUp(INDEX_STEP);
        // One step a tick: a merge step only when no path waited.
        more = step.indexed === 0 && mergeDue(this.index.progress()) ? this.index.mergeStep(MERGE_STEP_PAGES).more : step.more;
      }
      this.seen = latest;
    } catch (e) {
      // A database error here must not stop the hub; searches still read unindexed paths directly.
      failed = true;
      this.log.error('search.index_failed', { error: (e as Error).message });
    }
    if (this.timer) this.schedule(nextLook({ stepped, more, failed }));
  }
}
