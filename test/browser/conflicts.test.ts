/**
 * Conflicts in the panel, in real Chromium against a real `cortex-hub serve` and `cortex-node`:
 * new conflicts raise a toast and the page event while the page is open; the Conflicts view
 * lists them; the resolve dialog shows both versions and the line diff, and works from the
 * keyboard alone (Enter opens it, Escape closes it changing nothing, arrows choose, Enter
 * resolves); resolving from the Conflicts view and from the node detail reaches both trees.
 * Screenshots, light and dark, go to test-results/ui/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { isConflictCopy } from '../../main/sync/reconcile';
import { browserOf, launchChromium } from '../helpers/browser';
import { Hub, Node, ROOT, snapshot, tempDir, waitConverged, waitFor } from '../helpers/procs';

const SHOTS = path.join(ROOT, 'test-results', 'ui');
const launched = await launchChromium();
if ('skip' in launched) process.stderr.write(`\n[SKIPPED] browser conflict tests: ${launched.skip}\n\n`);
afterAll(async () => {
  if ('browser' in launched) await launched.browser.close();
});

describe.skipIf('skip' in launched)('conflicts in the panel, in Chromium', () => {
  let dir: string;
  let ws: string;
  let hub: Hub;
  let node: Node | undefined;
  let id: string;
  let join: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  const put = (root: string, rel: string, text: string, mtime: Date) => {
    const target = path.join(root, rel);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = path.join(dir, `w-${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(tmp, text);
    fs.utimesSync(tmp, mtime, mtime);
    fs.renameSync(tmp, target);
  };
  const copies = (root: string) => [...snapshot(root).keys()].filter(isConflictCopy).sort();
  const converged = (what: string) => waitConverged(what, hub, id, ws, hub.mirror(id), (p) => p === '.metadata.json');
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const dialogShot = (name: string) => page.locator('dialog[open]').screenshot({ path: path.join(SHOTS, `${name}.png`) });
  const active = () => page.evaluate(() => {
    const e = document.activeElement as HTMLInputElement | null;
    return e ? `${e.tagName.toLowerCase()}${e.type ? `[${e.type}]` : ''}${e.value ? `=${e.value}` : ''}` : '';
  });

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = tempDir('ui-conflicts');
    ws = path.join(dir, 'ws');
    const old = new Date(Date.now() - 120_000);
    put(ws, 'notes.md', 'Meeting notes\n\n- ship the panel\n- write the tests\n\nend\n', old);
    put(ws, 'docs/plan.md', 'plan v1\n', old);
    hub = await Hub.start(path.join(dir, 'hub'));
    ({ id, join } = await hub.addNode('delta'));
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    await converged('the first sync');
    browser = browserOf(launched);
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
    await page.goto(`${hub.info.ui}/#token=${encodeURIComponent(hub.info.adminToken)}`);
    await page.locator('tr[data-node-name="delta"][data-state="in-sync"]').waitFor({ timeout: 60_000 });
  });

  afterAll(async () => {
    await page?.close();
    await node?.stop();
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS && dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('tells of new conflicts with a toast and a page event while the page is open', async () => {
    await page.evaluate(() => {
      const w = window as unknown as { alerts: unknown[] };
      w.alerts = [];
      window.addEventListener('cortex-hub:new-conflicts', (e) => w.alerts.push(...(e as CustomEvent<unknown[]>).detail));
    });
    // Both sides change both files while the node is away; the node's edits are newer.
    await node!.stop();
    node = undefined;
    await hub.waitState(id, 'disconnected');
    const earlier = new Date(Date.now() - 60_000);
    const later = new Date(Date.now() - 1000);
    put(hub.mirror(id), 'notes.md', 'Meeting notes\n\n- ship the panel (hub)\n- write the tests\n- review\n\nend\n', earlier);
    put(hub.mirror(id), 'docs/plan.md', 'plan v2 from the hub\n', earlier);
    await waitFor('the hub-side edits queued', async () => (await hub.node(id)).toNodeFiles === 2, 30_000);
    put(ws, 'notes.md', 'Meeting notes\n\n- ship the panel (node)\n- write the tests\n\nend\n', later);
    put(ws, 'docs/plan.md', 'plan v2 from the node\n', later);
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    await converged('both versions on both sides');
    expect(copies(ws)).toHaveLength(2);
    const toast = page.locator('[data-toast="conflicts"]').first();
    await toast.waitFor({ timeout: 30_000 });
    expect(await toast.innerText()).toMatch(/^\d+ new conflicts? on delta\nBoth versions were kept; the Conflicts view compares them\./);
    const alerts = await page.evaluate(() => (window as unknown as { alerts: { nodeId: string; added: number }[] }).alerts);
    expect(alerts.every((a) => a.nodeId === id)).toBe(true);
    expect(alerts.reduce((n, a) => n + a.added, 0)).toBe(2);
    await shot('conflicts-toast');
    await toast.getByRole('button', { name: 'Show conflicts' }).click();
    await page.getByRole('heading', { name: 'Conflicts', level: 1 }).waitFor();
  });

  it('lists the conflicts, and the resolve dialog shows both versions and works from the keyboard alone', async () => {
    const table = page.locator('table.conflicts[data-rows="2"]');
    await table.waitFor({ timeout: 30_000 });
    const notesCopy = copies(ws).find((p) => p.startsWith('notes.'))!;
    const row = page.locator(`tr[data-copy="${notesCopy}"]`);
    expect(await row.innerText()).toContain('notes.md');
    expect(await row.innerText()).toContain('the hub');
    await shot('conflicts');

    // Enter on the row's button opens the dialog; the focus is on the safe choice ("both").
    await row.getByRole('button', { name: `Resolve ${notesCopy}` }).focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog[open] table.diff').waitFor();
    expect(await active()).toBe('input[radio]=both');
    const diff = await page.locator('dialog[open] table.diff').innerText();
    expect(diff).toMatch(/−\s*- ship the panel \(node\)/);
    expect(diff).toMatch(/\+\s*- ship the panel \(hub\)/);
    expect(diff).toMatch(/\+\s*- review/);
    const facts = await page.locator('dialog[open] .versions').innerText();
    expect(facts).toMatch(/Winner, from the node/);
    expect(facts).toMatch(/Conflict copy, from the hub/);
    expect(facts).toMatch(/[0-9a-f]{64}/);
    await dialogShot('conflict-resolve');
    await page.emulateMedia({ colorScheme: 'dark' });
    await dialogShot('conflict-resolve-dark');

    // Escape closes it, changing nothing; the focus goes back to the button.
    await page.keyboard.press('Escape');
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    expect(fs.existsSync(path.join(ws, notesCopy))).toBe(true);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe(`Resolve ${notesCopy}`);
    await shot('conflicts-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    // Again: arrows choose "this version" (the winner), Enter resolves.
    await page.keyboard.press('Enter');
    await page.locator('dialog[open] table.diff').waitFor();
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    expect(await active()).toBe('input[radio]=winner');
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'Kept notes.md; the conflict copy is deleted on both sides.' }).waitFor();
    await waitFor('the copy gone from the node', () => !fs.existsSync(path.join(ws, notesCopy)), 30_000, 50);
    await converged('the winner kept on both sides');
    expect(fs.readFileSync(path.join(ws, 'notes.md'), 'utf8')).toContain('(node)');
    await page.locator('table.conflicts[data-rows="1"]').waitFor({ timeout: 30_000 });
  });

  it('resolves from the node detail: keep both, the copy an ordinary file on both sides', async () => {
    await page.getByRole('link', { name: 'Nodes' }).click();
    await page.locator('tr[data-node-name="delta"]').getByRole('link', { name: 'delta' }).click();
    const planCopy = copies(ws).find((p) => p.startsWith('docs/plan.'))!;
    const row = page.locator(`table.conflicts tr[data-copy="${planCopy}"]`);
    await row.waitFor({ timeout: 30_000 });
    await shot('node-detail-conflicts');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('node-detail-conflicts-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await row.getByRole('button', { name: `Resolve ${planCopy}` }).focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog[open] .versions').waitFor();
    expect(await active()).toBe('input[radio]=both');
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Kept both' }).waitFor();
    await waitFor('the copy gone from the node', () => !fs.existsSync(path.join(ws, planCopy)), 30_000, 50);
    await converged('both kept on both sides');
    const kept = 'docs/plan (hub copy ' + planCopy.match(/(\d{8}-\d{6})/)![1] + ').md';
    for (const root of [ws, hub.mirror(id)]) {
      expect(fs.readFileSync(path.join(root, kept), 'utf8')).toBe('plan v2 from the hub\n');
      expect(fs.readFileSync(path.join(root, 'docs/plan.md'), 'utf8')).toBe('plan v2 from the node\n');
    }
    expect(copies(ws)).toEqual([]);
    await page.getByText('No conflicts.', { exact: false }).first().waitFor();
    await expect.poll(() => page.locator('.facts').innerText()).toMatch(/Conflicts\s+0 conflict copies/);
  });

  it('ran without page errors or CSP violations', () => {
    expect(pageErrors).toEqual([]);
  });
});
