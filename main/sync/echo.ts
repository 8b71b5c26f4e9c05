/**
 * Paths sync just wrote, each waiting for its watcher event: hub mirrors and node workspaces
 * alike. @parcel/watcher may fold the "created" of our write and the "deleted" of an edit right
 * after it into nothing; a path whose event has not come within ECHO_WAIT_MS is handed to
 * `onSilent` (the caller looks at it again: a stat, usually still what we wrote).
 *
 * The event of a rename can be delivered before the writer has said it wrote the path (the
 * watcher's thread is quicker than the rename's own completion): an event nobody waited for
 * is remembered for ECHO_WAIT_MS, and a path expected within that time of it is taken as
 * echoed already. Without it, the commit of a 1 GiB file waited 1 s for an echo that had come.
 */
export const ECHO_WAIT_MS = 1000;

export class Echoes {
  /** Path → when written, kept in the order written (the check stops at the first not due). */
  private readonly waiting = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  /** Paths whose event came while nobody waited for it, with when (oldest first). */
  private readonly early = new Map<string, number>();

  constructor(private readonly onSilent: (paths: string[]) => void) {}

  get size(): number {
    return this.waiting.size;
  }

  expect(paths: Iterable<string>): void {
    const now = Date.now();
    this.forgetEarly(now);
    for (const p of paths) {
      this.waiting.delete(p);
      if (this.early.delete(p)) continue;
      this.waiting.set(p, now);
    }
    if (this.timer || this.waiting.size === 0) return;
    this.timer = setInterval(() => {
      const due = Date.now() - ECHO_WAIT_MS;
      const silent: string[] = [];
      for (const [p, at] of this.waiting) {
        if (at > due) break;
        silent.push(p);
        this.waiting.delete(p);
      }
      if (this.waiting.size === 0) this.stop();
      if (silent.length) this.onSilent(silent);
    }, ECHO_WAIT_MS / 2);
    this.timer.unref();
  }

  /** This path was written by sync and its watcher event has not come yet. */
  expecting(path: string): boolean {
    return this.waiting.has(path);
  }

  /** The watcher reported this path; true when that was the last one waited for. */
  seen(path: string): boolean {
    if (this.waiting.delete(path)) return this.waiting.size === 0;
    const now = Date.now();
    this.forgetEarly(now);
    this.early.delete(path);
    this.early.set(path, now);
    return false;
  }

  clear(): void {
    this.waiting.clear();
    this.early.clear();
    this.stop();
  }

  private forgetEarly(now: number): void {
    for (const [p, at] of this.early) {
      if (at > now - ECHO_WAIT_MS) break;
      this.early.delete(p);
    }
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
