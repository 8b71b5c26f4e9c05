/**
 * A real `cortex-hub serve` and real `cortex-node`s on loopback, for the tests and the
 * benchmarks: start, talk to the hub through its admin API, read their logs, stop. Plain ESM
 * with types in hub.d.mts (see README.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { readJsonLines, settings, startBin } from './procs.mjs';
import { FatalWait, waitFor } from './wait.mjs';
import { httpInvoke } from '../dist/main/contract/http.js';

/**
 * One operation of the hub's contract over its HTTP API, through the product's own client
 * (main/contract/http.ts, built into dist/: run `npm run build` first). Errors keep the
 * operation's name in front, as tests and benches print them.
 */
export async function invokeHub(info, op, input = {}) {
  try {
    return await httpInvoke(info.ui, info.adminToken, op, input);
  } catch (e) {
    if (e instanceof Error) e.message = `${op}: ${e.message}`;
    throw e;
  }
}

export class Hub {
  constructor(dataDir, p, info, startedAt) {
    this.dataDir = dataDir;
    this.p = p;
    this.info = info;
    /** Date.now() just before the spawn. */
    this.startedAt = startedAt;
  }

  /**
   * Starts `cortex-hub serve` on loopback and waits for its hub.json. Pass `grpc` to reuse a
   * port (a restart that nodes can find again); `extra` arguments go last.
   */
  static async start(dataDir, { grpc = '127.0.0.1:0', extra = [], env = {}, pollMs = 50, timeoutMs = 120_000 } = {}) {
    const startedAt = Date.now();
    const p = startBin('cortex-hub', ['serve', '--data', dataDir, '--grpc', grpc, '--ui', '127.0.0.1:0', '--log-level', settings.logLevel, ...extra], { env });
    const info = await waitFor('hub.json of the new hub', () => {
      if (!p.running()) throw new FatalWait(`hub exited: ${p.output()}`);
      const j = JSON.parse(fs.readFileSync(path.join(dataDir, 'hub.json'), 'utf8'));
      return j.pid === p.proc.pid ? j : null;
    }, timeoutMs, pollMs);
    return new Hub(dataDir, p, info, startedAt);
  }

  invoke(op, input = {}) {
    return invokeHub(this.info, op, input);
  }

  status() {
    return this.invoke('status', {});
  }

  async node(id) {
    const s = await this.status();
    const n = s.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`node ${id} not in status`);
    return n;
  }

  async addNode(name) {
    const r = await this.invoke('nodes.add', { name });
    return { id: r.node.id, join: r.join };
  }

  waitState(id, state, timeoutMs = 120_000) {
    return waitFor(`node ${id} to be ${state}`, async () => {
      const n = await this.node(id);
      return n.state === state ? n : null;
    }, timeoutMs);
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
    return this.p.kill('SIGTERM');
  }

  kill() {
    return this.p.kill('SIGKILL');
  }
}

export class Node {
  constructor(p, stateDir, startedAt) {
    this.p = p;
    this.stateDir = stateDir;
    /** Date.now() just before the spawn. */
    this.startedAt = startedAt;
  }

  /** The join string goes in CORTEX_JOIN, never in the arguments (where every local user could read it). */
  static start(join, workspace, stateDir, extra = [], env = {}) {
    const startedAt = Date.now();
    const p = startBin('cortex-node', ['--workspace', workspace, '--state', stateDir, '--log-level', settings.logLevel, ...extra], { env: { CORTEX_JOIN: join, ...env } });
    return new Node(p, stateDir, startedAt);
  }

  /** A node started with exactly these arguments and environment (nothing added but the binary). */
  static startWith(args, stateDir, env = {}, wrapper = []) {
    const startedAt = Date.now();
    return new Node(startBin('cortex-node', args, { env, wrapper }), stateDir, startedAt);
  }

  /** Throws a FatalWait when the node process has died (to fail fast instead of waiting for a timeout). */
  check() {
    if (!this.p.running()) throw new FatalWait(`cortex-node exited: ${this.p.output()}`);
  }

  logLines() {
    return readJsonLines(path.join(this.stateDir, 'node.log'));
  }

  stop() {
    return this.p.kill('SIGTERM');
  }

  kill() {
    return this.p.kill('SIGKILL');
  }
}
