/**
 * A real Chromium for browser tests (harness/chromium.mjs, shared with the UI benchmarks): a
 * browser, or the reason there is none, so a test can skip loudly instead of failing or
 * passing silently.
 */
export { CHROMIUM_ARGS, launchChromium } from '../../harness/chromium.mjs';
