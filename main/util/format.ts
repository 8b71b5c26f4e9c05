/**
 * Human-readable sizes and times, shared by the CLIs and the renderer (pure: no Node APIs).
 */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  // Whole bytes (a rate of 35.86 B/s is "36 B"); one decimal above.
  return `${i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** "12s ago", "3m ago", …; `now` is a parameter so callers can render consistently. */
export function ago(ts: number | null, now = Date.now()): string {
  if (ts === null) return 'never';
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

/** "in 45s", "in 3m", "in 2h", "in 3d": a moment to come, as ago() one past. */
export function inTime(ts: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((ts - now) / 1000));
  if (s < 60) return `in ${s}s`;
  if (s < 3600) return `in ${Math.round(s / 60)}m`;
  if (s < 86400) return `in ${Math.round(s / 3600)}h`;
  return `in ${Math.round(s / 86400)}d`;
}

const NUMBER = new Intl.NumberFormat();
const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const NAMES = new Intl.Collator();

/**
 * A count with the user's grouping ("12,345"). One shared formatter: toLocaleString() builds
 * one per call, which showed when a table of 100 rows re-rendered twice a second.
 */
export function count(n: number): string {
  return NUMBER.format(n);
}

/** A moment in the user's date and time format (shared formatter, as count()). */
export function dateTime(ms: number): string {
  return DATE_TIME.format(ms);
}

/** Compares names for sorting (shared collator: localeCompare builds one per call). */
export function compareNames(a: string, b: string): number {
  return NAMES.compare(a, b);
}

/** How long something took: "850 ms", "12.3 s", "4 min 5 s", "2 h 3 min". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
