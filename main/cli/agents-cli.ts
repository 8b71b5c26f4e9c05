/**
 * `cortex-hub agents …`: templates (list, add, edit, delete), the per-template overview,
 * instances (list, start, show, output, re-run, stop), each through the contract, `--json`
 * printing the contract's answer.
 */
import { OUTPUT_DROPPED_REASON, type AgentInstanceView, type AgentOutputView, type AgentTemplateSummary, type AgentTemplateView } from '../contract';
import { ago, bytes, duration, inTime } from '../util/format';
import { withHub } from './admin-client';
import { UsageError, jsonObject, out, positiveInt } from './args';
import { table } from './format';
import { termSafeLines } from '../util/terminal';

type Values = Record<string, string | boolean | string[] | undefined>;

const str = (v: Values, k: string): string | undefined => (typeof v[k] === 'string' ? v[k] as string : undefined);

function overlapOf(v: Values): { overlap?: 'skip' | 'queue' } {
  const o = str(v, 'overlap');
  if (o === undefined) return {};
  if (o !== 'skip' && o !== 'queue') throw new UsageError('--overlap must be skip or queue');
  return { overlap: o };
}

function templatesText(r: AgentTemplateView[]): string {
  return r.length === 0 ? 'No agent templates.' : table([['ID', 'NAME', 'COMMAND', 'CRON', 'NEXT RUN', 'NODE', 'OVERLAP', 'WEBHOOK', 'DELETED'],
    ...r.map((t) => [t.id, t.name, t.command, t.cron ?? '-', nextRun(t), t.nodeId ?? '-', t.overlap, t.hasWebhook ? 'yes' : 'no', t.deletedAt ? new Date(t.deletedAt).toISOString() : '-'])]);
}

function nextRun(t: AgentTemplateView): string {
  return t.nextRunAt === null ? '-' : `${new Date(t.nextRunAt).toISOString()} (${inTime(t.nextRunAt)})`;
}

function overviewText(r: AgentTemplateSummary[]): string {
  return r.length === 0 ? 'No agent templates.' : table([['TEMPLATE', 'CRON', 'NEXT RUN', 'ACTIVE', 'LAST RUN', 'STATE', 'WHEN', 'DURATION'],
    ...r.map((s) => [s.template.name, s.template.cron ?? '-', nextRun(s.template), String(s.active), s.last?.id ?? '-', s.last?.state ?? '-', s.last ? ago(s.last.createdAt) : '-',
      s.last?.durationMs != null ? duration(s.last.durationMs) : '-'])]);
}

function droppedText(o: AgentOutputView): string {
  return `output: let go ${new Date(o.droppedAt!).toISOString()} (${bytes(o.stdoutBytes)} of stdout, ${bytes(o.stderrBytes)} of stderr): ${OUTPUT_DROPPED_REASON}`;
}

function instanceText(r: AgentInstanceView, o?: AgentOutputView): string {
  const tail = (name: string, text: string, total: number) => (total === 0 ? [`${name}: (nothing)`]
    : [`${name} (${text.length < total ? `the last ${bytes(Buffer.byteLength(text))} of ${bytes(total)}` : bytes(total)}):`, text.replace(/\n$/, '')]);
  return [
    `${r.id}  ${r.state}  template ${r.templateId}  node ${r.nodeId}${r.sessionId ? `  session ${r.sessionId}` : ''}  trigger ${r.trigger}`,
    `command ${r.command}`,
    `created ${new Date(r.createdAt).toISOString()}${r.startedAt ? `  started ${new Date(r.startedAt).toISOString()}` : ''}${r.finishedAt ? `  finished ${new Date(r.finishedAt).toISOString()}` : ''}${r.durationMs !== null ? `  took ${duration(r.durationMs)}` : ''}`,
    ...(r.exitCode !== null || r.exitSignal ? [`exit ${r.exitCode ?? '-'}${r.exitSignal ? ` (signal ${r.exitSignal})` : ''}`] : []),
    ...(r.error ? [`error: ${r.error}`] : []),
    `config ${JSON.stringify(r.config)}`,
    ...(o ? (o.droppedAt !== null ? [droppedText(o)] : o.recorded ? [...tail('stdout', o.stdout, o.stdoutBytes), ...tail('stderr', o.stderr, o.stderrBytes)] : ['output: none recorded (still running, lost with its node, or an older node)']) : []),
  ].join('\n');
}

export async function agentsCommand(dataDir: string, values: Values, positionals: string[]): Promise<number> {
  const [, sub, arg] = positionals;
  const json = values.json === true;
  switch (`agents ${sub ?? ''}`.trim()) {
    case 'agents templates': {
      const r = await withHub(dataDir, (inv) => inv('agents.templates', values.deleted ? { deleted: true } : {}));
      out(json, r, () => templatesText(r));
      return 0;
    }
    case 'agents template-add': {
      const command = str(values, 'command');
      if (!arg || !command) throw new UsageError('usage: cortex-hub agents template-add NAME --command CMD [--node ID] [--cron EXPR] [--overlap skip|queue] [--webhook] [--config JSON]');
      const node = str(values, 'node');
      const cron = str(values, 'cron');
      const config = str(values, 'config');
      const r = await withHub(dataDir, (inv) => inv('agents.createTemplate', {
        name: arg, command, ...(node ? { nodeId: node } : {}), ...(cron ? { cron } : {}), ...overlapOf(values),
        ...(values.webhook ? { webhook: true } : {}), ...(config ? { defaultConfig: jsonObject(config) } : {}),
      }));
      out(json, r, () => `Added agent template "${r.template.name}" (${r.template.id}).${r.webhookToken ? `\nWebhook token (shown once): ${r.webhookToken}` : ''}`);
      return 0;
    }
    case 'agents template-edit': {
      const usage = 'usage: cortex-hub agents template-edit TEMPLATE [--name NAME] [--command CMD] [--node ID|--no-node] [--cron EXPR|--no-cron] [--overlap skip|queue] [--config JSON] [--new-webhook|--no-webhook]';
      if (!arg) throw new UsageError(usage);
      if ((values.cron !== undefined && values['no-cron']) || (values.node !== undefined && values['no-node']) || (values['new-webhook'] && values['no-webhook'])) throw new UsageError(`contradicting options (${usage})`);
      const name = str(values, 'name');
      const command = str(values, 'command');
      const node = str(values, 'node');
      const cron = str(values, 'cron');
      const config = str(values, 'config');
      const r = await withHub(dataDir, (inv) => inv('agents.updateTemplate', {
        id: arg, ...(name ? { name } : {}), ...(command ? { command } : {}), ...overlapOf(values), ...(config ? { defaultConfig: jsonObject(config) } : {}),
        ...(node ? { nodeId: node } : values['no-node'] ? { nodeId: null } : {}), ...(cron ? { cron } : values['no-cron'] ? { cron: null } : {}),
        ...(values['new-webhook'] ? { webhook: 'new' as const } : values['no-webhook'] ? { webhook: 'remove' as const } : {}),
      }));
      out(json, r, () => `Saved agent template "${r.template.name}" (${r.template.id}): ${r.template.command}${r.template.cron ? `, cron ${r.template.cron}` : ''}${r.template.hasWebhook ? ', webhook' : ''}.${r.webhookToken ? `\nNew webhook token (shown once; the old one no longer works): ${r.webhookToken}` : ''}`);
      return 0;
    }
    case 'agents template-delete': {
      if (!arg) throw new UsageError('usage: cortex-hub agents template-delete TEMPLATE');
      const r = await withHub(dataDir, (inv) => inv('agents.deleteTemplate', { id: arg }));
      out(json, r, () => `Deleted agent template "${r.template.name}" (${r.template.id}); its instances are kept (cortex-hub agents list --template ${r.template.id}).`
        + `${r.stopped ? ` Stopped ${r.stopped} that had not started.` : ''}${r.running ? ` ${r.running} still running go on.` : ''}`);
      return 0;
    }
    case 'agents overview': {
      const r = await withHub(dataDir, (inv) => inv('agents.overview', {}));
      out(json, r, () => overviewText(r));
      return 0;
    }
    case 'agents list': {
      const node = str(values, 'node');
      const session = str(values, 'session');
      const template = str(values, 'template');
      const state = str(values, 'state');
      const cursor = str(values, 'cursor');
      const limit = str(values, 'limit');
      const r = await withHub(dataDir, (inv) => inv('agents.list', {
        ...(node ? { nodeId: node } : {}), ...(session ? { sessionId: session } : {}), ...(template ? { templateId: template } : {}), ...(state ? { state: state as never } : {}),
        ...(cursor ? { cursor } : {}), ...(limit ? { limit: positiveInt(limit, '--limit') } : {}),
      }));
      out(json, r, () => (r.items.length === 0 ? 'No agent instances.' : [table([['ID', 'TEMPLATE', 'NODE', 'SESSION', 'STATE', 'CREATED', 'DURATION', 'EXIT'],
        ...r.items.map((i) => [i.id, i.templateId, i.nodeId, i.sessionId ?? '-', i.state, ago(i.createdAt), i.durationMs === null ? '-' : duration(i.durationMs), i.exitCode === null ? (i.exitSignal ?? '-') : String(i.exitCode)])]),
      ...(r.next ? [`More: --cursor ${r.next}`] : [])].join('\n')));
      return 0;
    }
    case 'agents start': {
      const node = str(values, 'node');
      if (!arg || !node) throw new UsageError('usage: cortex-hub agents start TEMPLATE --node ID [--session S] [--config JSON]');
      const session = str(values, 'session');
      const config = str(values, 'config');
      const r = await withHub(dataDir, (inv) => inv('agents.start', { templateId: arg, nodeId: node, ...(session ? { sessionId: session } : {}), ...(config ? { config: jsonObject(config) } : {}) }));
      out(json, r, () => `Agent instance ${r.id} is ${r.state} on node ${r.nodeId}.`);
      return 0;
    }
    case 'agents rerun': {
      if (!arg) throw new UsageError('usage: cortex-hub agents rerun ID');
      const r = await withHub(dataDir, (inv) => inv('agents.rerun', { id: arg }));
      out(json, r, () => `Agent instance ${r.id} (a re-run of ${arg}) is ${r.state} on node ${r.nodeId}.`);
      return 0;
    }
    case 'agents output': {
      const stream = str(values, 'stream');
      if (!arg || (stream !== undefined && stream !== 'stdout' && stream !== 'stderr')) throw new UsageError('usage: cortex-hub agents output ID [--stream stdout|stderr]');
      const r = await withHub(dataDir, (inv) => inv('agents.output', { id: arg }));
      if (stream && !json) {
        // One stream as it was (its last bytes) into a pipe; on a terminal its controls show as escapes.
        process.stdout.write(process.stdout.isTTY ? termSafeLines(r[stream]) : r[stream]);
        return 0;
      }
      out(json, r, () => (r.droppedAt !== null ? droppedText(r) : r.recorded ? [`stdout (${bytes(r.stdoutBytes)} in all):`, r.stdout.replace(/\n$/, ''), `stderr (${bytes(r.stderrBytes)} in all):`, r.stderr.replace(/\n$/, '')].join('\n')
        : 'No output recorded: it is still running, or ended without its node\'s report (lost), or its node is older than the hub.'));
      return 0;
    }
    case 'agents stop': {
      if (!arg) throw new UsageError('usage: cortex-hub agents stop ID');
      const r = await withHub(dataDir, (inv) => inv('agents.stop', { id: arg }));
      out(json, r, () => instanceText(r));
      return 0;
    }
    case 'agents show': {
      if (!arg) throw new UsageError('usage: cortex-hub agents show ID');
      const [r, o] = await withHub(dataDir, async (inv) => [await inv('agents.get', { id: arg }), json ? undefined : await inv('agents.output', { id: arg })] as const);
      out(json, r, () => instanceText(r, o));
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${positionals.join(' ')}" (see cortex-hub agents --help)`);
  }
}
