/**
 * The desktop app end to end (Playwright's Electron driver, under Xvfb when there is no
 * display): it starts, shows the overview over the preload bridge, the page has no Node
 * (`require`, `process`), navigation away and window.open are blocked, start on login writes
 * and removes the XDG autostart entry (Linux), and quitting stops the hub cleanly. Skips with the reason printed where the Electron binary or a display is
 * missing (the browser tests cover the same UI without Electron); where Electron is installed,
 * a better-sqlite3 that cannot be built for it is a failure, not a skip (`npm start` needs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { _electron, type ElectronApplication, type Page } from 'playwright-core';
import { ROOT, readJsonLines, tempDir, waitFor } from '../helpers/procs';

function electronBinary(): string | { skip: string } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('electron') as string;
  } catch (e) {
    return { skip: `the Electron binary is not installed (${(e as Error).message.split('\n')[0]}; ELECTRON_SKIP_BINARY_DOWNLOAD was set at install)` };
  }
}

/** A display for the window: the current one, or a private Xvfb. */
function display(): { env: Record<string, string>; xvfb?: ChildProcess } | { skip: string } {
  if (process.env.DISPLAY || process.platform !== 'linux') return { env: {} };
  if (spawnSync('which', ['Xvfb']).status !== 0) return { skip: 'no display and no Xvfb (apt-get install xvfb)' };
  const n = 90 + Math.floor(Math.random() * 100);
  const xvfb = spawn('Xvfb', [`:${n}`, '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
  return { env: { DISPLAY: `:${n}` }, xvfb };
}

function prerequisites(): { binary: string; env: Record<string, string>; xvfb?: ChildProcess } | { skip: string } | { broken: string } {
  const binary = electronBinary();
  if (typeof binary !== 'string') return binary;
  const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'electron-sqlite.mjs')], { encoding: 'utf8' });
  if (built.status !== 0) return { broken: `better-sqlite3 could not be built for the installed Electron (scripts/electron-sqlite.mjs exited with ${built.status}): ${built.stderr.trim()}` };
  const d = display();
  if ('skip' in d) return d;
  return { binary, ...d };
}

const pre = prerequisites();
if ('skip' in pre) process.stderr.write(`\n[SKIPPED] Electron end-to-end test: ${pre.skip}\n\n`);

it.runIf('broken' in pre)('builds better-sqlite3 for the installed Electron', () => {
  expect.fail((pre as { broken: string }).broken);
});

describe.skipIf('skip' in pre || 'broken' in pre)('the desktop app under Electron', () => {
  let dir = '';
  let app: ElectronApplication;
  let page: Page;

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    if ('xvfb' in pre) pre.xvfb?.kill();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts the hub and shows the overview over the preload bridge', async () => {
    const { binary, env } = pre as { binary: string; env: Record<string, string> };
    dir = tempDir('electron');
    app = await _electron.launch({
      executablePath: binary,
      args: [ROOT, '--no-sandbox', '--data', path.join(dir, 'hub'), '--grpc', '127.0.0.1:0'],
      // Its own XDG config: start on login writes its autostart entry there, not in the user's.
      env: { ...process.env, ...env, XDG_CONFIG_HOME: path.join(dir, 'config') } as Record<string, string>,
    });
    page = await app.firstWindow();
    await page.getByRole('heading', { name: 'Nodes' }).waitFor({ timeout: 30_000 });
    await page.getByText('No nodes yet.').waitFor();
    expect(page.url()).toBe('app://cortex/index.html');
    fs.mkdirSync(path.join(ROOT, 'test-results', 'ui'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, 'test-results', 'ui', 'electron-overview.png') });
    expect(fs.existsSync(path.join(dir, 'hub', 'hub.json'))).toBe(true);
  });

  it('gives the page no Node and only the generic bridge', async () => {
    expect(await page.evaluate(() => typeof (window as unknown as { require?: unknown }).require)).toBe('undefined');
    expect(await page.evaluate(() => typeof (window as unknown as { process?: unknown }).process)).toBe('undefined');
    expect(await page.evaluate(() => Object.keys((window as unknown as { cortex: object }).cortex).sort())).toEqual(['invoke', 'subscribe']);
    const bad = await page.evaluate(() => (window as unknown as { cortex: { invoke(op: string, i: unknown): Promise<unknown> } }).cortex.invoke('nodes.explode', {}));
    expect(bad).toMatchObject({ ok: false, error: { code: 'UNKNOWN_OP' } });
  });

  it('blocks navigation away and new windows', async () => {
    // The main process refuses the navigation and logs it: wait for that, not for a while.
    const denied = (msg: string) => readJsonLines(path.join(dir, 'hub', 'logs', 'hub.log')).find((l) => l.msg === msg && l.url === 'https://example.com/');
    await page.evaluate(() => { location.href = 'https://example.com/'; });
    await waitFor('the navigation to be denied', () => denied('desktop.navigation-denied'), 15_000);
    expect(page.url()).toBe('app://cortex/index.html');
    expect(await page.evaluate(() => window.open('https://example.com/') === null)).toBe(true);
    await waitFor('the new window to be denied', () => denied('desktop.window-open-denied'), 15_000);
    expect(app.windows()).toHaveLength(1);
  });

  it.runIf(process.platform === 'linux')('starts on login through the XDG autostart entry, switched from the Settings', async () => {
    const entry = path.join(dir, 'config', 'autostart', 'cortex-hub.desktop');
    const set = (startOnLogin: boolean) => page.evaluate((v) => (window as unknown as { cortex: { invoke(op: string, i: unknown): Promise<unknown> } }).cortex.invoke('settings.set', { startOnLogin: v }), startOnLogin);
    expect(fs.existsSync(entry)).toBe(false);
    expect(await set(true)).toMatchObject({ ok: true, result: { startOnLogin: true } });
    await waitFor('the autostart entry', () => fs.existsSync(entry), 15_000);
    const exec = fs.readFileSync(entry, 'utf8').split('\n').find((l) => l.startsWith('Exec='));
    expect(exec).toContain(`--data ${path.join(dir, 'hub')}`);
    expect(exec).toMatch(/ --hidden$/);
    expect(await set(false)).toMatchObject({ ok: true, result: { startOnLogin: false } });
    await waitFor('the autostart entry removed', () => !fs.existsSync(entry), 15_000);
  });

  it('stops the hub cleanly on quit', async () => {
    await app.evaluate(({ app: a }) => a.quit());
    await waitFor('hub.json to be removed', () => !fs.existsSync(path.join(dir, 'hub', 'hub.json')), 15_000);
  });
});
