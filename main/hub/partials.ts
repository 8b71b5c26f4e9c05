/**
 * Staging files of large pulls that a lost connection cut short, kept per node (in memory, a
 * few at a time) so that pulling the same version again reuses the blocks already written:
 * they are read back and verified like any local block. Staging is cleared at hub start, so
 * this only spans reconnections of a running hub.
 */
import fs from 'node:fs';
import type { Entry } from '../sync/types';

export class PartialFiles {
  private readonly byHash = new Map<string, string>();

  constructor(private readonly max = 4) {}

  /** Takes ownership of `file`, the partial of `entry`'s version (replacing an older one). */
  keep(entry: Entry, file: string): void {
    const key = entry.hash.toString('hex');
    const old = this.byHash.get(key);
    if (old && old !== file) fs.rmSync(old, { force: true });
    this.byHash.delete(key);
    this.byHash.set(key, file);
    while (this.byHash.size > this.max) {
      const [k, f] = this.byHash.entries().next().value!;
      this.byHash.delete(k);
      fs.rmSync(f, { force: true });
    }
  }

  /** The partial of this version, if one is kept. */
  of(entry: Entry): string | null {
    return this.byHash.get(entry.hash.toString('hex')) ?? null;
  }

  /** Deletes the partial of this version (it has been committed, or is no longer wanted). */
  drop(entry: Entry): void {
    const key = entry.hash.toString('hex');
    const f = this.byHash.get(key);
    if (!f) return;
    this.byHash.delete(key);
    fs.rmSync(f, { force: true });
  }

  clear(): void {
    for (const f of this.byHash.values()) fs.rmSync(f, { force: true });
    this.byHash.clear();
  }

  get size(): number {
    return this.byHash.size;
  }
}
