/**
 * A session's write journal: what it wrote to the mirror (and the failures it found) and has
 * not recorded in the hub's database yet, in the shape one flush records (store recordFlush).
 * A flush takes() the pending writes; until they are recorded() they stay visible to
 * unflushed(), and if recording fails they go back in front of what came meanwhile
 * (notRecorded()). Writes recorded lately stay visible a little longer, which is when the
 * mirror watcher reports them: the hub tells its own commits from edits on its side this way.
 * Commits of node versions are noted on disk before their rename (commit-intents.ts), for the
 * verification after a crash.
 */
import type { FailureRecord } from '../store/hub-store';
import { ancestorsOf } from '../sync/paths';
import type { Version } from '../sync/reconcile';
import type { CachedEntry } from '../sync/types';
import type { CommitIntents } from './commit-intents';
import type { Direction } from './failures';

/** How long recorded writes stay in unflushed()'s view (the watcher reports them within this). */
const RECENT_MS = 1000;

export interface Writes {
  /** Failures to record (null: cleared), by failureKey. */
  failures: Map<string, FailureRecord | null>;
  /** The latest write per path (null: deleted), for unflushed(). */
  byPath: Map<string, CachedEntry | null>;
  put: CachedEntry[];
  del: string[];
  /** New agreements (ancestors) once these writes are recorded. */
  agreed: [string, Version | null][];
  /** Mirror paths whose hub-side version the node must get (conflict copies, a winning version). */
  forNode: string[];
}

export class WriteJournal {
  private pending: Writes = emptyWrites();
  /** The writes a flush is recording right now. */
  private recording: Writes | null = null;
  /** Writes recorded lately, newest first: two generations of about RECENT_MS each. */
  private recent: Map<string, CachedEntry | null>[] = [new Map(), new Map()];
  private recentSince = Date.now();

  constructor(private readonly intents: CommitIntents | null = null) {}

  /** A node version is about to be renamed into the mirror at this path (noted on disk first). */
  intend(wirePath: string, hash: Buffer): void {
    this.intents?.note(wirePath, hash);
  }

  /** Writes and failures waiting for the next flush. */
  get size(): number {
    return this.pending.put.length + this.pending.del.length + this.pending.failures.size;
  }

  /** Adds an operation's results to what the next flush records. */
  add(w: Partial<Writes>): void {
    const into = this.pending;
    for (const p of w.del ?? []) into.byPath.set(p, null);
    for (const x of w.put ?? []) into.byPath.set(x.path, x);
    if (w.del) into.del.push(...w.del);
    if (w.put) into.put.push(...w.put);
    if (w.agreed) into.agreed.push(...w.agreed);
    if (w.forNode) into.forNode.push(...w.forNode);
  }

  /** A failure to record (null: one cleared). */
  failure(direction: Direction, path: string, rec: FailureRecord | null): void {
    this.pending.failures.set(failureKey(direction, path), rec);
  }

  /**
   * What was written at a mirror path and not recorded yet (`orRecent`: or recorded in the last
   * second or so): the new stamp, null for a deletion (also of a parent directory), undefined
   * when there is nothing.
   */
  unflushed(wirePath: string, orRecent = false): CachedEntry | null | undefined {
    // (No array of the maps per call: this runs for every path a scan compares, 100k at a restart.)
    let w = lookupWrites(this.pending.byPath, wirePath);
    if (w === undefined && this.recording) w = lookupWrites(this.recording.byPath, wirePath);
    for (let i = 0; w === undefined && orRecent && i < this.recent.length; i++) w = lookupWrites(this.recent[i]!, wirePath);
    return w;
  }

  /** The pending writes, for a flush to record (still visible to unflushed() until it has). */
  take(): Writes {
    const writes = this.pending;
    this.pending = emptyWrites();
    this.recording = writes;
    return writes;
  }

  /** The flush recorded them. */
  recorded(writes: Writes, now = Date.now()): void {
    this.recording = null;
    if (now - this.recentSince > RECENT_MS) {
      this.recent = [new Map(), this.recent[0]!];
      this.recentSince = now;
    }
    for (const [p, w] of writes.byPath) this.recent[0]!.set(p, w);
    this.intents?.recorded(writes.byPath.keys());
  }

  /** The flush could not record them: they go back, before what was written meanwhile. */
  notRecorded(writes: Writes): void {
    this.pending = mergeWrites(writes, this.pending);
    this.recording = null;
  }
}

/** A failure's key in Writes.failures. */
export const failureKey = (direction: Direction, path: string) => `${direction}\u0000${path}`;

/** The failures of some writes as a flush records them: those kept, and those cleared. */
export function failureChanges(writes: Writes): { failed: FailureRecord[]; cleared: { direction: Direction; path: string }[] } {
  const failed: FailureRecord[] = [];
  const cleared: { direction: Direction; path: string }[] = [];
  for (const [key, rec] of writes.failures) {
    if (rec) failed.push(rec);
    else cleared.push({ direction: key.slice(0, key.indexOf('\u0000')) as Direction, path: key.slice(key.indexOf('\u0000') + 1) });
  }
  return { failed, cleared };
}

function lookupWrites(byPath: Map<string, CachedEntry | null>, wirePath: string): CachedEntry | null | undefined {
  if (byPath.size === 0) return undefined;
  const own = byPath.get(wirePath);
  if (own !== undefined) return own;
  return ancestorsOf(wirePath).some((dir) => byPath.get(dir) === null) ? null : undefined;
}

function emptyWrites(): Writes {
  return { byPath: new Map(), put: [], del: [], agreed: [], forNode: [], failures: new Map() };
}

/** Writes `a` followed by writes `b`, as one (a later deletion drops an earlier put under it). */
function mergeWrites(a: Writes, b: Writes): Writes {
  const gone = new Set(b.del);
  const keep = (x: CachedEntry) => !gone.has(x.path) && !ancestorsOf(x.path).some((d) => gone.has(d));
  return {
    byPath: new Map([...a.byPath, ...b.byPath]),
    put: [...a.put.filter(keep), ...b.put],
    del: [...a.del, ...b.del],
    agreed: [...a.agreed, ...b.agreed],
    forNode: [...a.forNode, ...b.forNode],
    failures: new Map([...a.failures, ...b.failures]),
  };
}
