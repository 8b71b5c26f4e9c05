/**
 * The harness the integration tests and the benchmarks share (harness/): waitFor ends on any
 * value but undefined, null and false (0 included); runCli returns all a command printed, and
 * gives up on one that never ends; a log line being written is not read half.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configure, readJsonLines, runCli, settings, tempDir } from '../../harness/procs.mjs';
import { waitFor } from '../../harness/wait.mjs';

const dirs: string[] = [];
const productRoot = settings.productRoot;
afterEach(() => {
  configure({ productRoot });
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A product tree whose bin/cortex-hub is `script` (run by node, as runCli runs the real one). */
function fakeProduct(script: string): void {
  const d = tempDir('harness');
  dirs.push(d);
  fs.mkdirSync(path.join(d, 'bin'));
  fs.writeFileSync(path.join(d, 'bin', 'cortex-hub'), script);
  configure({ productRoot: d });
}

describe('waitFor', () => {
  it('returns a falsy value that is a value: 0 and the empty string', async () => {
    expect(await waitFor('zero', () => 0, 500)).toBe(0);
    expect(await waitFor('an empty string', () => '', 500)).toBe('');
  });

  it('keeps waiting through undefined, null and false, and says what it waited for', async () => {
    let n = 0;
    expect(await waitFor('the third try', () => (++n >= 3 ? 'done' : n === 1 ? null : false), 2000, 1)).toBe('done');
    await expect(waitFor('nothing', () => undefined, 50, 5)).rejects.toThrow(/timed out after 50 ms waiting for nothing/);
  });
});

describe('runCli', () => {
  it('returns everything the command printed, not what had arrived when it exited', async () => {
    fakeProduct(`process.stdout.write('x'.repeat(4 << 20)); process.stderr.write('done');\n`);
    const r = await runCli('cortex-hub', []);
    expect({ code: r.code, stdout: r.stdout.length, stderr: r.stderr }).toEqual({ code: 0, stdout: 4 << 20, stderr: 'done' });
    // Output that comes after the process exited (a child of it still holds its stdout): the
    // 'exit' event comes first; all output is read only at 'close'.
    fakeProduct(`require('node:child_process').spawn(process.execPath, ['-e', 'setTimeout(() => console.log("late"), 300)'], { stdio: 'inherit' }).unref(); console.log('early');\n`);
    expect((await runCli('cortex-hub', [])).stdout).toBe('early\nlate\n');
  });

  it('gives up on a command that does not end, with what it printed', async () => {
    fakeProduct(`console.log('started'); setInterval(() => {}, 1000);\n`);
    await expect(runCli('cortex-hub', [], {}, { timeoutMs: 1000 })).rejects.toThrow(/still running after 1000 ms; stdout: started/);
  });
});

describe('readJsonLines', () => {
  it('leaves out a last line still being written, and refuses any other line that is not JSON', () => {
    const d = tempDir('harness');
    dirs.push(d);
    const f = path.join(d, 'x.log');
    expect(readJsonLines(f)).toEqual([]);
    fs.writeFileSync(f, '{"a":1}\n{"b":');
    expect(readJsonLines(f)).toEqual([{ a: 1 }]);
    fs.writeFileSync(f, '{"a":1}\nnot json\n{"b":2}\n');
    expect(() => readJsonLines(f)).toThrow();
  });
});
