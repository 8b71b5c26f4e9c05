/**
 * A safety net under the file-system watcher, for hub mirrors and node workspaces alike.
 *
 * @parcel/watcher folds a "created" and a "deleted" of one path within its batch window (50 to
 * 500 ms) into nothing, and reports a rename over an existing file as "created". So a file
 * replaced by a rename and then moved or removed right after leaves no event at all: the index
 * still has the old version, and the status would say in-sync while the trees differ.
 *
 * Every such change alters the entries of a directory, which moves that directory's mtime. The
 * sweep stats every recorded directory (cheap: directories are few next to files), and for one
 * whose mtime moved since the last sweep compares its entries on disk with the recorded ones:
 * what differs is handed to the caller's scan. A directory in which someone edited a file
 * (the watcher said so) is compared entry by entry at the next two sweeps whatever its mtime
 * does: @parcel/watcher 2.6 can lose an event outright (see `touched`), and an edit in place
 * moves no directory's mtime. Which paths differ is decided by
 * `differingChildren`, a pure function over what was read; when a sweep is due, and what it
 * settled, by `SweepPace`.
 */
import fs from 'node:fs';
import type { WalkItem } from './fs-protocol';
import { toNative } from './paths';
import { stampChanged } from './scanner';
import type { Stamp } from './types';

/** A directory entry as lstat saw it (undefined: not on disk). */
export type Seen = Pick<WalkItem, 'type' | 'size' | 'mtimeMs' | 'mode' | 'ino'>;

/** A quiet tree's directories (a hub mirror, a node workspace) are swept this long after activity... */
export const SWEEP_TICK_MS = 500;
/** ...and this often anyway. */
export const SWEEP_IDLE_MS = 10_000;
/** Directories looked at at once by a sweep. */
const LSTAT_BATCH = 64;
/**
 * A hub mirror's sweeps start at least this far apart (`SweepPace` minGapMs): a node that
 * changes something ten times a second would otherwise have its mirror swept after each change
 * (the hub sweeps at once when a session goes quiet); it is swept by the next tick instead.
 */
export const SWEEP_MIN_GAP_MS = SWEEP_TICK_MS - 100;

/** An entry as lstat saw it; null for what is no file, directory or symlink (the scanner's to report). */
export function seenOf(st: fs.Stats): Seen | null {
  const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : null;
  return type ? { type, size: type === 'file' ? st.size : 0, mtimeMs: st.mtimeMs, mode: st.mode & 0o777, ino: st.ino } : null;
}

/**
 * Pure: a regular file on disk that shows its recorded stamp, i.e. a scan of it alone would find
 * nothing to do (scanner.ts stampChanged). Directories, symlinks, missing and unrecorded paths
 * never do: they are scanned.
 */
export function fileShowsRecord(seen: Seen | null | undefined, rec: Stamp | undefined, sameMode?: (diskMode: number, cachedMode: number) => boolean): boolean {
  return seen?.type === 'file' && rec !== undefined && !rec.deleted && rec.type === 'file' && !stampChanged({ path: '', target: '', ...seen }, rec, sameMode);
}

/**
 * Pure: the children of a directory whose entry on disk does not match the record (missing,
 * new, another type, another stamp). Symlinks are compared by identity (a new link is a new
 * inode); their targets are the scanner's business.
 */
export function differingChildren(onDisk: Map<string, Seen>, recorded: Map<string, Stamp>, sameMode?: (diskMode: number, cachedMode: number) => boolean): string[] {
  const out: string[] = [];
  for (const [p, seen] of onDisk) {
    const rec = recorded.get(p);
    const item: WalkItem = { path: p, target: rec?.target ?? '', ...seen };
    if (!rec || rec.deleted || (seen.type === 'symlink' ? rec.type !== 'symlink' || rec.ino !== seen.ino : stampChanged(item, rec, sameMode))) out.push(p);
  }
  for (const [p, rec] of recorded) if (!rec.deleted && !onDisk.has(p)) out.push(p);
  return out;
}

/**
 * When a sweep is due and what it settled, for hub mirrors and node workspaces alike: activity
 * (watcher batches, sync's own writes) is counted; a sweep runs after activity, or every
 * SWEEP_IDLE_MS anyway, one at a time, and settles the activity it started at only if nothing
 * happened while it ran.
 */
export class SweepPace {
  private activity = 0;
  private lastActivityAt = 0;
  private settledActivity = -1;
  private sweptAt = 0;
  private startedAt = -Infinity;
  private running = false;

  /** `minGapMs`: a sweep starts no sooner than this after the last one started. */
  constructor(private readonly now: () => number = Date.now, private readonly minGapMs = 0) {}

  touch(): void {
    this.activity++;
    this.lastActivityAt = this.now();
  }

  /** A sweep settled all activity so far. */
  get settled(): boolean {
    return this.settledActivity === this.activity;
  }

  /** Milliseconds since the last activity. */
  quietFor(): number {
    return this.now() - this.lastActivityAt;
  }

  /**
   * Runs `sweep` unless one is running, or nothing happened since the last one and it is recent,
   * or the last one started less than minGapMs ago. True if it ran.
   */
  async run(sweep: () => Promise<void>): Promise<boolean> {
    const now = this.now();
    if (this.running || (this.settled && now - this.sweptAt < SWEEP_IDLE_MS) || now - this.startedAt < this.minGapMs) return false;
    this.running = true;
    this.startedAt = now;
    const started = this.activity;
    try {
      await sweep();
      this.sweptAt = this.now();
      this.settledActivity = started;
      return true;
    } finally {
      this.running = false;
    }
  }
}

export class DirSweep {
  /** Directory (wire path, '' for the root) → its mtime at the last sweep. */
  private seen = new Map<string, number>();
  private based = false;
  /** Directories with an edit reported since the last sweep, and in the window before it. */
  private touchedNow = new Set<string>();
  private touchedBefore = new Set<string>();

  constructor(
    private readonly root: string,
    /** Names the caller never looks at (the node's state and staging directories). */
    private readonly ignore: (wirePath: string) => boolean = () => false,
  ) {}

  /**
   * Stats these directories; returns those whose mtime moved since the last sweep, and those
   * not seen before (made since, by sync itself perhaps: an edit inside may already be lost).
   * The first call only takes the baseline (returns nothing): make it right after a scan
   * recorded the tree. (Comparing every directory then would be a full scan: seconds on a big
   * mirror, which a restart must not wait for.)
   */
  async changedDirs(dirs: Iterable<string>): Promise<string[]> {
    const next = new Map<string, number>();
    const out: string[] = [];
    const list = [...dirs];
    // Many at once (one at a time, 1000 directories took a few hundred ms of a restart).
    for (let i = 0; i < list.length; i += LSTAT_BATCH) {
      const part = list.slice(i, i + LSTAT_BATCH);
      const stats = await Promise.all(part.map((d) => fs.promises.lstat(d === '' ? this.root : toNative(this.root, d)).catch(() => undefined)));
      part.forEach((d, j) => {
        const st = stats[j];
        if (!st?.isDirectory()) return;
        next.set(d, st.mtimeMs);
        if (this.seen.get(d) !== st.mtimeMs) out.push(d);
      });
    }
    this.seen = next;
    if (!this.based) {
      this.based = true;
      return [];
    }
    return out;
  }

  /**
   * Someone (not sync itself) edited this path: the watcher reported it. @parcel/watcher 2.6
   * hands a batch over by copying its list of events and then clearing it, under two separate
   * locks; an event its inotify thread adds in between is lost (seen: two of 160 in-place
   * edits made during a hub's start-up never reported, the mirror called in-sync). Such a loss
   * happens during a burst, and a burst is heard in its directories: their entries are compared
   * at the next two sweeps (the second in case the sweep ran in the middle of the burst).
   */
  touched(wirePath: string): void {
    const slash = wirePath.lastIndexOf('/');
    this.touchedNow.add(slash < 0 ? '' : wirePath.slice(0, slash));
  }

  /**
   * The paths in the directories (of `dirs`) changed since the last call, or touched lately,
   * whose entries on disk differ from the record `recordedIn(dir)` returns (differingChildren).
   */
  async differing(dirs: Iterable<string>, recordedIn: (dir: string, onDisk: Map<string, Seen>) => Map<string, Stamp>, sameMode?: (diskMode: number, cachedMode: number) => boolean): Promise<string[]> {
    const out: string[] = [];
    const look = new Set([...this.touchedBefore, ...this.touchedNow]);
    this.touchedBefore = this.touchedNow;
    this.touchedNow = new Set();
    for (const dir of await this.changedDirs(dirs)) look.add(dir);
    for (const dir of look) {
      const onDisk = await this.children(dir);
      out.push(...differingChildren(onDisk, recordedIn(dir, onDisk), sameMode));
    }
    return out;
  }

  /**
   * Takes this baseline (directory → mtime, as a walk of the whole tree saw each one) in place
   * of the first call's look at every directory.
   */
  baseline(mtimes: Map<string, number>): void {
    this.seen = mtimes;
    this.based = true;
  }

  /** What is on disk directly in a directory, by wire path. */
  async children(dir: string): Promise<Map<string, Seen>> {
    const out = new Map<string, Seen>();
    const native = dir === '' ? this.root : toNative(this.root, dir);
    const names = await fs.promises.readdir(native).catch(() => [] as string[]);
    for (const name of names) {
      const p = dir === '' ? name : `${dir}/${name}`;
      if (this.ignore(p)) continue;
      const st = await fs.promises.lstat(`${native}/${name}`).catch(() => undefined);
      // Special files are the scanner's to report; names that are no wire path too.
      const seen = st && seenOf(st);
      if (seen) out.set(p, seen);
    }
    return out;
  }
}
