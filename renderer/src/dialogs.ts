/**
 * What the dialogs decide, as pure functions (tested in test/unit/dialogs.test.ts without a
 * browser): the add-node dialog's Escape and join command, the start-agent dialog's fields.
 */
import type { AgentTemplateView } from '../../main/contract';

/** The command to run on the node (the environment keeps the token out of the process list). */
export function joinCommand(join: string): string {
  return `CORTEX_JOIN='${join}' cortex-node --workspace DIR`;
}

/**
 * What Escape does in the add-node dialog: the name form just closes; while the join string
 * (shown once) is on screen and nothing was copied, it first asks; asked already, it closes.
 */
export function joinEscape(s: { showingJoin: boolean; copied: boolean; asking: boolean }): 'close' | 'ask' {
  return !s.showingJoin || s.copied || s.asking ? 'close' : 'ask';
}

/** What the start dialog shows when it opens or its template changes. */
export interface StartForm {
  templateId: string;
  nodeId: string;
  session: string;
  config: string;
}

/**
 * The start dialog's fields for a template: nothing of a previous run; the node of the view
 * it was opened from, else the template's own node when it is active, else the first active
 * node; the template's default config (the hub merges what is given over it).
 */
export function startForm(t: Pick<AgentTemplateView, 'id' | 'nodeId' | 'defaultConfig'> | undefined, viewNodeId: string | undefined, activeNodes: string[]): StartForm {
  const nodeId = viewNodeId ?? (t?.nodeId && activeNodes.includes(t.nodeId) ? t.nodeId : activeNodes[0] ?? '');
  const config = t && Object.keys(t.defaultConfig).length ? JSON.stringify(t.defaultConfig, null, 2) : '';
  return { templateId: t?.id ?? '', nodeId, session: '', config };
}


/** The template dialog's fields, as typed. */
export interface TemplateForm {
  name: string;
  command: string;
  nodeId: string;
  cron: string;
  overlap: 'skip' | 'queue';
  config: string;
  /** Create: whether to make a webhook. Edit: what to do with it. */
  webhook: 'none' | 'keep' | 'new' | 'remove';
}

/** The dialog's fields for a new template (none given) or for editing one. */
export function templateForm(t?: Pick<AgentTemplateView, 'name' | 'command' | 'nodeId' | 'cron' | 'overlap' | 'defaultConfig' | 'hasWebhook'>): TemplateForm {
  if (!t) return { name: '', command: '', nodeId: '', cron: '', overlap: 'skip', config: '', webhook: 'none' };
  return {
    name: t.name, command: t.command, nodeId: t.nodeId ?? '', cron: t.cron ?? '', overlap: t.overlap,
    config: Object.keys(t.defaultConfig).length ? JSON.stringify(t.defaultConfig, null, 2) : '', webhook: t.hasWebhook ? 'keep' : 'none',
  };
}

export type TemplateFields = {
  name: string; command: string; nodeId: string | null; cron: string | null; overlap: 'skip' | 'queue';
  defaultConfig: Record<string, unknown>; webhook: 'keep' | 'new' | 'remove' | 'none';
};

/**
 * What the dialog sends, or what is wrong with it (said before the hub is asked): a name and a
 * command, a config that is a JSON object. Empty node and cron are none. The hub checks the
 * rest (the cron's syntax, the node) and says so.
 */
export function templateFields(f: TemplateForm): TemplateFields | { problem: string } {
  const name = f.name.trim();
  if (!name) return { problem: 'A template needs a name.' };
  if (!f.command.trim()) return { problem: 'A template needs a command.' };
  let defaultConfig: Record<string, unknown> = {};
  if (f.config.trim()) {
    let v: unknown;
    try {
      v = JSON.parse(f.config);
    } catch (e) {
      return { problem: `Default config is not JSON: ${(e as Error).message}` };
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { problem: 'Default config must be a JSON object, like {"depth": 2}.' };
    defaultConfig = v as Record<string, unknown>;
  }
  const cron = f.cron.trim() || null;
  if (cron && !f.nodeId) return { problem: 'A cron schedule runs on a node: choose one.' };
  return { name, command: f.command, nodeId: f.nodeId || null, cron, overlap: f.overlap, defaultConfig, webhook: f.webhook };
}
