/**
 * The mirror mode rule (sync/modes.ts), as a table: what a node's mode becomes on disk in a
 * mirror, which modes on disk are the hub's own writes, and what a real hub-side chmod sends to
 * the node. Plus the applier's side of it on real files: stripped on disk, real mode recorded.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyDir, applyMeta, pullFile, type ApplyContext } from '../../main/sync/apply';
import { BLOCK_SIZE } from '../../main/sync/blocks';
import { FsPool } from '../../main/sync/fs-pool';
import { hubSideMode, mirrorMode, writtenAs } from '../../main/sync/modes';
import type { Entry } from '../../main/sync/types';
import { entryOf } from '../helpers/entries';

const o = (n: number) => n.toString(8).padStart(4, '0');

describe('mirrorMode', () => {
  it.each([
    // node mode, private, exact
    [0o666, 0o664, 0o666],
    [0o777, 0o775, 0o777],
    [0o1777, 0o775, 0o777], // sticky: never set in a mirror
    [0o4755, 0o755, 0o755], // setuid
    [0o2775, 0o775, 0o775], // setgid
    [0o644, 0o644, 0o644],
    [0o600, 0o600, 0o600],
    [0o602, 0o600, 0o602],
    [0o000, 0o000, 0o000],
  ])('%o → private %o, exact %o', (node, priv, exact) => {
    expect(o(mirrorMode(node, 'private'))).toBe(o(priv));
    expect(o(mirrorMode(node, 'exact'))).toBe(o(exact));
  });
});

describe('writtenAs', () => {
  it.each([
    // disk, index, the hub's own write?
    [0o664, 0o666, true], // private
    [0o666, 0o666, true], // exact (or written before the setting changed)
    [0o775, 0o777, true],
    [0o644, 0o644, true],
    [0o644, 0o666, false], // group-write removed on the hub
    [0o646, 0o644, false], // world-write added on the hub
    [0o600, 0o664, false],
    [0o664, 0o664, true],
  ])('disk %o for index %o: %s', (disk, index, own) => {
    expect(writtenAs(disk, index)).toBe(own);
  });
});

describe('hubSideMode (what a hub-side chmod sends to the node)', () => {
  it.each([
    // disk, index (undefined: new), setting, new index mode
    [0o664, 0o666, 'private', 0o666], // the hub's own write: the node's mode stays
    [0o666, 0o666, 'private', 0o666],
    [0o775, 0o777, 'exact', 0o777], // written under private, setting now exact: still no change
    [0o644, 0o666, 'private', 0o646], // g-w on the hub flows; the node's hidden o+w stays
    [0o600, 0o666, 'private', 0o602],
    [0o744, 0o666, 'private', 0o746], // u+x and g-w flow, o+w stays
    [0o644, 0o666, 'exact', 0o644], // under exact what the hub shows is what flows
    [0o646, 0o644, 'private', 0o646], // o+w added on the hub flows (the operator's own choice)
    [0o640, 0o644, 'private', 0o640],
    [0o664, undefined, 'private', 0o664], // new on the hub: as it is
    [0o666, undefined, 'private', 0o666],
  ] as const)('disk %o, index %o, %s → %o', (disk, index, setting, want) => {
    const got = hubSideMode(disk, index, setting);
    expect(o(got)).toBe(o(want));
    // What the hub shows is then, again, as the hub writes the new mode (no second change).
    if (index !== undefined) expect(writtenAs(disk, got)).toBe(true);
  });

  it('for every index and disk mode: the disk mode is the new mode as written, and only changed bits move', () => {
    for (let m = 0; m <= 0o777; m += 0o7) {
      for (let d = 0; d <= 0o777; d += 0o5) {
        for (const setting of ['private', 'exact'] as const) {
          const n = hubSideMode(d, m, setting);
          expect(writtenAs(d, n), `${o(d)} ${o(m)} ${setting}`).toBe(true);
          if (writtenAs(d, m)) expect(n).toBe(m);
          const changed = mirrorMode(m, setting) ^ d;
          expect(n & ~changed, `${o(d)} ${o(m)} ${setting}`).toBe(m & ~changed);
        }
      }
    }
  });
});

describe('applying into a mirror (ApplyContext.diskMode)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  const ctx = (pool?: FsPool): ApplyContext => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-modes-'));
    dirs.push(base);
    fs.mkdirSync(path.join(base, 'mirror'));
    return { root: path.join(base, 'mirror'), stagingDir: path.join(base, 'staging'), diskMode: (m) => mirrorMode(m, 'private'), ...(pool ? { pool } : {}) };
  };
  const fileEntry = (p: string, data: Buffer, mode: number): Entry => entryOf(p, data, { mode });
  const source = (data: Buffer) => ({ findLocal: () => [], fetch: async (off: number, size: number) => data.subarray(off, off + size) });
  const diskMode = (c: ApplyContext, p: string) => fs.statSync(path.join(c.root, p)).mode & 0o7777;

  it('a 0666 file (streamed, and small through a worker) and a 1777 directory: stripped on disk, the real mode recorded', async () => {
    const pool = new FsPool(1);
    try {
      for (const c of [ctx(), ctx(pool)]) {
        const big = crypto.randomBytes(2 * BLOCK_SIZE + 5);
        const small = Buffer.from('small\n');
        const a = await pullFile(c, fileEntry('open/big.bin', big, 0o666), source(big));
        const b = await pullFile(c, fileEntry('open/small.txt', small, 0o666), source(small));
        const d = await applyDir(c, { ...fileEntry('tmp', Buffer.alloc(0), 0o1777), type: 'dir', size: 0 });
        expect([diskMode(c, 'open/big.bin'), diskMode(c, 'open/small.txt'), diskMode(c, 'tmp')].map(o)).toEqual(['0664', '0664', '0775']);
        expect([a.mode, b.mode, d.mode].map(o)).toEqual(['0666', '0666', '0777']);
        // A mode change from the node (same bytes) goes through the same rule.
        const m = await applyMeta(c, { ...fileEntry('open/small.txt', small, 0o646) });
        expect(o(diskMode(c, 'open/small.txt'))).toBe('0644');
        expect(o(m.mode)).toBe('0646');
      }
    } finally {
      await pool.close();
    }
  });

  it('without diskMode (a node workspace) the mode is applied and recorded exactly', async () => {
    const c = ctx();
    delete c.diskMode;
    const data = Buffer.from('x');
    const a = await pullFile(c, fileEntry('f', data, 0o666), source(data));
    const d = await applyDir(c, { ...fileEntry('d', Buffer.alloc(0), 0o777), type: 'dir', size: 0 });
    // Under the test's umask nothing is stripped: fchmod sets the bits exactly.
    expect([diskMode(c, 'f'), diskMode(c, 'd'), a.mode, d.mode].map(o)).toEqual(['0666', '0777', '0666', '0777']);
  });
});
