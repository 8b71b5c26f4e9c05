/** `cortex-node`: a mesh node that keeps its workspace mirrored on a hub. */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FatalNodeError, NodeClient, defaultStateDir } from '../node/client';
import { CredentialsError, credentialsFile, loadCredentials, looseMode, markRevoked, replacementProblem, sameCredentials, saveCredentials, type StoredCredentials } from '../node/credentials';
import { JoinStringError, decodeJoin, type JoinInfo } from '../sync/join';
import { createLogger, type Logger } from '../util/log';
import { VERSION } from '../util/version';
import { trimHeapWhenIdle } from '../util/heap-trim';
import { boundHeapGrowth } from '../util/heap-growth';

const HELP = `cortex-node ${VERSION}: keep a workspace mirrored on a Cortex Hub

Usage:
  cortex-node --workspace DIR [--join-file FILE] [--state DIR] [--log-level LEVEL]
  CORTEX_JOIN=JOIN cortex-node --workspace DIR [--state DIR]

The join string ("cortex-hub node add" prints it) carries the node's token. Give it with
--join-file FILE or in the CORTEX_JOIN environment variable: the process arguments (--join,
--token) can be read by every local user (ps, /proc/PID/cmdline). After the first successful
join the node keeps its credentials in STATE/credentials.json (mode 0600, the state dir 0700),
so later runs need only --workspace (and --state, if not the default); the join file may then
be deleted. A new join string for the same node replaces the stored credentials; one for
another node is refused (one state dir serves one node).

Options:
  --workspace DIR     the directory to mirror
  --join-file FILE    read the join string from FILE
  --state DIR         where the node keeps its credentials, index and log
                      (default: $CORTEX_NODE_STATE or ~/.local/share/cortex-node/<workspace hash>)
  --hub HOST:PORT     hub address (overrides the join string's or the stored one)
  --log-level LEVEL   error | warn | info | debug (default info; stderr shows warnings and errors)
  -h, --help          show this help
  --version           print the version

Visible to other local users (each prints a warning):
  --join JOIN         the join string on the command line
  --node ID --token TOKEN --fingerprint FP   the join string's parts, instead of a join string

Environment:
  CORTEX_JOIN         the join string (when neither --join-file nor --join is given)
  CORTEX_NODE_STATE   base of the default state dir
  CORTEX_RESCAN_MS    full rescan of the workspace this often (stat only; default 15 minutes)

Exit status: 0 stopped by a signal, 1 failure, 2 usage error, unreadable workspace or a join
string for another node, 3 token refused or revoked, 4 hub certificate does not match the pin,
5 incompatible hub.
`;

/** The node's token is in argv: say so, with the way out (stderr and the log). */
function warnArgv(log: Logger, option: string, stateDir: string): void {
  log.warn('token.in_arguments', {
    option,
    warning: `${option} puts the node's token in the process arguments, which every local user can read (ps, /proc/PID/cmdline). `
      + `Give the join string with --join-file FILE or the CORTEX_JOIN environment variable instead; after the first successful join `
      + `the node keeps its credentials in ${credentialsFile(stateDir)} (mode 0600) and needs only --workspace.`,
  });
}

/** The state dir, private to this user: made 0700; an existing one of ours that others may enter is tightened. */
function prepareStateDir(stateDir: string): string | null {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const st = fs.statSync(stateDir);
  if ((st.mode & 0o077) === 0) return null;
  // A shared directory (sticky, like /tmp) or someone else's is left alone, with a warning.
  if ((st.mode & 0o1000) === 0 && st.uid === process.getuid?.()) {
    fs.chmodSync(stateDir, 0o700);
    return null;
  }
  return `the state dir ${stateDir} is open to other users (mode ${(st.mode & 0o7777).toString(8)}); the credentials file in it is 0600`;
}

async function main(argv: string[]): Promise<number> {
  // Before the node allocates: its heap stays near its live objects (heap-growth.ts).
  boundHeapGrowth();
  const { values } = parseArgs({
    args: argv,
    options: {
      join: { type: 'string' }, 'join-file': { type: 'string' }, hub: { type: 'string' }, node: { type: 'string' }, token: { type: 'string' }, fingerprint: { type: 'string' },
      workspace: { type: 'string' }, state: { type: 'string' }, 'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false }, version: { type: 'boolean', default: false },
    },
  });
  // Read once and removed: the agents the node runs inherit its environment.
  const envJoin = process.env.CORTEX_JOIN;
  delete process.env.CORTEX_JOIN;
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const usage = (msg: string) => {
    process.stderr.write(`cortex-node: ${msg}\n(see cortex-node --help)\n`);
    return 2;
  };
  if (!values.workspace) return usage('--workspace DIR is required');
  if (values.join !== undefined && values['join-file'] !== undefined) return usage('give the join string once: --join-file FILE or --join, not both');
  const level = (values['log-level'] ?? 'info') as 'error' | 'warn' | 'info' | 'debug';
  if (!['error', 'warn', 'info', 'debug'].includes(level)) return usage('--log-level must be error, warn, info or debug');
  const workspace = path.resolve(values.workspace);
  const stateDir = path.resolve(values.state ?? defaultStateDir(workspace));

  // The join string: --join-file, else --join, else $CORTEX_JOIN.
  let joinText: string | undefined;
  let joinFrom = '';
  let joinFileWarning: string | null = null;
  if (values['join-file'] !== undefined) {
    const file = path.resolve(values['join-file']);
    try {
      joinText = fs.readFileSync(file, 'utf8');
    } catch (e) {
      return usage(`cannot read the join file ${file}: ${(e as Error).message}`);
    }
    const loose = looseMode(file);
    if (loose !== null) joinFileWarning = `the join file ${file} can be read by other users (mode ${loose.toString(8)}); chmod 600 it, or delete it once the node has joined`;
    joinFrom = '--join-file';
  } else if (values.join !== undefined) {
    joinText = values.join;
    joinFrom = '--join';
  } else if (envJoin) {
    joinText = envJoin;
    joinFrom = 'CORTEX_JOIN';
  }
  let given: Partial<JoinInfo> = {};
  if (joinText !== undefined) {
    try {
      given = decodeJoin(joinText);
    } catch (e) {
      if (e instanceof JoinStringError) return usage(joinFrom === '--join' ? e.message : `${joinFrom}: ${e.message}`);
      throw e;
    }
  }
  given = { ...given, ...(values.node ? { node: values.node } : {}), ...(values.token ? { token: values.token } : {}), ...(values.fingerprint ? { fp: values.fingerprint } : {}) };

  let stateWarning: string | null;
  let stored: StoredCredentials | null;
  try {
    stateWarning = prepareStateDir(stateDir);
    stored = loadCredentials(stateDir);
  } catch (e) {
    if (e instanceof CredentialsError) return usage(e.message);
    return usage(`cannot use the state dir ${stateDir}: ${(e as Error).message}`);
  }
  const complete = (c: Partial<JoinInfo>): c is JoinInfo => Boolean(c.hub && c.node && c.token && c.fp);
  const givenSome = Object.keys(given).length > 0;
  let creds: Partial<JoinInfo>;
  if (givenSome) {
    // Parts not given (e.g. only --token) come from the stored credentials of the same node.
    creds = stored && !stored.revoked && (!given.node || given.node === stored.node) ? { hub: stored.hub, node: stored.node, token: stored.token, fp: stored.fp, ...given } : given;
    if (complete(creds)) {
      const problem = replacementProblem(stored, creds, credentialsFile(stateDir));
      if (problem) return usage(problem);
    }
  } else if (stored) {
    if (stored.revoked) {
      process.stderr.write(`cortex-node: the hub refused the credentials in ${credentialsFile(stateDir)} (token revoked or node retired); give a new join string (--join-file FILE or CORTEX_JOIN)\n`);
      return 3;
    }
    creds = stored;
  } else {
    return usage(`no join string: give one with --join-file FILE or the CORTEX_JOIN environment variable (${credentialsFile(stateDir)} does not exist yet)`);
  }
  if (values.hub) creds = { ...creds, hub: values.hub };
  if (!complete(creds)) return usage('incomplete credentials: give a join string, or all of --hub, --node, --token and --fingerprint');
  const effective: JoinInfo = creds;

  const log = createLogger('node', { file: path.join(stateDir, 'node.log'), fileLevel: level, consoleLevel: 'warn' }).child('node', { node: effective.node });
  if (values.join !== undefined) warnArgv(log, '--join', stateDir);
  if (values.token !== undefined) warnArgv(log, '--token', stateDir);
  if (joinFileWarning) log.warn('join_file.readable', { warning: joinFileWarning });
  if (stateWarning) log.warn('state.readable', { warning: stateWarning });
  const source = givenSome ? (joinFrom || 'options') : 'stored';
  /** What this run's join string would store once the hub accepts it (nothing when it is what is stored). */
  const toSave = givenSome && !sameCredentials(stored, effective) ? effective : null;
  let client: NodeClient;
  try {
    client = new NodeClient({
      hub: effective.hub, nodeId: effective.node, token: effective.token, fingerprint: effective.fp, workspace, stateDir, log,
      onJoined: () => {
        if (!toSave) return;
        try {
          saveCredentials(stateDir, toSave);
          log.info(stored ? 'credentials.replaced' : 'credentials.saved', { file: credentialsFile(stateDir), ...(stored ? { previousHub: stored.hub } : {}) });
        } catch (e) {
          log.error('credentials.save_failed', { file: credentialsFile(stateDir), error: (e as Error).message });
        }
      },
    });
  } catch (e) {
    if (e instanceof FatalNodeError) {
      log.error('node.fatal', { error: e.message });
      return e.exitCode;
    }
    throw e;
  }
  log.info('node.started', { hub: effective.hub, workspace, stateDir, credentials: source, version: VERSION });
  // After a burst (the first scan, a full rescan), the heap's pages go back.
  trimHeapWhenIdle({ onTrim: (before, after) => log.debug('heap.trimmed', { beforeMiB: Math.round(before / 2 ** 20), afterMiB: Math.round(after / 2 ** 20) }) });
  let stopping: Promise<void> | null = null;
  const stop = () => {
    if (stopping) return;
    log.info('node.stopping', {});
    stopping = client.stop();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await client.run();
    // The process exits right after: let the stop finish (agents' process groups killed).
    await (stopping as Promise<void> | null)?.catch((e: Error) => log.warn('node.stop_failed', { error: e.message }));
    return 0;
  } catch (e) {
    if (e instanceof FatalNodeError) {
      log.error('node.fatal', { error: e.message });
      // The hub refused the stored credentials: say so in the file, so a new join string may replace them.
      if (e.exitCode === 3 && stored && !stored.revoked && stored.node === effective.node) {
        try { markRevoked(stateDir, stored); } catch { /* reported by the next run */ }
      }
      await client.stop().catch(() => undefined);
      return e.exitCode;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; process.exit(); },
  (e: unknown) => {
    const err = e as NodeJS.ErrnoException;
    process.stderr.write(`cortex-node: ${err.message}\n`);
    process.exitCode = err.code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
    process.exit();
  },
);
