/** The purge's decisions (which plans may run, what is still an orphan, mount points) as plain functions. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mountIn, mountPointsUnder, noLongerOrphan, planRefusal } from '../../main/hub/purge';
import type { PurgePlanRecord } from '../../main/store/hub-store';

describe('purge decisions', () => {
  const plan = (p: Partial<PurgePlanRecord>): PurgePlanRecord => ({ id: 'pp-1', createdAt: 1000, expiresAt: 2000, runAt: null, targets: [], ...p });

  it('runs a plan once, before it expires; names what is wrong otherwise', () => {
    expect(planRefusal(plan({}), 'pp-1', 1999)).toBeNull();
    expect(planRefusal(undefined, 'pp-x', 1500)).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/^no purge plan pp-x: make one with a preview/) });
    expect(planRefusal(plan({}), 'pp-1', 2000)).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/^purge plan pp-1 expired at 1970-01-01T00:00:02.000Z/) });
    expect(planRefusal(plan({ runAt: 1500 }), 'pp-1', 1600)).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/^purge plan pp-1 was already run at/) });
  });

  it('a mirror is no orphan once its node is active or connected', () => {
    const nodes = [{ id: 'a', retiredAt: null }, { id: 'r', retiredAt: 5 }];
    expect(noLongerOrphan('a', nodes, new Set())).toBe('node a is active');
    expect(noLongerOrphan('r', nodes, new Set())).toBeNull();
    expect(noLongerOrphan('stray', nodes, new Set())).toBeNull();
    expect(noLongerOrphan('stray', nodes, new Set(['stray']))).toBe('node stray is connected again');
  });

  it('a mirror is or holds a mount point only by whole path components', () => {
    const mounts = ['/d/mirrors/m', '/d/mirrors/h/inner/deep'];
    expect(mountIn('/d/mirrors/m', mounts)).toBe('/d/mirrors/m');
    expect(mountIn('/d/mirrors/h', mounts)).toBe('/d/mirrors/h/inner/deep');
    expect(mountIn('/d/mirrors/mm', mounts)).toBeNull();
    expect(mountIn('/d/mirrors/h2', mounts)).toBeNull();
  });

  it('finds mount points below a root from mountinfo, names with spaces included', (ctx) => {
    if (process.platform !== 'linux') {
      process.stderr.write('\n[SKIPPED] mountinfo: Linux only\n\n');
      ctx.skip();
      return;
    }
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-mountinfo-'));
    const at = path.join(root, 'a mirror\twith tab');
    fs.mkdirSync(at);
    try {
      expect(mountPointsUnder(root)).toEqual([]);
      const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', at], { encoding: 'utf8' });
      if (r.status !== 0) {
        process.stderr.write(`\n[SKIPPED] mountinfo with a real mount: cannot mount (${(r.stderr || r.error?.message || '').trim()}); needs root\n\n`);
        ctx.skip();
        return;
      }
      try {
        expect(mountPointsUnder(root)).toEqual([fs.realpathSync(at)]);
      } finally {
        spawnSync('umount', [at]);
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
