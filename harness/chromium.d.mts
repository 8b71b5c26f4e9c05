// Types of chromium.mjs (for the TypeScript tests).
import type { Browser } from 'playwright-core';

export const CHROMIUM_ARGS: string[];
export function launchChromium(): Promise<{ browser: Browser } | { skip: string }>;
