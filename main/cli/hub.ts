/** `cortex-hub`: run the hub, or administer it (through a running hub or its data dir). */
// First, before the modules below load: `serve` starts the mirrors' watchers (serve-early.ts).
import './serve-early';
import readline from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { CHANGE_KINDS, CONFLICT_KEEPS, ContractError, type ChangeKind, type ConflictKeep } from '../contract';
import { helpFor } from './hub-help';
import { conflictsText, nodeShow, pauseText, purgeText, rescanText } from './answers-text';
import { emptiedText, trashText } from './trash-text';
import { changesText, historyText } from './changes-text';
import { searchText } from './search-text';
import { changedText, parseAssignments, settingsText } from './settings-cli';
import { DataDirBusyError, layout, resolveDataDir } from '../hub/data-dir';
import { runHub } from '../server/run-hub';
import { installSafetyNet } from '../server/safety-net';
import { VERSION } from '../util/version';
import { trimHeapWhenIdle } from '../util/heap-trim';
import { boundHeapGrowth } from '../util/heap-growth';
import { withHub } from './admin-client';
import { table } from './format';
import { ago, bytes } from '../util/format';
import { heldText, plural } from '../util/describe';
import { termSafe } from '../util/terminal';
import { UsageError, nonNegative, out, positiveInt } from './args';
import { agentsCommand } from './agents-cli';

async function serve(values: Record<string, unknown>): Promise<void> {
  // Before the hub allocates: its heap stays near its live objects (heap-growth.ts).
  boundHeapGrowth();
  const dataDir = resolveDataDir(values.data as string | undefined);
  const running = await runHub({
    dataDir, advertise: values.advertise as string | undefined,
    logLevel: values['log-level'] as never, consoleLevel: 'warn',
    grpc: (values.grpc as string | undefined) ?? '0.0.0.0:7443',
    ui: parseHostPort(values.ui as string | undefined, '127.0.0.1', 7444),
  });
  installSafetyNet(running.hub.log.child('process'));
  // After a burst (an initial sync, the verification at start), the heap's pages go back.
  const stopTrim = trimHeapWhenIdle({ onTrim: (before, after) => running.hub.log.debug('heap.trimmed', { beforeMiB: Math.round(before / 2 ** 20), afterMiB: Math.round(after / 2 ** 20) }) });
  process.stderr.write(`cortex-hub ${VERSION} serving\n  nodes (gRPC/TLS): ${running.grpc}\n  UI and admin API: ${running.ui}\n  open the UI with: ${running.uiWithToken}\n  admin token: ${layout(dataDir).adminToken} (the same at every start; "cortex-hub token rotate" changes it)\n  data: ${dataDir}\n  fingerprint: ${running.hub.identity.fingerprint}\n`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      running.hub.log.info('hub.stopping', { signal: sig });
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  stopTrim();
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
      config: { type: 'string' }, plan: { type: 'string' }, to: { type: 'string' }, keep: { type: 'string' },
      all: { type: 'boolean', default: false },
      name: { type: 'string' }, 'no-cron': { type: 'boolean', default: false }, 'no-node': { type: 'boolean', default: false },
      'new-webhook': { type: 'boolean', default: false }, 'no-webhook': { type: 'boolean', default: false }, deleted: { type: 'boolean', default: false }, stream: { type: 'string' },
      mirror: { type: 'string', multiple: true }, 'older-than': { type: 'string' },
      path: { type: 'string' }, under: { type: 'string' }, kind: { type: 'string' }, before: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false }, version: { type: 'boolean', default: false },
    },
  });
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (values.help || positionals.length === 0) {
    process.stdout.write(helpFor(positionals[0]));
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
  if (cmd === 'agents') return agentsCommand(dataDir, values, positionals);
  // `search QUERY`: the second word is the query, not a subcommand.
  switch (cmd === 'search' ? 'search' : `${cmd} ${sub ?? ''}`.trim()) {
    case 'node add': {
      if (!arg) throw new UsageError('usage: cortex-hub node add NAME');
      const r = await withHub(dataDir, (inv) => inv('nodes.add', { name: arg }));
      out(json, r, () => `Added node "${termSafe(r.node.name)}" with id ${r.node.id}.\nJoin string (shown once; keep it secret):\n\n  ${r.join}\n\nOn the node (the environment keeps the token out of the process list; --join-file FILE works too):\n\n  CORTEX_JOIN='${r.join}' cortex-node --workspace DIR`);
      return 0;
    }
    case 'node list': {
      const r = await withHub(dataDir, (inv) => inv('nodes.list', {}));
      out(json, r, () => (r.length === 0 ? 'No nodes. Add one with: cortex-hub node add NAME'
        : table([['ID', 'NAME', 'CREATED', 'LAST SEEN', 'RETIRED'], ...r.map((n) => [n.id, n.name, new Date(n.createdAt).toISOString(), ago(n.lastSeen), n.retiredAt ? new Date(n.retiredAt).toISOString() : '-'])])));
      return 0;
    }
    case 'node show': {
      if (!arg) throw new UsageError('usage: cortex-hub node show ID');
      const r = await withHub(dataDir, (inv) => inv('nodes.detail', { id: arg }));
      out(json, r, () => nodeShow(r));
      return 0;
    }
    case 'node pending': {
      if (!arg) throw new UsageError('usage: cortex-hub node pending ID [--to hub|node] [--limit N] [--cursor C]');
      const to = values.to ?? 'node';
      if (to !== 'hub' && to !== 'node') throw new UsageError('--to must be hub or node');
      const direction = to === 'hub' ? 'to-hub' as const : 'to-node' as const;
      const r = await withHub(dataDir, (inv) => inv('nodes.pending', {
        id: arg, direction, ...(values.cursor ? { cursor: values.cursor } : {}), ...(values.limit ? { limit: positiveInt(values.limit, '--limit') } : {}),
      }));
      out(json, r, () => [
        `Pending ${direction === 'to-hub' ? 'node → hub' : 'hub → node'}: ${plural(r.total, 'change')}, ${bytes(r.totalBytes)}${r.items.length < r.total ? ` (${r.items.length} listed here)` : ''}`,
        ...(r.items.length ? [table([['PATH', 'ACTION', 'BYTES', 'STATE'], ...r.items.map((p) => [p.path, p.action, p.size ? bytes(p.size) : '-', p.state])])] : []),
        ...(r.next ? [`More: cortex-hub node pending ${arg} --to ${to} --cursor ${r.next}`] : []),
      ].join('\n'));
      return 0;
    }
    case 'node rescan': {
      if (!arg) throw new UsageError('usage: cortex-hub node rescan ID');
      const r = await withHub(dataDir, (inv) => inv('nodes.rescan', { id: arg }));
      out(json, r, () => rescanText(r));
      return 0;
    }
    case 'node pause':
    case 'node resume': {
      const paused = sub === 'pause';
      if ((arg === undefined) === !values.all) throw new UsageError(`usage: cortex-hub node ${sub} ID|--all (one node's id, or --all for every node)`);
      const r = await withHub(dataDir, (inv) => inv(paused ? 'nodes.pause' : 'nodes.resume', values.all ? { all: true } : { id: arg! }));
      out(json, r, () => pauseText(r, paused));
      return 0;
    }
    case 'node retire': {
      if (!arg) throw new UsageError('usage: cortex-hub node retire ID');
      const r = await withHub(dataDir, (inv) => inv('nodes.retire', { id: arg }));
      out(json, r, () => `Retired node "${termSafe(r.name)}" (${r.id}); its token is revoked. Its mirror is now an orphan: see "cortex-hub purge --dry-run".`);
      return 0;
    }
    case 'status': {
      const r = await withHub(dataDir, (inv) => inv('status', {}));
      out(json, r, () => [
        `hub ${r.version}  up ${Math.round(r.uptimeMs / 1000)}s  grpc ${r.grpc ?? '(not running)'}  hashed since start: ${r.filesHashedSinceStart} files, ${bytes(r.bytesHashedSinceStart)}  trash: ${bytes(r.trashBytes)}`,
        r.nodes.length === 0 ? 'No nodes.' : table([['ID', 'NAME', 'STATE', 'LAST SEEN', 'FILES', 'BYTES', 'TO HUB', 'TO NODE', 'CONFLICTS', 'PROBLEMS', 'IGNORED', 'LOCKED', 'LAST PROBLEM'],
          ...r.nodes.map((n) => [n.id, n.name, n.state, ago(n.lastSeen), String(n.files), bytes(n.bytes), `${n.outOfSyncFiles} (${bytes(n.outOfSyncBytes)})${heldText(n.held) ? `; ${heldText(n.held)!}` : ''}`,
            `${n.toNodeFiles} (${bytes(n.toNodeBytes)})`, String(n.conflicts), String(n.problems), String(n.ignored),
            n.locked.length ? `${n.locked.join(' ')} (${n.lockedRefusals} refused)` : (n.lockError ? 'lock file broken' : '-'),
            n.problems ? `${n.lastError?.path || '(node)'} ${n.lastError?.message ?? ''} (cortex-hub node show ${n.id})` : '-'])]),
      ].join('\n'));
      return 0;
    }
    case 'conflicts list': {
      const r = await withHub(dataDir, (inv) => inv('conflicts.list', values.node ? { nodeId: values.node } : {}));
      out(json, r, () => conflictsText(r));
      return 0;
    }
    case 'conflicts resolve': {
      const copy = positionals[3];
      const usage = 'usage: cortex-hub conflicts resolve NODE_ID COPY_PATH --keep winner|copy|both';
      if (!arg || !copy || positionals.length > 4) throw new UsageError(usage);
      if (!values.keep || !(CONFLICT_KEEPS as readonly string[]).includes(values.keep)) throw new UsageError(`--keep must be winner, copy or both (${usage})`);
      const keep = values.keep as ConflictKeep;
      const r = await withHub(dataDir, (inv) => inv('conflicts.resolve', { nodeId: arg, copy, keep }));
      out(json, r, () => (keep === 'winner' ? `Kept ${r.result ?? `the winner (nothing at ${r.original})`}; deleted the conflict copy ${r.copy}.`
        : keep === 'copy' ? `Kept the conflict copy's version at ${r.result}; the copy ${r.copy} is gone.`
          : `Kept both: the conflict copy is now the ordinary file ${r.result}.`) + ' The change reaches the node like any edit on the hub\'s side.');
      return 0;
    }
    case 'search': {
      const usage = 'usage: cortex-hub search QUERY [--node ID] [--limit N] [--cursor C] (a query that starts with "-": cortex-hub search -- QUERY)';
      if (sub === undefined || positionals.length > 2) throw new UsageError(usage);
      const r = await withHub(dataDir, (inv) => inv('search.paths', {
        query: sub, ...(values.node ? { nodeId: values.node } : {}), ...(values.cursor ? { cursor: values.cursor } : {}),
        ...(values.limit ? { limit: positiveInt(values.limit, '--limit') } : {}),
      }));
      const again = (cursor: string) => ['cortex-hub search', JSON.stringify(sub), ...(values.node ? ['--node', values.node] : []), ...(values.limit ? ['--limit', values.limit] : []), '--cursor', JSON.stringify(cursor)].join(' ');
      out(json, r, () => searchText(r, sub, again, values.node));
      return 0;
    }
    case 'token rotate': {
      const r = await withHub(dataDir, async (inv, running) => {
        const { token } = await inv('token.rotate', {});
        return { token, hubRunning: running !== null, uiWithToken: running ? `${running.ui}/#token=${encodeURIComponent(token)}` : null, file: layout(dataDir).adminToken };
      });
      out(json, r, () => (r.uiWithToken
        ? `New admin token (the running hub refuses the old one from now on; open UIs are signed out):\n\n  ${r.token}\n\nOpen the UI with: ${r.uiWithToken}`
        : `New admin token, in ${r.file} (no hub runs on ${dataDir}; it uses this one from its next start):\n\n  ${r.token}`));
      return 0;
    }
    case 'purge': {
      const dry = values['dry-run'];
      const planId = values.plan;
      if (dry && planId !== undefined) throw new UsageError('give --dry-run (make a plan) or --plan ID (run one), not both');
      if (values.mirror && planId === undefined) throw new UsageError('--mirror chooses among a plan\'s mirrors: give it with --plan ID (see "cortex-hub purge --dry-run")');
      if (dry) {
        const r = await withHub(dataDir, (inv) => inv('purge.preview', {}));
        out(json, r, () => purgeText(r));
        return 0;
      }
      if (planId !== undefined) {
        const r = await withHub(dataDir, (inv) => inv('purge.run', { planId, ...(values.mirror ? { ids: values.mirror } : {}) }));
        out(json, r, () => purgeText(r));
        return 0;
      }
      if (json || !process.stdin.isTTY) throw new UsageError('a purge runs a plan: "cortex-hub purge --dry-run" lists what would go and prints its planId, "cortex-hub purge --plan ID" removes exactly that (plain "cortex-hub purge" asks for confirmation, on a terminal only)');
      const preview = await withHub(dataDir, (inv) => inv('purge.preview', {}));
      out(false, preview, () => purgeText(preview, false));
      if (preview.targets.length === 0) return 0;
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question(`Move ${preview.targets.length} mirror${preview.targets.length === 1 ? '' : 's'} (${preview.files} files, ${bytes(preview.bytes)}) to the trash? Type "yes" to confirm: `).finally(() => rl.close());
      if (answer.trim().toLowerCase() !== 'yes') {
        process.stderr.write('cortex-hub: purge cancelled; nothing was removed\n');
        return 1;
      }
      const r = await withHub(dataDir, (inv) => inv('purge.run', { planId: preview.planId }));
      out(false, r, () => purgeText(r));
      return 0;
    }
    case 'trash list': {
      const r = await withHub(dataDir, (inv) => inv('trash.list', {}));
      out(json, r, () => trashText(r));
      return 0;
    }
    case 'trash restore': {
      if (!arg) throw new UsageError('usage: cortex-hub trash restore ID (the ids are in "cortex-hub trash list")');
      const r = await withHub(dataDir, (inv) => inv('trash.restore', { id: arg }));
      out(json, r, () => r.message);
      return 0;
    }
    case 'trash empty': {
      if (arg) throw new UsageError('usage: cortex-hub trash empty [--older-than DAYS]');
      const older = values['older-than'];
      const r = await withHub(dataDir, (inv) => inv('trash.empty', older !== undefined ? { olderThanDays: nonNegative(older, '--older-than') } : {}));
      out(json, r, () => emptiedText(r));
      return 0;
    }
    case 'changes': {
      if (values.path !== undefined && values.under !== undefined) throw new UsageError('give --path (one path) or --under (a directory), not both');
      if (values.node && values.path !== undefined) {
        // One path of one node: its timeline, and why it is out of sync.
        const r = await withHub(dataDir, (inv) => inv('changes.history', { nodeId: values.node!, path: values.path! }));
        out(json, r, () => historyText(r));
        return 0;
      }
      if (values.to !== undefined && values.to !== 'hub' && values.to !== 'node') throw new UsageError('--to must be hub or node');
      if (values.kind !== undefined && !(CHANGE_KINDS as readonly string[]).includes(values.kind)) throw new UsageError(`--kind must be one of ${CHANGE_KINDS.join(', ')}`);
      const r = await withHub(dataDir, (inv) => inv('changes.list', {
        ...(values.node ? { nodeId: values.node } : {}),
        ...(values.path !== undefined ? { path: values.path } : values.under !== undefined ? { path: values.under.replace(/\/+$/, ''), prefix: true } : {}),
        ...(values.to ? { direction: values.to === 'hub' ? 'to-hub' as const : 'to-node' as const } : {}),
        ...(values.kind ? { kind: values.kind as ChangeKind } : {}),
        ...(values.before !== undefined ? { before: positiveInt(values.before, '--before') } : {}),
        limit: values.limit !== undefined ? positiveInt(values.limit, '--limit') : 50,
      }));
      out(json, r, () => changesText(r, Boolean(values.node)));
      return 0;
    }
    case 'settings': {
      const r = await withHub(dataDir, (inv) => inv('settings.get', {}));
      out(json, r, () => settingsText(r));
      return 0;
    }
    case 'settings set': {
      const change = parseAssignments(positionals.slice(2));
      const [before, after] = await withHub(dataDir, async (inv) => [await inv('settings.get', {}), await inv('settings.set', change)] as const);
      out(json, after, () => changedText(before, after, change));
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
      process.stderr.write(`cortex-hub: ${termSafe(err.message)}\n`);
      process.exitCode = 2;
    } else {
      const prefix = err instanceof ContractError ? `${err.code}: ` : err instanceof DataDirBusyError ? '' : '';
      process.stderr.write(`cortex-hub: ${prefix}${termSafe(err.message)}\n`);
      process.exitCode = 1;
    }
  },
);
