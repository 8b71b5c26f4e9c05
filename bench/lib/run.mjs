/**
 * Runs one benchmark: a fresh work dir, the product chosen, one JSON document on stdout (also
 * on failure), every started process ended, and clean-up, also on signals.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { killAll } from '../../harness/procs.mjs';
import { flag } from './params.mjs';
import { buildRevision, checkBuilt, chosenProduct, productInfo, removeTree, snapshotProduct, useProduct } from './product.mjs';
import { T_START, environment, progress, round } from './report.mjs';

/** Work dirs to delete when a signal ends the benchmark. */
const workDirs = new Set();

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    // The harness kills every process it started when this process exits.
    // Interrupted: clean up now (BENCH_KEEP_WORKDIR only defers clean-up of completed runs).
    if (!flag('BENCH_KEEP', false)) for (const d of workDirs) removeTree(d);
    process.exit(128 + (os.constants.signals[sig] ?? 1));
  });
}

/**
 * Runs a benchmark body with a fresh work dir; prints ONE JSON document on stdout (also on
 * failure, with `error`), kills every started process, and deletes the work dir at the very
 * end unless BENCH_KEEP_WORKDIR=1 (run-all.mjs sets it and deletes all dirs after the last
 * benchmark: on this disk, creating files right after deleting a big tree is slow).
 */
export async function main(name, body) {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `cortex-bench-${name}-`));
  workDirs.add(workDir);
  const doc = { benchmark: name, startedAt: new Date(T_START).toISOString(), environment: environment(), workDir };
  let code = 0;
  try {
    if (!chosenProduct()) {
      useProduct(process.env.BENCH_GIT_REV
        ? buildRevision(process.env.BENCH_GIT_REV, path.join(workDir, 'product'))
        : snapshotProduct(path.join(workDir, 'product')));
    }
    checkBuilt(chosenProduct());
    doc.product = productInfo();
    doc.loadAvgAtStart = os.loadavg().map((x) => round(x, 2));
    Object.assign(doc, await body({ workDir }));
    doc.loadAvgAtEnd = os.loadavg().map((x) => round(x, 2));
  } catch (e) {
    code = 1;
    doc.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
    progress(`FAILED: ${e instanceof Error ? e.message : e}`);
  } finally {
    await killAll();
  }
  doc.durationS = round((Date.now() - T_START) / 1000, 1);
  const keep = flag('BENCH_KEEP_WORKDIR', false) || flag('BENCH_KEEP', false);
  if (!keep) {
    progress(`deleting ${workDir}`);
    removeTree(workDir);
  }
  doc.workDirKept = keep;
  // Exit once the document is out: a failure may leave handles open (a browser, a socket) that
  // would otherwise keep this process, and run-all waiting for it, alive.
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`, () => process.exit(code));
}
