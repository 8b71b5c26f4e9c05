/**
 * What deserves a notification now: a pure function over successive node statuses and the
 * clock, shared by the browser page (renderer/src/components/notices.tsx: the Notification API
 * or an in-page toast) and the desktop app (main/desktop/main.ts: native notifications).
 *
 * Told: a node disconnected for longer than the setting, a node that went to `error`, new
 * problems on a node still not in error, new conflict copies; each kind switchable. Never told:
 * what was already so when the watcher first saw the node (the page's first status, a hub just
 * started), `new` (never connected) and retired nodes, a paused node. Each event is told once
 * (the watcher remembers per node); events that come while a notification was shown less than
 * QUIET_MS ago are held and told together, as one notification, when the quiet time is over.
 */
import type { NodeState, NodeStatus, Settings } from './index';

export const NOTICE_KINDS = ['disconnected', 'error', 'problems', 'conflicts'] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

/** One event on one node. */
export interface Notice {
  kind: NoticeKind;
  nodeId: string;
  name: string;
  /** New problems or conflict copies (1 for the other kinds). */
  count: number;
  /** What went wrong (error, problems): the node's last failure, or null. */
  detail: string | null;
  /** How long the node has been disconnected, for `disconnected`. */
  forMs: number;
}

/** What a notification says: one event, or a summary of several. */
export interface NoticeMessage {
  title: string;
  body: string;
  /**
   * The same for the same events in the same minute, else distinct: two pages open on one hub
   * tell an event under one tag, so the browser shows it once (a notification with the tag of a
   * shown one replaces it silently); the same events later are told anew.
   */
  tag: string;
  notices: Notice[];
}

export interface NoticePrefs {
  disconnected: boolean;
  disconnectedAfterMs: number;
  error: boolean;
  problems: boolean;
  conflicts: boolean;
}

export function noticePrefs(s: Pick<Settings, 'notifyOnDisconnect' | 'notifyDisconnectedAfterSeconds' | 'notifyOnError' | 'notifyOnProblems' | 'notifyOnConflicts'>): NoticePrefs {
  return { disconnected: s.notifyOnDisconnect, disconnectedAfterMs: s.notifyDisconnectedAfterSeconds * 1000, error: s.notifyOnError, problems: s.notifyOnProblems, conflicts: s.notifyOnConflicts };
}

/** After a notification, the next one waits this long; what comes meanwhile is told together. */
export const QUIET_MS = 10_000;
/** A summary lists this many events, then "and N more". */
const SUMMARY_LINES = 5;

/** What the watcher remembers of a node. */
interface Seen {
  state: NodeState;
  /** When the watcher saw the node enter this state (its own clock). */
  since: number;
  conflicts: number;
  lastConflictAt: number | null;
  problems: number;
  /** This disconnection was told, or is not news (it was so at first sight). */
  toldDown: boolean;
}

export interface NoticeWatch {
  seen: Record<string, Seen>;
  /** Events waiting for the quiet time to end. */
  held: Notice[];
  lastShownAt: number | null;
}

export function emptyWatch(): NoticeWatch {
  return { seen: {}, held: [], lastShownAt: null };
}

function failureText(n: NodeStatus): string | null {
  const e = n.lastError;
  return e ? `${e.path ? `${e.path}: ` : ''}${e.message}` : null;
}

/** The events between what the watcher saw and `nodes` at `now`, and what it remembers next. */
export function noticesOf(seen: Record<string, Seen>, nodes: readonly NodeStatus[], now: number, prefs: NoticePrefs): { seen: Record<string, Seen>; notices: Notice[] } {
  const next: Record<string, Seen> = {};
  const notices: Notice[] = [];
  for (const n of nodes) {
    const before = seen[n.id];
    const moved = !before || before.state !== n.state;
    const s: Seen = {
      state: n.state,
      since: moved ? now : before.since,
      conflicts: n.conflicts,
      lastConflictAt: n.lastConflictAt,
      problems: n.problems,
      // A disconnection seen from the first look is not news; one the watcher saw begin is.
      toldDown: moved ? !before : before.toldDown,
    };
    next[n.id] = s;
    if (!before || n.state === 'retired') continue;
    const base = { nodeId: n.id, name: n.name, count: 1, detail: null, forMs: 0 };
    if (n.state === 'disconnected' && !s.toldDown && now - s.since >= prefs.disconnectedAfterMs) {
      s.toldDown = true;
      if (prefs.disconnected) notices.push({ ...base, kind: 'disconnected', forMs: now - s.since });
    }
    const wentToError = n.state === 'error' && before.state !== 'error';
    if (wentToError && prefs.error) notices.push({ ...base, kind: 'error', detail: failureText(n) ?? (n.problems > 0 ? `${plural(n.problems, 'problem')}: the node detail says what and why` : null) });
    // Problems that put the node in error are told by the error notice.
    if (n.problems > before.problems && !(wentToError && prefs.error) && prefs.problems) {
      notices.push({ ...base, kind: 'problems', count: n.problems - before.problems, detail: failureText(n) });
    }
    // New copies raise the count, unless others were resolved meanwhile: a newer conflict time says so then (at least one).
    const newConflicts = Math.max(n.conflicts - before.conflicts, (n.lastConflictAt ?? 0) > (before.lastConflictAt ?? 0) ? 1 : 0);
    if (newConflicts > 0 && prefs.conflicts) notices.push({ ...base, kind: 'conflicts', count: newConflicts });
  }
  return { seen: next, notices };
}

/** Adds events to those held: one per node and kind (counts added, the latest detail kept). */
function hold(held: readonly Notice[], more: readonly Notice[]): Notice[] {
  const out = held.slice();
  for (const m of more) {
    const i = out.findIndex((h) => h.kind === m.kind && h.nodeId === m.nodeId);
    if (i < 0) out.push(m);
    else out[i] = { ...m, count: out[i]!.count + (m.kind === 'conflicts' || m.kind === 'problems' ? m.count : 0) };
  }
  return out;
}

/**
 * One look: the next watch, and the notification to show now (or null). Call it on every
 * status and on a clock tick (a disconnection becomes news with no status changing).
 */
export function watchStep(watch: NoticeWatch, nodes: readonly NodeStatus[], now: number, prefs: NoticePrefs): { watch: NoticeWatch; show: NoticeMessage | null } {
  const { seen, notices } = noticesOf(watch.seen, nodes, now, prefs);
  const held = hold(watch.held, notices);
  const quiet = watch.lastShownAt === null || now - watch.lastShownAt >= QUIET_MS;
  if (held.length === 0 || !quiet) return { watch: { seen, held, lastShownAt: watch.lastShownAt }, show: null };
  return { watch: { seen, held: [], lastShownAt: now }, show: messageOf(held, now) };
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "45 s", "12 min", "3 h 5 min". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
}

/** One event in a line: "alpha disconnected (5 min)". */
function line(n: Notice): string {
  switch (n.kind) {
    case 'disconnected': return `${n.name} disconnected (${duration(n.forMs)})`;
    case 'error': return `${n.name} in error${n.detail ? `: ${n.detail}` : ''}`;
    case 'problems': return `${plural(n.count, 'new problem')} on ${n.name}`;
    case 'conflicts': return `${plural(n.count, 'new conflict')} on ${n.name}`;
  }
}

/** What the notification says: one event told in full, several summed up in the title and listed. */
export function messageOf(notices: readonly Notice[], now: number): NoticeMessage {
  const tag = `cortex-hub:${Math.floor(now / 60_000)}:${notices.map((n) => `${n.kind}:${n.nodeId}:${n.count}`).join(',')}`.slice(0, 240);
  if (notices.length === 1) {
    const n = notices[0]!;
    const single: Record<NoticeKind, [string, string]> = {
      disconnected: [`${n.name} disconnected`, `Not connected to the hub for ${duration(n.forMs)}; its changes wait on the node.`],
      error: [`${n.name}: error`, n.detail ?? 'The node needs attention.'],
      problems: [`${plural(n.count, 'new problem')} on ${n.name}`, n.detail ? `${n.detail} (the node detail lists every problem)` : 'Something cannot be mirrored; the node detail says why.'],
      conflicts: [`${plural(n.count, 'new conflict')} on ${n.name}`, 'Both versions were kept; the Conflicts view compares them.'],
    };
    const [title, body] = single[n.kind];
    return { title, body, tag, notices: [...notices] };
  }
  const parts: string[] = [];
  const of = (k: NoticeKind) => notices.filter((n) => n.kind === k);
  const sum = (k: NoticeKind) => of(k).reduce((c, n) => c + n.count, 0);
  if (of('disconnected').length) parts.push(`${plural(of('disconnected').length, 'node')} disconnected`);
  if (of('error').length) parts.push(`${of('error').length} in error`);
  if (of('problems').length) parts.push(plural(sum('problems'), 'new problem'));
  if (of('conflicts').length) parts.push(plural(sum('conflicts'), 'new conflict'));
  const lines = notices.slice(0, SUMMARY_LINES).map(line);
  if (notices.length > SUMMARY_LINES) lines.push(`and ${notices.length - SUMMARY_LINES} more`);
  return { title: `Cortex Hub: ${parts.join(', ')}`, body: lines.join('\n'), tag, notices: [...notices] };
}
