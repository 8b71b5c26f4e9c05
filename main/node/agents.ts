/**
 * The node's side of agents: runs an instance's command as a child process in the workspace
 * (through the shell, with CORTEX_AGENT_ID and CORTEX_AGENT_CONFIG in its environment) and
 * reports each state change to the hub. Reports made while the hub is unreachable are kept and
 * sent when it is back (the hub ignores those it has already settled, e.g. as `lost`).
 *
 * Each instance runs in its own process group (spawned detached on POSIX: the shell leads a
 * new session), so a stop reaches everything it started, not only the shell: SIGTERM to the
 * whole group, SIGKILL to what is left of it after STOP_GRACE_MS (even once the shell itself
 * has exited). The last 64 KiB of its stdout and of its stderr go with its final state, and
 * while it runs, every few seconds when they grew. Windows has no process groups: there a stop ends the process tree with
 * `taskkill /T /F` at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { AgentStateMsg } from '../sync/wire';
import type { Logger } from '../util/log';
import { ByteTail } from '../util/tail';

/** Characters of an agent's stderr given as a failure's error (the whole tail goes with its output). */
const STDERR_ERROR = 4096;
/**
 * After the shell exits, how long its output pipes may stay open before the report goes
 * without what is still unread (a background child that inherited them keeps them open).
 */
const OUTPUT_SETTLE_MS = 1000;
/**
 * While an instance runs, its output's tail so far goes to the hub this often when it grew
 * (only while connected: the final report carries it all anyway, so nothing is queued).
 */
export const OUTPUT_PROGRESS_MS = 3000;
/** A stopped agent's process group gets this long after SIGTERM before SIGKILL. */
export const STOP_GRACE_MS = 5000;

const WINDOWS = process.platform === 'win32';

interface Running {
  child: ChildProcess;
  stopping: boolean;
  /** Why it is being stopped, when the hub did not ask (reported as its error). */
  stopReason: string;
  /** Resolves when the shell has exited (its state is reported). */
  exited: Promise<void>;
  /** Resolves when the group has been signalled to the end (SIGKILL sent or nothing left). */
  stopped: Promise<void> | null;
}

/**
 * Whether a live process of the group is left. A zombie counts as gone: it runs nothing, and
 * where the init process does not reap orphans (some containers) it would never leave.
 */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return true;
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp …: comm may hold anything, so read after its last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is empty already
  }
}

/** Resolves when every stream has ended (all its data read), or after `ms`. */
function settled(streams: NodeJS.ReadableStream[], ms: number): Promise<void> {
  const ends = streams.map((st) => new Promise<void>((resolve) => {
    if ((st as { readableEnded?: boolean }).readableEnded) return resolve();
    st.once('end', () => resolve());
    st.once('close', () => resolve());
    st.once('error', () => resolve());
  }));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); timer.unref?.(); });
  return Promise.race([Promise.all(ends).then(() => undefined), late]).finally(() => clearTimeout(timer));
}

export class AgentRunner {
  private readonly running = new Map<string, Running>();
  private readonly unsent: AgentStateMsg[] = [];

  constructor(private readonly workspace: string, private readonly log: Logger, private send: (m: AgentStateMsg) => boolean) {}

  start(id: string, command: string, configJson: string): void {
    if (this.running.has(id)) return; // sent again after a reconnect: it already runs
    const out = new ByteTail();
    const err = new ByteTail();
    const child = spawn(command, {
      shell: true, cwd: this.workspace, stdio: ['ignore', 'pipe', 'pipe'], detached: !WINDOWS, windowsHide: true,
      env: { ...process.env, CORTEX_AGENT_ID: id, CORTEX_AGENT_CONFIG: configJson },
    });
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => { markExited = resolve; });
    this.running.set(id, { child, stopping: false, stopReason: '', exited, stopped: null });
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    let sentBytes = 0;
    const progress = setInterval(() => {
      const r = this.running.get(id);
      if (!r || r.stopping || out.total + err.total === sentBytes) return;
      if (this.send({ id, state: 'running', hasExitCode: false, exitCode: 0, signal: '', error: '', hasOutput: true, stdoutTail: out.bytes(), stderrTail: err.bytes(), stdoutBytes: out.total, stderrBytes: err.total })) sentBytes = out.total + err.total;
    }, OUTPUT_PROGRESS_MS);
    progress.unref();
    child.once('spawn', () => {
      this.log.info('agent.started', { agent: id, pid: child.pid, pgid: WINDOWS ? null : child.pid });
      this.report({ id, state: 'running', hasExitCode: false, exitCode: 0, signal: '', error: '' });
    });
    child.once('error', (e) => {
      clearInterval(progress);
      markExited();
      this.running.delete(id);
      this.log.warn('agent.spawn_failed', { agent: id, error: e.message });
      this.report({ id, state: 'failed', hasExitCode: false, exitCode: 0, signal: '', error: e.message });
    });
    child.once('exit', (code, signal) => {
      clearInterval(progress);
      const r = this.running.get(id);
      const state = r?.stopping ? 'stopped' : code === 0 ? 'succeeded' : 'failed';
      this.log.info('agent.exited', { agent: id, state, code, signal });
      // What the pipes still hold is read before the report (up to OUTPUT_SETTLE_MS).
      void settled([child.stdout!, child.stderr!], OUTPUT_SETTLE_MS).then(() => {
        child.stdout!.destroy();
        child.stderr!.destroy();
        this.running.delete(id);
        const stderr = err.bytes().toString('utf8');
        this.report({
          id, state, hasExitCode: code !== null, exitCode: code ?? 0, signal: signal ?? '',
          error: state === 'failed' ? stderr.slice(-STDERR_ERROR).trim() : state === 'stopped' ? r!.stopReason : '',
          hasOutput: true, stdoutTail: out.bytes(), stderrTail: err.bytes(), stdoutBytes: out.total, stderrBytes: err.total,
        });
        markExited();
      });
    });
  }

  /**
   * Stops an instance and everything it started: SIGTERM to its process group, SIGKILL to
   * whatever of the group is left after STOP_GRACE_MS. Resolves once that is done and the
   * shell's exit is reported.
   */
  stop(id: string, reason = ''): Promise<void> {
    const r = this.running.get(id);
    if (!r) return Promise.resolve();
    if (r.stopped) return r.stopped;
    r.stopping = true;
    r.stopReason = reason;
    const pid = r.child.pid;
    if (pid === undefined) return Promise.resolve(); // never spawned: 'error' reports it
    this.log.info('agent.stopping', { agent: id, pid, why: reason || 'the hub asked' });
    if (WINDOWS) {
      // No process groups: end the tree the shell started, at once (console programs get no gentle signal).
      const kill = spawn('taskkill', ['/pid', String(pid), '/T', '/F'], { stdio: 'ignore', windowsHide: true });
      r.stopped = new Promise<void>((resolve) => { kill.once('exit', () => resolve()); kill.once('error', () => resolve()); }).then(() => r.exited);
      return r.stopped;
    }
    signalGroup(pid, 'SIGTERM');
    r.stopped = new Promise<void>((resolve) => {
      const started = Date.now();
      // Until the grace ends: done as soon as the whole group is gone; after it, SIGKILL to the rest.
      const check = () => {
        if (!groupAlive(pid)) return resolve();
        if (Date.now() - started >= STOP_GRACE_MS) {
          if (signalGroup(pid, 'SIGKILL')) this.log.warn('agent.killed', { agent: id, pid, afterMs: Date.now() - started });
          return resolve();
        }
        setTimeout(check, 100).unref();
      };
      check();
    }).then(() => r.exited);
    return r.stopped;
  }

  /** The hub is reachable again: send what it missed. */
  flush(): void {
    while (this.unsent.length > 0 && this.send(this.unsent[0]!)) this.unsent.shift();
  }

  /**
   * A new session with the hub: tell it again what still runs (it may have settled those as
   * `lost` while the node was away, and then asks for them to be stopped), and what it missed.
   */
  connected(): void {
    for (const [id, r] of this.running) {
      if (r.stopping || r.child.pid === undefined || this.unsent.some((m) => m.id === id)) continue;
      this.unsent.push({ id, state: 'running', hasExitCode: false, exitCode: 0, signal: '', error: '' });
    }
    this.flush();
  }

  /** The node is shutting down: every instance's group is stopped (resolves when all are). */
  stopAll(): Promise<void> {
    return Promise.all([...this.running.keys()].map((id) => this.stop(id, 'its node shut down'))).then(() => undefined);
  }

  private report(m: AgentStateMsg): void {
    this.unsent.push(m);
    this.flush();
  }
}
