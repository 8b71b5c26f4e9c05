/**
 * The serving process's safety net: an error that slipped past every handler (here injected
 * into a real `cortex-hub serve` by a preloaded script, test/helpers/inject-faults.cjs) is
 * logged at error level with its stack, and the hub keeps serving: it answers status, and a
 * node still syncs. The net itself is main/server/safety-net.ts (the desktop app installs the
 * same).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Hub, Node, ROOT, tempDir, waitFor } from '../helpers/procs';

const dir = tempDir('safety-net');
let hub: Hub | null = null;
let node: Node | null = null;

afterAll(async () => {
  await node?.stop();
  await hub?.kill();
  if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the safety net of cortex-hub serve', () => {
  it('logs an unhandled rejection and an uncaught exception with their stacks, and keeps serving', async () => {
    const data = path.join(dir, 'hub');
    const saved = { opts: process.env.NODE_OPTIONS, data: process.env.CORTEX_FAULT_DATA };
    process.env.NODE_OPTIONS = `${saved.opts ?? ''} --require ${path.join(ROOT, 'test', 'helpers', 'inject-faults.cjs')}`.trim();
    process.env.CORTEX_FAULT_DATA = data;
    try {
      hub = await Hub.start(data);
    } finally {
      if (saved.opts === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved.opts;
      if (saved.data === undefined) delete process.env.CORTEX_FAULT_DATA;
      else process.env.CORTEX_FAULT_DATA = saved.data;
    }
    const h = hub;
    const logged = await waitFor('both faults in the log', () => {
      if (h.p.proc.exitCode !== null || h.p.proc.signalCode !== null) throw new Error(`the hub stopped:\n${h.p.output().slice(-2000)}`);
      const lines = h.logLines().filter((l) => String(l.msg).startsWith('process.'));
      return lines.length >= 2 ? lines : null;
    }, 20_000);
    expect(logged).toEqual(expect.arrayContaining([
      expect.objectContaining({ level: 'error', msg: 'process.unhandled_rejection', error: 'injected rejection', stack: expect.stringContaining('inject-faults.cjs') }),
      expect.objectContaining({ level: 'error', msg: 'process.uncaught_exception', error: 'injected exception', stack: expect.stringContaining('inject-faults.cjs') }),
    ]));
    // Still serving: the API answers and a node syncs.
    const ws = path.join(dir, 'ws');
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, 'after-the-faults.txt'), 'still here\n');
    const { id, join } = await h.addNode('survivor');
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    await h.waitState(id, 'in-sync');
    expect(fs.readFileSync(path.join(h.mirror(id), 'after-the-faults.txt'), 'utf8')).toBe('still here\n');
    expect(h.p.proc.exitCode).toBeNull();
  });
});
