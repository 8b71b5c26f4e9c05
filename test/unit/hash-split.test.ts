/** A large file hashed in parts by several workers gives what one worker gives. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BLOCK_SIZE } from '../../main/sync/blocks';
import { FsPool } from '../../main/sync/fs-pool';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-hash-split-'));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

describe('hashing a large file in parts', () => {
  it('splits it over the workers and joins the same blocks, weak hashes, file hash and stamp', async () => {
    const file = path.join(base, 'big.bin');
    fs.writeFileSync(file, crypto.randomBytes(37 * BLOCK_SIZE + 999));
    const one = new FsPool(1);
    const split = new FsPool(3, { splitHashMin: 1024 * 1024 });
    try {
      const a = await one.hash(file, BLOCK_SIZE, fs.statSync(file).size);
      const b = await split.hash(file, BLOCK_SIZE, fs.statSync(file).size);
      expect(split.filesSplit).toBe(1);
      expect(b).toEqual(a);
      // A size hint that is out of date (the file grew after it was listed): still the whole file.
      fs.appendFileSync(file, crypto.randomBytes(5 * BLOCK_SIZE));
      const c = await one.hash(file, BLOCK_SIZE);
      const d = await split.hash(file, BLOCK_SIZE, 37 * BLOCK_SIZE + 999);
      expect(split.filesSplit).toBe(2);
      expect(d).toEqual(c);
      expect(split.bytesHashed).toBe(a.changed ? 0 : a.size + (c.changed ? 0 : c.size));
    } finally {
      await one.close();
      await split.close();
    }
  });
});
