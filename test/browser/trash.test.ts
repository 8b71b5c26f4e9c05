/**
 * Purge to trash with undo, in real Chromium against a real `cortex-hub serve`: choose which
 * previewed mirrors to purge, see them in the Trash view with size and dates, restore one
 * (keyboard only: Enter opens the confirmation, Escape closes it, Tab and Enter confirm), purge
 * it again, empty the trash (keyboard only, after a confirmation), set the retention. The disk
 * is checked at each step. Screenshots, light and dark, go to test-results/ui/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { browserOf, launchChromium } from '../helpers/browser';
import { Hub, ROOT, snapshot, tempDir } from '../helpers/procs';

const SHOTS = path.join(ROOT, 'test-results', 'ui');
const launched = await launchChromium();
if ('skip' in launched) process.stderr.write(`\n[SKIPPED] browser trash tests: ${launched.skip}\n\n`);
afterAll(async () => {
  if ('browser' in launched) await launched.browser.close();
});

describe.skipIf('skip' in launched)('the trash in the UI', () => {
  let dir: string;
  let hub: Hub;
  let browser: Browser;
  let page: Page;
  let retired: string;
  const pageErrors: string[] = [];

  const mirrors = () => path.join(hub.dataDir, 'mirrors');
  const trashDir = () => path.join(hub.dataDir, 'trash');
  /** A screenshot in the light theme and one in the dark. */
  const shots = async (name: string) => {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: path.join(SHOTS, `${name}-dark.png`), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
  };
  const tab = (name: string) => page.getByRole('link', { name, exact: true }).click();
  const focused = () => page.evaluate(() => document.activeElement?.textContent ?? document.activeElement?.id ?? '');
  const focusedId = () => page.evaluate(() => document.activeElement?.id ?? '');
  const row = (name: string) => page.locator(`.trash-entries tr[data-mirror="${name}"]`);
  const orphan = (name: string, files: number) => {
    fs.mkdirSync(path.join(mirrors(), name, 'sub'), { recursive: true });
    for (let i = 0; i < files; i++) fs.writeFileSync(path.join(mirrors(), name, 'sub', `f${i}.txt`), `${name} ${i}\n`.repeat(50 * (i + 1)));
  };

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = tempDir('ui-trash');
    hub = await Hub.start(path.join(dir, 'hub'));
    // A retired node's mirror (as its node left it) and two unknown entries.
    retired = (await hub.addNode('decommissioned')).id;
    await hub.invoke('nodes.retire', { id: retired });
    orphan(retired, 6);
    orphan('stray-a', 3);
    orphan('stray-b', 2);
    browser = browserOf(launched);
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
    await page.goto(`${hub.info.ui}/#token=${encodeURIComponent(hub.info.adminToken)}`);
    await page.getByRole('heading', { name: 'Nodes' }).waitFor();
  });

  afterAll(async () => {
    await page?.close();
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS && dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('purges the selected mirrors of a preview into the trash; the one left out stays', async () => {
    await tab('Purges');
    await page.getByRole('button', { name: 'Preview purge' }).click();
    await page.locator('.purge-targets tbody tr').nth(2).waitFor();
    expect(await page.locator('.purge-targets tbody tr').count()).toBe(3);
    // All selected to begin with; leave stray-b out.
    expect(await page.getByRole('button', { name: /^Purge 3 mirrors/ }).isEnabled()).toBe(true);
    await page.getByLabel('Purge stray-b').uncheck();
    await page.getByText('Selected: 2 of 3').waitFor();
    await shots('purge-select');
    await page.getByRole('button', { name: /^Purge 2 mirrors/ }).click();
    await page.locator('dialog[open]').waitFor();
    expect(await page.locator('dialog[open]').innerText()).toMatch(/2 mirrors, 9 files, .* will be moved into the trash \(1 mirror of the plan kept\)\. They can be restored from the trash for 7 days/);
    await shots('purge-confirm-trash');
    await page.locator('dialog').getByRole('button', { name: /^Move .* to the trash$/ }).click();
    const result = page.getByRole('status').filter({ hasText: 'Moved to the trash' });
    await result.waitFor();
    expect(await result.locator('.purge-targets tbody tr').count()).toBe(2);
    expect(await result.locator('td[data-trash-id]').first().innerText()).toMatch(/^tr-[0-9a-f]{16}$/);
    expect(await result.locator('.purge-skipped tr[data-why="unselected"]').innerText()).toContain('stray-b');
    expect(fs.readdirSync(mirrors()).sort()).toEqual(['stray-b']);
    expect(fs.readdirSync(trashDir())).toHaveLength(2);
  });

  it('lists the trash with size and dates; restores the retired node\'s mirror from the keyboard (Escape cancels, Tab and Enter confirm)', async () => {
    const entryDir = fs.readdirSync(trashDir()).find((id) => fs.existsSync(path.join(trashDir(), id, retired)))!;
    const before = snapshot(path.join(trashDir(), entryDir, retired));
    await tab('Trash');
    await row(retired).waitFor();
    expect(await page.locator('.trash-entries tbody tr').count()).toBe(2);
    expect(await row(retired).innerText()).toContain('decommissioned');
    expect(await row(retired).locator('td').nth(1).innerText()).toBe('6');
    await page.locator('[data-trash-bytes]').filter({ hasNotText: /^0 B$/ }).waitFor();
    await shots('trash');

    const restore = row(retired).getByRole('button', { name: `Restore ${retired}` });
    await restore.focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').waitFor();
    expect(await focused()).toBe('Cancel');
    expect(await page.locator('dialog[open]').innerText()).toMatch(new RegExp(`back to .*mirrors/${retired} as an orphan \\(its node is retired\\)`));
    await shots('trash-restore-confirm');
    await page.keyboard.press('Escape');
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    expect(fs.existsSync(path.join(mirrors(), retired))).toBe(false);

    await restore.focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').waitFor();
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Restore');
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Restored the mirror of node "decommissioned"' }).waitFor();
    await row(retired).waitFor({ state: 'detached' });
    expect(snapshot(path.join(mirrors(), retired))).toEqual(before);
    expect(fs.existsSync(path.join(trashDir(), entryDir))).toBe(false);
    await shots('trash-restored');
  });

  it('purges the restored mirror again', async () => {
    await tab('Purges');
    await page.getByRole('button', { name: 'Preview purge' }).click();
    await page.locator(`.purge-targets tr[data-mirror="${retired}"]`).waitFor();
    await page.getByLabel('Purge stray-b').uncheck();
    await page.getByRole('button', { name: /^Purge 1 mirror/ }).click();
    await page.locator('dialog').getByRole('button', { name: /^Move .* to the trash$/ }).click();
    await page.getByRole('status').filter({ hasText: 'Moved to the trash' }).waitFor();
    expect(fs.existsSync(path.join(mirrors(), retired))).toBe(false);
    await page.getByRole('link', { name: 'trash', exact: true }).click();
    await row(retired).waitFor();
    expect(await page.locator('.trash-entries tbody tr').count()).toBe(2);
  });

  it('empties the trash from the keyboard after a confirmation (Escape cancels; an age that matches nothing disables it)', async () => {
    const button = page.getByRole('button', { name: 'Empty trash…' });
    await button.focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').waitFor();
    expect(await focusedId()).toBe('trash-older-than');
    expect(await page.locator('dialog[open]').innerText()).toMatch(/2 mirrors, 9 files, .* will be deleted for good\. This cannot be undone\./);
    await shots('trash-empty-confirm');
    await page.keyboard.press('Escape');
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    expect(fs.readdirSync(trashDir())).toHaveLength(2);

    await button.focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').waitFor();
    // Enter in the field empties nothing; an age no entry has reaches nothing.
    await page.keyboard.type('3');
    await page.keyboard.press('Enter');
    expect(await page.locator('dialog[open]').innerText()).toMatch(/0 mirrors, 0 files, 0 B will be deleted/);
    expect(await page.locator('dialog[open]').getByRole('button', { name: 'Empty trash' }).isDisabled()).toBe(true);
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Cancel');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Empty trash');
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Emptied 2 mirrors' }).waitFor();
    await page.getByText('The trash is empty.').waitFor();
    expect(fs.readdirSync(trashDir())).toEqual([]);
    expect(fs.readdirSync(mirrors())).toEqual(['stray-b']);
    expect((await hub.status()).trashBytes).toBe(0);
    await page.locator('[data-trash-bytes="0"]').waitFor();
    await shots('trash-empty');
  });

  it('sets the retention in the settings (saved on Enter, not per keystroke) and shows the trash size', async () => {
    await tab('Settings');
    const field = page.getByLabel('Trash retention (days)');
    await expect.poll(() => field.inputValue()).toBe('7'); // once the settings are loaded
    await field.fill('14');
    expect((await hub.invoke('settings.get', {})).trashRetentionDays).toBe(7);
    await field.press('Enter');
    await page.getByText('Saved.').waitFor();
    expect((await hub.invoke('settings.get', {})).trashRetentionDays).toBe(14);
    await field.fill('0');
    await page.getByRole('alert').filter({ hasText: 'A whole number of days, 1 to 3650.' }).waitFor();
    await field.press('Enter');
    expect((await hub.invoke('settings.get', {})).trashRetentionDays).toBe(14);
    await field.fill('14');
    await page.locator('.facts').getByText('Trash').waitFor();
    await shots('settings-trash');
  });

  it('ran without page errors or CSP violations', () => {
    expect(pageErrors).toEqual([]);
  });
});
