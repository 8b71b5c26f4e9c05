/**
 * Shared helpers for the benchmarks: parameters, real hub/node processes on loopback, tree
 * generation, baselines (hashing, rsync daemon), statistics, and clean-up.
 *
 * Plain ESM, no build step: it drives the built product through bin/cortex-hub and
 * bin/cortex-node exactly as a user would, and reads the hub's admin API (POST /api/invoke)
 * and JSON-line logs. Every process it starts is killed on exit, also on errors and signals.
 */
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rng } from './rng.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/**
 * The product that is measured. By default each benchmark copies ROOT's build (bin/, dist/,
 * package.json; node_modules linked) into its work dir first, so that a rebuild in the shared
 * work tree during a long run cannot change the code under measurement. BENCH_PRODUCT_ROOT
 * points at an existing product tree instead (run-all.mjs makes one snapshot for all).
 */
let PRODUCT = process.env.BENCH_PRODUCT_ROOT ? path.resolve(process.env.BENCH_PRODUCT_ROOT) : null;
const hubBin = () => path.join(PRODUCT ?? ROOT, 'bin', 'cortex-hub');
const nodeBin = () => path.join(PRODUCT ?? ROOT, 'bin', 'cortex-node');
export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

// ---- parameters ----------------------------------------------------------------------------

/** BENCH_SCALE multiplies every size parameter (file counts, byte sizes); 1 = the issue's sizes. */
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

// ---- output --------------------------------------------------------------------------------

const T_START = Date.now();
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

/**
 * Runs a benchmark body with a fresh work dir; prints ONE JSON document on stdout (also on
 * failure, with `error`), kills every started process, and deletes the work dir at the very
 * end unless BENCH_KEEP_WORKDIR=1 (run-all.mjs sets it and deletes all dirs after the last
 * benchmark: on this disk, creating files right after deleting a big tree is slow).
 */
export async function main(name, body) {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `cortex-bench-${name}-`));
  workDirs.add(workDir);
  const doc = { benchmark: name, startedAt: new Date(T_START).toISOString(), environment: environment(), workDir };
  let code = 0;
  try {
    if (!PRODUCT) {
      PRODUCT = process.env.BENCH_GIT_REV
        ? buildRevision(process.env.BENCH_GIT_REV, path.join(workDir, 'product'))
        : snapshotProduct(path.join(workDir, 'product'));
    }
    checkBuilt(PRODUCT);
    doc.product = productInfo();
    doc.loadAvgAtStart = os.loadavg().map((x) => round(x, 2));
    Object.assign(doc, await body({ workDir }));
    doc.loadAvgAtEnd = os.loadavg().map((x) => round(x, 2));
  } catch (e) {
    code = 1;
    doc.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
    progress(`FAILED: ${e instanceof Error ? e.message : e}`);
  } finally {
    await killAll();
  }
  doc.durationS = round((Date.now() - T_START) / 1000, 1);
  const keep = flag('BENCH_KEEP_WORKDIR', false) || flag('BENCH_KEEP', false);
  if (!keep) {
    progress(`deleting ${workDir}`);
    removeTree(workDir);
  }
  doc.workDirKept = keep;
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  process.exitCode = code;
}

export function checkBuilt(root = ROOT) {
  for (const f of ['dist/main/cli/hub.js', 'dist/main/cli/node.js', 'dist/main/sync/fs-worker.js']) {
    if (!fs.existsSync(path.join(root, f))) throw new Error(`${f} is missing in ${root}: run "npm run build" in ${ROOT} first`);
  }
}

/** Which code a build in `root` came from: commit, main/'s tree, uncommitted files, build time. */
function describeBuild(root) {
  const git = (args) => {
    const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  const dirty = git(['status', '--porcelain', '--', 'main']);
  let builtAt = null;
  try { builtAt = fs.statSync(path.join(root, 'dist', 'main', 'cli', 'hub.js')).mtime.toISOString(); } catch { /* not built */ }
  return {
    commit: git(['rev-parse', '--short', 'HEAD']),
    /** git tree id of main/ at that commit: equal ids mean the same product sources. */
    mainTree: git(['rev-parse', '--short', 'HEAD:main']),
    uncommittedSourceFiles: dirty === null ? null : dirty.split('\n').filter(Boolean).length,
    builtAt,
  };
}

/**
 * Copies the built product (bin/, dist/, package.json; node_modules as a link) into `dest`,
 * with bench-product.json describing what was copied (read by productInfo()).
 */
export function snapshotProduct(dest) {
  checkBuilt(ROOT);
  const info = { source: ROOT, snapshotAt: new Date().toISOString(), ...describeBuild(ROOT) };
  fs.mkdirSync(dest, { recursive: true });
  for (const d of ['bin', 'dist']) fs.cpSync(path.join(ROOT, d), path.join(dest, d), { recursive: true, preserveTimestamps: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dest, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dest, 'node_modules'));
  fs.writeFileSync(path.join(dest, 'bench-product.json'), `${JSON.stringify(info, null, 2)}\n`);
  checkBuilt(dest);
  return dest;
}

/**
 * Builds a committed revision (BENCH_GIT_REV, e.g. HEAD) in `dest`, independent of the work
 * tree: `git archive` of the sources, node_modules linked, `tsc` and the asset copy, as
 * `npm run build` does. Returns `dest`, described by bench-product.json like a snapshot.
 */
export function buildRevision(rev, dest) {
  const run = (cmd, args, cwd) => {
    const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * MiB });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
    return r.stdout.trim();
  };
  const commit = run('git', ['rev-parse', '--short', rev], ROOT);
  fs.mkdirSync(dest, { recursive: true });
  const tar = path.join(dest, 'src.tar');
  run('git', ['archive', '--format=tar', '-o', tar, commit], ROOT);
  run('tar', ['-xf', tar, '-C', dest], ROOT);
  fs.rmSync(tar);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dest, 'node_modules'));
  run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], dest);
  run(process.execPath, ['scripts/copy-assets.mjs'], dest);
  checkBuilt(dest);
  const info = {
    source: `${ROOT} @ ${rev}`, snapshotAt: new Date().toISOString(), commit,
    mainTree: run('git', ['rev-parse', '--short', `${commit}:main`], ROOT), uncommittedSourceFiles: 0,
    builtAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(dest, 'bench-product.json'), `${JSON.stringify(info, null, 2)}\n`);
  return dest;
}

/** Which code is measured (from the snapshot's bench-product.json, else from the repo now). */
export function productInfo(root = PRODUCT ?? ROOT) {
  try {
    return { measured: root, ...JSON.parse(fs.readFileSync(path.join(root, 'bench-product.json'), 'utf8')) };
  } catch {
    return { measured: root, source: ROOT, ...describeBuild(root) };
  }
}

export function removeTree(dir) {
  spawnSync('rm', ['-rf', '--', dir], { stdio: 'ignore' });
}

// ---- processes -----------------------------------------------------------------------------

const children = new Set();
/** Work dirs to delete when a signal ends the benchmark. */
const workDirs = new Set();

function killAllSync() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
}
process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAllSync();
    // Interrupted: clean up now (BENCH_KEEP_WORKDIR only defers clean-up of completed runs).
    if (!flag('BENCH_KEEP', false)) for (const d of workDirs) removeTree(d);
    process.exit(128 + (os.constants.signals[sig] ?? 1));
  });
}

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

/** Spawns a tracked process; keeps the tail of its output for error messages. */
export function startProc(cmd, args, { env = {}, cwd } = {}) {
  const proc = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  const keep = (d) => {
    out += d.toString();
    if (out.length > 64 * KiB) out = out.slice(-32 * KiB);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
    children.delete(proc);
    resolve({ code, signal });
  }));
  proc.on('error', (e) => { out += `\nspawn error: ${e.message}`; });
  return {
    proc,
    output: () => out,
    exited,
    running: () => proc.exitCode === null && proc.signalCode === null,
    async stop(signal = 'SIGTERM', killAfterMs = 15_000) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const t = setTimeout(() => { try { proc.kill('SIGKILL'); } catch { /* gone */ } }, killAfterMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Thrown inside a waitFor condition to stop waiting at once (a process died, a hard error). */
export class FatalWait extends Error {}

export async function waitFor(what, fn, { timeoutMs = 120_000, everyMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (e instanceof FatalWait) throw e;
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(everyMs);
  }
}

/** CPU time (user + system, all threads) a live process has used so far, in ms; null if unknown. */
export function procCpuMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5) (utime, stime), counted from field 3 here; clock ticks of 10 ms.
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function readJsonLines(file) {
  let text;
  try { text = fs.readFileSync(file, 'utf8'); } catch { return []; }
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try { out.push(JSON.parse(line)); } catch { /* a torn last line */ }
  }
  return out;
}

/** Flushes dirty pages so that one measured run does not pay for the previous one's writes. */
export function syncDisks() {
  spawnSync('sync', [], { stdio: 'ignore' });
}

// ---- hub and node --------------------------------------------------------------------------

export class Hub {
  constructor(dataDir, p, info, startedAt) {
    this.dataDir = dataDir;
    this.p = p;
    this.info = info;
    this.startedAt = startedAt;
  }

  /**
   * Starts `cortex-hub serve` on loopback and waits for its hub.json. Pass `grpc` to reuse a
   * port (a restart nodes find again). `spawnedAt` is Date.now() just before the spawn.
   */
  static async start(dataDir, { grpc = '127.0.0.1:0', env = {}, pollMs = 10 } = {}) {
    const spawnedAt = Date.now();
    const p = startProc(process.execPath, [...PRODUCT_NODE_ARGS, hubBin(), 'serve', '--data', dataDir, '--grpc', grpc, '--ui', '127.0.0.1:0', '--log-level', LOG_LEVEL], { env });
    const info = await waitFor('hub.json of the new hub', () => {
      if (!p.running()) throw new FatalWait(`hub exited: ${p.output()}`);
      const j = JSON.parse(fs.readFileSync(path.join(dataDir, 'hub.json'), 'utf8'));
      return j.pid === p.proc.pid ? j : null;
    }, { timeoutMs: 120_000, everyMs: pollMs });
    return new Hub(dataDir, p, info, spawnedAt);
  }

  async invoke(op, input = {}) {
    const res = await fetch(`${this.info.ui}/api/invoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.info.adminToken}` },
      body: JSON.stringify({ op, input }),
    });
    const body = await res.json();
    if (!body.ok) throw new Error(`${op}: ${body.error?.message}`);
    return body.result;
  }

  status() {
    return this.invoke('status', {});
  }

  async node(id) {
    const s = await this.status();
    const n = s.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`node ${id} not in status`);
    return { hub: s, node: n };
  }

  async addNode(name) {
    const r = await this.invoke('nodes.add', { name });
    return { id: r.node.id, join: r.join };
  }

  /**
   * Polls status until `pred(node, hubStatus)`; returns { node, hub, at }.
   *
   * A `status` call is not free: with 100k files it takes the hub ~10-15 ms of event-loop
   * time (see README), so polling it every few ms would slow what is measured. With `gate`
   * (a cheap check that does not touch the hub, e.g. a log line or a mirror file's inode),
   * status is polled every `everyMs` only once the gate is open, and every `slowEveryMs`
   * before (which still catches stalls, errors, and predicates the gate misses).
   * A node in state `error` for longer than `errorGraceMs` (failures can be transient while
   * files change) ends the wait with the hub's last error; no change at all in its status for
   * `stallMs` ends it as a stall.
   */
  async waitNode(id, what, pred, { timeoutMs = 600_000, everyMs = 50, check, errorGraceMs = 10_000, stallMs = STALL_MS, gate, slowEveryMs = 2000, gateEveryMs = 10 } = {}) {
    const deadline = Date.now() + timeoutMs;
    let errorSince = null;
    let sig = '';
    let sigSince = Date.now();
    let lastStatus = 0;
    let open = !gate;
    for (;;) {
      check?.();
      if (!this.p.running()) throw new FatalWait(`hub exited: ${this.p.output()}`);
      if (!open) open = Boolean(gate());
      if (open || Date.now() - lastStatus >= slowEveryMs) {
        lastStatus = Date.now();
        let res = null;
        try {
          res = await this.node(id);
        } catch { /* the hub is not answering yet */ }
        if (res) {
          const { hub, node } = res;
          const now = `${node.state}/${node.files}/${node.bytes}/${node.bytesReceived}/${node.bytesReused}/${node.outOfSyncFiles}`;
          if (now !== sig) {
            sig = now;
            sigSince = Date.now();
          } else if (node.state !== 'in-sync' && Date.now() - sigSince > stallMs) {
            throw new FatalWait(`no progress for ${stallMs} ms while waiting for ${what}: node state ${node.state}, ${node.files} files (${node.bytes} bytes) recorded, ${node.outOfSyncFiles} files (${node.outOfSyncBytes} bytes) out of sync, bytesReceived ${node.bytesReceived}`);
          }
          if (node.state === 'error') {
            errorSince ??= Date.now();
            if (Date.now() - errorSince > errorGraceMs) {
              throw new FatalWait(`node ${id} has been in state error for ${errorGraceMs} ms (${node.errors} failing paths); last error: ${JSON.stringify(node.lastError)}`);
            }
          } else {
            errorSince = null;
          }
          if (pred(node, hub)) return { node, hub, at: Date.now() };
        }
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(open ? everyMs : gateEveryMs);
    }
  }

  waitInSync(id, opts = {}) {
    return this.waitNode(id, `node ${id} to be in-sync`, (n) => n.state === 'in-sync', opts);
  }

  mirror(id) {
    return path.join(this.dataDir, 'mirrors', id);
  }

  logFile() {
    return path.join(this.dataDir, 'logs', 'hub.log');
  }

  logLines() {
    return readJsonLines(this.logFile());
  }

  stop() {
    return this.p.stop('SIGTERM');
  }
}

export class Node {
  constructor(p, stateDir, spawnedAt) {
    this.p = p;
    this.stateDir = stateDir;
    this.spawnedAt = spawnedAt;
  }

  static start(join, workspace, stateDir, { env = {} } = {}) {
    const spawnedAt = Date.now();
    const p = startProc(process.execPath, [...PRODUCT_NODE_ARGS, nodeBin(), '--join', join, '--workspace', workspace, '--state', stateDir, '--log-level', LOG_LEVEL], { env });
    return new Node(p, stateDir, spawnedAt);
  }

  /** Throws when the node process has died (to fail fast instead of waiting for a timeout). */
  check() {
    if (!this.p.running()) throw new FatalWait(`cortex-node exited: ${this.p.output()}`);
  }

  logLines() {
    return readJsonLines(path.join(this.stateDir, 'node.log'));
  }

  stop() {
    return this.p.stop('SIGTERM');
  }
}

/**
 * Work-around for a hub bug fixed in 429df4e (see README): when a directory and its
 * sub-directory were applied concurrently, the parent's mkdir could fail with EEXIST and the
 * node stayed in state `error`. With BENCH_PRECREATE_DIRS=1 the benchmarks create the
 * workspace's directory skeleton in the destination (mirror, rsync target) before the measured
 * sync, so older builds can be measured too. Off by default.
 */
export const PRECREATE_DIRS = flag('BENCH_PRECREATE_DIRS', false);

/** Re-creates src's directory tree (directories only) under dest. Returns the count. */
export function copyDirSkeleton(src, dest) {
  let n = 0;
  const walk = (rel) => {
    for (const d of fs.readdirSync(path.join(src, rel), { withFileTypes: true })) {
      if (!d.isDirectory()) continue;
      const r = path.join(rel, d.name);
      fs.mkdirSync(path.join(dest, r), { recursive: true, mode: 0o755 });
      n++;
      walk(r);
    }
  };
  fs.mkdirSync(dest, { recursive: true });
  walk('');
  return n;
}

/** Starts a hub on a fresh data dir, registers a node, starts it, and waits for in-sync. */
export async function startPair(dir, workspace, { hubEnv = {}, name = 'bench', pollMs = 20, timeoutMs = 1_800_000, precreateDirs = PRECREATE_DIRS, waitIdleEventLoop = false } = {}) {
  const hub = await Hub.start(path.join(dir, 'hub'), { env: hubEnv });
  const { id, join } = await hub.addNode(name);
  if (precreateDirs) copyDirSkeleton(workspace, hub.mirror(id));
  // With CORTEX_EVENTLOOP_LOG=1: start the node right after the hub's first (idle) report, so
  // the 5 s windows start with the sync and the idle floor is known.
  if (waitIdleEventLoop) await waitEventLoopLine(hub, 0, 8000);
  const hubCpu0 = procCpuMs(hub.p.proc.pid);
  const node = Node.start(join, workspace, path.join(dir, 'node-state'));
  let r;
  try {
    // Cheap gate: the node logs sync.complete when the hub has acknowledged all it sent.
    const gate = () => node.logLines().some((l) => l.msg === 'sync.complete');
    r = await hub.waitInSync(id, { everyMs: pollMs, timeoutMs, check: () => node.check(), gate, gateEveryMs: 20 });
  } catch (e) {
    await node.stop();
    await hub.stop();
    throw e;
  }
  const hubCpu1 = procCpuMs(hub.p.proc.pid);
  // CPU the two processes used during the sync (the node's since its start): with 2 cores, a
  // sum near 2 x syncMs means CPU-bound.
  const cpu = { hubMs: hubCpu0 === null || hubCpu1 === null ? null : hubCpu1 - hubCpu0, nodeMs: procCpuMs(node.p.proc.pid) };
  return { hub, node, id, join, inSyncAt: r.at, status: r.node, syncMs: r.at - node.spawnedAt, cpu };
}

/** The hub.eventloop log lines (CORTEX_EVENTLOOP_LOG=1) with their time as epoch ms. */
export function eventLoopLines(hub) {
  return hub.logLines().filter((l) => l.msg === 'hub.eventloop').map((l) => ({ at: Date.parse(l.t), p50Ms: l.p50Ms, p99Ms: l.p99Ms, maxMs: l.maxMs }));
}

/**
 * Summarises the hub's event-loop lag over [from, to]: every 5 s window that overlaps it.
 * Returns p99Ms null (with a note) when the hub wrote no hub.eventloop lines.
 *
 * Node 20's monitorEventLoopDelay() histogram holds the whole timer interval, not only the
 * delay beyond it: an idle loop sampled at 5 ms reads p50 ~5 ms. When the hub logged a window
 * that ended before `from` (idle, before the sync), its p50 is taken as that floor and
 * subtracted: `lag*` fields are the corrected values, the others are as logged.
 */
export function eventLoopSummary(hub, from, to, windowMs = 5000) {
  const lines = eventLoopLines(hub);
  if (lines.length === 0) {
    return { p99Ms: null, lagP99Ms: null, note: 'the hub wrote no hub.eventloop lines (CORTEX_EVENTLOOP_LOG=1 not supported by this build?)' };
  }
  const idle = lines.filter((l) => l.at <= from).pop() ?? null;
  const floorMs = idle ? round(idle.p50Ms, 2) : null;
  const windows = lines.filter((l) => l.at > from && l.at - windowMs < to).map((l) => ({
    endsAtMs: l.at - from, p50Ms: round(l.p50Ms, 2), p99Ms: round(l.p99Ms, 2), maxMs: round(l.maxMs, 2),
    coverage: round(Math.max(0, Math.min(l.at, to) - Math.max(l.at - windowMs, from)) / windowMs, 2),
  }));
  if (windows.length === 0) return { p99Ms: null, lagP99Ms: null, note: 'no hub.eventloop window overlapped the measured interval' };
  const full = windows.filter((w) => w.coverage >= 0.99);
  const p99Ms = Math.max(...windows.map((w) => w.p99Ms));
  const maxMs = Math.max(...windows.map((w) => w.maxMs));
  const lag = (x) => (floorMs === null ? null : round(Math.max(0, x - floorMs), 2));
  return {
    /** Worst per-window p99 (as logged) among windows that overlap the interval. */
    p99Ms,
    /** Worst per-window p99 among windows entirely inside the interval (null if none). */
    p99MsFullWindows: full.length ? Math.max(...full.map((w) => w.p99Ms)) : null,
    p50Ms: Math.max(...windows.map((w) => w.p50Ms)),
    maxMs,
    /** p50 of the last idle window before the interval: the metric's floor (null if none). */
    idleFloorMs: floorMs,
    lagP99Ms: lag(p99Ms),
    lagMaxMs: lag(maxMs),
    windows,
  };
}

/** Waits until the hub has written an event-loop line later than `after` (or the timeout). */
export async function waitEventLoopLine(hub, after, timeoutMs = 7000) {
  try {
    await waitFor('a hub.eventloop line', () => eventLoopLines(hub).some((l) => l.at > after), { timeoutMs, everyMs: 100 });
    return true;
  } catch {
    return false;
  }
}

// ---- trees ---------------------------------------------------------------------------------

export { rng };

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

// ---- rsync baseline ------------------------------------------------------------------------

export const RSYNC = process.env.BENCH_RSYNC_BIN || '/usr/bin/rsync';

/**
 * A loopback rsync daemon (`rsync --daemon --no-detach`) with one writable module `bench`
 * rooted at a fresh directory. `url(sub)` is the rsync:// destination for a sub-directory.
 */
export async function startRsyncDaemon(dir) {
  if (!fs.existsSync(RSYNC)) throw new Error(`rsync not found at ${RSYNC} (set BENCH_RSYNC_BIN)`);
  const moduleRoot = path.join(dir, 'rsync-dest');
  fs.mkdirSync(moduleRoot, { recursive: true });
  const conf = path.join(dir, 'rsyncd.conf');
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  fs.writeFileSync(conf, [
    `use chroot = no`,
    `munge symlinks = no`,
    `uid = ${uid}`,
    `gid = ${gid}`,
    `log file = ${path.join(dir, 'rsyncd.log')}`,
    `max connections = 0`,
    ``,
    `[bench]`,
    `  path = ${moduleRoot}`,
    `  read only = no`,
    `  list = yes`,
    ``,
  ].join('\n'));
  const port = await freePort();
  const p = startProc(RSYNC, ['--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, '--address=127.0.0.1']);
  await waitFor('the rsync daemon to listen', () => new Promise((resolve, reject) => {
    if (!p.running()) return reject(new Error(`rsync daemon exited: ${p.output()}`));
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  }), { timeoutMs: 15_000, everyMs: 20 });
  return {
    port,
    moduleRoot,
    url: (sub) => `rsync://127.0.0.1:${port}/bench/${sub}/`,
    stop: () => p.stop('SIGTERM'),
  };
}

/** Runs an rsync client (`rsync ARGS... SRC/ DEST`), timed; returns { ms, stats, code }. */
export async function runRsync(args, src, dest) {
  const t0 = process.hrtime.bigint();
  const p = startProc(RSYNC, [...args, '--stats', `${src.replace(/\/+$/, '')}/`, dest]);
  const { code } = await p.exited;
  const ms = round(Number(process.hrtime.bigint() - t0) / 1e6, 1);
  const out = p.output();
  if (code !== 0) throw new Error(`rsync ${args.join(' ')} exited with ${code}: ${out.slice(-2000)}`);
  const num = (re) => {
    const m = out.match(re);
    return m ? Number(m[1].replace(/,/g, '')) : null;
  };
  return {
    ms,
    command: `rsync ${args.join(' ')} --stats ${src}/ ${dest}`,
    stats: {
      filesTransferred: num(/Number of regular files transferred: ([\d,]+)/),
      totalBytesSent: num(/Total bytes sent: ([\d,]+)/),
      literalData: num(/Literal data: ([\d,]+)/),
      matchedData: num(/Matched data: ([\d,]+)/),
    },
  };
}

// ---- statistics ----------------------------------------------------------------------------

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
