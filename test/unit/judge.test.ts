/**
 * The hub's verdict on a node change (hub/judge.ts), table-driven like reconcile.test.ts: for
 * each (ancestor, node, mirror) case, the action, what the commit expects, the conflict copy,
 * whether the hub's version goes back, the agreements to record and the conflict to log. Also
 * free conflict names, the keep-aside verdict, and that nothing is read but the input. No I/O.
 */
import { describe, expect, it } from 'vitest';
import { freeConflictName, judge, keepAside, type JudgeInput, type Verdict } from '../../main/hub/judge';
import { conflictName, versionOf } from '../../main/sync/reconcile';
import type { CachedEntry, Entry } from '../../main/sync/types';

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);
const P = 'dir/f.txt';
const h = (c: string) => Buffer.alloc(32, c);

/** Versions by letter: X absent, A and B files (B newer), D a directory, L a symlink. */
function entry(kind: string, extra: Partial<Entry> = {}): Entry {
  const base: Entry = { path: P, type: 'file', size: 3, mtimeMs: 1000, mode: 0o644, hash: h('a'), blockSize: 131072, blocks: h('a'), target: '', deleted: false, seq: 7 };
  switch (kind) {
    case 'X': return { ...base, size: 0, hash: Buffer.alloc(0), blocks: Buffer.alloc(0), mtimeMs: 0, mode: 0, deleted: true, ...extra };
    case 'A': return { ...base, ...extra };
    case 'B': return { ...base, mtimeMs: 2000, hash: h('b'), blocks: h('b'), ...extra };
    case 'D': return { ...base, type: 'dir', size: 0, hash: Buffer.alloc(0), blocks: Buffer.alloc(0), mode: 0o755, mtimeMs: 1500, ...extra };
    case 'L': return { ...base, type: 'symlink', size: 0, hash: Buffer.alloc(0), blocks: Buffer.alloc(0), target: 'elsewhere', mtimeMs: 3000, ...extra };
    default: throw new Error(kind);
  }
}
const recorded = (kind: string): CachedEntry | undefined => (kind === 'X' ? undefined : { ...entry(kind), ino: 42 });
const stamp = (kind: string) => {
  const r = recorded(kind);
  return r ? { type: r.type, size: r.size, mtimeMs: r.mtimeMs, ino: 42 } : null;
};
const v = (kind: string) => versionOf(entry(kind));

function input(anc: string, node: string, hub: string, more: Partial<JudgeInput> & { extra?: Partial<Entry> } = {}): JudgeInput {
  return {
    entry: entry(node, more.extra),
    local: recorded(hub),
    ancestor: v(anc),
    now: NOW,
    taken: () => false,
    hubChangesUnder: () => 0,
    ...more,
  };
}

const nodeCopy = conflictName(P, 'node', new Date(NOW));
const hubCopy = conflictName(P, 'hub', new Date(NOW));

// Each row: a case, and the whole verdict written out by hand (not computed from the code).
const TABLE: [string, JudgeInput, Verdict][] = [
  ['same on both sides, as agreed: nothing', input('A', 'A', 'A'),
    { action: { kind: 'none' }, expected: null, sendBack: false, agreed: [] }],
  ['same on both sides, newly: the agreement is recorded', input('X', 'A', 'A'),
    { action: { kind: 'none' }, expected: null, sendBack: false, agreed: [[P, v('A')]] }],
  ['a new file from the node: pulled onto nothing', input('X', 'A', 'X'),
    { action: { kind: 'pull' }, expected: null, sendBack: false, agreed: [] }],
  ['a node edit of an agreed file: pulled over what the mirror shows', input('A', 'B', 'A'),
    { action: { kind: 'pull' }, expected: stamp('A'), sendBack: false, agreed: [] }],
  ['a node deletion of an agreed file: deleted', input('A', 'X', 'A'),
    { action: { kind: 'delete' }, expected: stamp('A'), sendBack: false, agreed: [] }],
  ['a node version older than the hub edit: ours goes back', input('A', 'A', 'B'),
    { action: { kind: 'none' }, expected: null, sendBack: true, agreed: [] }],
  ['the node applied our change (fromHubSeq): agreed first, then nothing to do', input('X', 'A', 'A', { extra: { fromHubSeq: 3 } }),
    { action: { kind: 'none' }, expected: null, sendBack: false, agreed: [[P, v('A')]] }],
  ['the node applied our change but the hub changed again: agreed, and ours goes back', input('X', 'A', 'B', { extra: { fromHubSeq: 3 } }),
    { action: { kind: 'none' }, expected: null, sendBack: true, agreed: [[P, v('A')]] }],
  ['both changed, the hub newer: the node copy is kept beside, the hub version stays', input('X', 'A', 'B'),
    { action: { kind: 'pull' }, expected: null, conflict: { loser: 'node', copyTo: nodeCopy }, sendBack: false, agreed: [], logged: { winner: 'hub', copy: nodeCopy } }],
  ['both changed, the node newer: ours steps aside, the node version takes its place', input('X', 'B', 'A'),
    { action: { kind: 'pull' }, expected: stamp('A'), conflict: { loser: 'hub', copyTo: hubCopy }, sendBack: false, agreed: [], logged: { winner: 'node', copy: hubCopy } }],
  ['a node symlink losing a conflict is kept as a symlink copy', input('X', 'L', 'D'),
    { action: { kind: 'symlink' }, expected: null, conflict: { loser: 'node', copyTo: nodeCopy }, sendBack: false, agreed: [], logged: { winner: 'hub', copy: nodeCopy } }],
  ['a mode-only conflict the node wins: applied, no copy', input('A', 'A', 'A', { extra: { mode: 0o600, mtimeMs: 3000 }, local: { ...recorded('A')!, mode: 0o640, mtimeMs: 2000 } }),
    { action: { kind: 'meta', mode: true, mtime: true }, expected: { type: 'file', size: 3, mtimeMs: 2000, ino: 42 }, sendBack: false, agreed: [], logged: { winner: 'node', copy: null } }],
  ['a mode-only conflict the hub wins: ours goes back, no copy', input('A', 'A', 'A', { extra: { mode: 0o600, mtimeMs: 2000 }, local: { ...recorded('A')!, mode: 0o640, mtimeMs: 3000 } }),
    { action: { kind: 'none' }, expected: null, sendBack: true, agreed: [], logged: { winner: 'hub', copy: null } }],
  ['the node deletes a directory the hub has changes in: the directory goes back', input('D', 'X', 'D', { hubChangesUnder: () => 2 }),
    { action: { kind: 'none' }, expected: null, sendBack: true, agreed: [], logged: { winner: 'hub', reason: 'changes on the hub inside a directory the node removed or replaced' } }],
  ['the node replaces such a directory by a file: the file is kept beside it', input('D', 'A', 'D', { hubChangesUnder: () => 1 }),
    { action: { kind: 'pull' }, expected: null, conflict: { loser: 'node', copyTo: nodeCopy }, sendBack: false, agreed: [], logged: { winner: 'hub', reason: 'changes on the hub inside a directory the node removed or replaced' } }],
  ['the node deletes a directory without hub changes in it: deleted', input('D', 'X', 'D'),
    { action: { kind: 'delete' }, expected: stamp('D'), sendBack: false, agreed: [] }],
];

describe('judge', () => {
  for (const [name, given, verdict] of TABLE) {
    it(name, () => {
      expect(judge(given)).toEqual(verdict);
    });
  }

  it('asks for hub changes under a path only when the node removes or replaces a directory', () => {
    const asked: string[] = [];
    const hubChangesUnder = (d: string) => { asked.push(d); return 0; };
    judge(input('A', 'B', 'A', { hubChangesUnder }));
    judge(input('D', 'D', 'D', { hubChangesUnder, extra: { mode: 0o700 } }));
    expect(asked).toEqual([]);
    judge(input('D', 'X', 'D', { hubChangesUnder }));
    expect(asked).toEqual([P]);
  });
});

describe('freeConflictName', () => {
  it('takes the next second when a name is taken (two conflicts of a path in one second)', () => {
    const first = conflictName(P, 'node', new Date(NOW));
    const second = conflictName(P, 'node', new Date(NOW + 1000));
    expect(freeConflictName({ now: NOW, taken: () => false }, P, 'node')).toBe(first);
    expect(freeConflictName({ now: NOW, taken: (p) => p === first }, P, 'node')).toBe(second);
  });

  it('is used by the verdict', () => {
    const taken = (p: string) => p === nodeCopy;
    expect(judge(input('X', 'A', 'B', { taken })).conflict).toEqual({ loser: 'node', copyTo: conflictName(P, 'node', new Date(NOW + 1000)) });
  });
});

describe('keepAside', () => {
  it('keeps a file the hub keeps changing under beside it, and only sends a deletion or a directory back', () => {
    expect(keepAside({ entry: entry('B'), now: NOW, taken: () => false })).toEqual({
      action: { kind: 'pull' }, expected: null, conflict: { loser: 'node', copyTo: nodeCopy }, sendBack: false, agreed: [], logged: { winner: 'hub', copy: nodeCopy, reason: 'kept changing on the hub' },
    });
    expect(keepAside({ entry: entry('X'), now: NOW, taken: () => false })).toEqual({ action: { kind: 'none' }, expected: null, sendBack: true, agreed: [] });
    expect(keepAside({ entry: entry('D'), now: NOW, taken: () => false })).toEqual({ action: { kind: 'none' }, expected: null, sendBack: true, agreed: [] });
  });
});
