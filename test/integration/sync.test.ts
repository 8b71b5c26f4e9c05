/**
 * A node's workspace reaches the hub's mirror byte for byte, live changes follow, and a
 * restart of either side re-hashes nothing that did not change.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hub, Node, diffTrees, generateWorkspace, snapshot, tempDir, waitFor } from '../helpers/procs';

const FILES = Number(process.env.CORTEX_TEST_FILES ?? 3000);
const BIG = 110 * 1024 * 1024;

describe('node workspace mirrored on the hub', () => {
  let dir: string;
  let ws: string;
  let hub: Hub;
  let node: Node;
  let id: string;
  let join: string;

  beforeAll(async () => {
    dir = tempDir('sync');
    ws = path.join(dir, 'ws');
    generateWorkspace(ws, { files: FILES, seed: 7, big: [BIG] });
    fs.symlinkSync('src0', path.join(ws, 'link-inside'));
    hub = await Hub.start(path.join(dir, 'hub'));
    ({ id, join } = await hub.addNode('alpha'));
    // A small index window makes the node wait for acknowledgements many times (flow control).
    node = Node.start(join, ws, path.join(dir, 'node-state'), [], { CORTEX_INDEX_WINDOW: '300' });
  });

  afterAll(async () => {
    await node?.kill();
    await hub?.kill();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  const mirrorMatches = () => diffTrees(snapshot(ws), snapshot(hub.mirror(id)));

  it(`reaches in-sync with a byte-identical mirror (${FILES} files, nested, unicode, empty, one > 100 MiB)`, async () => {
    const st = await hub.waitState(id, 'in-sync', 300_000);
    expect(st.outOfSyncFiles).toBe(0);
    expect(mirrorMatches()).toEqual([]);
    expect(fs.statSync(path.join(hub.mirror(id), 'big-0.bin')).size).toBe(BIG);
    expect(fs.readlinkSync(path.join(hub.mirror(id), 'link-inside'))).toBe('src0');
  });

  it('carries edits, appends, deletes, renames, mode changes and new dirs live', async () => {
    const snap = snapshot(ws);
    const files = [...snap].filter(([, v]) => v.type === 'file' && v.size > 0).map(([p]) => p);
    fs.writeFileSync(path.join(ws, files[0]!), 'edited\n');
    fs.appendFileSync(path.join(ws, files[1]!), 'appended line\n');
    fs.rmSync(path.join(ws, files[2]!));
    fs.renameSync(path.join(ws, files[3]!), path.join(ws, 'renamed-ü.bin'));
    fs.chmodSync(path.join(ws, files[4]!), 0o700);
    fs.mkdirSync(path.join(ws, 'new', 'deeper'), { recursive: true });
    fs.writeFileSync(path.join(ws, 'new', 'deeper', 'x.txt'), 'x');
    fs.renameSync(path.join(ws, 'empty-dir'), path.join(ws, 'renamed-empty-dir'));
    // an in-place 1 MiB rewrite inside the big file
    const fd = fs.openSync(path.join(ws, 'big-0.bin'), 'r+');
    fs.writeSync(fd, Buffer.alloc(1 << 20, 7), 0, 1 << 20, 50 << 20);
    fs.closeSync(fd);
    await waitFor('mirror to match the edited workspace', () => mirrorMatches().length === 0, 120_000, 200);
    expect(mirrorMatches()).toEqual([]);
    await hub.waitState(id, 'in-sync');
  });

  it('a hub restart on the same data dir re-hashes nothing for an unchanged mirror', async () => {
    await hub.stop();
    const mark = hub.logLines().length;
    hub = await Hub.start(path.join(dir, 'hub'), { grpc: hub.info.grpc });
    const st = await hub.waitState(id, 'in-sync', 120_000);
    const s = await hub.status();
    expect(s.bytesHashedSinceStart).toBe(0);
    expect(s.filesHashedSinceStart).toBe(0);
    expect(st.bytesReceived).toBe(0);
    // After a clean shutdown the mirror is verified beside the sync; it still reads no bytes.
    const verified = await waitFor('the mirror verification', () => hub.logLines().slice(mark).find((l) => l.msg === 'mirror.verified'));
    expect(verified).toMatchObject({ node: id, hashedBytes: 0, changed: 0, deleted: 0 });
    expect((await hub.status()).bytesHashedSinceStart).toBe(0);
    expect(mirrorMatches()).toEqual([]);
  });

  it('a mirror file changed while the hub was down is found at restart and synced again', async () => {
    await hub.stop();
    const victim = [...snapshot(hub.mirror(id))].find(([, v]) => v.type === 'file' && v.size > 10)![0];
    const file = path.join(hub.mirror(id), victim);
    const bytes = fs.readFileSync(file);
    bytes[0] = bytes[0]! ^ 0xff; // same size, different content, new mtime
    fs.writeFileSync(file, bytes);
    const mark = hub.logLines().length;
    hub = await Hub.start(path.join(dir, 'hub'), { grpc: hub.info.grpc });
    const verified = await waitFor('the mirror verification', () => hub.logLines().slice(mark).find((l) => l.msg === 'mirror.verified'));
    expect(verified).toMatchObject({ node: id, changed: 1, hashedFiles: 1 });
    await waitFor('the damaged file to be repaired', () => mirrorMatches().length === 0, 60_000, 200);
    await hub.waitState(id, 'in-sync');
  });

  it('a node restart re-hashes nothing for an unchanged workspace and sends nothing', async () => {
    await node.stop();
    const before = node.logLines().length;
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    await waitFor('node to reconnect', () => node.logLines().slice(before).some((l) => l.msg === 'hub.connected'), 60_000);
    const st = await hub.waitState(id, 'in-sync');
    const scan = node.logLines().slice(before).find((l) => l.msg === 'scan.done');
    expect(scan).toMatchObject({ hashedFiles: 0, hashedBytes: 0 });
    const connected = node.logLines().slice(before).find((l) => l.msg === 'hub.connected');
    expect(connected).toMatchObject({ wantFull: false });
    expect(st.bytesReceived).toBe(0);
    // Deletions made earlier were acknowledged: their tombstones are gone from the node's index.
    expect(node.logLines().some((l) => l.msg === 'index.pruned')).toBe(true);
    const db = new Database(path.join(dir, 'node-state', 'node.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM files WHERE deleted = 1').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  it('a change made while the node was down arrives after it restarts', async () => {
    await node.stop();
    fs.writeFileSync(path.join(ws, 'while-down.txt'), 'written while the node was stopped');
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    await waitFor('offline change in mirror', () => fs.existsSync(path.join(hub.mirror(id), 'while-down.txt')), 60_000);
    await hub.waitState(id, 'in-sync');
    expect(mirrorMatches()).toEqual([]);
  });

  it('a hub whose database went back behind pruned deletions gets a full index', async () => {
    fs.rmSync(path.join(ws, 'while-down.txt'));
    await waitFor('the deletion in the mirror', () => !fs.existsSync(path.join(hub.mirror(id), 'while-down.txt')), 30_000);
    await hub.waitState(id, 'in-sync');
    await waitFor('the tombstone pruned', () => node.logLines().some((l) => l.msg === 'index.pruned' && Number(l.upTo) > 0), 10_000);
    await hub.stop();
    // As if hub.db had been restored from an older copy: it acknowledges less than the node pruned.
    const db = new Database(path.join(hub.dataDir, 'hub.db'));
    db.prepare('UPDATE nodes SET acked_seq = acked_seq - 1 WHERE id = ?').run(id);
    db.close();
    const before = node.logLines().length;
    hub = await Hub.start(hub.dataDir, { grpc: hub.info.grpc });
    await waitFor('the node to notice', () => node.logLines().slice(before).some((l) => l.msg === 'index.behind_pruned'), 60_000);
    await waitFor('a full index', () => node.logLines().slice(before).some((l) => l.msg === 'hub.connected' && l.wantFull === true), 60_000);
    await hub.waitState(id, 'in-sync');
    expect(mirrorMatches()).toEqual([]);
  });
});
