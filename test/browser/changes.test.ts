/**
 * Recent changes and file history, in real Chromium against a real `cortex-hub serve` and
 * `cortex-node`: one file lives through a node edit, a hub edit, a conflict and a refusal by
 * the lock; its timeline (`#/history/<node>/<path>`, the address search results link to) tells
 * each, with which side made it and when it reached the other; while the node is paused the
 * timeline says why the file is out of sync (paused, and where its change waits). The Changes
 * view filters the feed (by kind, by path), from the keyboard too; the node detail shows its
 * recent changes. `cortex-hub changes` prints the same timeline. Screenshots, light and dark,
 * go to test-results/ui/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { FileHistoryView } from '../../main/contract';
import { isConflictCopy } from '../../main/sync/reconcile';
import { browserOf, launchChromium } from '../helpers/browser';
import { Hub, Node, ROOT, runCli, snapshot, tempDir, waitConverged, waitFor } from '../helpers/procs';

const SHOTS = path.join(ROOT, 'test-results', 'ui');
const launched = await launchChromium();
if ('skip' in launched) process.stderr.write(`\n[SKIPPED] browser change tests: ${launched.skip}\n\n`);
afterAll(async () => {
  if ('browser' in launched) await launched.browser.close();
});

describe.skipIf('skip' in launched)('recent changes and file history, in Chromium', () => {
  let dir: string;
  let ws: string;
  let hub: Hub;
  let node: Node | undefined;
  let id: string;
  let join: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const FILE = 'notes/plan.md';

  const put = (root: string, rel: string, text: string, mtime = new Date()) => {
    const target = path.join(root, rel);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = path.join(dir, `w-${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(tmp, text);
    fs.utimesSync(tmp, mtime, mtime);
    fs.renameSync(tmp, target);
  };
  const read = (root: string) => fs.readFileSync(path.join(root, FILE), 'utf8');
  const converged = (what: string) => waitConverged(what, hub, id, ws, hub.mirror(id), (p) => p === '.metadata.json');
  const history = () => hub.invoke('changes.history', { nodeId: id, path: FILE });
  /** The timeline as [action, direction] pairs, oldest first. */
  const steps = (h: FileHistoryView) => h.events.map((e) => `${e.action}:${e.direction}`).reverse();
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const shots = async (name: string) => {
    // The conflict toast would cover the rows.
    for (const close of await page.locator('.toast .close').all()) await close.click();
    await shot(name);
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot(`${name}-dark`);
    await page.emulateMedia({ colorScheme: 'light' });
  };

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = tempDir('ui-changes');
    ws = path.join(dir, 'ws');
    put(ws, FILE, 'plan v1\n', new Date(Date.now() - 300_000));
    put(ws, 'src/app.ts', 'export {};\n', new Date(Date.now() - 300_000));
    hub = await Hub.start(path.join(dir, 'hub'));
    ({ id, join } = await hub.addNode('echo'));
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    await converged('the first sync');
    browser = browserOf(launched);
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
    await page.goto(`${hub.info.ui}/#token=${encodeURIComponent(hub.info.adminToken)}`);
    await page.locator('tr[data-node-name="echo"][data-state="in-sync"]').waitFor({ timeout: 60_000 });
  });

  afterAll(async () => {
    await page?.close();
    await node?.stop();
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS && dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('records a node edit, a hub edit, a conflict and a refusal by the lock in the file\'s timeline', async () => {
    expect(steps(await history())).toEqual(['put:to-hub']);

    // A node edit: its version reaches the mirror.
    put(ws, FILE, 'plan v2 (node)\n');
    await waitFor('the node edit in the mirror', () => read(hub.mirror(id)) === 'plan v2 (node)\n', 30_000, 50);
    await waitFor('the node edit recorded', async () => steps(await history()).length === 2, 30_000, 50);
    expect((await history()).events[0]).toMatchObject({ action: 'put', direction: 'to-hub', madeBy: 'node', size: 'plan v2 (node)\n'.length });

    // A hub edit: queued for the node, then delivered (it reached the node).
    put(hub.mirror(id), FILE, 'plan v3 (hub)\n');
    await waitFor('the hub edit on the node', () => read(ws) === 'plan v3 (hub)\n', 30_000, 50);
    await waitFor('the hub edit delivered', async () => steps(await history()).slice(-2).join() === 'put:to-node,delivered:to-node', 30_000, 50);
    const delivered = (await history()).events[0]!;
    const queued = (await history()).events[1]!;
    expect(delivered.seq).toBe(queued.seq);
    expect(delivered.at).toBeGreaterThanOrEqual(queued.at);

    // A conflict: both sides edit while the node is away; the node's later edit wins, the
    // hub's version is kept as a copy.
    await node!.stop();
    node = undefined;
    await hub.waitState(id, 'disconnected');
    put(hub.mirror(id), FILE, 'plan v4 (hub, offline)\n', new Date(Date.now() - 60_000));
    await waitFor('the hub-side edit queued', async () => (await hub.node(id)).toNodeFiles === 1, 30_000);
    put(ws, FILE, 'plan v4 (node, offline)\n', new Date(Date.now() - 1000));
    node = Node.start(join, ws, path.join(dir, 'node-state'));
    await converged('both versions on both sides');
    expect([...snapshot(ws).keys()].filter(isConflictCopy)).toHaveLength(1);
    await waitFor('the conflict recorded', async () => (await history()).events.some((e) => e.action === 'conflict'), 30_000, 50);
    const conflict = (await history()).events.find((e) => e.action === 'conflict')!;
    expect(conflict).toMatchObject({ code: 'hub', madeBy: 'hub', detail: expect.stringMatching(/^notes\/plan\.sync-conflict-\d{8}-\d{6}-hub\.md$/) });
    expect(conflict.sentence).toBe(`Conflict: the node's version won; the hub's version was kept as ${conflict.detail}.`);

    // A refusal: the file is locked; the node's edit is refused and the hub's version goes back.
    fs.writeFileSync(path.join(hub.mirror(id), '.metadata.json'), JSON.stringify({ immutable: ['notes/**'] }));
    await waitFor('the lock in status', async () => (await hub.node(id)).locked.includes('notes/**'), 15_000);
    const before = read(hub.mirror(id));
    const refusedText = 'plan v5 (node, locked)\n';
    put(ws, FILE, refusedText);
    // (The node may send its current version again when the lock comes: refused too. This edit's refusal is the one with its size.)
    await waitFor('the refusal recorded', async () => (await history()).events.some((e) => e.action === 'refused' && e.size === Buffer.byteLength(refusedText)), 30_000, 50);
    await waitFor('the hub\'s version back on the node', () => read(ws) === before, 30_000, 50);
    await waitFor('the hub\'s version delivered again', async () => (await history()).events[0]!.action === 'delivered', 30_000, 50);
    const h = await history();
    const refused = h.events.find((e) => e.action === 'refused' && e.size === Buffer.byteLength(refusedText))!;
    expect(refused).toMatchObject({ code: 'LOCKED', direction: 'to-hub', madeBy: 'node' });
    expect(refused.detail).toContain('notes/**');
    const sentBack = h.events.find((e) => e.action === 'put' && e.direction === 'to-node' && e.code === 'LOCKED');
    expect(sentBack?.sentence).toMatch(/sent back because the node changed a locked path/);
    expect(h.inSync).toBe(true);
    // Every step, oldest first: the first sync, the node edit, the hub edit and its delivery,
    // then (in some order) the conflict's parts, then the refusal and the hub's version sent back.
    const all = steps(h);
    expect(all.slice(0, 4)).toEqual(['put:to-hub', 'put:to-hub', 'put:to-node', 'delivered:to-node']);
    expect(all.indexOf('conflict:to-node')).toBeGreaterThan(3);
    expect(all.lastIndexOf('refused:to-hub')).toBeGreaterThan(all.indexOf('conflict:to-node'));
  });

  it('shows the timeline at its address, each step a sentence with its side', async () => {
    await page.goto(`${hub.info.ui}/#/history/${encodeURIComponent(id)}/${encodeURIComponent(FILE)}`);
    await page.getByRole('heading', { name: FILE, level: 1 }).waitFor();
    const timeline = page.getByRole('list', { name: 'Timeline, newest first' });
    await timeline.locator('li[data-action="refused"]').first().waitFor({ timeout: 15_000 });
    const text = await timeline.innerText();
    expect(text).toMatch(/The hub refused the node's change \(LOCKED\): .*notes\/\*\*/);
    expect(text).toMatch(/Conflict: the node's version won; the hub's version was kept as notes\/plan\.sync-conflict-/);
    expect(text).toMatch(/The node applied the hub's change #\d+: it reached the node\./);
    expect(text).toMatch(/The node's version \(15 B\) reached the hub's mirror\./);
    expect(await timeline.locator('li[data-action="refused"] .side').first().innerText()).toBe('node');
    expect(await page.locator('[data-fact="sync"]').innerText()).toMatch(/In sync/);
    await shots('file-history');
  });

  it('says why the file is out of sync while the node is paused', async () => {
    await hub.invoke('nodes.pause', { id });
    await hub.waitState(id, 'paused');
    fs.writeFileSync(path.join(hub.mirror(id), '.metadata.json'), JSON.stringify({ immutable: [] }));
    // One hub change queued first, so the file's waits behind exactly one.
    put(hub.mirror(id), 'src/app.ts', 'export const a = 1;\n');
    await waitFor('the first hub edit queued', async () => (await hub.node(id)).toNodeFiles === 1, 30_000, 50);
    put(hub.mirror(id), FILE, 'plan v6 (hub, paused)\n');
    await waitFor('the hub edit queued', async () => (await history()).why.some((w) => w.code === 'queued'), 30_000, 50);
    const why = page.getByRole('status', { name: 'Why it is out of sync' });
    await why.waitFor({ timeout: 15_000 });
    await expect.poll(() => why.innerText(), { timeout: 15_000 }).toMatch(/The hub's change \(#\d+\) waits for the node, behind 1 other change in its queue \("src\/app\.ts"\)\./);
    expect(await why.innerText()).toMatch(/The node's sync is paused .*: nothing flows either way until it is resumed/);
    expect(await page.locator('[data-fact="sync"]').innerText()).toMatch(/Out of sync/);
    await shots('file-history-why');
    // The CLI says the same.
    const cli = await runCli('cortex-hub', ['changes', '--data', hub.dataDir, '--node', id, '--path', FILE]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/Out of sync, because:\n {2}- The node's sync is paused/);
    expect(cli.stdout).toMatch(/waits for the node, behind 1 other change in its queue \("src\/app\.ts"\)/);
    expect(cli.stdout).toMatch(/Timeline \(newest first\):/);
    await hub.invoke('nodes.resume', { id });
    await waitFor('the paused edit on the node', () => read(ws) === 'plan v6 (hub, paused)\n', 30_000, 50);
    await expect.poll(() => page.locator('[data-fact="sync"]').innerText(), { timeout: 15_000 }).toMatch(/In sync/);
  });

  it('filters the Changes view from the keyboard, and links each row to its timeline', async () => {
    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Changes' }).click();
    await page.getByRole('heading', { name: 'Changes', level: 1 }).waitFor();
    const rows = page.locator('table.changes tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBeGreaterThan(8);
    await shots('changes');
    // Kind: conflicts, chosen and applied from the keyboard alone.
    await page.getByLabel('Kind').focus();
    await page.getByLabel('Kind').selectOption('conflict');
    await page.getByRole('button', { name: 'Apply' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await page.locator('table.changes tbody tr').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-action')))).join(), { timeout: 15_000 }).toBe('conflict');
    // A directory and everything under it.
    await page.getByLabel('Kind').selectOption('');
    await page.getByLabel('Path', { exact: true }).fill('src');
    await page.getByLabel('and everything under it').check();
    await page.getByLabel('Path', { exact: true }).press('Enter');
    // The directory itself and what is under it (src/app.ts, and the directory's own rows), nothing else.
    await expect.poll(async () => [...new Set(await page.locator('table.changes tbody tr td:nth-child(3)').allInnerTexts())].sort().join(), { timeout: 15_000 }).toBe('src,src/app.ts');
    await page.getByRole('link', { name: 'src/app.ts' }).first().click();
    await page.getByRole('heading', { name: 'src/app.ts', level: 1 }).waitFor();
    expect(page.url()).toContain(`#/history/${encodeURIComponent(id)}/${encodeURIComponent('src/app.ts')}`);
    await page.getByRole('list', { name: 'Timeline, newest first' }).locator('li').first().waitFor();
  });

  it('shows the node\'s recent changes in its detail', async () => {
    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Nodes' }).click();
    await page.locator('tr[data-node-name="echo"]').getByRole('link', { name: 'echo' }).click();
    const feed = page.getByRole('table', { name: 'Recent changes of echo, newest first' });
    await feed.locator('tbody tr').first().waitFor({ timeout: 15_000 });
    expect(await feed.locator('tbody tr').count()).toBe(20);
    await feed.scrollIntoViewIfNeeded();
    await shots('node-detail-changes');
  });

  it('sets how long changes are kept in the settings, saved on Enter (not per keystroke)', async () => {
    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Settings' }).click();
    const field = page.getByLabel('Recent changes kept (days)');
    await expect.poll(() => field.inputValue()).toBe('30');
    await field.fill('14');
    expect((await hub.invoke('settings.get', {})).changesRetentionDays).toBe(30);
    await field.press('Enter');
    await page.getByText('Saved.').waitFor();
    expect((await hub.invoke('settings.get', {})).changesRetentionDays).toBe(14);
    await field.fill('0');
    await page.getByRole('alert').filter({ hasText: 'A whole number of days, 1 to 3650.' }).waitFor();
    await field.press('Enter');
    expect((await hub.invoke('settings.get', {})).changesRetentionDays).toBe(14);
    expect((await hub.invoke('changes.list', { limit: 1 })).retentionDays).toBe(14);
  });

  it('ran without page errors or CSP violations', () => {
    expect(pageErrors).toEqual([]);
  });
});
