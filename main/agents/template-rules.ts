/**
 * What a template must hold, whether created or edited: a valid cron schedule runs on a node
 * (cron has no one to ask), and a node named must be active. Webhook tokens are random, shown
 * once, and stored only as their hash.
 */
import crypto from 'node:crypto';
import { ContractError } from '../contract';
import type { OverlapPolicy } from '../store/agent-store';
import { CronError, parseCron } from './cron';

/** The fields of a template a create or an edit may give. */
export interface TemplateFields {
  defaultConfig?: Record<string, unknown> | undefined;
  cron?: string | null | undefined;
  nodeId?: string | null | undefined;
  overlap?: OverlapPolicy | undefined;
}

/** Throws the contract's error for a cron that does not parse, a cron without a node, or a node that is not active. */
export function checkTemplate(t: { cron?: string | null | undefined; nodeId?: string | null | undefined }, nodeState: (id: string) => 'active' | 'retired' | undefined): void {
  if (t.cron) {
    try {
      parseCron(t.cron);
    } catch (e) {
      throw new ContractError('BAD_REQUEST', (e as CronError).message);
    }
    if (!t.nodeId) throw new ContractError('BAD_REQUEST', 'a template with a cron schedule needs the node it runs on (nodeId)');
  }
  if (t.nodeId && nodeState(t.nodeId) !== 'active') throw new ContractError('NOT_FOUND', `no active node with id ${t.nodeId}`);
}

export function newWebhookToken(): string {
  return crypto.randomBytes(24).toString('base64url');
}
