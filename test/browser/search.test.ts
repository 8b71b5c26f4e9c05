/**
 * Search across mirrors in real Chromium against a real `cortex-hub serve` with a real
 * cortex-node: `/` focuses the header's search box, Enter shows the results (every hit a link
 * to its path's history and its node), arrow keys walk the results and back to the box, short
 * and hostile queries get a sane answer, the node filter narrows. Keyboard only. Screenshots,
 * light and dark, go to test-results/ui/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { browserOf, launchChromium } from '../helpers/browser';
import { Hub, Node, ROOT, tempDir } from '../helpers/procs';

const SHOTS = path.join(ROOT, 'test-results', 'ui');
const launched = await launchChromium();
if ('skip' in launched) process.stderr.write(`\n[SKIPPED] browser search tests: ${launched.skip}\n\n`);
afterAll(async () => {
  if ('browser' in launched) await launched.browser.close();
});

const FILES = ['reports/2026/q1-report.pdf', 'reports/2026/q2-report.pdf', 'src/report_builder.ts', 'README.md', 'notes/report.sync-conflict-20260101-101010-hub.txt', 'rx.txt'];

describe.skipIf('skip' in launched)('search across mirrors in the UI', () => {
  let dir: string;
  let hub: Hub;
  let node: Node;
  let id: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  const shots = async (name: string) => {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: path.join(SHOTS, `${name}-dark.png`), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
  };
  const focusedId = () => page.evaluate(() => document.activeElement?.id ?? '');
  const focusedText = () => page.evaluate(() => document.activeElement?.textContent ?? '');
  const hits = () => page.locator('table.search-hits tbody tr');
  const search = async (q: string) => {
    await page.locator('body').focus();
    await page.keyboard.press('Escape');
    await page.keyboard.press('/');
    expect(await focusedId()).toBe('path-search');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(q);
    await page.keyboard.press('Enter');
    await page.waitForFunction((query) => decodeURIComponent(location.hash) === `#/search/${query}`, q);
  };

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = tempDir('ui-search');
    hub = await Hub.start(path.join(dir, 'hub'));
    const added = await hub.addNode('archive-box');
    id = added.id;
    const ws = path.join(dir, 'ws');
    for (const f of FILES) {
      fs.mkdirSync(path.dirname(path.join(ws, f)), { recursive: true });
      fs.writeFileSync(path.join(ws, f), `${f}\n`.repeat(40));
    }
    node = Node.start(added.join, ws, path.join(dir, 'state'));
    await hub.waitState(id, 'in-sync');
    browser = browserOf(launched);
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
    await page.goto(`${hub.info.ui}/#token=${encodeURIComponent(hub.info.adminToken)}`);
    await page.getByRole('heading', { name: 'Nodes' }).waitFor();
  });

  afterAll(async () => {
    await page?.close();
    await node?.kill();
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS && dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('"/" focuses the search box, Enter shows the results, each linking to its history and its node', async () => {
    await search('report');
    await page.getByRole('heading', { name: 'Search' }).waitFor();
    await hits().nth(5).waitFor();
    expect(await hits().count()).toBe(6);
    const shown = (await page.locator('a.hit-path').allTextContents()).sort();
    expect(shown).toEqual([...FILES.filter((f) => f.includes('report')), 'reports', 'reports/2026'].sort());
    await page.getByText('6 paths containing “report”').waitFor();
    const conflict = page.locator('tr[data-search-hit="notes/report.sync-conflict-20260101-101010-hub.txt"]');
    expect(await conflict.locator('.badge-conflict').textContent()).toBe('conflict copy');
    const first = page.locator('tr[data-search-hit="src/report_builder.ts"]');
    expect(await first.locator('a.hit-path').getAttribute('href')).toBe(`#/history/${id}/${encodeURIComponent('src/report_builder.ts')}`);
    expect(await first.getByRole('link', { name: 'Node archive-box' }).getAttribute('href')).toBe(`#/node/${id}`);
    expect(await first.locator('td').first().textContent()).toBe('archive-box');
    await shots('search-results');
  });

  it('arrow keys walk the results and back up to the box; the node link opens the node', async () => {
    const links = await page.locator('a.hit-path').allTextContents();
    await page.keyboard.press('/');
    await page.keyboard.press('ArrowDown');
    expect(await focusedText()).toBe(links[0]);
    await page.keyboard.press('ArrowDown');
    expect(await focusedText()).toBe(links[1]);
    await page.keyboard.press('End');
    expect(await focusedText()).toBe(links[links.length - 1]);
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowUp');
    expect(await focusedId()).toBe('path-search');
    // Tab from a result reaches its node link; Enter follows it.
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Tab');
    expect(await focusedText()).toBe('Node');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'archive-box' }).waitFor();
    await page.goBack();
    await page.getByRole('heading', { name: 'Search' }).waitFor();
    expect(await page.locator('#path-search').inputValue()).toBe('report');
  });

  it('under 3 characters searches the start of names; no match and hostile text say so plainly', async () => {
    await search('rx');
    await page.locator('tr[data-search-hit="rx.txt"]').waitFor();
    await page.getByText('1 name starting with “rx”').waitFor();
    expect(await hits().count()).toBe(1);
    await search('re');
    await page.locator('tr[data-search-hit="README.md"]').waitFor();
    // README.md, report_builder.ts, the conflict copy report.sync-…, the folder reports.
    await page.getByText('4 names starting with “re”').waitFor();
    expect(await hits().count()).toBe(4);
    await search('no-such-thing');
    await page.getByText('No paths containing “no-such-thing” in any mirror.').waitFor();
    await shots('search-empty');
    for (const q of ['"%_*', "') OR 1=1 --", 'NEAR(a b)']) {
      await search(q);
      await page.getByText(`No paths containing “${q}” in any mirror.`).waitFor();
    }
    // A '/' typed in the box is text, not the shortcut.
    await search('2026/q1');
    await page.locator('tr[data-search-hit="reports/2026/q1-report.pdf"]').waitFor();
    expect(await hits().count()).toBe(1);
  });

  it('the node filter narrows to one mirror; an address with a query opens its results', async () => {
    await page.goto(`${hub.info.ui}/#/search/${encodeURIComponent('q2-')}`);
    await page.locator('tr[data-search-hit="reports/2026/q2-report.pdf"]').waitFor();
    expect(await page.locator('#path-search').inputValue()).toBe('q2-');
    await page.getByRole('combobox', { name: 'Node' }).selectOption(id);
    await page.locator('tr[data-search-hit="reports/2026/q2-report.pdf"]').waitFor();
    expect(await hits().count()).toBe(1);
    expect(pageErrors).toEqual([]);
  });
});
