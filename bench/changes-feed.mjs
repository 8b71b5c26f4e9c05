#!/usr/bin/env node
/**
 * Change-log benchmark: seeds BENCH_CHANGE_ROWS (1M) rows through the product's own ChangeLog
 * (100 nodes, 2,000 paths each in 100 directories; 90 % versions, the rest deliveries,
 * deletions, conflicts, refusals and failures), then measures the first page (100 rows, newest
 * first, as `changes.list` answers it, names and sentences included) for each filter at random
 * keys: p50/p99 over BENCH_CHANGE_LOOKUPS (2000) each; and a second page (keyset, `before`), and
 * a path's timeline. Also the rate of appending rows inside one transaction (what a flush pays).
 *
 * Env: BENCH_SCALE; BENCH_CHANGE_ROWS (1,000,000); BENCH_CHANGE_LOOKUPS (2000, not scaled).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { goal, main, param, productInfo, progress, rng, round } from './lib.mjs';

const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

await main('changes-feed', async ({ workDir }) => {
  const n = param('BENCH_CHANGE_ROWS', 1_000_000);
  const lookups = param('BENCH_CHANGE_LOOKUPS', 2000, { scaled: false });
  const nodes = 100;
  const dirs = 100;
  // 20 paths a directory at 1M rows (2,000 a node: each path has ~5 rows); fewer at a smaller scale.
  const perDir = Math.max(1, Math.round((20 * n) / 1_000_000));
  const params = { rows: n, nodes, pathsPerNode: dirs * perDir, lookups, pageSize: 100 };

  const require = createRequire(path.join(productInfo().measured, 'package.json'));
  const { HubStore } = require('./dist/main/store/hub-store.js');
  const { ChangeDesk } = require('./dist/main/hub/changes.js');

  const hub = new HubStore(path.join(workDir, 'hub.db'));
  for (let i = 0; i < nodes; i++) hub.addNode(`node-${i}`, `node ${i}`, 'secret');
  const rand = rng(7);
  const pick = (k) => Math.floor(rand() * k);
  const pathOf = (d, f) => `src/dir${d}/file${f}.ts`;
  const actionOf = (r) => (r < 0.9 ? 'put' : r < 0.95 ? 'delivered' : r < 0.98 ? 'delete' : r < 0.99 ? 'conflict' : r < 0.995 ? 'refused' : 'failed');

  progress(`appending ${n} rows`);
  const hash = Buffer.alloc(32, 0xab);
  const t0 = performance.now();
  const BATCH = 512; // a flush's size (FLUSH_BATCH in session-flush.ts)
  const start = Date.now() - n;
  for (let done = 0; done < n; done += BATCH) {
    const rows = [];
    for (let k = done; k < Math.min(n, done + BATCH); k++) {
      const action = actionOf(rand());
      rows.push({
        nodeId: `node-${pick(nodes)}`, path: pathOf(pick(dirs), pick(perDir)), direction: action === 'delivered' || rand() < 0.2 ? 'to-node' : 'to-hub', action,
        size: action === 'put' ? 1000 : null, hash: action === 'put' ? hash : null, seq: k, code: action === 'failed' || action === 'refused' ? 'EACCES' : null, detail: null,
      });
    }
    hub.db.transaction(() => hub.changes.add(rows, start + done))();
    if (done % 200_192 === 0) progress(`  ${done} appended`);
  }
  const insertMs = performance.now() - t0;

  const desk = new ChangeDesk({ store: hub, log: null, mode: 'admin', runtimes: null, mirrorOf: () => '', retentionDays: () => 3650 });
  const filters = {
    all: () => ({}),
    node: () => ({ nodeId: `node-${pick(nodes)}` }),
    nodePath: () => ({ nodeId: `node-${pick(nodes)}`, path: pathOf(pick(dirs), pick(perDir)) }),
    path: () => ({ path: pathOf(pick(dirs), pick(perDir)) }),
    nodeUnder: () => ({ nodeId: `node-${pick(nodes)}`, path: `src/dir${pick(dirs)}`, prefix: true }),
    under: () => ({ path: `src/dir${pick(dirs)}`, prefix: true }),
    conflicts: () => ({ kind: 'conflict' }),
    nodeFailures: () => ({ nodeId: `node-${pick(nodes)}`, kind: 'failure' }),
    direction: () => ({ direction: 'to-node' }),
  };
  const time = (count, run) => {
    const ms = [];
    let empty = 0;
    for (let i = 0; i < count; i++) {
      const s = performance.now();
      const page = run();
      ms.push(performance.now() - s);
      if (page.length === 0) empty++;
    }
    if (empty > count / 2) throw new Error('most lookups found nothing: the seed is wrong');
    return { p50Ms: round(percentile(ms, 50), 3), p99Ms: round(percentile(ms, 99), 3), maxMs: round(Math.max(...ms), 3), lookups: count };
  };

  const firstPage = {};
  for (const [k, f] of Object.entries(filters)) {
    progress(`first page by ${k}`);
    firstPage[k] = time(lookups, () => desk.list({ ...f(), limit: 100 }).items);
  }
  progress('second pages (keyset)');
  const secondPage = time(lookups, () => {
    const f = filters.node();
    const first = desk.list({ ...f, limit: 100 });
    return first.next === null ? [] : desk.list({ ...f, before: first.next, limit: 100 }).items;
  });
  progress('timelines');
  const timeline = time(lookups, () => hub.changes.history(`node-${pick(nodes)}`, pathOf(pick(dirs), pick(perDir)), 500));
  progress('a trim of 5,000 rows');
  const tt = performance.now();
  const trimmed = hub.changes.trim(Date.now(), n - 5000, 5000);
  const trimMs = performance.now() - tt;
  hub.close();

  const worst = Math.max(...Object.values(firstPage).map((v) => v.p99Ms));
  const results = {
    appendPerS: Math.round(n / (insertMs / 1000)), appendUsPerRow: round((insertMs * 1000) / n, 2), insertMs: Math.round(insertMs),
    firstPageP99Ms: Object.fromEntries(Object.entries(firstPage).map(([k, v]) => [k, v.p99Ms])),
    secondPageP99Ms: secondPage.p99Ms, timelineP99Ms: timeline.p99Ms, trim: { rows: trimmed, ms: round(trimMs, 1) },
  };
  const goals = { firstPageP99Ms: goal('<= 10 ms (every filter)', worst, worst <= 10) };
  return { params, results, goals, firstPage, secondPage, timeline };
});
