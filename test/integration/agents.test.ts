/**
 * Agent instances with real processes: the hub asks the node, over the node protocol, to run
 * a template's command in its workspace; the node reports running, success or failure with
 * the exit code; a stop request stops it; killing the node marks what it ran `lost`; an
 * instance for a disconnected node waits as `pending` and runs when the node connects. Driven
 * through the CLI (`cortex-hub agents ...`) and the admin API.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentInstanceView } from '../../main/contract';
import { Hub, Node, runCli, tempDir, waitFor } from '../helpers/procs';

describe('agents', () => {
  let dir: string;
  let ws: string;
  let hub: Hub;
  let node: Node;
  let id: string;
  let join: string;
  const cli = async (...args: string[]) => {
    const r = await runCli('cortex-hub', ['agents', ...args, '--data', hub.dataDir, '--json']);
    if (r.code !== 0) throw new Error(`agents ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as unknown;
  };
  const state = (agent: string, want: AgentInstanceView['state'], timeoutMs = 30_000) => waitFor(`agent ${agent} ${want}`, async () => {
    const a = await hub.invoke('agents.get', { id: agent });
    return a.state === want ? a : null;
  }, timeoutMs);

  beforeAll(async () => {
    dir = tempDir('agents');
    ws = path.join(dir, 'ws');
    fs.mkdirSync(ws);
    hub = await Hub.start(path.join(dir, 'hub'));
    ({ id, join } = await hub.addNode('worker'));
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    await hub.waitState(id, 'in-sync');
    await cli('template-add', 'write', '--command', 'printf "%s" "$CORTEX_AGENT_CONFIG" > out.json && pwd > where.txt', '--config', '{"depth":1}');
    await cli('template-add', 'fail', '--command', 'echo boom >&2; exit 3');
    await cli('template-add', 'sleep', '--command', 'sleep 60');
  });

  afterAll(async () => {
    await node?.kill();
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs a command in the node\'s workspace and reports success with the exit code', async () => {
    const a = await cli('start', 'write', '--node', id, '--session', 'sess-1', '--config', '{"task":"x"}') as AgentInstanceView;
    expect(a).toMatchObject({ nodeId: id, sessionId: 'sess-1', trigger: 'manual', config: { depth: 1, task: 'x' } });
    const done = await state(a.id, 'succeeded');
    expect(done).toMatchObject({ exitCode: 0, error: null });
    expect(done.startedAt).not.toBeNull();
    expect(JSON.parse(fs.readFileSync(path.join(ws, 'out.json'), 'utf8'))).toEqual({ depth: 1, task: 'x' });
    expect(fs.readFileSync(path.join(ws, 'where.txt'), 'utf8').trim()).toBe(fs.realpathSync(ws));
  });

  it('reports a failing command as failed, with its exit code and stderr', async () => {
    const a = await cli('start', 'fail', '--node', id) as AgentInstanceView;
    const done = await state(a.id, 'failed');
    expect(done).toMatchObject({ exitCode: 3 });
    expect(done.error).toContain('boom');
  });

  it('stops a running instance on request', async () => {
    const a = await cli('start', 'sleep', '--node', id) as AgentInstanceView;
    await state(a.id, 'running');
    const r = await cli('stop', a.id) as AgentInstanceView;
    expect(['running', 'stopped']).toContain(r.state);
    const done = await state(a.id, 'stopped');
    expect(done.exitSignal).toBe('SIGTERM');
  });

  it('marks what a killed node was running as lost; runs what waited for it once it is back', async () => {
    const a = await cli('start', 'sleep', '--node', id, '--session', 'sess-2') as AgentInstanceView;
    await state(a.id, 'running');
    await node.kill();
    expect((await state(a.id, 'lost')).error).toMatch(/disconnected/);
    const waiting = await cli('start', 'write', '--node', id, '--session', 'sess-2') as AgentInstanceView;
    await new Promise((r) => setTimeout(r, 300));
    expect((await hub.invoke('agents.get', { id: waiting.id })).state).toBe('pending');
    node = Node.start(join, ws, node.stateDir);
    await state(waiting.id, 'succeeded');
  });

  it('lists by node, session, template and state, newest first, in pages; shows one', async () => {
    const bySession = await cli('list', '--session', 'sess-2') as { items: AgentInstanceView[] };
    expect(bySession.items.map((i) => i.state)).toEqual(['succeeded', 'lost']);
    const failed = await cli('list', '--node', id, '--state', 'failed') as { items: AgentInstanceView[] };
    expect(failed.items).toHaveLength(1);
    const first = await cli('list', '--template', 'sleep', '--limit', '1') as { items: AgentInstanceView[]; next: string };
    expect(first.items).toHaveLength(1);
    const second = await cli('list', '--template', 'sleep', '--limit', '1', '--cursor', first.next) as { items: AgentInstanceView[]; next: string | null };
    expect(second.items[0]!.id).not.toBe(first.items[0]!.id);
    expect(second.items[0]!.createdAt).toBeLessThanOrEqual(first.items[0]!.createdAt);
    const human = await runCli('cortex-hub', ['agents', 'show', failed.items[0]!.id, '--data', hub.dataDir]);
    expect(human.stdout).toMatch(/failed[\s\S]*exit 3[\s\S]*error: boom/);
  });

  it('edits, re-runs and deletes templates from the CLI; shows an instance\'s command, duration and output; the overview is one line per template', async () => {
    await cli('template-add', 'echoer', '--command', 'echo "to stdout"; echo "to stderr" >&2', '--node', id);
    const first = await cli('start', 'echoer', '--node', id, '--session', 'cli-s', '--config', '{"n":1}') as AgentInstanceView;
    const done = await state(first.id, 'succeeded');
    expect(done.durationMs).not.toBeNull();
    expect(await cli('output', first.id)).toMatchObject({ recorded: true, stdout: 'to stdout\n', stderr: 'to stderr\n', stdoutBytes: 10, stderrBytes: 10 });
    const raw = await runCli('cortex-hub', ['agents', 'output', first.id, '--stream', 'stderr', '--data', hub.dataDir]);
    expect(raw.stdout).toBe('to stderr\n');
    const human = await runCli('cortex-hub', ['agents', 'show', first.id, '--data', hub.dataDir]);
    expect(human.stdout).toMatch(/command echo "to stdout"; echo "to stderr" >&2[\s\S]*took \d[\s\S]*stdout \(10 B\):\nto stdout\nstderr \(10 B\):\nto stderr/);
    const edited = await cli('template-edit', 'echoer', '--name', 'echoer2', '--command', 'echo second', '--cron', '0 4 * * *', '--new-webhook') as { template: { name: string; command: string; cron: string; hasWebhook: boolean }; webhookToken: string };
    expect(edited).toMatchObject({ template: { name: 'echoer2', command: 'echo second', cron: '0 4 * * *', hasWebhook: true }, webhookToken: expect.stringMatching(/^[\w-]{20,}$/) });
    expect((await cli('template-edit', 'echoer2', '--no-cron', '--no-webhook') as { template: { cron: string | null; hasWebhook: boolean } }).template).toMatchObject({ cron: null, hasWebhook: false });
    const again = await cli('rerun', first.id) as AgentInstanceView;
    expect(again).toMatchObject({ trigger: 'rerun', sessionId: 'cli-s', config: { n: 1 }, command: 'echo second' });
    await state(again.id, 'succeeded');
    expect((await cli('output', again.id) as { stdout: string }).stdout).toBe('second\n');
    const overview = await cli('overview') as { template: { name: string }; last: AgentInstanceView | null; active: number }[];
    expect(overview.find((o) => o.template.name === 'echoer2')).toMatchObject({ last: { id: again.id }, active: 0 });
    const deleted = await cli('template-delete', 'echoer2') as { template: { id: string; deletedAt: number }; stopped: number; running: number };
    expect(deleted).toMatchObject({ stopped: 0, running: 0, template: { deletedAt: expect.any(Number) } });
    expect((await cli('templates') as { name: string }[]).map((t) => t.name)).not.toContain('echoer2');
    expect((await cli('templates', '--deleted') as { name: string; deletedAt: number | null }[]).find((t) => t.name === 'echoer2')?.deletedAt).toBe(deleted.template.deletedAt);
    expect((await cli('list', '--template', deleted.template.id) as { items: AgentInstanceView[] }).items.map((i) => i.id)).toEqual([again.id, first.id]);
    const refused = await runCli('cortex-hub', ['agents', 'rerun', first.id, '--data', hub.dataDir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/CONFLICT: .*was deleted: it cannot run again/);
    const usage = await runCli('cortex-hub', ['agents', 'template-edit', 'x', '--cron', '* * * * *', '--no-cron', '--data', hub.dataDir]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/contradicting options/);
  });

  it('a webhook creates an instance with its own token; wrong tokens, oversized and malformed bodies are refused', async () => {
    const made = await cli('template-add', 'hooked', '--command', 'printf "%s" "$CORTEX_AGENT_CONFIG" > hook.json', '--node', id, '--webhook') as { template: { id: string }; webhookToken: string };
    expect(made.webhookToken).toMatch(/^[\w-]{20,}$/);
    const post = (body: string, token = made.webhookToken, template = made.template.id) => fetch(`${hub.info.ui}/api/hooks/agents/${template}`, {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body,
    });
    const ok = await post(JSON.stringify({ sessionId: 'from-ci', config: { pr: 42 } }));
    expect(ok.status).toBe(201);
    const inst = ((await ok.json()) as { result: AgentInstanceView }).result;
    expect(inst).toMatchObject({ trigger: 'webhook', sessionId: 'from-ci', nodeId: id });
    await state(inst.id, 'succeeded');
    expect(JSON.parse(fs.readFileSync(path.join(ws, 'hook.json'), 'utf8'))).toEqual({ pr: 42 });
    // The admin token is not a webhook token, and the other way round.
    expect((await post('{}', hub.info.adminToken)).status).toBe(401);
    expect((await fetch(`${hub.info.ui}/api/invoke`, { method: 'POST', headers: { Authorization: `Bearer ${made.webhookToken}` }, body: '{"op":"status"}' })).status).toBe(401);
    const big = await post(JSON.stringify({ config: { blob: 'x'.repeat(70 * 1024) } }));
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { message: string } }).error.message).toMatch(/larger than 64 KiB/);
    expect((await post('{not json')).status).toBe(400);
    expect((await post('[1,2]')).status).toBe(400);
    // An unknown template gets the same refusal as a wrong token (test/integration/api-edges.test.ts).
    expect((await post('{}', made.webhookToken, 'no-such-template')).status).toBe(401);
    const refusals = hub.logLines().filter((l) => l.msg === 'agent.webhook_refused').map((l) => l.status);
    expect(refusals).toEqual(expect.arrayContaining([401, 413, 400]));
  });

  /** Whether a process runs (a zombie does not: where init reaps no orphans, one stays in /proc). */
  const alive = (pid: number) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
    } catch {
      return false;
    }
  };
  /** Starts an instance of a template whose shell leaves a grandchild, and returns both. */
  const startTree = async (template: string, pidFile: string) => {
    fs.rmSync(path.join(ws, pidFile), { force: true });
    const a = await cli('start', template, '--node', id) as AgentInstanceView;
    await state(a.id, 'running');
    const pid = await waitFor(`${pidFile} written`, () => Number(fs.readFileSync(path.join(ws, pidFile), 'utf8').trim()) || null, 30_000);
    expect(alive(pid)).toBe(true);
    return { agent: a.id, pid };
  };

  it.skipIf(process.platform !== 'linux')('a stop ends the whole process group: the shell\'s own children too', async () => {
    await cli('template-add', 'tree', '--command', 'sleep 300 & echo $! > tree.pid; wait');
    const { agent, pid } = await startTree('tree', 'tree.pid');
    await cli('stop', agent);
    expect((await state(agent, 'stopped')).exitSignal).toBe('SIGTERM');
    await waitFor(`grandchild ${pid} gone after the stop`, () => !alive(pid), 10_000);
  });

  it.skipIf(process.platform !== 'linux')('a child that ignores SIGTERM gets SIGKILL after the grace period, though the shell has exited', async () => {
    await cli('template-add', 'stubborn', '--command', '(trap "" TERM; exec sleep 300) & echo $! > stubborn.pid; wait');
    const { agent, pid } = await startTree('stubborn', 'stubborn.pid');
    await cli('stop', agent);
    await state(agent, 'stopped');
    await waitFor(`stubborn ${pid} killed`, () => !alive(pid), 30_000);
    // The kill comes before its log line reaches the file: wait for the line, not only the death.
    await waitFor('agent.killed in the node log', () => node.logLines().some((l) => l.msg === 'agent.killed' && l.agent === agent), 10_000);
  });

  it.skipIf(process.platform !== 'linux')('an instance the hub settled as lost while away is stopped, group and all, when its node reconnects', async () => {
    const { agent, pid } = await startTree('tree', 'tree.pid');
    const grpc = hub.info.grpc;
    await hub.stop();
    hub = await Hub.start(hub.dataDir, { grpc });
    expect((await state(agent, 'lost')).error).toMatch(/disconnected|hub stopped/);
    await waitFor(`grandchild ${pid} of the lost instance gone`, () => !alive(pid), 60_000);
    expect(hub.logLines().some((l) => l.msg === 'agent.stop_settled' && l.agent === agent)).toBe(true);
  });

  it.skipIf(process.platform !== 'linux')('a node stopped with SIGTERM ends its agents\' process groups before it exits', async () => {
    await hub.waitState(id, 'in-sync');
    const { agent, pid } = await startTree('tree', 'tree.pid');
    expect(await node.stop()).toBe(0);
    expect(alive(pid)).toBe(false);
    // Stopped if its report got out before the connection closed, else lost: never running.
    const settled = await waitFor(`agent ${agent} settled`, async () => {
      const a = await hub.invoke('agents.get', { id: agent });
      return a.state === 'stopped' || a.state === 'lost' ? a : null;
    });
    expect(settled.finishedAt).not.toBeNull();
    expect(settled.error).toBe(settled.state === 'stopped' ? 'its node shut down' : 'its node disconnected while it ran');
    node = Node.start(join, ws, node.stateDir);
    await hub.waitState(id, 'in-sync');
  });

  it('refuses bad requests with clear errors', async () => {
    const bad = await runCli('cortex-hub', ['agents', 'start', 'no-such-template', '--node', id, '--data', hub.dataDir]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/no agent template no-such-template/);
    const noNode = await runCli('cortex-hub', ['agents', 'start', 'write', '--node', 'nope', '--data', hub.dataDir]);
    expect(noNode.stderr).toMatch(/no node with id nope/);
    const cron = await runCli('cortex-hub', ['agents', 'template-add', 'bad-cron', '--command', 'true', '--cron', '61 * * * *', '--data', hub.dataDir]);
    expect(cron.stderr).toMatch(/invalid cron schedule "61 \* \* \* \*": minute "61" is not in 0-59/);
    const state2 = await runCli('cortex-hub', ['agents', 'list', '--state', 'sleeping', '--data', hub.dataDir]);
    expect(state2.code).not.toBe(0);
    expect(state2.stderr).toMatch(/state/);
  });
});
