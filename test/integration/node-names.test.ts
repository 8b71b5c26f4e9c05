/**
 * Node names through the contract (CLI without a hub, the HTTP API of a serving hub): no
 * control, bidi or invisible characters, unique among active nodes ignoring case and
 * normalization; and names stored before these rules print escaped, never raw, on a terminal.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeInfo } from '../../main/contract';
import { HubStore } from '../../main/store/hub-store';
import { Hub, readJsonLines, runCli, tempDir } from '../helpers/procs';

/** What a terminal would act on, in CLI output (C0 but newline, DEL, C1, bidi and invisible format characters). */
const ACTIONABLE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2069\ufeff\u2028\u2029]/;

describe('node names', () => {
  let dir: string;
  let data: string;
  const hub = (...args: string[]) => runCli('cortex-hub', [...args, '--data', data]);

  beforeAll(() => {
    dir = tempDir('names');
    data = path.join(dir, 'hub');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses names with controls, escapes or bidi overrides with a clear error (CLI, no hub running)', async () => {
    const cases: [string, RegExp][] = [
      ['evil\x1b[31mred', /U\+001B at position 5/],
      ['two\nlines', /U\+000A at position 4/],
      ['osc\x1b]0;title\x07', /U\+001B/],
      ['c1\u009bcsi', /U\+009B/],
      ['txt\u202eexe.sh', /U\+202E at position 4/],
      ['iso\u2066late', /U\+2066/],
      ['zero\u200bwidth', /U\+200B/],
    ];
    for (const [name, where] of cases) {
      const r = await hub('node', 'add', name, '--json');
      expect(r.code, JSON.stringify(name)).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^cortex-hub: BAD_REQUEST: nodes\.add: name: a node name cannot contain control, bidirectional or invisible formatting characters/);
      expect(r.stderr).toMatch(where);
      expect(r.stderr.replace(/\n$/, '')).not.toMatch(ACTIONABLE);
    }
    const long = await hub('node', 'add', 'x'.repeat(101));
    expect(long.stderr).toMatch(/BAD_REQUEST: nodes\.add: name: a node name has at most 100 characters \(this one has 101\)/);
    const list = JSON.parse((await hub('node', 'list', '--json')).stdout) as NodeInfo[];
    expect(list).toEqual([]);
  });

  it('trims, keeps names unique among active nodes ignoring case and normalization, and frees a retired node\'s name', async () => {
    const first = await hub('node', 'add', '  Build-Box  ', '--json');
    expect(first.code).toBe(0);
    const made = JSON.parse(first.stdout) as { node: NodeInfo };
    expect(made.node.name).toBe('Build-Box');
    const dup = await hub('node', 'add', 'build-box');
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(`cortex-hub: CONFLICT: an active node is already named "Build-Box" (${made.node.id})`);
    const cafe = await hub('node', 'add', 'caf\u00e9', '--json');
    expect(cafe.code).toBe(0);
    const decomposed = await hub('node', 'add', 'CAFE\u0301');
    expect(decomposed.stderr).toMatch(/CONFLICT: an active node is already named "café"/);
    expect((await hub('node', 'retire', made.node.id)).code).toBe(0);
    const again = await hub('node', 'add', 'build-box', '--json');
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as { node: NodeInfo }).node.id).not.toBe(made.node.id);
    const refusals = readJsonLines(path.join(data, 'logs', 'admin.log')).filter((l) => l.msg === 'node.add_refused');
    expect(refusals.some((l) => String(l.reason).startsWith('an active node is already named "Build-Box"'))).toBe(true);
  });

  it('the serving hub\'s API refuses the same names, and prints names stored before the rules escaped', async () => {
    // A database from before the rules: names with escapes, a bidi override and a line break.
    const legacy = ['legacy\x1b[2J\x1b]0;pwned\x07', 'gpj.\u202eexe', 'two\nlines\u009b'];
    const store = new HubStore(path.join(data, 'hub.db'));
    const ids = legacy.map((name) => {
      const id = crypto.randomBytes(8).toString('hex');
      store.addNode(id, name, crypto.randomBytes(16).toString('hex'));
      return id;
    });
    store.close();

    const running = await Hub.start(data);
    try {
      const post = (input: unknown) => fetch(`${running.info.ui}/api/invoke`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${running.info.adminToken}` }, body: JSON.stringify({ op: 'nodes.add', input }),
      });
      const bidi = await post({ name: 'a\u202eb' });
      expect(bidi.status).toBe(400);
      expect(await bidi.json()).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/U\+202E/) } });
      const dup = await post({ name: 'BUILD-BOX' });
      expect(dup.status).toBe(409);
      expect(await dup.json()).toMatchObject({ ok: false, error: { code: 'CONFLICT', message: expect.stringMatching(/already named "build-box"/) } });
      expect((await post({ name: 'fine name' })).status).toBe(200);

      for (const args of [['node', 'list'], ['status'], ['node', 'list', '--json'], ['status', '--json']]) {
        const r = await hub(...args);
        expect(r.code, args.join(' ')).toBe(0);
        expect(r.stdout.replace(/\n/g, ''), args.join(' ')).not.toMatch(ACTIONABLE);
      }
      const json = JSON.parse((await hub('node', 'list', '--json')).stdout) as NodeInfo[];
      expect(ids.map((id) => json.find((n) => n.id === id)?.name)).toEqual(legacy);
      const human = (await hub('node', 'list')).stdout;
      expect(human).toContain('legacy\\x1b[2J\\x1b]0;pwned\\x07');
      expect(human).toContain('gpj.\\u202eexe');
      expect(human).toContain('two\\nlines\\x9b');
      // One row per node: the line break in a name did not make a row of its own.
      expect(human.trimEnd().split('\n')).toHaveLength(1 + json.length);
      const retire = await hub('node', 'retire', ids[1]!);
      expect(retire.stdout).toContain('Retired node "gpj.\\u202eexe"');
      expect(retire.stdout).not.toMatch(ACTIONABLE);
    } finally {
      await running.stop();
    }
  });
});
