/**
 * What each node reports it cannot send (problems) and leaves out by design (ignored), kept in
 * the hub's database so it survives a hub restart (the schema is a migration in hub-migrations.ts).
 * One source of the problems a node detail lists; others (the hub's own failures) keep theirs.
 */
import type { ChangeLog } from './change-log';
import type { DB } from './db';

export const REPORT_SCHEMA = `
  CREATE TABLE node_problems (
    node_id TEXT NOT NULL,
    path TEXT NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (node_id, path, code)
  ) WITHOUT ROWID;
  CREATE TABLE node_ignored (
    node_id TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (node_id, path)
  ) WITHOUT ROWID;
`;

export interface ReportedProblem {
  path: string;
  code: string;
  reason: string;
  at: number;
}

export interface ReportedIgnored {
  path: string;
  kind: string;
  at: number;
}

export class ReportStore {
  private readonly q;

  constructor(private readonly db: DB, private readonly changes: ChangeLog | null = null) {
    this.q = {
      clearProblems: db.prepare('DELETE FROM node_problems WHERE node_id = ? AND (path = ? OR (path >= ? AND path < ?))'),
      clearIgnored: db.prepare('DELETE FROM node_ignored WHERE node_id = ? AND (path = ? OR (path >= ? AND path < ?))'),
      clearAllProblems: db.prepare('DELETE FROM node_problems WHERE node_id = ?'),
      clearAllIgnored: db.prepare('DELETE FROM node_ignored WHERE node_id = ?'),
      putProblem: db.prepare('INSERT OR REPLACE INTO node_problems (node_id, path, code, reason, at) VALUES (?, ?, ?, ?, ?)'),
      putIgnored: db.prepare('INSERT OR REPLACE INTO node_ignored (node_id, path, kind, at) VALUES (?, ?, ?, ?)'),
      problemCodes: db.prepare<[string], { code: string; n: number }>('SELECT code, count(*) AS n FROM node_problems WHERE node_id = ? GROUP BY code'),
      ignoredCount: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM node_ignored WHERE node_id = ?'),
      problems: db.prepare<[string, number], ReportedProblem>('SELECT path, code, reason, at FROM node_problems WHERE node_id = ? ORDER BY path, code LIMIT ?'),
      ignored: db.prepare<[string, number], ReportedIgnored>('SELECT path, kind, at FROM node_ignored WHERE node_id = ? ORDER BY path LIMIT ?'),
      problemsAt: db.prepare<[string, string], ReportedProblem>('SELECT path, code, reason, at FROM node_problems WHERE node_id = ? AND path = ? ORDER BY code'),
      firstSeen: db.prepare<[string, string, string], { at: number }>('SELECT at FROM node_problems WHERE node_id = ? AND path = ? AND code = ?'),
    };
  }

  /**
   * Records one report of a node: what it had reported at or under each `clear` subtree ('' =
   * everything) goes, then these are added. A problem reported again keeps its first time. A
   * path may have more than one problem (the workspace root unreadable and the node's own
   * disk full both have path '').
   */
  applyReport(nodeId: string, clear: string[], problems: Omit<ReportedProblem, 'at'>[], ignored: Omit<ReportedIgnored, 'at'>[], at: number): void {
    this.db.transaction(() => {
      // Still the same problem after the clear and the re-add: keep when it was first seen.
      const since = new Map<string, number>();
      const key = (p: { path: string; code: string }) => `${p.code}\0${p.path}`;
      for (const p of problems) {
        const old = this.q.firstSeen.get(nodeId, p.path, p.code);
        if (old) since.set(key(p), old.at);
      }
      for (const s of clear) {
        if (s === '') {
          this.q.clearAllProblems.run(nodeId);
          this.q.clearAllIgnored.run(nodeId);
        } else {
          this.q.clearProblems.run(nodeId, s, `${s}/`, `${s}0`);
          this.q.clearIgnored.run(nodeId, s, `${s}/`, `${s}0`);
        }
      }
      for (const p of problems) this.q.putProblem.run(nodeId, p.path, p.code, p.reason, since.get(key(p)) ?? at);
      // A problem first reported now goes into the change log (one reported again does not).
      this.changes?.add(problems.filter((p) => !since.has(key(p))).slice(0, 1000).map((p) => ({
        nodeId, path: p.path, direction: 'to-hub', action: 'failed', size: null, seq: null, code: p.code, detail: `the node cannot send it: ${p.reason}`.slice(0, 2000),
      })), at);
      for (const i of ignored) this.q.putIgnored.run(nodeId, i.path, i.kind, at);
    })();
  }

  /** How many problems a node reported, by code. */
  problemCodes(nodeId: string): Map<string, number> {
    return new Map(this.q.problemCodes.all(nodeId).map((r) => [r.code, r.n]));
  }

  ignoredCount(nodeId: string): number {
    return this.q.ignoredCount.get(nodeId)?.n ?? 0;
  }

  /** The first `limit` problems by path. */
  problems(nodeId: string, limit: number): ReportedProblem[] {
    return this.q.problems.all(nodeId, limit);
  }

  /** What the node reported it cannot send at one path. */
  problemsAt(nodeId: string, path: string): ReportedProblem[] {
    return this.q.problemsAt.all(nodeId, path);
  }

  ignored(nodeId: string, limit: number): ReportedIgnored[] {
    return this.q.ignored.all(nodeId, limit);
  }

  /** Forgets everything a node reported (its mirror was purged). */
  forget(nodeId: string): void {
    this.db.transaction(() => {
      this.q.clearAllProblems.run(nodeId);
      this.q.clearAllIgnored.run(nodeId);
    })();
  }
}
