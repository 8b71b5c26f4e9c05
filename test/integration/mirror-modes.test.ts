/**
 * The mirror mode rule with real processes: a mirror is never writable by other local users
 * of the hub machine (world-write stripped on disk, setuid/setgid/sticky never set), while the
 * node's real mode stays in the hub's index, so nothing flows back to the node because of it:
 * not from the watcher, not from the verification at a restart. A real chmod on the hub's side
 * still flows; the `exact` setting keeps modes as they are for new writes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hub, Node, tempDir, waitConverged, waitFor } from '../helpers/procs';

const mode = (p: string) => fs.lstatSync(p).mode & 0o7777;
const o = (n: number) => n.toString(8).padStart(4, '0');

describe('modes in mirrors', () => {
  let dir: string;
  let ws: string;
  let hub: Hub;
  let node: Node;
  let id: string;
  let umask: number;
  const mirror = (p = '') => path.join(hub.mirror(id), p);
  const inWs = (p = '') => path.join(ws, p);
  const converged = (what: string) => waitConverged(what, hub, id, ws, mirror(), (p) => p === '.metadata.json');
  /** Mode and mtime of the node's paths: what must not change when nothing flows back. */
  const wsStamps = (paths: string[]) => Object.fromEntries(paths.map((p) => [p, `${o(mode(inWs(p)))} ${fs.lstatSync(inWs(p)).mtimeMs}`]));
  const hubChanges = () => hub.logLines().filter((l) => l.msg === 'mirror.changed');
  const nodeReceived = () => node.logLines().filter((l) => l.msg === 'hub.changes' || l.msg === 'hub.applied');

  beforeAll(async () => {
    // The modes below are set explicitly, but the directories the test makes should not depend on it.
    umask = process.umask(0o022);
    dir = tempDir('mirror-modes');
    ws = path.join(dir, 'ws');
    fs.mkdirSync(inWs('shared'), { recursive: true });
    fs.chmodSync(inWs('shared'), 0o1777);
    fs.writeFileSync(inWs('open.txt'), 'anyone may write this on the node\n');
    fs.chmodSync(inWs('open.txt'), 0o666);
    fs.writeFileSync(inWs('shared/inner.txt'), 'inside a sticky directory\n');
    fs.chmodSync(inWs('shared/inner.txt'), 0o666);
    fs.writeFileSync(inWs('plain.txt'), 'an ordinary file\n', { mode: 0o644 });
    fs.mkdirSync(inWs('group'), { mode: 0o775 });
    fs.chmodSync(inWs('group'), 0o775);
    hub = await Hub.start(path.join(dir, 'hub'));
    let join: string;
    ({ id, join } = await hub.addNode('modes'));
    node = Node.start(join, ws, path.join(dir, 'node-state'));
  });

  afterAll(async () => {
    process.umask(umask);
    await node?.kill();
    await hub?.kill();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a 0666 file and a 1777 directory arrive without world-write, and nothing flows back to the node', async () => {
    const watched = ['open.txt', 'shared', 'shared/inner.txt', 'plain.txt', 'group'];
    const before = wsStamps(watched);
    expect(before['open.txt']).toMatch(/^0666 /);
    expect(before.shared).toMatch(/^1777 /);
    await converged('the workspace in the mirror');
    expect(Object.fromEntries(watched.map((p) => [p, o(mode(mirror(p)))]))).toEqual({
      'open.txt': '0664', shared: '0775', 'shared/inner.txt': '0664', 'plain.txt': '0644', group: '0775',
    });

    // A restart makes the hub compare the whole mirror with its index: the stripped modes on
    // disk are its own writes, not hub-side changes.
    await hub.stop();
    hub = await Hub.start(hub.dataDir, { grpc: hub.info.grpc });
    const verified = await waitFor('the mirror verified after the restart', () => hub.logLines().find((l) => l.msg === 'mirror.verified'), 60_000);
    expect(verified).toMatchObject({ changed: 0, deleted: 0 });
    await converged('in sync again after the restart');
    const st = await hub.node(id);
    expect(st).toMatchObject({ state: 'in-sync', toNodeFiles: 0, outOfSyncFiles: 0, errors: 0 });
    expect(hubChanges()).toEqual([]);
    expect(nodeReceived()).toEqual([]);
    expect(wsStamps(watched)).toEqual(before);
    expect(o(mode(mirror('open.txt')))).toBe('0664');
  });

  it('a real chmod on the hub still flows: the bits changed there, the node keeping what the rule hid', async () => {
    fs.chmodSync(mirror('open.txt'), 0o644); // group-write removed on the hub (it showed 0664)
    fs.chmodSync(mirror('plain.txt'), 0o600);
    await waitFor('the hub-side chmods on the node', () => mode(inWs('open.txt')) === 0o646 && mode(inWs('plain.txt')) === 0o600, 30_000);
    await converged('the chmods on both sides');
    expect(o(mode(mirror('open.txt')))).toBe('0644');
    expect(hubChanges().flatMap((l) => l.examples as string[]).sort()).toEqual(['open.txt', 'plain.txt']);
    // The sticky directory on the node was not touched by any of it.
    expect(o(mode(inWs('shared')))).toBe('1777');
    expect(await hub.node(id)).toMatchObject({ state: 'in-sync', toNodeFiles: 0, errors: 0 });
  });

  it('a content edit on the hub reaches the node with the node\'s real mode, not the stripped one', async () => {
    fs.writeFileSync(mirror('shared/inner.txt'), 'edited in place on the hub\n');
    expect(o(mode(mirror('shared/inner.txt')))).toBe('0664');
    await waitFor('the edit on the node', () => fs.readFileSync(inWs('shared/inner.txt'), 'utf8') === 'edited in place on the hub\n', 30_000);
    await converged('the edit on both sides');
    expect(o(mode(inWs('shared/inner.txt')))).toBe('0666');
    expect(o(mode(mirror('shared/inner.txt')))).toBe('0664');
    expect(o(mode(inWs('shared')))).toBe('1777');
    expect(await hub.node(id)).toMatchObject({ state: 'in-sync', toNodeFiles: 0, errors: 0 });
  });

  it('the exact setting keeps modes for new writes; what the hub wrote before stays as it was, and nothing flows back', async () => {
    await hub.invoke('settings.set', { mirrorModes: 'exact' });
    fs.writeFileSync(inWs('later.txt'), 'written after the setting changed\n');
    fs.chmodSync(inWs('later.txt'), 0o666);
    await waitFor('later.txt in the mirror', () => fs.existsSync(mirror('later.txt')), 30_000);
    await converged('later.txt synced');
    expect(o(mode(mirror('later.txt')))).toBe('0666');
    expect(o(mode(mirror('shared/inner.txt')))).toBe('0664');
    // The verification at a restart sees both kinds of mirror file as the hub's own writes.
    const before = wsStamps(['later.txt', 'shared', 'shared/inner.txt']);
    const changes = hubChanges().length;
    await hub.stop();
    hub = await Hub.start(hub.dataDir, { grpc: hub.info.grpc });
    await waitFor('the mirror verified after the restart', () => hub.logLines().filter((l) => l.msg === 'mirror.verified').length === 2, 60_000);
    expect(hub.logLines().filter((l) => l.msg === 'mirror.verified').pop()).toMatchObject({ changed: 0, deleted: 0 });
    await converged('in sync after the restart');
    expect(hubChanges()).toHaveLength(changes);
    expect(wsStamps(['later.txt', 'shared', 'shared/inner.txt'])).toEqual(before);
    expect(await hub.node(id)).toMatchObject({ state: 'in-sync', toNodeFiles: 0, errors: 0 });
    await hub.invoke('settings.set', { mirrorModes: 'private' });
  });
});
