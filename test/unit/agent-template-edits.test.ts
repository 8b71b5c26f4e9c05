/**
 * Editing, deleting and re-running through the agent service, against a real store (SQLite in a
 * temp dir); the node is stood in for by what the service sends it, and what it reports.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AgentService } from '../../main/agents/agent-service';
import type { AgentTemplateView } from '../../main/contract';
import { HubStore } from '../../main/store/hub-store';
import type { AgentStateMsg, HubMessage } from '../../main/sync/wire';
import { AGENT_OUTPUT_TAIL } from '../../main/util/tail';
import { createLogger } from '../../main/util/log';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function setup() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-edits-'));
  dirs.push(d);
  const hub = new HubStore(path.join(d, 'hub.db'));
  hub.addNode('n1', 'one', 'x');
  const sent: HubMessage[] = [];
  const changed: AgentTemplateView[] = [];
  let connected = true;
  const svc = new AgentService(hub.agents, {
    sendToNode: (_n, m) => { if (connected) sent.push(m); return connected; },
    nodeState: (n) => (hub.node(n) ? 'active' : undefined),
    changed: () => undefined,
    templateChanged: (t) => changed.push(t),
    historyDays: () => 90,
    log: createLogger('hub', { consoleLevel: false }),
  });
  const report = (m: Partial<AgentStateMsg> & { id: string; state: string }) => svc.nodeReported('n1', { hasExitCode: m.state !== 'running', exitCode: 0, signal: '', error: '', ...m });
  return { hub, svc, sent, changed, report, disconnect: () => { connected = false; }, starts: () => sent.filter((m) => m.agentStart).map((m) => m.agentStart!) };
}

describe('agent template edits', () => {
  it('an edit applies to new instances; one made before keeps (and is sent) the command it was made with', () => {
    const t = setup();
    const tpl = t.svc.createTemplate({ name: 'q', command: 'echo one', nodeId: 'n1', overlap: 'queue' }).template;
    const first = t.svc.start({ templateId: tpl.id, nodeId: 'n1' });
    const waiting = t.svc.start({ templateId: tpl.id, nodeId: 'n1' }); // queued behind the first
    const saved = t.svc.updateTemplate({ id: 'q', command: 'echo two', name: 'q2' });
    expect(saved).toMatchObject({ template: { id: tpl.id, name: 'q2', command: 'echo two' }, webhookToken: null });
    expect(t.changed.at(-1)).toMatchObject({ name: 'q2' });
    t.report({ id: first.id, state: 'running' });
    t.report({ id: first.id, state: 'succeeded' });
    expect(t.starts().map((s) => [s.id, s.command])).toEqual([[first.id, 'echo one'], [waiting.id, 'echo one']]);
    expect(t.svc.start({ templateId: 'q2', nodeId: 'n1' }).command).toBe('echo two');
    t.hub.close();
  });

  it('checks an edit as a creation: cron needs a node and parses; a name in use is a conflict; webhook tokens are renewed and removed', () => {
    const t = setup();
    t.svc.createTemplate({ name: 'a', command: 'true' });
    const b = t.svc.createTemplate({ name: 'b', command: 'true', nodeId: 'n1', webhook: true });
    expect(() => t.svc.updateTemplate({ id: 'a', cron: '* * * * *' })).toThrow(/needs the node it runs on/);
    expect(() => t.svc.updateTemplate({ id: 'b', cron: '61 * * * *' })).toThrow(/minute "61" is not in 0-59/);
    expect(() => t.svc.updateTemplate({ id: 'b', nodeId: 'nope' })).toThrow(/no active node with id nope/);
    expect(() => t.svc.updateTemplate({ id: 'b', name: 'a' })).toThrow(/named "a" exists already/);
    expect(() => t.svc.updateTemplate({ id: 'c', command: 'x' })).toThrow(/no agent template c/);
    expect(t.svc.updateTemplate({ id: 'b', cron: '* * * * *' }).template.cron).toBe('* * * * *');
    expect(() => t.svc.updateTemplate({ id: 'b', nodeId: null })).toThrow(/needs the node/);
    const renewed = t.svc.updateTemplate({ id: 'b', webhook: 'new' });
    expect(renewed.webhookToken).toMatch(/^[\w-]{20,}$/);
    expect(t.hub.agents.webhookTokenOk(b.template.id, b.webhookToken!)).toBe(false);
    expect(t.hub.agents.webhookTokenOk(b.template.id, renewed.webhookToken!)).toBe(true);
    expect(t.svc.updateTemplate({ id: 'b', webhook: 'remove' }).template.hasWebhook).toBe(false);
    t.hub.close();
  });

  it('a delete keeps the instances, stops the pending ones, lets running ones finish; no more starts, triggers or re-runs', () => {
    const t = setup();
    const tpl = t.svc.createTemplate({ name: 'cron', command: 'true', cron: '* * * * *', nodeId: 'n1' }).template;
    const running = t.svc.start({ templateId: tpl.id, nodeId: 'n1' });
    t.report({ id: running.id, state: 'running' });
    t.disconnect();
    const pending = t.svc.start({ templateId: tpl.id, nodeId: 'n1' });
    const r = t.svc.deleteTemplate('cron');
    expect(r).toMatchObject({ stopped: 1, running: 1, template: { id: tpl.id, name: 'cron', deletedAt: expect.any(Number), cron: null } });
    expect(t.svc.get(pending.id)).toMatchObject({ state: 'stopped', error: 'its template cron was deleted before it started' });
    t.report({ id: running.id, state: 'succeeded', hasOutput: true, stdoutTail: Buffer.from('done\n'), stdoutBytes: 5 });
    expect(t.svc.get(running.id).state).toBe('succeeded');
    expect(t.svc.output(running.id)).toMatchObject({ recorded: true, stdout: 'done\n' });
    expect(() => t.svc.start({ templateId: tpl.id, nodeId: 'n1' })).toThrow(/no agent template .* \(it was deleted\)/);
    expect(() => t.svc.trigger(tpl.id, 'cron')).toThrow(/it was deleted/);
    expect(() => t.svc.rerun(running.id)).toThrow(/was deleted: it cannot run again/);
    expect(() => t.svc.deleteTemplate(tpl.id)).toThrow(/it was deleted/);
    const before = t.hub.agents.list({ templateId: tpl.id, limit: 10 }).length;
    t.svc.tick(new Date());
    expect(t.hub.agents.list({ templateId: tpl.id, limit: 10 })).toHaveLength(before);
    expect(t.svc.overview().map((s) => s.template.id)).not.toContain(tpl.id);
    t.hub.close();
  });

  it('a re-run is a new instance with the same template, node, session and config; the overview has one line per template', () => {
    const t = setup();
    const tpl = t.svc.createTemplate({ name: 'r', command: 'true', defaultConfig: { depth: 1 } }).template;
    const a = t.svc.start({ templateId: tpl.id, nodeId: 'n1', sessionId: 's', config: { x: 2 } });
    const b = t.svc.rerun(a.id);
    expect(b).toMatchObject({ templateId: tpl.id, nodeId: 'n1', sessionId: 's', config: { depth: 1, x: 2 }, trigger: 'rerun' });
    expect(b.id).not.toBe(a.id);
    expect(t.svc.overview()).toEqual([{ template: expect.objectContaining({ id: tpl.id }), last: expect.objectContaining({ id: b.id }), active: 2 }]);
    t.hub.close();
  });

  it('keeps the output a node reports while the instance runs, then with its final state, bounded whatever it sent', () => {
    const t = setup();
    const tpl = t.svc.createTemplate({ name: 'o', command: 'true' }).template;
    const a = t.svc.start({ templateId: tpl.id, nodeId: 'n1' });
    expect(t.svc.output(a.id)).toEqual({ id: a.id, recorded: false, stdout: '', stderr: '', stdoutBytes: 0, stderrBytes: 0, droppedAt: null });
    t.report({ id: a.id, state: 'running' });
    t.report({ id: a.id, state: 'running', hasOutput: true, stdoutTail: Buffer.from('so far\n'), stdoutBytes: 7 });
    expect(t.svc.output(a.id)).toMatchObject({ recorded: true, stdout: 'so far\n', stdoutBytes: 7 });
    const huge = Buffer.alloc(AGENT_OUTPUT_TAIL + 500, 0x61);
    t.report({ id: a.id, state: 'failed', exitCode: 2, error: 'bad', hasOutput: true, stdoutTail: huge, stderrTail: Buffer.from('bad\n'), stdoutBytes: 1e6, stderrBytes: -3 });
    const o = t.svc.output(a.id);
    expect(o).toMatchObject({ recorded: true, stderr: 'bad\n', stdoutBytes: 1e6, stderrBytes: 0 });
    expect(o.stdout.length).toBe(AGENT_OUTPUT_TAIL);
    // What a node sends as running after the end (late, or a settled instance it still runs) changes nothing.
    t.report({ id: a.id, state: 'running', hasOutput: true, stdoutTail: Buffer.from('late'), stdoutBytes: 4 });
    expect(t.svc.output(a.id).stdout.length).toBe(AGENT_OUTPUT_TAIL);
    // An older node sends no output: none is recorded.
    const b = t.svc.start({ templateId: tpl.id, nodeId: 'n1' });
    t.report({ id: b.id, state: 'succeeded' });
    expect(t.svc.output(b.id).recorded).toBe(false);
    t.hub.close();
  });

  it('deletes finished instances older than the history window with their output, in batches; pending and running ones stay', async () => {
    const t = setup();
    const tpl = t.svc.createTemplate({ name: 'h', command: 'true', nodeId: 'n1', overlap: 'queue' }).template;
    const DAY = 86_400_000;
    const t0 = Date.UTC(2026, 0, 1);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(t0);
      const old = Array.from({ length: 2100 }, () => t.hub.agents.createInstance({ templateId: tpl.id, nodeId: 'n1', trigger: 'cron' }));
      for (const i of old) {
        t.hub.agents.saveOutput(i.id, { stdout: 'x', stderr: '', stdoutBytes: 1, stderrBytes: 0 });
        t.hub.agents.finish(i.id, 'succeeded');
      }
      const pending = t.hub.agents.createInstance({ templateId: tpl.id, nodeId: 'n1', trigger: 'cron' });
      const running = t.hub.agents.createInstance({ templateId: tpl.id, nodeId: 'n1', trigger: 'cron' });
      t.hub.agents.markRunning(running.id);
      vi.setSystemTime(t0 + 80 * DAY);
      const recent = t.hub.agents.createInstance({ templateId: tpl.id, nodeId: 'n1', trigger: 'cron' });
      t.hub.agents.finish(recent.id, 'failed');
      // 95 days on, with a 90-day window: the 2,100 old finished ones go (three batches of at most 1,000).
      expect(await t.svc.history.trim(t0 + 95 * DAY)).toBe(2100);
      expect(t.hub.agents.instance(old[0]!.id)).toBeUndefined();
      expect(t.hub.agents.output(old[2099]!.id)).toBeUndefined();
      expect([pending, running, recent].map((i) => t.hub.agents.instance(i.id)?.state)).toEqual(['pending', 'running', 'failed']);
      expect(await t.svc.history.trim(t0 + 95 * DAY)).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
