/**
 * The hub's scan of hub-side changes on a real mirror, a real hub database and real hashing
 * workers (the node's session is a stand-in that counts what it is told): a new tree is
 * recorded and queued for the node page by page, not once it is all hashed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Mirror } from '../../main/hub/mirror';
import type { NodeSession } from '../../main/hub/session';
import { HubStore } from '../../main/store/hub-store';
import { FsPool } from '../../main/sync/fs-pool';
import { createLogger } from '../../main/util/log';
import { tempDirs } from '../helpers/entries';
import { waitFor } from '../helpers/procs';

const tmp = tempDirs('mirror-scan');
const pool = new FsPool(1);
afterAll(() => pool.close());

describe('Mirror scan', () => {
  it('queues a new tree for the node page by page as it is hashed, directories before their files', async () => {
    const base = tmp();
    const root = path.join(base, 'mirror');
    for (let d = 0; d < 5; d++) fs.mkdirSync(path.join(root, 'new', `d${d}`), { recursive: true });
    for (let i = 0; i < 1200; i++) fs.writeFileSync(path.join(root, 'new', `d${i % 5}`, `f${i}.txt`), `file ${i}\n`);
    const store = new HubStore(path.join(base, 'hub.db'));
    store.addNode('n', 'n', 'x');
    /** How many changes were queued each time the session was told. */
    const queuedAt: number[] = [];
    const session = {
      applying: () => false,
      unflushed: () => undefined,
      hubChangesQueued: () => { queuedAt.push(store.hubChanges.after('n', 0, 1_000_000).length); },
    } as unknown as NodeSession;
    const mirror = new Mirror({
      id: 'n', root, staging: path.join(base, 'staging'), store, pool, log: createLogger('hub', { consoleLevel: false }),
      session: () => session, changed: () => undefined, closed: () => false, modes: () => 'private', swept: () => undefined,
    });
    await mirror.scan(['new']);
    const queued = store.hubChanges.after('n', 0, 1_000_000).map((c) => c.path);
    expect(queued.length).toBe(1 + 5 + 1200);
    // Told once per page: the first files were queued long before the last were hashed.
    expect(queuedAt.length).toBeGreaterThanOrEqual(5);
    expect(queuedAt.at(-1)).toBe(queued.length);
    expect(queuedAt.every((n, i) => i === 0 || n > queuedAt[i - 1]!)).toBe(true);
    expect(queued.slice(0, 6)).toEqual(['new', 'new/d0', 'new/d1', 'new/d2', 'new/d3', 'new/d4']);
    expect(store.index.totals('n').files).toBe(1200);
    store.close();
  }, 30_000);

  it('records a renamed tree (deletions among the changes) in pages of transactions, in the order the node applies them', async () => {
    const base = tmp();
    const root = path.join(base, 'mirror');
    fs.mkdirSync(path.join(root, 'old'), { recursive: true });
    for (let i = 0; i < 2100; i++) fs.writeFileSync(path.join(root, 'old', `f${i}.txt`), `file ${i}\n`);
    const store = new HubStore(path.join(base, 'hub.db'));
    store.addNode('n', 'n', 'x');
    let told = 0;
    const session = { applying: () => false, unflushed: () => undefined, hubChangesQueued: () => { told++; } } as unknown as NodeSession;
    const mirror = new Mirror({
      id: 'n', root, staging: path.join(base, 'staging'), store, pool, log: createLogger('hub', { consoleLevel: false }),
      session: () => session, changed: () => undefined, closed: () => false, modes: () => 'private', swept: () => undefined,
    });
    await mirror.scan(['old']);
    store.hubChanges.ack('n', store.node('n')!.hubSeq);
    told = 0;
    fs.renameSync(path.join(root, 'old'), path.join(root, 'new'));
    await mirror.scan(['old', 'new']);
    const queued = store.hubChanges.after('n', 0, 1_000_000).map((c) => c.path);
    expect(queued.length).toBe(2 * 2101);
    // Transactions of 64 changes, the session told before each turn given to the event loop
    // (every few ms) and at the end: at least once, never more than once per transaction.
    expect(told).toBeGreaterThanOrEqual(1);
    expect(told).toBeLessThanOrEqual(Math.ceil((2 * 2101) / 64));
    // Creations parents first, then deletions children first.
    expect(queued[0]).toBe('new');
    expect(queued.slice(1, 2101).every((p) => p.startsWith('new/'))).toBe(true);
    expect(queued.slice(2101, 4201).every((p) => p.startsWith('old/'))).toBe(true);
    expect(queued.at(-1)).toBe('old');
    expect(store.index.pathsUnder('n', 'old')).toEqual([]);
    expect(store.index.totals('n').files).toBe(2100);
    store.close();
  }, 60_000);

  it('scans a directory once when an agent writes many files into it, not each file on its own', async () => {
    const base = tmp();
    const root = path.join(base, 'mirror');
    fs.mkdirSync(path.join(root, 'out'), { recursive: true });
    const store = new HubStore(path.join(base, 'hub.db'));
    store.addNode('n', 'n', 'x');
    const walks: string[] = [];
    const counting = {
      walk: (r: string, subtree: string, shallow?: boolean, exactCase?: boolean) => { walks.push(subtree); return pool.walk(r, subtree, shallow, exactCase); },
      hash: pool.hash.bind(pool),
      hashMany: pool.hashMany.bind(pool),
    } as unknown as FsPool;
    const session = { applying: () => false, unflushed: () => undefined, hubChangesQueued: () => undefined, mirrorTouched: () => undefined } as unknown as NodeSession;
    const mirror = new Mirror({
      id: 'n', root, staging: path.join(base, 'staging'), store, pool: counting, log: createLogger('hub', { consoleLevel: false }),
      session: () => session, changed: () => undefined, closed: () => false, modes: () => 'private', swept: () => undefined,
    });
    await mirror.scan(['out']);
    await mirror.startWatching();
    try {
      walks.length = 0;
      for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(root, 'out', `f${i}.txt`), `agent output ${i}\n`);
      await waitFor('the 100 files queued for the node', () => store.hubChanges.after('n', 0, 1000).filter((c) => c.path.startsWith('out/')).length === 100, 30_000, 20);
      // The directory is walked for the events of a debounce window that hold 32 or more of
      // its files (a window with fewer, e.g. a late tail, still looks at each on its own).
      expect(walks).toContain('out');
      expect(walks.filter((w) => w.startsWith('out/')).length).toBeLessThan(100);
    } finally {
      await mirror.stopWatching();
      store.close();
    }
  }, 60_000);
});
