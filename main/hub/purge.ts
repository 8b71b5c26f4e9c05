/**
 * Purge of orphaned mirrors: directories under mirrors/ that belong to no active node.
 *
 * A preview makes a plan: the orphans, each with its identity (device, inode, birth time).
 * Running the plan (all of it, or the targets the operator selected) moves into the trash only
 * those of its targets that are still orphaned and still the same directory (or link); a new
 * orphan needs a new preview. The move itself is the trash's (trash-service.ts): a rename,
 * never a copy. Decisions are pure functions; the walk never follows symlinks, never leaves the
 * mirrors root and never descends into a mount point (a mirror that is or holds one is skipped
 * and reported, never moved).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PurgeSkipView } from '../contract';
import type { PurgePlanRecord, PurgePlanTarget } from '../store/hub-store';

export interface MirrorDirEntry {
  name: string;
  kind: 'dir' | 'symlink' | 'other';
}

export type PurgeTarget = PurgePlanTarget;

export interface PurgePlan {
  mirrorsRoot: string;
  targets: PurgeTarget[];
  /** Orphans left out of the plan (mount points). */
  skipped: PurgeSkipView[];
  files: number;
  bytes: number;
}

export interface PurgeResult {
  /** Targets moved into the trash, each with its trash entry's id. */
  removed: (PurgeTarget & { trashId: string })[];
  /** Targets left in place, and why. */
  skipped: PurgeSkipView[];
  files: number;
  bytes: number;
}

type NodeRef = { id: string; retiredAt: number | null };

/** Pure: which entries of mirrors/ are orphans, given the nodes the hub knows. */
export function purgeCandidates(entries: MirrorDirEntry[], nodes: NodeRef[], connected: Set<string>): { name: string; reason: PurgeTarget['reason']; kind: MirrorDirEntry['kind'] }[] {
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

/** Pure: why a plan's mirror is no longer an orphan (its node is active or connected), or null. */
export function noLongerOrphan(name: string, nodes: NodeRef[], connected: Set<string>): string | null {
  if (connected.has(name)) return `node ${name} is connected again`;
  const node = nodes.find((n) => n.id === name);
  if (node && node.retiredAt === null) return `node ${name} is active`;
  return null;
}

/** Pure: why a plan cannot run (unknown, expired, already run), as a contract error code and message; or null. */
export function planRefusal(plan: PurgePlanRecord | undefined, id: string, now: number): { code: 'NOT_FOUND' | 'CONFLICT'; message: string } | null {
  if (!plan) return { code: 'NOT_FOUND', message: `no purge plan ${id}: make one with a preview ("cortex-hub purge --dry-run", or Preview purge in the UI)` };
  if (plan.runAt !== null) return { code: 'CONFLICT', message: `purge plan ${id} was already run at ${new Date(plan.runAt).toISOString()}: make a new one with a preview` };
  if (now >= plan.expiresAt) return { code: 'CONFLICT', message: `purge plan ${id} expired at ${new Date(plan.expiresAt).toISOString()} (plans last one hour): make a new one with a preview` };
  return null;
}

/**
 * Pure: the targets of a plan a run takes, given the operator's selection (entry names; none:
 * all), the others as kept (`unselected`), and the selected names the plan does not have.
 */
export function selectTargets(targets: readonly PurgeTarget[], ids: readonly string[] | undefined): { chosen: PurgeTarget[]; unselected: PurgeSkipView[]; unknown: string[] } {
  if (!ids) return { chosen: [...targets], unselected: [], unknown: [] };
  const wanted = new Set(ids);
  const known = new Set(targets.map((t) => t.id));
  return {
    chosen: targets.filter((t) => wanted.has(t.id)),
    unselected: targets.filter((t) => !wanted.has(t.id)).map((t): PurgeSkipView => ({ id: t.id, why: 'unselected', message: `mirrors/${t.id} was not selected: kept; preview again to purge it` })),
    unknown: [...wanted].filter((id) => !known.has(id)),
  };
}

// ---- mount points ----------------------------------------------------------------------------

/** `\040`-style octal escapes of /proc/self/mountinfo (space, tab, newline, backslash). */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * Mount points at or below `root` (real paths), from /proc/self/mountinfo: bind mounts of the
 * same file system included, which a device comparison cannot see. Null where there is no
 * mountinfo (not Linux): the walks' device check is the only guard there.
 */
export function mountPointsUnder(root: string): string[] | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return null;
  }
  const real = fs.realpathSync(root);
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = unescapeMountinfo(mp);
    if (p === real || p.startsWith(`${real}/`)) out.push(p);
  }
  return out;
}

/** Pure: the mount point that `target` is or holds, or null. */
export function mountIn(target: string, mounts: readonly string[]): string | null {
  return mounts.find((m) => m === target || m.startsWith(`${target}${path.sep}`)) ?? null;
}

// ---- walking ---------------------------------------------------------------------------------

export class MountPointError extends Error {
  constructor(readonly at: string) {
    super(`${at} is a mount point`);
  }
}

function assertRealDir(p: string): fs.BigIntStats {
  const st = fs.lstatSync(p, { bigint: true });
  if (!st.isDirectory()) throw new Error(`${p} is not a real directory (symlink or file): refusing to purge`);
  return st;
}

function listMirrorsRoot(root: string): MirrorDirEntry[] {
  if (!fs.existsSync(root)) return [];
  assertRealDir(root);
  return fs.readdirSync(root, { withFileTypes: true }).map((d) => ({
    name: d.name,
    kind: d.isSymbolicLink() ? 'symlink' : d.isDirectory() ? 'dir' : 'other',
  }));
}

/**
 * Counts files and bytes under a directory without following symlinks (a symlink counts as
 * one file) and without entering another file system (throws MountPointError).
 */
export function measure(p: string, dev: bigint): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const stack = [p];
  while (stack.length) {
    const cur = stack.pop()!;
    const st = fs.lstatSync(cur, { bigint: true, throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) {
      if (st.dev !== dev) throw new MountPointError(cur);
      for (const name of fs.readdirSync(cur)) stack.push(path.join(cur, name));
    } else {
      files++;
      bytes += st.isFile() ? Number(st.size) : 0;
    }
  }
  return { files, bytes };
}

function identity(st: fs.BigIntStats): { dev: string; ino: string; birth: string } {
  return { dev: String(st.dev), ino: String(st.ino), birth: String(st.birthtimeNs) };
}

function kindOf(st: fs.BigIntStats): MirrorDirEntry['kind'] {
  return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'other';
}

/**
 * The plan a preview shows: every orphan under the mirrors root with its size and identity,
 * except those that are or hold a mount point (`mounts`: from mountPointsUnder; null where
 * unknown), which are listed as skipped.
 */
export function planPurge(mirrorsRoot: string, nodes: NodeRef[], connected: Set<string>, mounts: readonly string[] | null): PurgePlan {
  const targets: PurgeTarget[] = [];
  const skipped: PurgeSkipView[] = [];
  const realRoot = fs.existsSync(mirrorsRoot) ? fs.realpathSync(mirrorsRoot) : mirrorsRoot;
  for (const c of purgeCandidates(listMirrorsRoot(mirrorsRoot), nodes, connected)) {
    const abs = path.join(mirrorsRoot, c.name);
    const st = fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false });
    if (!st) continue;
    const mount = c.kind === 'dir' && mounts ? mountIn(path.join(realRoot, c.name), mounts) : null;
    if (mount) {
      skipped.push({ id: c.name, why: 'mount-point', message: mountMessage(c.name, mount, realRoot) });
      continue;
    }
    let m = { files: 1, bytes: 0 };
    if (c.kind === 'dir') {
      try {
        m = measure(abs, st.dev);
      } catch (e) {
        if (!(e instanceof MountPointError)) throw e;
        skipped.push({ id: c.name, why: 'mount-point', message: mountMessage(c.name, e.at, mirrorsRoot) });
        continue;
      }
    }
    targets.push({ id: c.name, reason: c.reason, kind: kindOf(st), ...m, ...identity(st) });
  }
  return {
    mirrorsRoot, targets, skipped,
    files: targets.reduce((s, t) => s + t.files, 0),
    bytes: targets.reduce((s, t) => s + t.bytes, 0),
  };
}

function mountMessage(name: string, mount: string, root: string): string {
  const rel = path.relative(path.join(root, name), mount);
  return rel === '' ? `mirrors/${name} is a mount point: not descended into, not removed`
    : `mirrors/${name} holds a mount point (${rel}): not descended into, not removed`;
}

/**
 * Runs a plan: moves into the trash (`toTrash`, which returns the entry's id) each target that
 * `notOrphan` allows (null) and that is still the directory or link the preview saw (device,
 * inode, birth time). Each target is a direct child of the (real) mirrors root; nothing else is
 * touched. A target left in place is reported with why; one failure does not stop the others.
 */
export function executePurge(mirrorsRoot: string, targets: readonly PurgeTarget[], notOrphan: (name: string) => string | null, mounts: readonly string[] | null, toTrash: (t: PurgeTarget) => string): PurgeResult {
  assertRealDir(mirrorsRoot);
  const realRoot = fs.realpathSync(mirrorsRoot);
  const removed: PurgeResult['removed'] = [];
  const skipped: PurgeSkipView[] = [];
  for (const t of targets) {
    if (t.id.includes('/') || t.id.includes(path.sep) || t.id === '..' || t.id === '.' || t.id === '') {
      skipped.push({ id: t.id, why: 'failed', message: `refusing to purge ${JSON.stringify(t.id)}: not a direct child of the mirrors root` });
      continue;
    }
    const active = notOrphan(t.id);
    if (active) {
      skipped.push({ id: t.id, why: 'active', message: `${active}: its mirror is kept` });
      continue;
    }
    const abs = path.join(mirrorsRoot, t.id);
    const st = fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false });
    if (!st) {
      skipped.push({ id: t.id, why: 'gone', message: `mirrors/${t.id} no longer exists` });
      continue;
    }
    // A mount point first: mounting on the directory also changes what lstat sees there.
    const mount = st.isDirectory() && mounts ? mountIn(path.join(realRoot, t.id), mounts) : null;
    if (mount) {
      skipped.push({ id: t.id, why: 'mount-point', message: mountMessage(t.id, mount, realRoot) });
      continue;
    }
    const now = identity(st);
    if (kindOf(st) !== t.kind || now.dev !== t.dev || now.ino !== t.ino || now.birth !== t.birth) {
      skipped.push({ id: t.id, why: 'replaced', message: `mirrors/${t.id} is not the ${t.kind === 'dir' ? 'directory' : t.kind === 'symlink' ? 'symlink' : 'file'} the preview listed (replaced since): kept; preview again to purge it` });
      continue;
    }
    try {
      // A rename of the entry itself (a symlink moves as a link, never followed).
      removed.push({ ...t, trashId: toTrash(t) });
    } catch (e) {
      skipped.push({ id: t.id, why: 'failed', message: `moving mirrors/${t.id} into the trash failed: ${(e as Error).message}; it is kept` });
    }
  }
  return { removed, skipped, files: removed.reduce((s, r) => s + r.files, 0), bytes: removed.reduce((s, r) => s + r.bytes, 0) };
}
