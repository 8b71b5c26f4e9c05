/**
 * Two-way crash safety: both sides keep writing (some paths on both sides at once) while the
 * hub, the node or both are SIGKILLed at random moments. After every kill no file on either
 * side is partial (each is a whole version someone wrote), both databases pass
 * integrity_check, and once the kills stop both trees converge, with no staging leftovers.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Hub, Node, diffTrees, integrity, rng, snapshot, tempDir, waitFor } from '../helpers/procs';

const ROUNDS = Number(process.env.CORTEX_CRASH_ROUNDS ?? 6);
const SMALL = 60;
const BIG_SIZE = 8 * 1024 * 1024;


describe('two-way crash safety under SIGKILL', () => {
  const dir = tempDir('two-way-crash');
  afterAll(() => {
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`${ROUNDS} random SIGKILLs during traffic both ways leave no partial file and converge`, async () => {
    const ws = path.join(dir, 'ws');
    const data = path.join(dir, 'hub');
    const state = path.join(dir, 'node');
    const scratch = path.join(dir, 'scratch');
    fs.mkdirSync(ws);
    fs.mkdirSync(scratch);
    const rand = rng(7);
    /** Digest of every whole version either side ever wrote. */
    const written = new Set<string>();
    /** The versions of each path written in the last round that wrote it: what must survive. */
    const lastWrites = new Map<string, { round: number; digests: Set<string> }>();
    const put = (root: string, rel: string, buf: Buffer, round: number) => {
      const tmp = path.join(scratch, crypto.randomBytes(6).toString('hex'));
      fs.writeFileSync(tmp, buf);
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.renameSync(tmp, path.join(root, rel));
      const digest = crypto.createHash('sha256').update(buf).digest('hex');
      written.add(digest);
      const last = lastWrites.get(rel);
      if (last?.round === round) last.digests.add(digest);
      else lastWrites.set(rel, { round, digests: new Set([digest]) });
    };
    const big = (tag: string) => {
      const seed = crypto.createHash('sha256').update(tag).digest();
      const buf = Buffer.alloc(BIG_SIZE);
      for (let off = 0; off < BIG_SIZE; off += 32) seed.copy(buf, off);
      return buf;
    };
    /** One round of writes on one side; paths shared between the sides make conflicts. */
    const writeSide = (side: 'node' | 'hub', root: string, round: number) => {
      for (let i = 0; i < SMALL; i++) {
        if (round > 0 && rand() < 0.6) continue;
        const shared = i % 5 === 0;
        put(root, shared ? `shared/s${i}.txt` : `${side}/d${i % 7}/f${i}.txt`, Buffer.from(`${side} round ${round} file ${i} `.repeat(1 + (i % 40))), round);
      }
      put(root, `${side}/big.bin`, big(`${side} ${round}`), round);
    };
    const checkWhole = (root: string, label: string) => {
      if (!fs.existsSync(root)) return;
      for (const [rel, item] of snapshot(root)) {
        if (item.type !== 'file' || rel === '.metadata.json') continue;
        expect(written.has(item.digest), `partial or unknown file on the ${label}: ${rel}`).toBe(true);
      }
    };

    writeSide('node', ws, 0);
    let hub = await Hub.start(data);
    const grpc = hub.info.grpc;
    const { id, join } = await hub.addNode('crashy-both-ways');
    let node = Node.start(join, ws, state);
    const mirror = hub.mirror(id);
    await hub.waitState(id, 'in-sync', 120_000);
    writeSide('hub', mirror, 0);

    const kinds: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      writeSide('node', ws, round);
      writeSide('hub', mirror, round);
      await new Promise((r) => setTimeout(r, 20 + Math.floor(rand() * 600)));
      const kind = (['hub', 'node', 'both'] as const)[round % 3]!;
      kinds.push(kind);
      if (kind !== 'node') await hub.kill();
      if (kind !== 'hub') await node.kill();
      checkWhole(ws, 'node');
      checkWhole(mirror, 'hub');
      if (kind !== 'node') expect(integrity(path.join(data, 'hub.db'))).toBe('ok');
      if (kind !== 'hub') expect(integrity(path.join(state, 'node.db'))).toBe('ok');
      if (kind !== 'node') hub = await Hub.start(data, { grpc });
      if (kind !== 'hub') node = Node.start(join, ws, state);
    }

    const same = () => diffTrees(snapshot(ws), snapshot(mirror), (p) => p === '.metadata.json');
    try {
      await waitFor('both trees identical and in sync', async () => same().length === 0 && (await hub.node(id)).state === 'in-sync', 180_000, 250);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${JSON.stringify(same().slice(0, 10))}\n${JSON.stringify(await hub.node(id))}`);
    }
    checkWhole(ws, 'node');
    checkWhole(mirror, 'hub');
    // The final writes survived. A path only one side writes holds its last version; of a
    // shared path, a version from the last round that wrote it is at the path or in one of its
    // conflict copies (both sides wrote it: one version may legitimately supersede the other).
    const final = snapshot(ws);
    const lost: string[] = [];
    for (const [rel, { round, digests }] of lastWrites) {
      const kept = [final.get(rel)?.digest];
      if (rel.startsWith('shared/')) {
        const stem = path.basename(rel, path.extname(rel));
        for (const [p, item] of final) if (path.dirname(p) === path.dirname(rel) && path.basename(p).startsWith(`${stem}.sync-conflict-`)) kept.push(item.digest);
      }
      if (!kept.some((d) => d !== undefined && digests.has(d))) lost.push(`${rel} (written last in round ${round})`);
    }
    expect(lost, `final writes lost: ${lost.join('; ')}`).toEqual([]);
    expect(fs.readdirSync(path.join(data, 'staging', id)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(fs.readdirSync(path.join(state, 'staging')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(kinds).toContain('both');
    await node.kill();
    await hub.stop();
    expect(integrity(path.join(data, 'hub.db'))).toBe('ok');
    expect(integrity(path.join(state, 'node.db'))).toBe('ok');
  }, 600_000);
});
