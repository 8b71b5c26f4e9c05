#!/usr/bin/env node
/**
 * The Agents view over a large table: BENCH_UI_AGENTS (1M) instances seeded into the hub's
 * database through the product's AgentStore, a real hub serving it, the view open in Chromium
 * and scrolled continuously for BENCH_UI_AGENT_SECONDS (15): pages of 200 load from the hub
 * as the table scrolls. Measured: the interval between animation frames while scrolling
 * (p50/p95/max; baseline in the same run: the same page idle for as long), rows loaded, the
 * most rows ever in the DOM (virtualization keeps it to what is in view), and the hub's
 * answer time for a page at that depth (agents.list round trip over HTTP).
 *
 * Goal: frame p95 within one vsync period while scrolling a 1M-row table.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { Hub, goal, main, param, percentile, productInfo, progress, round } from './lib.mjs';
import { launchChromium } from '../harness/chromium.mjs';

await main('ui-agents', async ({ workDir }) => {
  const n = param('BENCH_UI_AGENTS', 1_000_000);
  const seconds = param('BENCH_UI_AGENT_SECONDS', 15, { scaled: false });
  const params = { instances: n, seconds };
  const require = createRequire(path.join(productInfo().measured, 'package.json'));
  const { HubStore } = require('./dist/main/store/hub-store.js');
  const { AgentStore } = require('./dist/main/store/agent-store.js');

  const data = path.join(workDir, 'hub');
  const store = new HubStore(path.join(data, 'hub.db'));
  const agents = new AgentStore(store.db);
  for (let i = 0; i < 20; i++) store.addNode(`node${i}`, `worker-${i}`, 'secret');
  const tpl = ['lint', 'test', 'build', 'deploy'].map((name) => agents.createTemplate({ name, command: 'true' }).id);
  progress(`seeding ${n} instances`);
  for (let done = 0; done < n; done += 10_000) {
    store.db.transaction(() => {
      for (let k = done; k < Math.min(n, done + 10_000); k++) agents.createInstance({ templateId: tpl[k % 4], nodeId: `node${k % 20}`, sessionId: `s-${Math.floor(k / 10)}`, trigger: 'cron' });
    })();
  }
  store.db.exec('ANALYZE');
  store.close();

  const hub = await Hub.start(data);
  const launched = await launchChromium();
  if ('skip' in launched) throw new Error(launched.skip);
  const page = await launched.browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.addInitScript(() => {
    const m = { frames: [], measuring: false, maxRows: 0 };
    window.__bench = m;
    let last = 0;
    const tick = (t) => {
      if (m.measuring && last) m.frames.push(t - last);
      last = t;
      if (m.measuring) m.maxRows = Math.max(m.maxRows, document.querySelectorAll('.vbody [role="row"]').length);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await page.goto(`${hub.info.ui}/#token=${encodeURIComponent(hub.info.adminToken)}`);
  await page.getByRole('link', { name: 'Agents' }).click();
  await page.locator('.vbody [role="row"]').first().waitFor();

  const measure = async (scroll) => {
    await page.evaluate((s) => {
      const m = window.__bench;
      m.frames = [];
      m.maxRows = 0;
      m.measuring = true;
      if (s) {
        const el = document.querySelector('.vbody');
        const step = () => { if (!m.measuring) return; el.scrollTop += 300; requestAnimationFrame(step); };
        requestAnimationFrame(step);
      }
    }, scroll);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    return page.evaluate(() => { window.__bench.measuring = false; return { frames: window.__bench.frames, maxRows: window.__bench.maxRows }; });
  };
  progress('idle baseline');
  const idle = await measure(false);
  progress(`scrolling for ${seconds} s`);
  const scrolled = await measure(true);
  const loaded = Number((await page.getByTestId('agents-count').innerText()).replace(/[^\d]/g, ''));
  // The hub's answer for a page as deep as the scroll got (keyset: the same cost at any depth):
  // follow the cursors (untimed) to the page after the last row loaded, then time that page.
  const lastId = await page.locator('.vbody [role="row"]').last().getAttribute('data-agent-id');
  let cursor = null;
  let depth = 0;
  for (;;) {
    const p = await hub.invoke('agents.list', { limit: 200, ...(cursor ? { cursor } : {}) });
    depth += p.items.length;
    if (!p.next) throw new Error(`the list ended after ${depth} rows, before the last row loaded (${lastId})`);
    cursor = p.next;
    if (p.items.some((x) => x.id === lastId) || depth >= loaded) break;
  }
  const deep = [];
  let deepFirstId = null;
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    const p = await hub.invoke('agents.list', { limit: 200, cursor });
    deep.push(performance.now() - t);
    deepFirstId = p.items[0]?.id ?? null;
  }
  const first = await hub.invoke('agents.list', { limit: 200 });
  if (first.items.some((x) => x.id === deepFirstId)) throw new Error('the page timed as deep is the first page');
  await launched.browser.close();
  await hub.stop();

  const stats = (f) => ({ count: f.length, p50Ms: round(percentile(f, 50), 2), p95Ms: round(percentile(f, 95), 2), maxMs: round(Math.max(...f), 2) });
  const vsync = percentile(idle.frames, 50);
  const frames = stats(scrolled.frames);
  return {
    params,
    results: { scrollFramesP95Ms: frames.p95Ms, idleFramesP95Ms: stats(idle.frames).p95Ms, vsyncMs: round(vsync, 2), rowsLoaded: loaded, maxRowsInDom: scrolled.maxRows, pageAnswerP50Ms: round(percentile(deep, 50), 2), pageAnswerDepthRows: depth, lastRowSeen: lastId },
    goals: { scrollFramesP95: goal('<= one vsync period while scrolling 1M rows', frames.p95Ms, frames.p95Ms <= vsync + 0.5) },
    scrolling: frames, idle: stats(idle.frames),
  };
});
