/**
 * Group commit under SIGKILL (main/sync/group-commit.ts): the committing process is killed at
 * the two points where a batch is between states, reached deterministically through the
 * test-only pause (CORTEX_TEST_PAUSE_AT, main/sync/barrier.ts):
 *
 *   after-barrier   the batch's bytes are stable in staging, nothing renamed yet;
 *   after-renames   the batch is in place and its renames are stable, but nothing is recorded
 *                   or acknowledged (the worker has not answered).
 *
 * After a restart: no partial or mixed file anywhere (each file is the version its writer
 * wrote), nothing acknowledged is lost (the writer's tree is untouched: no file went missing
 * and no conflict copy came back), and the two sides converge (in-sync, trees identical).
 * Both directions: the hub committing node versions, the node committing hub-side changes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Hub, Node, diffTrees, snapshot, tempDir, waitFor } from '../helpers/procs';
import { GROUP_MIN_FILES } from '../../main/sync/group-commit';

const FILES = 400;
const POINTS = ['after-barrier', 'after-renames'] as const;

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** FILES small files in a few directories; returns each path's digest. */
function writeTree(root: string, tag: string): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < FILES; i++) {
    const rel = `${tag}/d${i % 5}/f${i}.txt`;
    const data = Buffer.from(`${tag} file ${i} `.repeat(1 + (i % 30)));
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
    out.set(rel, sha(data));
  }
  return out;
}

/** Every file under root is whole: exactly the version written (and nothing else is there). */
function onlyWhole(root: string, versions: Map<string, string>, label: string): string[] {
  const files: string[] = [];
  for (const [rel, item] of snapshot(root)) {
    if (item.type !== 'file') continue;
    expect(versions.get(rel), `${label}: unknown, partial or mixed file ${rel}`).toBe(item.digest);
    files.push(rel);
  }
  return files;
}

interface Paused { point: string; files: string[]; pid: number }

async function pausedAt(marker: string): Promise<Paused> {
  await waitFor(`the committing worker to pause (${marker})`, () => fs.existsSync(marker), 120_000, 50);
  // The marker is written whole by one writeFileSync; wait for it to parse.
  let p: Paused | null = null;
  await waitFor('the pause marker', () => {
    try { p = JSON.parse(fs.readFileSync(marker, 'utf8')) as Paused; return true; } catch { return false; }
  }, 10_000, 20);
  return p!;
}

describe('a SIGKILL during a group commit', () => {
  const dir = tempDir('group-commit-crash');
  afterAll(() => {
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const point of POINTS) {
    it(`of the hub, ${point}: no partial file in the mirror, nothing acknowledged lost, the node converges`, async () => {
      const base = path.join(dir, `hub-${point}`);
      const ws = path.join(base, 'ws');
      const data = path.join(base, 'hub');
      const state = path.join(base, 'node');
      const marker = path.join(base, 'paused.json');
      fs.mkdirSync(ws, { recursive: true });
      const versions = writeTree(ws, 'n');
      let hub = await Hub.start(data, { env: { CORTEX_TEST_PAUSE_AT: point, CORTEX_TEST_PAUSE_FILE: marker } });
      const grpc = hub.info.grpc;
      const { id, join } = await hub.addNode('group-crash');
      const node = Node.start(join, ws, state);
      const mirror = hub.mirror(id);
      try {
        const paused = await pausedAt(marker);
        expect(paused.point).toBe(point);
        expect(paused.files.length).toBeGreaterThanOrEqual(GROUP_MIN_FILES);
        // The kill lands where it should: the batch is not in the mirror yet, or wholly is.
        for (const rel of paused.files) {
          const there = fs.existsSync(path.join(mirror, rel));
          expect(there, `${rel} in the mirror at ${point}`).toBe(point === 'after-renames');
        }
        await hub.kill();
        onlyWhole(mirror, versions, 'mirror after the kill');

        hub = await Hub.start(data, { grpc });
        await hub.waitState(id, 'in-sync', 120_000);
        await waitFor('mirror identical to the workspace', () => diffTrees(snapshot(ws), snapshot(mirror)).length === 0, 60_000, 100);
        // Nothing lost or changed on the node's side: exactly the files it wrote, as it wrote them.
        expect(onlyWhole(ws, versions, 'workspace').sort()).toEqual([...versions.keys()].sort());
        expect(onlyWhole(mirror, versions, 'mirror').length).toBe(FILES);
        expect(hub.logLines().filter((l) => l.msg === 'sync.conflict')).toEqual([]);
        expect(fs.readdirSync(path.join(data, 'staging', id)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
      } finally {
        await node.kill();
        await hub.stop();
      }
    }, 300_000);

    it(`of the node, ${point}: no partial file in the workspace, the hub's changes converge`, async () => {
      const base = path.join(dir, `node-${point}`);
      const ws = path.join(base, 'ws');
      const data = path.join(base, 'hub');
      const state = path.join(base, 'node');
      const marker = path.join(base, 'paused.json');
      fs.mkdirSync(ws, { recursive: true });
      const hub = await Hub.start(data);
      const { id, join } = await hub.addNode('group-crash-node');
      const env = { CORTEX_TEST_PAUSE_AT: point, CORTEX_TEST_PAUSE_FILE: marker };
      let node = Node.start(join, ws, state, [], env);
      const mirror = hub.mirror(id);
      try {
        await hub.waitState(id, 'in-sync', 120_000);
        // A hub-side burst (an agent's output on the hub): written elsewhere, moved in with one rename.
        const scratch = path.join(base, 'scratch');
        fs.mkdirSync(scratch);
        const versions = writeTree(scratch, 'h');
        fs.renameSync(path.join(scratch, 'h'), path.join(mirror, 'h'));
        const paused = await pausedAt(marker);
        expect(paused.point).toBe(point);
        expect(paused.files.length).toBeGreaterThanOrEqual(GROUP_MIN_FILES);
        for (const rel of paused.files) expect(fs.existsSync(path.join(ws, rel)), `${rel} in the workspace at ${point}`).toBe(point === 'after-renames');
        await node.kill();
        onlyWhole(ws, versions, 'workspace after the kill');

        node = Node.start(join, ws, state);
        await waitFor('workspace identical to the mirror', () => diffTrees(snapshot(mirror), snapshot(ws)).length === 0, 120_000, 100);
        await hub.waitState(id, 'in-sync', 120_000);
        const n = await hub.node(id);
        expect(n.toNodeFiles).toBe(0);
        // The hub's side is untouched: exactly the files written there, as written.
        expect(onlyWhole(mirror, versions, 'mirror').sort()).toEqual([...versions.keys()].sort());
        expect(onlyWhole(ws, versions, 'workspace').length).toBe(FILES);
      } finally {
        await node.kill();
        await hub.stop();
      }
    }, 300_000);
  }
});
