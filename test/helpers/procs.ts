/**
 * Real processes for integration tests: a `cortex-hub serve` and `cortex-node`s on loopback,
 * in temp dirs, talked to through the hub's real admin API. Waits are on conditions, never
 * fixed sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { rng } from '../../bench/rng.mjs';
import type { HubStatus, NodeStatus, OpInput, OpName, OpOutput } from '../../main/contract';
import { writtenAs } from '../../main/sync/modes';

export const ROOT = path.resolve(__dirname, '..', '..');
const HUB_BIN = path.join(ROOT, 'bin', 'cortex-hub');
const NODE_BIN = path.join(ROOT, 'bin', 'cortex-node');

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cortex-${prefix}-`));
}

export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 60_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface Proc {
  proc: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `wrapper`: a command that runs the process (e.g. setpriv … to drop privileges). */
function spawnProc(bin: string, args: string[], env: NodeJS.ProcessEnv = {}, wrapper: string[] = []): Proc {
  const argv = [...wrapper, process.execPath, bin, ...args];
  const proc = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** A JSON-lines log file as objects (empty when it does not exist yet). */
export function readJsonLines(file: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

export interface HubJsonInfo {
  pid: number;
  grpc: string;
  ui: string;
  adminToken: string;
  fingerprint: string;
}

export class Hub {
  private constructor(readonly dataDir: string, readonly p: Proc, readonly info: HubJsonInfo) {}

  /** Starts `cortex-hub serve`; pass `grpc` to reuse a port (a restart that nodes can find again). */
  static async start(dataDir: string, opts: { grpc?: string; extra?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<Hub> {
    const p = spawnProc(HUB_BIN, ['serve', '--data', dataDir, '--grpc', opts.grpc ?? '127.0.0.1:0', '--ui', '127.0.0.1:0', '--log-level', 'debug', ...(opts.extra ?? [])], opts.env);
    const info = await waitFor('hub.json of the new hub', () => {
      if (p.proc.exitCode !== null) throw new Error(`hub exited: ${p.output()}`);
      const j = JSON.parse(fs.readFileSync(path.join(dataDir, 'hub.json'), 'utf8')) as HubJsonInfo;
      return j.pid === p.proc.pid ? j : null;
    }, 30_000);
    return new Hub(dataDir, p, info);
  }

  async invoke<K extends OpName>(op: K, input: OpInput<K>): Promise<OpOutput<K>> {
    const res = await fetch(`${this.info.ui}/api/invoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.info.adminToken}` },
      body: JSON.stringify({ op, input }),
    });
    const body = (await res.json()) as { ok: boolean; result: OpOutput<K>; error?: { message: string } };
    if (!body.ok) throw new Error(`${op}: ${body.error?.message}`);
    return body.result;
  }

  status(): Promise<HubStatus> {
    return this.invoke('status', {});
  }

  async node(id: string): Promise<NodeStatus> {
    const s = await this.status();
    const n = s.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`node ${id} not in status`);
    return n;
  }

  async addNode(name: string): Promise<{ id: string; join: string }> {
    const r = await this.invoke('nodes.add', { name });
    return { id: r.node.id, join: r.join };
  }

  waitState(id: string, state: NodeStatus['state'], timeoutMs = 120_000): Promise<NodeStatus> {
    return waitFor(`node ${id} to be ${state}`, async () => {
      const n = await this.node(id);
      return n.state === state ? n : null;
    }, timeoutMs);
  }

  mirror(id: string): string {
    return path.join(this.dataDir, 'mirrors', id);
  }

  logLines(): Record<string, unknown>[] {
    return readJsonLines(path.join(this.dataDir, 'logs', 'hub.log'));
  }

  stop(): Promise<number | null> {
    return this.p.kill('SIGTERM');
  }

  kill(): Promise<number | null> {
    return this.p.kill('SIGKILL');
  }
}

export class Node {
  constructor(readonly p: Proc, readonly stateDir: string) {}

  /** The join string goes in CORTEX_JOIN, never in the arguments (where every local user could read it). */
  static start(join: string, workspace: string, stateDir: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Node {
    return new Node(spawnProc(NODE_BIN, ['--workspace', workspace, '--state', stateDir, '--log-level', 'debug', ...extra], { CORTEX_JOIN: join, ...env }), stateDir);
  }

  /** A node started with exactly these arguments and environment (nothing added but the binary). */
  static startWith(args: string[], stateDir: string, env: NodeJS.ProcessEnv = {}, wrapper: string[] = []): Node {
    return new Node(spawnProc(NODE_BIN, args, env, wrapper), stateDir);
  }

  logLines(): Record<string, unknown>[] {
    return readJsonLines(path.join(this.stateDir, 'node.log'));
  }

  stop(): Promise<number | null> {
    return this.p.kill('SIGTERM');
  }

  kill(): Promise<number | null> {
    return this.p.kill('SIGKILL');
  }
}

export function runCli(bin: 'cortex-hub' | 'cortex-node', args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(ROOT, 'bin', bin), ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

// ---- trees ---------------------------------------------------------------------------------

export interface TreeItem {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  size: number;
  digest: string;
}

/** Every entry under root, by relative path, with mode and a content digest (never following symlinks). */
export function snapshot(root: string): Map<string, TreeItem> {
  const out = new Map<string, TreeItem>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, r);
      const st = fs.lstatSync(abs);
      if (st.isDirectory()) {
        out.set(r, { type: 'dir', mode: st.mode & 0o777, size: 0, digest: '' });
        walk(r);
      } else if (st.isSymbolicLink()) {
        out.set(r, { type: 'symlink', mode: 0, size: 0, digest: fs.readlinkSync(abs) });
      } else {
        const h = crypto.createHash('sha256');
        const fd = fs.openSync(abs, 'r');
        const buf = Buffer.allocUnsafe(1 << 20);
        let n: number;
        while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
        fs.closeSync(fd);
        out.set(r, { type: 'file', mode: st.mode & 0o777, size: st.size, digest: h.digest('hex') });
      }
    }
  };
  walk('');
  return out;
}

/**
 * Differences between a workspace (`a`) and its mirror (`b`), as readable lines (empty when
 * identical). Modes follow the mirror mode rule (main/sync/modes.ts): the mirror may show a
 * world-writable mode of the node without its world-write bit, as the hub writes it; any other
 * difference counts.
 */
export function diffTrees(a: Map<string, TreeItem>, b: Map<string, TreeItem>, ignore: (p: string) => boolean = () => false): string[] {
  const out: string[] = [];
  for (const [p, x] of a) {
    if (ignore(p)) continue;
    const y = b.get(p);
    if (!y) out.push(`missing in mirror: ${p}`);
    else if (x.type !== y.type || !writtenAs(y.mode, x.mode) || x.size !== y.size || x.digest !== y.digest) {
      out.push(`differs: ${p} ${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
    }
  }
  for (const p of b.keys()) if (!ignore(p) && !a.has(p)) out.push(`extra in mirror: ${p}`);
  return out;
}

export { rng };

/** SQLite's own integrity check of a database file (read-only; 'ok' when sound). */
export function integrity(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

/**
 * Waits until two trees are identical (but for `ignore`) and the hub says the node is
 * in-sync; on timeout says what still differs and what the hub reported.
 */
export async function waitConverged(what: string, hub: Hub, id: string, a: string, b: string, ignore: (p: string) => boolean, timeoutMs = 60_000): Promise<void> {
  const diff = () => diffTrees(snapshot(a), snapshot(b), ignore);
  try {
    await waitFor(what, async () => diff().length === 0 && (await hub.node(id)).state === 'in-sync', timeoutMs, 100);
  } catch (e) {
    const st = await hub.node(id).catch((x: Error) => x.message);
    throw new Error(`${(e as Error).message}\ndiff: ${JSON.stringify(diff().slice(0, 10))}\nstatus: ${JSON.stringify(st)}`);
  }
}

export interface GenOptions {
  files: number;
  seed?: number;
  /** Sizes of extra big files to add (bytes). */
  big?: number[];
}

/** Writes a workspace: nested dirs, text and binary files, empty files and dirs, unicode names, modes. */
export function generateWorkspace(root: string, opts: GenOptions): void {
  const rand = rng(opts.seed ?? 1);
  const names = ['src', 'docs', 'data', 'naïve', '日本語', 'émoji 🚀', 'a b', 'deep'];
  const dirs = [''];
  fs.mkdirSync(root, { recursive: true });
  for (let i = 0; i < Math.max(4, opts.files / 40); i++) {
    const parent = dirs[Math.floor(rand() * dirs.length)]!;
    const d = parent ? `${parent}/${names[i % names.length]}${i}` : `${names[i % names.length]}${i}`;
    if (d.split('/').length > 6) continue;
    fs.mkdirSync(path.join(root, d), { recursive: true });
    dirs.push(d);
  }
  fs.mkdirSync(path.join(root, 'empty-dir', 'nested-empty'), { recursive: true });
  for (let i = 0; i < opts.files; i++) {
    const d = dirs[Math.floor(rand() * dirs.length)]!;
    const kind = i % 10;
    const name = `${kind === 3 ? 'ünïcödé-' : 'f'}${i}${kind < 5 ? '.txt' : '.bin'}`;
    const p = path.join(root, d, name);
    let size = kind === 0 ? 0 : Math.floor(rand() * rand() * 300_000);
    if (kind === 9) size = 128 * 1024 * (1 + Math.floor(rand() * 3)); // exact block multiples
    const buf = kind < 5 ? Buffer.from('lorem ipsum dolor sit amet\n'.repeat(Math.ceil(size / 27)).slice(0, size)) : crypto.randomBytes(size);
    fs.writeFileSync(p, buf, { mode: kind === 7 ? 0o600 : kind === 8 ? 0o755 : 0o644 });
  }
  for (const [i, size] of (opts.big ?? []).entries()) {
    const fd = fs.openSync(path.join(root, `big-${i}.bin`), 'w');
    const chunk = crypto.randomBytes(4 << 20);
    for (let off = 0; off < size; off += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, size - off));
    fs.closeSync(fd);
  }
}
