/**
 * Floors of a durable initial sync, measured on the same tree in the same run as the product
 * and rsync (initial-sync.mjs, initial-sync-to-node.mjs). `rsync -a` flushes nothing, so a
 * durable copy has a floor of its own; these say where it is:
 *
 *   durableWriteFloor  a plain writer in this process copying the tree into a fresh directory
 *                      the way group commit does at best (main/sync/group-commit.ts): read each
 *                      source file, write it to a staging file (mode and mtime through the fd),
 *                      and per batch of the product's size (COMMIT_BATCH files / COMMIT_BATCH_BYTES)
 *                      one barrier (the product's syncfs helper, barrier.ts), the renames into
 *                      place, a second barrier. One thread, no network, no hashing, no records.
 *   hashFloor          SHA-256 of every byte of the tree (walk included) with as many threads as
 *                      the product's hashing pool has (fs-pool.ts defaultPoolSize). A sync
 *                      hashes the tree twice: the sender before it sends, the receiver when it
 *                      verifies what it got.
 *   cpuFloor           their CPU together (the write once, the hash twice), per file, and as
 *                      wall time spread over every core: no sync that writes durably and hashes
 *                      on both sides can use less CPU, however it is pipelined.
 *
 * CPU is this process's (process.cpuUsage: every thread, user + system); not in it: the
 * barrier helper's `sync` children and the kernel's write-back threads.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { chosenProduct } from './product.mjs';
import { progress, round } from './report.mjs';
import { syncDisks } from './sync.mjs';
import { listFiles } from './trees.mjs';

const require = createRequire(import.meta.url);
const CORES = os.availableParallelism?.() ?? os.cpus().length;

/**
 * What the floors take from the product measured: its barrier helper, its commit batch and its
 * hashing pool's size. Without them (a build from before they were exported): `sync -f` by
 * spawnSync, and the figures are said to be guesses.
 */
function productParts() {
  const dist = path.join(chosenProduct(), 'dist', 'main', 'sync');
  try {
    const { SyncFsBarrier } = require(path.join(dist, 'barrier.js'));
    const pool = require(path.join(dist, 'fs-pool.js'));
    if (!pool.COMMIT_BATCH || !pool.defaultPoolSize) throw new Error('fs-pool.js does not export COMMIT_BATCH / defaultPoolSize');
    return { barrier: new SyncFsBarrier(), barrierHow: "the product's SyncFsBarrier (sync -f helper)", batchFiles: pool.COMMIT_BATCH, batchBytes: pool.COMMIT_BATCH_BYTES, hashThreads: pool.defaultPoolSize() };
  } catch (e) {
    const barrier = {
      sync: (dir) => {
        const r = spawnSync('sync', ['-f', dir], { stdio: 'ignore' });
        if (r.status !== 0) throw new Error(`sync -f ${dir} failed`);
      },
      close: () => undefined,
    };
    return { barrier, barrierHow: `spawnSync sync -f (${e.message})`, batchFiles: 128, batchBytes: 4 * 1024 * 1024, hashThreads: Math.max(1, Math.min(4, CORES)), guessed: true };
  }
}

const elapsedMs = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const cpuMsSince = (c0) => {
  const c = process.cpuUsage(c0);
  return { userMs: c.user / 1000, sysMs: c.system / 1000 };
};

/** Reads a whole file: its bytes and its stat (one open, fstat, read, close). */
function readSource(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const st = fs.fstatSync(fd);
    const data = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = fs.readSync(fd, data, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return { data: data.subarray(0, off), st };
  } finally {
    fs.closeSync(fd);
  }
}

/** The durable write floor: `src` copied into the fresh `dest` as described above. */
export function durableWriteFloor(src, dest, parts) {
  const { barrier, batchFiles, batchBytes } = parts;
  const staging = path.join(dest, '.staging');
  fs.mkdirSync(staging, { recursive: true });
  const made = new Set();
  let batch = [];
  let bytesInBatch = 0;
  let bytes = 0;
  let barrierMs = 0;
  let barriers = 0;
  let batches = 0;
  const sync = (dir) => {
    const t = process.hrtime.bigint();
    barrier.sync(dir);
    barrierMs += elapsedMs(t);
    barriers++;
  };
  const flush = () => {
    sync(staging);
    for (const { tmp, rel } of batch) {
      const dir = path.dirname(rel);
      if (!made.has(dir)) {
        fs.mkdirSync(path.join(dest, dir), { recursive: true });
        made.add(dir);
      }
      fs.renameSync(tmp, path.join(dest, rel));
    }
    sync(dest);
    batches++;
    batch = [];
    bytesInBatch = 0;
  };
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const files = listFiles(src);
  files.forEach((rel, i) => {
    const { data, st } = readSource(path.join(src, rel));
    const tmp = path.join(staging, `${i}.tmp`);
    const fd = fs.openSync(tmp, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600);
    try {
      let off = 0;
      while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off, off);
      fs.fchmodSync(fd, st.mode & 0o777);
      fs.futimesSync(fd, st.atime, st.mtime);
    } finally {
      fs.closeSync(fd);
    }
    batch.push({ tmp, rel });
    bytesInBatch += data.length;
    bytes += data.length;
    if (batch.length >= batchFiles || bytesInBatch >= batchBytes) flush();
  });
  if (batch.length) flush();
  const ms = elapsedMs(t0);
  const { userMs, sysMs } = cpuMsSince(c0);
  return {
    ms: round(ms, 1), cpuMs: round(userMs + sysMs, 1), userMs: round(userMs, 1), sysMs: round(sysMs, 1),
    cpuUsPerFile: round(((userMs + sysMs) * 1000) / files.length, 1),
    files: files.length, bytes, batches, barriers, barrierMs: round(barrierMs, 1), batchFiles, batchBytes,
  };
}

/** The hash floor: SHA-256 of every byte under `src` with `threads` threads (walk included, thread start-up not). */
export async function hashFloor(src, threads) {
  const file = new URL('./hash-floor-worker.mjs', import.meta.url);
  const workers = Array.from({ length: threads }, () => new Worker(file));
  try {
    await Promise.all(workers.map((w) => new Promise((resolve, reject) => {
      w.once('error', reject);
      w.once('message', resolve);
    })));
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const files = listFiles(src).map((rel) => path.join(src, rel));
    const done = workers.map((w, k) => new Promise((resolve, reject) => {
      w.once('error', reject);
      w.once('message', resolve);
      w.postMessage(files.filter((_, i) => i % threads === k));
    }));
    const got = await Promise.all(done);
    const ms = elapsedMs(t0);
    const { userMs, sysMs } = cpuMsSince(c0);
    const bytes = got.reduce((a, g) => a + g.bytes, 0);
    return {
      ms: round(ms, 1), cpuMs: round(userMs + sysMs, 1), userMs: round(userMs, 1), sysMs: round(sysMs, 1),
      cpuUsPerFile: round(((userMs + sysMs) * 1000) / files.length, 1), threads, files: files.length, bytes,
      MiBps: round(bytes / 1048576 / (ms / 1000), 1),
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Both floors on `src`, after a `sync` each: the durable write into `dir` (fresh; left for the
 * run's clean-up, as the other copies are) and the hash. `label` names the run in progress lines.
 */
export async function floorBaselines(name, label, src, dir) {
  const parts = productParts();
  try {
    syncDisks();
    progress(`[${name}] ${label}: durable write floor (batches of ${parts.batchFiles} files / ${parts.batchBytes} B, ${parts.barrierHow})`);
    const write = { ...durableWriteFloor(src, dir, parts), barrierHow: parts.barrierHow, ...(parts.guessed ? { guessed: true } : {}) };
    progress(`[${name}] ${label}: durable write floor ${write.ms} ms (CPU ${write.cpuMs} ms, ${write.barriers} barriers ${write.barrierMs} ms)`);
    syncDisks();
    const hash = await hashFloor(src, parts.hashThreads);
    progress(`[${name}] ${label}: hash floor ${hash.ms} ms on ${hash.threads} threads (CPU ${hash.cpuMs} ms)`);
    return { durableWriteFloor: write, hashFloor: hash };
  } finally {
    parts.barrier.close();
  }
}

/** Of several runs' floors (BENCH_REPEAT), each floor's median run. */
export function medianFloors(runs) {
  const mid = (k) => {
    const s = runs.map((r) => r[k]).sort((a, b) => a.ms - b.ms);
    return s[Math.floor((s.length - 1) / 2)];
  };
  return runs.length ? { durableWriteFloor: mid('durableWriteFloor'), hashFloor: mid('hashFloor') } : null;
}

/**
 * A case's figures against its floors: ours / each floor, the floors / `rsync -a` (whether the
 * goal is within reach of a durable copy at all), and CPU per file, ours against the floor's.
 */
export function floorResults(tree, oursMs, rsyncMs, floors, run) {
  if (!floors) return null;
  const { durableWriteFloor: w, hashFloor: h } = floors;
  const cpuFloorMs = w.cpuMs + 2 * h.cpuMs;
  const ratio = (a, b) => (a === null || !b ? null : round(a / b, 2));
  const perFile = (ms) => (ms === null || ms === undefined ? null : round((ms * 1000) / tree.files, 1));
  const hubMs = run?.procs?.hub?.cpu?.totalMs ?? null;
  const nodeMs = run?.procs?.node?.cpu?.totalMs ?? null;
  return {
    durableWriteFloorMs: w.ms,
    hashFloorMs: h.ms,
    /** The CPU of the floors (write once, hash on both sides) spread over every core. */
    cpuFloorMs: round(cpuFloorMs / CORES, 1),
    cores: CORES,
    ratioOursToDurableWriteFloor: ratio(oursMs, w.ms),
    ratioOursToCpuFloor: ratio(oursMs, cpuFloorMs / CORES),
    ratioDurableWriteFloorToRsync: ratio(w.ms, rsyncMs),
    cpuUsPerFile: {
      floor: { write: w.cpuUsPerFile, hashOneSide: h.cpuUsPerFile, total: perFile(cpuFloorMs) },
      ours: { hub: perFile(hubMs), node: perFile(nodeMs), total: hubMs === null || nodeMs === null ? null : perFile(hubMs + nodeMs) },
      ratioOursToFloor: hubMs === null || nodeMs === null ? null : ratio(hubMs + nodeMs, cpuFloorMs),
    },
  };
}

/** A progress line's tail: ours against the floors. */
export function floorsLine(f) {
  return f ? `; floors: durable write ${f.durableWriteFloorMs} ms (ours ${f.ratioOursToDurableWriteFloor}x), CPU ${f.cpuFloorMs} ms (ours ${f.ratioOursToCpuFloor}x), CPU/file ours ${f.cpuUsPerFile.ours.total} vs ${f.cpuUsPerFile.floor.total} us` : '';
}
