/**
 * A real Chromium for browser tests (harness/chromium.mjs, shared with the UI benchmarks): a
 * browser, or the reason there is none, so a test can skip loudly instead of failing or
 * passing silently.
 */
import type { Browser } from 'playwright-core';
import { launchChromium } from '../../harness/chromium.mjs';

export { CHROMIUM_ARGS, launchChromium } from '../../harness/chromium.mjs';

/** The browser of a launch, inside tests that run only when there is one (describe.skipIf). */
export function browserOf(launched: Awaited<ReturnType<typeof launchChromium>>): Browser {
  if ('skip' in launched) throw new Error(`no browser: ${launched.skip}`);
  return launched.browser;
}
