/**
 * A retention window kept by deleting in small batches: `step` deletes at most `batch` rows
 * older than a cutoff in one short transaction and says how many went; while it fills a batch
 * it runs again in the next turn of the event loop, so a big backlog never holds the loop. Run
 * at start and every `everyMs` (a serving hub), and on demand (a shorter window set). A failed
 * step is logged and ends that round; the next round tries again.
 */
import type { Logger } from './log';

export const DAY_MS = 86_400_000;

export interface RetentionOptions {
  /** Names its log lines: `<name>.trimmed`, `<name>.trim_failed`. */
  name: string;
  log: Logger;
  everyMs: number;
  batch: number;
  /** The window, in days (read at each round: the setting may change). */
  days(): number;
  /** Deletes at most `batch` rows older than `olderThan` (ms since the epoch); returns how many. */
  step(olderThan: number, batch: number): number;
}

export class Retention {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = false;

  constructor(private readonly o: RetentionOptions) {}

  /** One round now, then one every `everyMs`. */
  start(): void {
    if (this.timer || this.stopped) return;
    void this.trim();
    this.timer = setInterval(() => void this.trim(), this.o.everyMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One round: resolves with how many rows went (0 when a round is already running). */
  trim(now = Date.now()): Promise<number> {
    if (this.running) return Promise.resolve(0);
    this.running = true;
    const olderThan = now - this.o.days() * DAY_MS;
    let total = 0;
    return new Promise((resolve) => {
      const step = () => {
        let n = 0;
        try {
          n = this.stopped ? 0 : this.o.step(olderThan, this.o.batch);
        } catch (e) {
          this.o.log.error(`${this.o.name}.trim_failed`, { error: (e as Error).message });
        }
        total += n;
        if (n >= this.o.batch) {
          setImmediate(step);
          return;
        }
        this.running = false;
        if (total > 0) this.o.log.info(`${this.o.name}.trimmed`, { rows: total, olderThan });
        resolve(total);
      };
      step();
    });
  }
}
