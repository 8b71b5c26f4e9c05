/**
 * A real Chromium for browser tests (bench/chromium.mjs, shared with bench/ui-load.mjs): a
 * browser, or the reason there is none, so a test can skip loudly instead of failing or
 * passing silently.
 */
export { CHROMIUM_ARGS, launchChromium } from '../../bench/chromium.mjs';
