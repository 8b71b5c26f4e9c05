/**
 * Measuring a sync: waiting for a node's state with cheap gates and stall detection, a hub and
 * node pair brought in-sync, the hub's event-loop lines and their summary, CPU time of a
 * process, and flushing the disks between runs.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Hub, Node } from '../../harness/hub.mjs';
import { FatalWait, sleep, waitFor } from '../../harness/wait.mjs';
import { STALL_MS } from './params.mjs';
import { cpuBetween, cpuSnapshot, memory } from './procstat.mjs';
import { round } from './report.mjs';

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
export async function waitNode(hub, id, what, pred, { timeoutMs = 600_000, everyMs = 50, check, errorGraceMs = 10_000, stallMs = STALL_MS, gate, slowEveryMs = 2000, gateEveryMs = 10 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let errorSince = null;
  let sig = '';
  let sigSince = Date.now();
  let lastStatus = 0;
  let open = !gate;
  for (;;) {
    check?.();
    if (!hub.p.running()) throw new FatalWait(`hub exited: ${hub.p.output()}`);
    if (!open) open = Boolean(gate());
    if (open || Date.now() - lastStatus >= slowEveryMs) {
      lastStatus = Date.now();
      let res = null;
      try {
        res = { hub: await hub.status() };
        res.node = res.hub.nodes.find((x) => x.id === id);
        if (!res.node) res = null;
      } catch { /* the hub is not answering yet */ }
      if (res) {
        const { hub: status, node } = res;
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
        if (pred(node, status)) return { node, hub: status, at: Date.now() };
      }
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(open ? everyMs : gateEveryMs);
  }
}

export function waitInSync(hub, id, opts = {}) {
  return waitNode(hub, id, `node ${id} to be in-sync`, (n) => n.state === 'in-sync', opts);
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

/** Flushes dirty pages so that one measured run does not pay for the previous one's writes. */
export function syncDisks() {
  spawnSync('sync', [], { stdio: 'ignore' });
}

/** Starts a hub on a fresh data dir, registers a node, starts it, and waits for in-sync. */
export async function startPair(dir, workspace, { hubEnv = {}, name = 'bench', pollMs = 20, timeoutMs = 1_800_000, waitIdleEventLoop = false } = {}) {
  const hub = await Hub.start(path.join(dir, 'hub'), { env: hubEnv });
  const { id, join } = await hub.addNode(name);
  // With CORTEX_EVENTLOOP_LOG=1: start the node right after the hub's first (idle) report, so
  // the 5 s windows start with the sync and the idle floor is known.
  if (waitIdleEventLoop) await waitEventLoopLine(hub, 0, 8000);
  const hubCpu0 = procCpuMs(hub.p.proc.pid);
  const hubThreads0 = cpuSnapshot(hub.p.proc.pid);
  const node = Node.start(join, workspace, path.join(dir, 'node-state'));
  let r;
  try {
    // Cheap gate: the node logs sync.complete when the hub has acknowledged all it sent.
    const gate = () => node.logLines().some((l) => l.msg === 'sync.complete');
    r = await waitInSync(hub, id, { everyMs: pollMs, timeoutMs, check: () => node.check(), gate, gateEveryMs: 20 });
  } catch (e) {
    await node.stop();
    await hub.stop();
    throw e;
  }
  const hubCpu1 = procCpuMs(hub.p.proc.pid);
  const procs = procFacts(hub, node, hubThreads0, null);
  // CPU the two processes used during the sync (the node's since its start): with 2 cores, a
  // sum near 2 x syncMs means CPU-bound.
  const cpu = { hubMs: hubCpu0 === null || hubCpu1 === null ? null : hubCpu1 - hubCpu0, nodeMs: procCpuMs(node.p.proc.pid) };
  return { hub, node, id, join, inSyncAt: r.at, status: r.node, syncMs: r.at - node.startedAt, cpu, procs };
}

/**
 * RSS (now and peak) of the hub and the node, and their CPU per thread since the snapshots
 * given (null: since the process started): { hub: { mem, cpu }, node: { mem, cpu } }.
 */
export function procFacts(hub, node, hubBefore, nodeBefore) {
  const one = (pid, before) => ({ mem: memory(pid), cpu: cpuBetween(pid, before, cpuSnapshot(pid)) });
  return { hub: one(hub.p.proc.pid, hubBefore), node: one(node.p.proc.pid, nodeBefore) };
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
 * delay beyond it: an idle loop sampled at 5 ms reads p50 ~5 ms. The p50 of the last window the
 * hub logged by `idleBefore` (default `from`: the caller knows the hub was idle then) is taken
 * as that floor and subtracted: `lag*` fields are the corrected values, the others as logged.
 */
export function eventLoopSummary(hub, from, to, windowMs = 5000, idleBefore = from) {
  const lines = eventLoopLines(hub);
  if (lines.length === 0) {
    return { p99Ms: null, lagP99Ms: null, note: 'the hub wrote no hub.eventloop lines (CORTEX_EVENTLOOP_LOG=1 not supported by this build?)' };
  }
  const idle = lines.filter((l) => l.at <= idleBefore).pop() ?? null;
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

/**
 * Waits until the hub has written an event-loop line later than `after`; throws when none
 * comes within `timeoutMs` (the hub was not started with CORTEX_EVENTLOOP_LOG=1, or its
 * event loop is stuck): a summary without that line would cover less than it claims.
 */
export async function waitEventLoopLine(hub, after, timeoutMs = 7000) {
  await waitFor(`a hub.eventloop line after ${new Date(after).toISOString()}`, () => eventLoopLines(hub).some((l) => l.at > after), timeoutMs, 100);
}
