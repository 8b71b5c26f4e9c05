/**
 * The hub's conflict desk (hub/conflicts.ts) on a real mirror and a real SQLite index, for what
 * the end-to-end tests cannot time: a resolution is refused, with nothing changed on disk and
 * nothing scanned, when the copy or the original changed since the index recorded them, when
 * the kept name is taken on disk, when a node change of the path is being applied, or when no
 * hub is serving; retired nodes are not listed. (The scan that records a resolution is the
 * Mirror's, exercised by test/integration/conflicts*.test.ts; here it only notes its paths.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContractError } from '../../main/contract';
import { ConflictDesk } from '../../main/hub/conflicts';
import { HubStore } from '../../main/store/hub-store';
import { sha256 } from '../../main/sync/blocks';
import { nullLogger } from '../../main/util/log';

const COPY = 'notes.sync-conflict-20261125-120000-hub.md';

describe('the conflict desk on a real mirror', () => {
  let dir: string;
  let store: HubStore;
  let scanned: string[][];
  let applying: Set<string>;
  const mirrorOf = (id: string) => path.join(dir, 'mirrors', id);
  const file = (id: string, rel: string) => path.join(mirrorOf(id), rel);
  const desk = (mode: 'serve' | 'admin' = 'serve') => new ConflictDesk({
    store, log: nullLogger, mode, mirrorOf,
    applying: (_id, p) => applying.has(p),
    scan: async (_id, paths) => { scanned.push(paths); },
  });
  /** Writes a file into a node's mirror and records it as the scanner would. */
  const put = (id: string, rel: string, text: string) => {
    fs.mkdirSync(path.dirname(file(id, rel)), { recursive: true });
    fs.writeFileSync(file(id, rel), text);
    const st = fs.lstatSync(file(id, rel));
    const blocks = sha256(Buffer.from(text));
    store.index.putFiles(id, [{ path: rel, type: 'file', size: st.size, mtimeMs: st.mtimeMs, mode: 0o644, ino: st.ino, hash: sha256(blocks), blockSize: 131072, blocks, target: '', deleted: false, seq: 0 }]);
  };
  const refusal = async (p: Promise<unknown>) => {
    const e = await p.then(() => null, (err: unknown) => err);
    expect(e).toBeInstanceOf(ContractError);
    return `${(e as ContractError).code}: ${(e as ContractError).message}`;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-conflict-desk-'));
    store = new HubStore(path.join(dir, 'hub.db'));
    store.addNode('n1', 'one', 'secret-1');
    store.addNode('n2', 'two', 'secret-2');
    put('n1', 'notes.md', 'the winner\n');
    put('n1', COPY, 'the copy\n');
    put('n2', `x/${COPY}`, 'two\'s copy\n');
    scanned = [];
    applying = new Set();
  });

  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lists active nodes only, and resolves when both paths are as recorded', async () => {
    expect(desk().list({}).total).toBe(2);
    store.retireNode('n2');
    expect(desk().list({}).conflicts.map((c) => [c.nodeId, c.copy, c.original])).toEqual([['n1', COPY, 'notes.md']]);
    expect(await refusal(Promise.resolve().then(() => desk().list({ nodeId: 'n2' })))).toMatch(/NOT_FOUND: node n2 is retired/);
    expect(await refusal(desk().resolve('n2', `x/${COPY}`, 'winner'))).toMatch(/CONFLICT: node n2 is retired/);
    const r = await desk().resolve('n1', COPY, 'copy');
    expect(r).toEqual({ nodeId: 'n1', copy: COPY, keep: 'copy', original: 'notes.md', result: 'notes.md' });
    expect(fs.readFileSync(file('n1', 'notes.md'), 'utf8')).toBe('the copy\n');
    expect(fs.existsSync(file('n1', COPY))).toBe(false);
    expect(scanned).toEqual([[COPY, 'notes.md']]);
  });

  it('refuses when the copy changed on disk since it was recorded (nothing changed, nothing scanned)', async () => {
    fs.writeFileSync(file('n1', COPY), 'edited meanwhile, longer than before\n');
    expect(await refusal(desk().resolve('n1', COPY, 'winner'))).toMatch(new RegExp(`CONFLICT: ${COPY.replace(/\./g, '\\.')} changed since the hub last looked at it; nothing was changed`));
    expect(fs.readFileSync(file('n1', COPY), 'utf8')).toBe('edited meanwhile, longer than before\n');
    expect(scanned).toEqual([]);
  });

  it('refuses to put the copy over an original that changed since it was recorded', async () => {
    fs.writeFileSync(file('n1', 'notes.md'), 'the winner, edited again\n');
    expect(await refusal(desk().resolve('n1', COPY, 'copy'))).toMatch(/CONFLICT: notes\.md changed since the hub last looked at it/);
    expect(fs.readFileSync(file('n1', 'notes.md'), 'utf8')).toBe('the winner, edited again\n');
    expect(fs.readFileSync(file('n1', COPY), 'utf8')).toBe('the copy\n');
    expect(scanned).toEqual([]);
  });

  it('refuses to keep both onto a name something unrecorded already holds', async () => {
    fs.writeFileSync(file('n1', 'notes (hub copy 20261125-120000).md'), 'just made, not scanned yet\n');
    expect(await refusal(desk().resolve('n1', COPY, 'both'))).toMatch(/CONFLICT: notes \(hub copy 20261125-120000\)\.md changed since/);
    expect(fs.readFileSync(file('n1', 'notes (hub copy 20261125-120000).md'), 'utf8')).toBe('just made, not scanned yet\n');
    expect(fs.existsSync(file('n1', COPY))).toBe(true);
  });

  it('refuses while a node change of the path is being applied, and without a serving hub', async () => {
    applying.add('notes.md');
    expect(await refusal(desk().resolve('n1', COPY, 'winner'))).toMatch(/CONFLICT: a change of notes\.md from the node is being applied right now/);
    applying.clear();
    expect(await refusal(desk('admin').resolve('n1', COPY, 'winner'))).toMatch(/UNAVAILABLE: no hub is running/);
    expect(fs.existsSync(file('n1', COPY))).toBe(true);
    expect(scanned).toEqual([]);
    // The admin mode still lists and compares.
    expect(desk('admin').show('n1', COPY).diff).toEqual({ kind: 'text', truncated: false, rows: [
      { op: 'del', text: 'the winner', a: 1, b: null }, { op: 'add', text: 'the copy', a: null, b: 1 },
    ] });
  });

  it('never deletes through a symlinked directory, even if the index had such a path', async () => {
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, COPY), 'outside\n');
    fs.symlinkSync(outside, file('n1', 'link'));
    const st = fs.lstatSync(path.join(outside, COPY));
    const blocks = sha256(Buffer.from('outside\n'));
    store.index.putFiles('n1', [{ path: `link/${COPY}`, type: 'file', size: st.size, mtimeMs: st.mtimeMs, mode: 0o644, ino: st.ino, hash: sha256(blocks), blockSize: 131072, blocks, target: '', deleted: false, seq: 0 }]);
    expect(await refusal(desk().resolve('n1', `link/${COPY}`, 'winner'))).toMatch(/CONFLICT: unsafe path .*goes through the symlink link; nothing was changed/);
    expect(fs.readFileSync(path.join(outside, COPY), 'utf8')).toBe('outside\n');
  });
});
