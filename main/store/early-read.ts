/**
 * What `cortex-hub serve` reads from the hub's database before the rest of the hub loads
 * (cli/serve-early.ts): a read-only look, no lock, no migrations. Anything unexpected (no
 * database yet, an older schema) answers nothing, and the hub starts as without it.
 */
import fs from 'node:fs';
import { openDatabase } from './db';

/** Ids of the nodes not retired (whose mirrors the hub serves), or [] when it cannot tell. */
export function activeNodeIds(dbFile: string): string[] {
  if (!fs.existsSync(dbFile)) return [];
  try {
    const db = openDatabase(dbFile, [], { readonly: true });
    try {
      return db.prepare<[], { id: string }>('SELECT id FROM nodes WHERE retired_at IS NULL').all().map((r) => r.id);
    } finally {
      db.close();
    }
  } catch {
    return [];
  }
}
