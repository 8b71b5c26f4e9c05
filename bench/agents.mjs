#!/usr/bin/env node
/**
 * Agent store benchmark: seeds BENCH_AGENT_INSTANCES (1M) instances through the product's own
 * AgentStore (100 nodes, 50 templates, 20 instances per session), then measures lookups by
 * node, session and template (the first page of 50, newest first, as the UI and CLI ask for
 * it) at random keys: p50/p99 over BENCH_AGENT_LOOKUPS (2000) each. Baseline in the same run:
 * the same queries on a copy of the database without the agent indices (fewer lookups: each is
 * a full scan), printed side by side. Also the insert rate.
 *
 * Env: BENCH_SCALE; BENCH_AGENT_INSTANCES (1,000,000); BENCH_AGENT_LOOKUPS (2000, not scaled);
 * BENCH_AGENT_BASELINE_LOOKUPS (30, not scaled).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { goal, main, param, productInfo, progress, rng, round } from './lib.mjs';

const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

await main('agents', async ({ workDir }) => {
  const n = param('BENCH_AGENT_INSTANCES', 1_000_000);
  const lookups = param('BENCH_AGENT_LOOKUPS', 2000, { scaled: false });
  const baselineLookups = param('BENCH_AGENT_BASELINE_LOOKUPS', 30, { scaled: false });
  const nodes = 100;
  const templates = 50;
  const perSession = 20;
  const params = { instances: n, nodes, templates, perSession, lookups, baselineLookups };

  const require = createRequire(path.join(productInfo().measured, 'package.json'));
  const { HubStore } = require('./dist/main/store/hub-store.js');
  const { AgentStore, listQuery } = require('./dist/main/store/agent-store.js');
  const Database = require('better-sqlite3');

  const file = path.join(workDir, 'hub.db');
  const hub = new HubStore(file);
  const agents = new AgentStore(hub.db);
  for (let i = 0; i < nodes; i++) hub.addNode(`node-${i}`, `node ${i}`, 'secret');
  const tpl = Array.from({ length: templates }, (_, i) => agents.createTemplate({ name: `template-${i}`, command: 'true', defaultConfig: { i } }).id);

  progress(`inserting ${n} instances`);
  const rand = rng(5);
  const t0 = performance.now();
  const BATCH = 10_000;
  for (let done = 0; done < n; done += BATCH) {
    hub.db.transaction(() => {
      for (let k = done; k < Math.min(n, done + BATCH); k++) {
        agents.createInstance({ templateId: tpl[k % templates], nodeId: `node-${Math.floor(rand() * nodes)}`, sessionId: `session-${Math.floor(k / perSession)}`, trigger: 'cron' });
      }
    })();
    if (done % 200_000 === 0) progress(`  ${done} inserted`);
  }
  const insertMs = performance.now() - t0;
  hub.db.exec('ANALYZE');

  const keys = {
    node: () => ({ nodeId: `node-${Math.floor(rand() * nodes)}` }),
    session: () => ({ sessionId: `session-${Math.floor(rand() * (n / perSession))}` }),
    template: () => ({ templateId: tpl[Math.floor(rand() * templates)] }),
  };
  const time = (count, run) => {
    const ms = [];
    for (let i = 0; i < count; i++) {
      const s = performance.now();
      const rows = run();
      ms.push(performance.now() - s);
      if (rows.length === 0 && i < 3) throw new Error('a lookup found nothing: the seed is wrong');
    }
    return { p50Ms: round(percentile(ms, 50), 3), p99Ms: round(percentile(ms, 99), 3), maxMs: round(Math.max(...ms), 3), lookups: count };
  };

  const indexed = {};
  for (const [k, key] of Object.entries(keys)) {
    progress(`indexed lookups by ${k}`);
    indexed[k] = time(lookups, () => agents.list({ ...key(), limit: 50 }));
  }
  hub.close();

  progress('copying the database without the agent indices (baseline)');
  const copyFile = path.join(workDir, 'unindexed.db');
  const src = new Database(file);
  src.exec(`VACUUM INTO '${copyFile.replace(/'/g, "''")}'`);
  src.close();
  const copy = new Database(copyFile);
  for (const { name } of copy.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'agent_instances' AND sql IS NOT NULL").all()) copy.exec(`DROP INDEX ${name}`);
  copy.exec('ANALYZE');
  const unindexed = {};
  for (const [k, key] of Object.entries(keys)) {
    progress(`unindexed lookups by ${k}`);
    unindexed[k] = time(baselineLookups, () => {
      const { sql, args } = listQuery({ ...key(), limit: 50 });
      return copy.prepare(sql).all(...args);
    });
  }
  copy.close();

  const results = {
    insertPerS: Math.round(n / (insertMs / 1000)), insertMs: Math.round(insertMs),
    lookupP99Ms: Object.fromEntries(Object.entries(indexed).map(([k, v]) => [k, v.p99Ms])),
    unindexedP99Ms: Object.fromEntries(Object.entries(unindexed).map(([k, v]) => [k, v.p99Ms])),
  };
  const goals = Object.fromEntries(Object.entries(indexed).map(([k, v]) => [`lookupBy${k[0].toUpperCase()}${k.slice(1)}P99Ms`, goal('<= 1 ms', v.p99Ms, v.p99Ms <= 1)]));
  return { params, results, goals, indexed, unindexed };
});
