/**
 * Preload (`--require`) for profiling runs: notes every stall of the main thread's event loop
 * of at least CORTEX_LAG_PROBE_MS (default 15) as a window of the monotonic clock (µs, the
 * clock of `--cpu-prof` profiles) with the CPU time the main thread used in it (Linux:
 * /proc/thread-self/schedstat; on a loaded machine a stall is partly waiting for a core, its
 * CPU time is what the thread itself did), and writes them at exit to
 * CORTEX_LAG_PROBE_DIR/lag-PID.json. `long-tasks.mjs PROFILE --lag FILE` then says what the
 * thread was doing in each of those windows.
 */
'use strict';
const { isMainThread } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');

const dir = process.env.CORTEX_LAG_PROBE_DIR;
if (isMainThread && dir) {
  const min = Number(process.env.CORTEX_LAG_PROBE_MS) || 15;
  const EVERY = 2;
  const now = () => Number(process.hrtime.bigint() / 1000n);
  let fd = -1;
  try {
    fd = fs.openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    // (no CPU time then)
  }
  const buf = Buffer.alloc(128);
  const cpuUs = () => {
    if (fd < 0) return 0;
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return Number(buf.toString('latin1', 0, n).split(' ')[0]) / 1000;
  };
  const stalls = [];
  /** Windows by the main thread's CPU ms in them: [0-5), [5-10), [10-15), [15-20), [20-50), [50+). */
  const cpuHist = [0, 0, 0, 0, 0, 0];
  let last = now();
  let lastCpu = cpuUs();
  setInterval(() => {
    const t = now();
    const c = cpuUs();
    const cpuMs = (c - lastCpu) / 1000;
    cpuHist[cpuMs < 5 ? 0 : cpuMs < 10 ? 1 : cpuMs < 15 ? 2 : cpuMs < 20 ? 3 : cpuMs < 50 ? 4 : 5]++;
    if ((t - last) / 1000 - EVERY >= min || cpuMs >= min) stalls.push({ startUs: last, endUs: t, cpuMs: Math.round(cpuMs * 10) / 10 });
    last = t;
    lastCpu = c;
  }, EVERY).unref();
  process.on('exit', () => {
    try {
      fs.writeFileSync(path.join(dir, `lag-${process.pid}.json`), JSON.stringify({ pid: process.pid, argv: process.argv.slice(1, 4), minMs: min, cpuHist, stalls }));
    } catch {
      // (a probe never fails the process)
    }
  });
}
