#!/usr/bin/env node
/**
 * Restart benchmark: a hub mirroring BENCH_RESTART_FILES (default 100k) small files is stopped
 * (SIGTERM) and started again on the same data dir and gRPC port. Measures the time from the
 * new hub's spawn until the node is `in-sync` again, and what the hub re-hashed
 * (status bytesHashedSinceStart; goal: 0 bytes, <= 1 s). Baselines, in the same run: a full
 * re-hash of the same tree (Node crypto, one thread; and sha256sum on all cores) and a bare
 * walk + lstat of the tree. A restart counts as done when the node is `in-sync` AND the
 * hub has logged the verification of its mirror (`mirror.verified`, which runs beside the
 * sync and may hash): the first `in-sync` alone can come before it.
 *
 * Env: BENCH_SCALE, BENCH_RESTART_FILES, BENCH_FILE_MIN / BENCH_FILE_MAX (bytes, default
 * 512..1536), BENCH_RESTART_ROUNDS (restarts measured, default 1), BENCH_VERIFY (default 1).
 * BENCH_RESTART_COMPARE=DIR: every second round restarts the hub of another product tree
 * (bin/ and dist/, e.g. a copy of an earlier build) on the same data dir: before and after
 * alternate under the same load; `results.byProduct` gives each one's rounds. The goals are
 * judged on the measured product's rounds only.
 */
import os from 'node:os';
import path from 'node:path';
import {
  Hub, compareTrees, cpuSnapshot, generateTree, goal, hashTreeNode, hashTreeSha256sum, logSince, main, param, flag,
  percentile, progress, round, startPair, syncDisks, waitFor, waitInSync, walkStatTree,
} from './lib.mjs';
import { configure, settings } from '../harness/procs.mjs';

await main('restart', async ({ workDir }) => {
  const files = param('BENCH_RESTART_FILES', 100_000);
  const minSize = param('BENCH_FILE_MIN', 512, { scaled: false, min: 0 });
  const maxSize = param('BENCH_FILE_MAX', 1536, { scaled: false, min: minSize });
  const rounds = param('BENCH_RESTART_ROUNDS', 1, { scaled: false });
  const pollMs = param('BENCH_POLL_MS', 10, { scaled: false });
  const params = { files, minSize, maxSize, rounds, pollMs };

  const ws = path.join(workDir, 'workspace');
  progress(`generating ${files} files in ${ws}`);
  const tree = generateTree(ws, { files, minSize, maxSize, seed: 11 });
  progress(`generated ${tree.files} files, ${tree.bytes} bytes in ${tree.dirs} dirs (${tree.ms} ms)`);
  syncDisks();

  // Setup (not measured): get the tree mirrored in one initial sync.
  const t0setup = Date.now();
  const pair = await startPair(workDir, ws);
  let { hub } = pair;
  const { node, id } = pair;
  const mirror = hub.mirror(id);
  const status0 = await hub.node(id);
  if (status0.files !== files) throw new Error(`expected ${files} files in the mirror, the hub records ${status0.files}`);
  const setupMs = Date.now() - t0setup;
  progress(`setup done in ${setupMs} ms`);
  const initial = { ms: setupMs, syncMs: pair.syncMs, files: status0.files, bytes: status0.bytes };
  const grpc = hub.info.grpc;

  let verify = null;
  if (flag('BENCH_VERIFY', true)) {
    progress('verifying the mirror');
    verify = compareTrees(ws, mirror);
    if (!verify.ok) throw new Error(`mirror differs from the workspace: ${verify.differences.join('; ')}`);
  }

  progress('baselines: walk+lstat, full re-hash (node crypto, sha256sum)');
  const baseline = {
    walkStat: walkStatTree(mirror),
    rehashNodeCrypto: hashTreeNode(mirror),
    rehashSha256sum: hashTreeSha256sum(mirror),
  };
  progress(`baseline: walk ${baseline.walkStat.ms} ms, re-hash ${baseline.rehashNodeCrypto.ms} ms (node), ${baseline.rehashSha256sum.ms} ms (sha256sum)`);

  // The floor of any restart: a hub with no nodes, started a second time (its TLS identity
  // exists), from spawn to hub.json (listening on both ports).
  const emptyDir = path.join(workDir, 'empty-hub');
  for (let i = 0; i < 2; i++) {
    const h = await Hub.start(emptyDir, { pollMs: 5 });
    if (i === 1) baseline.emptyHubStartMs = Date.now() - h.startedAt;
    await h.stop();
  }
  progress(`baseline: a hub without nodes starts in ${baseline.emptyHubStartMs} ms`);

  const compareRoot = process.env.BENCH_RESTART_COMPARE ? path.resolve(process.env.BENCH_RESTART_COMPARE) : null;
  const restarts = [];
  for (let r = 0; r < rounds; r++) {
    const product = compareRoot && r % 2 === 1 ? 'compare' : 'measured';
    progress(`restart ${r + 1}/${rounds}: stopping the hub (SIGTERM)`);
    const s0 = Date.now();
    const stopped = await hub.stop();
    const stopMs = Date.now() - s0;
    syncDisks();
    progress(`hub stopped in ${stopMs} ms (exit ${JSON.stringify(stopped)}); starting it again on ${grpc}`);
    // BENCH_RESTART_PROF=dir: a CPU profile of the restarted hub (written when it stops).
    const prof = process.env.BENCH_RESTART_PROF;
    const args = settings.nodeArgs;
    const productRoot = settings.productRoot;
    if (prof) configure({ nodeArgs: [...args, '--cpu-prof', `--cpu-prof-dir=${path.join(prof, `${r}-${product}`)}`] });
    if (product === 'compare') configure({ productRoot: compareRoot });
    try {
      hub = await Hub.start(hub.dataDir, { grpc, pollMs: 5 });
    } finally {
      configure({ nodeArgs: args, productRoot });
    }
    const t0 = hub.startedAt;
    const hubJsonMs = Date.now() - t0;
    // The node was started by startPair; its reconnect backoff is part of what a user waits for.
    // Status is polled only once the hub has logged the node's reconnection, so that the
    // polling does not slow the hub's start-up (a status call with 100k files costs ~10 ms).
    const gate = () => hub.logLines().some((l) => l.msg === 'node.connected' && l.node === id && Date.parse(l.t) >= t0);
    const ready = await waitInSync(hub, id, { everyMs: pollMs, timeoutMs: 600_000, check: () => node.check(), gate });
    // The mirror's verification runs beside the sync: what it hashed counts, so wait for it
    // and read the status after it (as test/integration/sync.test.ts does).
    const verifiedLine = await waitFor(`the verification of mirror ${id}`, () => hub.logLines().find((l) => l.msg === 'mirror.verified' && l.node === id && Date.parse(l.t) >= t0 - 5), 600_000, pollMs);
    // CPU the restarted hub used up to here (all threads; its main thread apart): on a shared
    // machine a steadier measure of the work than the times.
    const cpu = cpuSnapshot(hub.p.proc.pid);
    const mainCpu = cpu?.threads.get(hub.p.proc.pid);
    const st = await hub.status();
    const stNode = st.nodes.find((n) => n.id === id);
    if (stNode?.state !== 'in-sync') throw new Error(`node ${id} is ${stNode?.state} after the mirror verification`);
    const ms = Math.max(ready.at, Date.parse(verifiedLine.t)) - t0;
    const hubLog = hub.logLines().filter((l) => Date.parse(l.t) >= t0 - 5);
    const at = (msg) => {
      const l = hubLog.find((x) => x.msg === msg && (msg !== 'node.connected' || x.node === id));
      return l ? Date.parse(l.t) - t0 : null;
    };
    const verified = hubLog.find((l) => l.msg === 'mirror.verified' && l.node === id) ?? null;
    const nodeLog = node.logLines();
    const retries = logSince(nodeLog, 'hub.unreachable', s0);
    const reconnected = logSince(nodeLog, 'hub.connected', t0)[0] ?? null;
    restarts.push({
      product,
      loadAvg1: round(os.loadavg()[0], 2),
      inSyncMs: ms,
      firstInSyncMs: ready.at - t0,
      hubCpuMs: cpu ? cpu.totalMs : null,
      hubMainThreadCpuMs: mainCpu ? mainCpu.userMs + mainCpu.sysMs : null,
      bytesHashedSinceStart: st.bytesHashedSinceStart,
      filesHashedSinceStart: st.filesHashedSinceStart,
      bytesReceived: stNode.bytesReceived,
      outOfSyncFiles: stNode.outOfSyncFiles,
      stopMs,
      breakdown: {
        hubJsonWrittenMs: hubJsonMs,
        hubListeningMs: at('hub.listening'),
        watcherReadyMs: at('mirror.watching'),
        mirrorVerifiedMs: at('mirror.verified'),
        mirrorVerify: verified && { files: verified.files, changed: verified.changed, deleted: verified.deleted, hashedFiles: verified.hashedFiles, hashedBytes: verified.hashedBytes, ms: verified.ms, walkAfterMs: verified.walkAfterMs ?? null },
        nodeConnectedMs: at('node.connected'),
        nodeWantFull: hubLog.find((x) => x.msg === 'node.connected' && x.node === id)?.wantFull ?? null,
        nodeReconnectAttemptsWhileDown: retries.length,
        nodeLastRetryDelayMs: retries.length ? retries[retries.length - 1].retryInMs : null,
        nodeSawHubMs: reconnected ? Date.parse(reconnected.t) - t0 : null,
      },
    });
    progress(`${product}: in-sync ${ms} ms after the hub's start; hashed ${st.bytesHashedSinceStart} bytes (${st.filesHashedSinceStart} files)`);
  }

  await node.stop();
  await hub.stop();

  const measured = restarts.filter((x) => x.product === 'measured');
  const worst = measured.reduce((a, b) => (b.inSyncMs > a.inSyncMs ? b : a));
  const maxHashed = Math.max(...measured.map((x) => x.bytesHashedSinceStart));
  const summary = (rs) => {
    const pick = (f) => rs.map(f);
    return {
      rounds: rs.length,
      inSyncMs: pick((x) => x.inSyncMs),
      firstInSyncMs: pick((x) => x.firstInSyncMs),
      hubListeningMs: pick((x) => x.breakdown.hubListeningMs),
      watcherReadyMs: pick((x) => x.breakdown.watcherReadyMs),
      mirrorVerifiedMs: pick((x) => x.breakdown.mirrorVerifiedMs),
      hubCpuMs: pick((x) => x.hubCpuMs),
      hubMainThreadCpuMs: pick((x) => x.hubMainThreadCpuMs),
      medianInSyncMs: rs.length ? percentile(pick((x) => x.inSyncMs), 50) : null,
    };
  };
  return {
    params,
    tree: { files: tree.files, bytes: tree.bytes, dirs: tree.dirs, generateMs: tree.ms },
    initialSync: initial,
    mirrorVerifiedIdentical: verify ? verify.ok : null,
    baseline,
    restarts,
    results: {
      restartToInSyncMs: worst.inSyncMs,
      bytesHashedSinceStart: maxHashed,
      fullRehashMsNodeCrypto: baseline.rehashNodeCrypto.ms,
      fullRehashMsSha256sum: baseline.rehashSha256sum.ms,
      emptyHubStartMs: baseline.emptyHubStartMs,
      speedupVsRehashSha256sum: round(baseline.rehashSha256sum.ms / worst.inSyncMs, 2),
      ...(compareRoot ? { byProduct: { measured: summary(measured), compare: { root: compareRoot, ...summary(restarts.filter((x) => x.product === 'compare')) } } } : {}),
    },
    goals: {
      bytesRehashed: goal('0 bytes', maxHashed, maxHashed === 0),
      restartToInSyncMs: goal('<= 1000 ms', worst.inSyncMs, worst.inSyncMs <= 1000),
    },
  };
});
