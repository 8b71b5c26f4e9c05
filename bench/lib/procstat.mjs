/**
 * Memory and CPU per thread of a live product process, from /proc (Linux): RSS now and peak
 * (VmRSS, VmHWM), and user + system CPU of each thread (/proc/PID/task/TID/stat) grouped by
 * what the thread is (labels written by thread-labels.cjs, preloaded with labelThreads()).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configure, settings } from '../../harness/procs.mjs';
import { round } from './report.mjs';

const TICK_MS = 10; // CLK_TCK 100 on Linux

/**
 * Preloads thread-labels.cjs into every product process started from now on; their labels go
 * to `dir`. Off with BENCH_THREAD_LABELS=0 (threads are then all "other" but main).
 */
export function labelThreads(dir) {
  if (['0', 'false', 'no', 'off'].includes(String(process.env.BENCH_THREAD_LABELS ?? '').toLowerCase())) return;
  fs.mkdirSync(dir, { recursive: true });
  process.env.CORTEX_BENCH_THREADS_DIR = dir;
  const preload = path.join(path.dirname(fileURLToPath(import.meta.url)), 'thread-labels.cjs');
  configure({ nodeArgs: [...settings.nodeArgs, '--require', preload] });
}

/** tid → label for a process started after labelThreads(); a later, more specific label wins. */
function labels(pid) {
  const dir = process.env.CORTEX_BENCH_THREADS_DIR;
  const out = new Map();
  if (!dir) return out;
  let text = '';
  try { text = fs.readFileSync(path.join(dir, `threads-${pid}.jsonl`), 'utf8'); } catch { return out; }
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const { label, tids } = JSON.parse(line);
      for (const t of tids) if (!out.has(t) || label === 'fs-worker') out.set(t, label);
    } catch { /* a torn line */ }
  }
  return out;
}

/** user/system ms of a /proc stat file (fields 14 and 15 of stat(5)). */
function statMs(file) {
  const s = fs.readFileSync(file, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { userMs: Number(f[11]) * TICK_MS, sysMs: Number(f[12]) * TICK_MS };
}

/** CPU of the process and of each live thread now: { totalMs, userMs, sysMs, threads: Map tid → {userMs, sysMs} }; null if gone. */
export function cpuSnapshot(pid) {
  try {
    const p = statMs(`/proc/${pid}/stat`);
    const threads = new Map();
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      try { threads.set(Number(t), statMs(`/proc/${pid}/task/${t}/stat`)); } catch { /* exited meanwhile */ }
    }
    return { ...p, totalMs: p.userMs + p.sysMs, threads };
  } catch {
    return null;
  }
}

/**
 * CPU used between two snapshots (`before` null: since the process started), grouped by
 * thread label: { totalMs, userMs, sysMs, byThread: { main: { ms, userMs, sysMs, threads }, ... } }.
 * `exited` is CPU of threads that ended in between (the process's total minus the live threads').
 */
export function cpuBetween(pid, before, after) {
  if (!after) return null;
  const lab = labels(pid);
  const groups = {};
  let liveMs = 0;
  for (const [tid, a] of after.threads) {
    const b = before?.threads.get(tid) ?? { userMs: 0, sysMs: 0 };
    const userMs = a.userMs - b.userMs;
    const sysMs = a.sysMs - b.sysMs;
    const label = tid === pid ? 'main' : lab.get(tid) ?? 'other';
    const g = (groups[label] ??= { ms: 0, userMs: 0, sysMs: 0, threads: 0 });
    g.ms += userMs + sysMs;
    g.userMs += userMs;
    g.sysMs += sysMs;
    g.threads++;
    liveMs += userMs + sysMs;
  }
  const totalMs = after.totalMs - (before?.totalMs ?? 0);
  const exitedMs = totalMs - liveMs;
  if (exitedMs > 0) groups.exited = { ms: exitedMs, userMs: null, sysMs: null, threads: null };
  return { totalMs, userMs: after.userMs - (before?.userMs ?? 0), sysMs: after.sysMs - (before?.sysMs ?? 0), byThread: groups };
}

/** RSS now and peak (VmRSS, VmHWM) in MiB; nulls if the process is gone. */
export function memory(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => {
      const m = s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'));
      return m ? round(Number(m[1]) / 1024, 1) : null;
    };
    return { rssMiB: kb('VmRSS'), peakRssMiB: kb('VmHWM') };
  } catch {
    return { rssMiB: null, peakRssMiB: null };
  }
}

/** Compact figures for a `results` object: peak/end RSS and ms per thread group. */
export function procFigures(p) {
  if (!p) return null;
  const by = p.cpu ? Object.fromEntries(Object.entries(p.cpu.byThread).sort((a, b) => b[1].ms - a[1].ms).map(([k, v]) => [k, v.ms])) : null;
  return { peakRssMiB: p.mem.peakRssMiB, rssEndMiB: p.mem.rssMiB, cpuMs: p.cpu?.totalMs ?? null, cpuSysMs: p.cpu?.sysMs ?? null, cpuByThreadMs: by };
}
