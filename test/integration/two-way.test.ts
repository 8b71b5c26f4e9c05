/**
 * Two-way ghost mirrors with real processes: edits made in the mirror on the hub's side reach
 * the node; edits on both sides converge to byte-identical trees; conflicting edits keep both
 * versions (conflict copies, on both sides, counted in status and listed in the node detail);
 * a deletion never beats a modification; a directory beats a file; a restart in the middle
 * loses nothing and re-hashes only what changed; edits made while a crashed hub was down are
 * never taken for agreed.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConflictCopy } from '../../main/sync/reconcile';
import { Hub, Node, diffTrees, snapshot, tempDir, waitConverged, waitFor } from '../helpers/procs';

describe('two-way mirror', () => {
  let dir: string;
  let ws: string;
  let hub: Hub;
  let node: Node;
  let id: string;
  let join: string;
  const mirror = (p = '') => path.join(hub.mirror(id), p);
  const inWs = (p = '') => path.join(ws, p);
  /** Writes like an editor does: a temp file renamed over the target (every version is whole). */
  const put = (root: string, p: string, text: string | Buffer, mtime?: Date) => {
    const target = path.join(root, p);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = path.join(dir, `w-${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(tmp, text);
    if (mtime) fs.utimesSync(tmp, mtime, mtime);
    fs.renameSync(tmp, target);
  };
  const read = (root: string, p: string) => fs.readFileSync(path.join(root, p), 'utf8');
  // The lock file lives on the hub only.
  const same = () => diffTrees(snapshot(ws), snapshot(mirror()), (p) => p === '.metadata.json');
  const converged = (what: string) => waitConverged(what, hub, id, ws, mirror(), (p) => p === '.metadata.json');
  const conflictCopies = (root: string) => [...snapshot(root).keys()].filter(isConflictCopy).sort();

  beforeAll(async () => {
    dir = tempDir('two-way');
    ws = path.join(dir, 'ws');
    put(ws, 'notes/plan.md', 'plan v1\n');
    put(ws, 'src/app.ts', 'app v1\n');
    put(ws, 'src/keep.ts', 'keep v1\n');
    put(ws, 'docs/readme.md', 'readme v1\n');
    hub = await Hub.start(path.join(dir, 'hub'));
    ({ id, join } = await hub.addNode('both-ways'));
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    await hub.waitState(id, 'in-sync');
  });

  afterAll(async () => {
    await node?.kill();
    await hub?.kill();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('carries edits made in the mirror on the hub to the node: new, changed, deleted, dirs, modes, symlinks', async () => {
    put(mirror(), 'agent/out/result.json', '{"ok":true}\n');
    put(mirror(), 'src/app.ts', 'app v2 by an agent on the hub\n');
    fs.rmSync(mirror('src/keep.ts'));
    fs.mkdirSync(mirror('agent/empty'), { recursive: true });
    fs.chmodSync(mirror('docs/readme.md'), 0o600);
    fs.symlinkSync('out/result.json', mirror('agent/latest'));
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    put(mirror(), 'agent/out/model.bin', big);
    await converged('the hub-side edits on the node');
    expect(read(ws, 'src/app.ts')).toBe('app v2 by an agent on the hub\n');
    expect(fs.existsSync(inWs('src/keep.ts'))).toBe(false);
    expect(fs.statSync(inWs('docs/readme.md')).mode & 0o777).toBe(0o600);
    expect(fs.readlinkSync(inWs('agent/latest'))).toBe('out/result.json');
    expect(fs.readFileSync(inWs('agent/out/model.bin')).equals(big)).toBe(true);
    const st = await hub.node(id);
    expect(st).toMatchObject({ toNodeFiles: 0, outOfSyncFiles: 0, conflicts: 0 });
    // The node's applied versions came back as agreements, not as changes to pull again.
    expect(conflictCopies(ws)).toEqual([]);
    expect(hub.logLines().filter((l) => l.msg === 'sync.conflict')).toEqual([]);
    // The small files came inline with the hub's changes (no block round trip for them).
    const inline = node.logLines().filter((l) => l.msg === 'hub.changes').reduce((n, l) => n + Number(l.inlineBytes ?? 0), 0);
    expect(inline).toBeGreaterThanOrEqual('app v2 by an agent on the hub\n'.length + '{"ok":true}\n'.length);
  });

  it('an in-place edit on the hub moves only the changed blocks to the node', async () => {
    const before = fs.readFileSync(mirror('agent/out/model.bin'));
    before.fill(9, 1024 * 1024, 1024 * 1024 + 10);
    const mark = node.logLines().length;
    put(mirror(), 'agent/out/model.bin', before);
    await converged('the edited model on the node');
    expect(fs.readFileSync(inWs('agent/out/model.bin')).equals(before)).toBe(true);
    // A later batch may carry the path again with nothing left to apply (a needless resend seen
    // once in CI, not yet explained: issue 13's note): add up what every batch since the edit moved.
    const batches = node.logLines().slice(mark).filter((l) => l.msg === 'hub.changes');
    const sum = (k: string) => batches.reduce((n, l) => n + Number(l[k] ?? 0), 0);
    expect(sum('applied')).toBeGreaterThanOrEqual(1);
    // One 128 KiB block crossed the wire; the other 3 MiB came from the node's own copy.
    expect(sum('fetchedBytes')).toBe(128 * 1024);
    expect(sum('reusedBytes')).toBeGreaterThan(3 * 1024 * 1024 - 128 * 1024);
  });

  it('edits on both sides of different files converge', async () => {
    for (let i = 0; i < 40; i++) {
      put(ws, `both/node-${i}.txt`, `from the node ${i}\n`);
      put(mirror(), `both/hub-${i}.txt`, `from the hub ${i}\n`);
    }
    await converged('both sets of files on both sides');
    expect(read(ws, 'both/hub-39.txt')).toBe('from the hub 39\n');
    expect(read(mirror(), 'both/node-39.txt')).toBe('from the node 39\n');
    expect(conflictCopies(ws)).toEqual([]);
  });

  it('simultaneous edits of one file keep both: the newer wins, the other becomes a conflict copy on both sides', async () => {
    const now = Date.now();
    // The node's edit is newer for a.md, the hub's for b.md.
    put(ws, 'notes/a.md', 'a: node wins\n', new Date(now + 60_000));
    put(mirror(), 'notes/a.md', 'a: hub loses\n', new Date(now));
    put(ws, 'notes/b.md', 'b: node loses\n', new Date(now));
    put(mirror(), 'notes/b.md', 'b: hub wins\n', new Date(now + 60_000));
    await waitFor('two conflict copies', () => conflictCopies(ws).length === 2 && conflictCopies(mirror()).length === 2, 30_000, 100);
    await converged('the conflicts resolved the same on both sides');
    expect(read(ws, 'notes/a.md')).toBe('a: node wins\n');
    expect(read(ws, 'notes/b.md')).toBe('b: hub wins\n');
    const copies = conflictCopies(ws);
    expect(copies.map((p) => read(ws, p)).sort()).toEqual(['a: hub loses\n', 'b: node loses\n']);
    expect(copies.find((p) => p.startsWith('notes/a.sync-conflict-'))).toMatch(/^notes\/a\.sync-conflict-\d{8}-\d{6}-hub\.md$/);
    expect(copies.find((p) => p.startsWith('notes/b.sync-conflict-'))).toMatch(/^notes\/b\.sync-conflict-\d{8}-\d{6}-node\.md$/);
    const st = await hub.node(id);
    expect(st.conflicts).toBe(2);
    const detail = await hub.invoke('nodes.detail', { id });
    expect(detail.conflicts.sort()).toEqual(copies);
    expect(hub.logLines().filter((l) => l.msg === 'sync.conflict').map((l) => l.path).sort()).toEqual(['notes/a.md', 'notes/b.md']);
  });

  it('a deletion never beats a modification, from either side', async () => {
    fs.rmSync(inWs('notes/plan.md'));
    put(mirror(), 'notes/plan.md', 'plan v2 on the hub\n');
    fs.rmSync(mirror('docs/readme.md'));
    put(ws, 'docs/readme.md', 'readme v2 on the node\n');
    await converged('both modifications kept');
    expect(read(ws, 'notes/plan.md')).toBe('plan v2 on the hub\n');
    expect(read(mirror(), 'docs/readme.md')).toBe('readme v2 on the node\n');
  });

  it('a directory beats a file at the same path; the file is kept as a conflict copy', async () => {
    put(ws, 'shape/thing/inside.txt', 'inside a dir on the node\n');
    put(mirror(), 'shape/thing', 'a file on the hub\n');
    await waitFor('the file kept as a copy', () => conflictCopies(ws).some((p) => p.startsWith('shape/thing.sync-conflict-')), 60_000, 100);
    await converged('dir vs file resolved');
    expect(fs.statSync(inWs('shape/thing')).isDirectory()).toBe(true);
    expect(fs.statSync(mirror('shape/thing')).isDirectory()).toBe(true);
    const copy = conflictCopies(mirror()).find((p) => p.startsWith('shape/thing.sync-conflict-'))!;
    expect(read(mirror(), copy)).toBe('a file on the hub\n');
  });

  it('a file changed on the other side while it is being transferred keeps both versions, both ways', async () => {
    const contents = (root: string, p: string) => [...snapshot(root)].filter(([k]) => k === p || (isConflictCopy(k) && k.startsWith(p.replace(/\.bin$/, '.sync-conflict-')))).map(([, v]) => v.digest).sort();
    const digest = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
    for (const [from, other, label] of [[ws, mirror(), 'node → hub'], [mirror(), ws, 'hub → node']] as const) {
      const p = `race/${label === 'node → hub' ? 'up' : 'down'}.bin`;
      const first = crypto.randomBytes(96 * 1024 * 1024);
      const second = Buffer.from(`written on the other side while the first was in transit (${label})\n`);
      put(from, p, first);
      // Wait until the transfer is under way, then change the path on the receiving side.
      await waitFor(`${label} transfer under way`, async () => {
        const st = await hub.node(id);
        return label === 'node → hub' ? st.outOfSyncBytes > 0 : st.toNodeFiles > 0;
      }, 30_000, 10);
      put(other, p, second);
      await converged(`both versions of ${p} on both sides`);
      const want = [digest(first), digest(second)].sort();
      expect(contents(ws, p), label).toEqual(want);
      expect(contents(mirror(), p), label).toEqual(want);
    }
  });

  it('a restart of either side in the middle of two-way traffic loses nothing and re-hashes only what changed', async () => {
    for (let i = 0; i < 100; i++) put(mirror(), `restart/hub-${i}.txt`, `hub ${i}\n`);
    for (let i = 0; i < 100; i++) put(ws, `restart/node-${i}.txt`, `node ${i}\n`);
    await hub.stop();
    // Written while the hub is down: found by its verification at start.
    put(mirror(), 'restart/while-down.txt', 'written while the hub was down\n');
    hub = await Hub.start(hub.dataDir, { grpc: hub.info.grpc });
    await node.stop();
    put(ws, 'restart/node-down.txt', 'written while the node was down\n');
    node = Node.start(join, ws, node.stateDir);
    await converged('everything from before and during the restarts');
    expect(read(ws, 'restart/hub-99.txt')).toBe('hub 99\n');
    expect(read(ws, 'restart/while-down.txt')).toBe('written while the hub was down\n');
    expect(read(mirror(), 'restart/node-down.txt')).toBe('written while the node was down\n');
    // The hub re-hashed only files it had not recorded (at most the ones written around the stop).
    const verified = hub.logLines().filter((l) => l.msg === 'mirror.verified').pop()!;
    expect(Number(verified.hashedFiles)).toBeLessThanOrEqual(101);
    expect(Number(verified.files)).toBeGreaterThan(100);
    // A plain restart of both with nothing changed re-hashes nothing at all.
    await node.stop();
    await hub.stop();
    hub = await Hub.start(hub.dataDir, { grpc: hub.info.grpc });
    node = Node.start(join, ws, node.stateDir);
    await converged('in sync again');
    const again = hub.logLines().filter((l) => l.msg === 'mirror.verified').pop()!;
    expect(again).toMatchObject({ hashedFiles: 0, changed: 0, deleted: 0 });
    const scans = node.logLines().filter((l) => l.msg === 'scan.done');
    expect(scans.pop()).toMatchObject({ hashedFiles: 0 });
    expect(same()).toEqual([]);
  });

  it('edits in the mirror made while the hub is down and all through its start-up (before, during and after its verification) are all found', async () => {
    // Files rewritten in place (same inode, directory untouched: only the verification's walk
    // or the watcher can see them, not the sweep of directories), one after another.
    const files = Array.from({ length: 400 }, (_, i) => `startup/d${i % 8}/f${i}.txt`);
    for (const p of files) put(mirror(), p, 'v1\n');
    await converged('the files to rewrite');
    await hub.stop();
    // A clean stop is recorded (its last step ran): the next start lets the node sync while it verifies.
    expect(hub.logLines().some((l) => l.msg === 'hub.stopped')).toBe(true);
    let next = 0;
    const edit = () => {
      if (next < files.length) fs.writeFileSync(mirror(files[next]!), `v2 of ${files[next++]} (a longer version)\n`);
    };
    for (let i = 0; i < 20; i++) edit(); // while the hub is down
    const starting = Hub.start(hub.dataDir, { grpc: hub.info.grpc, pollMs: 5 });
    let started = false;
    void starting.then(() => { started = true; }, () => undefined);
    // During its start-up: one file every few milliseconds until it listens...
    while (!started && next < files.length) {
      edit();
      await new Promise((r) => setTimeout(r, 3));
    }
    hub = await starting;
    // ...and until its mirror is verified (the walk and the watcher's start), then a few after.
    let after = 0;
    while (after < 20 && next < files.length) {
      edit();
      if (hub.logLines().some((l) => l.msg === 'mirror.verified')) after++;
      await new Promise((r) => setTimeout(r, 3));
    }
    const edited = files.slice(0, next);
    expect(edited.length).toBeGreaterThan(40);
    await converged('every edit made while the hub was down or starting');
    for (const p of edited) expect(read(ws, p)).toBe(`v2 of ${p} (a longer version)\n`);
    // Only the edited files were hashed again.
    const verified = hub.logLines().filter((l) => l.msg === 'mirror.verified').pop()!;
    expect(Number(verified.hashedFiles)).toBeLessThanOrEqual(edited.length);
  });

  it('an edit in the mirror made while a crashed hub is down, of a file the node changes too, keeps both versions', async () => {
    put(ws, 'crash/both.md', 'both v1\n');
    put(ws, 'crash/hub-only.md', 'hub-only v1\n');
    await converged('the files on both sides');
    await hub.kill();
    // While the hub is down (after a crash, not a clean stop): an edit on each side of one file
    // (the node's is newer, so it wins) and a hub-side edit of another.
    const now = Date.now();
    put(mirror(), 'crash/both.md', 'both: hub edit while it was down\n', new Date(now));
    put(ws, 'crash/both.md', 'both: node edit, newer\n', new Date(now + 60_000));
    put(mirror(), 'crash/hub-only.md', 'hub-only: hub edit while it was down\n');
    hub = await Hub.start(hub.dataDir, { grpc: hub.info.grpc });
    await converged('both edits on both sides');
    expect(read(ws, 'crash/both.md')).toBe('both: node edit, newer\n');
    expect(read(ws, 'crash/hub-only.md')).toBe('hub-only: hub edit while it was down\n');
    const copies = conflictCopies(ws).filter((p) => p.startsWith('crash/'));
    expect(copies.map((p) => read(ws, p))).toEqual(['both: hub edit while it was down\n']);
    expect(conflictCopies(mirror()).filter((p) => p.startsWith('crash/'))).toEqual(copies);
  });
});
