/** `cortex-node`: a mesh node that keeps its workspace mirrored on a hub. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FatalNodeError, NodeClient, defaultStateDir } from '../node/client';
import { JoinStringError, decodeJoin } from '../sync/join';
import { createLogger } from '../util/log';
import { VERSION } from '../util/version';

const HELP = `cortex-node ${VERSION}: keep a workspace mirrored on a Cortex Hub

Usage:
  cortex-node --join JOIN --workspace DIR [--state DIR] [--log-level LEVEL]
  cortex-node --hub HOST:PORT --node ID --token TOKEN --fingerprint FP --workspace DIR

Options:
  --join JOIN         join string printed by "cortex-hub node add" (hub, node id, token, certificate pin)
  --hub HOST:PORT     hub address (overrides the join string's)
  --node ID           node id          (with --token and --fingerprint, instead of --join)
  --token TOKEN       node token
  --fingerprint FP    SHA-256 fingerprint of the hub certificate (AA:BB:...)
  --workspace DIR     the directory to mirror
  --state DIR         where the node keeps its index and log
                      (default: $CORTEX_NODE_STATE or ~/.local/share/cortex-node/<workspace hash>)
  --log-level LEVEL   error | warn | info | debug (default info; stderr shows warnings and errors)
  -h, --help          show this help
  --version           print the version

Exit status: 0 stopped by a signal, 1 failure, 2 usage error or unreadable workspace,
3 token refused or revoked, 4 hub certificate does not match the pin, 5 incompatible hub.
`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      join: { type: 'string' }, hub: { type: 'string' }, node: { type: 'string' }, token: { type: 'string' }, fingerprint: { type: 'string' },
      workspace: { type: 'string' }, state: { type: 'string' }, 'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false }, version: { type: 'boolean', default: false },
    },
  });
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
  let hub = values.hub;
  let nodeId = values.node;
  let token = values.token;
  let fingerprint = values.fingerprint;
  if (values.join) {
    try {
      const j = decodeJoin(values.join);
      hub ??= j.hub;
      nodeId ??= j.node;
      token ??= j.token;
      fingerprint ??= j.fp;
    } catch (e) {
      if (e instanceof JoinStringError) return usage(e.message);
      throw e;
    }
  }
  if (!hub || !nodeId || !token || !fingerprint) return usage('give --join, or all of --hub, --node, --token and --fingerprint');
  if (!values.workspace) return usage('--workspace DIR is required');
  const level = (values['log-level'] ?? 'info') as 'error' | 'warn' | 'info' | 'debug';
  if (!['error', 'warn', 'info', 'debug'].includes(level)) return usage('--log-level must be error, warn, info or debug');
  const workspace = path.resolve(values.workspace);
  const stateDir = path.resolve(values.state ?? defaultStateDir(workspace));
  const log = createLogger('node', { file: path.join(stateDir, 'node.log'), fileLevel: level, consoleLevel: 'warn' }).child('node', { node: nodeId });
  let client: NodeClient;
  try {
    client = new NodeClient({ hub, nodeId, token, fingerprint, workspace, stateDir, log });
  } catch (e) {
    if (e instanceof FatalNodeError) {
      log.error('node.fatal', { error: e.message });
      return e.exitCode;
    }
    throw e;
  }
  log.info('node.started', { hub, workspace, stateDir, version: VERSION });
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
