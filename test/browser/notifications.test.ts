/**
 * Notifications in real Chromium against a real `cortex-hub serve` and `cortex-node`: a node
 * stopped longer than the set time, new conflicts, a node going to error, new problems; told by
 * the Notification API in a page whose browser context granted the permission, and as toasts
 * in one that did not; each once; a switched-off kind not at all; the permission asked from
 * the Settings view on a click. The Notification API is real: an init script only records
 * what the page constructs (the permission layer is Playwright's context permissions).
 * Screenshots, light and dark, go to test-results/ui/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { isConflictCopy } from '../../main/sync/reconcile';
import { browserOf, launchChromium } from '../helpers/browser';
import { Hub, Node, ROOT, snapshot, tempDir, waitConverged, waitFor } from '../helpers/procs';

const SHOTS = path.join(ROOT, 'test-results', 'ui');
const launched = await launchChromium();
if ('skip' in launched) process.stderr.write(`\n[SKIPPED] browser notification tests: ${launched.skip}\n\n`);
afterAll(async () => {
  if ('browser' in launched) await launched.browser.close();
});

interface Shown { title: string; body: string }

/**
 * Runs in the page before its scripts: the real Notification, each construction recorded; and
 * each toast that appears (they go by themselves after a while, so counting the live ones would not do).
 */
function recordNotifications(): void {
  const w = window as unknown as { Notification?: typeof Notification; shownNotifications: Shown[]; shownToasts: string[]; notificationObjects: Notification[] };
  w.shownNotifications = [];
  w.notificationObjects = [];
  w.shownToasts = [];
  new MutationObserver((records) => {
    for (const r of records) {
      for (const n of r.addedNodes) if (n instanceof HTMLElement && n.dataset.toast) w.shownToasts.push(n.dataset.toast);
    }
  }).observe(document, { childList: true, subtree: true });
  const Real = w.Notification;
  if (!Real) return;
  w.Notification = class extends Real {
    constructor(title: string, options?: NotificationOptions) {
      super(title, options);
      w.shownNotifications.push({ title, body: options?.body ?? '' });
      w.notificationObjects.push(this);
    }
  };
}

/** A seconds-long disconnection, so the test waits on it rather than on minutes. */
const AFTER_SECONDS = 2;

describe.skipIf('skip' in launched)('notifications, in Chromium', () => {
  let dir: string;
  let ws: string;
  let hub: Hub;
  let node: Node | undefined;
  let id: string;
  let join: string;
  let granted: BrowserContext;
  let plain: BrowserContext;
  /** In a context that granted notifications, and in one that did not. */
  let sys: Page;
  let inPage: Page;
  const pageErrors: string[] = [];

  const put = (root: string, rel: string, text: string, mtime: Date) => {
    const target = path.join(root, rel);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = path.join(dir, `w-${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(tmp, text);
    fs.utimesSync(tmp, mtime, mtime);
    fs.renameSync(tmp, target);
  };
  const shown = (page: Page) => page.evaluate(() => (window as unknown as { shownNotifications: Shown[] }).shownNotifications);
  const titles = async (page: Page, re: RegExp) => (await shown(page)).filter((s) => re.test(s.title));
  const toasts = (page: Page, kind: string) => page.locator(`[data-toast="${kind}"]`);
  /** How many toasts of a kind appeared so far. */
  const toastCount = async (page: Page, kind: string) => (await page.evaluate(() => (window as unknown as { shownToasts: string[] }).shownToasts)).filter((k) => k === kind).length;
  const startNode = () => { node = Node.start(join, ws, path.join(dir, 'node-state')); };
  const stopNode = async () => {
    await node!.stop();
    node = undefined;
    await hub.waitState(id, 'disconnected');
  };
  /** Waits until the hub has not seen the node for `ms` (it is down that long). */
  const downFor = (ms: number) => waitFor(`the node down for ${ms} ms`, async () => {
    const n = await hub.node(id);
    return n.state === 'disconnected' && n.lastSeen !== null && Date.now() - n.lastSeen >= ms;
  }, 60_000, 100);
  const open = async (context: BrowserContext) => {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
    await page.goto(`${hub.info.ui}/#token=${encodeURIComponent(hub.info.adminToken)}`);
    await page.locator('tr[data-node-name="echo"][data-state="in-sync"]').waitFor({ timeout: 60_000 });
    return page;
  };

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = tempDir('ui-notify');
    ws = path.join(dir, 'ws');
    put(ws, 'notes.md', 'notes v1\n', new Date(Date.now() - 120_000));
    hub = await Hub.start(path.join(dir, 'hub'));
    ({ id, join } = await hub.addNode('echo'));
    startNode();
    await waitConverged('the first sync', hub, id, ws, hub.mirror(id), (p) => p === '.metadata.json');
    await hub.invoke('settings.set', { notifyDisconnectedAfterSeconds: AFTER_SECONDS });
    const browser = browserOf(launched);
    const viewport = { width: 1280, height: 800 };
    granted = await browser.newContext({ viewport, permissions: ['notifications'] });
    plain = await browser.newContext({ viewport });
    for (const c of [granted, plain]) await c.addInitScript(recordNotifications);
    sys = await open(granted);
    inPage = await open(plain);
    expect(await sys.evaluate(() => Notification.permission)).toBe('granted');
    expect(await inPage.evaluate(() => Notification.permission)).not.toBe('granted');
  });

  afterAll(async () => {
    await granted?.close();
    await plain?.close();
    await node?.stop();
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS && dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('tells a node disconnected longer than the set time: a system notification where allowed, else a toast', async () => {
    await stopNode();
    await expect.poll(() => titles(sys, /^echo disconnected$/), { timeout: 30_000 }).toHaveLength(1);
    expect((await titles(sys, /^echo disconnected$/))[0]!.body).toMatch(/^Not connected to the hub for \d+ s; its changes wait on the node\.$/);
    const toast = toasts(inPage, 'disconnected');
    await toast.waitFor({ timeout: 30_000 });
    expect(await toast.innerText()).toMatch(/^echo disconnected\nNot connected to the hub for \d+ s/);
    // The page that may not notify did not; the one that may shows no toast.
    expect(await shown(inPage)).toEqual([]);
    expect(await toastCount(sys, 'disconnected')).toBe(0);
    await inPage.locator('.toasts').screenshot({ path: path.join(SHOTS, 'notice-toast.png') });
    await inPage.emulateMedia({ colorScheme: 'dark' });
    await inPage.locator('.toasts').screenshot({ path: path.join(SHOTS, 'notice-toast-dark.png') });
    await inPage.emulateMedia({ colorScheme: 'light' });
  });

  it('tells new conflicts once, and the disconnection still only once', async () => {
    // Both sides change the file while the node is away; the node's edit is newer.
    put(hub.mirror(id), 'notes.md', 'notes v2 from the hub\n', new Date(Date.now() - 60_000));
    await waitFor('the hub-side edit queued', async () => (await hub.node(id)).toNodeFiles === 1, 30_000);
    put(ws, 'notes.md', 'notes v2 from the node\n', new Date(Date.now() - 1000));
    startNode();
    await waitConverged('both versions on both sides', hub, id, ws, hub.mirror(id), (p) => p === '.metadata.json');
    expect([...snapshot(ws).keys()].filter(isConflictCopy)).toHaveLength(1);
    await expect.poll(() => titles(sys, /new conflicts? on echo/), { timeout: 30_000 }).toEqual([{ title: '1 new conflict on echo', body: 'Both versions were kept; the Conflicts view compares them.' }]);
    await toasts(inPage, 'conflicts').waitFor({ timeout: 30_000 });
    expect(await toasts(inPage, 'conflicts').innerText()).toMatch(/^1 new conflict on echo\nBoth versions were kept/);
    expect(await titles(sys, /disconnected/)).toHaveLength(1);
    expect(await toastCount(inPage, 'disconnected')).toBe(1);
    // A click on the notification leads to the conflicts (the browser sends it a click event).
    await sys.evaluate(() => (window as unknown as { notificationObjects: Notification[] }).notificationObjects.at(-1)!.dispatchEvent(new Event('click')));
    await sys.getByRole('heading', { name: 'Conflicts', level: 1 }).waitFor();
    await sys.getByRole('link', { name: 'Nodes', exact: true }).click();
    // The toast leads to the conflicts.
    await toasts(inPage, 'conflicts').getByRole('button', { name: 'Show conflicts' }).click();
    await inPage.getByRole('heading', { name: 'Conflicts', level: 1 }).waitFor();
  });

  it('tells a node going to error with its reason, then its new problems', async () => {
    // A name that is not UTF-8 cannot be mirrored: a problem, and the node goes to error.
    fs.writeFileSync(Buffer.from(`${ws}/caf\xe9.txt`, 'latin1'), 'a Latin-1 name\n');
    await hub.waitState(id, 'error');
    await expect.poll(() => titles(sys, /^echo: error$/), { timeout: 30_000 }).toHaveLength(1);
    expect((await titles(sys, /^echo: error$/))[0]!.body).toBe('1 problem: the node detail says what and why');
    await toasts(inPage, 'error').waitFor({ timeout: 30_000 });
    fs.writeFileSync(Buffer.from(`${ws}/na\xefve.txt`, 'latin1'), 'another\n');
    await waitFor('the second problem at the hub', async () => (await hub.node(id)).problems === 2, 60_000);
    await expect.poll(() => titles(sys, /new problems? on echo/), { timeout: 30_000 }).toEqual([expect.objectContaining({ title: '1 new problem on echo' })]);
    await toasts(inPage, 'problems').waitFor({ timeout: 30_000 });
    // Told once each: the error was not told again with the second problem.
    expect(await titles(sys, /^echo: error$/)).toHaveLength(1);
    expect(await toastCount(inPage, 'error')).toBe(1);
  });

  it('asks the browser for the permission on a click in the Settings view, and honours a switch turned off', async () => {
    for (const f of ['caf\xe9.txt', 'na\xefve.txt']) fs.rmSync(Buffer.from(`${ws}/${f}`, 'latin1'), { force: true });
    await waitFor('the problems gone', async () => (await hub.node(id)).problems === 0, 60_000);
    await inPage.getByRole('link', { name: 'Settings' }).click();
    const how = inPage.locator('#notify-how');
    await how.waitFor();
    // Not granted, not refused: the browser would ask.
    expect(await how.getAttribute('data-permission')).toBe('default');
    expect(await how.innerText()).toBe('They show inside this page; allow notifications to see them outside it too.');
    // The disconnection switch, turned off from the keyboard.
    const sw = inPage.getByLabel('A node stays disconnected longer than the time below');
    await sw.focus();
    await inPage.keyboard.press('Space');
    await waitFor('the switch saved', async () => (await hub.invoke('settings.get', {})).notifyOnDisconnect === false);
    // The hub has it before the page's answer arrives: the (controlled) switch shows it once that answer is rendered.
    await expect.poll(() => sw.isChecked(), { timeout: 10_000 }).toBe(false);
    const field = inPage.getByLabel('Seconds a node may stay disconnected');
    expect(await field.inputValue()).toBe(String(AFTER_SECONDS));
    // Start on login belongs to the desktop app: off here, with the reason.
    const login = inPage.getByLabel('Start Cortex Hub when I log in');
    expect(await login.isDisabled()).toBe(true);
    expect(await inPage.locator('#login-help').innerText()).toMatch(/^Only the desktop app starts on login/);
    await inPage.screenshot({ path: path.join(SHOTS, 'settings-notifications.png'), fullPage: true });
    await inPage.emulateMedia({ colorScheme: 'dark' });
    await inPage.screenshot({ path: path.join(SHOTS, 'settings-notifications-dark.png'), fullPage: true });
    await inPage.emulateMedia({ colorScheme: 'light' });

    // The operator allows notifications: the button asks, the browser (its permission layer) says yes.
    await plain.grantPermissions(['notifications']);
    await inPage.getByRole('button', { name: 'Allow notifications in this browser' }).click();
    await expect.poll(() => how.getAttribute('data-permission')).toBe('granted');
    expect(await how.innerText()).toBe('This browser shows them as system notifications while this page is open.');
    expect(await inPage.getByRole('button', { name: 'Allow notifications in this browser' }).count()).toBe(0);

    // Down longer than the set time, with the switch off: neither page tells it again.
    const sysBefore = (await titles(sys, /disconnected/)).length;
    await stopNode();
    await downFor((AFTER_SECONDS + 3) * 1000);
    // A conflict made meanwhile is told: the watchers looked after the disconnection was due.
    put(hub.mirror(id), 'notes.md', 'notes v3 from the hub\n', new Date(Date.now() - 60_000));
    await waitFor('the hub-side edit queued', async () => (await hub.node(id)).toNodeFiles === 1, 30_000);
    put(ws, 'notes.md', 'notes v3 from the node\n', new Date(Date.now() - 1000));
    startNode();
    await waitConverged('both versions again', hub, id, ws, hub.mirror(id), (p) => p === '.metadata.json');
    expect([...snapshot(ws).keys()].filter(isConflictCopy)).toHaveLength(2);
    await expect.poll(() => titles(sys, /new conflicts? on echo/), { timeout: 30_000 }).toHaveLength(2);
    // The page that was just allowed tells it as a system notification now, not as a toast.
    await expect.poll(() => titles(inPage, /new conflicts? on echo/), { timeout: 30_000 }).toHaveLength(1);
    expect(await toastCount(inPage, 'conflicts')).toBe(1);
    expect(await titles(sys, /disconnected/)).toHaveLength(sysBefore);
    expect(await titles(inPage, /disconnected/)).toHaveLength(0);
    expect(await toastCount(inPage, 'disconnected')).toBe(1);
    expect(await toastCount(sys, 'summary') + await toastCount(sys, 'conflicts') + await toastCount(sys, 'error')).toBe(0);
  });

  it('ran without page errors or CSP violations', () => {
    expect(pageErrors).toEqual([]);
  });
});
