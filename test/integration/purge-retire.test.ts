/**
 * Purge removes exactly what its preview's plan listed (still orphaned, still the same
 * directory or link), never an active mirror, never a mount point and never anything outside
 * the mirrors root; retiring a node revokes it. Also the admin CLI's contract.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PurgeView } from '../../main/contract';
import { HubStore } from '../../main/store/hub-store';
import { Hub, Node, ROOT, runCli, snapshot, tempDir, waitFor } from '../helpers/procs';

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

  const cli = (...args: string[]) => runCli('cortex-hub', [...args, '--data', data]);
  const preview = async () => {
    const r = await cli('purge', '--dry-run', '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as PurgeView;
  };
  const runPlan = async (planId: string) => {
    const r = await cli('purge', '--plan', planId, '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as PurgeView;
  };
  const mirrors = () => fs.readdirSync(path.join(data, 'mirrors')).sort();

  it('a purge removes exactly its preview\'s plan: an orphan made after the preview stays; active mirrors and outside files survive', async () => {
    // An unknown directory, a symlink to outside planted in the retired mirror, and a symlink as a mirror entry.
    fs.mkdirSync(path.join(data, 'mirrors', 'stray', 'x'), { recursive: true });
    fs.writeFileSync(path.join(data, 'mirrors', 'stray', 'x', 'y.bin'), Buffer.alloc(1000));
    fs.symlinkSync(outside, path.join(hub.mirror(b.id), 'link-to-outside'));
    fs.symlinkSync(outside, path.join(data, 'mirrors', 'evil'));
    const activeBefore = snapshot(hub.mirror(a.id));

    const plan = await preview();
    expect(plan).toMatchObject({ dryRun: true, planId: expect.stringMatching(/^pp-/), skipped: [] });
    expect(plan.expiresAt).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(plan.targets.map((t) => t.id).sort()).toEqual([b.id, 'evil', 'stray'].sort());
    expect(plan.targets.find((t) => t.id === b.id)).toMatchObject({ reason: 'retired', files: 21 }); // 20 files + the planted symlink (not followed)
    expect(plan.targets.find((t) => t.id === 'stray')).toMatchObject({ reason: 'unknown', files: 1, bytes: 1000 });
    expect(fs.existsSync(hub.mirror(b.id))).toBe(true); // a preview deletes nothing
    const human = await cli('purge', '--dry-run');
    expect(human.stdout).toMatch(/Would remove these orphaned mirrors \(plan pp-[\w-]+\):/);
    expect(human.stdout).toMatch(/cortex-hub purge --plan pp-[\w-]+/);

    // The finding: a directory made after the preview was removed with the rest.
    fs.mkdirSync(path.join(data, 'mirrors', 'late'));
    const done = await runPlan(plan.planId);
    expect(done).toMatchObject({ dryRun: false, planId: plan.planId, skipped: [] });
    // Each into the trash (test/integration/trash.test.ts), with its entry's id.
    expect(done.targets).toEqual(plan.targets.map((t) => ({ ...t, trashId: expect.stringMatching(/^tr-[0-9a-f]{16}$/) })));
    expect(done.files).toBe(plan.files);
    expect(done.bytes).toBe(plan.bytes);

    expect(mirrors()).toEqual([a.id, 'late'].sort());
    expect(snapshot(hub.mirror(a.id))).toEqual(activeBefore);
    expect(fs.readFileSync(path.join(outside, 'precious.txt'), 'utf8')).toBe('must survive every purge');
    const history = await hub.invoke('purge.history', {});
    expect(history[0]).toMatchObject({ kind: 'purge', data: { planId: plan.planId, files: plan.files, bytes: plan.bytes } });
    expect(hub.logLines().some((l) => l.msg === 'purge.done' && l.plan === plan.planId)).toBe(true);
    expect((await hub.node(a.id)).state).toBe('in-sync');

    // A plan runs once; the new orphan needs a new preview.
    const again = await cli('purge', '--plan', plan.planId);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(`CONFLICT: purge plan ${plan.planId} was already run at`);
    const next = await preview();
    expect(next.targets.map((t) => t.id)).toEqual(['late']);
    expect((await runPlan(next.planId)).targets.map((t) => t.id)).toEqual(['late']);
  });

  it('keeps what changed since the preview: a directory swapped in under the same name, a link replaced, one gone', async () => {
    const m = (n: string) => path.join(data, 'mirrors', n);
    fs.mkdirSync(m('swap'));
    fs.writeFileSync(path.join(m('swap'), 'old.txt'), 'previewed');
    fs.symlinkSync(outside, m('link'));
    fs.mkdirSync(m('vanish'));
    fs.mkdirSync(m('plain'));
    const plan = await preview();
    expect(plan.targets.map((t) => t.id)).toEqual(['link', 'plain', 'swap', 'vanish']);
    // Same names, other things (the new directory may even get the old one's inode number).
    fs.rmSync(m('swap'), { recursive: true });
    fs.mkdirSync(m('swap'));
    fs.writeFileSync(path.join(m('swap'), 'new.txt'), 'not previewed');
    fs.unlinkSync(m('link'));
    fs.mkdirSync(m('link'));
    fs.rmdirSync(m('vanish'));
    const done = await runPlan(plan.planId);
    expect(done.targets.map((t) => t.id)).toEqual(['plain']);
    expect(Object.fromEntries(done.skipped.map((k) => [k.id, k.why]))).toEqual({ swap: 'replaced', link: 'replaced', vanish: 'gone' });
    expect(done.skipped.find((k) => k.id === 'swap')!.message).toMatch(/is not the directory the preview listed/);
    expect(fs.readFileSync(path.join(m('swap'), 'new.txt'), 'utf8')).toBe('not previewed');
    expect(fs.statSync(m('link')).isDirectory()).toBe(true);
    expect(hub.logLines().some((l) => l.msg === 'purge.skipped' && l.plan === plan.planId)).toBe(true);
    const history = await hub.invoke('purge.history', { limit: 1 });
    expect(history[0]!.data).toMatchObject({ planId: plan.planId, skipped: expect.arrayContaining([expect.objectContaining({ id: 'swap', why: 'replaced' })]) });
    const rest = await preview();
    expect(rest.targets.map((t) => t.id)).toEqual(['link', 'swap']);
    await runPlan(rest.planId);
    expect(mirrors()).toEqual([a.id]);
  });

  it('skips mount points under mirrors/ (a tmpfs, a bind mount inside an orphan, one mounted after the preview) without descending into them; the rest of the plan proceeds', async (ctx) => {
    const m = (n: string) => path.join(data, 'mirrors', n);
    const src = path.join(outside, 'bind-src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'keep.txt'), 'outside the mirrors root');
    const mounted: string[] = [];
    const mount = (args: string[], at: string) => {
      const r = spawnSync('mount', [...args, at], { encoding: 'utf8' });
      if (r.status !== 0) return r.stderr || r.error?.message || `exit ${r.status}`;
      mounted.unshift(at);
      return null;
    };
    try {
      fs.mkdirSync(m('tmpfs'));
      const cannot = mount(['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs'], m('tmpfs'));
      if (cannot) {
        process.stderr.write(`\n[SKIPPED] mount points under mirrors/: cannot mount (${cannot.trim()}); needs root\n\n`);
        ctx.skip();
        return;
      }
      fs.writeFileSync(path.join(m('tmpfs'), 'on-tmpfs.txt'), 'on another file system');
      fs.mkdirSync(path.join(m('holder'), 'inner'), { recursive: true });
      fs.writeFileSync(path.join(m('holder'), 'own.txt'), 'x');
      expect(mount(['--bind', src], path.join(m('holder'), 'inner'))).toBeNull();
      fs.mkdirSync(path.join(m('later'), 'inner'), { recursive: true });
      fs.mkdirSync(m('plain'));
      fs.writeFileSync(path.join(m('plain'), 'f.txt'), 'plain');

      const plan = await preview();
      expect(plan.targets.map((t) => t.id)).toEqual(['later', 'plain']);
      expect(Object.fromEntries(plan.skipped.map((k) => [k.id, k.why]))).toEqual({ tmpfs: 'mount-point', holder: 'mount-point' });
      expect(plan.skipped.find((k) => k.id === 'holder')!.message).toBe('mirrors/holder holds a mount point (inner): not descended into, not removed');
      expect(plan.skipped.find((k) => k.id === 'tmpfs')!.message).toBe('mirrors/tmpfs is a mount point: not descended into, not removed');

      // A same-file-system bind mount made after the preview: not visible to a device check.
      expect(mount(['--bind', src], path.join(m('later'), 'inner'))).toBeNull();
      const done = await runPlan(plan.planId);
      expect(done.targets.map((t) => t.id)).toEqual(['plain']);
      expect(done.skipped).toEqual([{ id: 'later', why: 'mount-point', message: 'mirrors/later holds a mount point (inner): not descended into, not removed' }]);
      expect(fs.readFileSync(path.join(src, 'keep.txt'), 'utf8')).toBe('outside the mirrors root');
      expect(fs.readFileSync(path.join(m('tmpfs'), 'on-tmpfs.txt'), 'utf8')).toBe('on another file system');
      expect(fs.existsSync(path.join(m('holder'), 'own.txt'))).toBe(true);
      expect(fs.existsSync(m('plain'))).toBe(false);
    } finally {
      for (const at of mounted) spawnSync('umount', [at]);
    }
    // Unmounted, they are ordinary orphans again.
    const rest = await preview();
    expect(rest.skipped).toEqual([]);
    await runPlan(rest.planId);
    expect(mirrors()).toEqual([a.id]);
    expect(fs.readFileSync(path.join(src, 'keep.txt'), 'utf8')).toBe('outside the mirrors root');
  });

  it('plans persist (preview on the hub, run without it); a mirror whose node came back is kept; unknown, expired and used plans are refused', async () => {
    fs.mkdirSync(path.join(data, 'mirrors', 'stray2'));
    fs.mkdirSync(path.join(data, 'mirrors', 'back'));
    const plan = await preview();
    expect(plan.targets.map((t) => t.id)).toEqual(['back', 'stray2']);
    await hub.stop();
    // While the hub is down a node "back" appears (a restored database): its mirror is no orphan now.
    const store = new HubStore(path.join(data, 'hub.db'));
    store.addNode('back', 'came back', 'secret');
    const now = Date.now();
    store.purgePlans.save({ id: 'pp-old', createdAt: now - 2 * 3600_000, expiresAt: now - 3600_000, targets: [] }, 0);
    store.close();

    const done = await runPlan(plan.planId);
    expect(done.targets.map((t) => t.id)).toEqual(['stray2']);
    expect(done.skipped).toEqual([{ id: 'back', why: 'active', message: 'node back is active: its mirror is kept' }]);
    expect(mirrors()).toEqual(['back', a.id].sort());
    const expired = await cli('purge', '--plan', 'pp-old');
    expect(expired.code).toBe(1);
    expect(expired.stderr).toMatch(/^cortex-hub: CONFLICT: purge plan pp-old expired at \S+ \(plans last one hour\): make a new one with a preview/);
    const unknown = await cli('purge', '--plan', 'pp-nope', '--json');
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/^cortex-hub: NOT_FOUND: no purge plan pp-nope: make one with a preview/);
    const empty = await cli('purge', '--dry-run');
    expect(empty.stdout).toMatch(/No orphaned mirrors to purge/);
    hub = await Hub.start(data);
  });

  it('plain "purge" asks for confirmation on a terminal and runs what it showed; without a terminal it is a usage error', async (ctx) => {
    const noTty = await cli('purge');
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toMatch(/a purge runs a plan: "cortex-hub purge --dry-run" lists what would go and prints its planId, "cortex-hub purge --plan ID" removes exactly that/);
    const both = await cli('purge', '--dry-run', '--plan', 'x');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/give --dry-run \(make a plan\) or --plan ID \(run one\), not both/);
    const help = await runCli('cortex-hub', ['--help']);
    expect(help.stdout).toMatch(/cortex-hub purge --plan ID/);

    const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
    if (script.status !== 0) {
      process.stderr.write('\n[SKIPPED] purge confirmation on a terminal: util-linux "script" (makes a pseudo-terminal) is not installed\n\n');
      ctx.skip();
      return;
    }
    // A command line for `script -c` (it runs it through the shell).
    const line = `${process.execPath} ${path.join(ROOT, 'bin', 'cortex-hub')} purge --data '${data}'`;
    const onTty = (answer: string) => spawnSync('script', ['-qec', line, '/dev/null'], { input: `${answer}\n`, encoding: 'utf8', timeout: 60_000 });
    fs.mkdirSync(path.join(data, 'mirrors', 'asked'));
    const no = onTty('no');
    expect(no.status).toBe(1);
    expect(no.stdout).toMatch(/Would remove these orphaned mirrors[\s\S]*asked/);
    expect(no.stdout).toMatch(/purge cancelled; nothing was removed/);
    expect(fs.existsSync(path.join(data, 'mirrors', 'asked'))).toBe(true);
    const yes = onTty('yes');
    expect(yes.status, yes.stdout).toBe(0);
    expect(yes.stdout).toMatch(/Type "yes" to confirm/);
    expect(yes.stdout).toMatch(/Moved these orphaned mirrors to the trash \(plan pp-[\w-]+\)/);
    expect(fs.existsSync(path.join(data, 'mirrors', 'asked'))).toBe(false);
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
    // Added, never connected: new (not disconnected).
    expect(status.nodes[0]!.state).toBe('new');
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
