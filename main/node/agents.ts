/**
 * The node's side of agents: runs an instance's command as a child process in the workspace
 * (through the shell, with CORTEX_AGENT_ID and CORTEX_AGENT_CONFIG in its environment) and
 * reports each state change to the hub. Reports made while the hub is unreachable are kept and
 * sent when it is back (the hub ignores those it has already settled, e.g. as `lost`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { AgentStateMsg } from '../sync/wire';
import type { Logger } from '../util/log';

/** Bytes of an agent's stderr kept to explain a failure. */
const STDERR_TAIL = 4096;
/** A stopped agent gets this long after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5000;

export class AgentRunner {
  private readonly running = new Map<string, { child: ChildProcess; stopping: boolean }>();
  private readonly unsent: AgentStateMsg[] = [];

  constructor(private readonly workspace: string, private readonly log: Logger, private send: (m: AgentStateMsg) => boolean) {}

  start(id: string, command: string, configJson: string): void {
    if (this.running.has(id)) return; // sent again after a reconnect: it already runs
    let stderr = '';
    const child = spawn(command, {
      shell: true, cwd: this.workspace, stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CORTEX_AGENT_ID: id, CORTEX_AGENT_CONFIG: configJson },
    });
    this.running.set(id, { child, stopping: false });
    child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-STDERR_TAIL); });
    child.once('spawn', () => {
      this.log.info('agent.started', { agent: id, pid: child.pid });
      this.report({ id, state: 'running', hasExitCode: false, exitCode: 0, signal: '', error: '' });
    });
    child.once('error', (e) => {
      this.running.delete(id);
      this.log.warn('agent.spawn_failed', { agent: id, error: e.message });
      this.report({ id, state: 'failed', hasExitCode: false, exitCode: 0, signal: '', error: e.message });
    });
    child.once('exit', (code, signal) => {
      const r = this.running.get(id);
      this.running.delete(id);
      const state = r?.stopping ? 'stopped' : code === 0 ? 'succeeded' : 'failed';
      this.log.info('agent.exited', { agent: id, state, code, signal });
      this.report({ id, state, hasExitCode: code !== null, exitCode: code ?? 0, signal: signal ?? '', error: state === 'failed' ? stderr.trim() : '' });
    });
  }

  stop(id: string): void {
    const r = this.running.get(id);
    if (!r) return;
    r.stopping = true;
    r.child.kill('SIGTERM');
    setTimeout(() => { if (this.running.get(id) === r) r.child.kill('SIGKILL'); }, STOP_GRACE_MS).unref();
  }

  /** The hub is reachable again: send what it missed. */
  flush(): void {
    while (this.unsent.length > 0 && this.send(this.unsent[0]!)) this.unsent.shift();
  }

  stopAll(): void {
    for (const id of this.running.keys()) this.stop(id);
  }

  private report(m: AgentStateMsg): void {
    this.unsent.push(m);
    this.flush();
  }
}
