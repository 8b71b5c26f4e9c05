/**
 * The node's token never needs to be in its process arguments: it takes the join string from
 * --join-file or CORTEX_JOIN, keeps its credentials in its state dir (0600) after the first
 * successful join, and warns when --join puts the token where every local user can read it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJoin } from '../../main/sync/join';
import { Hub, Node, diffTrees, runCli, snapshot, tempDir, waitFor } from '../helpers/procs';

const ARGV_WARNING = "puts the node's token in the process arguments, which every local user can read";

describe('node credentials', () => {
  const dir = tempDir('credentials');
  const ws = path.join(dir, 'ws');
  const state = path.join(dir, 'state');
  const joinFile = path.join(dir, 'join.txt');
  const credentials = path.join(state, 'credentials.json');
  let hub: Hub;
  let node: Node | undefined;
  let id: string;
  let join: string;
  /** CORTEX_JOIN must come from nowhere but where a test puts it. */
  const noEnvJoin = { CORTEX_JOIN: '' };

  beforeAll(async () => {
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, 'a.txt'), 'alpha\n');
    hub = await Hub.start(path.join(dir, 'hub'));
    ({ id, join } = await hub.addNode('creds'));
  });

  afterAll(async () => {
    await node?.kill();
    await hub?.kill();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  const mirrorMatches = () => diffTrees(snapshot(ws), snapshot(hub.mirror(id)));

  it('a node started with --join-file syncs; its token is not in /proc/PID/cmdline; credentials.json is 0600 in a 0700 state dir', async () => {
    fs.writeFileSync(joinFile, `${join}\n`, { mode: 0o600 });
    node = Node.startWith(['--join-file', joinFile, '--workspace', ws, '--state', state, '--log-level', 'debug'], state, noEnvJoin);
    await hub.waitState(id, 'in-sync');
    expect(mirrorMatches()).toEqual([]);
    const cmdline = fs.readFileSync(`/proc/${node.p.proc.pid}/cmdline`, 'utf8');
    expect(cmdline).toContain('--join-file');
    const { token } = decodeJoin(join);
    expect(cmdline).not.toContain(token);
    expect(cmdline).not.toContain(join);
    await waitFor('the credentials file', () => fs.existsSync(credentials));
    expect(fs.statSync(credentials).mode & 0o777).toBe(0o600);
    expect(fs.statSync(state).mode & 0o777).toBe(0o700);
    expect(JSON.parse(fs.readFileSync(credentials, 'utf8'))).toMatchObject({ node: id, token, revoked: false });
    expect(node.p.output()).not.toContain(ARGV_WARNING);
    expect(node.logLines().find((l) => l.msg === 'credentials.saved')).toBeTruthy();
  });

  it('a second run with only --workspace and --state reconnects with the stored credentials', async () => {
    await node!.stop();
    fs.rmSync(joinFile);
    fs.writeFileSync(path.join(ws, 'b.txt'), 'written while the node was stopped\n');
    node = Node.startWith(['--workspace', ws, '--state', state, '--log-level', 'debug'], state, noEnvJoin);
    await waitFor('b.txt in the mirror', () => fs.existsSync(path.join(hub.mirror(id), 'b.txt')));
    await hub.waitState(id, 'in-sync');
    expect(mirrorMatches()).toEqual([]);
    expect(node.logLines().filter((l) => l.msg === 'node.started').pop()).toMatchObject({ credentials: 'stored' });
    expect(node.p.output()).not.toContain(ARGV_WARNING);
  });

  it('--join still works, and warns on stderr and in the log that the token is visible to other local users', async () => {
    await node!.stop();
    const mark = node!.logLines().length;
    node = Node.startWith(['--join', join, '--workspace', ws, '--state', state, '--log-level', 'debug'], state, noEnvJoin);
    await waitFor('the node to connect', () => node!.logLines().slice(mark).find((l) => l.msg === 'hub.connected'));
    expect(node.p.output()).toContain(`--join ${ARGV_WARNING}`);
    expect(node.p.output()).toContain('--join-file FILE or the CORTEX_JOIN environment variable');
    expect(node.logLines().slice(mark).find((l) => l.msg === 'token.in_arguments')).toMatchObject({ level: 'warn', option: '--join' });
    // The same for --token (here with a workspace that does not exist, so the node stops there).
    const { token, fp, hub: hubAddr } = decodeJoin(join);
    const r = await runCli('cortex-node', ['--hub', hubAddr, '--node', id, '--token', token, '--fingerprint', fp, '--workspace', path.join(dir, 'missing'), '--state', path.join(dir, 'token-state')], noEnvJoin);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--token ${ARGV_WARNING}`);
  });

  it('--help says how to give the join string without exposing the token', async () => {
    const r = await runCli('cortex-node', ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--join-file FILE');
    expect(r.stdout).toContain('CORTEX_JOIN');
    expect(r.stdout).toContain('STATE/credentials.json (mode 0600');
  });

  it('with no join string and nothing stored, the node says how to give one', async () => {
    const r = await runCli('cortex-node', ['--workspace', ws, '--state', path.join(dir, 'empty-state')], noEnvJoin);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no join string: give one with --join-file FILE or the CORTEX_JOIN environment variable');
  });

  it('a join string for another node does not replace the stored credentials (one state dir serves one node)', async () => {
    await node!.stop();
    const other = await hub.addNode('other');
    const r = await runCli('cortex-node', ['--workspace', ws, '--state', state], { CORTEX_JOIN: other.join });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`this join string is for node ${other.id}, but ${credentials} holds the credentials of node ${id}`);
    expect(r.stderr).toContain('one state dir serves one node');
    expect(JSON.parse(fs.readFileSync(credentials, 'utf8'))).toMatchObject({ node: id });
  });

  it('once the hub refuses the stored credentials (node retired), a new join string replaces them', async () => {
    await hub.invoke('nodes.retire', { id });
    const refused = await runCli('cortex-node', ['--workspace', ws, '--state', state], noEnvJoin);
    expect(refused.code).toBe(3);
    expect(JSON.parse(fs.readFileSync(credentials, 'utf8'))).toMatchObject({ node: id, revoked: true });
    const again = await runCli('cortex-node', ['--workspace', ws, '--state', state], noEnvJoin);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('give a new join string');
    const next = await hub.addNode('next');
    node = Node.startWith(['--workspace', ws, '--state', state, '--log-level', 'debug'], state, { CORTEX_JOIN: next.join });
    await hub.waitState(next.id, 'in-sync');
    expect(diffTrees(snapshot(ws), snapshot(hub.mirror(next.id)))).toEqual([]);
    await waitFor('the new credentials', () => JSON.parse(fs.readFileSync(credentials, 'utf8')).node === next.id);
    expect(fs.statSync(credentials).mode & 0o777).toBe(0o600);
    expect(node.logLines().find((l) => l.msg === 'index.new_node')).toMatchObject({ previous: id, now: next.id });
  });
});
