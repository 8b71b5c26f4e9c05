/**
 * Agents on the hub: templates, instances and their lifecycle. The hub never runs a node's
 * command itself: it asks the node over the node protocol (AgentStart / AgentStop) and records
 * the states the node reports (AgentState). An instance whose node is not connected waits as
 * `pending` and is sent when the node connects; a `running` instance whose node disconnects is
 * `lost`.
 */
import { AGENT_HISTORY_DEFAULT_DAYS, ContractError, MAX_CONFIG_BYTES, WebhookBodySchema, issuesText, type AgentInstanceView, type AgentOutputView, type AgentPage, type AgentTemplateDeleted, type AgentTemplateSaved, type AgentTemplateSummary, type AgentTemplateView, type ErrorCode } from '../contract';
import { errorEnvelope, okEnvelope } from '../contract/envelope';
import { AGENT_STATES, FINAL_STATES, type AgentInstance, type AgentState, type AgentStore, type AgentTemplate } from '../store/agent-store';
import type { AgentStateMsg, HubMessage } from '../sync/wire';
import type { Logger } from '../util/log';
import { Retention } from '../util/retention';
import { clip } from '../util/text';
import { tailText } from '../util/tail';
import { CronScheduler } from './cron-scheduler';
import { checkTemplate, newWebhookToken, type TemplateFields } from './template-rules';

/** Instances a `queue` template may have waiting; a trigger beyond this is skipped. */
export const MAX_QUEUED = 100;
/** Largest webhook body accepted (the API server refuses bigger ones before parsing). */
export const WEBHOOK_MAX_BYTES = MAX_CONFIG_BYTES;

/**
 * The one answer to a webhook request for a template that does not exist, has no webhook, or
 * with a missing or wrong token: the same status and body in every case, so nobody learns
 * template names without a token. The log says which it was.
 */
export const WEBHOOK_REFUSAL = { status: 401, code: 'UNAUTHORIZED', message: 'no agent template with a webhook accepts this token' } as const;

/** An HTTP answer for the API server: status and JSON body. */
export type WebhookAnswer = [status: number, body: unknown];

export interface AgentHost {
  /** Sends to the node's session; false when the node is not connected. */
  sendToNode(nodeId: string, msg: HubMessage): boolean;
  /** 'active', 'retired', or undefined for an unknown node. */
  nodeState(nodeId: string): 'active' | 'retired' | undefined;
  /** An instance was created or changed state. */
  changed(instance: AgentInstanceView): void;
  /** A template was created (or changed). */
  templateChanged?(template: AgentTemplateView): void;
  /** The `agentHistoryDays` setting (absent: AGENT_HISTORY_DEFAULT_DAYS). */
  historyDays?(): number;
  log: Logger;
}

/** Finished instances past the history window are looked for this often (and when the setting changes). */
const HISTORY_TRIM_EVERY_MS = 60 * 60 * 1000;
const HISTORY_TRIM_BATCH = 1000;

export class AgentService {
  private readonly cron = new CronScheduler({
    templates: () => this.store.templates(),
    fire: (t) => {
      try {
        this.trigger(t.id, 'cron');
      } catch (e) {
        this.host.log.warn('agent.cron_failed', { template: t.name, error: (e as Error).message });
      }
    },
  });

  /** Finished instances, with their output, kept for the `agentHistoryDays` setting, then deleted in batches (start() it in a serving hub). */
  readonly history: Retention;

  constructor(private readonly store: AgentStore, private readonly host: AgentHost) {
    this.history = new Retention({
      name: 'agents.history', log: host.log, everyMs: HISTORY_TRIM_EVERY_MS, batch: HISTORY_TRIM_BATCH,
      days: () => host.historyDays?.() ?? AGENT_HISTORY_DEFAULT_DAYS,
      step: (olderThan, batch) => store.trimHistory(olderThan, batch),
    });
  }

  templates(deleted = false): AgentTemplateView[] {
    const now = new Date();
    return this.store.templates(deleted).map((t) => this.view(t, now));
  }

  /** A template as the operator sees it: with when its cron fires next. */
  private view(t: AgentTemplate, now = new Date()): AgentTemplateView {
    return { ...t, nextRunAt: this.cron.nextRun(t, now) };
  }

  createTemplate(t: TemplateFields & { name: string; command: string; webhook?: boolean | undefined }): AgentTemplateSaved {
    checkTemplate(t, (id) => this.host.nodeState(id));
    if (this.store.template(t.name)) throw new ContractError('CONFLICT', `an agent template named "${t.name}" exists already`);
    const webhookToken = t.webhook ? newWebhookToken() : null;
    const template = this.store.createTemplate({ name: t.name, command: t.command, defaultConfig: t.defaultConfig ?? {}, cron: t.cron ?? null, nodeId: t.nodeId ?? null, overlap: t.overlap ?? 'skip', webhookToken });
    this.host.log.info('agent.template_created', { template: template.id, name: template.name, cron: template.cron, webhook: template.hasWebhook });
    const view = this.view(template);
    this.host.templateChanged?.(view);
    return { template: view, webhookToken };
  }

  /** Changes the fields given of a live template (null clears cron or node); `webhook` keeps, renews or removes its token. */
  updateTemplate(u: TemplateFields & { id: string; name?: string | undefined; command?: string | undefined; nodeId?: string | null | undefined; webhook?: 'keep' | 'new' | 'remove' | undefined }): AgentTemplateSaved {
    const t = this.liveTemplate(u.id);
    const next = { cron: u.cron === undefined ? t.cron : u.cron, nodeId: u.nodeId === undefined ? t.nodeId : u.nodeId };
    // Its own node is not checked again: a template whose node was retired since can still be edited.
    checkTemplate({ cron: next.cron, nodeId: next.nodeId ?? undefined }, (id) => (id === t.nodeId ? 'active' : this.host.nodeState(id)));
    if (u.name !== undefined && u.name !== t.name) {
      const other = this.store.template(u.name);
      if (other && other.id !== t.id && other.deletedAt === null) throw new ContractError('CONFLICT', `an agent template named "${u.name}" exists already`);
    }
    const webhookToken = u.webhook === 'new' ? newWebhookToken() : u.webhook === 'remove' ? null : undefined;
    this.store.updateTemplate(t.id, {
      ...(u.name !== undefined ? { name: u.name } : {}), ...(u.command !== undefined ? { command: u.command } : {}),
      ...(u.defaultConfig !== undefined ? { defaultConfig: u.defaultConfig } : {}), ...(u.overlap !== undefined ? { overlap: u.overlap } : {}),
      cron: next.cron, nodeId: next.nodeId, ...(webhookToken !== undefined ? { webhookToken } : {}),
    });
    const template = this.view(this.store.template(t.id)!);
    this.host.log.info('agent.template_updated', { template: t.id, name: template.name, fields: Object.keys(u).filter((k) => k !== 'id'), cron: template.cron, webhook: template.hasWebhook });
    this.host.templateChanged?.(template);
    return { template, webhookToken: webhookToken ?? null };
  }

  /**
   * Deletes a template: it is kept as a tombstone, so its instances keep their history and
   * still name it; its cron and webhook end, its name is free. Its pending instances are
   * stopped; running ones go on and are recorded as usual.
   */
  deleteTemplate(id: string): AgentTemplateDeleted {
    const t = this.liveTemplate(id);
    this.store.deleteTemplate(t.id);
    let stopped = 0;
    let running = 0;
    for (const i of this.store.activeOfTemplate(t.id)) {
      if (i.state === 'running') running++;
      else if (this.finish(i.id, 'stopped', { error: `its template ${t.name} was deleted before it started` })) stopped++;
    }
    const template = this.view(this.store.template(t.id)!);
    this.host.log.info('agent.template_deleted', { template: t.id, name: t.name, stopped, running });
    this.host.templateChanged?.(template);
    return { template, stopped, running };
  }

  /** One line per live template: its newest instance and how many are active. */
  overview(): AgentTemplateSummary[] {
    const now = new Date();
    return this.store.templates().map((template) => ({ template: this.view(template, now), last: this.store.lastOfTemplate(template.id) ?? null, active: this.store.activeCountOfTemplate(template.id) }));
  }

  /** The kept tail of an instance's output. */
  output(id: string): AgentOutputView {
    this.get(id);
    const o = this.store.output(id);
    return o ? { id, recorded: true, ...o } : { id, recorded: false, stdout: '', stderr: '', stdoutBytes: 0, stderrBytes: 0, droppedAt: null };
  }

  /** A new instance like `id`: its template (the command it has now), node, session and config. */
  rerun(id: string): AgentInstanceView {
    const i = this.get(id);
    const t = this.store.template(i.templateId);
    if (!t || t.deletedAt !== null) throw new ContractError('CONFLICT', `agent instance ${id}'s template ${t?.name ?? i.templateId} was deleted: it cannot run again`);
    return this.start({ templateId: t.id, nodeId: i.nodeId, sessionId: i.sessionId ?? undefined, config: i.config }, 'rerun');
  }

  private liveTemplate(id: string): AgentTemplate {
    const t = this.store.template(id);
    if (!t || t.deletedAt !== null) throw new ContractError('NOT_FOUND', `no agent template ${id}${t ? ' (it was deleted)' : ''}`);
    return t;
  }

  list(f: { nodeId?: string | undefined; sessionId?: string | undefined; templateId?: string | undefined; state?: AgentState | undefined; cursor?: string | undefined; limit?: number | undefined }): AgentPage {
    const limit = f.limit ?? 100;
    const before = f.cursor ? decodeCursor(f.cursor) : undefined;
    const templateId = f.templateId === undefined ? undefined : this.store.template(f.templateId)?.id ?? f.templateId;
    const items = this.store.list({
      ...(f.nodeId ? { nodeId: f.nodeId } : {}), ...(f.sessionId ? { sessionId: f.sessionId } : {}),
      ...(templateId ? { templateId } : {}), ...(f.state ? { state: f.state } : {}), ...(before ? { before } : {}), limit,
    });
    const last = items[items.length - 1];
    return { items, next: items.length === limit && last ? encodeCursor(last) : null };
  }

  get(id: string): AgentInstanceView {
    const i = this.store.instance(id);
    if (!i) throw new ContractError('NOT_FOUND', `no agent instance ${id}`);
    return i;
  }

  /** A new instance of a template on a node, sent to the node at once if it is connected. */
  start(s: { templateId: string; nodeId: string; sessionId?: string | undefined; config?: Record<string, unknown> | undefined }, trigger = 'manual'): AgentInstanceView {
    const t = this.liveTemplate(s.templateId);
    const node = this.host.nodeState(s.nodeId);
    if (!node) throw new ContractError('NOT_FOUND', `no node with id ${s.nodeId}`);
    if (node === 'retired') throw new ContractError('CONFLICT', `node ${s.nodeId} is retired`);
    // A `queue` template runs one instance at a time: a new one waits while another is pending
    // or running, and goes when that one finishes (see finish()).
    const wait = t.overlap === 'queue' && this.store.activeCountOfTemplate(t.id) > 0;
    const i = this.store.createInstance({ templateId: t.id, nodeId: s.nodeId, sessionId: s.sessionId ?? null, config: s.config ?? {}, trigger });
    this.host.log.info('agent.created', { agent: i.id, template: t.name, node: i.nodeId, session: i.sessionId, trigger, queued: wait });
    this.host.changed(i);
    if (!wait) this.dispatch(i);
    return this.store.instance(i.id)!;
  }

  /**
   * A trigger (cron, webhook) fired for a template. While an instance of it is still pending
   * or running, the template's overlap policy decides: `skip` creates nothing; `queue` creates
   * one that waits for the running one (at most MAX_QUEUED waiting). Returns the new
   * instance, or why none was made.
   */
  trigger(templateId: string, trigger: 'cron' | 'webhook', s: { nodeId?: string | undefined; sessionId?: string | undefined; config?: Record<string, unknown> | undefined } = {}): AgentInstanceView | { skipped: string } {
    const t = this.liveTemplate(templateId);
    const nodeId = s.nodeId ?? t.nodeId;
    if (!nodeId) throw new ContractError('BAD_REQUEST', `template ${t.name} has no node to run on, and the trigger named none (nodeId)`);
    const active = this.store.activeCountOfTemplate(t.id);
    const why = active === 0 ? null
      : t.overlap === 'skip' ? `an instance of ${t.name} is still pending or running (overlap policy: skip)`
        : active > MAX_QUEUED ? `${t.name} already has ${MAX_QUEUED} instances waiting (overlap policy: queue)` : null;
    if (why) {
      this.host.log.info('agent.trigger_skipped', { template: t.name, trigger, reason: why });
      return { skipped: why };
    }
    return this.start({ templateId: t.id, nodeId, sessionId: s.sessionId, config: s.config }, trigger);
  }

  /**
   * A webhook request for a template: its own token (not the admin token), a JSON object body
   * of at most WEBHOOK_MAX_BYTES with optional nodeId, sessionId and config, within the limits
   * of agents.start. An unknown template and a wrong token get the same refusal
   * (WEBHOOK_REFUSAL). `templateId` is null when the path's name did not decode. Every refusal
   * is logged with its real reason.
   */
  webhook(templateId: string | null, token: string | null, body: string): WebhookAnswer {
    const name = templateId === null ? '(undecodable)' : clip(templateId);
    const refuse = (status: number, code: ErrorCode, message: string, reason = message): WebhookAnswer => {
      this.host.log.warn('agent.webhook_refused', { template: name, status, reason });
      return [status, errorEnvelope(code, message)];
    };
    const t = templateId === null ? undefined : this.store.template(templateId);
    // Compared even for an unknown template, so the time taken does not tell either.
    const tokenOk = this.store.webhookTokenOk(t?.id ?? '', token ?? '') && token !== null;
    if (!t || !t.hasWebhook || !tokenOk) {
      const reason = templateId === null ? 'the template name in the path is not valid percent-encoding'
        : !t ? `no agent template ${name}` : !t.hasWebhook ? `template ${t.name} has no webhook` : token === null ? 'no webhook token (Authorization: Bearer …)' : 'wrong webhook token';
      return refuse(WEBHOOK_REFUSAL.status, WEBHOOK_REFUSAL.code, WEBHOOK_REFUSAL.message, reason);
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body || '{}');
    } catch (e) {
      return refuse(400, 'BAD_REQUEST', `the body is not JSON: ${(e as Error).message}`);
    }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return refuse(400, 'BAD_REQUEST', 'the body must be a JSON object');
    const p = WebhookBodySchema.safeParse(payload);
    if (!p.success) return refuse(400, 'BAD_REQUEST', issuesText(p.error));
    try {
      const r = this.trigger(t.id, 'webhook', { nodeId: p.data.nodeId, sessionId: p.data.sessionId, config: p.data.config });
      if ('skipped' in r) return refuse(409, 'CONFLICT', `skipped: ${r.skipped}`);
      return [201, okEnvelope(r)];
    } catch (e) {
      if (!(e instanceof ContractError)) throw e;
      return refuse(e.code === 'NOT_FOUND' ? 404 : e.code === 'CONFLICT' ? 409 : 400, e.code, e.message);
    }
  }

  /** Fires cron templates at the start of every minute they match (cron-scheduler.ts). */
  startScheduler(): void {
    this.cron.start();
  }

  stopScheduler(): void {
    this.cron.stop();
  }

  /** One tick of the scheduler now (what it does at the start of each minute). */
  tick(now: Date): void {
    this.cron.tick(now);
  }

  stop(id: string): AgentInstanceView {
    const i = this.get(id);
    if (FINAL_STATES.includes(i.state)) throw new ContractError('CONFLICT', `agent instance ${id} is already ${i.state}`);
    if (i.state === 'pending' || !this.host.sendToNode(i.nodeId, { agentStop: { id } })) {
      this.finish(i.id, 'stopped', { error: i.state === 'pending' ? 'stopped before it started' : 'stopped while its node was not connected' });
    } else {
      this.host.log.info('agent.stop_requested', { agent: id, node: i.nodeId });
    }
    return this.get(id);
  }

  /**
   * At a hub's start: what was `running` when the hub stopped without saying goodbye (a crash)
   * is `lost`, as it would have been had its node's connection ended normally.
   */
  recover(): number {
    const running = this.store.running();
    for (const i of running) this.finish(i.id, 'lost', { error: 'the hub stopped while it ran' });
    return running.length;
  }

  /** The node connected: its pending instances go to it, oldest first. */
  nodeConnected(nodeId: string): void {
    const started = new Set<string>();
    for (const i of this.store.activeOfNode(nodeId)) {
      if (i.state !== 'pending') continue;
      const t = this.store.template(i.templateId);
      if (!t) continue;
      // A queue template runs one at a time.
      if (t.overlap === 'queue' && (started.has(t.id) || this.store.runningCountOfTemplate(t.id) > 0)) continue;
      started.add(t.id);
      this.dispatch(i);
    }
  }

  /** The node's connection ended: what it was running is lost to the hub. */
  nodeDisconnected(nodeId: string): void {
    for (const i of this.store.activeOfNode(nodeId)) {
      if (i.state === 'running') this.finish(i.id, 'lost', { error: 'its node disconnected while it ran' });
    }
  }

  /** A state reported by a node (validated: the instance must be that node's). */
  nodeReported(nodeId: string, m: AgentStateMsg): string | null {
    const i = this.store.instance(String(m.id ?? ''));
    if (!i || i.nodeId !== nodeId) return `agent instance ${clip(String(m.id))} is not this node's`;
    const state = String(m.state) as AgentState;
    if (!AGENT_STATES.includes(state) || state === 'pending' || state === 'lost') return `agent state "${clip(String(m.state))}" is not one a node reports`;
    if (state === 'running') {
      if (this.store.markRunning(i.id)) {
        this.host.log.info('agent.running', { agent: i.id, node: nodeId });
        this.host.changed(this.store.instance(i.id)!);
      }
      // Its output so far, while it runs (never over what a final report left).
      if (m.hasOutput && this.store.instance(i.id)!.state === 'running') this.saveOutput(i.id, m);
      if (FINAL_STATES.includes(i.state)) {
        // Settled here (lost while its node was away, stopped while it was not connected) but
        // still running there: nobody would see or stop it, so the node stops its whole group.
        this.host.log.warn('agent.stop_settled', { agent: i.id, node: nodeId, recorded: i.state });
        this.host.sendToNode(nodeId, { agentStop: { id: i.id } });
      }
      return null;
    }
    const f = { exitCode: m.hasExitCode ? Number(m.exitCode) : null, exitSignal: m.signal ? clip(String(m.signal)) : null, error: m.error ? clip(String(m.error)) : null };
    // The whole tail, over what came while it ran; kept also when the state came late (settled as lost meanwhile).
    if (m.hasOutput) this.saveOutput(i.id, m);
    if (!this.finish(i.id, state, f)) this.host.log.info('agent.late_report', { agent: i.id, node: nodeId, reported: state, recorded: i.state });
    return null;
  }

  /** Sends an instance to its node: the command it was created with (a later edit of its template does not change it). */
  /** Keeps the output's tail a node sent, bounded here whatever it sent. */
  private saveOutput(id: string, m: AgentStateMsg): void {
    const stdoutBytes = count(m.stdoutBytes);
    const stderrBytes = count(m.stderrBytes);
    this.store.saveOutput(id, { stdout: tailText(m.stdoutTail, stdoutBytes), stderr: tailText(m.stderrTail, stderrBytes), stdoutBytes, stderrBytes });
  }

  private dispatch(i: AgentInstance): void {
    if (this.host.sendToNode(i.nodeId, { agentStart: { id: i.id, command: i.command, configJson: JSON.stringify(i.config) } })) {
      this.host.log.info('agent.sent', { agent: i.id, node: i.nodeId });
    } else {
      this.host.log.info('agent.waiting', { agent: i.id, node: i.nodeId, reason: 'node not connected' });
    }
  }

  private finish(id: string, state: AgentState, f: { exitCode?: number | null; exitSignal?: string | null; error?: string | null }): boolean {
    if (!this.store.finish(id, state, f)) return false;
    const i = this.store.instance(id)!;
    const level = state === 'failed' || state === 'lost' ? 'warn' : 'info';
    this.host.log[level](`agent.${state}`, { agent: id, node: i.nodeId, exitCode: i.exitCode, signal: i.exitSignal, error: i.error });
    this.host.changed(i);
    // The next one waiting in a `queue` template's line goes.
    const t = this.store.template(i.templateId);
    if (t?.overlap === 'queue' && this.store.runningCountOfTemplate(t.id) === 0) {
      const next = this.store.oldestPendingOfTemplate(t.id);
      if (next) this.dispatch(next);
    }
    return true;
  }
}

/** A byte count from a node: a whole number, 0 or more. */
function count(n: unknown): number {
  const v = Number(n ?? 0);
  return Number.isSafeInteger(v) && v >= 0 ? v : 0;
}

function encodeCursor(i: AgentInstance): string {
  return Buffer.from(`${i.createdAt}:${i.id}`).toString('base64url');
}

function decodeCursor(c: string): { createdAt: number; id: string } {
  const [at, id] = Buffer.from(c, 'base64url').toString().split(':');
  if (!at || !id || !/^\d+$/.test(at)) throw new ContractError('BAD_REQUEST', 'agents.list: cursor is not one this hub gave out');
  return { createdAt: Number(at), id };
}
