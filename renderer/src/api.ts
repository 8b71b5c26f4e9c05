/** The one client this renderer uses (set up in main.tsx before the first render). */
import type { Client } from './transport';

let current: Client | null = null;

export function setClient(c: Client): void {
  current = c;
}

export function api(): Client {
  if (!current) throw new Error('the hub client is not set up yet');
  return current;
}
