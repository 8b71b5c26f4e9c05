/**
 * Agent templates and instances in the hub's database (the schema is migration 4 of
 * hub-migrations.ts). Instances pile up (cron, webhooks): every lookup the UI, the CLI and the
 * lifecycle make (by node, session, template, state; newest first, paged by keyset) is served
 * by an index. JSON columns are written from a fresh value per row and parsed into a fresh
 * object per read: no row ever shares an object with another.
 */
import crypto from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { DB } from './db';

import { AGENT_STATES, type AgentInstanceView, type AgentStateName, type AgentTemplateView } from '../contract';

export { AGENT_STATES };
export type AgentState = AgentStateName;
/** States an instance never leaves. */
export const FINAL_STATES: readonly AgentState[] = ['succeeded', 'failed', 'stopped', 'lost'];
export type OverlapPolicy = AgentTemplateView['overlap'];

export const AGENT_SCHEMA = `
  CREATE TABLE agent_templates (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    command TEXT NOT NULL,
    default_config TEXT NOT NULL,
    cron TEXT,
    node_id TEXT REFERENCES nodes (id),
    overlap TEXT NOT NULL CHECK (overlap IN ('skip', 'queue')),
    webhook_token_hash BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE agent_instances (
    id TEXT PRIMARY KEY,
    template_id TEXT NOT NULL REFERENCES agent_templates (id),
    mesh_node_id TEXT NOT NULL REFERENCES nodes (id),
    session_id TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'stopped', 'lost')),
    config TEXT NOT NULL,
    trigger TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    exit_code INTEGER,
    exit_signal TEXT,
    error TEXT
  );
  CREATE INDEX agent_instances_by_node ON agent_instances (mesh_node_id, created_at, id);
  CREATE INDEX agent_instances_by_session ON agent_instances (session_id, created_at, id);
  CREATE INDEX agent_instances_by_template ON agent_instances (template_id, created_at, id);
  CREATE INDEX agent_instances_by_state ON agent_instances (state, created_at, id);
  CREATE INDEX agent_instances_by_created ON agent_instances (created_at, id);
`;

/** Rows come out exactly as the contract shows them. */
export type AgentTemplate = AgentTemplateView;
export type AgentInstance = AgentInstanceView;

export interface InstanceFilter {
  nodeId?: string;
  sessionId?: string;
  templateId?: string;
  state?: AgentState;
  /** Keyset paging: instances older than this one (its `created_at`, `id`). */
  before?: { createdAt: number; id: string };
  limit: number;
}

interface TemplateRow {
  id: string; name: string; command: string; default_config: string; cron: string | null; node_id: string | null; overlap: OverlapPolicy;
  webhook_token_hash: Buffer | null; created_at: number; updated_at: number;
}
interface InstanceRow {
  id: string; template_id: string; mesh_node_id: string; session_id: string | null; state: AgentState; config: string; trigger: string;
  created_at: number; started_at: number | null; finished_at: number | null; exit_code: number | null; exit_signal: string | null; error: string | null;
}

const toTemplate = (r: TemplateRow): AgentTemplate => ({
  id: r.id, name: r.name, command: r.command, defaultConfig: JSON.parse(r.default_config) as Record<string, unknown>, cron: r.cron, nodeId: r.node_id,
  overlap: r.overlap, hasWebhook: r.webhook_token_hash !== null, createdAt: r.created_at, updatedAt: r.updated_at,
});
const toInstance = (r: InstanceRow): AgentInstance => ({
  id: r.id, templateId: r.template_id, nodeId: r.mesh_node_id, sessionId: r.session_id, state: r.state,
  config: JSON.parse(r.config) as Record<string, unknown>, trigger: r.trigger, createdAt: r.created_at, startedAt: r.started_at,
  finishedAt: r.finished_at, exitCode: r.exit_code, exitSignal: r.exit_signal, error: r.error,
});

/** One filter column at a time picks the index; the others are checked on the rows it yields. */
const FILTER_COLUMNS = [['nodeId', 'mesh_node_id'], ['sessionId', 'session_id'], ['templateId', 'template_id'], ['state', 'state']] as const;

export class AgentStore {
  private readonly q;
  private counter = 0;
  private readonly listCache = new Map<string, Statement<(string | number)[], InstanceRow>>();

  constructor(private readonly db: DB) {
    this.q = {
      insertTemplate: db.prepare(`INSERT INTO agent_templates (id, name, command, default_config, cron, node_id, overlap, webhook_token_hash, created_at, updated_at)
        VALUES (@id, @name, @command, @default_config, @cron, @node_id, @overlap, @webhook_token_hash, @created_at, @updated_at)`),
      template: db.prepare<[string], TemplateRow>('SELECT * FROM agent_templates WHERE id = ?'),
      templateByName: db.prepare<[string], TemplateRow>('SELECT * FROM agent_templates WHERE name = ?'),
      templates: db.prepare<[], TemplateRow>('SELECT * FROM agent_templates ORDER BY name'),
      webhookHash: db.prepare<[string], { webhook_token_hash: Buffer | null }>('SELECT webhook_token_hash FROM agent_templates WHERE id = ?'),
      insertInstance: db.prepare(`INSERT INTO agent_instances (id, template_id, mesh_node_id, session_id, state, config, trigger, created_at)
        VALUES (@id, @template_id, @mesh_node_id, @session_id, 'pending', @config, @trigger, @created_at)`),
      instance: db.prepare<[string], InstanceRow>('SELECT * FROM agent_instances WHERE id = ?'),
      setRunning: db.prepare("UPDATE agent_instances SET state = 'running', started_at = ? WHERE id = ? AND state = 'pending'"),
      finish: db.prepare(`UPDATE agent_instances SET state = @state, finished_at = @at, exit_code = @exit_code, exit_signal = @exit_signal, error = @error
        WHERE id = @id AND state IN ('pending', 'running')`),
      activeOfNode: db.prepare<[string], InstanceRow>("SELECT * FROM agent_instances WHERE mesh_node_id = ? AND state IN ('pending', 'running') ORDER BY created_at, id"),
      activeOfTemplate: db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM agent_instances WHERE template_id = ? AND state IN ('pending', 'running')"),
      runningOfTemplate: db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM agent_instances WHERE template_id = ? AND state = 'running'"),
      oldestPendingOfTemplate: db.prepare<[string], InstanceRow>("SELECT * FROM agent_instances WHERE template_id = ? AND state = 'pending' ORDER BY created_at, id LIMIT 1"),
      counts: db.prepare<[], { state: AgentState; n: number }>('SELECT state, count(*) AS n FROM agent_instances GROUP BY state'),
      running: db.prepare<[], InstanceRow>("SELECT * FROM agent_instances WHERE state = 'running' ORDER BY created_at, id"),
    };
  }

  createTemplate(t: { name: string; command: string; defaultConfig?: Record<string, unknown>; cron?: string | null; nodeId?: string | null; overlap?: OverlapPolicy; webhookToken?: string | null }): AgentTemplate {
    const now = Date.now();
    const id = crypto.randomBytes(8).toString('hex');
    this.q.insertTemplate.run({
      id, name: t.name, command: t.command, default_config: JSON.stringify(t.defaultConfig ?? {}), cron: t.cron ?? null, node_id: t.nodeId ?? null,
      overlap: t.overlap ?? 'skip', webhook_token_hash: t.webhookToken ? sha256(t.webhookToken) : null, created_at: now, updated_at: now,
    });
    return this.template(id)!;
  }

  template(id: string): AgentTemplate | undefined {
    const r = this.q.template.get(id) ?? this.q.templateByName.get(id);
    return r && toTemplate(r);
  }

  templates(): AgentTemplate[] {
    return this.q.templates.all().map(toTemplate);
  }

  /** Constant-time check of a template's webhook token. */
  webhookTokenOk(templateId: string, token: string): boolean {
    const h = this.q.webhookHash.get(templateId)?.webhook_token_hash;
    const given = sha256(token);
    if (!h) {
      crypto.timingSafeEqual(given, given);
      return false;
    }
    return crypto.timingSafeEqual(given, h);
  }

  /** A new pending instance; its config is the template's defaults overlaid by `config` (a fresh object). */
  createInstance(i: { templateId: string; nodeId: string; sessionId?: string | null; config?: Record<string, unknown>; trigger: string }): AgentInstance {
    const t = this.template(i.templateId);
    if (!t) throw new Error(`no agent template ${i.templateId}`);
    const now = Date.now();
    // Ids sort like creation (time, then a counter): "oldest first" within one millisecond too.
    const id = `${now.toString(16).padStart(12, '0')}${(this.counter++ & 0xffff).toString(16).padStart(4, '0')}${crypto.randomBytes(4).toString('hex')}`;
    this.q.insertInstance.run({
      id, template_id: t.id, mesh_node_id: i.nodeId, session_id: i.sessionId ?? null,
      config: JSON.stringify({ ...t.defaultConfig, ...(i.config ?? {}) }), trigger: i.trigger, created_at: now,
    });
    return this.instance(id)!;
  }

  instance(id: string): AgentInstance | undefined {
    const r = this.q.instance.get(id);
    return r && toInstance(r);
  }

  markRunning(id: string, at = Date.now()): boolean {
    return this.q.setRunning.run(at, id).changes > 0;
  }

  /** Moves an instance to a final state (only from pending or running). */
  finish(id: string, state: AgentState, f: { exitCode?: number | null; exitSignal?: string | null; error?: string | null } = {}, at = Date.now()): boolean {
    return this.q.finish.run({ id, state, at, exit_code: f.exitCode ?? null, exit_signal: f.exitSignal ?? null, error: f.error ?? null }).changes > 0;
  }

  activeOfNode(nodeId: string): AgentInstance[] {
    return this.q.activeOfNode.all(nodeId).map(toInstance);
  }

  activeCountOfTemplate(templateId: string): number {
    return this.q.activeOfTemplate.get(templateId)!.n;
  }

  /** Every running instance (through the state index). */
  running(): AgentInstance[] {
    return this.q.running.all().map(toInstance);
  }

  runningCountOfTemplate(templateId: string): number {
    return this.q.runningOfTemplate.get(templateId)!.n;
  }

  oldestPendingOfTemplate(templateId: string): AgentInstance | undefined {
    const r = this.q.oldestPendingOfTemplate.get(templateId);
    return r && toInstance(r);
  }

  countsByState(): Record<AgentState, number> {
    const out = Object.fromEntries(AGENT_STATES.map((s) => [s, 0])) as Record<AgentState, number>;
    for (const r of this.q.counts.all()) out[r.state] = r.n;
    return out;
  }

  /**
   * Instances newest first, filtered and paged by keyset (`before`): one index range scan, so
   * a page costs the same at the millionth row as at the first.
   */
  list(f: InstanceFilter): AgentInstance[] {
    const { sql, args } = listQuery(f);
    let st = this.listCache.get(sql);
    if (!st) {
      st = this.db.prepare<(string | number)[], InstanceRow>(sql);
      this.listCache.set(sql, st);
    }
    return st.all(...args).map(toInstance);
  }
}

/** The SQL of a filtered, paged listing (exported for the EXPLAIN QUERY PLAN tests and the benchmark). */
export function listQuery(f: InstanceFilter): { sql: string; args: (string | number)[] } {
  const where: string[] = [];
  const args: (string | number)[] = [];
  for (const [key, col] of FILTER_COLUMNS) {
    const v = f[key];
    if (v === undefined) continue;
    where.push(`${col} = ?`);
    args.push(v);
  }
  if (f.before) {
    where.push('(created_at < ? OR (created_at = ? AND id < ?))');
    args.push(f.before.createdAt, f.before.createdAt, f.before.id);
  }
  args.push(f.limit);
  return { sql: `SELECT * FROM agent_instances${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`, args };
}

function sha256(s: string): Buffer {
  return crypto.createHash('sha256').update(s, 'utf8').digest();
}
