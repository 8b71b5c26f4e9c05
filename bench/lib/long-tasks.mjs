#!/usr/bin/env node
/**
 * Long tasks of one thread from a V8 CPU profile (`node --cpu-prof`): stretches of samples
 * with no `(idle)` sample between them (the event loop did not get back to polling), longer
 * than a threshold, each with the functions that took most of it (by the outermost frame of
 * the product's own code, and by self time).
 *
 *   node bench/lib/long-tasks.mjs FILE.cpuprofile [minMs=10] [top=30] [--lag lag-PID.json]
 *
 * With `--lag` (the stalls lag-probe.cjs noted in the same process), the tasks are those
 * stalls instead: what the thread did while its event loop was late by minMs or more (a
 * stretch without idle samples can span several turns of the loop; a stall is one).
 */
import fs from 'node:fs';

const argv = process.argv.slice(2);
const lagAt = argv.indexOf('--lag');
const lagFile = lagAt >= 0 ? argv.splice(lagAt, 2)[1] : null;
const [file, minArg, topArg] = argv;
if (!file) {
  console.error('usage: long-tasks.mjs FILE.cpuprofile [minMs] [top]');
  process.exit(2);
}
const minMs = Number(minArg ?? 10);
const top = Number(topArg ?? 30);
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n) => {
  const f = n.callFrame;
  const url = f.url.replace(/^file:\/\//, '').replace(/.*\/dist\//, '');
  return `${f.functionName || '(anon)'}${url ? ` ${url}:${f.lineNumber + 1}` : ''}`;
};
const ours = (n) => /\/dist\/main\//.test(n.callFrame.url);
/** The outermost frame of our own code on the stack, else the innermost frame. */
const label = (id) => {
  let outer = null;
  for (let x = id; x !== undefined; x = parent.get(x)) {
    const n = byId.get(x);
    if (ours(n)) outer = n;
  }
  return name(outer ?? byId.get(id));
};
/** A few of our frames from the outermost in, for a fuller picture. */
const chain = (id, depth = 4) => {
  const frames = [];
  for (let x = id; x !== undefined; x = parent.get(x)) {
    const n = byId.get(x);
    if (ours(n)) frames.unshift(n.callFrame.functionName || '(anon)');
  }
  return frames.slice(0, depth).join(' > ') || name(byId.get(id));
};

const tasks = [];
let t = prof.startTime;
let cur = null;
for (let i = 0; i < prof.samples.length; i++) {
  t += prof.timeDeltas[i];
  const n = byId.get(prof.samples[i]);
  const idle = n.callFrame.functionName === '(idle)';
  if (idle) {
    if (cur) tasks.push(cur);
    cur = null;
    continue;
  }
  const dt = prof.timeDeltas[i + 1] ?? 0;
  if (!cur) cur = { start: t, end: t, samples: [] };
  cur.end = t + dt;
  cur.samples.push([prof.samples[i], dt]);
}
if (cur) tasks.push(cur);
let long = tasks.filter((x) => (x.end - x.start) / 1000 >= minMs);
if (lagFile) {
  // Each stall: the samples taken in its window (sample i is at the sum of the deltas up to i).
  const stalls = JSON.parse(fs.readFileSync(lagFile, 'utf8')).stalls.filter((x) => (x.endUs - x.startUs) / 1000 >= minMs);
  const at = [];
  let u = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) at.push((u += prof.timeDeltas[i]));
  long = stalls.map((w) => {
    const samples = [];
    for (let i = 0; i < at.length; i++) {
      if (at[i] < w.startUs || at[i] >= w.endUs) continue;
      const n = byId.get(prof.samples[i]);
      if (n.callFrame.functionName !== '(idle)') samples.push([prof.samples[i], prof.timeDeltas[i + 1] ?? 0]);
    }
    return { start: w.startUs, end: w.endUs, samples };
  });
  const ms = long.map((x) => (x.end - x.start) / 1000).sort((a, b) => a - b);
  console.log(`${lagFile}: ${ms.length} stalls >= ${minMs} ms; ms at p50 ${ms[Math.floor(ms.length / 2)]?.toFixed(1)}, max ${ms.at(-1)?.toFixed(1)}`);
  long.forEach((x, i) => { x.cpuMs = stalls[i].cpuMs; });
}
const busyMs = tasks.reduce((s, x) => s + (x.end - x.start), 0) / 1000;
console.log(`${file}: ${tasks.length} tasks, busy ${busyMs.toFixed(0)} ms; ${long.length} of >= ${minMs} ms, together ${(long.reduce((s, x) => s + (x.end - x.start), 0) / 1000).toFixed(0)} ms`);
const sum = new Map();
for (const x of long) {
  const ms = (x.end - x.start) / 1000;
  const by = new Map();
  for (const [id, dt] of x.samples) by.set(chain(id), (by.get(chain(id)) ?? 0) + dt / 1000);
  const parts = [...by].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, v]) => `${v.toFixed(1)} ${k}`);
  console.log(`  +${((x.start - prof.startTime) / 1e6).toFixed(3)}s ${ms.toFixed(1)} ms${x.cpuMs !== undefined ? ` (cpu ${x.cpuMs})` : ''}: ${parts.join(' | ')}`);
  for (const [id, dt] of x.samples) {
    const k = label(id);
    sum.set(k, (sum.get(k) ?? 0) + dt / 1000);
  }
}
console.log(`in long tasks, by outermost own frame (top ${top}):`);
for (const [k, v] of [...sum].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${v.toFixed(1).padStart(8)} ms  ${k}`);
