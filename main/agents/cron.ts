/**
 * Standard 5-field cron schedules (minute hour day-of-month month day-of-week), as pure
 * functions: parse with a clear error, and the next time a schedule fires. Supports `*`,
 * numbers, ranges `a-b`, steps `*\/n` and `a-b/n`, lists `a,b`, month and weekday names, and
 * 7 for Sunday. As in Vixie cron, when both day fields are restricted a day matching either fires.
 */
export interface CronSchedule {
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** Day-of-month and day-of-week were both restricted (then either may match). */
  eitherDay: boolean;
  source: string;
}

export class CronError extends Error {
  constructor(expr: string, why: string) {
    super(`invalid cron schedule "${expr}": ${why} (expected 5 fields: minute hour day-of-month month day-of-week, e.g. "*/15 * * * *")`);
    this.name = 'CronError';
  }
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const FIELDS: { name: string; min: number; max: number; names?: string[] }[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day-of-week', min: 0, max: 7, names: DAYS },
];

function parseField(expr: string, text: string, f: (typeof FIELDS)[number]): Set<number> {
  const out = new Set<number>();
  const value = (v: string): number => {
    const named = f.names?.indexOf(v.toLowerCase()) ?? -1;
    const n = named >= 0 ? named + (f.name === 'month' ? 1 : 0) : /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < f.min || n > f.max) throw new CronError(expr, `${f.name} "${v}" is not in ${f.min}-${f.max}`);
    return n;
  };
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    if (range === undefined || range === '' || part.split('/').length > 2) throw new CronError(expr, `${f.name} "${part}" is malformed`);
    const step = stepText === undefined ? 1 : /^\d+$/.test(stepText) && Number(stepText) > 0 ? Number(stepText) : NaN;
    if (!Number.isInteger(step)) throw new CronError(expr, `${f.name} step "${stepText}" must be a positive number`);
    let lo: number;
    let hi: number;
    if (range === '*') [lo, hi] = [f.min, f.max];
    else if (range.includes('-')) {
      const [a, b] = range.split('-');
      lo = value(a ?? '');
      hi = value(b ?? '');
      if (lo > hi) throw new CronError(expr, `${f.name} range "${range}" goes backwards`);
    } else {
      lo = value(range);
      hi = stepText === undefined ? lo : f.max;
    }
    for (let v = lo; v <= hi; v += step) out.add(f.name === 'day-of-week' && v === 7 ? 0 : v);
  }
  return out;
}

export function parseCron(expr: string): CronSchedule {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5 || parts[0] === '') throw new CronError(expr, `it has ${parts[0] === '' ? 0 : parts.length} fields`);
  const [minutes, hours, days, months, weekdays] = parts.map((p, i) => parseField(expr, p, FIELDS[i]!)) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  return { minutes, hours, days, months, weekdays, eitherDay: parts[2] !== '*' && parts[4] !== '*', source: expr };
}

export function matches(s: CronSchedule, d: Date): boolean {
  if (!s.minutes.has(d.getMinutes()) || !s.hours.has(d.getHours()) || !s.months.has(d.getMonth() + 1)) return false;
  const dom = s.days.has(d.getDate());
  const dow = s.weekdays.has(d.getDay());
  return s.eitherDay ? dom || dow : dom && dow;
}

/** The first minute strictly after `after` at which the schedule fires (local time), or null within 5 years. */
export function nextFire(s: CronSchedule, after: Date): Date | null {
  const d = new Date(after.getTime());
  d.setSeconds(0, 0);
  d.setMinutes(d.getMinutes() + 1);
  const limit = after.getTime() + 5 * 366 * 24 * 3600_000;
  while (d.getTime() <= limit) {
    if (!s.months.has(d.getMonth() + 1)) {
      d.setMonth(d.getMonth() + 1, 1);
      d.setHours(0, 0, 0, 0);
      continue;
    }
    const dom = s.days.has(d.getDate());
    const dow = s.weekdays.has(d.getDay());
    if (!(s.eitherDay ? dom || dow : dom && dow)) {
      d.setDate(d.getDate() + 1);
      d.setHours(0, 0, 0, 0);
      continue;
    }
    if (!s.hours.has(d.getHours())) {
      d.setHours(d.getHours() + 1, 0, 0, 0);
      continue;
    }
    if (!s.minutes.has(d.getMinutes())) {
      d.setMinutes(d.getMinutes() + 1, 0, 0);
      continue;
    }
    return d;
  }
  return null;
}
