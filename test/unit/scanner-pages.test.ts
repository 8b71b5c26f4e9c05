/**
 * A scan in pages (ScanOptions.pages) on a real tree and real hashing workers: a new tree is
 * handed over page by page while the rest is still being hashed, directories first, with a turn
 * of the event loop after each page; a scan that deletes anything hands everything over at
 * its end.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FsPool } from '../../main/sync/fs-pool';
import { HASH_IN_FLIGHT, PAGES_AHEAD, scan } from '../../main/sync/scanner';
import type { CachedEntry } from '../../main/sync/types';
import { cachedEntry, tempDirs } from '../helpers/entries';

const tmp = tempDirs('scan-pages');
const pool = new FsPool(1);
afterAll(() => pool.close());

function tree(files: number): string {
  const root = tmp();
  for (let d = 0; d < 4; d++) fs.mkdirSync(path.join(root, `d${d}`));
  for (let i = 0; i < files; i++) fs.writeFileSync(path.join(root, `d${i % 4}`, `f${i}.txt`), `file ${i}\n`);
  return root;
}

describe('scan in pages', () => {
  it('hands a new tree over page by page before the rest is hashed, directories first, the event loop running between pages', async () => {
    const root = tree(1000);
    const events: string[] = [];
    const pages: CachedEntry[][] = [];
    let firstFiles!: () => void;
    const firstFilesTaken = new Promise<void>((r) => { firstFiles = r; });
    // The workers' last hashing batch is held until a page of files was taken: a scan that
    // handed nothing over before it had hashed everything would never finish.
    let batches = 0;
    const gated = {
      walk: pool.walk.bind(pool),
      hash: pool.hash.bind(pool),
      hashMany: async (files: string[], blockSize: number) => {
        if (++batches === 4) await firstFilesTaken;
        return pool.hashMany(files, blockSize);
      },
    } as unknown as FsPool;
    const res = await scan({
      root, pool: gated, cached: () => undefined, knownUnder: () => [],
      pages: {
        take: (page) => {
          pages.push(page);
          events.push(`page ${page.length}`);
          setImmediate(() => events.push('turn'));
          if (page.some((e) => e.type === 'file')) firstFiles();
        },
      },
    });
    expect(batches).toBe(4);
    expect(res.updated).toEqual([]);
    expect(pages[0]!.map((e) => e.path).sort()).toEqual(['d0', 'd1', 'd2', 'd3']);
    expect(pages.slice(1).every((p) => p.length > 0 && p.length <= 256 && p.every((e) => e.type === 'file'))).toBe(true);
    expect(pages.flat().length).toBe(1004);
    // A turn of the event loop after every page.
    expect(events).toEqual(pages.flatMap((p) => [`page ${p.length}`, 'turn']));
  }, 20_000);

  it('does not hash far ahead of pages still waiting to be taken (what waits in pages stays bounded)', async () => {
    const root = tree(256 * 24);
    let batches = 0;
    const counting = {
      walk: pool.walk.bind(pool),
      hash: pool.hash.bind(pool),
      hashMany: (files: string[], blockSize: number) => { batches++; return pool.hashMany(files, blockSize); },
    } as unknown as FsPool;
    /** Hashing batches started when each page was taken, against the pages taken before it. */
    const ahead: number[] = [];
    let taken = 0;
    const res = await scan({
      root, pool: counting, cached: () => undefined, knownUnder: () => [],
      // A slow taker (the hub records each page in a transaction and queues it for the node).
      pages: { take: async () => { ahead.push(batches - taken); await new Promise((r) => setTimeout(r, 15)); taken++; } },
    });
    expect(res.updated).toEqual([]);
    expect(batches).toBe(24);
    // A batch of 256 files makes about one page: at most PAGES_AHEAD pages wait, and the batches
    // in flight (each checked before it starts) add one page each.
    expect(Math.max(...ahead)).toBeLessThanOrEqual(PAGES_AHEAD + HASH_IN_FLIGHT + 2);
  }, 30_000);

  it('hands everything over at the end when something known is gone (deletions go first)', async () => {
    const root = tree(300);
    const gone = cachedEntry('d0/old.txt');
    const taken: CachedEntry[][] = [];
    const res = await scan({
      root, pool, cached: (p) => (p === gone.path ? gone : undefined), knownUnder: () => [gone.path],
      pages: { take: (page) => { taken.push(page); } },
    });
    expect(taken).toEqual([]);
    expect(res.deleted).toEqual(['d0/old.txt']);
    expect(res.updated.length).toBe(304);
  });

  it('walks a subtree one directory under it per worker task, and finds each entry once', async () => {
    const root = tree(40);
    fs.mkdirSync(path.join(root, 'sub'));
    for (const d of ['d0', 'd1', 'd2', 'd3']) fs.renameSync(path.join(root, d), path.join(root, 'sub', d));
    fs.writeFileSync(path.join(root, 'sub', 'top.txt'), 'top');
    const walks: string[] = [];
    const counting = {
      walk: (r: string, subtree: string, shallow?: boolean, exactCase?: boolean) => { walks.push(subtree); return pool.walk(r, subtree, shallow, exactCase); },
      hash: pool.hash.bind(pool),
      hashMany: pool.hashMany.bind(pool),
    } as unknown as FsPool;
    const res = await scan({ root, pool: counting, subtree: 'sub', cached: () => undefined, knownUnder: () => [] });
    expect(walks.sort()).toEqual(['sub', 'sub/d0', 'sub/d1', 'sub/d2', 'sub/d3']);
    const paths = res.updated.map((e) => e.path);
    expect(paths.length).toBe(new Set(paths).size);
    expect(paths.length).toBe(1 + 4 + 40 + 1);
    expect(paths).toContain('sub');
    expect(paths).toContain('sub/top.txt');
    expect(res.walked).toBe(46);
  });
});
