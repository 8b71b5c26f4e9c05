/**
 * The search index under random work, seeded: paths recorded, re-recorded, deleted (one by one
 * and whole folders) on several nodes, mirrors forgotten, the indexer's steps and merge steps
 * in between, in any order. After each round, every query (random pieces of live and dead
 * paths, with and without a node filter, paged to the end) finds exactly what a plain
 * substring scan of the live paths finds, and FTS5's own integrity check passes.
 */
import path from 'node:path';
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { HubStore } from '../../main/store/hub-store';
import { rng } from '../helpers/procs';
import { cachedEntry, tempDirs } from '../helpers/entries';

const tmp = tempDirs('search-random');
const NODES = ['n1', 'n2', 'n3', 'n11'];
const WORDS = ['src', 'Main', 'report', 'ÄÖÜ', 'x"y', 'a*b', '日本語', 'test', 'q q'];

function allHits(s: HubStore, q: string, nodeId?: string): string[] {
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = s.search.find(q, { limit: 7, cursor, ...(nodeId ? { nodeId } : {}) });
    seen.push(...page.hits.map((h) => `${h.nodeId}:${h.path}`));
    if (!page.next) return seen.sort();
    cursor = page.next;
  }
  throw new Error(`no end to the pages of ${q}`);
}

describe.each([1, 2, 3, 4, 5])('random work on the search index, seed %i', (seed) => {
  it('finds what a scan of the live paths finds, and the index stays sound', () => {
    const rand = rng(seed * 7919);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
    const s = new HubStore(path.join(tmp(), 'hub.db'));
    for (const n of NODES) s.addNode(n, n, 'x');
    const live = new Map<string, Set<string>>(NODES.map((n) => [n, new Set()]));
    const made: string[] = [];
    const newPath = () => {
      const p = `${pick(WORDS)}/${pick(WORDS)}-${Math.floor(rand() * 50)}/${pick(WORDS)}${Math.floor(rand() * 1000)}.${pick(['ts', 'md', 'TS'])}`;
      made.push(p);
      return p;
    };
    for (let round = 0; round < 12; round++) {
      for (let op = 0; op < 40; op++) {
        const n = pick(NODES);
        const mine = live.get(n)!;
        const r = rand();
        if (r < 0.45) {
          const ps = Array.from({ length: 1 + Math.floor(rand() * 20) }, newPath);
          s.index.putFiles(n, ps.map((p) => cachedEntry(p)));
          for (const p of ps) mine.add(p);
        } else if (r < 0.55 && mine.size) {
          const p = pick([...mine]);
          s.index.putFiles(n, [cachedEntry(p, { size: 77 })]);
        } else if (r < 0.75 && mine.size) {
          const p = pick([...mine]);
          s.index.deletePaths(n, [p]);
          mine.delete(p);
        } else if (r < 0.82 && mine.size) {
          const dir = pick([...mine]).split('/')[0]!;
          s.index.deletePaths(n, [dir]);
          for (const p of [...mine]) if (p.startsWith(`${dir}/`)) mine.delete(p);
        } else if (r < 0.84) {
          s.forgetMirror(n);
          mine.clear();
        } else if (r < 0.95) {
          s.search.catchUp(1 + Math.floor(rand() * 60));
        } else {
          s.search.mergeStep(1 + Math.floor(rand() * 4));
        }
      }
      const queries = Array.from({ length: 12 }, () => {
        const p = made.length ? pick(made) : 'src/x';
        const start = Math.floor(rand() * p.length);
        return p.slice(start, start + 3 + Math.floor(rand() * 8));
      }).filter((q) => [...q].length >= 3);
      for (const q of queries) {
        const want = (n: string) => [...live.get(n)!].filter((p) => p.toLowerCase().includes(q.toLowerCase())).map((p) => `${n}:${p}`);
        expect(allHits(s, q), `round ${round}: ${q}`).toEqual(NODES.flatMap(want).sort());
        const n = pick(NODES);
        expect(allHits(s, q, n), `round ${round}: ${q} on ${n}`).toEqual(want(n).sort());
      }
      const db = (s as unknown as { db: Database.Database }).db;
      expect(() => db.exec("INSERT INTO path_grams (path_grams, rank) VALUES ('integrity-check', 1)"), `round ${round}`).not.toThrow();
    }
    s.close();
  });
});
