/**
 * Pause, resume and rescan in the UI, in real Chromium against a real `cortex-hub serve` and a
 * real `cortex-node`: the overview's Pause all (a confirmation dialog, keyboard only: focus,
 * Escape, Enter) and Resume all; the node detail's Pause/Resume (keyboard) with the paused note,
 * and Rescan with what each side found. The hub's status is checked beside the page. Screenshots,
 * light and dark, in test-results/ui/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { browserOf, launchChromium } from '../helpers/browser';
import { Hub, Node, ROOT, generateWorkspace, tempDir } from '../helpers/procs';

const SHOTS = path.join(ROOT, 'test-results', 'ui');
const launched = await launchChromium();
if ('skip' in launched) process.stderr.write(`\n[SKIPPED] browser pause test: ${launched.skip}\n\n`);
afterAll(async () => {
  if ('browser' in launched) await launched.browser.close();
});

describe.skipIf('skip' in launched)('pause, resume and rescan in the UI', () => {
  const dir = tempDir('ui-pause');
  let hub: Hub;
  const nodes: Node[] = [];
  const ids: Record<string, string> = {};
  let page: Page;
  const pageErrors: string[] = [];

  const row = (name: string) => page.locator(`tr[data-node-name="${name}"]`);
  const waitRow = (name: string, state: string, timeout = 60_000) => row(name).and(page.locator(`[data-state="${state}"]`)).waitFor({ timeout });
  /** A screenshot in the light theme and one in the dark. */
  const shots = async (name: string) => {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: path.join(SHOTS, `${name}-dark.png`), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
  };

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    hub = await Hub.start(path.join(dir, 'hub'));
    for (const name of ['north', 'south']) {
      const added = await hub.addNode(name);
      ids[name] = added.id;
      const ws = path.join(dir, `ws-${name}`);
      generateWorkspace(ws, { files: 25, seed: name.length });
      nodes.push(Node.start(added.join, ws, path.join(dir, `state-${name}`)));
    }
    page = await browserOf(launched).newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
    await page.goto(`${hub.info.ui}/#token=${encodeURIComponent(hub.info.adminToken)}`);
    await waitRow('north', 'in-sync');
    await waitRow('south', 'in-sync');
  });

  afterAll(async () => {
    await page?.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('Pause all from the keyboard: the dialog takes focus, Escape cancels, Enter confirms; Resume all', async () => {
    const pauseAll = page.getByRole('button', { name: 'Pause all…' });
    await pauseAll.focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Pause all nodes');
    await shots('pause-all-dialog');
    await page.keyboard.press('Escape');
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    // Cancelled: nothing was paused.
    expect((await hub.status()).nodes.map((n) => n.pausedAt)).toEqual([null, null]);
    await pauseAll.focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').waitFor();
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    await waitRow('north', 'paused', 10_000);
    await waitRow('south', 'paused', 10_000);
    expect((await hub.status()).nodes.map((n) => n.state)).toEqual(['paused', 'paused']);
    await expect.poll(() => page.locator('.paused-count').innerText()).toBe('2 paused');
    // Everything is paused: only Resume all is offered.
    expect(await pauseAll.count()).toBe(0);
    await shots('overview-paused');
    await page.getByRole('button', { name: 'Resume all' }).click();
    await waitRow('north', 'in-sync');
    await waitRow('south', 'in-sync');
    expect((await hub.status()).nodes.map((n) => n.pausedAt)).toEqual([null, null]);
  });

  it('the node detail pauses and resumes one node from the keyboard, saying what pausing means', async () => {
    await row('north').locator('a').click();
    await page.getByRole('heading', { name: 'north' }).waitFor();
    const pause = page.getByRole('button', { name: 'Pause', exact: true });
    await pause.focus();
    await page.keyboard.press('Enter');
    await page.locator('[data-state="paused"]').first().waitFor({ timeout: 10_000 });
    await expect.poll(async () => (await hub.node(ids.north!)).state).toBe('paused');
    expect((await hub.node(ids.south!)).state).toBe('in-sync');
    const note = page.locator('.paused-note');
    await expect.poll(() => note.innerText()).toMatch(/^Paused .*: nothing flows either way\./);
    await shots('node-paused');
    const resume = page.getByRole('button', { name: 'Resume', exact: true });
    await resume.focus();
    await page.keyboard.press('Enter');
    await page.locator('.badge[data-state="in-sync"]').waitFor({ timeout: 60_000 });
    expect(await note.count()).toBe(0);
    expect((await hub.node(ids.north!)).pausedAt).toBeNull();
  });

  it('Rescan shows what each side found', async () => {
    await page.getByRole('button', { name: 'Rescan', exact: true }).click();
    const result = page.getByRole('status', { name: 'Rescan result' });
    await result.waitFor({ timeout: 60_000 });
    const cells = async (side: string) => result.locator('tr', { has: page.locator('th', { hasText: side }) }).locator('td').allInnerTexts();
    const files = (await hub.node(ids.north!)).files;
    for (const side of ['Mirror (hub)', 'Workspace (node)']) {
      const c = await cells(side);
      expect(c, side).toHaveLength(6);
      expect(Number(c[0]!.replace(/\D/g, '')), `${side} scanned`).toBeGreaterThanOrEqual(files);
      expect(c[1], `${side} new or changed`).toBe('0');
    }
    await expect.poll(() => result.locator('caption').innerText()).toMatch(/0 failed changes tried again/);
    const event = (await hub.invoke('events.list', { nodeId: ids.north!, kind: 'node.rescan' }) as unknown as { data: { node: unknown } }[])[0];
    expect(event?.data.node).not.toBeNull();
    await shots('node-rescan');
  });

  it('ran without page errors or CSP violations', () => {
    expect(pageErrors).toEqual([]);
  });
});
