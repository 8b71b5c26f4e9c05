/**
 * Trees for the benchmarks: generated workspaces (nested small files, one big file), listing
 * and hashing them, the hashing and walking baselines, and a byte-for-byte comparison.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rng } from '../../harness/rng.mjs';
import { MiB } from './params.mjs';
import { round } from './report.mjs';

/** Nested directory of the k-th group of files: a{k%10}/b{k/10%10}/c{k/100} (three levels). */
function nestedDir(k) {
  return `a${k % 10}/b${Math.floor(k / 10) % 10}/c${Math.floor(k / 100)}`;
}

/**
 * Writes `files` files with incompressible, unique content and sizes drawn uniformly from
 * [minSize, maxSize], `perDir` files per directory in a three-level nested layout.
 * With `totalBytes`, sizes are drawn around totalBytes/files (±50%) and scaled to add up
 * exactly. Returns { files, bytes, dirs, ms }.
 */
export function generateTree(root, { files, minSize = 512, maxSize = 1536, totalBytes = null, perDir = 100, seed = 1 }) {
  const t0 = Date.now();
  const rand = rng(seed);
  let sizes;
  if (totalBytes !== null) {
    const avg = totalBytes / files;
    const raw = Array.from({ length: files }, () => avg * (0.5 + rand()));
    const k = totalBytes / raw.reduce((a, b) => a + b, 0);
    sizes = raw.map((x) => Math.max(0, Math.floor(x * k)));
    sizes[sizes.length - 1] += totalBytes - sizes.reduce((a, b) => a + b, 0);
  } else {
    sizes = Array.from({ length: files }, () => minSize + Math.floor(rand() * (maxSize - minSize + 1)));
  }
  const maxLen = Math.max(...sizes, 1);
  const buf = Buffer.allocUnsafe(maxLen);
  let bytes = 0;
  const dirs = new Set();
  for (let i = 0; i < files; i++) {
    const d = nestedDir(Math.floor(i / perDir));
    if (!dirs.has(d)) {
      fs.mkdirSync(path.join(root, d), { recursive: true });
      dirs.add(d);
    }
    const data = buf.subarray(0, sizes[i]);
    crypto.randomFillSync(data);
    fs.writeFileSync(path.join(root, d, `f${i}.bin`), data);
    bytes += sizes[i];
  }
  return { files, bytes, dirs: dirs.size, ms: Date.now() - t0 };
}

/** Writes one file of `size` random bytes (4 MiB chunks). */
export function generateBigFile(file, size) {
  const t0 = Date.now();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.allocUnsafe(4 * MiB);
  try {
    for (let off = 0; off < size; off += chunk.length) {
      const n = Math.min(chunk.length, size - off);
      crypto.randomFillSync(chunk, 0, n);
      fs.writeSync(fd, chunk, 0, n, off);
    }
  } finally {
    fs.closeSync(fd);
  }
  return { files: 1, bytes: size, ms: Date.now() - t0 };
}

/** Every regular file under root (relative paths), without following symlinks. */
export function listFiles(root) {
  const out = [];
  const walk = (rel) => {
    for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) walk(r);
      else if (d.isFile()) out.push(r);
    }
  };
  walk('');
  return out;
}

export function sha256File(file, buf = Buffer.allocUnsafe(MiB)) {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    let n;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * Baseline: a full re-hash of a tree with Node's crypto, streaming each file through SHA-256
 * in 1 MiB reads, on one thread (walk included). Returns { files, bytes, ms }.
 */
export function hashTreeNode(root) {
  const t0 = process.hrtime.bigint();
  const buf = Buffer.allocUnsafe(MiB);
  let files = 0;
  let bytes = 0;
  const walk = (dir) => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (d.isFile()) {
        const h = crypto.createHash('sha256');
        const fd = fs.openSync(p, 'r');
        let n;
        while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) {
          h.update(buf.subarray(0, n));
          bytes += n;
        }
        fs.closeSync(fd);
        h.digest();
        files++;
      }
    }
  };
  walk(root);
  return { files, bytes, ms: round(Number(process.hrtime.bigint() - t0) / 1e6, 1) };
}

/** Baseline: `find -type f -print0 | xargs -0 -P<cpus> sha256sum` (coreutils, all cores). */
export function hashTreeSha256sum(root) {
  const cpus = os.availableParallelism?.() ?? os.cpus().length;
  const t0 = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', `find . -type f -print0 | xargs -0 -P${cpus} -n 2000 sha256sum | wc -l`], { cwd: root, encoding: 'utf8', maxBuffer: 16 * MiB });
  const ms = round(Number(process.hrtime.bigint() - t0) / 1e6, 1);
  if (r.status !== 0) throw new Error(`sha256sum baseline failed: ${r.stderr}`);
  return { files: Number(r.stdout.trim()), ms, parallelism: cpus };
}

/** Baseline: walking the tree and lstat-ing every entry (what a cache-validating scan must do at least). */
export function walkStatTree(root) {
  const t0 = process.hrtime.bigint();
  let entries = 0;
  const walk = (dir) => {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      entries++;
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return { entries, ms: round(Number(process.hrtime.bigint() - t0) / 1e6, 1) };
}

/**
 * Checks that `b` is a byte-identical copy of `a` (regular files: same set, sizes, SHA-256).
 * Returns { files, bytes, differences (first 10), ok }.
 */
export function compareTrees(a, b) {
  const fa = listFiles(a).sort();
  const fb = new Set(listFiles(b));
  const diffs = [];
  let bytes = 0;
  const buf = Buffer.allocUnsafe(MiB);
  for (const f of fa) {
    if (!fb.has(f)) { diffs.push(`missing: ${f}`); continue; }
    fb.delete(f);
    const sa = fs.statSync(path.join(a, f));
    const sb = fs.statSync(path.join(b, f));
    if (sa.size !== sb.size) { diffs.push(`size differs: ${f} ${sa.size} vs ${sb.size}`); continue; }
    if (sha256File(path.join(a, f), buf) !== sha256File(path.join(b, f), buf)) diffs.push(`content differs: ${f}`);
    bytes += sa.size;
  }
  for (const f of fb) diffs.push(`extra: ${f}`);
  return { files: fa.length, bytes, ok: diffs.length === 0, differences: diffs.slice(0, 10), differenceCount: diffs.length };
}
