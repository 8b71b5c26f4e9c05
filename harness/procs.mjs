/**
 * Processes for the tests and the benchmarks: where the product is and how its processes run
 * (log level, extra Node flags), spawning with the output kept, ending them all, one-shot CLI
 * runs, and reading the product's JSON-line logs. Plain ESM with types in procs.d.mts, so that
 * vitest's TypeScript tests and the plain-node benchmarks share it (see README.md).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * How products are started. Tests use the defaults; the benchmarks set the product snapshot
 * they measure, their log level, Node flags (e.g. --cpu-prof), a bounded output buffer and a
 * SIGKILL after a stop that hangs.
 */
export const settings = {
  /** The tree holding bin/ and dist/ of the product that runs. */
  productRoot: ROOT,
  logLevel: 'debug',
  nodeArgs: [],
  /** Keep only the last this many characters of a process's output (roughly). */
  outputLimit: Infinity,
  /** stop(): SIGKILL when the process has not exited this long after the signal (null: never). */
  killAfterMs: null,
};

export function configure(over) {
  Object.assign(settings, over);
}

export const productBin = (name) => path.join(settings.productRoot, 'bin', name);

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cortex-${prefix}-`));
}

const children = new Set();

function killAllSync() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
}
process.on('exit', killAllSync);

/** Ends every process still running: SIGTERM, then SIGKILL after 3 s. */
export async function killAll() {
  await Promise.all([...children].map(async (c) => {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    try { c.kill('SIGTERM'); } catch { /* gone */ }
    const t = setTimeout(() => { try { c.kill('SIGKILL'); } catch { /* gone */ } }, 3000);
    await gone;
    clearTimeout(t);
  }));
}

/**
 * Spawns a process (tracked: killed when this process exits, or by killAll()); keeps its
 * stdout and stderr together (the tail of it with settings.outputLimit).
 */
export function startProc(cmd, args, { env = {}, cwd } = {}) {
  const proc = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  const keep = (d) => {
    out += d.toString();
    if (out.length > settings.outputLimit) out = out.slice(-Math.ceil(settings.outputLimit / 2));
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise((resolve) => proc.on('exit', (code) => {
    children.delete(proc);
    resolve(code);
  }));
  proc.on('error', (e) => { out += `\nspawn error: ${e.message}`; });
  const running = () => proc.exitCode === null && proc.signalCode === null;
  return {
    proc,
    output: () => out,
    exited,
    running,
    /** Sends `signal` (unless it has exited) and waits for the exit; resolves the exit code. */
    async kill(signal = 'SIGTERM', killAfterMs = settings.killAfterMs) {
      if (running()) proc.kill(signal);
      const t = killAfterMs === null ? null : setTimeout(() => { try { proc.kill('SIGKILL'); } catch { /* gone */ } }, killAfterMs);
      const code = await exited;
      if (t) clearTimeout(t);
      return code;
    },
  };
}

/** Starts `node [settings.nodeArgs] bin/<name> ...args` of the product, optionally under `wrapper` (e.g. setpriv). */
export function startBin(name, args, { env = {}, wrapper = [] } = {}) {
  const argv = [...wrapper, process.execPath, ...settings.nodeArgs, productBin(name), ...args];
  return startProc(argv[0], argv.slice(1), { env });
}

/**
 * Runs `bin/<name> ...args` to its end: resolves once the process has exited AND its output
 * is read to the end ('close', not 'exit', which can come before the last of stdout). A run
 * longer than `timeoutMs` is killed and rejects with what it printed so far.
 */
export function runCli(name, args, env = {}, { timeoutMs = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [productBin(name), ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d.toString(); });
    p.stderr.on('data', (d) => { stderr += d.toString(); });
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${name} ${args.join(' ')} still running after ${timeoutMs} ms; stdout: ${stdout.slice(-2000)}; stderr: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/**
 * A JSON-lines log file as objects (empty when it does not exist yet). A last line without
 * its newline is being written: it is left out. Any other line that is not JSON throws.
 */
export function readJsonLines(file) {
  let text;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) {
    if (e.code === 'ENOENT') return [];
    throw e;
  }
  const lines = text.split('\n');
  const torn = lines.pop();
  const out = lines.filter((l) => l.trim()).map((l) => JSON.parse(l));
  if (torn) {
    try { out.push(JSON.parse(torn)); } catch { /* still being written */ }
  }
  return out;
}
