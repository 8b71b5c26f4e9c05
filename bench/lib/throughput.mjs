/**
 * What the two initial-sync benchmarks (node → hub: initial-sync.mjs; hub → node:
 * initial-sync-to-node.mjs) share: the two trees and their parameters, one rsync baseline
 * run, the throughput figures of a case (with its floors: floors.mjs), and running every
 * case so that one failing keeps the others' numbers.
 */
import path from 'node:path';
import { GiB, flag, param } from './params.mjs';
import { floorResults } from './floors.mjs';
import { procFigures } from './procstat.mjs';
import { progress, round } from './report.mjs';
import { runRsync } from './rsync.mjs';
import { syncDisks } from './sync.mjs';
import { listFiles } from './trees.mjs';

/**
 * The cases (BENCH_SYNC_CASES: big, small) and their trees: "big" is 1 GiB in 10k files,
 * "small" 100k files of BENCH_FILE_MIN..MAX bytes (all scaled by BENCH_SCALE).
 */
/** Issue 13's goals for both directions: ours / `rsync -a` at most this, per tree. */
export const GOALS_VS_RSYNC = { big: 1.0, small: 2.0 };

/** The goal of one case against `rsync -a`, as `{ target, actual, met }`. */
export function goalVsRsync(name, r, error) {
  const target = `ours / rsync -a <= ${GOALS_VS_RSYNC[name].toFixed(1)}`;
  const actual = r?.ratioOursToRsync ?? null;
  return actual !== null ? { target, actual, met: actual <= GOALS_VS_RSYNC[name] } : { target, actual: null, met: false, error };
}

export function syncTreeCases() {
  const cases = (process.env.BENCH_SYNC_CASES || 'big,small').split(',').map((s) => s.trim()).filter(Boolean);
  const minSize = param('BENCH_FILE_MIN', 512, { scaled: false, min: 0 });
  const maxSize = param('BENCH_FILE_MAX', 1536, { scaled: false, min: minSize });
  const trees = {
    big: { files: param('BENCH_SYNC_BIG_FILES', 10_000), totalBytes: param('BENCH_SYNC_BIG_BYTES', GiB) },
    small: { files: param('BENCH_SYNC_SMALL_FILES', 100_000), minSize, maxSize },
  };
  for (const name of cases) if (!trees[name]) throw new Error(`unknown case ${name} (BENCH_SYNC_CASES: big, small)`);
  return { cases, trees, withFsync: flag('BENCH_RSYNC_FSYNC', true), verify: flag('BENCH_VERIFY', true) };
}

/** One `rsync ARGS src` into the daemon's module `sub`, after the disks are synced; checks it copied every file. */
export async function rsyncBaseline(daemon, name, label, args, src, sub, expectFiles) {
  syncDisks();
  progress(`[${name}] ${label} (rsync ${args.join(' ')})`);
  const res = await runRsync(args, src, daemon.url(sub));
  const copied = listFiles(path.join(daemon.moduleRoot, sub)).length;
  if (copied !== expectFiles) throw new Error(`${label} copied ${copied} files, expected ${expectFiles}`);
  progress(`[${name}] ${label}: ${res.ms} ms`);
  return res;
}

/**
 * A case's headline figures: ours against the rsync baselines of the same run and against the
 * floors of a durable copy (floors.mjs; null: not measured), and of our run the hub's lag and
 * both processes' RSS and CPU.
 */
export function throughputResults(tree, oursMs, rsyncMs, rsyncFsyncMs, run, floors = null) {
  return {
    oursMs,
    rsyncMs,
    rsyncFsyncMs,
    ratioOursToRsync: oursMs === null ? null : round(oursMs / rsyncMs, 2),
    ratioOursToRsyncFsync: oursMs !== null && rsyncFsyncMs ? round(oursMs / rsyncFsyncMs, 2) : null,
    oursMiBps: oursMs === null ? null : round(tree.bytes / 1048576 / (oursMs / 1000), 1),
    oursFilesPerS: oursMs === null ? null : Math.round(tree.files / (oursMs / 1000)),
    rsyncMiBps: round(tree.bytes / 1048576 / (rsyncMs / 1000), 1),
    hubEventLoopP99Ms: run?.hubEventLoop?.p99Ms ?? null,
    hubEventLoopLagP99Ms: run?.hubEventLoop?.lagP99Ms ?? null,
    // RSS (MiB) peak and at the end; CPU ms per thread group (main, fs-worker, libuv-pool, v8-platform, other, exited).
    hub: procFigures(run?.procs?.hub),
    node: procFigures(run?.procs?.node),
    floors: floorResults(tree, oursMs, rsyncMs, floors, run),
  };
}

/** Runs each case; one that fails (e.g. a stalled sync) is reported with its error and does not lose the others' numbers. */
export async function runCases(cases, runCase) {
  const out = {};
  for (const name of cases) {
    try {
      out[name] = await runCase(name);
    } catch (e) {
      progress(`[${name}] FAILED: ${e.message}`);
      out[name] = { error: e.message };
    }
  }
  return out;
}
