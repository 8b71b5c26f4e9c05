/**
 * The UI shows what a node cannot send: a problem count per node in the overview, and in the
 * node detail each problem (path, direction, code, reason) and each ignored path.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { browserOf, launchChromium } from '../helpers/browser';
import { Hub, Node, ROOT, tempDir, waitFor } from '../helpers/procs';

const SHOTS = path.join(ROOT, 'test-results', 'ui');
const launched = await launchChromium();
if ('skip' in launched) process.stderr.write(`\n[SKIPPED] browser problems test: ${launched.skip}\n\n`);
afterAll(async () => {
  if ('browser' in launched) await launched.browser.close();
});

describe.skipIf('skip' in launched)('problems and ignored paths in the UI', () => {
  const dir = tempDir('ui-problems');
  const ws = path.join(dir, 'ws');
  let hub: Hub;
  let node: Node;
  let page: Page;
  let id: string;

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    fs.mkdirSync(ws);
    fs.writeFileSync(path.join(ws, 'fine.txt'), 'fine\n');
    fs.writeFileSync(Buffer.from(`${ws}/caf\xe9.txt`, 'latin1'), 'a Latin-1 name\n');
    execFileSync('mkfifo', [path.join(ws, 'pipe')]);
    hub = await Hub.start(path.join(dir, 'hub'));
    const added = await hub.addNode('with-problems');
    id = added.id;
    node = Node.start(added.join, ws, path.join(dir, 'state'));
    await waitFor('the problem at the hub', async () => (await hub.node(id)).problems === 1);
    page = await browserOf(launched).newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${hub.info.ui}/#token=${encodeURIComponent(hub.info.adminToken)}`);
  });

  afterAll(async () => {
    await page?.close();
    await node?.stop();
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the overview shows the node in error with its problem count', async () => {
    const row = page.locator('tr[data-node-name="with-problems"]');
    await row.and(page.locator('[data-state="error"]')).waitFor({ timeout: 60_000 });
    await expect.poll(() => row.locator('td.problems').innerText()).toBe('1');
    await page.screenshot({ path: path.join(SHOTS, 'nodes-problems.png'), fullPage: true });
  });

  it('the node detail lists each problem (path, direction, code, reason) and each ignored path', async () => {
    await page.locator('tr[data-node-name="with-problems"] a').click();
    const problems = page.locator('table.problems tbody tr');
    await problems.first().waitFor({ timeout: 30_000 });
    expect(await problems.count()).toBe(1);
    expect(await problems.first().locator('td').allInnerTexts()).toEqual(expect.arrayContaining([
      'caf%E9.txt', 'node → hub', 'BAD_NAME', 'name is not valid UTF-8 (shown with its bytes escaped as %XX); rename it to sync it',
    ]));
    const ignored = page.locator('table.ignored tbody tr');
    expect(await ignored.count()).toBe(1);
    expect(await ignored.first().locator('td').allInnerTexts()).toEqual(['pipe', 'fifo']);
    await page.screenshot({ path: path.join(SHOTS, 'node-problems.png'), fullPage: true });
  });
});
