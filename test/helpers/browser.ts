/**
 * A real Chromium for browser tests: Debian's /usr/bin/chromium where it exists (CI installs
 * it), else Playwright's own browser if one was downloaded. `null` with the reason when
 * neither is there, so a test can skip loudly instead of failing or passing silently.
 */
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export async function launchChromium(): Promise<{ browser: Browser } | { skip: string }> {
  const system = process.env.CORTEX_CHROMIUM ?? '/usr/bin/chromium';
  if (fs.existsSync(system)) return { browser: await chromium.launch({ executablePath: system, args: CHROMIUM_ARGS }) };
  try {
    return { browser: await chromium.launch({ args: CHROMIUM_ARGS }) };
  } catch (e) {
    return { skip: `no Chromium: ${system} is missing and Playwright has no browser of its own (${(e as Error).message.split('\n')[0]}); install Debian's chromium or run "npx playwright install chromium"` };
  }
}
