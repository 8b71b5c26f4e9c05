#!/usr/bin/env node
/**
 * Durability benchmark (issue 13, group commit): what it costs to make N small files durable
 * when each is written to a staging file and renamed into place, flushed in different ways.
 * No product code runs: this measures the file system and the candidate barriers.
 *
 * N files of 1 KiB (BENCH_DURABILITY_FILES, 20,000 × BENCH_SCALE) go into a target tree of
 * BENCH_DURABILITY_PER_DIR (1000) files per directory, each way in a fresh directory:
 *   none            write staged file, rename; nothing flushed (what rsync -a does)
 *   groupSyncF      per batch (BENCH_DURABILITY_BATCH, 1000): write all staged files, one
 *                   `sync -f` (syncfs(2) via coreutils, execFile awaited), rename all, one `sync -f`
 *   groupSyncFDirs  the same, with fsync of each touched directory (target and staging) as the
 *                   second barrier instead of `sync -f`
 *   fdatasync64     per file: open, write, fdatasync, close, 64 in flight (fs.promises); then
 *                   rename; fsync of each touched directory once per batch
 *   fsyncSerial     per file, serially: write, fsync, rename, fsync of the target directory
 *                   (today's commit in main/sync/fs-worker.ts)
 * Wall time and CPU of this process (process.cpuUsage: user + system; a `sync` child's own CPU
 * and the kernel's writeback threads are not in it) for each. Before each way, a global `sync`
 * (untimed) flushes what the previous one left dirty; target directories are made untimed.
 * Also: whether `sync -f` exists and works here, and the cost of one `sync -f` on an idle file
 * system (median of BENCH_DURABILITY_IDLE_CALLS, 20).
 *
 * Env: BENCH_SCALE; BENCH_DURABILITY_FILES (20,000); BENCH_DURABILITY_BATCH (1000, not scaled);
 * BENCH_DURABILITY_PER_DIR (1000, not scaled); BENCH_DURABILITY_IDLE_CALLS (20, not scaled);
 * BENCH_DURABILITY_WAYS (all, comma-separated).
 */
import { execFile, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { KiB, main, param, percentile, progress, round, syncDisks } from './lib.mjs';

const execFileP = promisify(execFile);
const FILE_BYTES = KiB;

/** One `sync -f DIR`: resolves with its time in ms; rejects if it fails. */
async function syncF(dir) {
  const t0 = process.hrtime.bigint();
  await execFileP('sync', ['-f', dir]);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function fsyncDir(dir) {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}

/** The content of file i: a shared random KiB with the index in front (every file differs). */
function content(base, i) {
  const b = Buffer.from(base);
  b.writeUInt32LE(i, 0);
  return b;
}

await main('durability', async ({ workDir }) => {
  const files = param('BENCH_DURABILITY_FILES', 20_000);
  const batch = param('BENCH_DURABILITY_BATCH', 1000, { scaled: false });
  const perDir = param('BENCH_DURABILITY_PER_DIR', 1000, { scaled: false });
  const idleCalls = param('BENCH_DURABILITY_IDLE_CALLS', 20, { scaled: false });
  const allWays = ['none', 'groupSyncF', 'groupSyncFDirs', 'fdatasync64', 'fsyncSerial'];
  const ways = (process.env.BENCH_DURABILITY_WAYS || allWays.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const w of ways) if (!allWays.includes(w)) throw new Error(`unknown way ${w} in BENCH_DURABILITY_WAYS (one of ${allWays.join(', ')})`);
  const params = { files, fileBytes: FILE_BYTES, batch, perDir, idleCalls, ways };
  const base = crypto.randomBytes(FILE_BYTES);

  // Does `sync -f` exist and work here?
  const version = spawnSync('sync', ['--version'], { encoding: 'utf8' });
  const probe = spawnSync('sync', ['-f', workDir], { encoding: 'utf8' });
  const syncFProbe = {
    versionLine: version.error ? null : (version.stdout.split('\n')[0] ?? null),
    exitCode: probe.error ? null : probe.status,
    error: probe.error ? String(probe.error.message) : (probe.stderr.trim() || null),
    works: !probe.error && probe.status === 0,
  };
  progress(`sync -f: ${syncFProbe.versionLine}, exit ${syncFProbe.exitCode}`);

  let idle = null;
  if (syncFProbe.works) {
    syncDisks();
    const times = [];
    for (let i = 0; i < idleCalls; i++) times.push(await syncF(workDir));
    idle = { calls: idleCalls, medianMs: round(percentile(times, 50), 2), minMs: round(Math.min(...times), 2), maxMs: round(Math.max(...times), 2) };
    progress(`idle sync -f: median ${idle.medianMs} ms`);
  }

  const cases = {};
  for (const way of ways) {
    if ((way === 'groupSyncF' || way === 'groupSyncFDirs') && !syncFProbe.works) {
      cases[way] = { skipped: 'sync -f does not work here' };
      continue;
    }
    const dir = path.join(workDir, way);
    const staging = path.join(dir, 'staging');
    const target = path.join(dir, 'target');
    const dirs = Math.ceil(files / perDir);
    fs.mkdirSync(staging, { recursive: true });
    for (let d = 0; d < dirs; d++) fs.mkdirSync(path.join(target, `d${d}`), { recursive: true });
    const tmpOf = (i) => path.join(staging, `${i}.tmp`);
    const finalOf = (i) => path.join(target, `d${Math.floor(i / perDir)}`, `f${i}.bin`);
    const touchedDirs = (from, to) => {
      const s = new Set([staging]);
      for (let i = from; i < to; i++) s.add(path.dirname(finalOf(i)));
      return [...s];
    };
    syncDisks();
    progress(`${way}: ${files} files`);
    let barriers = 0;
    let barrierMs = 0;
    const barrier = async (d) => { barriers++; barrierMs += await syncF(d); };
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    if (way === 'none') {
      for (let i = 0; i < files; i++) {
        fs.writeFileSync(tmpOf(i), content(base, i));
        fs.renameSync(tmpOf(i), finalOf(i));
      }
    } else if (way === 'groupSyncF' || way === 'groupSyncFDirs') {
      for (let from = 0; from < files; from += batch) {
        const to = Math.min(files, from + batch);
        for (let i = from; i < to; i++) fs.writeFileSync(tmpOf(i), content(base, i));
        await barrier(staging);
        for (let i = from; i < to; i++) fs.renameSync(tmpOf(i), finalOf(i));
        if (way === 'groupSyncF') await barrier(target);
        else for (const d of touchedDirs(from, to)) fsyncDir(d);
      }
    } else if (way === 'fdatasync64') {
      for (let from = 0; from < files; from += batch) {
        const to = Math.min(files, from + batch);
        let next = from;
        const lane = async () => {
          while (next < to) {
            const i = next++;
            const fh = await fs.promises.open(tmpOf(i), 'w');
            try {
              await fh.writeFile(content(base, i));
              await fh.datasync();
            } finally {
              await fh.close();
            }
            fs.renameSync(tmpOf(i), finalOf(i));
          }
        };
        await Promise.all(Array.from({ length: 64 }, lane));
        for (const d of touchedDirs(from, to)) fsyncDir(d);
      }
    } else if (way === 'fsyncSerial') {
      for (let i = 0; i < files; i++) {
        const fd = fs.openSync(tmpOf(i), 'w');
        try {
          fs.writeSync(fd, content(base, i));
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(tmpOf(i), finalOf(i));
        fsyncDir(path.dirname(finalOf(i)));
      }
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpu = process.cpuUsage(cpu0);
    // Untimed check: every file is in place, none left in staging.
    let placed = 0;
    for (let d = 0; d < dirs; d++) placed += fs.readdirSync(path.join(target, `d${d}`)).length;
    const left = fs.readdirSync(staging).length;
    if (placed !== files || left !== 0) throw new Error(`${way}: ${placed} of ${files} files in place, ${left} left in staging`);
    cases[way] = {
      ms: round(ms, 1),
      filesPerS: round(files / (ms / 1000), 0),
      cpuMs: round((cpu.user + cpu.system) / 1000, 1),
      cpuUserMs: round(cpu.user / 1000, 1),
      cpuSysMs: round(cpu.system / 1000, 1),
      cpuUsPerFile: round((cpu.user + cpu.system) / files, 1),
      syncFCalls: barriers,
      syncFMs: barriers ? round(barrierMs, 1) : null,
    };
    progress(`${way}: ${cases[way].ms} ms, CPU ${cases[way].cpuMs} ms${barriers ? `, ${barriers} sync -f in ${cases[way].syncFMs} ms` : ''}`);
  }

  const ms = (w) => cases[w]?.ms ?? null;
  const ratio = (a, b) => (ms(a) && ms(b) ? round(ms(a) / ms(b), 2) : null);
  const results = {};
  for (const w of ways) {
    results[w] = { ms: ms(w), cpuMs: cases[w]?.cpuMs ?? null, ratioToNone: ratio(w, 'none'), ratioToFsyncSerial: ratio(w, 'fsyncSerial') };
  }
  return {
    params,
    syncF: { ...syncFProbe, idle },
    cases,
    results,
    goals: {},
    notes: [
      'CPU is this process only (process.cpuUsage): the sync child processes and the kernel writeback/journal threads are not counted',
      'ratios are against ways measured in the same run; the machine may be shared',
    ],
  };
});
