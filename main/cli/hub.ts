/** `cortex-hub`: run the hub, or administer it (through a running hub or its data dir). */
// First, before the modules below load: `serve` starts the mirrors' watchers (serve-early.ts).
import './serve-early';
import readline from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { CONFLICT_KEEPS, ContractError, type ConflictKeep, type ConflictList, type NodeDetail, type PauseView, type PurgeView, type RescanSideView, type RescanView } from '../contract';
import { emptiedText, trashText } from './trash-text';
import { DataDirBusyError, layout, resolveDataDir } from '../hub/data-dir';
import { runHub } from '../server/run-hub';
import { installSafetyNet } from '../server/safety-net';
import { VERSION } from '../util/version';
import { trimHeapWhenIdle } from '../util/heap-trim';
import { boundHeapGrowth } from '../util/heap-growth';
import { withHub } from './admin-client';
import { table } from './format';
import { ago, bytes } from '../util/format';
import { eventSentence, plural, progressText } from '../util/describe';
import { jsonTermSafe, termSafe, termSafeLines } from '../util/terminal';

const HELP = `cortex-hub ${VERSION}: the Cortex Hub server and its admin commands

Usage:
  cortex-hub serve  [--data DIR] [--grpc HOST:PORT] [--ui HOST:PORT] [--advertise HOST[:PORT]] [--log-level LEVEL]
  cortex-hub node add NAME [--json]      register a node; prints its id and join string (token shown once)
  cortex-hub node list [--json]
  cortex-hub node show ID [--json]       one node: facts, problems (path, direction, code, reason),
                                         pending both ways, conflicts
  cortex-hub node pending ID [--to hub|node] [--limit N] [--cursor C] [--json]
                                         what is pending one way (default --to node: hub-side
                                         changes the node has not applied; hub: node changes
                                         the mirror has not), a page at a time, with the totals
  cortex-hub node rescan ID [--json]     look at the mirror and the node's workspace again, and
                                         try everything that failed now; prints what each side
                                         found (waits up to 30 s for the node)
  cortex-hub node pause ID|--all [--json]
                                         pause the node's sync (--all: every active node's):
                                         changes flow neither way, each side holds its own;
                                         kept across restarts of the hub and the node
  cortex-hub node resume ID|--all [--json]
                                         resume it (--all: every paused node): both sides catch up
  cortex-hub node retire ID [--json]     revoke the node's token; its mirror becomes an orphan
  cortex-hub status [--json]             hub stats and per-node mirror status
  cortex-hub purge --dry-run [--json]    list the orphaned mirrors a purge would remove, as a plan
                                         with a planId (valid for one hour)
  cortex-hub purge --plan ID [--mirror NAME]... [--json]
                                         run that plan: moves into the trash only its mirrors still
                                         orphaned and still the ones previewed (new orphans need a
                                         new preview); --mirror (repeatable): only these of them
  cortex-hub purge                       on a terminal: preview, ask for confirmation, run that plan
                                         (elsewhere a usage error: use --dry-run, then --plan)
  cortex-hub trash list [--json]         purged mirrors in the trash (DIR/trash): id, node, size, when
                                         purged, when emptied (the retention setting, default 7 days)
  cortex-hub trash restore ID [--json]   put a purged mirror back under DIR/mirrors (a retired node's
                                         as an orphan again); refused while its place is taken
  cortex-hub trash empty [--older-than DAYS] [--json]
                                         remove mirrors in the trash for good: all, or those purged
                                         at least DAYS days ago
  cortex-hub agents templates [--json]   agent templates
  cortex-hub agents template-add NAME --command CMD [--node ID] [--cron EXPR] [--overlap skip|queue] [--webhook] [--config JSON]
                                         --node: where cron and webhook triggers run it; --webhook prints
                                         the token for POST /api/hooks/agents/<template> (shown once)
  cortex-hub agents list [--node ID] [--session S] [--template T] [--state STATE] [--limit N] [--cursor C] [--json]
  cortex-hub agents start TEMPLATE --node ID [--session S] [--config JSON] [--json]
                                         run an instance of TEMPLATE (id or name) on the node
  cortex-hub agents stop ID [--json]     stop a pending or running instance: SIGTERM to its whole process
                                         group on the node, SIGKILL to what is left after 5 s
  cortex-hub agents show ID [--json]     one instance: state, times, exit code, error
  cortex-hub conflicts list [--node ID] [--json]
                                         conflict copies of every active node (or one): the copy, the
                                         side it keeps, the path it lost to, both sizes
  cortex-hub conflicts resolve NODE_ID COPY_PATH --keep winner|copy|both [--json]
                                         settle a conflict copy on both sides: winner deletes the copy,
                                         copy puts it in the original's place, both makes it an
                                         ordinary file (name (SIDE copy DATE).ext)
  cortex-hub token rotate [--json]       a new admin token (DIR/admin-token; the same across restarts
                                         until rotated): a running hub switches to it at once and
                                         signs out UIs that use the old one; prints the UI link

Options:
  --data DIR         data directory (default: $CORTEX_HUB_DATA, else the OS app-data folder)
  --grpc HOST:PORT   node protocol listener (default 0.0.0.0:7443; port 0 picks a free port)
  --ui HOST:PORT     UI and admin API listener (default 127.0.0.1:7444; port 0 picks a free port)
  --advertise HOST[:PORT]
                     address written into join strings (default: this machine's host name;
                     the gRPC port when no port is given)
  --log-level LEVEL  error | warn | info | debug (file log; default: the UI setting, else info)
  --keep WHAT        conflicts resolve: winner | copy | both
  --json             print one JSON document on stdout
  --all              node pause, node resume: every node instead of one ID
  -h, --help         show this help
  --version          print the version

Environment:
  CORTEX_HUB_DATA        the data directory when --data is not given
  CORTEX_COMMIT_WORKERS  threads that commit files to mirrors (1-64; default: cores + 1, 2 to 8)
  CORTEX_RESCAN_MS       full rescan of each mirror this often (stat only; default 15 minutes)
  CORTEX_EVENTLOOP_LOG   1: log the hub's event-loop lag every 5 s (hub.eventloop)
  CORTEX_TRASH_CHECK_MS  check the trash's retention window this often (default one hour; also at start)

Admin commands use the running hub found through DIR/hub.json, or open DIR directly when no
hub runs there. Exit status: 0 success, 1 failure, 2 usage error.
`;

/**
 * \`cortex-hub COMMAND --help\`: the usage lines of that command (with their continuation
 * lines), then the options; the whole help for an unknown command.
 */
function helpFor(command: string | undefined): string {
  const [head, rest] = HELP.split('\nUsage:\n');
  const [usage, tail] = rest!.split('\n\nOptions:\n');
  const entries: string[][] = [];
  for (const line of usage!.split('\n')) {
    if (line.startsWith('  cortex-hub ')) entries.push([line]);
    else entries[entries.length - 1]?.push(line);
  }
  const mine = entries.filter((e) => e[0]!.split(/\s+/)[2] === command);
  if (!command || mine.length === 0) return HELP;
  return `${head}\nUsage:\n${mine.map((e) => e.join('\n')).join('\n')}\n\nOptions:\n${tail}`;
}
class UsageError extends Error {}

/** `node show`, for people: the node's facts, then each section that has something in it. */
function nodeShow(d: NodeDetail): string {
  const n = d.node;
  const f = d.facts;
  const progress = (p: number | null, eta: number | null) => progressText(p, eta);
  const toHub = progress(n.toHubPercent, n.toHubEtaMs);
  const toNode = progress(n.toNodePercent, n.toNodeEtaMs);
  const lines = [
    `${n.name} (${n.id})  ${n.state}  last seen ${ago(n.lastSeen)}${n.pausedAt !== null ? `  paused since ${new Date(n.pausedAt).toISOString()}${n.connected ? ' (connected)' : ''}` : ''}`,
    `node: ${f.host ?? 'host not known'}  cortex-node ${f.version ?? '(version not known)'}  workspace ${f.workspace ?? '(not known)'}`,
    `mirror ${n.mirror}: ${plural(n.files, 'file')}, ${bytes(n.bytes)}`,
    `to hub: ${n.outOfSyncFiles} (${bytes(n.outOfSyncBytes)})${toHub ? ` ${toHub}` : ''}  to node: ${n.toNodeFiles} (${bytes(n.toNodeBytes)})${toNode ? ` ${toNode}` : ''}  conflicts: ${n.conflicts}  problems: ${n.problems}`,
  ];
  const section = (title: string, total: number, rows: string[][]) => {
    if (rows.length === 0) return;
    lines.push('', `${title} (${total}${rows.length < total ? `, first ${rows.length}` : ''}):`, table(rows));
  };
  section('Problems', n.problems, d.problems.length ? [['PATH', 'DIRECTION', 'CODE', 'REASON'], ...d.problems.map((p) => [p.path || '(whole node)', p.direction, p.code, p.reason])] : []);
  section('Pending to hub', n.outOfSyncFiles, d.pending.length ? [['PATH', 'ACTION', 'BYTES', 'STATE'], ...d.pending.map((p) => [p.path, p.action, bytes(p.size), p.state])] : []);
  section('Pending to node', n.toNodeFiles, d.toNode.length ? [['PATH', 'ACTION', 'BYTES'], ...d.toNode.map((p) => [p.path, p.action, bytes(p.size)])] : []);
  section('Conflict copies', n.conflicts, d.conflicts.map((c) => [c]));
  if (n.problems === 0 && n.state === 'in-sync') lines.push('', 'Everything is mirrored, both ways.');
  if (d.events.length) lines.push('', 'Recent events:', table(d.events.slice(0, 10).map((e) => [new Date(e.at).toISOString(), eventSentence(e)])));
  return lines.join('\n');
}

/** `conflicts list`, for people. */
function conflictsText(r: ConflictList): string {
  if (r.conflicts.length === 0) return 'No conflicts.';
  const rows = r.conflicts.map((c) => [c.nodeName, c.nodeId, c.copy, c.copySide, c.original ?? '(unknown)', bytes(c.copyVersion.size),
    c.originalVersion ? bytes(c.originalVersion.size) : '(none)', c.madeAt ? new Date(c.madeAt).toISOString() : '-']);
  return [table([['NODE', 'ID', 'CONFLICT COPY', 'COPY FROM', 'ORIGINAL', 'COPY SIZE', 'ORIGINAL SIZE', 'DECIDED'], ...rows]),
    `${r.total} conflict ${r.total === 1 ? 'copy' : 'copies'}${r.conflicts.length < r.total ? ` (first ${r.conflicts.length})` : ''}. Resolve one with: cortex-hub conflicts resolve NODE_ID COPY_PATH --keep winner|copy|both`].join('\n');
}

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

function nonNegative(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a number of days, 0 or more`);
  return n;
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive whole number`);
  return n;
}

/** Prints the answer; text from nodes or the database in it cannot drive the terminal (see util/terminal.ts). */
function out(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${jsonTermSafe(JSON.stringify(value, null, 2))}\n` : `${termSafeLines(human())}\n`);
}

/** What a rescan found on each side, for people. */
function rescanText(r: RescanView): string {
  const side = (where: string, v: RescanSideView | null, missing: string | null) => (v
    ? `${where}: ${v.scanned} entries scanned, ${v.changed} new or changed, ${v.deleted} deleted, ${v.hashedFiles} files hashed (${bytes(v.hashedBytes)})${v.problems ? `, ${v.problems} problems` : ''} in ${v.ms} ms`
    : `${where}: no result: ${missing ?? 'unknown'}`);
  return [
    `Rescanned node ${r.nodeId}.`,
    side('  mirror on the hub', r.hub, r.hubMissing),
    side('  workspace on the node', r.node, r.nodeMissing),
    `  ${r.retried} failed change(s) tried again.`,
    ...(r.paused ? ['  The node is paused: what was found is held on each side until "cortex-hub node resume".'] : []),
  ].join('\n');
}

/** What a pause or resume did, for people. */
function pauseText(r: PauseView, paused: boolean): string {
  if (r.nodes.length === 0) return 'No active nodes.';
  const verb = paused ? 'paused' : 'resumed';
  return table([['ID', 'NAME', 'NOW'], ...r.nodes.map((n) => [n.id, n.name, n.changed ? verb : `already ${verb}`])]);
}

/** A purge preview (with how to run it) or a purge's result, for people. */
function purgeText(r: PurgeView, hint = true): string {
  const lines: string[] = [];
  if (r.targets.length === 0) lines.push(r.dryRun ? 'No orphaned mirrors to purge.' : `Nothing was moved to the trash (plan ${r.planId}).`);
  else if (r.dryRun) {
    lines.push(`Would remove these orphaned mirrors (plan ${r.planId}):`);
    lines.push(table([['MIRROR', 'REASON', 'FILES', 'BYTES'], ...r.targets.map((t) => [t.id, t.reason, String(t.files), bytes(t.bytes)])]));
    lines.push(`Total: ${r.files} files, ${bytes(r.bytes)}`);
  } else {
    lines.push(`Moved these orphaned mirrors to the trash (plan ${r.planId}):`);
    lines.push(table([['MIRROR', 'REASON', 'FILES', 'BYTES', 'TRASH ID'], ...r.targets.map((t) => [t.id, t.reason, String(t.files), bytes(t.bytes), t.trashId ?? '-'])]));
    lines.push(`Total: ${r.files} files, ${bytes(r.bytes)}. Restore one with: cortex-hub trash restore TRASH_ID`);
  }
  if (r.skipped.length) {
    lines.push(r.dryRun ? 'Left out of the plan:' : 'Kept:');
    lines.push(table(r.skipped.map((k) => [`  ${k.id}`, k.why, k.message])));
  }
  if (r.dryRun && r.targets.length && hint) lines.push(`To remove exactly these, before ${new Date(r.expiresAt).toISOString()}: cortex-hub purge --plan ${r.planId}`);
  return lines.join('\n');
}

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
      mirror: { type: 'string', multiple: true }, 'older-than': { type: 'string' },
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
  switch (`${cmd} ${sub ?? ''}`.trim()) {
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
          ...r.nodes.map((n) => [n.id, n.name, n.state, ago(n.lastSeen), String(n.files), bytes(n.bytes), `${n.outOfSyncFiles} (${bytes(n.outOfSyncBytes)})`,
            `${n.toNodeFiles} (${bytes(n.toNodeBytes)})`, String(n.conflicts), String(n.problems), String(n.ignored),
            n.locked.length ? `${n.locked.join(' ')} (${n.lockedRefusals} refused)` : (n.lockError ? 'lock file broken' : '-'),
            n.problems ? `${n.lastError?.path || '(node)'} ${n.lastError?.message ?? ''} (cortex-hub node show ${n.id})` : '-'])]),
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
