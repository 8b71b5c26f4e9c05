#!/usr/bin/env node
/**
 * Memory benchmark: where the hub's and the node's memory goes with BENCH_MEMORY_FILES (100k)
 * small files mirrored. The node syncs the tree into a fresh hub (initial sync); then the hub is
 * restarted on the same data (SIGTERM, start, node reconnects, mirror verified). For each
 * process: RSS peak (VmHWM) and now (VmRSS), /proc/PID/smaps_rollup (anonymous vs file-backed),
 * and, from a preload (lib/mem-probe.cjs) sampling every isolate every 250 ms, each isolate's
 * V8 heap (used, physical), external memory and ArrayBuffers, peak and at the end: the main
 * thread and every worker thread (each worker is an isolate of its own). What is left of RSS
 * once the isolates' heaps are counted is native memory: malloc (SQLite's page cache, gRPC,
 * the watcher, freed-but-kept arenas), thread stacks and the mapped binary.
 *
 * Baseline in the same run: an idle hub with no nodes, and an idle node (no files) is not
 * possible without a hub, so the hub's figures after restart are set beside an empty hub's.
 *
 * Env: BENCH_SCALE, BENCH_MEMORY_FILES (100000), BENCH_FILE_MIN / BENCH_FILE_MAX.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configure, settings } from '../harness/procs.mjs';
import { Hub, generateTree, goal, main, memory, param, progress, round, startPair, syncDisks, waitFor, waitInSync } from './lib.mjs';

const MEM_DIR_ENV = 'CORTEX_BENCH_MEM_DIR';
/** How long the processes are left alone before "after" is sampled (BENCH_MEMORY_SETTLE_MS). */
let SETTLE_MS = 1500;

function smapsRollup(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const out = {};
    for (const k of ['Rss', 'Pss_Anon', 'Pss_File', 'Pss_Shmem', 'Anonymous', 'Swap']) {
      const m = s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'));
      if (m) out[`${k}MiB`] = round(Number(m[1]) / 1024, 1);
    }
    return out;
  } catch {
    return null;
  }
}

/** Per isolate of `pid`: peak and last sample (from `since`), and their sums. */
function isolates(dir, pid, since = 0) {
  let text = '';
  try { text = fs.readFileSync(path.join(dir, `mem-${pid}.jsonl`), 'utf8'); } catch { return null; }
  const by = new Map();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let x;
    try { x = JSON.parse(line); } catch { continue; }
    if (x.t < since) continue;
    const g = by.get(x.thread) ?? { peakHeapUsedMiB: 0, peakHeapPhysicalMiB: 0, peakExternalMiB: 0, peakArrayBuffersMiB: 0, last: null };
    g.peakHeapUsedMiB = Math.max(g.peakHeapUsedMiB, x.heapUsed);
    g.peakHeapPhysicalMiB = Math.max(g.peakHeapPhysicalMiB, x.heapPhysical);
    g.peakExternalMiB = Math.max(g.peakExternalMiB, x.external);
    g.peakArrayBuffersMiB = Math.max(g.peakArrayBuffersMiB, x.arrayBuffers);
    g.last = x;
    by.set(x.thread, g);
  }
  const threads = Object.fromEntries([...by].map(([k, g]) => [k, {
    peakHeapUsedMiB: g.peakHeapUsedMiB, peakHeapPhysicalMiB: g.peakHeapPhysicalMiB, peakExternalMiB: g.peakExternalMiB, peakArrayBuffersMiB: g.peakArrayBuffersMiB,
    heapUsedMiB: g.last.heapUsed, heapPhysicalMiB: g.last.heapPhysical, externalMiB: g.last.external, arrayBuffersMiB: g.last.arrayBuffers, mallocedMiB: g.last.malloced,
  }]));
  const workers = [...by.keys()].filter((k) => k !== 'main');
  const sum = (f) => round(workers.reduce((a, k) => a + threads[k][f], 0), 1);
  return {
    threads,
    workerCount: workers.length,
    workersHeapPhysicalMiB: sum('heapPhysicalMiB'),
    workersPeakHeapPhysicalMiB: sum('peakHeapPhysicalMiB'),
  };
}

/** RSS, smaps and the isolates' heaps of one process, and what is left of RSS for native memory. */
/** User + system CPU of `pid` so far (all its threads), in seconds. */
function cpuSeconds(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return round((Number(f[11]) + Number(f[12])) / 100, 2);
  } catch {
    return null;
  }
}

function facts(dir, pid, since) {
  const mem = memory(pid);
  const cpuS = cpuSeconds(pid);
  const smaps = smapsRollup(pid);
  const iso = isolates(dir, pid, since);
  const main = iso?.threads.main;
  const heaps = iso && main ? round(main.heapPhysicalMiB + iso.workersHeapPhysicalMiB, 1) : null;
  return {
    ...mem, cpuS, smaps, isolates: iso,
    /** RSS minus every isolate's V8 heap (physical): native memory, stacks, the binary. */
    nonHeapRssMiB: heaps === null || mem.rssMiB === null ? null : round(mem.rssMiB - heaps, 1),
  };
}

await main('memory', async ({ workDir }) => {
  const files = param('BENCH_MEMORY_FILES', 100_000);
  const minSize = param('BENCH_FILE_MIN', 512, { scaled: false, min: 0 });
  const maxSize = param('BENCH_FILE_MAX', 1536, { scaled: false, min: minSize });
  SETTLE_MS = param('BENCH_MEMORY_SETTLE_MS', 1500, { scaled: false, min: 0 });
  const memDir = path.join(workDir, 'mem');
  fs.mkdirSync(memDir, { recursive: true });
  process.env[MEM_DIR_ENV] = memDir;
  const preload = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'mem-probe.cjs');
  configure({ nodeArgs: [...settings.nodeArgs, '--require', preload] });

  const ws = path.join(workDir, 'workspace');
  progress(`generating ${files} files in ${ws}`);
  const tree = generateTree(ws, { files, minSize, maxSize, seed: 13 });
  syncDisks();

  // Baseline: a hub with no nodes, idle for a while after its start.
  const empty = await Hub.start(path.join(workDir, 'empty-hub'), { pollMs: 5 });
  await new Promise((r) => setTimeout(r, 3000));
  const emptyHub = facts(memDir, empty.p.proc.pid, 0);
  await empty.stop();
  progress(`empty hub: RSS ${emptyHub.rssMiB} MiB`);

  progress('initial sync');
  const pair = await startPair(workDir, ws);
  let { hub } = pair;
  const { node, id } = pair;
  // Let the last commits and the index acknowledgements settle, then sample once more.
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const afterSync = { hub: facts(memDir, hub.p.proc.pid, 0), node: facts(memDir, node.p.proc.pid, 0) };
  progress(`after the initial sync (${pair.syncMs} ms): hub ${afterSync.hub.peakRssMiB}/${afterSync.hub.rssMiB} MiB, node ${afterSync.node.peakRssMiB}/${afterSync.node.rssMiB} MiB`);

  progress('restarting the hub');
  const grpc = hub.info.grpc;
  await hub.stop();
  const tNode = Date.now();
  hub = await Hub.start(hub.dataDir, { grpc, pollMs: 5 });
  const t0 = hub.startedAt;
  const gate = () => hub.logLines().some((l) => l.msg === 'node.connected' && l.node === id && Date.parse(l.t) >= t0);
  await waitInSync(hub, id, { everyMs: 20, check: () => node.check(), gate });
  await waitFor('mirror.verified', () => hub.logLines().find((l) => l.msg === 'mirror.verified' && l.node === id && Date.parse(l.t) >= t0 - 5), 600_000, 20);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const afterRestart = { hub: facts(memDir, hub.p.proc.pid, t0), node: facts(memDir, node.p.proc.pid, tNode) };
  progress(`after the restart: hub ${afterRestart.hub.peakRssMiB}/${afterRestart.hub.rssMiB} MiB, node ${afterRestart.node.rssMiB} MiB`);
  await node.stop();
  await hub.stop();

  const hubPeak = Math.max(afterSync.hub.peakRssMiB, afterRestart.hub.peakRssMiB);
  const nodePeak = afterRestart.node.peakRssMiB;
  return {
    params: { files, minSize, maxSize },
    tree: { files: tree.files, bytes: tree.bytes, dirs: tree.dirs },
    initialSyncMs: pair.syncMs,
    baseline: { emptyHub },
    afterSync,
    afterRestart,
    results: {
      hubPeakRssMiB: hubPeak, hubRssAfterSyncMiB: afterSync.hub.rssMiB, hubRssAfterRestartMiB: afterRestart.hub.rssMiB,
      nodePeakRssMiB: nodePeak, nodeRssAfterSyncMiB: afterSync.node.rssMiB, emptyHubRssMiB: emptyHub.rssMiB,
    },
    goals: {
      hubRss: goal('<= 150 MiB peak', hubPeak, hubPeak <= 150),
      nodeRss: goal('<= 150 MiB peak', nodePeak, nodePeak <= 150),
    },
  };
});
