/**
 * When a session tries failed changes again: after their backoff (FailureSet keeps it), at once
 * when the cause may be gone (space was freed, the mirror changed at or around the path, the
 * node reconnected, the operator asked), and never while the session is closed. A node change
 * is judged afresh; a hub change is queued for the node again.
 */
import fs from 'node:fs';
import { ancestorsOf } from '../sync/paths';
import type { Entry } from '../sync/types';
import type { Logger } from '../util/log';
import type { ApplyQueue } from './apply-queue';
import type { FailureSet } from './failures';

/** While something failed for lack of space, free space is checked this often… */
const SPACE_POLL_MS = 1000;
/** …and this much more of it is taken as "space was freed": retry at once. */
const SPACE_FREED_BYTES = 1024 * 1024;

export interface RetriesDeps {
  nodeId: string;
  /** The mirror's root (its file system's free space is watched). */
  root: string;
  log: Logger;
  failures: FailureSet;
  queue: ApplyQueue;
  closed(): boolean;
  /** The operator paused the node: nothing is tried again until it is resumed. */
  paused(): boolean;
  /** The last flush failed with this code (DISK_FULL: space is watched for it too). */
  flushErrorCode(): string | undefined;
  flush(): void;
  judgeAndEnqueue(e: Entry): void;
  queueForNode(paths: string[], cause?: string): void;
  changed(): void;
}

export class Retries {
  private timer: NodeJS.Timeout | null = null;
  private timerAt: number | null = null;
  private spaceWatch: NodeJS.Timeout | null = null;

  constructor(private readonly d: RetriesDeps) {}

  /** Arms the retry timer for the earliest failure due, and the free-space watch for DISK_FULL. */
  schedule(): void {
    const { d } = this;
    if (d.closed()) return;
    const next = d.failures.nextRetry();
    if (next !== null && (this.timerAt === null || next < this.timerAt)) {
      if (this.timer) clearTimeout(this.timer);
      this.timerAt = next;
      this.timer = setTimeout(() => {
        this.timer = null;
        this.timerAt = null;
        this.retryDue('due');
      }, Math.max(0, next - Date.now()));
      this.timer.unref();
    }
    if (!this.spaceWatch && (d.failures.has('DISK_FULL') || d.flushErrorCode() === 'DISK_FULL')) {
      // Freed space is noticed within a couple of seconds, not at the end of a backoff.
      let free = freeBytes(d.root);
      this.spaceWatch = setInterval(() => {
        if (!d.failures.has('DISK_FULL') && d.flushErrorCode() !== 'DISK_FULL') {
          clearInterval(this.spaceWatch!);
          this.spaceWatch = null;
          return;
        }
        const now = freeBytes(d.root);
        if (now > free + SPACE_FREED_BYTES) {
          d.log.info('sync.space_freed', { node: d.nodeId, freeBytes: now });
          if (d.flushErrorCode() !== undefined) d.flush();
          this.retryDue('retryable', 'DISK_FULL');
        }
        free = now;
      }, SPACE_POLL_MS);
      this.spaceWatch.unref();
    }
  }

  /**
   * Tries failed changes again: those due by their backoff; `retryable`: every one that retries
   * by itself, now (the node reconnected, space was freed); `all`: everything, the ones that
   * wait for someone too (the operator's rescan). Only those with `code`, if given. A node change
   * is decided afresh (the mirror or the node may have moved on); a hub change is queued for the
   * node again. Returns how many were tried.
   */
  retryDue(which: 'due' | 'retryable' | 'all', code?: string): number {
    const { d } = this;
    if (d.closed() || d.paused()) return 0;
    let n = 0;
    for (const f of d.failures.due(which === 'retryable' ? Number.POSITIVE_INFINITY : Date.now(), which === 'all')) {
      if (code && f.code !== code) continue;
      d.failures.trying(f);
      n++;
      if (f.direction === 'to-node') {
        d.queueForNode([f.path], 'RETRY');
        continue;
      }
      // A newer change of this path is already on its way: it settles (or fails) the path.
      if (!f.entry || d.queue.has(f.path)) continue;
      d.log.info('sync.retry', { node: d.nodeId, path: f.path, code: f.code, attempt: f.attempts + 1 });
      d.judgeAndEnqueue({ ...f.entry });
    }
    if (n) {
      d.queue.pump();
      d.changed();
    }
    this.schedule();
    return n;
  }

  /** Something changed at these mirror paths (the watcher): failures at or under them may be gone. */
  mirrorTouched(paths: string[]): void {
    const { d } = this;
    if (d.failures.size === 0 || d.closed() || d.paused()) return;
    const hit = d.failures.list().filter((f) => f.direction === 'to-hub' && f.entry && paths.some((p) => p === '' || f.path === p || f.path.startsWith(`${p}/`) || p.startsWith(`${f.path}/`) || ancestorsOf(f.path).includes(p)));
    // Also what waits for someone (a file in the way that has just changed, say).
    for (const f of hit) {
      if (d.queue.has(f.path)) continue;
      d.failures.trying(f);
      d.judgeAndEnqueue({ ...f.entry! });
    }
    if (hit.length) {
      d.queue.pump();
      this.schedule();
    }
  }

  /** The session closed: no more retries. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.spaceWatch) clearInterval(this.spaceWatch);
    this.timer = this.spaceWatch = null;
  }
}

/** Free bytes for unprivileged writers on the file system holding `dir` (0 if unknown). */
function freeBytes(dir: string): number {
  try {
    const st = fs.statfsSync(dir);
    return st.bavail * st.bsize;
  } catch {
    return 0;
  }
}
