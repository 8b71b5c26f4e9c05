/**
 * Fills the search's trigram index (store/path-search.ts: catchUp) while the hub is idle: the
 * paths a sync recorded get their trigrams in small steps between other work, not inside the
 * sync's transactions. Until then a search reads them directly, so nothing is missing from the
 * results meanwhile; only slower to find. A step runs only when its timer fired on time: a late
 * timer means the event loop is busy (a sync, a scan), and the step waits for a quieter moment.
 */
import type { Logger } from '../util/log';
import type { CatchUp } from '../store/path-search';

/** Paths per step: ~10 µs each when idle (bench/search.mjs), so a step stays well under the 20 ms lag goal. */
export const INDEX_STEP = 500;
/** Between steps while paths wait; between looks when none wait; a timer this late means busy. */
export const STEP_GAP_MS = 10;
export const IDLE_LOOK_MS = 1000;
export const BUSY_LATE_MS = 15;

/** When to look again: soon while paths wait and the loop is free, later when busy, idle or failing. */
export function nextLook(r: { lateMs: number; more: boolean | null; failed: boolean }): number {
  if (r.failed) return IDLE_LOOK_MS * 30;
  if (r.lateMs > BUSY_LATE_MS) return IDLE_LOOK_MS / 4;
  return r.more ? STEP_GAP_MS : IDLE_LOOK_MS;
}

export class SearchIndexer {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly catchUp: (max: number) => CatchUp, private readonly log: Logger) {}

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
    let more: boolean | null = null;
    let failed = false;
    if (lateMs <= BUSY_LATE_MS) {
      try {
        more = this.catchUp(INDEX_STEP).more;
      } catch (e) {
        // A database error here must not stop the hub; searches still read unindexed paths directly.
        failed = true;
        this.log.error('search.index_failed', { error: (e as Error).message });
      }
    }
    if (this.timer) this.schedule(nextLook({ lateMs, more, failed }));
  }
}
