/**
 * The immutability lock with real processes: an operator writes the mirror's .metadata.json on
 * the hub; the node's changes to locked paths (edits, deletions, a deleted parent directory,
 * its own lock file) are refused with the lock named, to the node and in the log, and the
 * hub's versions stay, also across a hub restart and the full resync it triggers. The lock
 * file is read when the hub starts and when it changes, not per checked entry.
 *
 * The hub's version is sent back, so the node's refused edits and deletions are reverted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hub, Node, runCli, tempDir, waitFor } from '../helpers/procs';

describe('immutability lock', () => {
  let dir: string;
  let ws: string;
  let hub: Hub;
  let node: Node;
  let id: string;
  let join: string;
  const mirror = (p: string) => path.join(hub.mirror(id), p);
  const write = (p: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(ws, p)), { recursive: true });
    fs.writeFileSync(path.join(ws, p), text);
  };
  const lockLines = () => hub.logLines().filter((l) => l.msg === 'lock.loaded' && l.node === id);
  const refusedOnNode = (p: string) => node.logLines().find((l) => l.msg === 'hub.refused' && l.path === p && l.code === 'LOCKED');

  beforeAll(async () => {
    dir = tempDir('lock');
    ws = path.join(dir, 'ws');
    write('docs/guide.md', 'the hub keeps this\n');
    write('docs/deep/spec.md', 'spec v1\n');
    write('src/app.ts', 'v1\n');
    hub = await Hub.start(path.join(dir, 'hub'));
    ({ id, join } = await hub.addNode('locked'));
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    await hub.waitState(id, 'in-sync');
  });

  afterAll(async () => {
    await node?.stop();
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loads the lock when the operator writes .metadata.json, and shows it in status', async () => {
    expect((await hub.node(id)).locked).toEqual([]);
    const readsBefore = lockLines().length;
    fs.writeFileSync(mirror('.metadata.json'), JSON.stringify({ immutable: ['docs/**'] }));
    await waitFor('the lock in status', async () => (await hub.node(id)).locked.includes('docs/**'), 10_000);
    // Each read of the lock file is logged (what the next test counts): this one too. The write
    // (truncate, then write) may be heard twice when the machine is busy: a read of the empty
    // file in between says why it is unusable and keeps the lock it had.
    const reads = lockLines().slice(readsBefore);
    expect(reads.at(-1)).toEqual(expect.objectContaining({ why: 'changed', globs: ['docs/**'] }));
    for (const r of reads.slice(0, -1)) expect(r).toEqual(expect.objectContaining({ why: 'changed', globs: [], error: expect.stringContaining('not valid JSON') }));
  });

  it('refuses node edits, deletions and a deleted parent directory under a locked path; other changes flow', async () => {
    const readsBefore = lockLines().length;
    write('docs/guide.md', 'the node tries to change this\n');
    fs.rmSync(path.join(ws, 'docs', 'deep'), { recursive: true });
    for (let i = 0; i < 150; i++) write(`src/gen/f${i}.ts`, `export const n = ${i};\n`);
    write('src/app.ts', 'v2\n');
    await waitFor('src/app.ts v2 in the mirror', () => fs.readFileSync(mirror('src/app.ts'), 'utf8') === 'v2\n', 30_000);
    await waitFor('the generated files in the mirror', () => fs.existsSync(mirror('src/gen/f149.ts')), 30_000);
    await waitFor('the node told about the refused edit', () => refusedOnNode('docs/guide.md'), 15_000);
    expect(String(refusedOnNode('docs/guide.md')!.reason)).toContain('docs/**');
    await waitFor('the refused deletion of docs/deep', () => refusedOnNode('docs/deep') ?? refusedOnNode('docs/deep/spec.md'), 15_000);
    // The hub's versions stay, and go back to the node: its edit and deletion are reverted.
    expect(fs.readFileSync(mirror('docs/guide.md'), 'utf8')).toBe('the hub keeps this\n');
    expect(fs.readFileSync(mirror('docs/deep/spec.md'), 'utf8')).toBe('spec v1\n');
    await waitFor('the node\'s edit reverted', () => fs.readFileSync(path.join(ws, 'docs/guide.md'), 'utf8') === 'the hub keeps this\n', 30_000);
    await waitFor('the node\'s deletion reverted', () => fs.existsSync(path.join(ws, 'docs/deep/spec.md')) && fs.readFileSync(path.join(ws, 'docs/deep/spec.md'), 'utf8') === 'spec v1\n', 30_000);
    await hub.waitState(id, 'in-sync', 30_000);
    const st = await hub.node(id);
    expect(st.lockedRefusals).toBeGreaterThanOrEqual(2);
    expect(st.state).not.toBe('error');
    const logged = hub.logLines().filter((l) => l.msg === 'input.rejected' && l.code === 'LOCKED');
    expect(logged.map((l) => l.path)).toContain('docs/guide.md');
    const detail = await hub.invoke('nodes.detail', { id });
    expect(detail.lockRefusals.map((r) => r.path)).toContain('docs/guide.md');
    // 150+ entries were checked against the lock; the file was not read again for them (a
    // read would be logged: the test above saw it).
    expect(readsBefore).toBeGreaterThan(0);
    expect(lockLines().length).toBe(readsBefore);
  });

  it('never takes the lock file from the node, nor deletes it in a full resync after a restart', async () => {
    write('.metadata.json', JSON.stringify({ immutable: [] }));
    await waitFor('the refused lock file', () => refusedOnNode('.metadata.json'), 15_000);
    expect(JSON.parse(fs.readFileSync(mirror('.metadata.json'), 'utf8'))).toEqual({ immutable: ['docs/**'] });
    fs.rmSync(path.join(ws, '.metadata.json'));

    // A restart of both, the node with a new state dir (a new index): the hub asks for the
    // node's full index, in which the lock file is missing; that must not delete it.
    await node.stop();
    await hub.stop();
    const mark = hub.logLines().length;
    hub = await Hub.start(hub.dataDir, { grpc: hub.info.grpc });
    node = Node.start(join, ws, path.join(dir, 'node-state-2'));
    const connected = await waitFor('the node connected again', () => hub.logLines().slice(mark).find((l) => l.msg === 'node.connected' && l.node === id), 30_000);
    expect(connected).toMatchObject({ wantFull: true });
    await hub.waitState(id, 'in-sync');
    expect(fs.existsSync(mirror('.metadata.json'))).toBe(true);
    expect(fs.readFileSync(mirror('docs/guide.md'), 'utf8')).toBe('the hub keeps this\n');
    expect(fs.existsSync(mirror('docs/deep/spec.md'))).toBe(true);
    expect((await hub.node(id)).locked).toEqual(['docs/**']);
  });

  it('keeps the last good lock when the file is broken, and unlocks when it is removed', async () => {
    fs.writeFileSync(mirror('.metadata.json'), '{"immutable": [');
    await waitFor('the lock error in status', async () => (await hub.node(id)).lockError, 10_000);
    expect((await hub.node(id)).locked).toEqual(['docs/**']);
    fs.rmSync(mirror('.metadata.json'));
    await waitFor('no lock', async () => (await hub.node(id)).locked.length === 0, 10_000);
    write('docs/guide.md', 'now the node may\n');
    await waitFor('the node version in the mirror', () => fs.readFileSync(mirror('docs/guide.md'), 'utf8') === 'now the node may\n', 30_000);
  });

  it('is shown by `cortex-hub status` with no hub running', async () => {
    fs.writeFileSync(mirror('.metadata.json'), JSON.stringify({ immutable: ['release', '*.lock'] }));
    await node.stop();
    await hub.stop();
    const r = await runCli('cortex-hub', ['status', '--data', hub.dataDir, '--json']);
    expect(r.code).toBe(0);
    const n = (JSON.parse(r.stdout) as { nodes: { id: string; locked: string[]; lockError: string | null }[] }).nodes.find((x) => x.id === id)!;
    expect(n).toMatchObject({ locked: ['release', '*.lock'], lockError: null });
    const human = await runCli('cortex-hub', ['status', '--data', hub.dataDir]);
    expect(human.stdout).toMatch(/release \*\.lock \(\d+ refused\)/);
  });
});
