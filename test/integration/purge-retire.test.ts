/**
 * Purge removes exactly what its dry run listed, never an active mirror and never anything
 * outside the mirrors root; retiring a node revokes it. Also the admin CLI's contract.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PurgeView } from '../../main/contract';
import { Hub, Node, runCli, snapshot, tempDir, waitFor } from '../helpers/procs';

describe('purge and retire', () => {
  let dir: string;
  let data: string;
  let hub: Hub;
  const nodes: Node[] = [];
  let a: { id: string; join: string };
  let b: { id: string; join: string };
  let outside: string;

  beforeAll(async () => {
    dir = tempDir('purge');
    data = path.join(dir, 'hub');
    outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'precious.txt'), 'must survive every purge');
    hub = await Hub.start(data);
    a = await hub.addNode('active');
    b = await hub.addNode('to-retire');
    for (const [n, name] of [[a, 'a'], [b, 'b']] as const) {
      const ws = path.join(dir, `ws-${name}`);
      fs.mkdirSync(path.join(ws, 'sub'), { recursive: true });
      for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(ws, 'sub', `f${i}.txt`), `${name} file ${i}\n`.repeat(i + 1));
      nodes.push(Node.start(n.join, ws, path.join(dir, `state-${name}`)));
    }
    await hub.waitState(a.id, 'in-sync');
    await hub.waitState(b.id, 'in-sync');
  });

  afterAll(async () => {
    for (const n of nodes) await n.kill();
    await hub?.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('retire revokes: the connected node is cut off and its next connection is refused', async () => {
    const r = await runCli('cortex-hub', ['node', 'retire', b.id, '--data', data, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: b.id, retiredAt: expect.any(Number) });
    const code = await nodes[1]!.p.exited;
    expect(code).toBe(3);
    expect(nodes[1]!.p.output()).toMatch(/retired/);
    const again = Node.start(b.join, path.join(dir, 'ws-b'), path.join(dir, 'state-b'));
    nodes.push(again);
    expect(await again.p.exited).toBe(3);
    expect(again.p.output()).toMatch(/retired; its token is revoked/);
    expect((await hub.node(b.id)).state).toBe('retired');
    expect(hub.logLines().some((l) => l.msg === 'node.refused' && l.node === b.id)).toBe(true);
  });

  it('dry run lists exactly what the purge then removes; active mirrors and outside files survive', async () => {
    // An unknown directory, a symlink to outside planted in the retired mirror, and a symlink as a mirror entry.
    fs.mkdirSync(path.join(data, 'mirrors', 'stray', 'x'), { recursive: true });
    fs.writeFileSync(path.join(data, 'mirrors', 'stray', 'x', 'y.bin'), Buffer.alloc(1000));
    fs.symlinkSync(outside, path.join(hub.mirror(b.id), 'link-to-outside'));
    fs.symlinkSync(outside, path.join(data, 'mirrors', 'evil'));
    const activeBefore = snapshot(hub.mirror(a.id));

    const dry = await runCli('cortex-hub', ['purge', '--dry-run', '--json', '--data', data]);
    expect(dry.code).toBe(0);
    const preview = JSON.parse(dry.stdout) as PurgeView;
    expect(preview.dryRun).toBe(true);
    expect(preview.targets.map((t) => t.id).sort()).toEqual([b.id, 'evil', 'stray'].sort());
    const bTarget = preview.targets.find((t) => t.id === b.id)!;
    expect(bTarget).toMatchObject({ reason: 'retired', files: 21 }); // 20 files + the planted symlink (not followed)
    expect(preview.targets.find((t) => t.id === 'stray')).toMatchObject({ reason: 'unknown', files: 1, bytes: 1000 });
    expect(fs.existsSync(hub.mirror(b.id))).toBe(true); // a dry run deletes nothing

    const real = await runCli('cortex-hub', ['purge', '--json', '--data', data]);
    expect(real.code).toBe(0);
    const done = JSON.parse(real.stdout) as PurgeView;
    expect(done.dryRun).toBe(false);
    expect(done.targets).toEqual(preview.targets);
    expect(done.files).toBe(preview.files);
    expect(done.bytes).toBe(preview.bytes);

    expect(fs.readdirSync(path.join(data, 'mirrors')).sort()).toEqual([a.id]);
    expect(snapshot(hub.mirror(a.id))).toEqual(activeBefore);
    expect(fs.readFileSync(path.join(outside, 'precious.txt'), 'utf8')).toBe('must survive every purge');
    const history = await hub.invoke('purge.history', {});
    expect(history[0]).toMatchObject({ kind: 'purge', data: { files: preview.files, bytes: preview.bytes } });
    expect(hub.logLines().some((l) => l.msg === 'purge.done')).toBe(true);
    expect((await hub.node(a.id)).state).toBe('in-sync');
  });

  it('purge works without a running hub, and then nothing is left to purge', async () => {
    await hub.stop();
    fs.mkdirSync(path.join(data, 'mirrors', 'stray2'));
    const dry = JSON.parse((await runCli('cortex-hub', ['purge', '--dry-run', '--json', '--data', data])).stdout) as PurgeView;
    expect(dry.targets.map((t) => t.id)).toEqual(['stray2']);
    const real = await runCli('cortex-hub', ['purge', '--data', data]);
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(/Removed these orphaned mirrors/);
    const empty = await runCli('cortex-hub', ['purge', '--dry-run', '--data', data]);
    expect(empty.stdout).toMatch(/No orphaned mirrors/);
    hub = await Hub.start(data);
  });
});

describe('admin CLI', () => {
  let dir: string;
  beforeAll(() => { dir = tempDir('cli'); });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints help, refuses unknown commands with exit 2, and reports errors on stderr with exit 1', async () => {
    const help = await runCli('cortex-hub', ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/cortex-hub node add NAME/);
    const bad = await runCli('cortex-hub', ['frobnicate', '--data', dir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown command/);
    const missing = await runCli('cortex-hub', ['node', 'retire', 'nope', '--data', dir, '--json']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/NOT_FOUND: no node with id nope/);
    const nodeHelp = await runCli('cortex-node', ['--help']);
    expect(nodeHelp.stdout).toMatch(/--workspace DIR/);
    const badJoin = await runCli('cortex-node', ['--join', 'garbage', '--workspace', dir]);
    expect(badJoin.code).toBe(2);
    expect(badJoin.stderr).toMatch(/invalid join string/);
  });

  it('cortex-node explains an unreadable workspace (exit 2) and an unreachable hub (retries, says so)', async () => {
    const data = path.join(dir, 'node-errors');
    const add = JSON.parse((await runCli('cortex-hub', ['node', 'add', 'n', '--json', '--data', data])).stdout) as { join: string };
    const missing = await runCli('cortex-node', ['--join', add.join, '--workspace', path.join(dir, 'does-not-exist'), '--state', path.join(dir, 'st1')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/workspace .*does-not-exist is not a readable directory/);
    // No hub serves this data dir: the join string's address refuses connections.
    const ws = path.join(dir, 'ws-unreachable');
    fs.mkdirSync(ws);
    const node = Node.start(add.join, ws, path.join(dir, 'st2'), ['--hub', '127.0.0.1:1']);
    try {
      await waitFor('an unreachable-hub warning', () => /hub\.unreachable.*127\.0\.0\.1:1.*retryInMs/.test(node.p.output()), 20_000);
    } finally {
      await node.kill();
    }
  });

  it('node add/list/status work without a hub, with one JSON document each', async () => {
    const data = path.join(dir, 'offline');
    const add = JSON.parse((await runCli('cortex-hub', ['node', 'add', 'n1', '--json', '--data', data])).stdout) as { node: { id: string }; join: string };
    expect(add.join).toMatch(/^cortex1\./);
    const list = JSON.parse((await runCli('cortex-hub', ['node', 'list', '--json', '--data', data])).stdout) as { id: string }[];
    expect(list.map((n) => n.id)).toEqual([add.node.id]);
    const status = JSON.parse((await runCli('cortex-hub', ['status', '--json', '--data', data])).stdout) as Record<string, unknown> & { nodes: Record<string, unknown>[] };
    expect(status).toMatchObject({ bytesHashedSinceStart: 0, filesHashedSinceStart: 0, uptimeMs: expect.any(Number) });
    expect(Object.keys(status.nodes[0]!)).toEqual(expect.arrayContaining(['id', 'name', 'state', 'lastSeen', 'files', 'bytes', 'outOfSyncFiles', 'outOfSyncBytes', 'errors']));
    expect(status.nodes[0]!.state).toBe('disconnected');
  });

  it('two hubs never run on one data dir; hub.json is private', async () => {
    const data = path.join(dir, 'locked');
    const first = await Hub.start(data);
    try {
      const second = await runCli('cortex-hub', ['serve', '--data', data, '--grpc', '127.0.0.1:0', '--ui', '127.0.0.1:0']);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/in use by another hub \(pid \d+\)/);
      expect(fs.statSync(path.join(data, 'hub.json')).mode & 0o777).toBe(0o600);
    } finally {
      await first.stop();
    }
    await waitFor('hub.json removed on shutdown', () => !fs.existsSync(path.join(data, 'hub.json')), 10_000);
  });

  it('the admin API refuses requests without the token or from another origin', async () => {
    const hub = await Hub.start(path.join(dir, 'api'));
    try {
      const noToken = await fetch(`${hub.info.ui}/api/invoke`, { method: 'POST', body: JSON.stringify({ op: 'status' }) });
      expect(noToken.status).toBe(401);
      const wrongOrigin = await fetch(`${hub.info.ui}/api/invoke`, { method: 'POST', headers: { Authorization: `Bearer ${hub.info.adminToken}`, Origin: 'http://evil.example' }, body: JSON.stringify({ op: 'status' }) });
      expect(wrongOrigin.status).toBe(403);
      const unknownOp = await fetch(`${hub.info.ui}/api/invoke`, { method: 'POST', headers: { Authorization: `Bearer ${hub.info.adminToken}` }, body: JSON.stringify({ op: 'nodes.explode' }) });
      expect(await unknownOp.json()).toMatchObject({ ok: false, error: { code: 'UNKNOWN_OP' } });
      const badShape = await fetch(`${hub.info.ui}/api/invoke`, { method: 'POST', headers: { Authorization: `Bearer ${hub.info.adminToken}` }, body: JSON.stringify({ op: 'nodes.add', input: { name: 42 } }) });
      expect(badShape.status).toBe(400);
      expect(await badShape.json()).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    } finally {
      await hub.stop();
    }
  });
});
