#!/usr/bin/env node
/**
 * Initial sync hub → node over loopback: the trees of initial-sync.mjs ("big": 1 GiB in 10k
 * files; "small": 100k files of ~1 KiB) appear in the hub's mirror of an in-sync node whose
 * workspace is empty, as a hub-side agent's output would. Measures the time from the tree's
 * appearance until the node's workspace has every file and the hub says the node is `in-sync`
 * with nothing left to send (`toNodeFiles` 0). Baseline in the same run, on the same tree:
 * `rsync -a` (and `rsync -a --fsync`) to a loopback rsync daemon, and the floors of a durable
 * copy (lib/floors.mjs), as in initial-sync.mjs.
 * Also reports hub and node RSS (peak, at the end) and their CPU per thread over the interval,
 * and the hub's event-loop lag.
 *
 * How the tree appears (BENCH_TO_NODE_WRITE): `rename` (default) moves the generated tree into
 * the mirror with one rename(2), so the timed interval holds only the product's work (the hub's
 * watcher sees one new directory and scans it); `copy` copies it file by file into the mirror
 * (fs.cpSync, in this process) with the copy inside the timed interval, so the hub sees one
 * watcher event per file as it would from an agent writing them.
 *
 * Env: BENCH_SCALE; BENCH_SYNC_CASES (default "big,small"); BENCH_SYNC_BIG_FILES (10000),
 * BENCH_SYNC_BIG_BYTES (1 GiB); BENCH_SYNC_SMALL_FILES (100000), BENCH_FILE_MIN/MAX
 * (512/1536); BENCH_RSYNC_FSYNC (1); BENCH_VERIFY (1); BENCH_TO_NODE_WRITE (rename).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  compareTrees, cpuSnapshot, eventLoopSummary, floorBaselines, floorsLine, generateTree, labelThreads, listFiles, logSince, main, procFacts,
  GOALS_VS_RSYNC, goalVsRsync, progress, round, rsyncBaseline, runCases, startPair, startRsyncDaemon, syncDisks, syncTreeCases, throughputResults,
  waitEventLoopLine, waitFor, waitNode,
} from './lib.mjs';

const TREE = 'from-hub';

/** One measured hub → node sync of `src` (moved or copied into the mirror) under `dir`. */
async function runOurs(name, src, dir, { verify, write, expectFiles }) {
  const ws = path.join(dir, 'workspace');
  fs.mkdirSync(ws, { recursive: true });
  const pair = await startPair(dir, ws, { hubEnv: { CORTEX_EVENTLOOP_LOG: '1' }, waitIdleEventLoop: true });
  const { hub, node, id } = pair;
  try {
    progress(`[${name}] empty node in-sync after ${pair.syncMs} ms; waiting for an idle event-loop report`);
    await waitEventLoopLine(hub, Date.now(), 7000);
    const dest = path.join(hub.mirror(id), TREE);
    syncDisks();
    const hub0 = cpuSnapshot(hub.p.proc.pid);
    const node0 = cpuSnapshot(node.p.proc.pid);
    const nodeLog0 = node.logLines().length;
    const t0 = Date.now();
    let writeMs = 0;
    if (write === 'copy') {
      fs.cpSync(src, dest, { recursive: true });
      writeMs = Date.now() - t0;
    } else {
      fs.renameSync(src, dest);
    }
    progress(`[${name}] tree in the mirror (${write}${write === 'copy' ? `, ${writeMs} ms` : ''}); waiting for the node`);
    // Cheap gate: the node logs hub.changes per batch it applied; status is polled once they add up.
    const applied = () => node.logLines().slice(nodeLog0).filter((l) => l.msg === 'hub.changes').reduce((a, l) => a + (l.applied ?? 0), 0);
    const r = await waitNode(hub, id, `node ${id} to have the hub's ${expectFiles} files`, (n) => n.state === 'in-sync' && n.toNodeFiles === 0 && applied() >= expectFiles, {
      everyMs: 20, timeoutMs: 1_800_000, check: () => node.check(), gate: () => applied() >= expectFiles, gateEveryMs: 20,
    });
    // The hub's word is checked against the workspace (counted untimed unless it is short).
    let at = r.at;
    const have = listFiles(path.join(ws, TREE)).length;
    let shortAtInSync = null;
    if (have !== expectFiles) {
      shortAtInSync = have;
      progress(`[${name}] the hub says in-sync but the workspace has ${have} of ${expectFiles} files; waiting`);
      await waitFor('the workspace to have every file', () => listFiles(path.join(ws, TREE)).length === expectFiles, 120_000, 200);
      at = Date.now();
    }
    const procs = procFacts(hub, node, hub0, node0);
    const ms = at - t0;
    progress(`[${name}] node has the tree after ${ms} ms; waiting for the hub's next event-loop report`);
    await waitEventLoopLine(hub, at, 7000);
    const lag = eventLoopSummary(hub, t0, at);
    const changes = logSince(node.logLines().slice(nodeLog0), 'hub.changes', t0);
    let check = null;
    if (verify) {
      progress(`[${name}] verifying the workspace`);
      check = compareTrees(dest, path.join(ws, TREE));
      if (!check.ok) throw new Error(`workspace differs from the mirror: ${check.differences.join('; ')}`);
    }
    return {
      ms,
      writeMs,
      statusAtEnd: { files: r.node.files, bytes: r.node.bytes, toNodeFiles: r.node.toNodeFiles, state: r.node.state },
      workspaceShortAtInSync: shortAtInSync,
      breakdown: {
        firstBatchAppliedAtMs: changes.length ? Date.parse(changes[0].t) - t0 : null,
        lastBatchAppliedAtMs: changes.length ? Date.parse(changes[changes.length - 1].t) - t0 : null,
        batches: changes.length,
        applied: changes.reduce((a, l) => a + (l.applied ?? 0), 0),
      },
      cpu: { hubMs: procs.hub.cpu?.totalMs ?? null, nodeMs: procs.node.cpu?.totalMs ?? null, loadAvg1m: round(os.loadavg()[0], 2) },
      procs,
      hubEventLoop: lag,
      workspaceIdentical: check ? check.ok : null,
    };
  } finally {
    await node.stop();
    await hub.stop();
  }
}

await main('initial-sync-to-node', async ({ workDir }) => {
  labelThreads(path.join(workDir, 'threads'));
  const { cases, trees: defs, withFsync, verify } = syncTreeCases();
  const write = process.env.BENCH_TO_NODE_WRITE || 'rename';
  if (!['rename', 'copy'].includes(write)) throw new Error(`BENCH_TO_NODE_WRITE must be rename or copy, got ${write}`);
  const params = { cases, big: defs.big, small: defs.small, rsyncFsync: withFsync, write, goalsVsRsync: GOALS_VS_RSYNC };

  const daemon = await startRsyncDaemon(workDir);
  const runCase = async (name) => {
    const def = defs[name];
    const caseDir = path.join(workDir, name);
    const src = path.join(caseDir, 'src');
    progress(`[${name}] generating ${def.files} files in ${src}`);
    const tree = generateTree(src, { ...def, seed: name === 'big' ? 31 : 32 });
    progress(`[${name}] generated ${tree.files} files, ${tree.bytes} bytes in ${tree.dirs} dirs (${tree.ms} ms)`);

    // rsync first: ours moves the tree into the mirror.
    const rs = {};
    const variants = [['rsync', ['-a']]];
    if (withFsync) variants.push(['rsyncFsync', ['-a', '--fsync']]);
    for (const [label, args] of variants) rs[label] = await rsyncBaseline(daemon, name, label, args, src, `${name}-${label}`, tree.files);
    const floors = await floorBaselines(name, 'floors', src, path.join(caseDir, 'floor'));

    progress(`[${name}] cortex-hub mirror → cortex-node`);
    let ours;
    try {
      ours = await runOurs(name, src, path.join(caseDir, 'ours'), { verify, write, expectFiles: tree.files });
    } catch (e) {
      progress(`[${name}] cortex sync FAILED: ${e.message}`);
      ours = { ms: null, error: e.message };
    }
    const rsyncMs = rs.rsync.ms;
    const rsyncFsyncMs = rs.rsyncFsync?.ms ?? null;
    const oursMs = ours.ms;
    const results = throughputResults(tree, oursMs, rsyncMs, rsyncFsyncMs, ours, floors);
    progress(`[${name}] ours ${oursMs} ms, rsync ${rsyncMs} ms${withFsync ? `, rsync --fsync ${rsyncFsyncMs} ms` : ''}${floorsLine(results.floors)}`);
    return {
      ...(ours.error ? { error: ours.error } : {}),
      tree: { files: tree.files, bytes: tree.bytes, dirs: tree.dirs, generateMs: tree.ms },
      ours,
      rsync: rs.rsync,
      rsyncFsync: rs.rsyncFsync ?? null,
      floors,
      // Lag, RSS and CPU over the timed interval.
      results,
    };
  };
  const out = await runCases(cases, runCase);
  await daemon.stop();

  const met = {};
  for (const name of cases) {
    const r = out[name].results;
    met[`${name}.vsRsync`] = goalVsRsync(name, r, out[name].error);
  }
  const failed = cases.filter((c) => out[c].error);
  return { params, cases: out, goals: met, ...(failed.length ? { error: failed.map((c) => `${c}: ${out[c].error}`).join('; ') } : {}) };
});
