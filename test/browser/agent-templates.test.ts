/**
 * Agent templates in the panel, in real Chromium against a real `cortex-hub serve` and a real
 * `cortex-node` that runs the commands: a template created, edited (a webhook added, its token
 * shown once: Escape asks before closing on it) and run from the UI, keyboard only in every dialog (Enter saves, Escape closes,
 * Tab reaches the buttons); the instance's page shows its command, duration and output, is
 * reached again by its URL, shows the output so far while it runs, and re-runs; a template firing every minute stays one line of the
 * overview, its instances on its own page; a delete keeps the instances. Screenshots, light
 * and dark, go to test-results/ui/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { AgentInstanceView } from '../../main/contract';
import { browserOf, launchChromium } from '../helpers/browser';
import { Hub, Node, ROOT, tempDir, waitFor } from '../helpers/procs';

const SHOTS = path.join(ROOT, 'test-results', 'ui');
const launched = await launchChromium();
if ('skip' in launched) process.stderr.write(`\n[SKIPPED] browser agent template tests: ${launched.skip}\n\n`);
afterAll(async () => {
  if ('browser' in launched) await launched.browser.close();
});

describe.skipIf('skip' in launched)('agent templates in the UI', () => {
  let dir: string;
  let hub: Hub;
  let node: Node;
  let page: Page;
  let nodeId: string;
  let idleNode: string;
  let templateId: string;
  let firstRun: string;
  const pageErrors: string[] = [];

  const shots = async (name: string) => {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: path.join(SHOTS, `${name}-dark.png`), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
  };
  const dialog = () => page.locator('dialog[open]');
  const focused = () => page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return el?.tagName === 'BUTTON' ? el.textContent ?? '' : el?.closest('label')?.firstChild?.textContent?.trim() ?? el?.id ?? '';
  });
  /** Focuses a button of the page (as Tab would reach it) and presses Enter. */
  const pressButton = async (name: string) => {
    await page.getByRole('button', { name, exact: true }).focus();
    await page.keyboard.press('Enter');
  };
  const tabTo = async (name: string, max = 20) => {
    for (let k = 0; k < max && (await focused()) !== name; k++) await page.keyboard.press('Tab');
    expect(await focused()).toBe(name);
  };
  const instanceState = (id: string, state: AgentInstanceView['state']) => waitFor(`agent ${id} ${state}`, async () => (await hub.invoke('agents.get', { id })).state === state, 30_000);

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = tempDir('ui-templates');
    hub = await Hub.start(path.join(dir, 'hub'));
    const added = await hub.addNode('runner');
    nodeId = added.id;
    idleNode = (await hub.addNode('never-here')).id;
    fs.mkdirSync(path.join(dir, 'ws'));
    node = Node.start(added.join, path.join(dir, 'ws'), path.join(dir, 'node-state'));
    await hub.waitState(nodeId, 'in-sync');
    page = await browserOf(launched).newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
    await page.goto(`${hub.info.ui}/#token=${encodeURIComponent(hub.info.adminToken)}`);
    await page.getByRole('heading', { name: 'Nodes' }).waitFor();
  }, 120_000);

  afterAll(async () => {
    await page?.close();
    await node?.kill();
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS && dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates a template from the keyboard: Escape cancels, Enter in a field creates it, and its page opens', async () => {
    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Agents' }).click();
    await page.getByText('No agent templates yet.').waitFor();
    await shots('agents-no-templates');
    await pressButton('New template…');
    await dialog().waitFor();
    expect(await focused()).toBe('Name');
    await page.keyboard.type('greeter');
    await page.keyboard.press('Escape');
    await dialog().waitFor({ state: 'detached' });
    expect(await hub.invoke('agents.templates', {})).toEqual([]);

    await pressButton('New template…');
    await dialog().waitFor();
    expect(await page.locator('dialog[open] input').first().inputValue()).toBe(''); // afresh
    await page.keyboard.type('greeter');
    await page.keyboard.press('Tab');
    await page.keyboard.type('echo "hello from $CORTEX_AGENT_ID"; echo "a warning" >&2');
    await tabTo('Cron schedule (5 fields, local time; empty: none)');
    await shots('agent-template-new');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'greeter', level: 1 }).waitFor();
    const [t] = await hub.invoke('agents.templates', {});
    expect(t).toMatchObject({ name: 'greeter', command: 'echo "hello from $CORTEX_AGENT_ID"; echo "a warning" >&2', cron: null, nodeId: null, hasWebhook: false });
    templateId = t!.id;
    expect(new URL(page.url()).hash).toBe(`#/agents/templates/${templateId}`);
  });

  it('edits it from the keyboard: a node, a default config and a webhook, whose token shows once and works', async () => {
    await pressButton('Edit…');
    await dialog().waitFor();
    expect(await focused()).toBe('Name');
    await page.keyboard.press('Escape');
    await dialog().waitFor({ state: 'detached' });

    await pressButton('Edit…');
    await dialog().waitFor();
    await tabTo('Node (where cron and webhook runs go)');
    await page.keyboard.press('ArrowDown'); // None → runner
    await tabTo('Default config (JSON object, optional)');
    await page.keyboard.type('{"greeting": "hi"}');
    await tabTo('Webhook');
    await page.keyboard.press('ArrowDown'); // none → make one
    await shots('agent-template-edit');
    await tabTo('Save');
    await page.keyboard.press('Enter');
    await dialog().getByText('shown only once', { exact: false }).waitFor();
    expect(await focused()).toBe('Done');
    const token = await page.getByLabel('Webhook token').inputValue();
    await shots('agent-template-token');
    // Shown once: Escape asks first (the token was not copied), and "Keep it open" keeps it.
    await page.keyboard.press('Escape');
    await dialog().getByRole('alertdialog').waitFor();
    expect(await focused()).toBe('Keep it open');
    await shots('agent-template-token-leave');
    await page.keyboard.press('Enter');
    await dialog().getByRole('alertdialog').waitFor({ state: 'detached' });
    expect(await page.getByLabel('Webhook token').inputValue()).toBe(token);
    await tabTo('Done');
    await page.keyboard.press('Enter');
    await dialog().waitFor({ state: 'detached' });
    const t = (await hub.invoke('agents.templates', {}))[0]!;
    expect(t).toMatchObject({ nodeId, hasWebhook: true, defaultConfig: { greeting: 'hi' } });
    // The page shows the webhook's address; the token shown works there.
    const url = (await page.locator('#webhook-url').innerText()).replace(/^POST /, '');
    expect(url).toBe(`${hub.info.ui}/api/hooks/agents/${templateId}`);
    const hook = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: '{"sessionId":"from-hook"}' });
    expect(hook.status).toBe(201);
    await instanceState(((await hook.json()) as { result: AgentInstanceView }).result.id, 'succeeded');
    await page.locator('.template-page [data-agent-id]').first().waitFor();
    await shots('agent-template');
  });

  it('runs it from the UI; the instance page shows the command, duration and output, and is reached again by its URL', async () => {
    await pressButton('Start…');
    await dialog().waitFor();
    await tabTo('Start');
    await page.keyboard.press('Enter');
    await page.locator('.instance-page').waitFor();
    firstRun = (await page.locator('.instance-page').getAttribute('data-agent-id'))!;
    expect(new URL(page.url()).hash).toBe(`#/agents/instances/${firstRun}`);
    await page.locator('.instance-page[data-state="succeeded"]').waitFor();
    await page.locator('pre[data-stream="stdout"]').waitFor();
    expect(await page.locator('pre[data-stream="stdout"]').innerText()).toBe(`hello from ${firstRun}\n`);
    expect(await page.locator('pre[data-stream="stderr"]').innerText()).toBe('a warning\n');
    expect(await page.locator('pre.command').innerText()).toBe('echo "hello from $CORTEX_AGENT_ID"; echo "a warning" >&2');
    expect(await page.getByTestId('instance-duration').innerText()).toMatch(/^\d+ ms$|^\d+\.\d s$/);
    expect(await page.locator('.agent-facts').innerText()).toContain('{"greeting":"hi"}');
    await shots('agent-instance');
    // Linkable: a fresh page on the address shows it.
    await page.goto(`${hub.info.ui}/#/agents/instances/${firstRun}`);
    await page.locator(`.instance-page[data-agent-id="${firstRun}"][data-state="succeeded"]`).waitFor();
    await page.locator('pre[data-stream="stdout"]').getByText(`hello from ${firstRun}`).waitFor();
  });

  it('re-runs it: a new instance of the same template, node and config, whose page opens', async () => {
    await pressButton('Re-run');
    await page.locator(`.instance-page:not([data-agent-id="${firstRun}"])`).waitFor();
    const again = (await page.locator('.instance-page').getAttribute('data-agent-id'))!;
    expect(await hub.invoke('agents.get', { id: again })).toMatchObject({ templateId, nodeId, trigger: 'rerun', config: { greeting: 'hi' } });
    await page.locator('.instance-page[data-state="succeeded"]').waitFor();
    await page.locator('pre[data-stream="stdout"]').getByText(`hello from ${again}`).waitFor();
  });

  it('shows the output so far while an instance runs, and stops it from its page', async () => {
    const slow = await hub.invoke('agents.createTemplate', { name: 'slow', command: 'echo "step 1 done"; sleep 120', nodeId });
    const a = await hub.invoke('agents.start', { templateId: slow.template.id, nodeId });
    await page.goto(`${hub.info.ui}/#/agents/instances/${a.id}`);
    await page.locator('.outputs[data-final="no"] pre[data-stream="stdout"]').getByText('step 1 done').waitFor({ timeout: 20_000 });
    expect(await page.locator('.instance-page').getAttribute('data-state')).toBe('running');
    expect(await page.getByTestId('instance-duration').innerText()).toBe('running');
    await shots('agent-instance-running');
    await pressButton('Stop');
    await page.locator('.instance-page[data-state="stopped"]').waitFor();
    await page.locator('.outputs[data-final="yes"] pre[data-stream="stdout"]').getByText('step 1 done').waitFor();
    await hub.invoke('agents.deleteTemplate', { id: slow.template.id });
  });

  it('a template firing every minute is one line of the overview; its instances are on its own page', async () => {
    const cron = await hub.invoke('agents.createTemplate', { name: 'every-minute', command: 'true', cron: '* * * * *', nodeId: idleNode, overlap: 'queue' });
    for (let k = 0; k < 40; k++) await hub.invoke('agents.start', { templateId: cron.template.id, nodeId: idleNode });
    // Its cron fires for real once a minute: a run may cross a minute and make one more than the 40 started here.
    const instances = async () => (await hub.invoke('agents.list', { templateId: cron.template.id, limit: 1000 })).items.length;
    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Agents' }).click();
    const rows = page.locator('table.templates tbody tr');
    await page.locator('table.templates tr[data-template="every-minute"]').waitFor();
    expect(await rows.count()).toBe(2);
    await expect.poll(async () => Number(await page.locator('tr[data-template="every-minute"] td').nth(4).innerText()) === await instances()).toBe(true);
    expect(await instances()).toBeGreaterThanOrEqual(40);
    expect(await page.locator('tr[data-template="every-minute"] td').nth(2).innerText()).toMatch(/^cron \* \* \* \* \* \(next in \d+s\)$/);
    await shots('agents-overview');
    await page.locator('tr[data-template="every-minute"]').getByRole('link', { name: 'every-minute' }).click();
    await page.getByRole('heading', { name: 'every-minute', level: 1 }).waitFor();
    expect(await page.locator('[data-fact="next-run"]').innerText()).toMatch(/next run .+ \(in \d+s, by the hub's clock\)/);
    await expect.poll(async () => Number((await page.getByTestId('agents-count').innerText()).replace(/[^\d]/g, '')) === await instances()).toBe(true);
    expect(await page.locator('.template-page [data-agent-id]').evaluateAll((els) => els.every((e) => e.getAttribute('data-state') === 'pending'))).toBe(true);
  });

  it('deletes a template from the keyboard after asking (Cancel has the focus); its instances stay, with their output', async () => {
    await page.goto(`${hub.info.ui}/#/agents/templates/${templateId}`);
    await page.getByRole('heading', { name: 'greeter', level: 1 }).waitFor();
    await pressButton('Delete…');
    await dialog().waitFor();
    expect(await focused()).toBe('Cancel');
    await shots('agent-template-delete');
    await page.keyboard.press('Escape');
    await dialog().waitFor({ state: 'detached' });
    expect((await hub.invoke('agents.templates', {})).map((t) => t.name)).toContain('greeter');
    await pressButton('Delete…');
    await dialog().waitFor();
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Delete');
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Deleted greeter; its instances are kept' }).waitFor();
    await page.locator('.template-page .badge-retired').getByText('deleted').waitFor();
    expect(await page.getByRole('button', { name: 'Edit…' }).count()).toBe(0);
    expect((await hub.invoke('agents.templates', {})).map((t) => t.name)).toEqual(['every-minute']);
    expect((await hub.invoke('agents.list', { templateId })).items).toHaveLength(3);
    await page.locator(`.template-page [data-agent-id="${firstRun}"]`).waitFor();
    await shots('agent-template-deleted');
    await page.locator(`.template-page [data-agent-id="${firstRun}"]`).click();
    await page.locator(`.instance-page[data-agent-id="${firstRun}"]`).waitFor();
    await page.locator('pre[data-stream="stdout"]').getByText(`hello from ${firstRun}`).waitFor();
    expect(await page.getByRole('button', { name: 'Re-run' }).isDisabled()).toBe(true);
    expect(await page.locator('.instance-page .sub').first().innerText()).toContain('greeter (deleted)');
  });

  it('ran without page errors or CSP violations', () => {
    expect(pageErrors).toEqual([]);
  });
});
