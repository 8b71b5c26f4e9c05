/**
 * The cron of agent templates: at the start of every minute (the hub's local time), each
 * template whose schedule matches fires once; and when a template fires next, for the
 * operator. Schedules are parsed once per expression (the stored ones were checked when saved).
 */
import type { AgentTemplate } from '../store/agent-store';
import { matches, nextFire, parseCron, type CronSchedule } from './cron';

export class CronScheduler {
  private timer: NodeJS.Timeout | null = null;
  private readonly schedules = new Map<string, CronSchedule>();

  /** `templates`: the live ones; `fire`: run one (its errors are the caller's to log). */
  constructor(private readonly d: { templates(): AgentTemplate[]; fire(t: AgentTemplate): void }) {}

  start(): void {
    if (this.timer) return;
    const arm = () => {
      const now = Date.now();
      this.timer = setTimeout(() => {
        this.tick(new Date());
        arm();
      }, 60_000 - (now % 60_000) + 5);
      this.timer.unref?.();
    };
    arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One tick: every template whose schedule matches `now` fires once. */
  tick(now: Date): void {
    for (const t of this.d.templates()) if (t.cron && matches(this.schedule(t.cron), now)) this.d.fire(t);
  }

  /** When `t`'s cron fires next after `now` (ms), null without one, once deleted, or not within 5 years. */
  nextRun(t: AgentTemplate, now: Date): number | null {
    return t.cron && t.deletedAt === null ? nextFire(this.schedule(t.cron), now)?.getTime() ?? null : null;
  }

  private schedule(cron: string): CronSchedule {
    let s = this.schedules.get(cron);
    if (!s) {
      s = parseCron(cron);
      this.schedules.set(cron, s);
    }
    return s;
  }
}
