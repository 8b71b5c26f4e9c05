#!/usr/bin/env node
/**
 * Change-propagation latency: a file written on the node until the same bytes are visible in
 * the hub's mirror. BENCH_LATENCY_WRITES (200) writes at random gaps of 50..300 ms, each to one
 * of BENCH_LATENCY_TARGETS (20) files in nested directories of a workspace that also holds
 * BENCH_LATENCY_FILLER (1000) other files. The mirror is watched with fs.watch on the target
 * directories plus a poll every BENCH_POLL_MS (2) ms; a write counts as visible when the
 * mirror file's content equals what was written. Goal (issue 13): p50 <= 50 ms, p99 <= 250 ms.
 *
 * Env: BENCH_SCALE (scales the write count, at least 20), BENCH_LATENCY_WRITES,
 * BENCH_LATENCY_GAP_MIN_MS / _MAX_MS (50/300), BENCH_LATENCY_SIZE (bytes per write, 2048),
 * BENCH_LATENCY_ATOMIC (0: write in place; 1: write a temp file and rename it over),
 * BENCH_LATENCY_TIMEOUT_MS (10000 per write), BENCH_POLL_MS (2).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { flag, generateTree, goal, main, param, percentile, progress, rng, round, sleep, startPair, waitInSync } from './lib.mjs';

await main('latency', async ({ workDir }) => {
  const writes = param('BENCH_LATENCY_WRITES', 200, { min: 20 });
  const targets = param('BENCH_LATENCY_TARGETS', 20, { scaled: false });
  const filler = param('BENCH_LATENCY_FILLER', 1000, { scaled: false, min: 0 });
  const gapMin = param('BENCH_LATENCY_GAP_MIN_MS', 50, { scaled: false, min: 0 });
  const gapMax = param('BENCH_LATENCY_GAP_MAX_MS', 300, { scaled: false, min: gapMin });
  const size = param('BENCH_LATENCY_SIZE', 2048, { scaled: false, min: 16 });
  const timeoutMs = param('BENCH_LATENCY_TIMEOUT_MS', 10_000, { scaled: false });
  const pollMs = param('BENCH_POLL_MS', 2, { scaled: false, min: 0 });
  const atomic = flag('BENCH_LATENCY_ATOMIC', false);
  const params = { writes, targets, filler, gapMin, gapMax, size, timeoutMs, pollMs, atomic };

  const ws = path.join(workDir, 'workspace');
  if (filler > 0) generateTree(path.join(ws, 'filler'), { files: filler, seed: 41 });
  const rels = Array.from({ length: targets }, (_, i) => `hot/d${i % 4}/sub/t${i}.txt`);
  for (const r of rels) {
    fs.mkdirSync(path.dirname(path.join(ws, r)), { recursive: true });
    fs.writeFileSync(path.join(ws, r), `initial ${r}\n`);
  }
  progress('initial sync');
  const pair = await startPair(workDir, ws);
  const { hub, node, id } = pair;
  const mirror = hub.mirror(id);
  progress(`in-sync after ${pair.syncMs} ms; ${writes} writes follow`);

  // Wake-ups: fs.watch on every target's mirror directory, plus a timer.
  let wake = null;
  const poke = () => { const w = wake; wake = null; w?.(); };
  const watchers = [...new Set(rels.map((r) => path.dirname(path.join(mirror, r))))].map((d) => fs.watch(d, poke));

  const rand = rng(42);
  const samples = [];
  let timeouts = 0;
  try {
    for (let i = 0; i < writes; i++) {
      await sleep(gapMin + rand() * (gapMax - gapMin));
      const rel = rels[i % rels.length];
      const src = path.join(ws, rel);
      const dst = path.join(mirror, rel);
      const head = Buffer.from(`write ${i} ${rel} `);
      const content = Buffer.concat([head, crypto.randomBytes(Math.max(0, size - head.length))]);
      const t0 = performance.now();
      if (atomic) {
        const tmp = path.join(ws, `.tmp-${i}`);
        fs.writeFileSync(tmp, content);
        fs.renameSync(tmp, src);
      } else {
        fs.writeFileSync(src, content);
      }
      let seen = null;
      for (;;) {
        let cur = null;
        try { cur = fs.readFileSync(dst); } catch { /* between unlink and rename, or not there yet */ }
        const now = performance.now();
        if (cur && cur.equals(content)) { seen = now - t0; break; }
        if (now - t0 > timeoutMs) break;
        await new Promise((resolve) => {
          wake = resolve;
          setTimeout(poke, pollMs);
        });
      }
      if (seen === null) {
        timeouts++;
        samples.push(timeoutMs);
        progress(`write ${i}: not visible within ${timeoutMs} ms`);
      } else {
        samples.push(seen);
      }
      if ((i + 1) % 50 === 0) progress(`${i + 1}/${writes} writes; p50 so far ${round(percentile(samples, 50), 1)} ms`);
    }
  } finally {
    for (const w of watchers) w.close();
  }
  const final = await waitInSync(hub, id, { everyMs: 50, timeoutMs: 60_000, check: () => node.check() });
  await node.stop();
  await hub.stop();

  const p50 = round(percentile(samples, 50), 1);
  const p99 = round(percentile(samples, 99), 1);
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    params,
    initialSync: { ms: pair.syncMs },
    results: {
      writes: samples.length,
      timeouts,
      p50Ms: p50,
      p90Ms: round(percentile(samples, 90), 1),
      p99Ms: p99,
      minMs: round(sorted[0], 1),
      maxMs: round(sorted[sorted.length - 1], 1),
      meanMs: round(samples.reduce((a, b) => a + b, 0) / samples.length, 1),
      finalState: final.node.state,
    },
    goals: {
      p50Ms: goal('<= 50 ms', p50, p50 <= 50 && timeouts === 0),
      p99Ms: goal('<= 250 ms', p99, p99 <= 250 && timeouts === 0),
    },
  };
});
