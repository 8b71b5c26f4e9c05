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

