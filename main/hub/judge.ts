/**
 * The hub's verdict on one node change, as a pure function (like sync/reconcile.ts, which it
 * builds on): given the change, what the mirror has recorded at the path, the last version
 * both sides agreed on, the time and what names are taken, it returns what to do, what the
 * mirror must still show when it is done (expect.ts), the conflict copy to keep, whether the
 * hub's version must go (back) to the node, the agreements to record and the conflict to log.
 * The session (session.ts) records and logs; nothing here touches a disk, a database or a clock.
 */
import { expectedOf, type Expected } from '../sync/expect';
import { planEntry, type Action } from '../sync/plan';
import { conflictName, reconcile, versionOf, type Side, type Version } from '../sync/reconcile';
import type { CachedEntry, Entry } from '../sync/types';

export interface JudgeInput {
  /** The node's change. */
  entry: Entry;
  /** What the mirror index records at the path. */
  local: CachedEntry | undefined;
  /** The last version both sides agreed on, as recorded before this change. */
  ancestor: Version | null;
  /** Now (ms): conflict copies are named after it. */
  now: number;
  /** A mirror path already in use (recorded, or with node work queued): no conflict copy goes there. */
  taken(wirePath: string): boolean;
  /** Hub-side changes recorded under a directory and not yet applied by the node. */
  hubChangesUnder(dir: string): number;
}

/** What to do about a node change. */
export interface Verdict {
  action: Action;
  expected: Expected;
  /** A conflict: the losing side's version is kept at `copyTo`. */
  conflict?: { loser: Side; copyTo: string };
  /** The hub's version must go (back) to the node. */
  sendBack: boolean;
  /** Agreements to record now (the version both sides have at a path; null: absent on both). */
  agreed: [string, Version | null][];
  /** A conflict decided, for the log (sync.conflict). */
  logged?: { winner: Side; copy?: string | null; reason?: string };
}

/**
 * The three-way decision for a node change (reconcile.ts) against what the mirror has and the
 * last version both agreed on, and the work it takes. The hub alone decides conflicts.
 */
export function judge(input: JudgeInput): Verdict {
  const { entry: e, local } = input;
  const nodeV = versionOf(e);
  // The node applied one of our changes: that version is now on both sides.
  const agreed: [string, Version | null][] = e.fromHubSeq ? [[e.path, nodeV]] : [];
  const ancestor = e.fromHubSeq ? nodeV : input.ancestor;
  const d = reconcile(ancestor, nodeV, versionOf(local));
  const none: Verdict = { action: { kind: 'none' }, expected: null, sendBack: false, agreed };
  switch (d.kind) {
    case 'none':
      return none;
    case 'agree':
      return { ...none, agreed: [[e.path, nodeV]] };
    case 'toHub':
      if (local?.type === 'dir' && (e.deleted || e.type !== 'dir') && input.hubChangesUnder(e.path) > 0) {
        // The node removed or replaced a directory in which the hub made changes the node has
        // not got yet: the directory with them wins (a node's file or symlink is kept beside it).
        const logged = { winner: 'hub' as const, reason: 'changes on the hub inside a directory the node removed or replaced' };
        return e.deleted ? { ...none, sendBack: true, logged } : { ...keepNodeCopy(e, freeConflictName(input, e.path, 'node'), agreed), logged };
      }
      return { action: planEntry(e, local), expected: expectedOf(local), sendBack: false, agreed };
    case 'toNode':
      // The node's version is older than ours (or it deleted what we changed): ours goes back.
      return { ...none, sendBack: true };
    case 'conflict': {
      const loser: Side = d.winner === 'hub' ? 'node' : 'hub';
      const copyTo = d.copyLoser ? freeConflictName(input, e.path, loser) : null;
      const logged = { winner: d.winner, copy: copyTo };
      if (d.winner === 'hub') {
        // Ours stays and goes to the node (after the node's version is copied aside, if kept).
        return { ...(copyTo ? keepNodeCopy(e, copyTo, agreed) : { ...none, sendBack: true }), logged };
      }
      // The node wins: ours steps aside (if kept) and the node's takes its place.
      return copyTo
        ? { action: planEntry(e, undefined), expected: expectedOf(local), conflict: { loser, copyTo }, sendBack: false, agreed, logged }
        : { action: planEntry(e, local), expected: expectedOf(local), sendBack: false, agreed, logged };
    }
  }
}

/**
 * The verdict when the path keeps changing on the hub's side under every attempt: the hub's
 * version stays and the node's is kept beside it (a deletion or a directory has nothing to lose).
 */
export function keepAside(input: Omit<JudgeInput, 'local' | 'ancestor' | 'hubChangesUnder'>): Verdict {
  const e = input.entry;
  if (e.deleted || e.type === 'dir') return { action: { kind: 'none' }, expected: null, sendBack: true, agreed: [] };
  const copyTo = freeConflictName(input, e.path, 'node');
  return { ...keepNodeCopy(e, copyTo, []), logged: { winner: 'hub', copy: copyTo, reason: 'kept changing on the hub' } };
}

/** A conflict name nothing in the mirror uses yet (two conflicts of one path in one second). */
export function freeConflictName(input: Pick<JudgeInput, 'now' | 'taken'>, wirePath: string, loser: Side): string {
  for (let i = 0; ; i++) {
    const name = conflictName(wirePath, loser, new Date(input.now + i * 1000));
    if (!input.taken(name)) return name;
  }
}

/** The hub's version stays; the node's is pulled beside it as `copyTo` (session.ts execute() does it). */
function keepNodeCopy(e: Entry, copyTo: string, agreed: [string, Version | null][]): Verdict {
  return { action: e.type === 'symlink' ? { kind: 'symlink' } : { kind: 'pull' }, expected: null, conflict: { loser: 'node', copyTo }, sendBack: false, agreed };
}
