/**
 * Preloaded (`node --require`) into the product's processes by the benchmarks that report CPU
 * per thread (lib/procstat.mjs). Node 20 names every thread "node" in /proc/PID/task/TID/comm,
 * so this notes which thread is which in CORTEX_BENCH_THREADS_DIR/threads-PID.jsonl: the main
 * thread; the threads that exist before any JS runs ("v8-platform": V8's platform workers for
 * GC and compilation, and Node's own helper threads);
 * the libuv pool (created by the first async fs call, made here); and each worker_thread (it
 * runs this preload too: the product's only workers are the fs pool's, main/sync/fs-pool.ts).
 * A few syscalls at start; nothing else in the product changes.
 */
'use strict';
const dir = process.env.CORTEX_BENCH_THREADS_DIR;
if (dir) {
  const fs = require('node:fs');
  const path = require('node:path');
  const wt = require('node:worker_threads');
  const file = path.join(dir, `threads-${process.pid}.jsonl`);
  const note = (label, tids) => fs.appendFileSync(file, `${JSON.stringify({ label, tids })}\n`);
  const tasks = () => fs.readdirSync('/proc/self/task').map(Number);
  try {
    if (wt.isMainThread) {
      const before = tasks();
      note('main', [process.pid]);
      note('v8-platform', before.filter((t) => t !== process.pid));
      // The pool's threads are created inside this first async call, before it returns (read
      // the list now: by the callback, the product's own start-up may have added threads).
      fs.stat(__filename, () => {});
      note('libuv-pool', tasks().filter((t) => !before.includes(t)));
    } else {
      note('fs-worker', [Number(fs.readlinkSync('/proc/thread-self').split('/').pop())]);
    }
  } catch { /* not Linux: no labels, the bench reports threads unlabelled */ }
}
