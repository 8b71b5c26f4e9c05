/**
 * The Agents view in real Chromium against a real `cortex-hub serve` whose database holds a
 * seeded large table of instances: pages load from the hub as the table scrolls while only the
 * rows in view exist in the DOM; filters by node, state, template and session go to the hub;
 * an instance opens on its own page; a state change made there shows in the list.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import Database from 'better-sqlite3';
import { AgentStore } from '../../main/store/agent-store';
import { HubStore } from '../../main/store/hub-store';
import { browserOf, launchChromium } from '../helpers/browser';
import { Hub, ROOT, tempDir } from '../helpers/procs';

const SEEDED = Number(process.env.CORTEX_TEST_AGENTS ?? 100_000);
const SHOTS = path.join(ROOT, 'test-results', 'ui');
const launched = await launchChromium();
if ('skip' in launched) process.stderr.write(`\n[SKIPPED] browser Agents tests: ${launched.skip}\n\n`);
afterAll(async () => {
  if ('browser' in launched) await launched.browser.close();
});

describe.skipIf('skip' in launched)(`Agents view over ${SEEDED.toLocaleString()} seeded instances`, () => {
  let dir: string;
  let hub: Hub;
  let page: Page;
  const nodeIds: string[] = [];
  let templateIds: string[] = [];
  const rows = () => page.locator('.vbody [role="row"]');
  const count = async () => Number((await page.getByTestId('agents-count').innerText()).replace(/[^\d]/g, ''));

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = tempDir('ui-agents');
    const data = path.join(dir, 'hub');
    // Seed the hub's own database, then serve it.
    fs.mkdirSync(data, { recursive: true });
    const store = new HubStore(path.join(data, 'hub.db'));
    // Seeded in one transaction on a connection of the test's own (the store keeps its own private).
    const db = new Database(path.join(data, 'hub.db'));
    const agents = new AgentStore(db);
    for (let i = 0; i < 5; i++) {
      nodeIds.push(`node${i}`);
      store.addNode(`node${i}`, `worker-${i}`, 'secret');
    }
    templateIds = ['lint', 'test', 'build'].map((name) => agents.createTemplate({ name, command: 'true' }).id);
    db.transaction(() => {
      for (let k = 0; k < SEEDED; k++) {
        const i = agents.createInstance({ templateId: templateIds[k % 3]!, nodeId: nodeIds[k % 5]!, sessionId: `s-${Math.floor(k / 10)}`, trigger: 'cron' });
        if (k % 7 === 0) agents.finish(i.id, k % 2 ? 'failed' : 'succeeded', { exitCode: k % 2 });
      }
    })();
    db.close();
    store.close();
    hub = await Hub.start(data);
    page = await browserOf(launched).newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${hub.info.ui}/#token=${encodeURIComponent(hub.info.adminToken)}`);
    await page.getByRole('link', { name: 'Agents' }).click();
    await rows().first().waitFor();
  }, 180_000);

  afterAll(async () => {
    await page?.close();
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS && dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loads pages from the hub while scrolling, keeping only the visible rows in the DOM', async () => {
    expect(await count()).toBe(200);
    for (let k = 0; k < 5; k++) {
      await page.getByTestId('agents-scroll').evaluate((el) => { el.scrollTop = el.scrollHeight; });
      await expect.poll(count).toBeGreaterThanOrEqual(200 * (k + 2));
    }
    const rendered = await rows().count();
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(80);
    // Newest first.
    const ids = await rows().evaluateAll((els) => els.map((e) => e.getAttribute('data-agent-id')!));
    expect([...ids].sort().reverse()).toEqual(ids);
    await page.screenshot({ path: path.join(SHOTS, 'agents.png') });
  });

  it('filters by node, state, template and session on the hub', async () => {
    await page.getByLabel('Filter by node').selectOption({ label: 'worker-2' });
    await page.getByLabel('Filter by state').selectOption('failed');
    await expect.poll(async () => (await rows().evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).every((s) => s === 'failed')).toBe(true);
    await expect.poll(count).toBeGreaterThan(0);
    const viaApi = await hub.invoke('agents.list', { nodeId: 'node2', state: 'failed', limit: 5 });
    // A new filter starts at the top: the first row is the hub's newest match.
    await expect.poll(() => page.locator('.vbody [role="row"][aria-rowindex="1"]').getAttribute('data-agent-id')).toBe(viaApi.items[0]!.id);
    await page.getByLabel('Filter by node').selectOption('');
    await page.getByLabel('Filter by state').selectOption('');
    await page.getByLabel('Filter by template').selectOption({ label: 'build' });
    await page.getByLabel('Filter by session').fill('s-1234');
    const session = await hub.invoke('agents.list', { sessionId: 's-1234', templateId: templateIds[2]!, limit: 100 });
    await expect.poll(count).toBe(session.items.length);
    expect(session.items.length).toBeGreaterThan(0);
  });

  it('opens an instance on its own page (its URL), stops it there, and the list shows the change live', async () => {
    const first = page.locator('.vbody [role="row"][data-state="pending"]').first();
    const id = (await first.getAttribute('data-agent-id'))!;
    await first.click();
    const detail = page.locator(`.instance-page[data-agent-id="${id}"]`);
    await detail.waitFor();
    expect(new URL(page.url()).hash).toBe(`#/agents/instances/${id}`);
    await page.screenshot({ path: path.join(SHOTS, 'agent-detail.png') });
    // Stop it there (it is pending: its node never connected).
    await detail.getByRole('button', { name: 'Stop' }).click();
    await page.locator(`.instance-page[data-agent-id="${id}"][data-state="stopped"]`).waitFor();
    await page.goBack();
    await page.getByLabel('Filter by template').selectOption({ label: 'build' });
    await page.getByLabel('Filter by session').fill('s-1234');
    await page.locator(`[data-agent-id="${id}"][data-state="stopped"]`).waitFor();
  });
});
