/**
 * Mirror watchers started before the rest of the hub loads (`cortex-hub serve`,
 * cli/serve-early.ts), and taken over by the mirrors once they exist.
 *
 * The watcher's first look at a mirror crawls the whole tree on the watcher's own thread
 * (@parcel/watcher: an lstat of every entry, then one inotify watch per directory; ~0.3 s per
 * 100k files on a quiet machine, ~1 s under load), and the verification at start walks the
 * mirror only after it (mirror.ts verifyAtStart). Started first thing, the crawl runs while
 * the main thread loads the hub's modules (~0.15-0.5 s) instead of after.
 */
import fs from 'node:fs';
import path from 'node:path';
import watcher from '@parcel/watcher';
import { layout, readActiveMirrors } from './data-dir';

interface Early {
  startedAt: number;
  sub: Promise<watcher.AsyncSubscription>;
  /** What the watcher reported before a mirror took it over, in order. */
  held: { err: Error | null; events: watcher.Event[] }[];
  to: watcher.SubscribeCallback | null;
}

const early = new Map<string, Early>();

/** Starts watching the mirrors the last start of the hub on `dataDir` served (data-dir.ts writeActiveMirrors) now. */
export function watchMirrorsEarly(dataDir: string): void {
  const l = layout(dataDir);
  watchEarly(readActiveMirrors(l).map((id) => path.join(l.mirrors, id)).filter((r) => fs.existsSync(r)));
}

/** Starts watching these mirror roots now (each is taken over by subscribeMirror, or dropped). */
export function watchEarly(roots: Iterable<string>): void {
  for (const root of roots) {
    if (early.has(root)) continue;
    const e: Early = { startedAt: Date.now(), held: [], to: null, sub: Promise.resolve(null as never) };
    e.sub = watcher.subscribe(root, (err, events) => {
      if (e.to) e.to(err, events);
      else e.held.push({ err, events });
    });
    e.sub.catch(() => undefined); // (a failure is the taker's: it subscribes anew)
    early.set(root, e);
  }
}

/**
 * Watches `root` for `cb`: through its early watcher if there is one (what it reported so
 * far goes to `cb` first, at once), else a new subscription. `startedAt`: when the watcher's
 * first look at the tree began.
 */
export async function subscribeMirror(root: string, cb: watcher.SubscribeCallback): Promise<{ sub: watcher.AsyncSubscription; startedAt: number }> {
  const e = early.get(root);
  early.delete(root);
  if (e) {
    e.to = cb;
    for (const h of e.held.splice(0)) cb(h.err, h.events);
    try {
      return { sub: await e.sub, startedAt: e.startedAt };
    } catch {
      // The early watcher failed (the mirror made or replaced since?): subscribe anew.
    }
  }
  const startedAt = Date.now();
  return { sub: await watcher.subscribe(root, cb), startedAt };
}

/** Ends the early watchers no mirror took over (a node retired meanwhile, a mirror not served). */
export function dropEarlyWatches(): void {
  for (const [root, e] of early) {
    early.delete(root);
    void e.sub.then((s) => s.unsubscribe()).catch(() => undefined);
  }
}
