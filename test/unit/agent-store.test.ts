/** The agent store in real SQLite: every lookup uses an index, JSON is never shared, foreign keys hold. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { listQuery, type InstanceFilter } from '../../main/store/agent-store';
import { HubStore } from '../../main/store/hub-store';

const dirs: string[] = [];
function open() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-agents-'));
  dirs.push(d);
  const file = path.join(d, 'hub.db');
  const hub = new HubStore(file);
  hub.addNode('n1', 'one', 'x');
  hub.addNode('n2', 'two', 'x');
  return { hub, file, agents: hub.agents };
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('AgentStore', () => {
  it('serves every lookup by node, session, template and state from an index (EXPLAIN QUERY PLAN)', () => {
    const { hub, file, agents } = open();
    const t = agents.createTemplate({ name: 'lint', command: 'npm run lint' });
    for (let i = 0; i < 50; i++) agents.createInstance({ templateId: t.id, nodeId: i % 2 ? 'n1' : 'n2', sessionId: `s${i % 5}`, trigger: 'manual' });
    // A second connection to the file asks SQLite for its plans (the store keeps its own private).
    const db = new Database(file);
    db.exec('ANALYZE');
    const filters: [string, Omit<InstanceFilter, 'limit'>][] = [
      ['node', { nodeId: 'n1' }], ['session', { sessionId: 's1' }], ['template', { templateId: t.id }], ['state', { state: 'pending' }],
      ['none (newest first)', {}], ['node, next page', { nodeId: 'n1', before: { createdAt: Date.now(), id: 'zz' } }],
      ['node and state', { nodeId: 'n1', state: 'running' }],
    ];
    for (const [what, f] of filters) {
      const { sql, args } = listQuery({ ...f, limit: 100 });
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail).join(' | ');
      expect(plan, what).toMatch(/USING (COVERING )?INDEX agent_instances_by_/);
      expect(plan, what).not.toMatch(/SCAN agent_instances(?! USING)/);
      expect(plan, what).not.toContain('TEMP B-TREE');
    }
    const active = (db.prepare("EXPLAIN QUERY PLAN SELECT * FROM agent_instances WHERE mesh_node_id = ? AND state IN ('pending', 'running') ORDER BY created_at, id").all('n1') as { detail: string }[]).map((r) => r.detail).join(' ');
    expect(active).toContain('agent_instances_by_node');
    db.close();
    hub.close();
  });

  it('gives every row its own config: two instances made without one never share an object', () => {
    const { hub, agents } = open();
    const t = agents.createTemplate({ name: 'noop', command: 'true' });
    const a = agents.createInstance({ templateId: t.id, nodeId: 'n1', trigger: 'manual' });
    const b = agents.createInstance({ templateId: t.id, nodeId: 'n1', trigger: 'manual' });
    expect(a.config).toEqual({});
    expect(a.config).not.toBe(b.config);
    a.config.mutated = true;
    expect(agents.instance(b.id)!.config).toEqual({});
    expect(agents.instance(a.id)!.config).toEqual({});
    // Templates' defaults too, and an instance's overlay never leaks into them.
    const u = agents.createTemplate({ name: 'with-defaults', command: 'true', defaultConfig: { depth: 1 } });
    const c = agents.createInstance({ templateId: u.id, nodeId: 'n2', trigger: 'manual', config: { extra: 'x' } });
    expect(c.config).toEqual({ depth: 1, extra: 'x' });
    expect(agents.template(u.id)!.defaultConfig).toEqual({ depth: 1 });
    hub.close();
  });

  it('keeps foreign keys and valid states; final states are final; pages are stable', () => {
    const { hub, agents } = open();
    const t = agents.createTemplate({ name: 'build', command: 'make' });
    expect(() => agents.createInstance({ templateId: t.id, nodeId: 'nope', trigger: 'manual' })).toThrow(/FOREIGN KEY/);
    expect(() => agents.createTemplate({ name: 'build', command: 'again' })).toThrow(/UNIQUE/);
    const ids = Array.from({ length: 25 }, () => agents.createInstance({ templateId: t.id, nodeId: 'n1', trigger: 'cron' }).id);
    expect(agents.markRunning(ids[0]!)).toBe(true);
    expect(agents.finish(ids[0]!, 'succeeded', { exitCode: 0 })).toBe(true);
    expect(agents.finish(ids[0]!, 'failed', { exitCode: 1 })).toBe(false);
    expect(agents.instance(ids[0]!)).toMatchObject({ state: 'succeeded', exitCode: 0 });
    // Keyset pages: every instance once, newest first.
    const seen: string[] = [];
    let before: InstanceFilter['before'];
    for (;;) {
      const page = agents.list({ nodeId: 'n1', limit: 10, ...(before ? { before } : {}) });
      if (page.length === 0) break;
      seen.push(...page.map((i) => i.id));
      before = { createdAt: page[page.length - 1]!.createdAt, id: page[page.length - 1]!.id };
    }
    expect(seen.sort()).toEqual([...ids].sort());
    expect(agents.countsByState()).toMatchObject({ pending: 24, succeeded: 1 });
    hub.close();
  });
});
