/**
 * What an operator reads and does in the panel, in real Chromium against a real
 * `cortex-hub serve` and real `cortex-node`s on loopback: `new`, `disconnected` and
 * `retired` told apart (only real trouble counted as needing attention, "1 node" in the
 * singular); progress with percent and time left, a rounded rate that goes when idle, columns
 * that keep their widths; node facts (host, version, workspace, mirror path with a copy
 * button) and events as sentences; another node's detail never showing the previous one's
 * agents; a template added on the CLI listed without a reload and the start dialog taking its
 * node and config, never the last run's; the join string's dialog asking before Escape loses
 * it, with copy buttons; the retire dialog saying what pending work is lost; the pending list
 * paged. Screenshots, light and dark, go to test-results/ui/.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { VERSION } from '../../main/util/version';
import { browserOf, launchChromium } from '../helpers/browser';
import { Hub, Node, ROOT, generateWorkspace, runCli, tempDir, waitFor } from '../helpers/procs';

const SHOTS = path.join(ROOT, 'test-results', 'ui');
const launched = await launchChromium();
if ('skip' in launched) process.stderr.write(`\n[SKIPPED] browser operator tests: ${launched.skip}\n\n`);
afterAll(async () => {
  if ('browser' in launched) await launched.browser.close();
});

describe.skipIf('skip' in launched)('the operator\'s panel: states, progress, facts, dialogs', () => {
  const dir = tempDir('ui-operator');
  let hub: Hub;
  let context: BrowserContext;
  let page: Page;
  const nodes: Node[] = [];
  const ids: Record<string, string> = {};
  const joins: Record<string, string> = {};
  const workspaces: Record<string, string> = {};
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
  const add = async (name: string) => {
    const r = await hub.addNode(name);
    ids[name] = r.id;
    joins[name] = r.join;
  };
  const startNode = (name: string) => {
    const ws = path.join(dir, `ws-${name}`);
    if (!fs.existsSync(ws)) generateWorkspace(ws, { files: 30, seed: name.charCodeAt(0) });
    workspaces[name] = ws;
    const n = Node.start(joins[name]!, ws, path.join(dir, `state-${name}`));
    nodes.push(n);
    return n;
  };
  /** Another node's detail, the way an operator edits the address: the same view, another id. */
  const openNode = async (name: string) => {
    await page.evaluate((id) => { location.hash = `#/node/${id}`; }, ids[name]!);
    await page.getByRole('heading', { name, exact: true, level: 1 }).waitFor();
  };
  const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
  const summary = () => page.getByTestId('nodes-summary').innerText();

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    hub = await Hub.start(path.join(dir, 'hub'));
    await add('alpha');
    context = await browserOf(launched).newContext({ viewport: { width: 1280, height: 800 }, permissions: ['clipboard-read', 'clipboard-write'] });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
    await page.goto(`${hub.info.ui}/#token=${encodeURIComponent(hub.info.adminToken)}`);
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('says "1 node", and calls a node that never connected new, not a problem', async () => {
    await waitRow('alpha', 'new');
    await expect.poll(summary).toBe('1 node · 0 in sync · 1 new (never connected)');
    startNode('alpha');
    await waitRow('alpha', 'in-sync');
    await expect.poll(summary).toBe('1 node · 1 in sync');
  });

  it('tells new, disconnected and retired apart, in light and dark', async () => {
    for (const name of ['gone', 'idle', 'old']) await add(name);
    await hub.invoke('nodes.retire', { id: ids.old! });
    const gone = startNode('gone');
    await waitRow('gone', 'in-sync');
    await gone.kill();
    await waitRow('gone', 'disconnected', 30_000);
    await waitRow('idle', 'new');
    await waitRow('old', 'retired');
    await expect.poll(summary).toBe('4 nodes · 1 in sync · 1 new (never connected) · 1 needs attention');
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const looks = await page.evaluate(() => ['new', 'disconnected', 'retired'].map((st) => {
        const s = getComputedStyle(document.querySelector(`tr .badge[data-state="${st}"]`)!);
        return `${s.color} ${s.borderTopStyle} ${s.borderTopColor} ${s.backgroundColor} ${s.textDecorationLine}`;
      }));
      expect(new Set(looks).size, `${scheme}: ${looks.join(' | ')}`).toBe(3);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await shots('overview-states');
  });

  it('shows percent and time left while syncing, a rounded rate only while something moves, and keeps every column\'s width', async () => {
    // Everything the alpha row shows, and the header's widths, recorded by the page itself at every change.
    await page.evaluate(() => {
      const w = window as unknown as { seen: { progress: string[]; rates: string[]; widths: string[] } };
      w.seen = { progress: [], rates: [], widths: [] };
      const widths = () => [...document.querySelectorAll('table.nodes thead th')].map((th) => th.getBoundingClientRect().width.toFixed(1)).join(',');
      w.seen.widths.push(widths());
      new MutationObserver(() => {
        const tr = document.querySelector('tr[data-node-name="alpha"]');
        if (!tr) return;
        for (const p of tr.querySelectorAll('.progress-text')) if (w.seen.progress[w.seen.progress.length - 1] !== p.textContent) w.seen.progress.push(p.textContent ?? '');
        const rate = tr.querySelector('td.rate')?.textContent ?? '';
        if (w.seen.rates[w.seen.rates.length - 1] !== rate) w.seen.rates.push(rate);
        const now = widths();
        if (!w.seen.widths.includes(now)) w.seen.widths.push(now);
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    const big = path.join(workspaces.alpha!, 'big.bin');
    const fd = fs.openSync(big, 'w');
    const chunk = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < 24; i++) fs.writeSync(fd, crypto.randomFillSync(chunk));
    fs.closeSync(fd);
    await row('alpha').locator('.progress-text').first().waitFor({ timeout: 60_000 });
    await shots('overview-progress');
    await waitRow('alpha', 'in-sync', 120_000);
    const seen = await page.evaluate(() => (window as unknown as { seen: { progress: string[]; rates: string[]; widths: string[] } }).seen);
    expect(seen.progress.length).toBeGreaterThan(0);
    for (const p of seen.progress) expect(p).toMatch(/^\d{1,2} % · (estimating…|\d+ s left|\d+ min left|\d+ h \d+ min left)$/);
    const shown = seen.rates.filter((r) => r !== '–');
    expect(shown.length, `rates seen: ${JSON.stringify(seen.rates)}`).toBeGreaterThan(0);
    for (const r of shown) expect(r).toMatch(/^\d+(\.\d)? (B|KiB|MiB|GiB)\/s$/);
    // Idle again: no rate, no sparkline.
    await expect.poll(() => row('alpha').locator('td.rate').innerText()).toBe('–');
    expect(await row('alpha').locator('td.rate svg').count()).toBe(0);
    expect(seen.widths, 'the header\'s column widths while idle, syncing and idle again').toHaveLength(1);
  });

  it('shows where the node is, its version and workspace, the mirror path with a copy button, and events as sentences', async () => {
    await row('alpha').getByRole('link', { name: 'alpha' }).click();
    await page.getByRole('heading', { name: 'alpha', level: 1 }).waitFor();
    await expect.poll(() => page.locator('[data-fact="host"]').innerText()).toBe('127.0.0.1');
    expect(await page.locator('[data-fact="version"]').innerText()).toBe(`cortex-node ${VERSION}`);
    expect(await page.locator('[data-fact="workspace"]').innerText()).toBe(path.resolve(workspaces.alpha!));
    expect(await page.locator('[data-fact="mirror"]').innerText()).toBe(hub.mirror(ids.alpha!));
    await page.getByRole('button', { name: 'Copy mirror path' }).click();
    await expect.poll(clipboard).toBe(hub.mirror(ids.alpha!));
    const events = page.locator('table.events');
    await events.getByText('Added as “alpha”.').waitFor();
    await events.getByText(/^Connected from 127\.0\.0\.1 running cortex-node .*; it sends its whole index/).first().waitFor();
    await events.getByText(/^In sync: \d+ files/).first().waitFor();
    expect(await events.innerText()).not.toMatch(/[{}]|"peer"/);
    await shots('node-facts');
  });

  it('shows the agents of the node on screen, never those of the previous one', async () => {
    const t = await hub.invoke('agents.createTemplate', { name: 'echo', command: 'true' });
    const a = await hub.invoke('agents.start', { templateId: t.template.id, nodeId: ids.alpha! });
    await waitFor('the agent done', async () => (await hub.invoke('agents.get', { id: a.id })).state === 'succeeded', 30_000);
    await page.locator(`.agents [data-agent-id="${a.id}"]`).waitFor();
    await openNode('idle');
    await page.locator('.agents').getByText('No agent instances').waitFor();
    expect(await page.locator(`[data-agent-id="${a.id}"]`).count()).toBe(0);
    await expect.poll(() => page.locator('[data-fact="host"]').innerText()).toBe('not known (never connected)');
    await openNode('alpha');
    await page.locator(`.agents [data-agent-id="${a.id}"]`).waitFor();
  });

  it('lists a template added on the CLI without a reload; the start dialog takes its node and config, never the last run\'s', async () => {
    await page.getByRole('link', { name: 'Agents' }).click();
    await page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
    const made = await runCli('cortex-hub', ['agents', 'template-add', 'deep', '--command', 'true', '--node', ids.alpha!, '--config', '{"depth":2}', '--data', hub.dataDir]);
    expect(made.code, made.stderr).toBe(0);
    await page.getByLabel('Filter by template').locator('option', { hasText: 'deep' }).waitFor({ state: 'attached', timeout: 10_000 });
    const dialog = page.locator('dialog[open]');
    const open = async () => {
      await page.getByRole('button', { name: 'Start agent…' }).click();
      await dialog.getByText('Start an agent').waitFor();
    };
    await open();
    await dialog.getByLabel('Template').selectOption({ label: 'deep' });
    expect(await dialog.getByLabel('Node').inputValue()).toBe(ids.alpha);
    expect(JSON.parse(await dialog.getByLabel(/^Config/).inputValue())).toEqual({ depth: 2 });
    await dialog.getByLabel(/^Session/).fill('s-last-run');
    await dialog.getByLabel(/^Config/).fill('{"depth": 9}');
    await shots('agent-start');
    await dialog.getByRole('button', { name: 'Start' }).click();
    await dialog.waitFor({ state: 'detached' });
    await waitFor('the instance of the last run', async () => (await hub.invoke('agents.list', { sessionId: 's-last-run' })).items.length === 1, 10_000);
    expect((await hub.invoke('agents.list', { sessionId: 's-last-run' })).items[0]).toMatchObject({ nodeId: ids.alpha, config: { depth: 9 } });
    // Opened again: the first template's defaults, nothing of the last run.
    await open();
    expect(await dialog.getByLabel(/^Session/).inputValue()).toBe('');
    expect(JSON.parse(await dialog.getByLabel(/^Config/).inputValue())).toEqual({ depth: 2 });
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  it('asks before Escape closes an uncopied join string, from the keyboard alone', async () => {
    await page.getByRole('link', { name: 'Nodes' }).click();
    await page.getByRole('button', { name: 'Add node', exact: true }).click();
    await page.getByLabel('Name').fill('delta');
    await page.keyboard.press('Enter');
    const join = page.locator('#join-string');
    await join.waitFor();
    const dialog = page.locator('dialog[open]');
    await page.keyboard.press('Escape');
    const ask = dialog.getByRole('alertdialog');
    await ask.getByText('Close without copying?').waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Keep it open');
    await shots('add-node-leave');
    await page.keyboard.press('Enter');
    await ask.waitFor({ state: 'detached' });
    expect(await dialog.count()).toBe(1);
    await page.keyboard.press('Escape');
    await ask.waitFor();
    // Asked already: a second Escape closes.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  it('copies the join string and the command; copied, Escape closes at once', async () => {
    await page.getByRole('button', { name: 'Add node', exact: true }).click();
    await page.getByLabel('Name').fill('epsilon');
    await page.locator('dialog').getByRole('button', { name: 'Add node' }).click();
    const join = await page.locator('#join-string').inputValue();
    expect(join).toMatch(/^cortex1\./);
    await page.getByRole('button', { name: 'Copy command' }).click();
    await expect.poll(clipboard).toBe(`CORTEX_JOIN='${join}' cortex-node --workspace DIR`);
    await page.getByRole('button', { name: 'Copy join string' }).click();
    await expect.poll(clipboard).toBe(join);
    await shots('add-node-copy');
    await page.keyboard.press('Escape');
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
  });

  it('pages the changes waiting for a node, and the retire dialog says what they are', async () => {
    const mirror = hub.mirror(ids.gone!);
    for (let i = 0; i < 150; i++) fs.writeFileSync(path.join(mirror, `hub-${String(i).padStart(3, '0')}.txt`), 'x'.repeat(10));
    await waitFor('150 changes for the node', async () => (await hub.node(ids.gone!)).toNodeFiles === 150, 30_000);
    await openNode('gone');
    const toNode = page.locator('section[data-direction="to-node"]');
    await expect.poll(() => toNode.locator('h2').innerText()).toBe('Pending to node (first 100 of 150)');
    expect(await toNode.locator('tbody tr').count()).toBe(100);
    await toNode.getByRole('button', { name: 'Show 100 more' }).click();
    await expect.poll(() => toNode.locator('tbody tr').count()).toBe(150);
    expect(await toNode.locator('h2').innerText()).toBe('Pending to node (150)');
    expect(await toNode.getByRole('button', { name: /^Show/ }).count()).toBe(0);
    await expect.poll(() => page.locator('section[data-direction="to-hub"]').innerText()).toContain('Nothing pending');
    await shots('node-pending');
    await page.getByRole('button', { name: 'Retire node…' }).click();
    const loss = page.locator('dialog[open] [data-testid="retire-loss"]');
    await expect.poll(() => loss.innerText()).toContain("150 changes made on the hub's side (1.5 KiB) will never reach the node.");
    await shots('node-retire-loss');
    await page.keyboard.press('Escape');
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    expect((await hub.node(ids.gone!)).state).toBe('disconnected');
  });

  it('ran without page errors or CSP violations', () => {
    expect(pageErrors).toEqual([]);
  });
});
