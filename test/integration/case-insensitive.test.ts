/**
 * Case-only renames where the node's workspace ignores case (as on macOS or Windows), with real
 * processes: the workspace is a case-insensitive, case-preserving FUSE file system
 * (test/helpers/ci-fuse.py), the hub's mirror is on the ordinary, case-sensitive disk.
 * A rename that only changes case, of a file or a directory, either way, must keep the file
 * under its new name on both sides; two names the workspace cannot tell apart are refused
 * with CASE_CONFLICT and nothing is lost.
 *
 * Needs FUSE (/dev/fuse, root) and Debian's python3-fusepy (`.ci/run` installs it); skips,
 * saying why, without them (test/helpers/case-fuse.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseFuseUnavailable, mountCaseInsensitive, startCaseInsensitiveNode, type CaseFuse, type CaseInsensitiveNode } from '../helpers/case-fuse';
import { Hub, Node, tempDir, waitConverged, waitFor } from '../helpers/procs';

const unavailable = caseFuseUnavailable();
if (unavailable) console.warn(`SKIPPED case-insensitive tests: ${unavailable}`);

describe.skipIf(unavailable !== null)('case-only renames on a case-insensitive workspace', () => {
  let pair: CaseInsensitiveNode | undefined;
  let ws: string;
  let node: Node;
  let mirror: CaseInsensitiveNode['mirror'];
  let converged: CaseInsensitiveNode['converged'];
  /** Exact names in a directory (what readdir says, not what a case-insensitive lookup finds). */
  const names = (d: string) => fs.readdirSync(d).sort();

  beforeAll(async () => {
    pair = await startCaseInsensitiveNode('case', 'case-insensitive', (root) => {
      fs.mkdirSync(path.join(root, 'docs'));
      fs.writeFileSync(path.join(root, 'docs', 'Readme.md'), 'read me\n');
      fs.mkdirSync(path.join(root, 'src'));
      fs.writeFileSync(path.join(root, 'src', 'App.ts'), 'export {};\n');
      // Proof the workspace ignores case.
      expect(fs.readFileSync(path.join(root, 'DOCS', 'README.MD'), 'utf8')).toBe('read me\n');
    });
    ({ ws, node, mirror, converged } = pair);
  });

  afterAll(() => pair?.close());

  it('a case-only rename of a file on the hub reaches the node under the new name, never as a conflict', async () => {
    fs.renameSync(mirror('docs/Readme.md'), mirror('docs/README.md'));
    await converged('the new case on the node');
    expect(names(path.join(ws, 'docs'))).toEqual(['README.md']);
    expect(fs.readFileSync(path.join(ws, 'docs', 'README.md'), 'utf8')).toBe('read me\n');
    // Usually carried out as a rename (hub.case_renamed). When the hub's watcher reports the two
    // halves in separate batches (seen under load), the node gets either the deletion first and
    // fetches the new name after it, or the new name first, refused for the moment as
    // CASE_CONFLICT until the deletion turns it into the rename: the same end state, in sync
    // with no problem left and no conflict copy (converged, and the one name above).
    const lines = node.logLines();
    expect(lines.some((l) => l.msg === 'hub.case_renamed' || (l.msg === 'hub.applied' && l.path === 'docs/README.md'))).toBe(true);
  });

  it('a case-only rename of a file on the node reaches the hub', async () => {
    fs.renameSync(path.join(ws, 'src', 'App.ts'), path.join(ws, 'src', 'app.ts'));
    await converged('the new case in the mirror');
    expect(names(mirror('src'))).toEqual(['app.ts']);
    expect(fs.readFileSync(mirror('src/app.ts'), 'utf8')).toBe('export {};\n');
  });

  it('a case-only rename of a directory on the hub keeps everything in it', async () => {
    fs.renameSync(mirror('docs'), mirror('Docs'));
    await converged('the renamed directory on the node');
    expect(names(ws).filter((n) => !n.startsWith('.'))).toEqual(['Docs', 'src']);
    expect(fs.readFileSync(path.join(ws, 'Docs', 'README.md'), 'utf8')).toBe('read me\n');
  });

  it('a case-only rename on the hub of a directory holding many files: every file finds the rename once, the batch is answered', async () => {
    // The directory and its files run side by side in one batch: each finds that "many" must
    // become "Many". Only one may rename it; a second rename used to fail the whole batch, which
    // then was never answered (the node stayed `syncing` with 41 changes pending, forever).
    fs.mkdirSync(mirror('many'));
    for (let i = 0; i < 40; i++) fs.writeFileSync(mirror(`many/f${i}.txt`), `file ${i}\n`);
    await converged('the directory on the node');
    fs.renameSync(mirror('many'), mirror('Many'));
    await converged('the renamed directory on the node');
    expect(names(ws).filter((n) => !n.startsWith('.'))).toEqual(['Docs', 'Many', 'src']);
    expect(names(path.join(ws, 'Many'))).toHaveLength(40);
    expect(fs.readFileSync(path.join(ws, 'Many', 'f39.txt'), 'utf8')).toBe('file 39\n');
    expect(node.logLines().filter((l) => l.msg === 'hub.batch_failed')).toEqual([]);
  });

  it('two names the workspace cannot hold apart: one is refused with CASE_CONFLICT, nothing is lost', async () => {
    fs.mkdirSync(mirror('notes'));
    fs.writeFileSync(mirror('notes/Plan.txt'), 'upper\n');
    fs.writeFileSync(mirror('notes/plan.txt'), 'lower\n');
    await waitFor('the refusal on the node', () => node.logLines().find((l) => l.msg === 'hub.entry_refused' && l.code === 'CASE_CONFLICT'), 30_000);
    // The hub keeps both; the node has one of them, whole.
    expect(names(mirror('notes'))).toEqual(['Plan.txt', 'plan.txt']);
    await waitFor('one of them on the node', () => fs.existsSync(path.join(ws, 'notes')) && names(path.join(ws, 'notes')).length === 1, 30_000);
    expect(['upper\n', 'lower\n']).toContain(fs.readFileSync(path.join(ws, 'notes', names(path.join(ws, 'notes'))[0]!), 'utf8'));
  });
});

describe.skipIf(unavailable !== null)('case-only renames into a case-insensitive mirror (a hub on macOS or Windows)', () => {
  let dir: string;
  let ws: string;
  let mounted: string;
  let fuse: CaseFuse;
  let hub: Hub;
  let node: Node;
  let id: string;
  const mirror = (p = '') => path.join(hub.mirror(id), p);
  const names = (d: string) => fs.readdirSync(d).sort();
  const converged = (what: string) => waitConverged(what, hub, id, ws, mirror(), (p) => p === '.metadata.json');

  beforeAll(async () => {
    dir = tempDir('case-hub');
    ws = path.join(dir, 'ws');
    const data = path.join(dir, 'hub');
    const backing = path.join(dir, 'backing');
    mounted = path.join(dir, 'ci');
    for (const d of [ws, backing, mounted, data]) fs.mkdirSync(d, { recursive: true });
    fuse = await mountCaseInsensitive(backing, mounted);
    // Mirrors and staging on the case-insensitive file system (one file system: commits are
    // renames); the database stays on the ordinary disk.
    fs.mkdirSync(path.join(mounted, 'mirrors'));
    fs.mkdirSync(path.join(mounted, 'staging'));
    fs.symlinkSync(path.join(mounted, 'mirrors'), path.join(data, 'mirrors'));
    fs.symlinkSync(path.join(mounted, 'staging'), path.join(data, 'staging'));
    fs.mkdirSync(path.join(ws, 'src'));
    fs.writeFileSync(path.join(ws, 'src', 'App.ts'), 'export {};\n');
    fs.writeFileSync(path.join(ws, 'src', 'keep.ts'), 'keep\n');
    hub = await Hub.start(data, { extra: [] });
    let join: string;
    ({ id, join } = await hub.addNode('case-sensitive-node'));
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    await converged('the first sync');
  });

  afterAll(async () => {
    await node?.kill();
    await hub?.kill();
    fuse?.unmount();
    if (!process.env.CORTEX_KEEP_TEST_DIRS && dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a case-only rename on the node renames the file in the mirror (and never deletes it)', async () => {
    fs.renameSync(path.join(ws, 'src', 'App.ts'), path.join(ws, 'src', 'app.ts'));
    await converged('the new case in the mirror');
    expect(names(mirror('src'))).toEqual(['app.ts', 'keep.ts']);
    expect(fs.readFileSync(mirror('src/app.ts'), 'utf8')).toBe('export {};\n');
    expect(hub.logLines().some((l) => l.msg === 'sync.case_renamed')).toBe(true);
  });

  it('a case-only rename on the node of a directory holding many files: the mirror takes the new name, nothing comes back to the node', async () => {
    fs.mkdirSync(path.join(ws, 'many'));
    for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(ws, 'many', `f${i}.txt`), `file ${i}\n`);
    await converged('many/ in the mirror');
    fs.renameSync(path.join(ws, 'many'), path.join(ws, 'Many'));
    await converged('Many/ in the mirror');
    expect(names(mirror()).filter((n) => n !== '.metadata.json')).toEqual(['Many', 'src']);
    expect(names(mirror('Many'))).toHaveLength(40);
    // The node's rename stands: no hub-side change took the old name back to it.
    expect(names(ws)).toEqual(['Many', 'src']);
    expect(fs.readFileSync(path.join(ws, 'Many', 'f39.txt'), 'utf8')).toBe('file 39\n');
  });

  it('two names of the node the mirror cannot hold apart: one is refused with CASE_CONFLICT, nothing is lost', async () => {
    fs.writeFileSync(path.join(ws, 'src', 'Keep.ts'), 'another file\n');
    // (A directory's case-only rename above may have had its halves refused for a moment too: this path's.)
    await waitFor('the refusal', () => hub.logLines().find((l) => l.msg === 'input.rejected' && l.code === 'CASE_CONFLICT' && l.path === 'src/Keep.ts'), 30_000);
    await waitFor('the refusal in the status', async () => (await hub.node(id)).lastError?.code === 'CASE_CONFLICT', 30_000);
    expect(fs.readFileSync(path.join(ws, 'src', 'keep.ts'), 'utf8')).toBe('keep\n');
    expect(fs.readFileSync(path.join(ws, 'src', 'Keep.ts'), 'utf8')).toBe('another file\n');
    expect(names(mirror('src'))).toEqual(['app.ts', 'keep.ts']);
    expect(fs.readFileSync(mirror('src/keep.ts'), 'utf8')).toBe('keep\n');
  });
});
