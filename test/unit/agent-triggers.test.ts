/**
 * Cron schedules and trigger bursts, against a real agent store (SQLite in a temp dir); only
 * time is faked. The node is stood in for by what the service sends it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AgentService, MAX_QUEUED } from '../../main/agents/agent-service';
import { CronError, nextFire, parseCron } from '../../main/agents/cron';
import { HubStore } from '../../main/store/hub-store';
import type { HubMessage } from '../../main/sync/wire';
import { createLogger } from '../../main/util/log';

const dirs: string[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function setup() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-triggers-'));
  dirs.push(d);
  const hub = new HubStore(path.join(d, 'hub.db'));
  hub.addNode('n1', 'one', 'x');
  const sent: HubMessage[] = [];
  const svc = new AgentService(hub.agents, {
    sendToNode: (_n, m) => { sent.push(m); return true; },
    nodeState: (n) => (hub.node(n) ? 'active' : undefined),
    changed: () => undefined,
    log: createLogger('hub', { consoleLevel: false }),
  });
  const report = (id: string, state: string, exitCode = 0) => svc.nodeReported('n1', { id, state, hasExitCode: state !== 'running', exitCode, signal: '', error: '' });
  return { hub, svc, sent, report, starts: () => sent.filter((m) => m.agentStart).map((m) => m.agentStart!.id) };
}

describe('cron schedules', () => {
  it('parses the standard 5 fields and refuses bad ones with a clear error', () => {
    expect([...parseCron('*/15 9-17 * * mon-fri').minutes]).toEqual([0, 15, 30, 45]);
    expect([...parseCron('0 0 * * 7').weekdays]).toEqual([0]);
    expect([...parseCron('5,10 1 1 jan,DEC *').months]).toEqual([1, 12]);
    for (const [expr, why] of [['* * * *', 'it has 4 fields'], ['61 * * * *', 'minute "61" is not in 0-59'], ['* 24 * * *', 'hour "24" is not in 0-23'],
      ['*/0 * * * *', 'step "0" must be a positive number'], ['5-1 * * * *', 'range "5-1" goes backwards'], ['* * 0 * *', 'day-of-month "0" is not in 1-31'],
      ['* * * foo *', 'month "foo" is not in 1-12'], ['', 'it has 0 fields'], ['1,,2 * * * *', 'minute "" is malformed']] as const) {
      expect(() => parseCron(expr), expr).toThrow(CronError);
      expect(() => parseCron(expr), expr).toThrow(why);
    }
  });

  it('finds the next firing time (either day field matches when both are restricted)', () => {
    const at = new Date(2026, 0, 1, 10, 7, 30); // a Thursday
    expect(nextFire(parseCron('*/15 * * * *'), at)).toEqual(new Date(2026, 0, 1, 10, 15));
    expect(nextFire(parseCron('0 9 * * mon'), at)).toEqual(new Date(2026, 0, 5, 9, 0));
    expect(nextFire(parseCron('0 0 13 * fri'), at)).toEqual(new Date(2026, 0, 2, 0, 0));
    expect(nextFire(parseCron('0 0 30 2 *'), at)).toBeNull();
  });

  it('fires at the start of each matching minute; the overlap policy skips while the last one runs', async () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date(2026, 0, 1, 10, 0, 30));
    const t = setup();
    const tpl = t.svc.createTemplate({ name: 'every-15', command: 'true', cron: '*/15 * * * *', nodeId: 'n1' }).template;
    t.svc.startScheduler();
    await vi.advanceTimersByTimeAsync(16 * 60_000); // 10:15 fires
    expect(t.starts()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(15 * 60_000); // 10:30: the 10:15 one still runs: skipped
    expect(t.starts()).toHaveLength(1);
    t.report(t.starts()[0]!, 'running');
    t.report(t.starts()[0]!, 'succeeded');
    await vi.advanceTimersByTimeAsync(15 * 60_000); // 10:45 fires again
    expect(t.starts()).toHaveLength(2);
    const listed = t.svc.list({ templateId: tpl.id });
    expect(listed.items.map((i) => [i.trigger, new Date(i.createdAt).getMinutes()])).toEqual([['cron', 45], ['cron', 15]]);
    t.svc.stopScheduler();
    t.hub.close();
  });

  it('says when each template\'s cron fires next, as of the answer; none without a cron or once deleted', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date(2026, 0, 1, 10, 7, 30));
    const t = setup();
    const cron = t.svc.createTemplate({ name: 'every-15', command: 'true', cron: '*/15 * * * *', nodeId: 'n1' }).template;
    expect(cron.nextRunAt).toBe(new Date(2026, 0, 1, 10, 15).getTime());
    const manual = t.svc.createTemplate({ name: 'manual', command: 'true' }).template;
    expect(manual.nextRunAt).toBeNull();
    vi.setSystemTime(new Date(2026, 0, 1, 10, 15, 1));
    expect(t.svc.templates().map((x) => [x.name, x.nextRunAt])).toEqual([['every-15', new Date(2026, 0, 1, 10, 30).getTime()], ['manual', null]]);
    expect(t.svc.overview().find((s) => s.template.id === cron.id)!.template.nextRunAt).toBe(new Date(2026, 0, 1, 10, 30).getTime());
    expect(t.svc.updateTemplate({ id: cron.id, cron: '0 9 * * *' }).template.nextRunAt).toBe(new Date(2026, 0, 2, 9, 0).getTime());
    expect(t.svc.deleteTemplate(cron.id).template.nextRunAt).toBeNull();
    t.hub.close();
  });

  it('refuses a cron template without a node, or with an invalid schedule', () => {
    const t = setup();
    expect(() => t.svc.createTemplate({ name: 'x', command: 'true', cron: '*/5 * * * *' })).toThrow(/needs the node/);
    expect(() => t.svc.createTemplate({ name: 'y', command: 'true', cron: 'every minute', nodeId: 'n1' })).toThrow(/invalid cron schedule/);
    t.hub.close();
  });
});

describe('trigger bursts', () => {
  it('skip: a burst of 50 makes one instance', () => {
    const t = setup();
    t.svc.createTemplate({ name: 'hook', command: 'true', nodeId: 'n1', overlap: 'skip' });
    const results = Array.from({ length: 50 }, () => t.svc.trigger('hook', 'webhook'));
    expect(results.filter((r) => !('skipped' in r))).toHaveLength(1);
    expect(t.starts()).toHaveLength(1);
    t.hub.close();
  });

  it('queue: a burst waits in line and runs one at a time, in order; the line is bounded', () => {
    const t = setup();
    const tpl = t.svc.createTemplate({ name: 'q', command: 'true', nodeId: 'n1', overlap: 'queue' }).template;
    const made = Array.from({ length: MAX_QUEUED + 10 }, () => t.svc.trigger('q', 'webhook'));
    const ok = made.filter((r): r is Exclude<typeof r, { skipped: string }> => !('skipped' in r));
    expect(ok).toHaveLength(MAX_QUEUED + 1);
    expect(t.starts()).toEqual([ok[0]!.id]);
    for (let k = 0; k < 3; k++) {
      t.report(ok[k]!.id, 'running');
      expect(t.starts()).toHaveLength(k + 1);
      t.report(ok[k]!.id, 'succeeded');
      expect(t.starts()).toEqual(ok.slice(0, k + 2).map((i) => i.id));
    }
    expect(t.svc.list({ templateId: tpl.id, state: 'pending', limit: 1000 }).items).toHaveLength(MAX_QUEUED + 1 - 3);
    t.hub.close();
  });
});

describe('a hub start after a crash', () => {
  it('marks what was running lost, and leaves the rest', () => {
    const t = setup();
    t.svc.createTemplate({ name: 'w', command: 'true', nodeId: 'n1' });
    const a = t.svc.start({ templateId: 'w', nodeId: 'n1' });
    const b = t.svc.start({ templateId: 'w', nodeId: 'n1' });
    t.report(a.id, 'running');
    expect(t.svc.recover()).toBe(1);
    expect(t.svc.get(a.id)).toMatchObject({ state: 'lost', error: 'the hub stopped while it ran' });
    expect(t.svc.get(b.id).state).toBe('pending');
    t.hub.close();
  });
});
