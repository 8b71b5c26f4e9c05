/**
 * The node's scans on a real workspace, database and worker pool, without a hub: a scan of a
 * big tree records what it finds in batches while it hashes (it holds one batch, not every new
 * entry), each entry after its parent; a directory replaced by a file still has its old
 * children's deletions recorded before the file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ReportSender } from '../../main/node/report-sender';
import { DiskRetry, ProblemRetry } from '../../main/node/retries';
import { WorkspaceScans } from '../../main/node/workspace-scans';
import { NodeStore } from '../../main/store/node-store';
import { FsPool } from '../../main/sync/fs-pool';
import { HANDOVER_ENTRIES, HASH_IN_FLIGHT } from '../../main/sync/scanner';
import type { CachedEntry } from '../../main/sync/types';
import { createLogger } from '../../main/util/log';

const log = createLogger('node', { consoleLevel: false });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-scans-'));
  const ws = path.join(dir, 'ws');
  fs.mkdirSync(ws);
  const store = new NodeStore(path.join(dir, 'node.db'));
  const pool = new FsPool(2);
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }), () => store.close(), () => pool.close());
  /** Sizes of the batches recorded, in order. */
  const batches: number[] = [];
  const record = store.record.bind(store);
  store.record = (changes: CachedEntry[]) => { batches.push(changes.length); return record(changes); };
  const reports = new ReportSender({ log, connected: () => false, write: async () => undefined, nodeProblem: () => null });
  let scans!: WorkspaceScans;
  const disk = new DiskRetry({
    stateDir: dir, log, probe: () => undefined, rescan: (s) => scans.rescan(s), serial: (fn, onError) => scans.serial(fn, onError),
    reportChanged: () => undefined, sendReports: async () => undefined, stopped: () => false,
  });
  const problemRetry = new ProblemRetry({ found: reports.found, rescan: (s) => scans.rescan(s), stopped: () => true });
  scans = new WorkspaceScans({
    workspace: ws, store, pool, log, ignore: () => false, caseInsensitive: false, reports, problemRetry, disk,
    sendPending: async () => undefined, sending: () => false, stopped: () => false,
  });
  return { ws, store, pool, scans, batches };
}

describe('WorkspaceScans', () => {
  it('records a big scan in batches while it hashes, every entry after its parent', async () => {
    const t = setup();
    const files = 2 * HANDOVER_ENTRIES + 500;
    for (let i = 0; i < files; i++) {
      const d = path.join(t.ws, `d${i % 7}`, `e${i % 3}`);
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, `f${i}.txt`), `file ${i}`);
    }
    await t.scans.rescan(['']);
    // One batch of every entry before: now none holds more than a batch of hashed files.
    expect(t.batches.length).toBeGreaterThan(2);
    expect(Math.max(...t.batches)).toBeLessThanOrEqual(HANDOVER_ENTRIES);
    const all = t.store.all();
    expect([...all.values()].filter((e) => e.type === 'file' && !e.deleted)).toHaveLength(files);
    for (const e of all.values()) {
      const parent = e.path.includes('/') ? e.path.slice(0, e.path.lastIndexOf('/')) : null;
      if (parent) expect(all.get(parent)!.seq, e.path).toBeLessThan(e.seq);
    }
    // A second scan finds nothing new.
    const before = t.store.lastSeq;
    await t.scans.rescan(['']);
    expect(t.store.lastSeq).toBe(before);
  });

  it('sends the pool a bounded number of hash batches at a time, not every batch of the scan at once', async () => {
    const t = setup();
    // 256 small files per batch (scanner.ts BATCH_FILES): three times as many batches as may be in flight.
    const files = 256 * HASH_IN_FLIGHT * 3;
    for (let i = 0; i < files; i++) {
      const d = path.join(t.ws, `d${i % 13}`);
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, `f${i}`), `${i}`);
    }
    let now = 0;
    let most = 0;
    let calls = 0;
    const hashMany = t.pool.hashMany.bind(t.pool);
    t.pool.hashMany = async (...args: Parameters<typeof hashMany>) => {
      calls++;
      most = Math.max(most, ++now);
      try { return await hashMany(...args); } finally { now--; }
    };
    await t.scans.rescan(['']);
    expect(calls).toBeGreaterThanOrEqual(HASH_IN_FLIGHT * 3);
    expect(most).toBeLessThanOrEqual(HASH_IN_FLIGHT);
    expect([...t.store.all().values()].filter((e) => e.type === 'file')).toHaveLength(files);
  });

  it('records the deletions under a directory replaced by a file before the file', async () => {
    const t = setup();
    fs.mkdirSync(path.join(t.ws, 'x'));
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(t.ws, 'x', `c${i}`), `child ${i}`);
    fs.writeFileSync(path.join(t.ws, 'other'), 'other');
    await t.scans.rescan(['']);
    fs.rmSync(path.join(t.ws, 'x'), { recursive: true });
    fs.writeFileSync(path.join(t.ws, 'x'), 'now a file');
    fs.writeFileSync(path.join(t.ws, 'new'), 'new');
    await t.scans.rescan(['']);
    const all = t.store.all();
    const x = all.get('x')!;
    expect(x.type).toBe('file');
    for (let i = 0; i < 5; i++) {
      const c = all.get(`x/c${i}`)!;
      expect(c.deleted).toBe(true);
      expect(c.seq).toBeLessThan(x.seq);
    }
    expect(all.get('new')?.deleted).toBe(false);
  });

  it('does not walk a file that shows what is recorded for it (the echo of a write), and scans one that does not', async () => {
    const t = setup();
    fs.mkdirSync(path.join(t.ws, 'd'));
    for (const n of ['same', 'edited', 'gone']) fs.writeFileSync(path.join(t.ws, 'd', n), `${n} v1`);
    await t.scans.rescan(['']);
    let walks = 0;
    const walk = t.pool.walk.bind(t.pool);
    t.pool.walk = (...args: Parameters<typeof walk>) => { walks++; return walk(...args); };
    const before = t.store.lastSeq;
    await t.scans.rescan(['d/same']);
    expect(walks).toBe(0);
    expect(t.store.lastSeq).toBe(before);
    fs.writeFileSync(path.join(t.ws, 'd', 'edited'), 'edited, version 2');
    fs.rmSync(path.join(t.ws, 'd', 'gone'));
    fs.writeFileSync(path.join(t.ws, 'd', 'new'), 'new');
    await t.scans.rescan(['d/same', 'd/edited', 'd/gone', 'd/new']);
    expect(walks).toBe(3);
    const all = t.store.all();
    expect(all.get('d/same')!.seq).toBeLessThanOrEqual(before);
    expect(all.get('d/edited')!.size).toBe('edited, version 2'.length);
    expect(all.get('d/gone')!.deleted).toBe(true);
    expect(all.get('d/new')!.deleted).toBe(false);
  });
});
