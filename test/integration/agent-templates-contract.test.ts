/**
 * The agent template and instance operations added for the panel (agents.updateTemplate,
 * agents.deleteTemplate, agents.overview, agents.output, agents.rerun, agents.templates with
 * deleted ones) through both adapters of a real serving hub (in this process: real SQLite and
 * sockets) with a real cortex-node running the commands: malformed requests get BAD_REQUEST,
 * unknown ones NOT_FOUND, on HTTP and WebSocket alike; the output a command wrote reaches the
 * hub, bounded; an edit changes what runs next and never what ran; a delete keeps the history.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTPUT_TAIL_BYTES, type AgentInstanceView, type AgentOutputView, type AgentTemplateDeleted, type AgentTemplateSaved, type AgentTemplateSummary, type AgentTemplateView } from '../../main/contract';
import { runHub, type RunningHub } from '../../main/server/run-hub';
import { Node, tempDir, waitFor } from '../helpers/procs';
import { invokeHttp, openWsApi, resultOf, type WsApi } from '../helpers/api-client';

let dir: string;
let running: RunningHub;
let node: Node;
let id: string;
let api: WsApi;
let workspace: string;

const http = (op: string, input: unknown) => invokeHttp(running, op, input);
const wsCall = (op: string, input: unknown) => api.call(op, input);

const ok = resultOf;

const settled = (agent: string) => waitFor(`agent ${agent} settled`, async () => {
  const a = running.hub.agents.get(agent);
  return a.state === 'succeeded' || a.state === 'failed' ? a : null;
}, 30_000, 50);

beforeAll(async () => {
  dir = tempDir('templates-contract');
  running = await runHub({ dataDir: path.join(dir, 'hub'), grpc: '127.0.0.1:0', ui: { host: '127.0.0.1', port: 0 }, consoleLevel: false, staticDir: null });
  const added = running.hub.addNode('runner');
  id = added.node.id;
  workspace = path.join(dir, 'ws');
  fs.mkdirSync(workspace);
  node = Node.start(added.join, workspace, path.join(dir, 'node-state'));
  api = await openWsApi(running);
  api.send({ subscribe: 'agent.template' });
  await waitFor('node in-sync', () => running.hub.status().nodes.find((n) => n.id === id)?.state === 'in-sync', 60_000, 50);
});

afterAll(async () => {
  api?.close();
  await node?.kill();
  await running?.stop();
  if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
});

describe('agent templates and instances over HTTP and WebSocket', () => {
  it('refuse malformed requests and unknown templates or instances with typed errors on both transports', async () => {
    const bad: [string, unknown][] = [
      ['agents.updateTemplate', {}],
      ['agents.updateTemplate', { id: 'x', name: 'tab\there' }],
      ['agents.updateTemplate', { id: 'x', name: '   ' }],
      ['agents.updateTemplate', { id: 'x', webhook: 'maybe' }],
      ['agents.updateTemplate', { id: 'x', command: '' }],
      ['agents.updateTemplate', { id: 'x', cron: 5 }],
      ['agents.updateTemplate', { id: 'x', defaultConfig: [1] }],
      ['agents.updateTemplate', { id: 'x', extra: 1 }],
      ['agents.createTemplate', { name: 'bell\u0007', command: 'true' }],
      ['agents.deleteTemplate', {}],
      ['agents.deleteTemplate', { id: 'x'.repeat(101) }],
      ['agents.overview', { all: true }],
      ['agents.templates', { deleted: 'yes' }],
      ['agents.output', { id: '' }],
      ['agents.output', {}],
      ['agents.rerun', { id: 'x'.repeat(65) }],
      ['agents.rerun', { id: 7 }],
    ];
    for (const [op, input] of bad) {
      const h = await http(op, input);
      expect(h.status, `${op} ${JSON.stringify(input)}`).toBe(400);
      expect(h.body, `${op} ${JSON.stringify(input)}`).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringContaining(op) } });
      expect(await wsCall(op, input), `${op} ${JSON.stringify(input)}`).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringContaining(op) } });
    }
    expect((await http('agents.createTemplate', { name: 'bell\u0007', command: 'true' })).body).toMatchObject({ error: { message: expect.stringContaining('a template name cannot contain control characters') } });
    for (const [op, input, message] of [
      ['agents.updateTemplate', { id: 'nope', command: 'x' }, 'no agent template nope'],
      ['agents.deleteTemplate', { id: 'nope' }, 'no agent template nope'],
      ['agents.output', { id: 'nope' }, 'no agent instance nope'],
      ['agents.rerun', { id: 'nope' }, 'no agent instance nope'],
    ] as const) {
      expect(await http(op, input)).toMatchObject({ status: 404, body: { ok: false, error: { code: 'NOT_FOUND', message } } });
      expect(await wsCall(op, input)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', message } });
    }
  });

  it('runs a template on the node and keeps the tail of its stdout and stderr, bounded, with its command and duration', async () => {
    // 100 000 numbered lines on stdout (~590 KB: more than the tail), two lines on stderr.
    const made = ok<AgentTemplateSaved>(await http('agents.createTemplate', { name: 'talker', command: 'seq 1 100000; echo "warn: é" >&2; echo done >&2', nodeId: id }));
    expect(made.template).toMatchObject({ name: 'talker', deletedAt: null });
    const a = ok<AgentInstanceView>(await wsCall('agents.start', { templateId: 'talker', nodeId: id, sessionId: 's1', config: { k: 1 } }));
    const done = await settled(a.id);
    expect(done).toMatchObject({ state: 'succeeded', command: 'seq 1 100000; echo "warn: é" >&2; echo done >&2' });
    expect(done.durationMs).toBe(done.finishedAt! - done.startedAt!);
    const total = Array.from({ length: 100000 }, (_, i) => `${i + 1}\n`).join('');
    for (const o of [ok<AgentOutputView>(await http('agents.output', { id: a.id })), ok<AgentOutputView>(await wsCall('agents.output', { id: a.id }))]) {
      expect(o).toMatchObject({ id: a.id, recorded: true, stderr: 'warn: é\ndone\n', stdoutBytes: Buffer.byteLength(total), stderrBytes: Buffer.byteLength('warn: é\ndone\n') });
      expect(o.stdout.endsWith('99999\n100000\n')).toBe(true);
      expect(Buffer.byteLength(o.stdout)).toBeLessThanOrEqual(OUTPUT_TAIL_BYTES);
      expect(Buffer.byteLength(o.stdout)).toBeGreaterThan(OUTPUT_TAIL_BYTES - 4);
      expect(total.endsWith(o.stdout)).toBe(true);
    }
  });

  it('while an instance runs, its output so far reaches the hub; a stop keeps the whole tail', async () => {
    ok(await http('agents.createTemplate', { name: 'slow', command: 'echo started; echo "err so far" >&2; sleep 60', nodeId: id }));
    const a = ok<AgentInstanceView>(await http('agents.start', { templateId: 'slow', nodeId: id }));
    const soFar = await waitFor('output while it runs', async () => {
      const o = ok<AgentOutputView>(await wsCall('agents.output', { id: a.id }));
      return o.recorded ? o : null;
    }, 20_000, 100);
    expect(soFar).toMatchObject({ stdout: 'started\n', stderr: 'err so far\n', stdoutBytes: 8 });
    expect(running.hub.agents.get(a.id).state).toBe('running');
    ok(await wsCall('agents.stop', { id: a.id }));
    await waitFor('stopped', () => running.hub.agents.get(a.id).state === 'stopped', 30_000, 50);
    expect(ok<AgentOutputView>(await http('agents.output', { id: a.id }))).toMatchObject({ recorded: true, stdout: 'started\n', stderr: 'err so far\n' });
    ok(await http('agents.deleteTemplate', { id: 'slow' }));
  });

  it('an edit changes what runs next, never what ran; a re-run runs the template as it is now, with the same node, session and config', async () => {
    const before = running.hub.agents.list({ templateId: 'talker', limit: 1 }).items[0]!;
    const edited = ok<AgentTemplateSaved>(await wsCall('agents.updateTemplate', { id: 'talker', name: 'quiet', command: 'printf "%s" "$CORTEX_AGENT_CONFIG"', defaultConfig: { d: true } }));
    expect(edited).toMatchObject({ template: { name: 'quiet', command: 'printf "%s" "$CORTEX_AGENT_CONFIG"', defaultConfig: { d: true } }, webhookToken: null });
    await waitFor('agent.template event for the edit', () => api.events.some((e) => e.event === 'agent.template' && (e.data as AgentTemplateView).name === 'quiet'), 5000, 20);
    expect(ok<AgentInstanceView>(await http('agents.get', { id: before.id })).command).toBe(before.command);
    const again = ok<AgentInstanceView>(await http('agents.rerun', { id: before.id }));
    expect(again).toMatchObject({ templateId: before.templateId, nodeId: id, sessionId: 's1', config: { d: true, k: 1 }, trigger: 'rerun', command: 'printf "%s" "$CORTEX_AGENT_CONFIG"' });
    await settled(again.id);
    expect(JSON.parse(ok<AgentOutputView>(await wsCall('agents.output', { id: again.id })).stdout)).toEqual({ d: true, k: 1 });
    // Edits are checked like creations.
    expect(await http('agents.updateTemplate', { id: 'quiet', cron: '*/5 * * *' })).toMatchObject({ status: 400, body: { error: { code: 'BAD_REQUEST', message: expect.stringContaining('invalid cron schedule') } } });
    ok(await http('agents.createTemplate', { name: 'other', command: 'true' }));
    expect(await wsCall('agents.updateTemplate', { id: 'quiet', name: 'other' })).toMatchObject({ ok: false, error: { code: 'CONFLICT', message: 'an agent template named "other" exists already' } });
    const hooked = ok<AgentTemplateSaved>(await http('agents.updateTemplate', { id: 'quiet', cron: '0 3 * * *', webhook: 'new' }));
    expect(hooked.template).toMatchObject({ cron: '0 3 * * *', nodeId: id, hasWebhook: true });
    const hook = await fetch(`${running.ui}/api/hooks/agents/quiet`, { method: 'POST', headers: { Authorization: `Bearer ${hooked.webhookToken}` }, body: '{}' });
    expect(hook.status).toBe(201);
    await settled(((await hook.json()) as { result: AgentInstanceView }).result.id);
  });

  it('the overview has one line per template, with its newest instance and how many are active', async () => {
    for (const o of [ok<AgentTemplateSummary[]>(await http('agents.overview', {})), ok<AgentTemplateSummary[]>(await wsCall('agents.overview', {}))]) {
      expect(o.map((s) => s.template.name)).toEqual(['other', 'quiet']);
      const quiet = o.find((s) => s.template.name === 'quiet')!;
      expect(quiet.last).toMatchObject({ trigger: 'webhook', state: 'succeeded' });
      expect(quiet.active).toBe(0);
      expect(o.find((s) => s.template.name === 'other')!.last).toBeNull();
    }
  });

  it('a delete keeps the instances and their output; the template is gone from the list, its name free, its webhook dead', async () => {
    const quiet = running.hub.agents.templates().find((t) => t.name === 'quiet')!;
    const history = running.hub.agents.list({ templateId: quiet.id, limit: 100 }).items;
    expect(history.length).toBe(3);
    const del = await http('agents.deleteTemplate', { id: 'quiet' });
    expect(ok<AgentTemplateDeleted>(del)).toMatchObject({ template: { id: quiet.id, name: 'quiet', deletedAt: expect.any(Number), hasWebhook: false, cron: null }, stopped: 0, running: 0 });
    expect(await wsCall('agents.deleteTemplate', { id: quiet.id })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', message: `no agent template ${quiet.id} (it was deleted)` } });
    expect(ok<AgentTemplateView[]>(await http('agents.templates', {})).map((t) => t.name)).toEqual(['other']);
    expect(ok<AgentTemplateView[]>(await wsCall('agents.templates', { deleted: true })).map((t) => [t.name, t.deletedAt !== null])).toEqual([['other', false], ['quiet', true], ['slow', true]]);
    expect(ok<{ items: AgentInstanceView[] }>(await wsCall('agents.list', { templateId: quiet.id })).items.map((i) => i.id)).toEqual(history.map((i) => i.id));
    expect(ok<AgentOutputView>(await http('agents.output', { id: history[0]!.id })).recorded).toBe(true);
    expect(await http('agents.rerun', { id: history[0]!.id })).toMatchObject({ status: 409, body: { error: { code: 'CONFLICT', message: expect.stringContaining('was deleted: it cannot run again') } } });
    expect(await wsCall('agents.start', { templateId: quiet.id, nodeId: id })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    const hook = await fetch(`${running.ui}/api/hooks/agents/${quiet.id}`, { method: 'POST', headers: { Authorization: 'Bearer whatever' }, body: '{}' });
    expect(hook.status).toBe(401);
    const reborn = ok<AgentTemplateSaved>(await wsCall('agents.createTemplate', { name: 'quiet', command: 'true' }));
    expect(reborn.template.id).not.toBe(quiet.id);
    await waitFor('agent.template event for the delete', () => api.events.some((e) => e.event === 'agent.template' && (e.data as AgentTemplateView).id === quiet.id && (e.data as AgentTemplateView).deletedAt !== null), 5000, 20);
  });
});
