/**
 * Weak hashes in both stores (protocol 3): kept with each file version, and a database from
 * before them opens with none, so its versions are sent without and nobody searches (never a
 * wrong block); the hash worker gives files over WEAK_MIN_SIZE their weak hashes.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { BLOCK_SIZE, WEAK_LEN, WEAK_MIN_SIZE, blockWeak } from '../../main/sync/blocks';
import { FsPool } from '../../main/sync/fs-pool';
import { HubStore } from '../../main/store/hub-store';
import { NodeStore } from '../../main/store/node-store';
import { cachedEntry, tempDirs } from '../helpers/entries';
import { rewindHubSchema } from '../helpers/hub-schema';

const tmp = tempDirs('weak-store');
const weak = Buffer.from('0102030405060708', 'hex');

describe('weak hashes in the stores', () => {
  it('the node store keeps them, and a database from before them opens with none', () => {
    const f = path.join(tmp(), 'node.db');
    const s = new NodeStore(f);
    s.record([cachedEntry('w', { weak }), cachedEntry('none')]);
    expect(s.get('w')!.weak).toEqual(weak);
    expect(s.since(0, 10).find((e) => e.path === 'w')!.weak).toEqual(weak);
    expect(s.get('none')!.weak).toBeUndefined();
    s.close();
    const db = new Database(f);
    db.exec('ALTER TABLE files DROP COLUMN weak; PRAGMA user_version = 3');
    db.close();
    const again = new NodeStore(f);
    expect(again.get('w')).toMatchObject({ path: 'w', size: 3 });
    expect(again.get('w')!.weak).toBeUndefined();
    again.close();
  });

  it('the hub\'s mirror index keeps them, and a database from before them opens with none', () => {
    const f = path.join(tmp(), 'hub.db');
    const s = new HubStore(f);
    s.addNode('n', 'n', 'x');
    s.index.putFiles('n', [cachedEntry('w', { weak })]);
    expect(s.index.file('n', 'w')!.weak).toEqual(weak);
    s.close();
    const db = new Database(f);
    rewindHubSchema(db, 7); // schema 7: what the hub left before weak hashes (migration 8)
    db.close();
    const again = new HubStore(f);
    expect(again.index.file('n', 'w')).toMatchObject({ path: 'w', size: 3 });
    expect(again.index.file('n', 'w')!.weak).toBeUndefined();
    again.close();
  });

  it('a failure kept for retry keeps its entry\'s weak hashes', () => {
    const f = path.join(tmp(), 'hub.db');
    const s = new HubStore(f);
    s.addNode('n', 'n', 'x');
    const entry = cachedEntry('w', { weak });
    s.failures.record('n', [{ direction: 'to-hub', path: 'w', code: 'EIO', reason: 'io', firstAt: 1, at: 1, attempts: 1, retryAt: 5, entry }], []);
    expect(s.failures.list('n')[0]!.entry!.weak).toEqual(weak);
    s.close();
  });
});

describe('the hash worker', () => {
  it('gives a file over WEAK_MIN_SIZE a weak hash per block, and smaller files none', async () => {
    const dir = tmp();
    const big = Buffer.alloc(WEAK_MIN_SIZE + BLOCK_SIZE + 5);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
    fs.writeFileSync(path.join(dir, 'big'), big);
    fs.writeFileSync(path.join(dir, 'small'), big.subarray(0, WEAK_MIN_SIZE));
    const pool = new FsPool(1);
    try {
      const h = await pool.hash(path.join(dir, 'big'), BLOCK_SIZE);
      const s = await pool.hash(path.join(dir, 'small'), BLOCK_SIZE);
      if (h.changed || s.changed) throw new Error('changed while hashing');
      const n = Math.ceil(big.length / BLOCK_SIZE);
      expect(h.weak.length).toBe(n * WEAK_LEN);
      for (let i = 0; i < n; i++) expect(h.weak.readUInt32BE(i * WEAK_LEN)).toBe(blockWeak(big, i * BLOCK_SIZE, Math.min(BLOCK_SIZE, big.length - i * BLOCK_SIZE)));
      expect(s.weak.length).toBe(0);
    } finally {
      await pool.close();
    }
  });
});
