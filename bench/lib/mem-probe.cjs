/**
 * Preloaded (`node --require`) into the product's processes by bench/memory.mjs: every isolate
 * (the main thread and each worker_thread, which runs this preload too) appends its own V8 heap
 * figures to CORTEX_BENCH_MEM_DIR/mem-PID.jsonl every CORTEX_BENCH_MEM_MS (250) ms:
 * heapUsed/heapTotal, the heap's physical size, external memory and ArrayBuffers (this
 * isolate's), V8's malloced memory. The main thread also writes the process's RSS. An unref'd
 * timer: nothing else in the product changes.
 */
'use strict';
const dir = process.env.CORTEX_BENCH_MEM_DIR;
if (dir) {
  const fs = require('node:fs');
  const path = require('node:path');
  const v8 = require('node:v8');
  const wt = require('node:worker_threads');
  const file = path.join(dir, `mem-${process.pid}.jsonl`);
  const every = Number(process.env.CORTEX_BENCH_MEM_MS) > 0 ? Number(process.env.CORTEX_BENCH_MEM_MS) : 250;
  const MiB = 1024 * 1024;
  const r = (x) => Math.round((x / MiB) * 10) / 10;
  const sample = () => {
    try {
      const h = v8.getHeapStatistics();
      const m = process.memoryUsage();
      const line = {
        t: Date.now(), thread: wt.isMainThread ? 'main' : `worker-${wt.threadId}`,
        heapUsed: r(h.used_heap_size), heapTotal: r(h.total_heap_size), heapPhysical: r(h.total_physical_size),
        malloced: r(h.malloced_memory), external: r(h.external_memory ?? m.external), arrayBuffers: r(m.arrayBuffers),
        ...(wt.isMainThread ? { rss: r(m.rss) } : {}),
      };
      fs.appendFileSync(file, `${JSON.stringify(line)}\n`);
    } catch { /* gone */ }
  };
  const t = setInterval(sample, every);
  t.unref();
}
