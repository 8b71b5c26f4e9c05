/**
 * Conflicts resolved by the operator, with a real hub and node on loopback: four files changed
 * on both sides while the node is offline become four conflict copies (on both sides, counted);
 * `cortex-hub conflicts list` shows them, `conflicts.show` compares them (a line diff of text,
 * hashes of binary); each is resolved a different way (keep the winner, the copy, both; from
 * the CLI and the API), and after each the two trees converge, the copy is gone from both, the
 * kept content is on both, and the count drops by one. Hostile and stale requests are refused
 * with nothing changed.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConflictDetail, ConflictList, ConflictResolution, ConflictView } from '../../main/contract';
import { isConflictCopy } from '../../main/sync/reconcile';
import { Hub, Node, runCli, snapshot, tempDir, waitConverged, waitFor } from '../helpers/procs';

describe('conflicts resolved by the operator', () => {
  let dir: string;
  let ws: string;
  let hub: Hub;
  let node: Node | undefined;
  let id: string;
  let join: string;
  const BIN_NODE = crypto.randomBytes(3000);
  const BIN_HUB = crypto.randomBytes(5000);
  BIN_NODE[10] = 0;
  BIN_HUB[10] = 0;

  const put = (root: string, rel: string, data: string | Buffer, mtime: Date) => {
    const target = path.join(root, rel);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = path.join(dir, `w-${crypto.randomBytes(4).toString('hex')}`);
    fs.writeFileSync(tmp, data);
    fs.utimesSync(tmp, mtime, mtime);
    fs.renameSync(tmp, target);
  };
  const read = (root: string, rel: string) => fs.readFileSync(path.join(root, rel));
  const copies = (root: string) => [...snapshot(root).keys()].filter(isConflictCopy).sort();
  const converged = (what: string) => waitConverged(what, hub, id, ws, hub.mirror(id), (p) => p === '.metadata.json');
  const cli = async (...args: string[]) => runCli('cortex-hub', [...args, '--data', hub.dataDir]);
  const cliJson = async <T>(...args: string[]): Promise<T> => {
    const r = await cli(...args, '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  const conflictOf = async (original: string): Promise<ConflictView> => {
    const l = (await hub.invoke('conflicts.list', { nodeId: id })) as ConflictList;
    const c = l.conflicts.find((x) => x.original === original);
    if (!c) throw new Error(`no conflict of ${original}: ${JSON.stringify(l)}`);
    return c;
  };
  /** After a resolution: both trees the same, this copy gone from both, `left` conflicts counted. */
  const settled = async (what: string, copy: string, left: number) => {
    await waitFor(`${what}: the copy gone from the node`, () => !fs.existsSync(path.join(ws, copy)), 30_000, 50);
    await converged(what);
    expect(fs.existsSync(path.join(hub.mirror(id), copy))).toBe(false);
    expect(copies(ws)).toEqual(copies(hub.mirror(id)));
    expect(copies(ws)).toHaveLength(left);
    expect((await hub.node(id)).conflicts).toBe(left);
  };

  beforeAll(async () => {
    dir = tempDir('conflicts');
    ws = path.join(dir, 'ws');
    const old = new Date(Date.now() - 120_000);
    put(ws, 'docs/winner.md', 'title\nshared line\nv1\nend\n', old);
    put(ws, 'docs/copy.md', 'copy v1\n', old);
    put(ws, 'both.txt', 'both v1\n', old);
    put(ws, 'data/blob.bin', crypto.randomBytes(2000), old);
    hub = await Hub.start(path.join(dir, 'hub'));
    ({ id, join } = await hub.addNode('conflicted'));
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    await converged('the first sync');

    // Both sides change every file while the node is away.
    await node.stop();
    node = undefined;
    await hub.waitState(id, 'disconnected');
    const earlier = new Date(Date.now() - 60_000);
    const later = new Date(Date.now() - 1000);
    // The node's edit is the newer one (its version wins; the hub's becomes a -hub copy)...
    put(hub.mirror(id), 'docs/winner.md', 'title\nshared line\nv2 from the hub\nend\n', earlier);
    put(hub.mirror(id), 'both.txt', 'both: the hub\'s version\n', earlier);
    put(hub.mirror(id), 'data/blob.bin', BIN_HUB, earlier);
    // ...but for copy.md the hub's is (the node's becomes a -node copy).
    put(hub.mirror(id), 'docs/copy.md', 'copy: the hub\'s version\n', later);
    await waitFor('the hub-side edits queued for the node', async () => (await hub.node(id)).toNodeFiles === 4, 30_000);
    put(ws, 'docs/winner.md', 'title\nshared line\nv2 from the node\nend\n', later);
    put(ws, 'both.txt', 'both: the node\'s version\n', later);
    put(ws, 'data/blob.bin', BIN_NODE, later);
    put(ws, 'docs/copy.md', 'copy: the node\'s version\n', earlier);
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    await waitFor('four conflict copies on both sides', () => copies(ws).length === 4 && copies(hub.mirror(id)).length === 4, 60_000, 100);
    await converged('both versions of each on both sides');
  });

  afterAll(async () => {
    await node?.kill();
    await hub?.kill();
    if (!process.env.CORTEX_KEEP_TEST_DIRS && dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lists them on the CLI with both versions, the sides and the paths they lost to', async () => {
    const st = await hub.node(id);
    expect(st.conflicts).toBe(4);
    // When the newest was made (what tells a new conflict from a resolved one's replacement): from the change log.
    expect(st.lastConflictAt).toBeGreaterThan(Date.now() - 120_000);
    const all = await cliJson<ConflictList>('conflicts', 'list');
    expect(all.total).toBe(4);
    expect(all.conflicts.map((c) => [c.original, c.copySide]).sort()).toEqual([
      ['both.txt', 'hub'], ['data/blob.bin', 'hub'], ['docs/copy.md', 'node'], ['docs/winner.md', 'hub'],
    ]);
    for (const c of all.conflicts) {
      expect(c).toMatchObject({ nodeId: id, nodeName: 'conflicted', copy: expect.stringMatching(/\.sync-conflict-\d{8}-\d{6}-(node|hub)/) });
      expect(c.copyVersion.size).toBe(read(ws, c.copy).length);
      expect(c.originalVersion!.size).toBe(read(ws, c.original!).length);
      expect(c.copyVersion.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(c.copyVersion.hash).not.toBe(c.originalVersion!.hash);
      expect(Math.abs(c.madeAt! - Date.now())).toBeLessThan(10 * 60_000);
    }
    const blob = all.conflicts.find((c) => c.original === 'data/blob.bin')!;
    expect(blob.copyVersion.size).toBe(BIN_HUB.length);
    expect(blob.originalVersion!.size).toBe(BIN_NODE.length);
    // For people: one row per copy; one node's only with --node.
    const human = await cli('conflicts', 'list', '--node', id);
    expect(human.code, human.stderr).toBe(0);
    for (const c of all.conflicts) expect(human.stdout).toContain(c.copy);
    expect(human.stdout).toContain('4 conflict copies');
    expect((await cliJson<ConflictList>('conflicts', 'list', '--node', id)).total).toBe(4);
  });

  it('compares text line by line and binary by hash', async () => {
    const w = await conflictOf('docs/winner.md');
    const d = (await hub.invoke('conflicts.show', { nodeId: id, copy: w.copy })) as ConflictDetail;
    expect(d.diff).toEqual({
      kind: 'text', truncated: false, rows: [
        { op: 'same', text: 'title', a: 1, b: 1 },
        { op: 'same', text: 'shared line', a: 2, b: 2 },
        { op: 'del', text: 'v2 from the node', a: 3, b: null },
        { op: 'add', text: 'v2 from the hub', a: null, b: 3 },
        { op: 'same', text: 'end', a: 4, b: 4 },
      ],
    });
    const b = await conflictOf('data/blob.bin');
    const bd = (await hub.invoke('conflicts.show', { nodeId: id, copy: b.copy })) as ConflictDetail;
    expect(bd.diff).toEqual({ kind: 'none', reason: 'binary content: compare the hashes' });
  });

  it('keep the winner (CLI): the copy is deleted on both sides, the winner stays', async () => {
    const c = await conflictOf('docs/winner.md');
    const r = await cliJson<ConflictResolution>('conflicts', 'resolve', id, c.copy, '--keep', 'winner');
    expect(r).toEqual({ nodeId: id, copy: c.copy, keep: 'winner', original: 'docs/winner.md', result: 'docs/winner.md' });
    await settled('the winner kept', c.copy, 3);
    expect(read(ws, 'docs/winner.md').toString()).toBe('title\nshared line\nv2 from the node\nend\n');
    expect(read(hub.mirror(id), 'docs/winner.md').toString()).toBe('title\nshared line\nv2 from the node\nend\n');
    const events = (await hub.invoke('events.list', { nodeId: id, kind: 'conflict.resolved' })) as { data: Record<string, unknown> }[];
    expect(events.map((e) => e.data)).toEqual([{ copy: c.copy, keep: 'winner', original: 'docs/winner.md', result: 'docs/winner.md' }]);
  });

  it('keep the copy (API): the losing version takes the original\'s place on both sides', async () => {
    const c = await conflictOf('docs/copy.md');
    expect(c.copySide).toBe('node');
    expect(read(ws, 'docs/copy.md').toString()).toBe('copy: the hub\'s version\n');
    const r = (await hub.invoke('conflicts.resolve', { nodeId: id, copy: c.copy, keep: 'copy' })) as ConflictResolution;
    expect(r.result).toBe('docs/copy.md');
    await settled('the copy kept', c.copy, 2);
    expect(read(ws, 'docs/copy.md').toString()).toBe('copy: the node\'s version\n');
    expect(read(hub.mirror(id), 'docs/copy.md').toString()).toBe('copy: the node\'s version\n');
  });

  it('keep both: the copy becomes an ordinary file on both sides and no longer counts', async () => {
    const c = await conflictOf('both.txt');
    const r = await cliJson<ConflictResolution>('conflicts', 'resolve', id, c.copy, '--keep', 'both');
    expect(r.result).toMatch(/^both \(hub copy \d{8}-\d{6}\)\.txt$/);
    expect(isConflictCopy(r.result!)).toBe(false);
    await settled('both kept', c.copy, 1);
    for (const root of [ws, hub.mirror(id)]) {
      expect(read(root, 'both.txt').toString()).toBe('both: the node\'s version\n');
      expect(read(root, r.result!).toString()).toBe('both: the hub\'s version\n');
    }
  });

  it('keep the copy of a binary file (CLI, for people): the count reaches zero and the node is in sync', async () => {
    const c = await conflictOf('data/blob.bin');
    const r = await cli('conflicts', 'resolve', id, c.copy, '--keep', 'copy');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('data/blob.bin');
    await settled('the binary copy kept', c.copy, 0);
    expect(read(ws, 'data/blob.bin').equals(BIN_HUB)).toBe(true);
    expect(await hub.node(id)).toMatchObject({ state: 'in-sync', conflicts: 0, errors: 0 });
    expect((await cliJson<ConflictList>('conflicts', 'list')).total).toBe(0);
    expect((await cli('conflicts', 'list')).stdout).toContain('No conflicts.');
  });

  it('refuses hostile, unknown and malformed requests, changing nothing', async () => {
    const before = snapshot(hub.mirror(id));
    const copy = 'docs/x.sync-conflict-20261125-120000-hub.md';
    const cases: [string[], number, RegExp][] = [
      [['conflicts', 'resolve', id, copy, '--keep', 'winner'], 1, /NOT_FOUND: no conflict copy docs\/x\.sync-conflict/],
      [['conflicts', 'resolve', id, 'docs/copy.md', '--keep', 'winner'], 1, /BAD_REQUEST: docs\/copy\.md is not a conflict copy/],
      [['conflicts', 'resolve', id, `../${copy}`, '--keep', 'winner'], 1, /BAD_REQUEST: conflicts\.resolve: copy: a path in the mirror has an empty, "\." or "\.\." segment/],
      [['conflicts', 'resolve', id, `/etc/${path.basename(copy)}`, '--keep', 'both'], 1, /BAD_REQUEST: conflicts\.resolve: copy: a path in the mirror is absolute/],
      [['conflicts', 'resolve', 'no-such-node', copy, '--keep', 'both'], 1, /NOT_FOUND: no node with id no-such-node/],
      [['conflicts', 'resolve', id, copy, '--keep', 'mine'], 2, /--keep must be winner, copy or both/],
      [['conflicts', 'resolve', id, copy], 2, /--keep must be winner, copy or both/],
      [['conflicts', 'resolve', id], 2, /usage: cortex-hub conflicts resolve NODE_ID COPY_PATH/],
      [['conflicts', 'list', '--node', 'no-such-node'], 1, /NOT_FOUND: no node with id no-such-node/],
    ];
    for (const [args, code, err] of cases) {
      const r = await cli(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(err);
    }
    expect(snapshot(hub.mirror(id))).toEqual(before);
    expect(hub.p.running()).toBe(true);
  });
});
