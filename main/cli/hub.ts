/** `cortex-hub`: run the hub, or administer it (through a running hub or its data dir). */
import { parseArgs } from 'node:util';
import { ContractError } from '../contract';
import { DataDirBusyError, resolveDataDir } from '../hub/data-dir';
import { runHub } from '../server/run-hub';
import { VERSION } from '../util/version';
import { withHub } from './admin-client';
import { table } from './format';
import { ago, bytes } from '../util/format';

const HELP = `cortex-hub ${VERSION}: the Cortex Hub server and its admin commands

Usage:
  cortex-hub serve  [--data DIR] [--grpc HOST:PORT] [--ui HOST:PORT] [--advertise HOST[:PORT]] [--log-level LEVEL]
  cortex-hub node add NAME [--json]      register a node; prints its id and join string (token shown once)
  cortex-hub node list [--json]
  cortex-hub node retire ID [--json]     revoke the node's token; its mirror becomes an orphan
  cortex-hub status [--json]             hub stats and per-node mirror status
  cortex-hub purge [--dry-run] [--json]  remove orphaned mirrors (--dry-run: list what would go)
  cortex-hub agents templates [--json]   agent templates
  cortex-hub agents template-add NAME --command CMD [--node ID] [--cron EXPR] [--overlap skip|queue] [--webhook] [--config JSON]
                                         --node: where cron and webhook triggers run it; --webhook prints
                                         the token for POST /api/hooks/agents/<template> (shown once)
  cortex-hub agents list [--node ID] [--session S] [--template T] [--state STATE] [--limit N] [--cursor C] [--json]
  cortex-hub agents start TEMPLATE --node ID [--session S] [--config JSON] [--json]
                                         run an instance of TEMPLATE (id or name) on the node
  cortex-hub agents stop ID [--json]     stop a pending or running instance
  cortex-hub agents show ID [--json]     one instance: state, times, exit code, error

Options:
  --data DIR         data directory (default: $CORTEX_HUB_DATA, else the OS app-data folder)
  --grpc HOST:PORT   node protocol listener (default 0.0.0.0:7443; port 0 picks a free port)
  --ui HOST:PORT     UI and admin API listener (default 127.0.0.1:7444; port 0 picks a free port)
  --advertise HOST   address written into join strings (default: this machine's address)
  --log-level LEVEL  error | warn | info | debug (file log; default: the UI setting, else info)
  --json             print one JSON document on stdout
  -h, --help         show this help
  --version          print the version

Admin commands use the running hub found through DIR/hub.json, or open DIR directly when no
hub runs there. Exit status: 0 success, 1 failure, 2 usage error.
`;

class UsageError extends Error {}

function jsonObject(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config must be a JSON object: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError('--config must be a JSON object, like \'{"depth": 2}\'');
  return v as Record<string, unknown>;
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive whole number`);
  return n;
}

function out(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

async function serve(values: Record<string, unknown>): Promise<void> {
  const dataDir = resolveDataDir(values.data as string | undefined);
  const running = await runHub({
    dataDir, advertise: values.advertise as string | undefined,
    logLevel: values['log-level'] as never, consoleLevel: 'warn',
    grpc: (values.grpc as string | undefined) ?? '0.0.0.0:7443',
    ui: parseHostPort(values.ui as string | undefined, '127.0.0.1', 7444),
  });
  process.stderr.write(`cortex-hub ${VERSION} serving\n  nodes (gRPC/TLS): ${running.grpc}\n  UI and admin API: ${running.ui}\n  open the UI with: ${running.uiWithToken}\n  data: ${dataDir}\n  fingerprint: ${running.hub.identity.fingerprint}\n`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      running.hub.log.info('hub.stopping', { signal: sig });
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await running.stop();
}

function parseHostPort(v: string | undefined, host: string, port: number): { host: string; port: number } {
  if (!v) return { host, port };
  const i = v.lastIndexOf(':');
  const p = Number(v.slice(i + 1));
  if (i < 0 || !Number.isInteger(p) || p < 0 || p > 65535) throw new UsageError(`expected HOST:PORT, got "${v}"`);
  return { host: v.slice(0, i).replace(/^\[|\]$/g, ''), port: p };
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      data: { type: 'string' }, grpc: { type: 'string' }, ui: { type: 'string' }, advertise: { type: 'string' },
      'log-level': { type: 'string' }, json: { type: 'boolean', default: false }, 'dry-run': { type: 'boolean', default: false },
      node: { type: 'string' }, session: { type: 'string' }, template: { type: 'string' }, state: { type: 'string' }, limit: { type: 'string' },
      cursor: { type: 'string' }, command: { type: 'string' }, cron: { type: 'string' }, overlap: { type: 'string' }, webhook: { type: 'boolean', default: false },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false }, version: { type: 'boolean', default: false },
    },
  });
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (values.help || positionals.length === 0) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  if (values['log-level'] && !['error', 'warn', 'info', 'debug'].includes(values['log-level'])) throw new UsageError(`--log-level must be error, warn, info or debug`);
  const json = values.json;
  const [cmd, sub, arg] = positionals;
  if (cmd === 'serve') {
    await serve(values);
    return 0;
  }
  const dataDir = resolveDataDir(values.data);
  switch (`${cmd} ${sub ?? ''}`.trim()) {
    case 'node add': {
      if (!arg) throw new UsageError('usage: cortex-hub node add NAME');
      const r = await withHub(dataDir, (inv) => inv('nodes.add', { name: arg }));
      out(json, r, () => `Added node "${r.node.name}" with id ${r.node.id}.\nJoin string (shown once; keep it secret):\n\n  ${r.join}\n\nOn the node (the environment keeps the token out of the process list; --join-file FILE works too):\n\n  CORTEX_JOIN='${r.join}' cortex-node --workspace DIR`);
      return 0;
    }
    case 'node list': {
      const r = await withHub(dataDir, (inv) => inv('nodes.list', {}));
      out(json, r, () => (r.length === 0 ? 'No nodes. Add one with: cortex-hub node add NAME'
        : table([['ID', 'NAME', 'CREATED', 'LAST SEEN', 'RETIRED'], ...r.map((n) => [n.id, n.name, new Date(n.createdAt).toISOString(), ago(n.lastSeen), n.retiredAt ? new Date(n.retiredAt).toISOString() : '-'])])));
      return 0;
    }
    case 'node retire': {
      if (!arg) throw new UsageError('usage: cortex-hub node retire ID');
      const r = await withHub(dataDir, (inv) => inv('nodes.retire', { id: arg }));
      out(json, r, () => `Retired node "${r.name}" (${r.id}); its token is revoked. Its mirror is now an orphan: see "cortex-hub purge --dry-run".`);
      return 0;
    }
    case 'status': {
      const r = await withHub(dataDir, (inv) => inv('status', {}));
      out(json, r, () => [
        `hub ${r.version}  up ${Math.round(r.uptimeMs / 1000)}s  grpc ${r.grpc ?? '(not running)'}  hashed since start: ${r.filesHashedSinceStart} files, ${bytes(r.bytesHashedSinceStart)}`,
        r.nodes.length === 0 ? 'No nodes.' : table([['ID', 'NAME', 'STATE', 'LAST SEEN', 'FILES', 'BYTES', 'TO HUB', 'TO NODE', 'CONFLICTS', 'PROBLEMS', 'IGNORED', 'LOCKED', 'ERRORS'],
          ...r.nodes.map((n) => [n.id, n.name, n.state, ago(n.lastSeen), String(n.files), bytes(n.bytes), `${n.outOfSyncFiles} (${bytes(n.outOfSyncBytes)})`,
            `${n.toNodeFiles} (${bytes(n.toNodeBytes)})`, String(n.conflicts), String(n.problems), String(n.ignored),
            n.locked.length ? `${n.locked.join(' ')} (${n.lockedRefusals} refused)` : (n.lockError ? 'lock file broken' : '-'),
            n.errors ? `${n.errors}: ${n.lastError?.path} ${n.lastError?.message}` : '0'])]),
      ].join('\n'));
      return 0;
    }
    case 'agents templates': {
      const r = await withHub(dataDir, (inv) => inv('agents.templates', {}));
      out(json, r, () => (r.length === 0 ? 'No agent templates.' : table([['ID', 'NAME', 'COMMAND', 'CRON', 'OVERLAP', 'WEBHOOK'],
        ...r.map((t) => [t.id, t.name, t.command, t.cron ?? '-', t.overlap, t.hasWebhook ? 'yes' : 'no'])])));
      return 0;
    }
    case 'agents template-add': {
      if (!arg || !values.command) throw new UsageError('usage: cortex-hub agents template-add NAME --command CMD [--node ID] [--cron EXPR] [--overlap skip|queue] [--webhook] [--config JSON]');
      if (values.overlap && values.overlap !== 'skip' && values.overlap !== 'queue') throw new UsageError('--overlap must be skip or queue');
      const r = await withHub(dataDir, (inv) => inv('agents.createTemplate', {
        name: arg, command: values.command!, ...(values.node ? { nodeId: values.node } : {}), ...(values.cron ? { cron: values.cron } : {}), ...(values.overlap ? { overlap: values.overlap as 'skip' | 'queue' } : {}),
        ...(values.webhook ? { webhook: true } : {}), ...(values.config ? { defaultConfig: jsonObject(values.config) } : {}),
      }));
      out(json, r, () => `Added agent template "${r.template.name}" (${r.template.id}).${r.webhookToken ? `\nWebhook token (shown once): ${r.webhookToken}` : ''}`);
      return 0;
    }
    case 'agents list': {
      const r = await withHub(dataDir, (inv) => inv('agents.list', {
        ...(values.node ? { nodeId: values.node } : {}), ...(values.session ? { sessionId: values.session } : {}),
        ...(values.template ? { templateId: values.template } : {}), ...(values.state ? { state: values.state as never } : {}),
        ...(values.cursor ? { cursor: values.cursor } : {}), ...(values.limit ? { limit: positiveInt(values.limit, '--limit') } : {}),
      }));
      out(json, r, () => (r.items.length === 0 ? 'No agent instances.' : [table([['ID', 'TEMPLATE', 'NODE', 'SESSION', 'STATE', 'CREATED', 'EXIT'],
        ...r.items.map((i) => [i.id, i.templateId, i.nodeId, i.sessionId ?? '-', i.state, ago(i.createdAt), i.exitCode === null ? (i.exitSignal ?? '-') : String(i.exitCode)])]),
      ...(r.next ? [`More: --cursor ${r.next}`] : [])].join('\n')));
      return 0;
    }
    case 'agents start': {
      if (!arg || !values.node) throw new UsageError('usage: cortex-hub agents start TEMPLATE --node ID [--session S] [--config JSON]');
      const r = await withHub(dataDir, (inv) => inv('agents.start', {
        templateId: arg, nodeId: values.node!, ...(values.session ? { sessionId: values.session } : {}), ...(values.config ? { config: jsonObject(values.config) } : {}),
      }));
      out(json, r, () => `Agent instance ${r.id} is ${r.state} on node ${r.nodeId}.`);
      return 0;
    }
    case 'agents stop':
    case 'agents show': {
      if (!arg) throw new UsageError(`usage: cortex-hub agents ${sub} ID`);
      const r = await withHub(dataDir, (inv) => inv(sub === 'stop' ? 'agents.stop' : 'agents.get', { id: arg }));
      out(json, r, () => [
        `${r.id}  ${r.state}  template ${r.templateId}  node ${r.nodeId}${r.sessionId ? `  session ${r.sessionId}` : ''}  trigger ${r.trigger}`,
        `created ${new Date(r.createdAt).toISOString()}${r.startedAt ? `  started ${new Date(r.startedAt).toISOString()}` : ''}${r.finishedAt ? `  finished ${new Date(r.finishedAt).toISOString()}` : ''}`,
        ...(r.exitCode !== null || r.exitSignal ? [`exit ${r.exitCode ?? '-'}${r.exitSignal ? ` (signal ${r.exitSignal})` : ''}`] : []),
        ...(r.error ? [`error: ${r.error}`] : []),
        `config ${JSON.stringify(r.config)}`,
      ].join('\n'));
      return 0;
    }
    case 'purge': {
      const dry = values['dry-run'];
      const r = await withHub(dataDir, (inv) => inv(dry ? 'purge.preview' : 'purge.run', {}));
      out(json, r, () => {
        if (r.targets.length === 0) return 'No orphaned mirrors.';
        const head = dry ? 'Would remove these orphaned mirrors:' : 'Removed these orphaned mirrors:';
        return `${head}\n${table([['MIRROR', 'REASON', 'FILES', 'BYTES'], ...r.targets.map((t) => [t.id, t.reason, String(t.files), bytes(t.bytes)])])}\nTotal: ${r.files} files, ${bytes(r.bytes)}`;
      });
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${positionals.join(' ')}" (see cortex-hub --help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    const err = e as Error;
    if (err instanceof UsageError || (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      process.stderr.write(`cortex-hub: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      const prefix = err instanceof ContractError ? `${err.code}: ` : err instanceof DataDirBusyError ? '' : '';
      process.stderr.write(`cortex-hub: ${prefix}${err.message}\n`);
      process.exitCode = 1;
    }
  },
);
