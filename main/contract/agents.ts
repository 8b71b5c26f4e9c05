/**
 * Agents in the contract: templates (what to run, with its triggers), instances (one run on a
 * node), the kept tail of an instance's output, and the per-template overview that keeps a
 * cron firing every minute from flooding a list. Types, input schemas and limits; index.ts
 * spreads `agentOperations` into its table.
 */
import { z } from 'zod';

const Id = z.string().min(1).max(64);

export const AGENT_STATES = ['pending', 'running', 'succeeded', 'failed', 'stopped', 'lost'] as const;
export type AgentStateName = (typeof AGENT_STATES)[number];

export interface AgentTemplateView {
  id: string;
  name: string;
  /** Run by the node in its workspace, through the shell. */
  command: string;
  defaultConfig: Record<string, unknown>;
  /** 5-field cron schedule, or null. */
  cron: string | null;
  /** The node triggers run it on (webhook requests may name another). */
  nodeId: string | null;
  /** What a trigger does while an instance of this template is still pending or running. */
  overlap: 'skip' | 'queue';
  hasWebhook: boolean;
  createdAt: number;
  updatedAt: number;
  /** When it was deleted (its instances keep their history), or null. */
  deletedAt: number | null;
  /** When its cron fires next, by the hub's clock and time zone (null: no cron, or deleted), as of the answer. */
  nextRunAt: number | null;
}

export interface AgentInstanceView {
  id: string;
  templateId: string;
  nodeId: string;
  sessionId: string | null;
  state: AgentStateName;
  config: Record<string, unknown>;
  /** What created it: 'manual', 'cron', 'webhook', 'rerun'. */
  trigger: string;
  /** The command it was given (the template's when it was created: a later edit does not change it). */
  command: string;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  exitCode: number | null;
  exitSignal: string | null;
  error: string | null;
  /** From start to end, once it has both (ms). */
  durationMs: number | null;
}

/** Bytes of each of stdout and stderr kept per instance: the last ones. */
export const OUTPUT_TAIL_BYTES = 64 * 1024;
/** Runs of one template that keep their output; an older run's is emptied (its byte counts stay). */
export const OUTPUT_RUNS_KEPT = 100;
/** Days a finished instance (with its output) is kept: the `agentHistoryDays` setting's default and bound. */
export const AGENT_HISTORY_DEFAULT_DAYS = 90;
export const AGENT_HISTORY_MAX_DAYS = 3650;
/** Why a run's output is no longer there (UI and CLI say it in these words). */
export const OUTPUT_DROPPED_REASON = `only the newest ${OUTPUT_RUNS_KEPT} runs of a template keep their output`;

/**
 * The tail of an instance's output, reported by its node when it ended, and while it runs
 * every few seconds when it grew (then it is the output so far).
 */
export interface AgentOutputView {
  id: string;
  /** False until its node sent some: a run that wrote nothing yet, one that ended without its node's report (lost), an older node. */
  recorded: boolean;
  /** The last OUTPUT_TAIL_BYTES bytes of each (invalid UTF-8 shown as U+FFFD). */
  stdout: string;
  stderr: string;
  /** How many bytes each stream produced in all (more than the tail: the start was cut). */
  stdoutBytes: number;
  stderrBytes: number;
  /** When the tails were emptied because newer runs of its template took their place (OUTPUT_RUNS_KEPT); null while kept. */
  droppedAt: number | null;
}

/** A template in the overview: one line however often it runs. */
export interface AgentTemplateSummary {
  template: AgentTemplateView;
  /** Its newest instance, or null. */
  last: AgentInstanceView | null;
  /** Its instances pending or running now. */
  active: number;
}

export interface AgentTemplateSaved {
  template: AgentTemplateView;
  /** A new webhook token (shown this once), or null. */
  webhookToken: string | null;
}

export interface AgentTemplateDeleted {
  template: AgentTemplateView;
  /** Its pending instances, stopped (they would have run a deleted template). */
  stopped: number;
  /** Its running instances: they go on, and are recorded as usual. */
  running: number;
}

export interface AgentPage {
  items: AgentInstanceView[];
  /** Pass as `cursor` for the next (older) page; null when this was the last. */
  next: string | null;
}


/** Largest JSON object (serialized) stored as an agent's config; the webhook's body limit too. */
export const MAX_CONFIG_BYTES = 64 * 1024;
/** Deepest nesting of a stored JSON object (serializing deeper ones would overflow the stack). */
export const MAX_CONFIG_DEPTH = 32;

/** Why a JSON value is too deep or too big to store, or null. Iterative: any depth is safe to ask. */
export function jsonObjectProblem(v: unknown): string | null {
  const stack: [unknown, number][] = [[v, 0]];
  let seen = 0;
  while (stack.length > 0) {
    const [x, depth] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (depth >= MAX_CONFIG_DEPTH) return `nested deeper than ${MAX_CONFIG_DEPTH} levels`;
    // Each value costs at least a byte serialized: more values than bytes is too big anyway.
    for (const child of Object.values(x)) {
      if (++seen > MAX_CONFIG_BYTES) return `larger than ${MAX_CONFIG_BYTES / 1024} KiB as JSON`;
      stack.push([child, depth + 1]);
    }
  }
  const size = new TextEncoder().encode(JSON.stringify(v) ?? '').length;
  return size > MAX_CONFIG_BYTES ? `larger than ${MAX_CONFIG_BYTES / 1024} KiB as JSON (${size} bytes)` : null;
}

/** A JSON object as stored (agent configs): bounded in size and depth. */
const JsonObject = z.record(z.string(), z.unknown()).superRefine((v, ctx) => {
  const problem = jsonObjectProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
/** An agent instance's session id (stored; a filter in agents.list). */
const SessionId = z.string().min(1).max(200);

/** A template's name: trimmed, 1-100 characters, none of them a control character. */
const TemplateName = z.string().trim().min(1).max(100)
  .refine((n) => !/[\u0000-\u001f\u007f-\u009f]/.test(n), { message: 'a template name cannot contain control characters' });
const Cron = z.string().max(200);
const Overlap = z.enum(['skip', 'queue']);
const Command = z.string().min(1).max(10_000);
/** What an edit does to the webhook: keep its token (default), make a new one (the old one stops working), or remove it. */
export const WEBHOOK_EDITS = ['keep', 'new', 'remove'] as const;

export const agentOperations = {
  /** Live templates by name; `deleted`: the deleted ones too, after them (their instances still name them). */
  'agents.templates': { input: z.object({ deleted: z.boolean().optional() }).strict(), output: {} as AgentTemplateView[] },
  'agents.createTemplate': {
    input: z.object({
      name: TemplateName,
      command: Command,
      defaultConfig: JsonObject.optional(),
      cron: Cron.nullable().optional(),
      nodeId: Id.optional(),
      overlap: Overlap.optional(),
      /** Make a webhook token (shown once in the answer). */
      webhook: z.boolean().optional(),
    }).strict(),
    output: {} as AgentTemplateSaved,
  },
  /** Changes a template's fields given (null clears cron or node); its instances keep the command they ran. */
  'agents.updateTemplate': {
    input: z.object({
      id: Id.or(TemplateName),
      name: TemplateName.optional(),
      command: Command.optional(),
      defaultConfig: JsonObject.optional(),
      cron: Cron.nullable().optional(),
      nodeId: Id.nullable().optional(),
      overlap: Overlap.optional(),
      webhook: z.enum(WEBHOOK_EDITS).optional(),
    }).strict(),
    output: {} as AgentTemplateSaved,
  },
  /** Deletes a template: no more triggers or starts; its instances and their history stay (AgentTemplateDeleted). */
  'agents.deleteTemplate': { input: z.object({ id: Id.or(TemplateName) }).strict(), output: {} as AgentTemplateDeleted },
  /** One line per live template: its newest instance and how many are active (a per-minute cron is one line, not thousands). */
  'agents.overview': { input: z.object({}).strict(), output: {} as AgentTemplateSummary[] },
  'agents.list': {
    input: z.object({
      nodeId: Id.optional(), sessionId: SessionId.optional(), templateId: Id.optional(), state: z.enum(AGENT_STATES).optional(),
      cursor: z.string().max(200).optional(), limit: z.number().int().min(1).max(1000).optional(),
    }).strict(),
    output: {} as AgentPage,
  },
  'agents.get': { input: z.object({ id: Id }).strict(), output: {} as AgentInstanceView },
  /** The kept tail of an instance's stdout and stderr. */
  'agents.output': { input: z.object({ id: Id }).strict(), output: {} as AgentOutputView },
  'agents.start': {
    input: z.object({ templateId: Id.or(z.string().min(1).max(100)), nodeId: Id, sessionId: SessionId.optional(), config: JsonObject.optional() }).strict(),
    output: {} as AgentInstanceView,
  },
  /** A new instance like this one: same template (its command now), node, session and config; trigger `rerun`. */
  'agents.rerun': { input: z.object({ id: Id }).strict(), output: {} as AgentInstanceView },
  'agents.stop': { input: z.object({ id: Id }).strict(), output: {} as AgentInstanceView },
} as const;

/**
 * The body of `POST /api/hooks/agents/<template>` (a JSON object; other fields are ignored):
 * the same limits as agents.start.
 */
export const WebhookBodySchema = z.object({ nodeId: Id.optional(), sessionId: SessionId.optional(), config: JsonObject.optional() });

