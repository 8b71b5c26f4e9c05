/**
 * The paths each node reports it cannot send (problems, direction `to-hub`) and those it
 * leaves out by design (ignored), as the hub keeps and shows them. One source of a node's
 * problems; the hub's own failures are another, merged where the node's state is computed.
 */
import type { IgnoredView, ProblemView } from '../contract';
import type { ReportStore } from '../store/report-store';
import { IGNORED_KINDS, needsOperator, type IgnoredKind } from '../sync/problems';
import type { PathReportMsg } from '../sync/wire';
import { clip } from '../util/text';

/** At most this many problems and this many ignored paths are kept per node. */
export const MAX_REPORTED = 100_000;
const MAX_PATH_BYTES = 4096;
const MAX_REASON_CHARS = 1000;
const CODE = /^[A-Z][A-Z0-9_]{0,39}$/;
/** Per message (a node sends at most REPORT_MESSAGE_ITEMS items and a short clear list). */
const MAX_CLEAR = 10_000;
const MAX_ITEMS = 10_000;

export interface ReportCounts {
  problems: number;
  /** Problems that need someone to act (problems.ts needsOperator): the node is in `error`. */
  blocking: number;
  ignored: number;
}

interface ParsedReport {
  clear: string[];
  problems: { path: string; code: string; reason: string }[];
  ignored: { path: string; kind: IgnoredKind }[];
}

const isPath = (p: unknown): p is string => typeof p === 'string' && !p.includes('\0') && Buffer.byteLength(p) <= MAX_PATH_BYTES;

/** Pure: a node's report message, checked, or why it is refused. Paths are only ever shown, never opened. */
export function parseReport(m: PathReportMsg | undefined): ParsedReport | string {
  if (!m || typeof m !== 'object') return 'empty report';
  const clear = m.clear ?? [];
  const problems = m.problems ?? [];
  const ignored = m.ignored ?? [];
  if (!Array.isArray(clear) || !Array.isArray(problems) || !Array.isArray(ignored)) return 'malformed report';
  if (clear.length > MAX_CLEAR || problems.length + ignored.length > MAX_ITEMS) return `report too long (at most ${MAX_CLEAR} subtrees and ${MAX_ITEMS} paths per message)`;
  const bad = clear.find((c) => !isPath(c));
  if (bad !== undefined) return `report clears an invalid path ${JSON.stringify(clip(String(bad)))}`;
  const out: ParsedReport = { clear: [...clear], problems: [], ignored: [] };
  for (const p of problems) {
    if (!isPath(p?.path)) return `report names an invalid path ${JSON.stringify(clip(String(p?.path)))}`;
    if (typeof p.code !== 'string' || !CODE.test(p.code)) return `report has an invalid problem code ${JSON.stringify(clip(String(p?.code)))}`;
    const reason = typeof p.reason === 'string' ? p.reason : '';
    out.problems.push({ path: p.path, code: p.code, reason: reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS)}…` : reason });
  }
  for (const i of ignored) {
    if (!isPath(i?.path)) return `report names an invalid path ${JSON.stringify(clip(String(i?.path)))}`;
    out.ignored.push({ path: i.path, kind: (IGNORED_KINDS as readonly string[]).includes(i.kind) ? (i.kind as IgnoredKind) : 'other' });
  }
  return out;
}

export class NodeReports {
  private readonly cache = new Map<string, ReportCounts>();

  constructor(private readonly store: ReportStore) {}

  /** Records a node's report; returns why it was refused (nothing recorded), or null. */
  apply(nodeId: string, m: PathReportMsg | undefined, at = Date.now()): string | null {
    const r = parseReport(m);
    if (typeof r === 'string') return r;
    // A hostile node could report millions: past the bound, a report is refused (and logged).
    const before = r.clear.includes('') ? { problems: 0, ignored: 0 } : this.counts(nodeId);
    if (before.problems + r.problems.length > MAX_REPORTED || before.ignored + r.ignored.length > MAX_REPORTED) {
      return `more than ${MAX_REPORTED} problems or ignored paths reported; only the first are kept`;
    }
    this.store.applyReport(nodeId, r.clear, r.problems, r.ignored, at);
    this.cache.delete(nodeId);
    return null;
  }

  counts(nodeId: string): ReportCounts {
    let c = this.cache.get(nodeId);
    if (!c) {
      let problems = 0;
      let blocking = 0;
      for (const [code, n] of this.store.problemCodes(nodeId)) {
        problems += n;
        if (needsOperator(code)) blocking += n;
      }
      c = { problems, blocking, ignored: this.store.ignoredCount(nodeId) };
      this.cache.set(nodeId, c);
    }
    return c;
  }

  problems(nodeId: string, limit: number): ProblemView[] {
    return this.store.problems(nodeId, limit).map((p) => ({ path: p.path, direction: 'to-hub', code: p.code, reason: p.reason, at: p.at }));
  }

  ignored(nodeId: string, limit: number): IgnoredView[] {
    return this.store.ignored(nodeId, limit).map((i) => ({ path: i.path, kind: (IGNORED_KINDS as readonly string[]).includes(i.kind) ? (i.kind as IgnoredKind) : 'other' }));
  }

  forget(nodeId: string): void {
    this.store.forget(nodeId);
    this.cache.delete(nodeId);
  }
}
