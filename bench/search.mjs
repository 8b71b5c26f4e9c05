#!/usr/bin/env node
/**
 * Search across mirrors at scale: seeds BENCH_SEARCH_FILES (1M) paths over BENCH_SEARCH_NODES
 * (50) mirrors through the product's own store (MirrorIndex.putFiles, so the search index is
 * filled by the same triggers a sync runs), then measures the first page (50 hits) of
 * `search.paths`' query (PathSearch.find) for typical queries: a whole file name, the prefix of
 * one, a piece inside one, a folder component, a query with no match, one matching very many
 * paths (with and without a node filter), and a 2-character query (a name prefix): p50/p99 over
 * BENCH_SEARCH_LOOKUPS (300) each, at random keys. Baseline in the same run: the naive query
 * (`path LIKE '%q%'` over `files`, first page) for the same kinds, and the cost of recording a
 * new path with and without the search index (µs of CPU per path, a 50k-path batch each, on
 * two fresh databases of the same build), and of filling the trigram index afterwards (what the
 * hub's indexer does when idle: `indexLaterUsPerPath`, `indexPathsPerS`). The lookups run on
 * the filled index, merged into one b-tree as the indexer does once enough was added
 * (`mergeMs`); the time of each of the indexer's steps, which block the hub's event loop while
 * they run, is in `indexSteps` and `mergeSteps`.
 *
 * Env: BENCH_SCALE; BENCH_SEARCH_FILES (1,000,000); BENCH_SEARCH_NODES (50, not scaled);
 * BENCH_SEARCH_LOOKUPS (300, not scaled); BENCH_SEARCH_BASELINE_LOOKUPS (10, not scaled).
 */
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { goal, main, param, percentile, productInfo, progress, rng, round } from './lib.mjs';

const WORDS = ['widget', 'report', 'main', 'index', 'config', 'helper', 'model', 'view', 'test', 'data', 'parser', 'client', 'server', 'schema', 'utils', 'notes'];
const EXTS = ['ts', 'md', 'json', 'py', 'txt', 'tsx', 'css', 'go'];

/** The k-th path of a mirror: about 45 characters, in folders 3 deep, every name different. */
function pathOf(k) {
  return `project-${k % 7}/src/module-${k % 97}/part-${k % 13}/${WORDS[k % WORDS.length]}-${k}.${EXTS[k % EXTS.length]}`;
}

await main('search', async ({ workDir }) => {
  const n = param('BENCH_SEARCH_FILES', 1_000_000);
  const nodes = param('BENCH_SEARCH_NODES', 50, { scaled: false });
  const lookups = param('BENCH_SEARCH_LOOKUPS', 300, { scaled: false });
  const baselineLookups = param('BENCH_SEARCH_BASELINE_LOOKUPS', 10, { scaled: false });
  const params = { files: n, nodes, lookups, baselineLookups, pageSize: 50 };

  const require = createRequire(path.join(productInfo().measured, 'package.json'));
  const { HubStore } = require('./dist/main/store/hub-store.js');
  const Database = require('better-sqlite3');

  const entry = (p) => ({ path: p, type: 'file', size: 1000 + (p.length * 37) % 5000, mtimeMs: 1_700_000_000_000, mode: 0o644, ino: 7, hash: Buffer.alloc(32, 3), blockSize: 131072, blocks: Buffer.alloc(32, 4), target: '', seq: 1, deleted: false });

  // What recording a new path costs with the index and without (its triggers dropped), same build.
  const recordCost = {};
  for (const withIndex of [true, false]) {
    const file = path.join(workDir, `record-${withIndex}.db`);
    const s = new HubStore(file);
    if (!withIndex) s.db.exec('DROP TRIGGER files_named; DROP TRIGGER files_unnamed');
    s.addNode('n', 'n', 'secret');
    const count = 50_000;
    const c0 = process.cpuUsage();
    for (let k = 0; k < count; k += 64) s.index.putFiles('n', Array.from({ length: Math.min(64, count - k) }, (_, j) => entry(pathOf(k + j))));
    const c = process.cpuUsage(c0);
    recordCost[withIndex ? 'withIndexUsPerPath' : 'withoutIndexUsPerPath'] = round((c.user + c.system) / count, 1);
    if (withIndex) {
      // The trigram index is filled later, by the hub's indexer when idle (hub/search-indexer.ts): its cost apart.
      const i0 = process.cpuUsage();
      while (s.search.catchUp(500).more);
      const ic = process.cpuUsage(i0);
      recordCost.indexLaterUsPerPath = round((ic.user + ic.system) / count, 1);
    }
    s.close();
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${file}${suffix}`, { force: true });
  }

  const file = path.join(workDir, 'hub.db');
  const hub = new HubStore(file);
  for (let i = 0; i < nodes; i++) hub.addNode(`node-${i}`, `node ${i}`, 'secret');
  progress(`recording ${n} paths over ${nodes} mirrors`);
  const perNode = Math.ceil(n / nodes);
  const t0 = performance.now();
  const BATCH = 2000;
  for (let i = 0; i < nodes; i++) {
    for (let k = 0; k < perNode && i * perNode + k < n; k += BATCH) {
      hub.index.putFiles(`node-${i}`, Array.from({ length: Math.min(BATCH, perNode - k, n - i * perNode - k) }, (_, j) => entry(pathOf(k + j))));
    }
    if (i % 10 === 0) progress(`  ${i} of ${nodes} mirrors recorded`);
  }
  const seedMs = performance.now() - t0;
  progress('filling the trigram index, then merging it (what the hub\'s indexer does when idle)');
  const { INDEX_STEP, MERGE_STEP_PAGES } = require('./dist/main/hub/search-indexer.js');
  // Each step blocks the hub's event loop while it runs: its time, p50 and max, for the lag goal.
  const steps = (step) => {
    const ms = [];
    const c0 = process.cpuUsage();
    for (;;) {
      const s0 = performance.now();
      const more = step();
      ms.push(performance.now() - s0);
      if (!more) break;
    }
    const c = process.cpuUsage(c0);
    return { ms: ms.reduce((a, b) => a + b, 0), cpuMs: (c.user + c.system) / 1000, steps: ms.length, stepP50Ms: round(percentile(ms, 50), 1), stepP99Ms: round(percentile(ms, 99), 1), stepMaxMs: round(Math.max(...ms), 1), stepsOver20Ms: ms.filter((t) => t > 20).length };
  };
  const filled = steps(() => hub.search.catchUp(INDEX_STEP).more);
  const indexMs = filled.ms;
  const merged = steps(() => hub.search.mergeStep(MERGE_STEP_PAGES).more);
  hub.db.exec('ANALYZE');
  const dbBytes = ['', '-wal'].reduce((sum, s) => sum + (fs.existsSync(file + s) ? fs.statSync(file + s).size : 0), 0);

  const rand = rng(11);
  const someK = () => Math.floor(rand() * perNode);
  const nameOf = (k) => pathOf(k).split('/').pop();
  // Each kind: how to make a query, and the least hits its first page must have (the seed is wrong otherwise).
  const kinds = {
    fullName: { q: () => nameOf(someK()), min: 1 },
    namePrefix: { q: () => nameOf(someK()).slice(0, -4), min: 1 },
    inName: { q: () => { const s = nameOf(someK()); return s.slice(2, -2); }, min: 1 },
    folder: { q: () => `module-${Math.floor(rand() * 97)}/part-`, min: 50 },
    noMatch: { q: () => `zq-${Math.floor(rand() * 1e9)}-none`, min: 0, none: true },
    veryMany: { q: () => `src/module-`, min: 50 },
    // A page checks at most CANDIDATES_MAX candidates (search-query.ts): a node whose paths come
    // late in the index gets a short (even empty) first page and a cursor; meanHits says how many.
    veryManyOneNode: { q: () => `src/module-`, node: () => `node-${Math.floor(rand() * nodes)}`, min: 0 },
    twoChars: { q: () => `${WORDS[Math.floor(rand() * WORDS.length)].slice(0, 2)}`, min: 50 },
  };
  const time = (count, kind, run) => {
    const ms = [];
    let hits = 0;
    for (let i = 0; i < count; i++) {
      const q = kind.q();
      const node = kind.node?.();
      const s = performance.now();
      const rows = run(q, node);
      ms.push(performance.now() - s);
      hits += rows;
      if (rows < Math.min(kind.min, 50)) throw new Error(`query ${JSON.stringify(q)} found ${rows}: the seed is wrong`);
      if (kind.none && rows > 0) throw new Error(`query ${JSON.stringify(q)} found ${rows}, expected none`);
    }
    return { p50Ms: round(percentile(ms, 50), 3), p99Ms: round(percentile(ms, 99), 3), maxMs: round(Math.max(...ms), 3), lookups: count, meanHits: round(hits / count, 1) };
  };

  const indexed = {};
  for (const [name, kind] of Object.entries(kinds)) {
    progress(`search.paths, first page: ${name}`);
    indexed[name] = time(lookups, kind, (q, nodeId) => hub.search.find(q, { limit: 50, ...(nodeId ? { nodeId } : {}) }).hits.length);
  }
  // The naive query: a scan of files for the substring (LIKE, ASCII case folded), first page.
  const naive = hub.db.prepare("SELECT node_id, path, type, size, mtime_ms FROM files WHERE path LIKE ? ESCAPE '\\' AND (? IS NULL OR node_id = ?) LIMIT 51");
  const like = (q) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const baseline = {};
  for (const [name, kind] of Object.entries(kinds)) {
    if (name === 'twoChars') continue;
    progress(`naive LIKE scan, first page: ${name}`);
    baseline[name] = time(baselineLookups, kind, (q, nodeId) => naive.all(like(q), nodeId ?? null, nodeId ?? null).length);
  }
  hub.close();

  const worstP99 = Math.max(...Object.values(indexed).map((v) => v.p99Ms));
  const results = {
    seedMs: Math.round(seedMs), seedPathsPerS: Math.round(n / (seedMs / 1000)), indexMs: Math.round(indexMs), indexPathsPerS: Math.round(n / (indexMs / 1000)),
    indexCpuUsPerPath: round((filled.cpuMs * 1000) / n, 1), indexSteps: { ...filled, ms: undefined, cpuMs: undefined },
    mergeMs: Math.round(merged.ms), mergeCpuMs: Math.round(merged.cpuMs), mergeSteps: { ...merged, ms: undefined, cpuMs: undefined }, dbMiB: round(dbBytes / 2 ** 20, 1), ...recordCost,
    recordCostUsPerPath: round(recordCost.withIndexUsPerPath - recordCost.withoutIndexUsPerPath, 1),
    firstPageP99Ms: Object.fromEntries(Object.entries(indexed).map(([k, v]) => [k, v.p99Ms])),
    naiveFirstPageP99Ms: Object.fromEntries(Object.entries(baseline).map(([k, v]) => [k, v.p99Ms])),
    naiveOverIndexedP99: Object.fromEntries(Object.entries(baseline).map(([k, v]) => [k, round(v.p99Ms / Math.max(indexed[k].p99Ms, 0.001), 1)])),
  };
  const goals = { firstPageP99Ms: goal('<= 10 ms for every query kind', worstP99, worstP99 <= 10) };
  return { params, results, goals, indexed, naive: baseline };
});
