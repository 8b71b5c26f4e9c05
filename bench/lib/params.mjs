/**
 * Benchmark parameters from the environment: units, sizes scaled by BENCH_SCALE, flags, and how
 * the product's processes run under measurement (log level, extra Node flags, bounded output,
 * a SIGKILL after a stop that hangs), set on the shared harness (harness/procs.mjs).
 */
import { configure } from '../../harness/procs.mjs';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** BENCH_SCALE multiplies every size parameter (file counts, byte sizes); 1 = the sizes. */
export const SCALE = (() => {
  const v = Number(process.env.BENCH_SCALE ?? '1');
  if (!(v > 0)) throw new Error(`BENCH_SCALE must be a positive number, got ${process.env.BENCH_SCALE}`);
  return v;
})();

/**
 * A numeric parameter: the env var if set (taken as is, not scaled), else `def` × BENCH_SCALE
 * (when `scaled`), rounded and at least `min`.
 */
export function param(name, def, { scaled = true, min = 1, int = true } = {}) {
  const raw = process.env[name];
  if (raw !== undefined && raw !== '') {
    const v = Number(raw);
    if (!Number.isFinite(v)) throw new Error(`${name} must be a number, got ${raw}`);
    return v;
  }
  let v = scaled ? def * SCALE : def;
  if (int) v = Math.round(v);
  return Math.max(min, v);
}

export function flag(name, def) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  return !['0', 'false', 'no', 'off'].includes(raw.toLowerCase());
}

/** Extra Node flags for the hub and node processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile. */
const PRODUCT_NODE_ARGS = (process.env.BENCH_NODE_ARGS || '').split(/\s+/).filter(Boolean);
export const LOG_LEVEL = process.env.BENCH_LOG_LEVEL || 'info';
/** A sync whose hub status does not change at all for this long is reported as stalled. */
export const STALL_MS = Number(process.env.BENCH_STALL_MS || 60_000);

configure({ logLevel: LOG_LEVEL, nodeArgs: PRODUCT_NODE_ARGS, outputLimit: 64 * KiB, killAfterMs: 15_000 });
