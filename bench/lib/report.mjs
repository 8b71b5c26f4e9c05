/**
 * What a benchmark prints: progress lines on stderr, the environment, goal lines, rounding,
 * percentiles, and log lines since a moment.
 */
import os from 'node:os';
import { GiB, LOG_LEVEL, SCALE } from './params.mjs';

export const T_START = Date.now();
export function progress(msg) {
  process.stderr.write(`[bench +${((Date.now() - T_START) / 1000).toFixed(1)}s] ${msg}\n`);
}

export function environment() {
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: os.availableParallelism?.() ?? os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? null,
    memGiB: Math.round(os.totalmem() / GiB),
    tmpdir: os.tmpdir(),
    scale: SCALE,
    logLevel: LOG_LEVEL,
  };
}

/** A goal line: { target, actual, met }; met is null when actual is null (not measured). */
export function goal(target, actual, ok) {
  return { target, actual, met: actual === null || actual === undefined ? null : Boolean(ok) };
}

export const round = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? x ?? null : Math.round(x * 10 ** d) / 10 ** d);

/** Nearest-rank percentile of a numeric array (p in 0..100). */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

/** Node log lines after `since` (epoch ms) with the given msg. */
export function logSince(lines, msg, since) {
  return lines.filter((l) => l.msg === msg && Date.parse(l.t) >= since);
}
