/**
 * Templates edited and deleted in real SQLite: a database from before the migration keeps its
 * instances and learns the command each ran; a deleted template is a tombstone its instances
 * still name, its name free again; an instance's output tail is kept beside it, bounded.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { HUB_MIGRATIONS } from '../../main/store/hub-migrations';
import { ACTIVE_OF_TEMPLATE } from '../../main/store/agent-store';
import { HubStore } from '../../main/store/hub-store';
import { rewindHubSchema } from '../helpers/hub-schema';
import { AGENT_OUTPUT_TAIL, ByteTail, tailText } from '../../main/util/tail';
import { OUTPUT_TAIL_BYTES } from '../../main/contract';
import { duration } from '../../main/util/format';

const dirs: string[] = [];
function file(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-templates-'));
  dirs.push(d);
  return path.join(d, 'hub.db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** The schema version before this feature's migration (found by what it runs, wherever later migrations put it). */
const before = HUB_MIGRATIONS.findIndex((m) => m.toString().includes('AGENT_EDITS_SCHEMA'));

describe('agent templates: edits, tombstones, output', () => {
  it('a database from before the migration keeps its instances, each with the command it ran', () => {
    expect(before).toBeGreaterThan(0);
    const f = file();
    const s = new HubStore(f);
    s.addNode('n1', 'one', 'x');
    s.close();
    const db = new Database(f);
    rewindHubSchema(db, before);
    db.prepare("INSERT INTO agent_templates VALUES ('t1', 'lint', 'npm run lint', '{}', NULL, NULL, 'skip', NULL, 1, 1)").run();
    db.prepare("INSERT INTO agent_instances (id, template_id, mesh_node_id, state, config, trigger, created_at) VALUES ('i1', 't1', 'n1', 'succeeded', '{}', 'manual', 5)").run();
    db.close();
    const again = new HubStore(f);
    expect(again.agents.instance('i1')).toMatchObject({ templateId: 't1', command: 'npm run lint', durationMs: null });
    expect(again.agents.template('lint')).toMatchObject({ id: 't1', deletedAt: null });
    expect(again.agents.output('i1')).toBeUndefined();
    again.close();
  });

  it('an edit changes the template, never the command its instances ran', () => {
    const s = new HubStore(file());
    s.addNode('n1', 'one', 'x');
    const t = s.agents.createTemplate({ name: 'build', command: 'make', webhookToken: 'tok' });
    const i = s.agents.createInstance({ templateId: t.id, nodeId: 'n1', trigger: 'manual' });
    expect(s.agents.updateTemplate(t.id, { command: 'make -j4', cron: '* * * * *', nodeId: 'n1' }, t.updatedAt + 10)).toBe(true);
    expect(s.agents.template(t.id)).toMatchObject({ name: 'build', command: 'make -j4', cron: '* * * * *', nodeId: 'n1', hasWebhook: true, updatedAt: t.updatedAt + 10 });
    expect(s.agents.webhookTokenOk(t.id, 'tok')).toBe(true);
    expect(s.agents.instance(i.id)!.command).toBe('make');
    expect(s.agents.createInstance({ templateId: t.id, nodeId: 'n1', trigger: 'manual' }).command).toBe('make -j4');
    s.agents.updateTemplate(t.id, { webhookToken: 'other' });
    expect(s.agents.webhookTokenOk(t.id, 'tok')).toBe(false);
    expect(s.agents.webhookTokenOk(t.id, 'other')).toBe(true);
    s.agents.updateTemplate(t.id, { webhookToken: null, cron: null });
    expect(s.agents.template(t.id)).toMatchObject({ hasWebhook: false, cron: null });
    s.close();
  });

  it('a deleted template is a tombstone: its instances name it, its name is free, it has no cron or webhook, and it cannot be edited', () => {
    const s = new HubStore(file());
    s.addNode('n1', 'one', 'x');
    const t = s.agents.createTemplate({ name: 'every-minute', command: 'true', cron: '* * * * *', nodeId: 'n1', webhookToken: 'tok' });
    const i = s.agents.createInstance({ templateId: t.id, nodeId: 'n1', trigger: 'cron' });
    expect(s.agents.deleteTemplate(t.id)).toBe(true);
    expect(s.agents.deleteTemplate(t.id)).toBe(false);
    expect(s.agents.templates().map((x) => x.id)).not.toContain(t.id);
    expect(s.agents.templates(true).find((x) => x.id === t.id)).toMatchObject({ name: 'every-minute', cron: null, hasWebhook: false, deletedAt: expect.any(Number) });
    expect(s.agents.template('every-minute')).toBeUndefined();
    expect(s.agents.webhookTokenOk(t.id, 'tok')).toBe(false);
    expect(s.agents.updateTemplate(t.id, { command: 'false' })).toBe(false);
    expect(s.agents.instance(i.id)).toMatchObject({ templateId: t.id, command: 'true' });
    expect(s.agents.list({ templateId: t.id, limit: 10 }).map((x) => x.id)).toEqual([i.id]);
    const again = s.agents.createTemplate({ name: 'every-minute', command: 'echo' });
    expect(again.id).not.toBe(t.id);
    expect(s.agents.template('every-minute')!.id).toBe(again.id);
    expect(s.agents.templates(true).map((x) => x.name)).toEqual(['every-minute', 'every-minute']);
    s.close();
  });

  it('finds a template\'s active instances through the state index and its newest through its own, never reading all its instances', () => {
    const f = file();
    const s = new HubStore(f);
    s.addNode('n1', 'one', 'x');
    const t = s.agents.createTemplate({ name: 'every-minute', command: 'true' });
    for (let k = 0; k < 30; k++) {
      const i = s.agents.createInstance({ templateId: t.id, nodeId: 'n1', trigger: 'cron' });
      if (k < 28) s.agents.finish(i.id, 'succeeded');
    }
    expect(s.agents.activeCountOfTemplate(t.id)).toBe(2);
    expect(s.agents.activeOfTemplate(t.id)).toHaveLength(2);
    const db = new Database(f);
    db.exec('ANALYZE');
    const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(t.id) as { detail: string }[]).map((r) => r.detail).join(' | ');
    expect(plan(`SELECT count(*) ${ACTIVE_OF_TEMPLATE}`)).toMatch(/SEARCH agent_instances USING (COVERING )?INDEX agent_instances_by_state \(state=\?\)/);
    expect(plan('SELECT * FROM agent_instances WHERE template_id = ? ORDER BY created_at DESC, id DESC LIMIT 1')).toMatch(/INDEX agent_instances_by_template/);
    db.close();
    s.close();
  });

  it('keeps an instance\'s output tail beside it, and finds a template\'s newest instance', () => {
    const s = new HubStore(file());
    s.addNode('n1', 'one', 'x');
    const t = s.agents.createTemplate({ name: 'x', command: 'true' });
    const a = s.agents.createInstance({ templateId: t.id, nodeId: 'n1', trigger: 'manual' });
    const b = s.agents.createInstance({ templateId: t.id, nodeId: 'n1', trigger: 'manual' });
    expect(s.agents.lastOfTemplate(t.id)!.id).toBe(b.id);
    s.agents.saveOutput(a.id, { stdout: 'out\n', stderr: 'err\n', stdoutBytes: 4, stderrBytes: 100_000 });
    expect(s.agents.output(a.id)).toEqual({ stdout: 'out\n', stderr: 'err\n', stdoutBytes: 4, stderrBytes: 100_000, droppedAt: null });
    expect(s.agents.output(b.id)).toBeUndefined();
    s.agents.markRunning(a.id, 1000);
    s.agents.finish(a.id, 'succeeded', {}, 4500);
    expect(s.agents.instance(a.id)!.durationMs).toBe(3500);
    s.close();
  });
});

describe('output tails', () => {
  it('keeps the last bytes of a stream, whatever the chunks, and counts all of them', () => {
    expect(OUTPUT_TAIL_BYTES).toBe(AGENT_OUTPUT_TAIL);
    const t = new ByteTail(10);
    const all: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      const b = Buffer.from(`${i},`);
      all.push(b);
      t.push(b);
    }
    const whole = Buffer.concat(all);
    expect(t.total).toBe(whole.length);
    expect(t.bytes().toString()).toBe(whole.subarray(whole.length - 10).toString());
    const small = new ByteTail(10);
    small.push(Buffer.from('abc'));
    expect(small.bytes().toString()).toBe('abc');
    expect(new ByteTail(10).bytes().length).toBe(0);
  });

  it('turns a tail into text without the pieces of a character cut at its start, and bounds what a node sends', () => {
    const text = 'é'.repeat(10); // 2 bytes each
    const b = Buffer.from(text);
    // Cut by the node (the stream had 20 bytes), or here.
    expect(tailText(b.subarray(1), 20)).toBe('é'.repeat(9));
    expect(tailText(b.subarray(1), 19)).toBe(`\ufffd${'é'.repeat(9)}`);
    expect(tailText(b, 0, 7)).toBe('é'.repeat(3));
    expect(tailText(Buffer.from([0x61, 0xff, 0x62]))).toBe('a\ufffdb');
    expect(tailText(Buffer.alloc(AGENT_OUTPUT_TAIL * 3, 0x41), AGENT_OUTPUT_TAIL * 3).length).toBe(AGENT_OUTPUT_TAIL);
    expect(tailText(undefined)).toBe('');
  });

  it('says how long something took', () => {
    expect([duration(850), duration(12_345), duration(245_000), duration(7_380_000)]).toEqual(['850 ms', '12.3 s', '4 min 5 s', '2 h 3 min']);
  });

  it('keeps the output of a template\'s newest runs only; an older run keeps its byte counts and says when its tails went', () => {
    const f = file();
    const s = new HubStore(f);
    s.addNode('n1', 'one', 'x');
    const a = s.agents.createTemplate({ name: 'a', command: 'true' });
    const b = s.agents.createTemplate({ name: 'b', command: 'true' });
    const runsA = Array.from({ length: 5 }, () => s.agents.createInstance({ templateId: a.id, nodeId: 'n1', trigger: 'cron' }));
    const runB = s.agents.createInstance({ templateId: b.id, nodeId: 'n1', trigger: 'cron' });
    const save = (id: string, at: number) => s.agents.saveOutput(id, { stdout: `out ${id}`, stderr: 'e', stdoutBytes: 1000, stderrBytes: 1 }, at, 3);
    save(runB.id, 10);
    runsA.forEach((r, i) => save(r.id, 100 + i));
    // The two oldest of a's five: emptied when the fourth and the fifth came; b's own run kept.
    expect(runsA.map((r) => s.agents.output(r.id)!.droppedAt)).toEqual([103, 104, null, null, null]);
    expect(s.agents.output(runsA[0]!.id)).toEqual({ stdout: '', stderr: '', stdoutBytes: 1000, stderrBytes: 1, droppedAt: 103 });
    expect(s.agents.output(runsA[4]!.id)!.stdout).toBe(`out ${runsA[4]!.id}`);
    expect(s.agents.output(runB.id)!.droppedAt).toBeNull();
    // The trim reads the kept rows of one template through the partial index, not every run.
    const db = new Database(f, { readonly: true });
    const plan = db.prepare("EXPLAIN QUERY PLAN SELECT instance_id FROM agent_output INDEXED BY agent_output_kept WHERE template_id = 'x' AND dropped_at IS NULL ORDER BY created_at DESC, instance_id DESC LIMIT -1 OFFSET 3").all() as { detail: string }[];
    expect(plan.map((r) => r.detail).join(' ')).toMatch(/USING INDEX agent_output_kept/);
    db.close();
    s.close();
  });
});
