#!/usr/bin/env node
/**
 * Runs the benchmarks one after the other and prints one combined JSON document on stdout
 * (progress goes to stderr). Each benchmark runs as its own process against one snapshot of
 * the built product; their work dirs are deleted only after the last one (creating many files
 * right after deleting a big tree is slow on this disk), unless BENCH_KEEP=1.
 *
 *   npm run bench                                  # build, then everything at full size
 *   BENCH_SCALE=0.01 node bench/run-all.mjs        # a quick smoke run
 *   BENCH_ONLY=delta,latency node bench/run-all.mjs
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, buildRevision, environment, flag, productInfo, progress, removeTree, snapshotProduct } from './lib.mjs';

const ALL = ['restart', 'initial-sync', 'initial-sync-to-node', 'delta', 'latency', 'eventloop', 'ui-load', 'agents', 'changes-feed', 'search', 'ui-agents', 'durability', 'memory'];
const only = (process.env.BENCH_ONLY || ALL.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
for (const b of only) if (!ALL.includes(b)) throw new Error(`unknown benchmark ${b} in BENCH_ONLY (one of ${ALL.join(', ')})`);

const startedAt = new Date().toISOString();
let productDir = null;
let current = null;
const docs = {};

// On a signal: end the running benchmark (it deletes its own work dir), delete the finished
// ones' work dirs and the product snapshot, then exit. Replaces the handlers of lib/run.mjs.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.removeAllListeners(sig);
  process.on(sig, () => {
    progress(`${sig}: stopping`);
    const finish = () => {
      if (!flag('BENCH_KEEP', false)) {
        for (const d of Object.values(docs)) if (d.workDir) removeTree(d.workDir);
        if (productDir) removeTree(productDir);
      }
      process.exit(128 + (os.constants.signals[sig] ?? 1));
    };
    if (current && current.exitCode === null) {
      current.once('exit', finish);
      current.kill('SIGTERM');
    } else {
      finish();
    }
  });
}

if (!process.env.BENCH_PRODUCT_ROOT) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-bench-product-'));
  if (process.env.BENCH_GIT_REV) {
    progress(`building ${process.env.BENCH_GIT_REV} in ${dir}`);
    productDir = buildRevision(process.env.BENCH_GIT_REV, dir);
  } else {
    productDir = snapshotProduct(dir);
    progress(`measuring a snapshot of the build in ${productDir}`);
  }
}
const productRoot = process.env.BENCH_PRODUCT_ROOT || productDir;

function runOne(name) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [path.join(ROOT, 'bench', `${name}.mjs`)], {
      env: { ...process.env, BENCH_KEEP_WORKDIR: '1', BENCH_PRODUCT_ROOT: productRoot },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    current = child;
    let out = '';
    child.stdout.on('data', (d) => { out += d.toString(); });
    child.on('exit', (code, signal) => {
      current = null;
      let doc;
      try {
        doc = JSON.parse(out);
      } catch {
        doc = { benchmark: name, error: `no JSON on stdout (exit ${code ?? signal}): ${out.slice(-2000)}` };
      }
      doc.exitCode = code;
      doc.wallS = Math.round((Date.now() - t0) / 100) / 10;
      resolve(doc);
    });
  });
}

for (const name of only) {
  progress(`=== ${name} ===`);
  docs[name] = await runOne(name);
  progress(`=== ${name}: ${docs[name].error ? 'FAILED' : 'done'} in ${docs[name].wallS} s ===`);
}

const product = productInfo(productRoot);
const keep = flag('BENCH_KEEP', false);
if (!keep) {
  for (const d of Object.values(docs)) {
    if (d.workDir && fs.existsSync(d.workDir)) {
      progress(`deleting ${d.workDir}`);
      removeTree(d.workDir);
    }
  }
  if (productDir) removeTree(productDir);
}

const summary = {};
const goals = [];
for (const [name, d] of Object.entries(docs)) {
  summary[name] = { error: d.error ? String(d.error).split('\n')[0] : undefined, results: d.results ?? (d.cases ? Object.fromEntries(Object.entries(d.cases).map(([k, v]) => [k, v.results])) : undefined), goals: d.goals };
  for (const [g, v] of Object.entries(d.goals ?? {})) goals.push({ benchmark: name, goal: g, ...v });
}
const doc = {
  startedAt,
  finishedAt: new Date().toISOString(),
  environment: environment(),
  product,
  workDirsKept: keep,
  goals,
  summary,
  benchmarks: docs,
};
process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
process.exitCode = Object.values(docs).some((d) => d.error) ? 1 : 0;
