/** Mirror watchers started before the hub loads (hub/early-watch.ts), taken over by the mirrors. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type watcher from '@parcel/watcher';
import { dropEarlyWatches, subscribeMirror, watchEarly } from '../../main/hub/early-watch';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-early-watch-'));
  dirs.push(d);
  return fs.realpathSync(d);
};
afterEach(() => {
  dropEarlyWatches();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Paths (relative to root) the callback was given, as they come. */
function collector(root: string) {
  const seen: string[] = [];
  const cb: watcher.SubscribeCallback = (err, events) => {
    if (err) throw err;
    for (const e of events) seen.push(path.relative(root, e.path));
  };
  return { seen, cb };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (const t0 = Date.now(); !cond();) {
    if (Date.now() - t0 > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('early mirror watchers', () => {
  it('hand what they saw before the takeover to the mirror, then keep reporting to it', async () => {
    const root = tmp();
    fs.mkdirSync(path.join(root, 'd'));
    watchEarly([root]);
    const started = Date.now();
    // Edits before anyone takes the watcher over (a few, the first perhaps before it watches).
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 100));
      fs.writeFileSync(path.join(root, 'd', `before-${i}.txt`), 'x');
    }
    await new Promise((r) => setTimeout(r, 300));
    const { seen, cb } = collector(root);
    const { sub, startedAt } = await subscribeMirror(root, cb);
    // Its look at the tree began when it was started early, not at the takeover.
    expect(startedAt).toBeLessThanOrEqual(started);
    await until('an event from before the takeover', () => seen.some((p) => p.startsWith('d/before-')));
    fs.writeFileSync(path.join(root, 'd', 'after.txt'), 'y');
    await until('the event from after the takeover', () => seen.includes('d/after.txt'));
    await sub.unsubscribe();
  });

  it('subscribe anew where no early watcher runs (or once it was taken)', async () => {
    const root = tmp();
    const first = collector(root);
    const a = await subscribeMirror(root, first.cb);
    fs.writeFileSync(path.join(root, 'f.txt'), 'x');
    await until('the event', () => first.seen.includes('f.txt'));
    await a.sub.unsubscribe();
  });

  it('end when dropped: a mirror not taken over is not watched on', async () => {
    const root = tmp();
    watchEarly([root]);
    await new Promise((r) => setTimeout(r, 200));
    dropEarlyWatches();
    // Taken after the drop: a fresh subscription (its look at the tree starts now).
    const t1 = Date.now();
    const { seen, cb } = collector(root);
    const { sub, startedAt } = await subscribeMirror(root, cb);
    expect(startedAt).toBeGreaterThanOrEqual(t1);
    fs.writeFileSync(path.join(root, 'g.txt'), 'x');
    await until('the event', () => seen.includes('g.txt'));
    await sub.unsubscribe();
  });
});
