/**
 * The first thing `cortex-hub serve` does, before the rest of the hub loads (cli/hub.ts
 * imports this module first): it starts the watchers of the mirrors the last start served
 * (hub/early-watch.ts), whose first look at a big mirror is what the verification at start
 * waits for. It only reads (the list and the mirrors): the data dir's lock, its staging
 * leftovers and the database come later, as before; a hub that then fails to start just exits.
 */
import { parseArgs } from 'node:util';
import { resolveDataDir } from '../hub/data-dir';
import { watchMirrorsEarly } from '../hub/early-watch';

function startEarly(argv: string[]): void {
  if (argv[0] !== 'serve') return;
  const { values } = parseArgs({ args: argv, strict: false, allowPositionals: true, options: { data: { type: 'string' } } });
  watchMirrorsEarly(resolveDataDir(typeof values.data === 'string' ? values.data : undefined));
}

try {
  startEarly(process.argv.slice(2));
} catch {
  // Nothing started early: the hub starts its watchers itself, as without this.
}
