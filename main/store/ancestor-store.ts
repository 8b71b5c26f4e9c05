/**
 * The agreements of two-way sync (table `ancestors`): per node and path, the last version both
 * sides agreed on, what reconciliation compares each side's change against. A part of HubStore.
 */
import type { Version } from '../sync/reconcile';
import type { DB } from './db';
import { codeOfType, typeOfCode } from './file-rows';

interface AncestorRow { type: number; mode: number; hash: Buffer; target: string; mtime_ms: number }

export class AncestorStore {
  private readonly q;

  constructor(private readonly db: DB) {
    this.q = {
      ancestor: db.prepare<[string, string], AncestorRow>('SELECT type, mode, hash, target, mtime_ms FROM ancestors WHERE node_id = ? AND path = ?'),
      putAncestor: db.prepare('INSERT OR REPLACE INTO ancestors (node_id, path, type, mode, hash, target, mtime_ms) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      deleteAncestor: db.prepare('DELETE FROM ancestors WHERE node_id = ? AND path = ?'),
      deleteAncestorsUnder: db.prepare('DELETE FROM ancestors WHERE node_id = ? AND path >= ? AND path < ?'),
      deleteAllAncestors: db.prepare('DELETE FROM ancestors WHERE node_id = ?'),
    };
  }

  /** The last version of a path both sides agreed on (null: none, or absent on both). */
  get(nodeId: string, path: string): Version | null {
    const r = this.q.ancestor.get(nodeId, path);
    return r ? { type: typeOfCode(r.type), mode: r.mode, hash: r.hash.toString('hex'), target: r.target, mtimeMs: r.mtime_ms } : null;
  }

  /** Records agreements; null for a path agreed absent (its subtree goes too). */
  set(nodeId: string, agreed: [path: string, v: Version | null][]): void {
    this.db.transaction(() => {
      for (const [p, v] of agreed) {
        if (v) {
          this.q.putAncestor.run(nodeId, p, codeOfType(v.type), v.mode, Buffer.from(v.hash, 'hex'), v.target, v.mtimeMs);
          continue;
        }
        this.q.deleteAncestor.run(nodeId, p);
        this.q.deleteAncestorsUnder.run(nodeId, `${p}/`, `${p}0`);
      }
    })();
  }

  /** Forgets every agreement (the node's index is new: nothing it had can be trusted). */
  clear(nodeId: string): void {
    this.q.deleteAllAncestors.run(nodeId);
  }
}
