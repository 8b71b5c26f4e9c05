#!/usr/bin/env node
/**
 * Delta benchmark: a 1 GiB file is synced; then 1 MiB in its middle is overwritten in place.
 * Measures the bytes the hub received for the update (status bytesReceived delta; goal
 * <= 1.2 MB) and the time from the end of the write until the mirror holds the new version and
 * the node is `in-sync` again. Then shifted content: one byte is inserted at the start of a
 * 64 MiB file synced along with it (a new version written beside it and renamed over it), which
 * moves every block: bytes received (goal <= 1 MiB) and time. Baseline in the same run, for
 * each update: rsync -a of the same update to a loopback rsync daemon (its delta algorithm;
 * bytes sent and time).
 *
 * Env: BENCH_SCALE; BENCH_DELTA_FILE_BYTES (1 GiB); BENCH_DELTA_CHANGE_BYTES (1 MiB, not
 * scaled); BENCH_DELTA_OFFSET (default: the middle, (size - change) / 2); BENCH_DELTA_ROUNDS
 * (1: updates measured, each at a different offset around the middle);
 * BENCH_DELTA_INSERT_FILE_BYTES (64 MiB, not scaled; 0: no insertion case); BENCH_RSYNC (1);
 * BENCH_DELTA_RSYNC_FSYNC (1: also `rsync -a --fsync` of each update, into a second copy);
 * BENCH_VERIFY (1).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  GiB, MiB, flag, generateBigFile, goal, logSince, main, param, progress, round, runRsync, sha256File,
  startPair, startRsyncDaemon, syncDisks, waitNode,
} from './lib.mjs';

await main('delta', async ({ workDir }) => {
  const size = param('BENCH_DELTA_FILE_BYTES', GiB);
  const change = Math.min(size, param('BENCH_DELTA_CHANGE_BYTES', MiB, { scaled: false }));
  const offset0 = param('BENCH_DELTA_OFFSET', Math.floor((size - change) / 2), { scaled: false, min: 0 });
  const rounds = param('BENCH_DELTA_ROUNDS', 1, { scaled: false });
  const insertSize = param('BENCH_DELTA_INSERT_FILE_BYTES', 64 * MiB, { scaled: false, min: 0 });
  const withRsync = flag('BENCH_RSYNC', true);
  const withFsync = withRsync && flag('BENCH_DELTA_RSYNC_FSYNC', true);
  const verify = flag('BENCH_VERIFY', true);
  const params = { size, change, offset: offset0, rounds, insertSize, rsync: withRsync, rsyncFsync: withFsync };

  const ws = path.join(workDir, 'workspace');
  const file = path.join(ws, 'big.bin');
  progress(`generating a ${size}-byte file`);
  const gen = generateBigFile(file, size);
  const insertFile = path.join(ws, 'shifted.bin');
  if (insertSize > 0) generateBigFile(insertFile, insertSize);
  progress(`generated in ${gen.ms} ms`);

  let rsyncInitial = null;
  let daemon = null;
  if (withRsync) {
    daemon = await startRsyncDaemon(workDir);
    syncDisks();
    progress('rsync: initial copy');
    rsyncInitial = await runRsync(['-a'], ws, daemon.url('delta'));
    // A second copy for `rsync -a --fsync` of each update (the hub fsyncs what it commits).
    if (withFsync) await runRsync(['-a'], ws, daemon.url('delta-fsync'));
  }

  syncDisks();
  progress('initial sync');
  const pair = await startPair(workDir, ws);
  const { hub, node, id } = pair;
  progress(`in-sync after ${pair.syncMs} ms`);
  const mirrorFile = path.join(hub.mirror(id), 'big.bin');

  /**
   * Waits until `mirrorPath` was replaced (a new inode: commits are renames) and the node is
   * in-sync; returns the figures of the update since `t0` (`before`: the node's status before).
   */
  const measure = async (wsPath, mirrorPath, ino0, before, connectsBefore, t0) => {
    const replaced = () => {
      try { return fs.statSync(mirrorPath).ino !== ino0; } catch { return false; }
    };
    const ready = await waitNode(hub, id, 'the update to reach the mirror and the node to be in-sync',
      (n) => replaced() && n.state === 'in-sync',
      { everyMs: 10, timeoutMs: 600_000, check: () => node.check(), gate: replaced, gateEveryMs: 5 });
    const ms = ready.at - t0;
    const connectsAfter = hub.logLines().filter((l) => l.msg === 'node.connected').length;
    const scan = logSince(node.logLines(), 'scan.done', t0 - 1).find((l) => l.hashedFiles > 0) ?? null;
    // Where the time went (ms since the end of the write), from the logs' timestamps (ms
    // resolution); the hub's file.committed line is logged at debug (BENCH_LOG_LEVEL=debug).
    const at = (l) => (l ? Date.parse(l.t) - t0 : null);
    const wire = path.relative(ws, wsPath).split(path.sep).join('/');
    const commit = logSince(hub.logLines(), 'file.committed', t0 - 1).find((l) => l.path === wire) ?? null;
    const acked = logSince(node.logLines(), 'sync.complete', t0 - 1)[0] ?? null;
    const breakdown = {
      nodeScanStart: scan ? at(scan) - scan.ms : null,
      nodeScanDone: at(scan),
      hubBuildStart: commit?.buildMs != null ? at(commit) - commit.buildMs - commit.syncMs : null,
      hubBuildMs: commit?.buildMs ?? null,
      hubFsyncMs: commit?.syncMs ?? null,
      hubCommitted: at(commit),
      hubCopiedBytes: commit?.copied ?? null,
      nodeAcked: at(acked),
      inSync: ms,
    };
    const upd = {
      inSyncMs: ms,
      breakdown,
      bytesReceived: ready.node.bytesReceived - before.bytesReceived,
      bytesReused: ready.node.bytesReused - before.bytesReused,
      sameSession: connectsAfter === connectsBefore,
      nodeRescan: scan && { hashedBytes: scan.hashedBytes, ms: scan.ms },
      mirrorIdentical: null,
    };
    if (verify) {
      progress('verifying the mirror file');
      upd.mirrorIdentical = sha256File(wsPath) === sha256File(mirrorPath);
      if (!upd.mirrorIdentical) throw new Error(`the mirror file differs from the workspace file after the update (${wsPath})`);
    }
    if (daemon) {
      syncDisks();
      progress('rsync: the same update');
      upd.rsync = await runRsync(['-a'], ws, daemon.url('delta'));
      if (withFsync) {
        syncDisks();
        progress('rsync --fsync: the same update');
        upd.rsyncFsync = await runRsync(['-a', '--fsync'], ws, daemon.url('delta-fsync'));
      }
    }
    return upd;
  };

  const updates = [];
  for (let r = 0; r < rounds; r++) {
    // Later rounds move the change by a few blocks so that each one is a fresh difference.
    const offset = Math.min(size - change, Math.max(0, offset0 + r * 3 * change));
    const before = await hub.node(id);
    const connectsBefore = hub.logLines().filter((l) => l.msg === 'node.connected').length;
    const ino0 = fs.statSync(mirrorFile).ino;
    syncDisks();
    const data = crypto.randomBytes(change);
    progress(`update ${r + 1}/${rounds}: overwriting ${change} bytes at offset ${offset}`);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, data, 0, change, offset);
    fs.closeSync(fd);
    const t0 = Date.now();
    const upd = { offset, ...(await measure(file, mirrorFile, ino0, before, connectsBefore, t0)) };
    updates.push(upd);
    progress(`update: ${upd.bytesReceived} bytes received, ${upd.bytesReused} reused, in-sync after ${upd.inSyncMs} ms${upd.rsync ? `; rsync ${upd.rsync.ms} ms, sent ${upd.rsync.stats.totalBytesSent} bytes` : ''}`);
  }

  // Shifted content: one byte inserted at the start of the 64 MiB file.
  let insertion = null;
  if (insertSize > 0) {
    const mirrorInsert = path.join(hub.mirror(id), 'shifted.bin');
    const before = await hub.node(id);
    const connectsBefore = hub.logLines().filter((l) => l.msg === 'node.connected').length;
    const ino0 = fs.statSync(mirrorInsert).ino;
    const next = Buffer.concat([Buffer.from([0x2a]), fs.readFileSync(insertFile)]);
    const tmp = path.join(workDir, 'shifted.next');
    fs.writeFileSync(tmp, next);
    syncDisks();
    progress(`insertion: one byte at the start of the ${insertSize}-byte file`);
    fs.renameSync(tmp, insertFile);
    const t0 = Date.now();
    insertion = await measure(insertFile, mirrorInsert, ino0, before, connectsBefore, t0);
    progress(`insertion: ${insertion.bytesReceived} bytes received, ${insertion.bytesReused} reused, in-sync after ${insertion.inSyncMs} ms${insertion.rsync ? `; rsync ${insertion.rsync.ms} ms, sent ${insertion.rsync.stats.totalBytesSent} bytes` : ''}`);
  }
  await node.stop();
  await hub.stop();
  await daemon?.stop();

  const worstBytes = Math.max(...updates.map((u) => u.bytesReceived));
  const worstMs = Math.max(...updates.map((u) => u.inSyncMs));
  const u0 = updates[0];
  const sameSession = updates.every((u) => u.sameSession) && (insertion?.sameSession ?? true);
  const timeRatio = u0.rsync ? round(u0.inSyncMs / u0.rsync.ms, 2) : null;
  return {
    params,
    initialSync: { ms: pair.syncMs, bytesReceived: pair.status.bytesReceived, rsyncMs: rsyncInitial?.ms ?? null },
    updates,
    insertion,
    results: {
      bytesReceived: worstBytes,
      inSyncMs: worstMs,
      rsyncBytesSent: u0.rsync?.stats.totalBytesSent ?? null,
      rsyncMs: u0.rsync?.ms ?? null,
      ratioTimeOursToRsync: timeRatio,
      rsyncFsyncMs: u0.rsyncFsync?.ms ?? null,
      ratioTimeOursToRsyncFsync: u0.rsyncFsync ? round(u0.inSyncMs / u0.rsyncFsync.ms, 2) : null,
      breakdown: u0.breakdown,
      insertion: insertion && {
        bytesReceived: insertion.bytesReceived,
        inSyncMs: insertion.inSyncMs,
        rsyncBytesSent: insertion.rsync?.stats.totalBytesSent ?? null,
        rsyncMs: insertion.rsync?.ms ?? null,
        ratioTimeOursToRsync: insertion.rsync ? round(insertion.inSyncMs / insertion.rsync.ms, 2) : null,
      },
    },
    goals: {
      bytesReceived: goal('<= 1,200,000 bytes (1.2 MB)', worstBytes, worstBytes <= 1_200_000 && sameSession),
      time: goal('<= 1.0 x rsync\'s delta of the same update (first update)', timeRatio, timeRatio !== null && timeRatio <= 1.0),
      ...(insertion ? { insertionBytesReceived: goal(`<= ${MiB} bytes (1 MiB)`, insertion.bytesReceived, insertion.bytesReceived <= MiB && sameSession) } : {}),
    },
    notes: sameSession ? [] : ['the node reconnected during an update: bytesReceived is per session, so that delta is not comparable'],
  };
});
