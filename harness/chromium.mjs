// A real Chromium for the browser tests (test/helpers/browser.ts) and the UI benchmarks (bench/ui-load.mjs, bench/ui-agents.mjs):
// $CORTEX_CHROMIUM or Debian's /usr/bin/chromium where it exists (CI installs it), else
// Playwright's own browser if one was downloaded; otherwise the reason, so a caller can skip
// (tests) or fail (benchmarks) saying why.
import fs from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** @returns {Promise<{ browser: import('playwright-core').Browser } | { skip: string }>} */
export async function launchChromium() {
  const system = process.env.CORTEX_CHROMIUM ?? '/usr/bin/chromium';
  if (fs.existsSync(system)) return { browser: await chromium.launch({ executablePath: system, args: CHROMIUM_ARGS }) };
  try {
    return { browser: await chromium.launch({ args: CHROMIUM_ARGS }) };
  } catch (e) {
    return { skip: `no Chromium: ${system} is missing and Playwright has no browser of its own (${e.message.split('\n')[0]}); install Debian's chromium or run "npx playwright install chromium"` };
  }
}
