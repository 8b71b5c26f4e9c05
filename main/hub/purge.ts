/**
 * Purge of orphaned mirrors: directories under mirrors/ that belong to no active node.
 * The decision is a pure function; the walk never follows symlinks and never leaves the
 * mirrors root; removal deletes exactly what the preview listed.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface MirrorDirEntry {
  name: string;
  kind: 'dir' | 'symlink' | 'other';
}

export interface PurgeTarget {
  /** Entry name under mirrors/ (a node id for real mirrors). */
  id: string;
  reason: 'retired' | 'unknown';
  kind: MirrorDirEntry['kind'];
  files: number;
  bytes: number;
}

export interface PurgePlan {
  mirrorsRoot: string;
  targets: PurgeTarget[];
  files: number;
  bytes: number;
}

/** Pure: which entries of mirrors/ are orphans, given the nodes the hub knows. */
export function purgeCandidates(entries: MirrorDirEntry[], nodes: { id: string; retiredAt: number | null }[], connected: Set<string>): { name: string; reason: PurgeTarget['reason']; kind: MirrorDirEntry['kind'] }[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const out: { name: string; reason: PurgeTarget['reason']; kind: MirrorDirEntry['kind'] }[] = [];
  for (const e of entries) {
    if (connected.has(e.name)) continue;
    const node = byId.get(e.name);
    if (node && node.retiredAt === null) continue;
    out.push({ name: e.name, reason: node ? 'retired' : 'unknown', kind: e.kind });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

function assertRealDir(p: string): void {
  const st = fs.lstatSync(p);
  if (!st.isDirectory()) throw new Error(`${p} is not a real directory (symlink or file): refusing to purge`);
}

function listMirrorsRoot(root: string): MirrorDirEntry[] {
  if (!fs.existsSync(root)) return [];
  assertRealDir(root);
  return fs.readdirSync(root, { withFileTypes: true }).map((d) => ({
    name: d.name,
    kind: d.isSymbolicLink() ? 'symlink' : d.isDirectory() ? 'dir' : 'other',
  }));
}

/** Counts files and bytes under a directory without following symlinks (a symlink counts as one file). */
function measure(p: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const stack = [p];
  while (stack.length) {
    const cur = stack.pop()!;
    const st = fs.lstatSync(cur, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(cur)) stack.push(path.join(cur, name));
    } else {
      files++;
      bytes += st.isFile() ? st.size : 0;
    }
  }
  return { files, bytes };
}

export function planPurge(mirrorsRoot: string, nodes: { id: string; retiredAt: number | null }[], connected: Set<string>): PurgePlan {
  const targets: PurgeTarget[] = purgeCandidates(listMirrorsRoot(mirrorsRoot), nodes, connected).map((c) => {
    const m = c.kind === 'dir' ? measure(path.join(mirrorsRoot, c.name)) : { files: 1, bytes: 0 };
    return { id: c.name, reason: c.reason, kind: c.kind, ...m };
  });
  return {
    mirrorsRoot,
    targets,
    files: targets.reduce((s, t) => s + t.files, 0),
    bytes: targets.reduce((s, t) => s + t.bytes, 0),
  };
}

/** Removes the plan's targets. Each must still be a direct child of the (real) mirrors root. */
export function executePurge(plan: PurgePlan): void {
  assertRealDir(plan.mirrorsRoot);
  for (const t of plan.targets) {
    if (t.id.includes('/') || t.id.includes(path.sep) || t.id === '..' || t.id === '.') throw new Error(`refusing to purge ${t.id}`);
    const target = path.join(plan.mirrorsRoot, t.id);
    // fs.rm never follows symlinks: a symlink is unlinked, a directory's symlinks are unlinked.
    fs.rmSync(target, { recursive: true, force: true });
  }
}
