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

import { AGENT_STATES, OUTPUT_RUNS_KEPT, type AgentInstanceView, type AgentOutputView, type AgentStateName, type AgentTemplateView } from '../contract';

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

/**
 * Templates edited and deleted, instances' command and output (a later migration than
 * AGENT_SCHEMA). A deleted template stays as a tombstone (`deleted_at`), so its instances keep
 * their history and their foreign key: its name moves to `deleted_name` and `name` becomes
 * `TOMBSTONE_PREFIX` + its id, which no live template can be called (names have no control
 * characters), so the name is free again. (Rebuilding the table to drop the UNIQUE on `name`
 * cannot be done inside the migration's transaction: dropping a parent table with foreign keys
 * on fails the commit.) Each instance records the command it ran (instances made before this
 * migration ran their template's command: templates could not be edited then). The tail of
 * each instance's output lives in its own table, so the instances' rows, which every listing
 * reads, stay small; only the newest OUTPUT_RUNS_KEPT runs of a template keep theirs (a cron
 * firing every minute would otherwise pile up 1,440 × 128 KiB a day): an older run's tails
 * are emptied and `dropped_at` says when. The partial index holds only kept rows, so the
 * trim after each save reads about OUTPUT_RUNS_KEPT index entries however many runs there were.
 */
export const AGENT_EDITS_SCHEMA = `
  ALTER TABLE agent_templates ADD COLUMN deleted_at INTEGER;
  ALTER TABLE agent_templates ADD COLUMN deleted_name TEXT;
  ALTER TABLE agent_instances ADD COLUMN command TEXT NOT NULL DEFAULT '';
  UPDATE agent_instances SET command = (SELECT t.command FROM agent_templates t WHERE t.id = agent_instances.template_id);
  CREATE TABLE agent_output (
    instance_id TEXT PRIMARY KEY REFERENCES agent_instances (id),
    template_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    stdout TEXT NOT NULL,
    stderr TEXT NOT NULL,
    stdout_bytes INTEGER NOT NULL,
    stderr_bytes INTEGER NOT NULL,
    dropped_at INTEGER
  );
  CREATE INDEX agent_output_kept ON agent_output (template_id, created_at, instance_id) WHERE dropped_at IS NULL;
`;

/**
 * A template's pending and running instances, found through the state index: they are few,
 * while its instances may be a million (a cron firing every minute), and the template index
 * would read every one of them on each trigger and each line of the overview.
 */
export const ACTIVE_OF_TEMPLATE = "FROM agent_instances INDEXED BY agent_instances_by_state WHERE state IN ('pending', 'running') AND template_id = ?";

/** What `name` holds for a deleted template (then its id): a control character no live name has. */
export const TOMBSTONE_PREFIX = '\u0000deleted:';

/** Rows come out exactly as the contract shows them. */
/** A template as stored: the view without what the hub works out when it answers (agent-service.ts). */
export type AgentTemplate = Omit<AgentTemplateView, 'nextRunAt'>;
export type AgentInstance = AgentInstanceView;
export type AgentOutput = Omit<AgentOutputView, 'id' | 'recorded'>;

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
  webhook_token_hash: Buffer | null; created_at: number; updated_at: number; deleted_at: number | null; deleted_name: string | null;
}
interface InstanceRow {
  id: string; template_id: string; mesh_node_id: string; session_id: string | null; state: AgentState; config: string; trigger: string;
  created_at: number; started_at: number | null; finished_at: number | null; exit_code: number | null; exit_signal: string | null; error: string | null;
  command: string;
}

const toTemplate = (r: TemplateRow): AgentTemplate => ({
  id: r.id, name: r.deleted_name ?? r.name, command: r.command, defaultConfig: JSON.parse(r.default_config) as Record<string, unknown>, cron: r.cron, nodeId: r.node_id,
  overlap: r.overlap, hasWebhook: r.webhook_token_hash !== null, createdAt: r.created_at, updatedAt: r.updated_at, deletedAt: r.deleted_at,
});
const toInstance = (r: InstanceRow): AgentInstance => ({
  id: r.id, templateId: r.template_id, nodeId: r.mesh_node_id, sessionId: r.session_id, state: r.state,
  config: JSON.parse(r.config) as Record<string, unknown>, trigger: r.trigger, createdAt: r.created_at, startedAt: r.started_at,
  finishedAt: r.finished_at, exitCode: r.exit_code, exitSignal: r.exit_signal, error: r.error, command: r.command,
  durationMs: r.started_at !== null && r.finished_at !== null ? Math.max(0, r.finished_at - r.started_at) : null,
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
      templateByName: db.prepare<[string], TemplateRow>('SELECT * FROM agent_templates WHERE name = ? AND deleted_at IS NULL'),
      templates: db.prepare<[], TemplateRow>('SELECT * FROM agent_templates WHERE deleted_at IS NULL ORDER BY name'),
      allTemplates: db.prepare<[], TemplateRow>('SELECT * FROM agent_templates ORDER BY deleted_at IS NOT NULL, coalesce(deleted_name, name)'),
      updateTemplate: db.prepare(`UPDATE agent_templates SET name = @name, command = @command, default_config = @default_config, cron = @cron, node_id = @node_id,
        overlap = @overlap, webhook_token_hash = @webhook_token_hash, updated_at = @at WHERE id = @id AND deleted_at IS NULL`),
      deleteTemplate: db.prepare(`UPDATE agent_templates SET deleted_name = name, name = @tombstone, cron = NULL, webhook_token_hash = NULL, deleted_at = @at, updated_at = @at
        WHERE id = @id AND deleted_at IS NULL`),
      lastOfTemplate: db.prepare<[string], InstanceRow>('SELECT * FROM agent_instances WHERE template_id = ? ORDER BY created_at DESC, id DESC LIMIT 1'),
      // `WHERE true`: an upsert's SELECT needs a WHERE (SQLite would read ON as a join's).
      saveOutput: db.prepare(`INSERT INTO agent_output (instance_id, template_id, created_at, stdout, stderr, stdout_bytes, stderr_bytes)
        SELECT id, template_id, created_at, @stdout, @stderr, @stdout_bytes, @stderr_bytes FROM agent_instances WHERE id = @id AND true
        ON CONFLICT (instance_id) DO UPDATE SET stdout = excluded.stdout, stderr = excluded.stderr, stdout_bytes = excluded.stdout_bytes, stderr_bytes = excluded.stderr_bytes, dropped_at = NULL`),
      trimOutputs: db.prepare(`UPDATE agent_output SET stdout = '', stderr = '', dropped_at = @at WHERE instance_id IN (
        SELECT instance_id FROM agent_output INDEXED BY agent_output_kept WHERE template_id = (SELECT template_id FROM agent_instances WHERE id = @id) AND dropped_at IS NULL
        ORDER BY created_at DESC, instance_id DESC LIMIT -1 OFFSET @keep)`),
      output: db.prepare<[string], { stdout: string; stderr: string; stdout_bytes: number; stderr_bytes: number; dropped_at: number | null }>('SELECT * FROM agent_output WHERE instance_id = ?'),
      webhookHash: db.prepare<[string], { webhook_token_hash: Buffer | null }>('SELECT webhook_token_hash FROM agent_templates WHERE id = ?'),
      insertInstance: db.prepare(`INSERT INTO agent_instances (id, template_id, mesh_node_id, session_id, state, config, trigger, created_at, command)
        VALUES (@id, @template_id, @mesh_node_id, @session_id, 'pending', @config, @trigger, @created_at, @command)`),
      instance: db.prepare<[string], InstanceRow>('SELECT * FROM agent_instances WHERE id = ?'),
      setRunning: db.prepare("UPDATE agent_instances SET state = 'running', started_at = ? WHERE id = ? AND state = 'pending'"),
      finish: db.prepare(`UPDATE agent_instances SET state = @state, finished_at = @at, exit_code = @exit_code, exit_signal = @exit_signal, error = @error
        WHERE id = @id AND state IN ('pending', 'running')`),
      activeOfNode: db.prepare<[string], InstanceRow>("SELECT * FROM agent_instances WHERE mesh_node_id = ? AND state IN ('pending', 'running') ORDER BY created_at, id"),
      activeListOfTemplate: db.prepare<[string], InstanceRow>(`SELECT * ${ACTIVE_OF_TEMPLATE} ORDER BY created_at, id`),
      activeOfTemplate: db.prepare<[string], { n: number }>(`SELECT count(*) AS n ${ACTIVE_OF_TEMPLATE}`),
      runningOfTemplate: db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM agent_instances INDEXED BY agent_instances_by_state WHERE state = 'running' AND template_id = ?"),
      oldestPendingOfTemplate: db.prepare<[string], InstanceRow>("SELECT * FROM agent_instances INDEXED BY agent_instances_by_state WHERE state = 'pending' AND template_id = ? ORDER BY created_at, id LIMIT 1"),
      counts: db.prepare<[], { state: AgentState; n: number }>('SELECT state, count(*) AS n FROM agent_instances GROUP BY state'),
      running: db.prepare<[], InstanceRow>("SELECT * FROM agent_instances WHERE state = 'running' ORDER BY created_at, id"),
      oldFinished: db.prepare<[number, number], { id: string }>(`SELECT id FROM agent_instances INDEXED BY agent_instances_by_created
        WHERE created_at < ? AND state IN (${FINAL_STATES.map((f) => `'${f}'`).join(', ')}) ORDER BY created_at, id LIMIT ?`),
      deleteOutput: db.prepare<[string]>('DELETE FROM agent_output WHERE instance_id = ?'),
      deleteInstance: db.prepare<[string]>('DELETE FROM agent_instances WHERE id = ?'),
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

  /** A template by id (deleted ones too: their instances name them) or by a live template's name. */
  template(id: string): AgentTemplate | undefined {
    const r = this.q.template.get(id) ?? this.q.templateByName.get(id);
    return r && toTemplate(r);
  }

  /** Live templates by name; with `deleted`, the deleted ones after them. */
  templates(deleted = false): AgentTemplate[] {
    return (deleted ? this.q.allTemplates : this.q.templates).all().map(toTemplate);
  }

  /**
   * Changes a live template: the fields given; `webhookToken` a new token, null none, undefined
   * the one it has. False when it is not there (or deleted).
   */
  updateTemplate(id: string, t: { name?: string; command?: string; defaultConfig?: Record<string, unknown>; cron?: string | null; nodeId?: string | null; overlap?: OverlapPolicy; webhookToken?: string | null }, at = Date.now()): boolean {
    const r = this.q.template.get(id);
    if (!r || r.deleted_at !== null) return false;
    return this.q.updateTemplate.run({
      id, at, name: t.name ?? r.name, command: t.command ?? r.command, default_config: t.defaultConfig ? JSON.stringify(t.defaultConfig) : r.default_config,
      cron: t.cron === undefined ? r.cron : t.cron, node_id: t.nodeId === undefined ? r.node_id : t.nodeId, overlap: t.overlap ?? r.overlap,
      webhook_token_hash: t.webhookToken === undefined ? r.webhook_token_hash : t.webhookToken === null ? null : sha256(t.webhookToken),
    }).changes > 0;
  }

  /** Makes a live template a tombstone (see AGENT_EDITS_SCHEMA): no cron, no webhook, its name free; its instances stay. */
  deleteTemplate(id: string, at = Date.now()): boolean {
    return this.q.deleteTemplate.run({ id, at, tombstone: `${TOMBSTONE_PREFIX}${id}` }).changes > 0;
  }

  /** A template's newest instance (through its index). */
  lastOfTemplate(templateId: string): AgentInstance | undefined {
    const r = this.q.lastOfTemplate.get(templateId);
    return r && toInstance(r);
  }

  /**
   * Keeps the tail of an instance's output (replacing what was kept), and empties the output of
   * its template's runs older than the newest `keep` that still have theirs (one transaction).
   */
  saveOutput(id: string, o: Omit<AgentOutput, 'droppedAt'>, at = Date.now(), keep = OUTPUT_RUNS_KEPT): void {
    this.db.transaction(() => {
      this.q.saveOutput.run({ id, stdout: o.stdout, stderr: o.stderr, stdout_bytes: o.stdoutBytes, stderr_bytes: o.stderrBytes });
      this.q.trimOutputs.run({ id, at, keep });
    })();
  }

  /** The kept tail of an instance's output, or undefined when none was recorded. */
  output(id: string): AgentOutput | undefined {
    const r = this.q.output.get(id);
    return r && { stdout: r.stdout, stderr: r.stderr, stdoutBytes: r.stdout_bytes, stderrBytes: r.stderr_bytes, droppedAt: r.dropped_at };
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
      config: JSON.stringify({ ...t.defaultConfig, ...(i.config ?? {}) }), trigger: i.trigger, created_at: now, command: t.command,
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

  /** A template's pending and running instances, oldest first. */
  activeOfTemplate(templateId: string): AgentInstance[] {
    return this.q.activeListOfTemplate.all(templateId).map(toInstance);
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

  /**
   * Deletes up to `batch` of the oldest finished instances created before `olderThan` (ms since
   * the epoch), with their output, in one transaction; returns how many went. Pending and
   * running ones stay whatever their age.
   */
  trimHistory(olderThan: number, batch: number): number {
    return this.db.transaction(() => {
      const ids = this.q.oldFinished.all(olderThan, batch);
      for (const { id } of ids) {
        this.q.deleteOutput.run(id);
        this.q.deleteInstance.run(id);
      }
      return ids.length;
    })();
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
