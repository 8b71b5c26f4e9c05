/**
 * The node's path reports: what its scans found it cannot send (problems) or leaves out by
 * design (ignored), plus its own failure (its state dir full, path ''), and sending what
 * changed to the hub, one report at a time. Each report replaces what the hub has at or under
 * its subtrees, so the hub never calls the node in-sync while something is missing.
 */
import { coveringRoots } from '../sync/paths';
import { PathReports, type IgnoredPath, type PathProblem } from '../sync/problems';
import { reportMessages, type NodeMessage } from '../sync/wire';
import type { Logger } from '../util/log';

/** A report's clear list longer than this is sent as one full report instead. */
const MAX_CLEAR_BYTES = 256 * 1024;
const MAX_CLEAR_PATHS = 1000;

export interface ReportSenderDeps {
  log: Logger;
  /** A session is open past Welcome. */
  connected(): boolean;
  /** Writes to the hub (rejects when the session goes). */
  write(msg: NodeMessage): Promise<void>;
  /** The node's own failure, reported with path '' while it lasts (retries.ts DiskRetry). */
  nodeProblem(): PathProblem | null;
}

export class ReportSender {
  /** What the scans found, by path. */
  readonly found = new PathReports();
  /** Subtrees whose report changed since it was last sent ('' = all). */
  private readonly dirty = new Set<string>();
  private sending = false;

  constructor(private readonly d: ReportSenderDeps) {}

  /** A scan of these subtrees found these: replaces what was known at or under them. */
  replace(roots: string[], problems: PathProblem[], ignored: IgnoredPath[]): void {
    if (this.found.replace(roots, problems, ignored)) {
      for (const r of roots) this.dirty.add(r);
    }
  }

  /** The report at or under this subtree changed ('' = all: the whole report is sent again). */
  changed(subtree: string): void {
    this.dirty.add(subtree);
  }

  /**
   * Sends what changed in the report (problems and ignored paths) to the hub, one report at a
   * time: each replaces what the hub has at or under its subtrees.
   */
  async send(): Promise<void> {
    const { d } = this;
    if (this.sending || !d.connected() || this.dirty.size === 0) return;
    this.sending = true;
    try {
      while (d.connected() && this.dirty.size > 0) {
        let clear = coveringRoots([...this.dirty]);
        this.dirty.clear();
        if (clear.length > MAX_CLEAR_PATHS || clear.reduce((n, c) => n + Buffer.byteLength(c) + 8, 0) > MAX_CLEAR_BYTES) clear = [''];
        const { problems, ignored } = this.found.under(clear);
        const nodeProblem = d.nodeProblem();
        if (nodeProblem && clear.includes('')) problems.unshift(nodeProblem);
        const send = problems.map(({ path: p, code, reason }) => ({ path: p, code, reason }));
        for (const report of reportMessages(clear, send, ignored.map(({ path: p, kind }) => ({ path: p, kind })))) {
          await d.write({ report });
        }
        d.log.debug('report.sent', { clear: clear.slice(0, 10), problems: problems.length, ignored: ignored.length });
      }
    } catch (e) {
      // The connection went: the next Welcome sends the whole report.
      d.log.debug('report.interrupted', { error: (e as Error).message });
    } finally {
      this.sending = false;
    }
    if (d.connected() && this.dirty.size > 0) void this.send();
  }
}
