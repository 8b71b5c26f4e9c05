/** `cortex-hub --help` and `cortex-hub COMMAND --help`: the usage text, whole or one command's part. */
import { VERSION } from '../util/version';

export const HELP = `cortex-hub ${VERSION}: the Cortex Hub server and its admin commands

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
  cortex-hub agents templates [--deleted] [--json]
                                         agent templates: command, cron, node, overlap, webhook
                                         (--deleted: the deleted ones too)
  cortex-hub agents template-add NAME --command CMD [--node ID] [--cron EXPR] [--overlap skip|queue] [--webhook] [--config JSON]
                                         --node: where cron and webhook triggers run it; --webhook prints
                                         the token for POST /api/hooks/agents/<template> (shown once)
  cortex-hub agents template-edit TEMPLATE [--name NAME] [--command CMD] [--node ID|--no-node] [--cron EXPR|--no-cron] [--overlap skip|queue] [--config JSON] [--new-webhook|--no-webhook] [--json]
                                         change what is given; instances keep the command they ran;
                                         --new-webhook prints a new token (the old one stops working)
  cortex-hub agents template-delete TEMPLATE [--json]
                                         no more runs or triggers of it; its instances and their output
                                         are kept; pending ones are stopped, running ones go on
  cortex-hub agents overview [--json]    one line per template: instances active, the last run and its state
  cortex-hub agents list [--node ID] [--session S] [--template T] [--state STATE] [--limit N] [--cursor C] [--json]
  cortex-hub agents start TEMPLATE --node ID [--session S] [--config JSON] [--json]
                                         run an instance of TEMPLATE (id or name) on the node
  cortex-hub agents rerun ID [--json]    run again like instance ID: its template, node, session, config
  cortex-hub agents stop ID [--json]     stop a pending or running instance: SIGTERM to its whole process
                                         group on the node, SIGKILL to what is left after 5 s
  cortex-hub agents show ID [--json]     one instance: state, command, times, duration, exit code, error,
                                         and (not with --json: see agents output) its output's tail
  cortex-hub agents output ID [--stream stdout|stderr] [--json]
                                         the last 64 KiB of its stdout and stderr, kept with the instance;
                                         --stream: that one alone, as it was
  cortex-hub conflicts list [--node ID] [--json]
                                         conflict copies of every active node (or one): the copy, the
                                         side it keeps, the path it lost to, both sizes
  cortex-hub conflicts resolve NODE_ID COPY_PATH --keep winner|copy|both [--json]
                                         settle a conflict copy on both sides: winner deletes the copy,
                                         copy puts it in the original's place, both makes it an
                                         ordinary file (name (SIDE copy DATE).ext)
  cortex-hub changes [--node ID] [--path P | --under DIR] [--to hub|node] [--kind KIND] [--before ID] [--limit N] [--json]
                                         recent changes, newest first (default 50): path, direction,
                                         what happened, which side made it; --path one path, --under
                                         a directory and all below it, --to hub (made on the node) or
                                         node (made on the hub), --kind change|conflict|refusal|failure,
                                         --before the "Older" id of the page before; with --node and
                                         --path: that path's timeline, and why it is out of sync
  cortex-hub search QUERY [--node ID] [--limit N] [--cursor C] [--json]
                                         paths in the mirrors (every node's, or one's) containing QUERY,
                                         case folded, from the hub's index (no disk walk); under 3
                                         characters, names starting with it; --cursor: the next page
  cortex-hub settings [--json]           the hub's settings (those of the UI's Settings view): each
                                         key, its value, what it accepts
  cortex-hub settings set KEY=VALUE [KEY=VALUE...] [--json]
                                         change them, e.g. trashRetentionDays=14 notifyOnConflicts=false;
                                         a running hub applies them at once
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
export function helpFor(command: string | undefined): string {
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
