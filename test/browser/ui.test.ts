/**
 * The UI in real Chromium against a real `cortex-hub serve` with real `cortex-node`s on
 * loopback: overview, live progress, a killed node, adding a node from the UI and using its
 * join string, node detail, retire, purge preview → purge → history, logs, settings. A
 * screenshot of each view goes to test-results/.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { browserOf, launchChromium } from '../helpers/browser';
import { Hub, Node, ROOT, generateWorkspace, runCli, tempDir, waitFor } from '../helpers/procs';

const SHOTS = path.join(ROOT, 'test-results', 'ui');
const launched = await launchChromium();
if ('skip' in launched) process.stderr.write(`\n[SKIPPED] browser UI tests: ${launched.skip}\n\n`);
afterAll(async () => {
  if ('browser' in launched) await launched.browser.close();
});

describe.skipIf('skip' in launched)('desktop UI in Chromium over the WebSocket API', () => {
  let dir: string;
  let hub: Hub;
  let browser: Browser;
  let page: Page;
  const nodes: Node[] = [];
  const ids: Record<string, string> = {};
  const workspaces: Record<string, string> = {};
  const pageErrors: string[] = [];

  const row = (name: string) => page.locator(`tr[data-node-name="${name}"]`);
  /** Waits for a row's state; on timeout says what the page and the hub showed. */
  const waitRow = async (name: string, state: string, timeout = 60_000) => {
    try {
      await row(name).and(page.locator(`[data-state="${state}"]`)).waitFor({ timeout });
    } catch (e) {
      const shown = await row(name).getAttribute('data-state', { timeout: 1000 }).catch(() => '(no row)');
      const hubSays = ids[name] ? (await hub.node(ids[name]!).catch(() => null))?.state : '(unknown id)';
      throw new Error(`row ${name}: waited for ${state}; the page shows ${shown}, the hub says ${hubSays}: ${(e as Error).message.split('\n')[0]}`);
    }
  };
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const startNode = (name: string, join: string) => {
    const ws = path.join(dir, `ws-${name}`);
    if (!fs.existsSync(ws)) generateWorkspace(ws, { files: 40, seed: name.charCodeAt(0) });
    workspaces[name] = ws;
    const n = Node.start(join, ws, path.join(dir, `state-${name}`));
    nodes.push(n);
    return n;
  };

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = tempDir('ui');
    hub = await Hub.start(path.join(dir, 'hub'));
    for (const name of ['alpha', 'beta']) {
      const { id, join } = await hub.addNode(name);
      ids[name] = id;
      startNode(name, join);
    }
    browser = browserOf(launched);
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
    await page.goto(`${hub.info.ui}/#token=${encodeURIComponent(hub.info.adminToken)}`);
  });

  afterAll(async () => {
    await page?.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS && dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shows both nodes reaching in-sync, and takes the token out of the address bar', async () => {
    await waitRow('alpha', 'in-sync');
    await waitRow('beta', 'in-sync');
    expect(page.url()).not.toContain('token');
    await expect.poll(() => row('alpha').locator('td').nth(3).innerText()).not.toBe('0');
    await shot('overview');
  });

  it('shows a big new file as progress, then in-sync again', async () => {
    // Record every state the row shows and whether a progress bar appeared, from the page itself.
    await page.evaluate(() => {
      const w = window as unknown as { seen: { states: string[]; progress: boolean } };
      w.seen = { states: [], progress: false };
      const check = () => {
        const tr = document.querySelector('tr[data-node-name="alpha"]');
        const st = tr?.getAttribute('data-state');
        if (st && w.seen.states[w.seen.states.length - 1] !== st) w.seen.states.push(st);
        if (tr?.querySelector('[role="progressbar"]')) w.seen.progress = true;
      };
      new MutationObserver(check).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    // 192 MiB of distinct blocks (random bytes: nothing to reuse), written in one go.
    const big = path.join(workspaces.alpha!, 'big.bin');
    const fd = fs.openSync(big, 'w');
    const chunk = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < 24; i++) fs.writeSync(fd, crypto.randomFillSync(chunk));
    fs.closeSync(fd);
    await page.locator('tr[data-node-name="alpha"] [role="progressbar"]').waitFor({ timeout: 60_000 });
    await shot('overview-progress');
    await waitRow('alpha', 'in-sync', 120_000);
    const seen = await page.evaluate(() => (window as unknown as { seen: { states: string[]; progress: boolean } }).seen);
    expect(seen.progress).toBe(true);
    expect(seen.states).toContain('syncing');
    expect(seen.states[seen.states.length - 1]).toBe('in-sync');
    expect(fs.statSync(path.join(hub.mirror(ids.alpha!), 'big.bin')).size).toBe(24 * chunk.length);
  });

  it('turns a killed node disconnected', async () => {
    await nodes[1]!.kill();
    await waitRow('beta', 'disconnected', 30_000);
  });

  it('adds a node from the dialog; the join string it shows works', async () => {
    await page.getByRole('button', { name: 'Add node', exact: true }).click();
    await page.getByLabel('Name').fill('gamma');
    await shot('add-node');
    await page.locator('dialog').getByRole('button', { name: 'Add node' }).click();
    const join = await page.locator('#join-string').inputValue();
    expect(join.length).toBeGreaterThan(40);
    await shot('add-node-join');
    await page.getByRole('button', { name: 'Done' }).click();
    startNode('gamma', join);
    await waitRow('gamma', 'in-sync');
  });

  it('filters and sorts the overview', async () => {
    await page.getByLabel('Filter nodes').fill('gam');
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await page.getByLabel('Filter nodes').fill('');
    await page.getByRole('button', { name: /^Node/ }).click(); // name, descending
    await expect.poll(() => page.locator('tbody tr').first().getAttribute('data-node-name')).toBe('gamma');
  });

  it('shows a node in detail with its lock and conflict copies, and retires it after a confirmation', async () => {
    fs.writeFileSync(path.join(hub.mirror(ids.beta!), '.metadata.json'), JSON.stringify({ immutable: ['docs/**', '*.lock'] }));
    // A conflict copy (here made on the hub's side): counted in the overview, listed in the detail, sent to the node.
    const copy = 'notes.sync-conflict-20261125-120000-hub.md';
    fs.writeFileSync(path.join(hub.mirror(ids.beta!), copy), 'the losing version\n');
    await expect.poll(() => row('beta').locator('td').nth(7).innerText(), { timeout: 30_000 }).toBe('1');
    await row('beta').getByRole('link', { name: 'beta' }).click();
    await page.locator('.locks').filter({ hasText: 'docs/**' }).waitFor();
    await page.locator('table.conflicts').getByText(copy).waitFor();
    // beta was killed above: the copy waits for it.
    await expect.poll(() => page.locator('.facts').innerText()).toMatch(/Pending to node\s+1 change · 19 B/);
    await expect.poll(() => page.locator('.facts').innerText()).toMatch(/Conflicts\s+1 conflict copy/);
    await page.getByRole('heading', { name: 'beta' }).waitFor();
    await expect.poll(() => page.locator('.facts').innerText()).toContain(hub.mirror(ids.beta!));
    await page.locator('table.events').getByText('Added as “beta”.').waitFor();
    await shot('node-detail');
    await page.getByRole('button', { name: 'Retire node…' }).click();
    await shot('node-retire-confirm');
    await page.locator('dialog').getByRole('button', { name: 'Retire' }).click();
    await page.locator('.badge[data-state="retired"]').waitFor();
  });

  it('previews a purge of the retired mirror, purges exactly that plan on confirmation, and lists it in the history', async () => {
    const mirror = hub.mirror(ids.beta!);
    expect(fs.existsSync(mirror)).toBe(true);
    await page.getByRole('link', { name: 'Purges' }).click();
    await page.getByText('No purge has run on this hub.').waitFor();
    await page.getByRole('button', { name: 'Preview purge' }).click();
    const target = page.locator(`.purge-targets tr[data-mirror="${ids.beta}"]`);
    await target.waitFor();
    expect(await page.locator('.purge-targets tbody tr').count()).toBe(1);
    const previewFiles = await target.locator('td').nth(3).innerText(); // after the checkbox, the mirror and why
    const planId = await page.locator('[data-plan-id]').innerText();
    expect(planId).toMatch(/^pp-/);
    await shot('purge-preview');
    // An orphan that appears after the preview is not in the plan the confirmation runs.
    const late = path.join(hub.dataDir, 'mirrors', 'appeared-after-preview');
    fs.mkdirSync(late);
    await page.getByRole('button', { name: /^Purge 1 mirror/ }).click();
    await shot('purge-confirm');
    await page.locator('dialog').getByRole('button', { name: /^Move .* to the trash$/ }).click();
    await page.getByRole('status').filter({ hasText: 'Moved to the trash' }).waitFor();
    // What the preview listed is what went, and only that.
    expect(await page.locator(`.result tr[data-mirror="${ids.beta}"] td`).nth(2).innerText()).toBe(previewFiles);
    expect(await page.locator('.result .purge-targets tbody tr').count()).toBe(1);
    await page.locator('.purge-history tbody tr').filter({ hasText: ids.beta! }).filter({ hasText: planId }).waitFor();
    expect(fs.existsSync(mirror)).toBe(false);
    expect(fs.existsSync(late)).toBe(true);
    expect(fs.existsSync(hub.mirror(ids.alpha!))).toBe(true);
    expect((await hub.invoke('purge.history', { limit: 1 }))[0]!.data).toMatchObject({ planId, targets: [expect.objectContaining({ id: ids.beta })] });
    fs.rmdirSync(late);
    await shot('purges');
  });

  it('shows recent log entries and filters them by level', async () => {
    await page.getByRole('link', { name: 'Logs' }).click();
    await page.locator('table.logs tbody tr').first().waitFor();
    await expect.poll(() => page.locator('table.logs').innerText()).toContain('purge.done');
    await shot('logs');
    // A warning to show (a refused second "alpha"): the filter must show it, and only warnings
    // and worse; an empty table would prove nothing.
    await expect(hub.invoke('nodes.add', { name: 'alpha' })).rejects.toThrow(/alpha/);
    await page.getByLabel('Level').selectOption('warn');
    await expect.poll(async () => {
      const levels = await page.locator('table.logs .level').allInnerTexts();
      const shown = await page.locator('table.logs').innerText().catch(() => '');
      return shown.includes('node.add_refused') && levels.every((l) => l === 'warn' || l === 'error') ? 'the warning, and nothing milder' : `levels shown: ${JSON.stringify([...new Set(levels)])}`;
    }).toBe('the warning, and nothing milder');
  });

  it('changes a setting and shows the hub facts', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByLabel('Log file level').selectOption('debug');
    await page.getByText('Saved.').waitFor();
    expect((await hub.invoke('settings.get', {})).logLevel).toBe('debug');
    expect(await page.getByLabel('Modes in mirrors').inputValue()).toBe('private');
    await page.getByLabel('Modes in mirrors').selectOption('exact');
    await expect.poll(async () => (await hub.invoke('settings.get', {})).mirrorModes).toBe('exact');
    await page.getByLabel('Modes in mirrors').selectOption('private');
    await expect.poll(async () => (await hub.invoke('settings.get', {})).mirrorModes).toBe('private');
    await expect.poll(() => page.locator('.facts').innerText()).toContain(hub.info.fingerprint);
    await shot('settings');
  });

  it('works from the keyboard alone: tab to Add node, Enter opens the dialog, Escape closes it', async () => {
    await page.getByRole('link', { name: 'Nodes' }).click();
    await page.getByRole('heading', { name: 'Nodes' }).waitFor();
    await page.getByLabel('Filter nodes').focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Add node');
    await page.keyboard.press('Enter');
    await page.getByLabel('Name').waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('node-name');
    await page.keyboard.press('Escape');
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    // Column headers sort with Enter as well.
    await page.getByRole('button', { name: /^Files/ }).focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('th[aria-sort="descending"]').innerText()).toMatch(/^Files/);
  });

  it('follows the OS dark theme', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe('rgb(20, 23, 27)');
    await shot('overview-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(255, 255, 255)');
  });

  it('ran without page errors or CSP violations', () => {
    expect(pageErrors).toEqual([]);
  });
});

describe.skipIf('skip' in launched)('browser sign-in', () => {
  it('asks for the token, refuses a wrong one, accepts the right one', async () => {
    const dir = tempDir('ui-login');
    const hub = await Hub.start(path.join(dir, 'hub'));
    const page = await browserOf(launched).newPage();
    try {
      await page.goto(hub.info.ui);
      await page.getByLabel('Admin token').fill('not-the-token');
      await page.getByRole('button', { name: 'Open' }).click();
      await page.getByText('did not accept this admin token').waitFor();
      await page.screenshot({ path: path.join(SHOTS, 'login.png') });
      await page.getByLabel('Admin token').fill(hub.info.adminToken);
      await page.getByRole('button', { name: 'Open' }).click();
      await page.getByText('No nodes yet.').waitFor();
      await page.screenshot({ path: path.join(SHOTS, 'overview-empty.png') });
      await waitFor('no token in the address bar', async () => !page.url().includes('token'));
    } finally {
      await page.close();
      await hub.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf('skip' in launched)('browser sign-in when the admin token changes', () => {
  it('says "signed out" at once and offers the sign-in form, instead of retrying with a dead token; a restart with the same token reconnects', async () => {
    const dir = tempDir('ui-token');
    const data = path.join(dir, 'hub');
    let hub = await Hub.start(data);
    const port = new URL(hub.info.ui).port;
    const restart = async () => {
      hub = await Hub.start(data, { extra: ['--ui', `127.0.0.1:${port}`] });
    };
    const page = await browserOf(launched).newPage();
    const wsRefusals = () => hub.logLines().filter((l) => l.msg === 'api.refused' && l.transport === 'ws' && l.status === 401).length;
    try {
      await page.goto(`${hub.info.ui}/#token=${encodeURIComponent(hub.info.adminToken)}`);
      await page.getByText('No nodes yet.').waitFor();

      // 1. Rotated while the page is open: signed out at once (the hub closes its socket).
      const rotated = await runCli('cortex-hub', ['token', 'rotate', '--json', '--data', data]);
      expect(rotated.code, rotated.stderr).toBe(0);
      const fresh = (JSON.parse(rotated.stdout) as { token: string }).token;
      const t0 = Date.now();
      await page.getByRole('alert').filter({ hasText: 'Signed out: the admin token changed.' }).waitFor({ timeout: 5000 });
      expect(Date.now() - t0).toBeLessThan(3000);
      await page.getByLabel('Admin token').waitFor();
      await page.screenshot({ path: path.join(SHOTS, 'signed-out.png') });
      expect(wsRefusals()).toBe(0);
      await page.getByLabel('Admin token').fill(fresh);
      await page.getByRole('button', { name: 'Open' }).click();
      await page.getByText('No nodes yet.').waitFor();

      // 2. A restart keeps the token: the page reconnects by itself, still signed in.
      expect(await hub.stop()).toBe(0);
      await page.getByText('The connection to the hub is lost').waitFor();
      await restart();
      await page.getByText('The connection to the hub is lost').waitFor({ state: 'detached', timeout: 20_000 });
      await page.getByText('No nodes yet.').waitFor();
      expect(await page.getByLabel('Admin token').count()).toBe(0);

      // 3. Rotated while the hub was down: after the restart the upgrade is refused, and the
      // page finds out why over HTTP and signs out instead of retrying.
      expect(await hub.stop()).toBe(0);
      const offline = await runCli('cortex-hub', ['token', 'rotate', '--json', '--data', data]);
      expect(offline.code, offline.stderr).toBe(0);
      expect((JSON.parse(offline.stdout) as { hubRunning: boolean }).hubRunning).toBe(false);
      await restart();
      await page.getByRole('alert').filter({ hasText: 'Signed out: the admin token changed.' }).waitFor({ timeout: 20_000 });
      const refusedAtSignOut = wsRefusals();
      expect(refusedAtSignOut).toBeGreaterThanOrEqual(1);
      await page.getByLabel('Admin token').fill((JSON.parse(offline.stdout) as { token: string }).token);
      await page.getByRole('button', { name: 'Open' }).click();
      await page.getByText('No nodes yet.').waitFor();
      // No retries with the dead token meanwhile.
      expect(wsRefusals()).toBe(refusedAtSignOut);
      await waitFor('no token in the address bar', async () => !page.url().includes('token'));
    } finally {
      await page.close();
      await hub.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
