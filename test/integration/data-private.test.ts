/**
 * DATA is private whether or not it existed before the hub first started: every file 0600 and
 * every folder 0700 (hub.db and its -wal/-shm, logs, hub.json, the lock, tls/, staging/, the
 * mirrors folder; mirror contents follow the mirror mode rule instead), also when an earlier run
 * left them looser (tightened at start, with a log line), and whatever the umask. The node's
 * database and log are 0600 too.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Hub, Node, tempDir, waitConverged } from '../helpers/procs';

const mode = (p: string) => fs.lstatSync(p).mode & 0o7777;

/** Every path under DATA (mirror contents excepted) whose mode is not 0600 (files) / 0700 (folders). */
function loose(data: string): string[] {
  const mirrors = path.join(data, 'mirrors');
  const out: string[] = [];
  const walk = (p: string) => {
    for (const e of fs.readdirSync(p, { withFileTypes: true })) {
      const child = path.join(p, e.name);
      const want = e.isDirectory() ? 0o700 : 0o600;
      if (mode(child) !== want) out.push(`${path.relative(data, child)} ${mode(child).toString(8)}`);
      if (e.isDirectory() && child !== mirrors) walk(child);
    }
  };
  if (mode(data) !== 0o700) out.push(`. ${mode(data).toString(8)}`);
  walk(data);
  return out;
}

/** Every path under DATA but mirror contents (to check the walk saw what it should). */
function names(data: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    for (const e of fs.readdirSync(p, { withFileTypes: true })) {
      const child = path.join(p, e.name);
      out.push(path.relative(data, child));
      if (e.isDirectory() && child !== path.join(data, 'mirrors')) walk(child);
    }
  };
  walk(data);
  return out.sort();
}

describe('DATA permissions', () => {
  let dir: string;
  let hub: Hub | undefined;
  let node: Node | undefined;
  let umask: number;

  beforeAll(() => {
    dir = tempDir('data-private');
    umask = process.umask();
  });

  afterEach(async () => {
    process.umask(umask);
    await node?.kill();
    await hub?.kill();
    node = hub = undefined;
  });

  afterAll(() => {
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  const syncOnce = async (data: string, ws: string, state: string) => {
    fs.mkdirSync(path.join(ws, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(ws, 'sub', 'a.txt'), 'a\n', { mode: 0o644 });
    hub = await Hub.start(data);
    const { id, join } = await hub.addNode('private');
    node = Node.start(join, ws, state);
    await waitConverged('the workspace in the mirror', hub, id, ws, hub.mirror(id), () => false);
    return id;
  };

  it('a DATA that existed (0755, umask 022) gets 0600 files and 0700 folders; an earlier run left looser is tightened at start', async () => {
    process.umask(0o022);
    const data = path.join(dir, 'existing');
    fs.mkdirSync(data, { mode: 0o755 });
    fs.chmodSync(data, 0o755);
    await syncOnce(data, path.join(dir, 'ws1'), path.join(dir, 'state1'));
    const seen = names(data);
    for (const p of ['hub.db', 'hub.db-wal', 'hub.db-shm', 'hub.json', 'hub.lock', 'logs', 'logs/hub.log', 'mirrors', 'staging', 'trash', 'tls', 'tls/hub-key.pem', 'tls/hub-cert.pem']) expect(seen, p).toContain(p);
    expect(loose(data)).toEqual([]);

    // As an older version (or an operator) left it: everything world-readable, a rotated log too.
    await node!.stop();
    await hub!.stop();
    node = hub = undefined;
    fs.writeFileSync(path.join(data, 'logs', 'hub.old.log'), '{}\n', { mode: 0o644 });
    const loosen = (p: string) => {
      fs.chmodSync(p, fs.lstatSync(p).isDirectory() ? 0o755 : 0o644);
      if (fs.lstatSync(p).isDirectory() && p !== path.join(data, 'mirrors')) for (const n of fs.readdirSync(p)) loosen(path.join(p, n));
    };
    loosen(data);
    expect(loose(data).length, loose(data).join(", ")).toBeGreaterThan(8);
    hub = await Hub.start(data);
    expect(loose(data)).toEqual([]);
    // One line per start that found something loose: the first (DATA itself was 0755) and this one.
    const lines = hub.logLines().filter((l) => l.msg === 'data.tightened');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'warn', dir: data, count: 1, examples: ['.'] });
    expect(lines[1]).toMatchObject({ level: 'warn', dir: data });
    expect(Number(lines[1]!.count)).toBeGreaterThan(8);
  });

  it('a fresh DATA with umask 000 is private too, and so are the node database and log', async () => {
    process.umask(0);
    const data = path.join(dir, 'fresh');
    const state = path.join(dir, 'state2');
    await syncOnce(data, path.join(dir, 'ws2'), state);
    expect(loose(data)).toEqual([]);
    for (const f of ['node.db', 'node.db-wal', 'node.db-shm', 'node.log']) expect(mode(path.join(state, f)).toString(8), f).toBe('600');
  });
});
