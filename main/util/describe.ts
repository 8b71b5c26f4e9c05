/**
 * What the operator reads, in words: counts with their nouns, a node's events as sentences,
 * what retiring a node loses, rates and times left. Pure (no Node APIs, no contract import:
 * the shapes are structural), shared by the renderer and the CLI; tested in
 * test/unit/describe.test.ts.
 */
import { bytes, count } from './format';

/** "1 node", "2 nodes", "1,204 files"; `many` when the plural is not `one` + "s". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** States that need the operator: an error, or a node that went away. A `new` node (never connected) does not. */
export function needsAttention(state: string): boolean {
  return state === 'error' || state === 'disconnected';
}

/** The line above the nodes table: "3 nodes · 1 in sync · 1 new · 1 needs attention". */
export function nodesSummary(c: { total: number; inSync: number; fresh: number; attention: number }): string {
  const parts = [plural(c.total, 'node'), `${count(c.inSync)} in sync`];
  if (c.fresh) parts.push(`${count(c.fresh)} new (never connected)`);
  if (c.attention) parts.push(`${count(c.attention)} ${c.attention === 1 ? 'needs' : 'need'} attention`);
  return parts.join(' · ');
}

/** The host of a peer address as gRPC gives it (`127.0.0.1:5123`, `::1:5123`, `::ffff:10.0.0.2:5123`). */
export function hostOfPeer(peer: string): string {
  const m = /^(.*):(\d+)$/.exec(peer);
  let host = m ? m[1]! : peer;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return host.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
}

/** A value of an event's data as text: strings as they are, anything else short and in JSON. */
function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '?';
  const s = JSON.stringify(v);
  return s.length > 200 ? `${s.slice(0, 199)}…` : s;
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** How long something took, for people: "0.4 s", "12 s", "3 min 5 s", "2 h 10 min". */
export function duration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m - h * 60} min`;
}

/** One event of a node (or the hub) as a sentence, never raw JSON (an unknown kind says its fields in words). */
export function eventSentence(e: { kind: string; data: Record<string, unknown> }): string {
  const d = e.data ?? {};
  switch (e.kind) {
    case 'node.added': return `Added as “${text(d.name)}”.`;
    case 'node.retired': return `Retired (was “${text(d.name)}”): its token is revoked; its mirror stays until a purge removes it.`;
    case 'node.connected': {
      const from = typeof d.peer === 'string' ? ` from ${hostOfPeer(d.peer)}` : '';
      const version = typeof d.version === 'string' && d.version ? ` running cortex-node ${d.version}` : '';
      const index = d.fullIndex === true ? '; it sends its whole index (first connection, or its index is new)' : '; it sends what changed since it was last seen';
      return `Connected${from}${version}${index}.`;
    }
    case 'node.disconnected': return `Disconnected: ${text(d.reason)}.`;
    case 'node.superseded': return `A connection from ${hostOfPeer(text(d.by))} replaced the one from ${hostOfPeer(text(d.replaced))} (the same credentials: a restart, or two processes sharing them).`;
    case 'sync.complete': return `In sync: ${plural(num(d.files), 'file')} (${bytes(num(d.bytes))}) mirrored; ${bytes(num(d.bytesReceived))} received and ${bytes(num(d.bytesReused))} reused this session, ${duration(num(d.ms))} after it connected.`;
    case 'purge': {
      const targets = Array.isArray(d.targets) ? d.targets.length : 0;
      const skipped = Array.isArray(d.skipped) ? d.skipped.length : 0;
      return `Purge ${text(d.planId)} removed ${plural(targets, 'mirror')} (${plural(num(d.files), 'file')}, ${bytes(num(d.bytes))})${skipped ? `; ${plural(skipped, 'mirror')} left in place` : ''}.`;
    }
    default: {
      const fields = Object.entries(d).map(([k, v]) => `${k} ${text(v)}`);
      return `${e.kind}${fields.length ? `: ${fields.join(', ')}` : ''}.`;
    }
  }
}

/** What a node's status says is still in flight (the fields retireLoss reads). */
export interface InFlight {
  outOfSyncFiles: number;
  outOfSyncBytes: number;
  toNodeFiles: number;
  toNodeBytes: number;
  conflicts: number;
  problems: number;
}

/**
 * What retiring a node gives up, one sentence each (none: nothing is pending). Its token is
 * revoked, so changes still on their way either side never arrive.
 */
export function retireLoss(n: InFlight): string[] {
  const out: string[] = [];
  if (n.toNodeFiles > 0) out.push(`${plural(n.toNodeFiles, 'change')} made on the hub's side (${bytes(n.toNodeBytes)}) will never reach the node.`);
  if (n.outOfSyncFiles > 0) out.push(`${plural(n.outOfSyncFiles, 'change')} of the node (${bytes(n.outOfSyncBytes)}) not yet in the mirror will never arrive.`);
  const stay = (k: number) => (k === 1 ? 'stays' : 'stay');
  if (n.problems > 0) out.push(`${plural(n.problems, 'path')} that could not be synced ${stay(n.problems)} as ${n.problems === 1 ? 'it is' : 'they are'} on each side.`);
  if (n.conflicts > 0) out.push(`${plural(n.conflicts, 'conflict copy', 'conflict copies')} ${stay(n.conflicts)} in the mirror, unresolved.`);
  return out;
}

/** A transfer rate, rounded ("35 B/s", "1.2 MiB/s"); null when nothing moves (the rate is hidden, not "0 B/s"). */
export function rateText(bytesPerSecond: number): string | null {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 1) return null;
  return `${bytes(bytesPerSecond)}/s`;
}

/** Time left, rounded up and coarse ("< 1 min" is said as seconds in steps of 5). */
export function etaText(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return 'estimating…';
  const s = Math.ceil(Math.max(0, ms) / 1000);
  if (s < 60) return `${Math.max(5, Math.ceil(s / 5) * 5)} s left`;
  const m = Math.ceil(s / 60);
  if (m < 60) return `${m} min left`;
  const h = Math.floor(m / 60);
  return `${h} h ${m - h * 60} min left`;
}

/** What a paused node holds back, in words: "12 changes (3.4 MiB) held on the node"; null when it said nothing or holds nothing. */
export function heldText(held: { changes: number; bytes: number; capped: boolean } | null): string | null {
  if (!held || held.changes === 0) return null;
  return `${held.capped ? 'over ' : ''}${plural(held.changes, 'change')} (${bytes(held.bytes)}${held.capped ? ' or more' : ''}) held on the node`;
}

/** A direction's progress in words: "42 % · 3 min left"; null when nothing is pending that way. */
export function progressText(percent: number | null, etaMs: number | null): string | null {
  if (percent === null) return null;
  return `${Math.floor(percent)} % · ${etaText(etaMs)}`;
}

/** The lower percent of the directions with work (null: nothing pending either way): the row's one progress bar. */
export function overallPercent(n: { toHubPercent: number | null; toNodePercent: number | null }): number | null {
  const ps = [n.toHubPercent, n.toNodePercent].filter((p): p is number => p !== null);
  return ps.length ? Math.min(...ps) : null;
}

/**
 * The heading's note and the empty text of a list the hub sends only the start of, so that
 * they agree with each other: never "first 0 of 301" above "Nothing pending". `total` counts
 * every item (from the same answer as the list), `shown` is the list's length; `none` is said
 * when there is nothing, `unlisted` when items are counted but none is listed yet.
 */
export function listNote(total: number, shown: number, none: string, unlisted: string): { heading: string; empty: string | null } {
  if (shown > 0) return { heading: total > shown ? ` (first ${count(shown)} of ${count(total)})` : ` (${count(total)})`, empty: null };
  if (total > 0) return { heading: ` (${count(total)})`, empty: unlisted };
  return { heading: '', empty: none };
}
