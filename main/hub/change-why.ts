/**
 * The change log read for people, as pure functions: a row as a sentence, and why a path is
 * out of sync from the facts the hub holds about it (its place in the node's queue, a node
 * change waiting here, failures, what the node reported, the lock, the node paused, gone or
 * retired). No store, no disk: hub/changes.ts gathers the facts, these decide; table-tested.
 */
import type { ChangeActionName, ChangeDirectionName, OutOfSyncReason } from '../contract';
import { ago, bytes } from '../util/format';

export interface ChangeRowFacts {
  direction: ChangeDirectionName;
  action: ChangeActionName;
  size: number | null;
  seq: number | null;
  code: string | null;
  detail: string | null;
}

const sized = (size: number | null) => (size === null ? '' : ` (${bytes(size)})`);

/** Why the hub's version went (again) to the node, from a queue row's cause. */
function causeText(code: string | null): string {
  switch (code) {
    case 'LOCKED': return ', sent back because the node changed a locked path';
    case 'RETRY': return ', sent again after a failure';
    case 'DEFERRED': return ', sent again after the node deferred it';
    default: return '';
  }
}

/** One change-log row as a sentence (the feed, the timeline and the CLI show it). */
export function changeSentence(r: ChangeRowFacts): string {
  const node = r.direction === 'to-hub';
  switch (r.action) {
    case 'put':
      if (node) return `The node's version${r.code ? ` (${r.code})` : sized(r.size)} reached the hub's mirror.`;
      return `The hub's version${sized(r.size)} was queued for the node${r.seq !== null ? ` (#${r.seq})` : ''}${causeText(r.code)}.`;
    case 'delete':
      return node ? "The node's deletion was applied to the hub's mirror." : `The hub's deletion was queued for the node${r.seq !== null ? ` (#${r.seq})` : ''}${causeText(r.code)}.`;
    case 'delivered':
      return `The node applied the hub's change${r.seq !== null ? ` #${r.seq}` : ''}: it reached the node.`;
    case 'conflict':
      return r.code === 'hub'
        ? `Conflict: the node's version won; the hub's version was kept as ${r.detail ?? 'a conflict copy'}.`
        : `Conflict: the hub's version stayed; the node's version${sized(r.size)} was kept as ${r.detail ?? 'a conflict copy'}.`;
    case 'refused':
      return `The hub refused the node's change${r.code ? ` (${r.code})` : ''}${r.detail ? `: ${r.detail}` : '.'}`;
    case 'failed':
      return `${node ? 'The hub could not apply the node\'s change' : 'The node could not apply the hub\'s change'}${r.code ? ` (${r.code}` : ''}${r.code && r.seq ? `, attempt ${r.seq})` : r.code ? ')' : ''}${r.detail ? `: ${r.detail}` : '.'}`;
    default:
      return `${r.action} ${r.direction}.`;
  }
}

/** What the hub knows about one path of one node, now. */
export interface PathFacts {
  now: number;
  /** The node's sync is paused, since. */
  pausedAt: number | null;
  retired: boolean;
  /** The node has a session now; and when it was last seen (null: never connected). */
  connected: boolean;
  lastSeen: number | null;
  /** A hub-side change of the path waits in the node's queue: its number, how many are ahead, the first of those. */
  queued: { seq: number; ahead: number; head?: string[] } | null;
  /** A node change of the path waits to be applied on the hub, or is being applied. */
  toHub: 'queued' | 'running' | null;
  failures: { direction: ChangeDirectionName; code: string; reason: string; attempts: number; retryAt: number | null }[];
  /** What the node reported it cannot send at this path. */
  nodeProblems: { code: string; reason: string }[];
  /** The lock glob that locks the path (null: not locked), and whether the node's change was refused by it and the hub's version has not reached the node again yet. */
  lockGlob: string | null;
  lockRefused: boolean;
}

/**
 * Why the path is not in sync, or [] when nothing keeps it from being: each thing that holds it
 * back, as data with a sentence. The node's state comes first (paused, retired, not connected:
 * nothing moves until that changes), then what waits or failed either way, then the lock.
 */
export function whyOutOfSync(f: PathFacts): OutOfSyncReason[] {
  const out: OutOfSyncReason[] = [];
  const waiting = f.queued !== null || f.toHub !== null || f.failures.length > 0 || f.nodeProblems.length > 0 || f.lockRefused;
  if (f.retired) out.push({ code: 'retired', direction: null, sentence: 'The node is retired: nothing syncs with it any more.' });
  else if (f.pausedAt !== null) out.push({ code: 'paused', direction: null, sentence: `The node's sync is paused (paused ${ago(f.pausedAt, f.now)}): nothing flows either way until it is resumed, and the node's own changes wait there.` });
  else if (!f.connected && waiting) {
    out.push({ code: 'disconnected', direction: null, sentence: f.lastSeen === null ? 'The node has never connected.' : `The node is not connected (last seen ${ago(f.lastSeen, f.now)}): what waits goes when it is back.` });
  }
  if (f.toHub) {
    out.push({ code: 'to-hub', direction: 'to-hub', sentence: f.toHub === 'running' ? "The node's change is being applied to the mirror now." : "The node's change waits to be applied to the mirror." });
  }
  if (f.queued) {
    const { ahead, seq, head = [] } = f.queued;
    const first = head.length ? ` (${ahead > head.length ? 'first ' : ''}${head.map((p) => `"${p}"`).join(', ')})` : '';
    out.push({
      code: 'queued', direction: 'to-node', ahead, ...(head.length ? { head } : {}),
      sentence: `The hub's change (#${seq}) waits for the node${ahead > 0 ? `, behind ${ahead.toLocaleString('en-US')} other change${ahead === 1 ? '' : 's'} in its queue${first}` : ', first in its queue'}.`,
    });
  }
  for (const x of f.failures) {
    const who = x.direction === 'to-hub' ? "The hub could not apply the node's change" : "The node could not apply the hub's change";
    const next = x.retryAt === null ? 'tried again when something changes (a newer version, a rescan)' : x.retryAt <= f.now ? 'tried again now' : `tried again ${inWords(x.retryAt - f.now)}`;
    out.push({
      code: 'failed', direction: x.direction, failure: { code: x.code, reason: x.reason, attempts: x.attempts, retryAt: x.retryAt },
      sentence: `${who} (${x.code}, ${x.attempts} attempt${x.attempts === 1 ? '' : 's'}): ${x.reason}; ${next}.`,
    });
  }
  for (const p of f.nodeProblems) {
    out.push({ code: 'node-problem', direction: 'to-hub', sentence: `The node cannot send it (${p.code}): ${p.reason}.` });
  }
  if (f.lockGlob !== null && f.lockRefused) {
    out.push({ code: 'locked', direction: 'to-hub', glob: f.lockGlob, sentence: `It is locked by "${f.lockGlob}" in .metadata.json: the node's change was refused and the hub's version stays.` });
  }
  // Paused (or retired) alone still counts: the node's own changes are held there, unknown here
  // (the status never says in-sync while paused either).
  return out;
}

function inWords(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `in ${s} s`;
  const m = Math.ceil(s / 60);
  return m < 60 ? `in ${m} min` : `in ${Math.ceil(m / 60)} h`;
}
