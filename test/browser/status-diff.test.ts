/**
 * The overview follows the hub's status as diffs (contract/ws.ts `status.diff`), in real
 * Chromium against a real `cortex-hub serve` and a real `cortex-node`: a node's change reaches
 * its row through diffs alone, and when a diff is lost the page asks for a full status
 * (`status.snapshot`) and shows the truth again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { browserOf, launchChromium } from '../helpers/browser';
import { Hub, Node, generateWorkspace, tempDir, waitFor } from '../helpers/procs';

const launched = await launchChromium();
if ('skip' in launched) process.stderr.write(`\n[SKIPPED] browser status-diff tests: ${launched.skip}\n\n`);
afterAll(async () => {
  if ('browser' in launched) await launched.browser.close();
});

type Seen = { full: number[]; diffs: number[]; dropped: number[]; dropNextWithFiles: boolean; snapshots: number };

describe.skipIf('skip' in launched)('the overview over status diffs', () => {
  let dir: string;
  let hub: Hub;
  let node: Node;
  let id: string;
  let ws: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  const seen = () => page.evaluate(() => (window as unknown as { seen: Seen }).seen);
  const filesCell = () => page.locator('tr[data-node-name="solo"] td').nth(3).innerText();
  /** The hub in sync with `files` files for the node; then the row must show that number. */
  const hubFiles = async (files: number) => {
    await waitFor('the hub to count the new files', async () => {
      const n = await hub.node(id);
      return n.state === 'in-sync' && n.files === files;
    }, 60_000);
  };

  beforeAll(async () => {
    dir = tempDir('ui-diff');
    hub = await Hub.start(path.join(dir, 'hub'));
    const added = await hub.addNode('solo');
    id = added.id;
    ws = path.join(dir, 'ws');
    generateWorkspace(ws, { files: 10, seed: 3 });
    node = Node.start(added.join, ws, path.join(dir, 'state'));
    browser = browserOf(launched);
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    // Watches the page's WebSocket: the status messages it gets, its requests for a full status,
    // and drops one diff on demand (a lost message, as after a glitch).
    await page.addInitScript(() => {
      const s: Seen = { full: [], diffs: [], dropped: [], dropNextWithFiles: false, snapshots: 0 };
      (window as unknown as { seen: Seen }).seen = s;
      const Native = window.WebSocket;
      window.WebSocket = class extends Native {
        override set onmessage(fn: ((ev: MessageEvent) => void) | null) {
          super.onmessage = (ev: MessageEvent) => {
            const text = String(ev.data);
            const m = JSON.parse(text) as { event?: string; result?: { seq?: number; full?: boolean }; data?: { seq: number; full: boolean; nodes: Record<string, unknown>[] } };
            if (m.event === 'status.diff' && m.data) {
              if (s.dropNextWithFiles && m.data.nodes.some((n) => 'files' in n)) {
                s.dropNextWithFiles = false;
                s.dropped.push(m.data.seq);
                return;
              }
              (m.data.full ? s.full : s.diffs).push(m.data.seq);
            }
            fn?.(ev);
          };
        }
        override get onmessage(): ((ev: MessageEvent) => void) | null {
          return super.onmessage;
        }
        override send(data: string): void {
          if (String(data).includes('"op":"status.snapshot"')) s.snapshots++;
          super.send(data);
        }
      };
    });
    await page.goto(`${hub.info.ui}/#token=${encodeURIComponent(hub.info.adminToken)}`);
  });

  afterAll(async () => {
    await page?.close();
    await node?.stop();
    await hub?.stop();
    if (!process.env.CORTEX_KEEP_TEST_DIRS && dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("shows a node's change through diffs, after one full status", async () => {
    await page.locator('tr[data-node-name="solo"][data-state="in-sync"]').waitFor({ timeout: 60_000 });
    const before = (await hub.node(id)).files;
    const s0 = await seen();
    for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(ws, `new-${i}.txt`), `new ${i}\n`);
    await hubFiles(before + 3);
    await expect.poll(filesCell, { timeout: 10_000 }).toBe(String(before + 3));
    const s1 = await seen();
    expect(s1.snapshots).toBe(1); // the one on connecting
    expect(s1.diffs.length).toBeGreaterThan(s0.diffs.length);
    // Subscribers get diffs; only the stream's very first message is a full one.
    expect(s1.full.filter((seq) => seq !== 1)).toEqual([]);
    // Numbered one after the other.
    expect(s1.diffs.every((seq, i) => i === 0 || seq === s1.diffs[i - 1]! + 1)).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it('asks for a full status after a lost diff, and shows the truth again', async () => {
    const before = (await hub.node(id)).files;
    const s0 = await seen();
    await page.evaluate(() => { (window as unknown as { seen: Seen }).seen.dropNextWithFiles = true; });
    fs.writeFileSync(path.join(ws, 'lost.txt'), 'its diff is dropped\n');
    await hubFiles(before + 1);
    await waitFor('the page to drop the diff that counted lost.txt', async () => (await seen()).dropped.length === 1, 10_000);
    // Every later diff misses the dropped number: none applies until a full status has come.
    fs.writeFileSync(path.join(ws, 'after.txt'), 'after the lost one\n');
    await hubFiles(before + 2);
    await expect.poll(filesCell, { timeout: 10_000 }).toBe(String(before + 2));
    expect((await seen()).snapshots).toBeGreaterThan(s0.snapshots);
    expect(pageErrors).toEqual([]);
  });
});
