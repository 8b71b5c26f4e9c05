/**
 * Agents on the hub: templates, instances and their lifecycle. The hub never runs a node's
 * command itself: it asks the node over the node protocol (AgentStart / AgentStop) and records
 * the states the node reports (AgentState). An instance whose node is not connected waits as
 * `pending` and is sent when the node connects; a `running` instance whose node disconnects is
 * `lost`.
 */
import crypto from 'node:crypto';
import { ContractError, type AgentInstanceView, type AgentPage, type AgentTemplateView } from '../contract';
import { AGENT_STATES, FINAL_STATES, type AgentInstance, type AgentState, type AgentStore, type OverlapPolicy } from '../store/agent-store';
import type { AgentStateMsg, HubMessage } from '../sync/wire';
import type { Logger } from '../util/log';
import { clip } from '../util/text';
import { CronError, parseCron } from './cron';

export interface AgentHost {
  /** Sends to the node's session; false when the node is not connected. */
  sendToNode(nodeId: string, msg: HubMessage): boolean;
  /** 'active', 'retired', or undefined for an unknown node. */
  nodeState(nodeId: string): 'active' | 'retired' | undefined;
  /** An instance was created or changed state. */
  changed(instance: AgentInstanceView): void;
  log: Logger;
}

export class AgentService {
  constructor(private readonly store: AgentStore, private readonly host: AgentHost) {}

  templates(): AgentTemplateView[] {
    return this.store.templates();
  }

  createTemplate(t: { name: string; command: string; defaultConfig?: Record<string, unknown> | undefined; cron?: string | null | undefined; overlap?: OverlapPolicy | undefined; webhook?: boolean | undefined }): { template: AgentTemplateView; webhookToken: string | null } {
    if (t.cron) {
      try {
        parseCron(t.cron);
      } catch (e) {
        throw new ContractError('BAD_REQUEST', (e as CronError).message);
      }
    }
    if (this.store.template(t.name)) throw new ContractError('CONFLICT', `an agent template named "${t.name}" exists already`);
    const webhookToken = t.webhook ? crypto.randomBytes(24).toString('base64url') : null;
    const template = this.store.createTemplate({ name: t.name, command: t.command, defaultConfig: t.defaultConfig ?? {}, cron: t.cron ?? null, overlap: t.overlap ?? 'skip', webhookToken });
    this.host.log.info('agent.template_created', { template: template.id, name: template.name, cron: template.cron, webhook: template.hasWebhook });
    return { template, webhookToken };
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
    const t = this.store.template(s.templateId);
    if (!t) throw new ContractError('NOT_FOUND', `no agent template ${s.templateId}`);
    const node = this.host.nodeState(s.nodeId);
    if (!node) throw new ContractError('NOT_FOUND', `no node with id ${s.nodeId}`);
    if (node === 'retired') throw new ContractError('CONFLICT', `node ${s.nodeId} is retired`);
    const i = this.store.createInstance({ templateId: t.id, nodeId: s.nodeId, sessionId: s.sessionId ?? null, config: s.config ?? {}, trigger });
    this.host.log.info('agent.created', { agent: i.id, template: t.name, node: i.nodeId, session: i.sessionId, trigger });
    this.host.changed(i);
    this.dispatch(i, t.command);
    return this.store.instance(i.id)!;
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

  /** The node connected: its pending instances go to it, oldest first. */
  nodeConnected(nodeId: string): void {
    for (const i of this.store.activeOfNode(nodeId)) {
      if (i.state !== 'pending') continue;
      const t = this.store.template(i.templateId);
      if (t) this.dispatch(i, t.command);
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
      return null;
    }
    const f = { exitCode: m.hasExitCode ? Number(m.exitCode) : null, exitSignal: m.signal ? clip(String(m.signal)) : null, error: m.error ? clip(String(m.error)) : null };
    if (!this.finish(i.id, state, f)) this.host.log.info('agent.late_report', { agent: i.id, node: nodeId, reported: state, recorded: i.state });
    return null;
  }

  private dispatch(i: AgentInstance, command: string): void {
    if (this.host.sendToNode(i.nodeId, { agentStart: { id: i.id, command, configJson: JSON.stringify(i.config) } })) {
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
    return true;
  }
}

function encodeCursor(i: AgentInstance): string {
  return Buffer.from(`${i.createdAt}:${i.id}`).toString('base64url');
}

function decodeCursor(c: string): { createdAt: number; id: string } {
  const [at, id] = Buffer.from(c, 'base64url').toString().split(':');
  if (!at || !id || !/^\d+$/.test(at)) throw new ContractError('BAD_REQUEST', 'agents.list: cursor is not one this hub gave out');
  return { createdAt: Number(at), id };
}
