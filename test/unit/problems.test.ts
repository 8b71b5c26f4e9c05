/**
 * Paths a side cannot send: names shown losslessly, reports replaced subtree by subtree (on
 * the node and in the hub's database), reports split into messages, and the scanner that
 * never drops a path it could not read (nor deletes what such a directory holds).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeReports, MAX_REPORTED, parseReport } from '../../main/hub/node-reports';
import { HubStore } from '../../main/store/hub-store';
import { FsPool } from '../../main/sync/fs-pool';
import { PathReports, escapeName, isValidUtf8, needsOperator, scannablePath, underAny } from '../../main/sync/problems';
import { scan } from '../../main/sync/scanner';
import type { CachedEntry } from '../../main/sync/types';
import { REPORT_MESSAGE_ITEMS, reportMessages } from '../../main/sync/wire';
import { cachedEntry, tempDirs } from '../helpers/entries';

const tmp = tempDirs('problems');

describe('names that are not valid UTF-8', () => {
  it.each<[string, number[], boolean]>([
    ['ASCII', [0x61, 0x2e, 0x74], true],
    ['two-byte', [0xc3, 0xa9], true],
    ['four-byte', [0xf0, 0x9f, 0x9a, 0x80], true],
    ['a lone continuation byte', [0x61, 0x80], false],
    ['Latin-1 é', [0x63, 0x61, 0x66, 0xe9], false],
    ['an overlong slash', [0xc0, 0xaf], false],
    ['a surrogate', [0xed, 0xa0, 0x80], false],
    ['a truncated sequence', [0xe2, 0x82], false],
    ['past U+10FFFF', [0xf4, 0x90, 0x80, 0x80], false],
  ])('%s', (_name, bytes, valid) => {
    expect(isValidUtf8(Buffer.from(bytes))).toBe(valid);
  });

  it('are shown losslessly: UTF-8 as text, other bytes and % itself as %XX', () => {
    expect(escapeName(Buffer.from('caf\xe9.txt', 'latin1'))).toBe('caf%E9.txt');
    expect(escapeName(Buffer.concat([Buffer.from('naïve-'), Buffer.from([0xff]), Buffer.from('%41')]))).toBe('naïve-%FF%2541');
    // Two different names never look the same.
    expect(escapeName(Buffer.from([0x25, 0x46, 0x46]))).not.toBe(escapeName(Buffer.from([0xff])));
  });

  it('a watcher event for one is scanned through its directory', () => {
    expect(scannablePath('a/b\uFFFD.txt')).toBe('a');
    expect(scannablePath('bad\uFFFD/inner.txt')).toBe('');
    expect(scannablePath('a/ok.txt')).toBe('a/ok.txt');
  });
});

describe('PathReports (the node\'s current list)', () => {
  it('a scan of a subtree replaces what was known at or under it, and says whether anything changed', () => {
    const r = new PathReports();
    expect(r.replace([''], [{ path: 'a/x', code: 'UNREADABLE', reason: 'r' }, { path: 'b', code: 'UNREADABLE', reason: 'r' }], [{ path: 'a/p', kind: 'fifo' }])).toBe(true);
    expect(r.replace(['a'], [{ path: 'a/x', code: 'UNREADABLE', reason: 'r' }], [{ path: 'a/p', kind: 'fifo' }])).toBe(false);
    expect(r.replace(['a'], [], [])).toBe(true);
    expect([...r.problems.keys()]).toEqual(['b']);
    expect(r.ignored.size).toBe(0);
    // "ab" is not under "a".
    r.replace([''], [{ path: 'ab', code: 'BAD_NAME', reason: 'r' }], []);
    expect(r.replace(['a'], [], [])).toBe(false);
    expect(r.under(['ab']).problems.map((p) => p.path)).toEqual(['ab']);
  });

  it('underAny finds a path at or below a problem directory', () => {
    const roots = new Set(['closed', 'x/y']);
    expect(underAny(roots, 'closed')).toBe(true);
    expect(underAny(roots, 'closed/a/b')).toBe(true);
    expect(underAny(roots, 'closedness')).toBe(false);
    expect(underAny(roots, 'x/y/z')).toBe(true);
    expect(underAny(roots, 'x')).toBe(false);
    expect(underAny(new Set(['']), 'anything')).toBe(true);
  });

  it('only a transient problem leaves a node out of error', () => {
    expect(needsOperator('CHANGING')).toBe(false);
    for (const c of ['UNREADABLE', 'BAD_NAME', 'TOO_LONG', 'IO_ERROR', 'NODE_DISK_FULL']) expect(needsOperator(c)).toBe(true);
  });
});

describe('report messages', () => {
  it('always at least one (an empty report clears), the first clears and the rest only add', () => {
    expect(reportMessages(['a'], [], [])).toEqual([{ clear: ['a'], problems: [], ignored: [] }]);
    const many = Array.from({ length: REPORT_MESSAGE_ITEMS * 2 + 5 }, (_, i) => ({ path: `p${i}`, code: 'UNREADABLE', reason: 'r' }));
    const msgs = reportMessages([''], many, [{ path: 'fifo', kind: 'fifo' }]);
    expect(msgs.length).toBe(3);
    expect(msgs.map((m) => m.clear)).toEqual([[''], [], []]);
    expect(msgs.flatMap((m) => m.problems)).toEqual(many);
    expect(msgs.flatMap((m) => m.ignored)).toEqual([{ path: 'fifo', kind: 'fifo' }]);
  });

  it('stay under the byte limit with long paths', () => {
    const long = Array.from({ length: 600 }, (_, i) => ({ path: `${'d/'.repeat(2000)}${i}`, code: 'TOO_LONG', reason: 'x' }));
    const msgs = reportMessages([], long, []);
    expect(msgs.length).toBeGreaterThan(2);
    for (const m of msgs) expect(JSON.stringify(m).length).toBeLessThan(1.2 * 1024 * 1024);
  });
});

describe('NodeReports in the hub database', () => {
  const open = () => {
    const file = path.join(tmp(), 'hub.db');
    const hub = new HubStore(file);
    hub.addNode('n', 'n', 'x');
    hub.addNode('m', 'm', 'x');
    return { hub, file, reports: new NodeReports(hub.reports) };
  };

  it('replaces what a node reported at or under each cleared subtree; counts what blocks in-sync', () => {
    const { hub, reports } = open();
    expect(reports.apply('n', { clear: [''], problems: [{ path: 'a/x', code: 'UNREADABLE', reason: 'denied' }, { path: 'ab', code: 'CHANGING', reason: 'busy' }, { path: '', code: 'NODE_DISK_FULL', reason: 'full' }], ignored: [{ path: 'a/p', kind: 'fifo' }, { path: 's', kind: 'weird' }] }, 1000)).toBeNull();
    expect(reports.counts('n')).toEqual({ problems: 3, blocking: 2, ignored: 2 });
    expect(reports.counts('m')).toEqual({ problems: 0, blocking: 0, ignored: 0 });
    expect(reports.problems('n', 10)).toEqual([
      { path: '', direction: 'to-hub', code: 'NODE_DISK_FULL', reason: 'full', at: 1000 },
      { path: 'a/x', direction: 'to-hub', code: 'UNREADABLE', reason: 'denied', at: 1000 },
      { path: 'ab', direction: 'to-hub', code: 'CHANGING', reason: 'busy', at: 1000 },
    ]);
    expect(reports.ignored('n', 10)).toEqual([{ path: 'a/p', kind: 'fifo' }, { path: 's', kind: 'other' }]);
    // Subtree "a" scanned again: its problem is gone, "ab" and the node's own stay; one still there keeps its first time.
    expect(reports.apply('n', { clear: ['a'], problems: [], ignored: [] }, 2000)).toBeNull();
    expect(reports.problems('n', 10).map((p) => p.path)).toEqual(['', 'ab']);
    expect(reports.ignored('n', 10)).toEqual([{ path: 's', kind: 'other' }]);
    expect(reports.apply('n', { clear: ['ab'], problems: [{ path: 'ab', code: 'CHANGING', reason: 'busy' }], ignored: [] }, 3000)).toBeNull();
    expect(reports.problems('n', 10).find((p) => p.path === 'ab')!.at).toBe(1000);
    // A message without clear only adds (the rest of a long report).
    reports.apply('n', { clear: [], problems: [{ path: 'z', code: 'UNREADABLE', reason: 'r' }], ignored: [] }, 4000);
    expect(reports.counts('n')).toEqual({ problems: 3, blocking: 2, ignored: 1 });
    expect(reports.problems('n', 2).length).toBe(2);
    // A full report replaces everything, the node's own problems too.
    reports.apply('n', { clear: [''], problems: [], ignored: [] }, 5000);
    expect(reports.counts('n')).toEqual({ problems: 0, blocking: 0, ignored: 0 });
    hub.close();
  });

  it('keeps two problems of one path (the workspace root unreadable and the node\'s disk full are both "")', () => {
    const { hub, reports } = open();
    reports.apply('n', { clear: [''], problems: [{ path: '', code: 'UNREADABLE', reason: 'root' }, { path: '', code: 'NODE_DISK_FULL', reason: 'full' }], ignored: [] });
    expect(reports.problems('n', 10).map((p) => p.code)).toEqual(['NODE_DISK_FULL', 'UNREADABLE']);
    expect(reports.counts('n').problems).toBe(2);
    hub.close();
  });

  it('survives reopening the database', () => {
    const { hub, file, reports } = open();
    reports.apply('n', { clear: [''], problems: [{ path: 'a', code: 'UNREADABLE', reason: 'r' }], ignored: [] });
    hub.close();
    const again = new HubStore(file);
    expect(new NodeReports(again.reports).counts('n')).toEqual({ problems: 1, blocking: 1, ignored: 0 });
    again.close();
  });

  it.each<[string, unknown, RegExp]>([
    ['a bad code', { clear: [], problems: [{ path: 'a', code: 'lower case', reason: '' }], ignored: [] }, /invalid problem code/],
    ['a NUL in a path', { clear: [], problems: [{ path: 'a\0b', code: 'X', reason: '' }], ignored: [] }, /invalid path/],
    ['a huge clear path', { clear: ['x'.repeat(5000)], problems: [], ignored: [] }, /clears an invalid path/],
    ['no lists', { clear: 'x' }, /malformed/],
    ['too many subtrees', { clear: Array.from({ length: 10_001 }, (_, i) => `d${i}`), problems: [], ignored: [] }, /too long/],
  ])('refuses a report with %s', (_n, m, re) => {
    expect(parseReport(m as never)).toMatch(re);
  });

  it(`keeps at most ${MAX_REPORTED} per node`, () => {
    const { hub, reports } = open();
    for (let i = 0; i < MAX_REPORTED; i += 10_000) {
      const part = Array.from({ length: 10_000 }, (_, j) => ({ path: `p${i + j}`, code: 'UNREADABLE', reason: '' }));
      expect(reports.apply('n', { clear: i === 0 ? [''] : [], problems: part, ignored: [] })).toBeNull();
    }
    expect(reports.apply('n', { clear: [], problems: [{ path: 'one-more', code: 'UNREADABLE', reason: '' }], ignored: [] })).toMatch(/more than/);
    expect(reports.counts('n').problems).toBe(MAX_REPORTED);
    hub.close();
  });
});

describe('scan with paths it cannot read (run as root: modes do not stop root, so only names and special files here)', () => {
  const pool = new FsPool(1);
  afterAll(() => pool.close());

  const entry = (p: string, type: CachedEntry['type'] = 'file'): CachedEntry => cachedEntry(p, { type, size: 1, mtimeMs: 1, ino: 1, hash: Buffer.alloc(32), blocks: Buffer.alloc(32) });

  it('lists bad names and special files, mirrors a backslash name, and deletes nothing under a problem', async () => {
    const root = tmp();
    fs.writeFileSync(path.join(root, 'back\\slash.txt'), 'x');
    fs.writeFileSync(path.join(root, '..hidden'), 'x');
    fs.mkdirSync(Buffer.from(`${root}/bad\xfe`, 'latin1'));
    fs.writeFileSync(Buffer.from(`${root}/bad\xfe/inner`, 'latin1'), 'x');
    execFileSync('mkfifo', [path.join(root, 'pipe')]);
    fs.symlinkSync('/etc/passwd', path.join(root, 'outside-link'));
    // What the cache knew: a file that became the FIFO, one that is gone, and one under the
    // problem's path (a problem keeps what is at and under it: an unreadable directory is not
    // a deletion; the integration test shows it with a real unreadable directory).
    const cache = new Map<string, CachedEntry>([['pipe', entry('pipe')], ['gone.txt', entry('gone.txt')], ['bad%FE/kept', entry('bad%FE/kept')]]);
    const res = await scan({ root, pool, cached: (p) => cache.get(p), knownUnder: () => cache.keys() });
    expect(res.updated.map((e) => e.path).sort()).toEqual(['..hidden', 'back\\slash.txt']);
    expect(res.problems).toEqual([{ path: 'bad%FE', code: 'BAD_NAME', reason: 'name is not valid UTF-8 (shown with its bytes escaped as %XX); rename it to sync it and what it holds' }]);
    expect(res.ignored.map((i) => [i.path, i.kind]).sort()).toEqual([['outside-link', 'other'], ['pipe', 'fifo']]);
    expect(res.deleted.sort()).toEqual(['gone.txt', 'pipe']);
  });
});
