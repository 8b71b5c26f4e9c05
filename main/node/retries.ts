/**
 * When the node tries its own failed work again: paths that could not be read are scanned
 * again now and then (ProblemRetry), and while its state dir is full (DiskRetry) the node
 * reports that to the hub as a problem, retries with backoff (a rescan of what could not be
 * recorded, or a probe write) and scans again what it missed once there is room.
 */
import { coveringRoots } from '../sync/paths';
import { PROBLEM_CODES, covers, retried, type PathProblem, type PathReports } from '../sync/problems';
import type { Logger } from '../util/log';

/**
 * Paths that could not be read are looked at again this often (besides their watcher events
 * and the full rescan): a permission change is not always seen by the watcher.
 * CORTEX_PROBLEM_RETRY_MS overrides it.
 */
const PROBLEM_RETRY_MS = Number(process.env.CORTEX_PROBLEM_RETRY_MS) > 0 ? Number(process.env.CORTEX_PROBLEM_RETRY_MS) : 30_000;
/** The node's own state dir full: retried with backoff from the first to the second. */
const DISK_RETRY_MIN_MS = 500;
const DISK_RETRY_MAX_MS = 30_000;

/** The node's own database or disk is full (SQLite SQLITE_FULL, ENOSPC, a quota). */
export function isDiskFull(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' ? err.code : '';
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT' || /database or disk is full|no space left on device/i.test(String(err?.message ?? ''));
}

export interface ProblemRetryDeps {
  /** What the scans found (the paths with a problem that retries by itself are scanned again). */
  found: PathReports;
  rescan(subtrees: string[]): Promise<void>;
  stopped(): boolean;
}

/** Paths that could not be read are looked at again later (see PROBLEM_RETRY_MS). */
export class ProblemRetry {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly d: ProblemRetryDeps) {}

  schedule(): void {
    const { d } = this;
    if (this.timer || d.stopped()) return;
    if (![...d.found.problems.values()].some((p) => retried(p.code))) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const paths = [...d.found.problems.values()].filter((p) => retried(p.code)).map((p) => p.path);
      if (paths.length) void d.rescan(coveringRoots(paths));
    }, PROBLEM_RETRY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}

export interface DiskRetryDeps {
  stateDir: string;
  log: Logger;
  /** Writes the node's database once (throws when it is full). */
  probe(): void;
  rescan(subtrees: string[]): Promise<void>;
  /** Runs after the scans and hub batches queued before it (WorkspaceScans.serial). */
  serial(fn: () => Promise<void>, onError: (e: Error) => void): Promise<void>;
  /** The node's own problem changed: the report at '' is sent again. */
  reportChanged(): void;
  sendReports(): Promise<void>;
  stopped(): boolean;
}

/** The node's own failures (its state dir full). */
export class DiskRetry {
  /** The node's own failure (its state dir full), reported with path ''. */
  private problem: PathProblem | null = null;
  private timer: NodeJS.Timeout | null = null;
  private waitMs = DISK_RETRY_MIN_MS;
  /** Subtrees whose scan could not be recorded: scanned again once there is room. */
  private readonly subtrees = new Set<string>();

  constructor(private readonly d: DiskRetryDeps) {}

  /** The problem to report with path '' while the state dir is full. */
  get nodeProblem(): PathProblem | null {
    return this.problem;
  }

  /**
   * The node's database could not be written (its disk is full): reported to the hub as a
   * problem while it lasts, retried with backoff, and what was not recorded is scanned again.
   */
  full(e: Error, subtrees: string[]): void {
    for (const s of subtrees) this.subtrees.add(s);
    if (!this.problem) {
      this.problem = { path: '', code: PROBLEM_CODES.NODE_DISK_FULL, reason: `the node cannot write its state dir ${this.d.stateDir} (${e.message}); changes wait until there is room again` };
      this.d.reportChanged();
      this.d.log.error('state.disk_full', { stateDir: this.d.stateDir, error: e.message });
    }
    this.schedule();
  }

  /** While the state dir is full: try again later, with backoff (a rescan of what failed, or a probe write). */
  schedule(): void {
    const { d } = this;
    if (!this.problem || this.timer || d.stopped()) return;
    const wait = this.waitMs;
    this.waitMs = Math.min(wait * 2, DISK_RETRY_MAX_MS);
    d.log.debug('state.retry', { inMs: wait });
    this.timer = setTimeout(() => {
      this.timer = null;
      const subtreesToRetry = [...this.subtrees];
      if (subtreesToRetry.length) {
        void d.rescan(coveringRoots(subtreesToRetry)).then(() => this.schedule());
        return;
      }
      void d.serial(async () => {
        try {
          d.probe();
        } catch (err) {
          if (!isDiskFull(err)) throw err;
          this.schedule();
          return;
        }
        this.recovered();
        void d.sendReports();
      }, (err) => d.log.error('state.probe_failed', { error: err.message }));
    }, wait);
    this.timer.unref();
  }

  /** These subtrees were scanned again: they no longer wait. */
  retried(roots: string[]): void {
    for (const s of [...this.subtrees]) if (roots.some((r) => covers(r, s))) this.subtrees.delete(s);
  }

  /**
   * A write of the node's database succeeded: the disk-full problem (if any) is over, and what
   * failed to be recorded meanwhile is scanned again.
   */
  recovered(): void {
    const missed = [...this.subtrees];
    this.subtrees.clear();
    this.waitMs = DISK_RETRY_MIN_MS;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (missed.length) void this.d.rescan(coveringRoots(missed));
    if (!this.problem) return;
    this.d.log.info('state.disk_recovered', { stateDir: this.d.stateDir });
    this.problem = null;
    this.d.reportChanged();
  }

  /** Any failure of the node's own work: a full state dir is reported and retried, the rest logged. */
  storeFailed(e: Error, msg: string, fields: Record<string, unknown> = {}): void {
    this.d.log.error(msg, { ...fields, error: e.message });
    if (isDiskFull(e)) {
      this.full(e, []);
      void this.d.sendReports();
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}

/** Reconnect waits grow from the first to the second (× 1.5 per failed attempt, ±25 % jitter). */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 30_000;
/**
 * After losing a session that worked (the hub restarted, or the network blinked), the node
 * tries again every RECONNECT_MIN_MS for this long before backing off: a hub restart takes a
 * second or two, and a wait grown to 500 ms by then was most of a restart's time to in-sync.
 */
export const RECONNECT_FAST_MS = 10_000;

/** When to try the hub again after a failed or lost session. */
export class ReconnectBackoff {
  private backoff = RECONNECT_MIN_MS;
  private fastUntil = 0;
  private attempts = 0;

  constructor(private readonly now: () => number = Date.now, private readonly random: () => number = Math.random) {}

  /** A session reached Welcome and has ended: start afresh, fast for RECONNECT_FAST_MS. */
  welcomed(): void {
    this.backoff = RECONNECT_MIN_MS;
    this.fastUntil = this.now() + RECONNECT_FAST_MS;
    this.attempts = 0;
  }

  /** The wait before the next attempt, and whether it is one of the fast ones after a lost session. */
  next(): { waitMs: number; attempt: number; fast: boolean } {
    this.attempts++;
    const fast = this.now() < this.fastUntil;
    const base = fast ? RECONNECT_MIN_MS : this.backoff;
    if (!fast) this.backoff = Math.min(this.backoff * 1.5, RECONNECT_MAX_MS);
    return { waitMs: Math.round(base * (0.75 + this.random() / 2)), attempt: this.attempts, fast };
  }
}
