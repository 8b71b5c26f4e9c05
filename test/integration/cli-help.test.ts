/**
 * `cortex-hub --help`, each command's `--help` and `cortex-node --help` list what exists: every
 * command the CLI's dispatch handles and every option its parser takes (both read from the
 * sources in main/cli/, so a new command or option without help fails here), and nothing the
 * code does not have.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/procs';

const source = (file: string) => fs.readFileSync(path.join(ROOT, 'main', 'cli', file), 'utf8');

/** The option names in a parseArgs({ options: { ... } }) call of `src`. */
function parsedOptions(src: string): string[] {
  const block = src.slice(src.indexOf('options: {'), src.indexOf('},\n  });', src.indexOf('options: {')));
  return [...block.matchAll(/'?([a-z][a-z-]*)'?: \{ type:/g)].map((m) => m[1]!);
}

/** Every `--option` a help text names. */
const mentioned = (help: string) => [...new Set([...help.matchAll(/(?<![\w-])--([a-z][a-z-]*)/g)].map((m) => m[1]!))];

const hubSrc = source('hub.ts');
/** Commands as the dispatch spells them: `serve`, then every `case 'x y':` of the switches (hub.ts, and agents-cli.ts for `agents …`). */
const hubCommands = ['serve', ...[...`${hubSrc}\n${source('agents-cli.ts')}`.matchAll(/^ {4}case '([a-z -]+)':/gm)].map((m) => m[1]!)];

describe('cortex-hub --help', () => {
  it('lists every command the CLI handles, and only those', async () => {
    const r = await runCli('cortex-hub', ['--help']);
    expect(r.code).toBe(0);
    expect(hubCommands.length).toBeGreaterThan(10);
    for (const c of hubCommands) expect(r.stdout, c).toMatch(new RegExp(`^  cortex-hub ${c}(\\s|$)`, 'm'));
    const listed = [...r.stdout.matchAll(/^ {2}cortex-hub ([a-z]+)(?: ([a-z][a-z-]*))?/gm)].map((m) => (hubCommands.includes(`${m[1]} ${m[2]}`) ? `${m[1]} ${m[2]}` : m[1]!));
    expect([...new Set(listed)].filter((c) => !hubCommands.includes(c))).toEqual([]);
  });

  it('shows every option the CLI takes, and only those', async () => {
    const r = await runCli('cortex-hub', ['--help']);
    const options = parsedOptions(hubSrc);
    expect(options).toContain('advertise');
    expect(mentioned(r.stdout).filter((o) => !options.includes(o))).toEqual([]);
    expect(options.filter((o) => !mentioned(r.stdout).includes(o))).toEqual([]);
  });

  it.each([...new Set(hubCommands.map((c) => c.split(' ')[0]!))])('"cortex-hub %s --help" shows that command and the options', async (cmd) => {
    const r = await runCli('cortex-hub', [cmd, '--help']);
    expect(r.code).toBe(0);
    for (const c of hubCommands.filter((x) => x.split(' ')[0] === cmd)) expect(r.stdout, c).toMatch(new RegExp(`^  cortex-hub ${c}(\\s|$)`, 'm'));
    expect(r.stdout).toMatch(/^Options:$/m);
    expect(r.stdout).toMatch(/^ {2}--data DIR/m);
  });
});

describe('cortex-node --help', () => {
  it('shows every option the node takes, and only those', async () => {
    const r = await runCli('cortex-node', ['--help']);
    expect(r.code).toBe(0);
    const options = parsedOptions(source('node.ts'));
    expect(options).toContain('workspace');
    expect(mentioned(r.stdout).filter((o) => !options.includes(o))).toEqual([]);
    expect(options.filter((o) => !mentioned(r.stdout).includes(o))).toEqual([]);
  });

  it('names every environment variable the node reads', async () => {
    const r = await runCli('cortex-node', ['--help']);
    for (const v of ['CORTEX_JOIN', 'CORTEX_NODE_STATE']) expect(r.stdout).toMatch(new RegExp(`^ {2}${v}\\b`, 'm'));
  });
});
