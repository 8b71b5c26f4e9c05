#!/usr/bin/env node
/**
 * Initial sync benchmark: node → hub over loopback, for (a) "big": 1 GiB in 10k files and
 * (b) "small": 100k files of ~1 KiB. Measures the time from the node's spawn (it scans and
 * hashes its workspace, connects, sends its index, serves blocks) until the hub reports the
 * node `in-sync`. Baseline in the same run, on the same source tree: `rsync -a` to a loopback
 * rsync daemon (and `rsync -a --fsync`, since the hub fsyncs every file it commits), and the
 * floors of a durable copy (lib/floors.mjs: a group-commit writer alone, SHA-256 of the tree).
 * Goal: not slower than rsync -a. Also records the hub's event-loop lag during each sync
 * (hub started with CORTEX_EVENTLOOP_LOG=1; null with a note if the hub does not log it).
 *
 * Env: BENCH_SCALE; BENCH_SYNC_CASES (default "big,small"); BENCH_SYNC_BIG_FILES (10000),
 * BENCH_SYNC_BIG_BYTES (1 GiB); BENCH_SYNC_SMALL_FILES (100000), BENCH_FILE_MIN/MAX
 * (512/1536); BENCH_REPEAT (1: runs of each side, alternating; the median is reported);
 * BENCH_RSYNC_FSYNC (1: also time rsync --fsync); BENCH_VERIFY (1: check the copies).
 */
import os from 'node:os';
import path from 'node:path';
import {
  compareTrees, eventLoopSummary, floorBaselines, floorsLine, generateTree, goal, labelThreads, logSince, main, medianFloors, param, progress, round,
  goalVsRsync, rsyncBaseline, runCases, startPair, startRsyncDaemon, syncDisks, syncTreeCases, throughputResults, waitEventLoopLine,
} from './lib.mjs';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
};

/** One measured node → hub initial sync of `src` into a fresh hub under `dir`. */
async function runOurs(name, src, dir, verify) {
  const pair = await startPair(dir, src, { hubEnv: { CORTEX_EVENTLOOP_LOG: '1' }, waitIdleEventLoop: true });
  const { hub, node, id } = pair;
  try {
    const t0 = node.startedAt;
    progress(`[${name}] in-sync after ${pair.syncMs} ms; waiting for the hub's next event-loop report`);
    await waitEventLoopLine(hub, pair.inSyncAt, 7000);
    const lag = eventLoopSummary(hub, t0, pair.inSyncAt);
    // How the hub's commits were grouped (hub.commits lines, every 5 s with the event-loop ones).
    const groups = { groups: 0, files: 0, alone: 0, belowGroupMin: 0 };
    for (const l of hub.logLines()) if (l.msg === 'hub.commits') for (const k of Object.keys(groups)) groups[k] += l[k] ?? 0;
    const commitGroups = groups.groups ? { ...groups, meanFiles: round(groups.files / groups.groups, 1), belowGroupMinShare: round(groups.belowGroupMin / groups.files, 3) } : null;
    const nodeLog = node.logLines();
    const scanDone = logSince(nodeLog, 'scan.done', t0)[0] ?? null;
    const connected = logSince(nodeLog, 'hub.connected', t0)[0] ?? null;
    let check = null;
    if (verify) {
      progress(`[${name}] verifying the mirror`);
      check = compareTrees(src, hub.mirror(id));
      if (!check.ok) throw new Error(`mirror differs from the source: ${check.differences.join('; ')}`);
    }
    return {
      ms: pair.syncMs,
      bytesReceived: pair.status.bytesReceived,
      bytesReused: pair.status.bytesReused,
      files: pair.status.files,
      breakdown: {
        nodeScanMs: scanDone?.ms ?? null,
        nodeScanHashedBytes: scanDone?.hashedBytes ?? null,
        connectedAtMs: connected ? Date.parse(connected.t) - t0 : null,
        transferMs: connected ? pair.inSyncAt - Date.parse(connected.t) : null,
      },
      cpu: { ...pair.cpu, loadAvg1m: round(os.loadavg()[0], 2) },
      // RSS at in-sync and peak; CPU per thread: the hub's from the node's spawn to in-sync, the node's since its spawn.
      procs: pair.procs,
      hubEventLoop: lag,
      commitGroups,
      mirrorIdentical: check ? check.ok : null,
    };
  } finally {
    await node.stop();
    await hub.stop();
  }
}

await main('initial-sync', async ({ workDir }) => {
  labelThreads(path.join(workDir, 'threads'));
  const { cases, trees: defs, withFsync, verify } = syncTreeCases();
  const repeat = param('BENCH_REPEAT', 1, { scaled: false });
  const params = { cases, big: defs.big, small: defs.small, repeat, rsyncFsync: withFsync };

  const daemon = await startRsyncDaemon(workDir);
  const runCase = async (name) => {
    const def = defs[name];
    const caseDir = path.join(workDir, name);
    const src = path.join(caseDir, 'src');
    progress(`[${name}] generating ${def.files} files in ${src}`);
    const tree = generateTree(src, { ...def, seed: name === 'big' ? 21 : 22 });
    progress(`[${name}] generated ${tree.files} files, ${tree.bytes} bytes in ${tree.dirs} dirs (${tree.ms} ms)`);

    const ours = [];
    const rsync = [];
    const rsyncFsync = [];
    const floors = [];
    for (let r = 0; r < repeat; r++) {
      // ---- ours
      syncDisks();
      progress(`[${name}] run ${r + 1}/${repeat}: cortex-node → cortex-hub`);
      try {
        ours.push(await runOurs(name, src, path.join(caseDir, `ours-${r}`), verify && r === 0));
      } catch (e) {
        // Keep going: the rsync numbers for this tree are still worth having.
        progress(`[${name}] cortex sync FAILED: ${e.message}`);
        ours.push({ ms: null, error: e.message });
      }

      // ---- rsync -a
      const variants = [['rsync', ['-a'], rsync]];
      if (withFsync) variants.push(['rsync-fsync', ['-a', '--fsync'], rsyncFsync]);
      for (const [label, args, list] of variants) {
        list.push(await rsyncBaseline(daemon, name, `${label}, run ${r + 1}/${repeat}`, args, src, `${name}-${label}-${r}`, tree.files));
      }

      // ---- the floors of a durable copy (no product code)
      floors.push(await floorBaselines(name, `run ${r + 1}/${repeat}`, src, path.join(caseDir, `floor-${r}`)));
    }
    const okRuns = ours.filter((x) => x.ms !== null);
    const oursMs = okRuns.length ? median(okRuns.map((x) => x.ms)) : null;
    const rsyncMs = median(rsync.map((x) => x.ms));
    const rsyncFsyncMs = withFsync ? median(rsyncFsync.map((x) => x.ms)) : null;
    const doc = {
      ...(okRuns.length < ours.length ? { error: ours.find((x) => x.error).error } : {}),
      tree: { files: tree.files, bytes: tree.bytes, dirs: tree.dirs, generateMs: tree.ms },
      ours,
      rsync,
      rsyncFsync: withFsync ? rsyncFsync : null,
      floors,
      // Lag, RSS and CPU of the first run; the floors' median runs.
      results: throughputResults(tree, oursMs, rsyncMs, rsyncFsyncMs, okRuns[0], medianFloors(floors)),
    };
    progress(`[${name}] ours ${oursMs} ms, rsync ${rsyncMs} ms${withFsync ? `, rsync --fsync ${rsyncFsyncMs} ms` : ''}${floorsLine(doc.results.floors)}`);
    return doc;
  };
  const out = await runCases(cases, runCase);
  await daemon.stop();

  const goals = {};
  for (const name of cases) {
    const r = out[name].results;
    goals[`${name}.vsRsync`] = goalVsRsync(name, r, out[name].error);
  }
  const bigRun = out.big?.ours?.find((x) => x.hubEventLoop);
  if (bigRun) {
    const el = bigRun.hubEventLoop;
    const lag = el.lagP99Ms ?? el.p99Ms;
    goals['big.hubEventLoopP99Ms'] = goal('<= 20 ms (worst 5 s window, idle floor subtracted)', lag, lag !== null && lag <= 20);
  }
  const failed = cases.filter((c) => out[c].error);
  return { params, cases: out, goals, ...(failed.length ? { error: failed.map((c) => `${c}: ${out[c].error}`).join('; ') } : {}) };
});
