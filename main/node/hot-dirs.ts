/**
 * A quicker ear for the directories someone is writing in right now. @parcel/watcher holds
 * every batch of events back 50 ms whenever its previous batch came less than 500 ms before
 * (its native Debounce: MIN_WAIT_TIME 50, MAX_WAIT_TIME 500, not configurable): in a stretch
 * of edits, the largest fixed delay between a write on the node and the hub's mirror. A
 * directory in which the watcher reported an edit (not an echo of our own writes) gets a plain
 * fs.watch (inotify on Linux: no debounce) for a while; its events mark paths dirty at once.
 * It is only ever earlier, never instead: parcel's events still come and still count (the
 * second look at an unchanged path is a stat). Bounded: MAX_HOT directories at most, each
 * dropped HOT_MS after the watcher last reported an edit in it.
 */
import fs from 'node:fs';
import { toNative } from '../sync/paths';

/** Directories watched this way at once, at most (the least recently active goes first). */
const MAX_HOT = 64;
/** A directory stays watched this long after the last edit the watcher reported in it. */
const HOT_MS = 60_000;

export interface HotDirsDeps {
  root: string;
  /** Something changed at this path (a wire path; a directory's own path when the name is unknown). */
  changed(wirePath: string): void;
  /** This path is an echo of a write of ours (the workspace watcher deals with it). */
  echo(wirePath: string): boolean;
}

export class HotDirs {
  /** Wire path of a directory → its watcher and when an edit was last reported in it; oldest first. */
  private readonly hot = new Map<string, { watcher: fs.FSWatcher; at: number }>();
  private closed = false;

  constructor(private readonly d: HotDirsDeps, private readonly limits = { max: MAX_HOT, ms: HOT_MS }) {}

  /** Directories watched now. */
  get watched(): string[] {
    return [...this.hot.keys()];
  }

  /** The workspace watcher reported an edit (not an echo) at this path: its directory is hot. */
  edited(wirePath: string, now = Date.now()): void {
    if (this.closed) return;
    const slash = wirePath.lastIndexOf('/');
    const dir = slash < 0 ? '' : wirePath.slice(0, slash);
    const known = this.hot.get(dir);
    if (known) {
      this.hot.delete(dir);
      known.at = now;
      this.hot.set(dir, known);
    } else {
      const watcher = this.watch(dir);
      if (watcher) this.hot.set(dir, { watcher, at: now });
    }
    for (const [d, h] of this.hot) {
      if (this.hot.size <= this.limits.max && now - h.at <= this.limits.ms) break;
      this.drop(d);
    }
  }

  close(): void {
    this.closed = true;
    for (const d of [...this.hot.keys()]) this.drop(d);
  }

  private watch(dir: string): fs.FSWatcher | null {
    try {
      const w = fs.watch(dir === '' ? this.d.root : toNative(this.d.root, dir), { persistent: false }, (_event, name) => {
        const p = name === null ? dir : dir === '' ? String(name) : `${dir}/${String(name)}`;
        if (!this.d.echo(p)) this.d.changed(p);
      });
      // Gone (the directory was removed or replaced): the workspace watcher still sees everything.
      w.on('error', () => this.drop(dir));
      return w;
    } catch {
      return null;
    }
  }

  private drop(dir: string): void {
    const h = this.hot.get(dir);
    if (!h) return;
    this.hot.delete(dir);
    h.watcher.close();
  }
}
