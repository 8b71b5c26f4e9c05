/**
 * Purge plans (table `purge_plans`): what a purge preview listed, each target with its identity,
 * runnable once until it expires, so a purge removes what was previewed and nothing else (hub or
 * CLI alike). A part of HubStore, on its connection.
 */
import type { DB } from './db';

/** One mirror a purge plan removes, and what it was when previewed (so a swapped-in one is not). */
export interface PurgePlanTarget {
  /** Entry name under mirrors/ (a node id for real mirrors). */
  id: string;
  reason: 'retired' | 'unknown';
  kind: 'dir' | 'symlink' | 'other';
  files: number;
  bytes: number;
  /** lstat identity at preview time: device, inode, birth time in ns ('0' where the file system has none). */
  dev: string;
  ino: string;
  birth: string;
}

export interface PurgePlanRecord {
  id: string;
  createdAt: number;
  expiresAt: number;
  /** When it was run (a plan runs once), or null. */
  runAt: number | null;
  targets: PurgePlanTarget[];
}

export class PurgePlanStore {
  private readonly q;

  constructor(private readonly db: DB) {
    this.q = {
      insertPurgePlan: db.prepare('INSERT INTO purge_plans (id, created_at, expires_at, targets) VALUES (?, ?, ?, ?)'),
      forgetPurgePlans: db.prepare('DELETE FROM purge_plans WHERE created_at < ?'),
      purgePlan: db.prepare<[string], { id: string; created_at: number; expires_at: number; targets: string; run_at: number | null }>('SELECT * FROM purge_plans WHERE id = ?'),
      runPurgePlan: db.prepare('UPDATE purge_plans SET run_at = ? WHERE id = ? AND run_at IS NULL'),
    };
  }

  /** Records a purge preview's plan, and forgets plans made before `forgetBefore`. */
  save(plan: Omit<PurgePlanRecord, 'runAt'>, forgetBefore: number): void {
    this.db.transaction(() => {
      this.q.forgetPurgePlans.run(forgetBefore);
      this.q.insertPurgePlan.run(plan.id, plan.createdAt, plan.expiresAt, JSON.stringify(plan.targets));
    })();
  }

  get(id: string): PurgePlanRecord | undefined {
    const r = this.q.purgePlan.get(id);
    return r && { id: r.id, createdAt: r.created_at, expiresAt: r.expires_at, runAt: r.run_at, targets: JSON.parse(r.targets) as PurgePlanTarget[] };
  }

  /** Marks a plan as run; false when it already was (a plan runs once). */
  markRun(id: string, at = Date.now()): boolean {
    return this.q.runPurgePlan.run(at, id).changes > 0;
  }
}
