/**
 * The trash on disk: DATA/trash/<id>/<name>, where <id> is the entry's id (`tr-` and 16 hex
 * digits) and <name> the mirror's entry name under mirrors/, moved there with one rename (same
 * file system: instant, never a copy). The folder per entry keeps the original name with the
 * mirror itself, so an entry the database lost is still understood at start. The decisions
 * (what the start-up reconcile does with a record, where a restore goes, what has expired) are
 * pure functions; the disk steps never follow a symlink, never leave the trash folder and never
 * descend into a mount point.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { TRASH_ID_PATTERN } from '../contract';
import type { TrashRecord, TrashState } from '../store/hub-store';
import { measure, mountIn, MountPointError } from './purge';

const DAY_MS = 24 * 60 * 60 * 1000;

export function newTrashId(): string {
  return `tr-${crypto.randomBytes(8).toString('hex')}`;
}

/** Why `name` cannot be an entry name under mirrors/ (a single path component), or null. */
export function entryNameProblem(name: string): string | null {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\0')) return `${JSON.stringify(name)} is not a single name under the mirrors folder`;
  return null;
}

/** The folder of an entry and the path of its mirror in it; throws for an id or name that could lead anywhere else. */
export function trashPaths(trashRoot: string, id: string, name: string): { folder: string; mirror: string } {
  if (!TRASH_ID_PATTERN.test(id)) throw new Error(`${JSON.stringify(id)} is not a trash id`);
  const problem = entryNameProblem(name);
  if (problem) throw new Error(problem);
  const folder = path.join(trashRoot, id);
  return { folder, mirror: path.join(folder, name) };
}

// ---- decisions ------------------------------------------------------------------------------

/**
 * Pure: what the start-up reconcile does with a recorded entry, given whether its mirror is in
 * its trash folder. `settle`: a purge cut short after its rename (the mirror is in the trash:
 * keep it, as trashed). `drop`: the rename never happened (a `moving` row: the mirror is still
 * in its place), or the mirror left the trash (a restore cut short after its rename, or removed
 * by hand): forget the row. `resume`: an emptying cut short: finish it.
 */
export function reconcileAction(state: TrashState, inTrash: boolean): 'keep' | 'settle' | 'drop' | 'resume' {
  if (state === 'emptying') return 'resume';
  if (!inTrash) return 'drop';
  return state === 'moving' ? 'settle' : 'keep';
}

/**
 * Pure: where a restore puts an entry. Back in its place, unless its node is active now (a
 * node added back with that id, a restored database): the hub forgot that mirror's index when
 * it was purged, so putting old files under a live node would send them to the node as the
 * hub's changes (deleted files back, edits undone). It goes beside it instead, as an orphan to
 * inspect or purge.
 */
export function restorePlace(rec: Pick<TrashRecord, 'id' | 'name'>, node: { retiredAt: number | null } | undefined): { name: string; beside: boolean } {
  if (node && node.retiredAt === null) return { name: `${rec.name}.restored-${rec.id}`, beside: true };
  return { name: rec.name, beside: false };
}

/** When an entry's retention window ends. */
export function expiresAt(trashedAt: number, retentionDays: number): number {
  return trashedAt + retentionDays * DAY_MS;
}

/**
 * Pure: the entries an emptying takes: trashed ones (and `emptying` ones no run is removing,
 * to try again) purged at least `olderThanDays` ago when given, of `ids` when given.
 */
export function entriesToEmpty(recs: readonly TrashRecord[], now: number, f: { olderThanDays?: number; ids?: readonly string[] }, inFlight: ReadonlySet<string>): TrashRecord[] {
  const ids = f.ids ? new Set(f.ids) : null;
  return recs.filter((r) => r.state !== 'moving' && !inFlight.has(r.id)
    && (f.olderThanDays === undefined || now - r.trashedAt >= f.olderThanDays * DAY_MS)
    && (!ids || ids.has(r.id)));
}

/** Pure: the trashed entries whose retention window has ended by `now`. */
export function expiredEntries(recs: readonly TrashRecord[], now: number, retentionDays: number): TrashRecord[] {
  return recs.filter((r) => r.state === 'trashed' && now >= expiresAt(r.trashedAt, retentionDays));
}

// ---- disk -----------------------------------------------------------------------------------

/** The trash folder, made (0700) when missing; refuses one that is not a real directory (a symlink, a file). */
export function ensureTrashRoot(trashRoot: string): void {
  fs.mkdirSync(trashRoot, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(trashRoot);
  if (!st.isDirectory()) throw new Error(`${trashRoot} is not a real directory (a symlink or a file): the trash is not used`);
}

/**
 * Moves mirrors/<name> into the trash as entry `id`: its folder first, then one rename. Fails
 * (the mirror stays where it was) when the trash is on another file system: a purge moves, it
 * never copies.
 */
export function moveIntoTrash(mirrorsRoot: string, trashRoot: string, id: string, name: string): void {
  ensureTrashRoot(trashRoot);
  const { folder, mirror } = trashPaths(trashRoot, id, name);
  fs.mkdirSync(folder, { mode: 0o700 });
  try {
    fs.renameSync(path.join(mirrorsRoot, name), mirror);
  } catch (e) {
    fs.rmdirSync(folder);
    if ((e as NodeJS.ErrnoException).code === 'EXDEV') throw new Error(`the trash (${trashRoot}) is on another file system than the mirrors: a purge moves a mirror with one rename and never copies it`);
    throw e;
  }
}

/** Whether entry `id`'s mirror is in its trash folder (as a link, a file or a directory). */
export function inTrash(trashRoot: string, id: string, name: string): boolean {
  return fs.lstatSync(trashPaths(trashRoot, id, name).mirror, { throwIfNoEntry: false }) !== undefined;
}

export class PlaceTakenError extends Error {
  constructor(readonly place: string, what: string) {
    super(`${place} exists (${what})`);
  }
}

function kindWord(st: fs.Stats): string {
  return st.isSymbolicLink() ? 'a symlink' : st.isDirectory() ? 'a directory' : 'a file';
}

/**
 * Moves entry `id`'s mirror back to mirrors/<to> with one rename, then removes its empty
 * folder. Refuses (PlaceTakenError, nothing moved) when something is at mirrors/<to>.
 */
export function restoreFromTrash(trashRoot: string, mirrorsRoot: string, id: string, name: string, to: string): void {
  const { folder, mirror } = trashPaths(trashRoot, id, name);
  const problem = entryNameProblem(to);
  if (problem) throw new Error(problem);
  const place = path.join(mirrorsRoot, to);
  // Checked and renamed in one turn of the event loop; a rename never replaces a non-empty
  // directory, and nothing but a live node's mirror is ever made under mirrors/ by the hub.
  const there = fs.lstatSync(place, { throwIfNoEntry: false });
  if (there) throw new PlaceTakenError(`mirrors/${to}`, kindWord(there));
  fs.mkdirSync(mirrorsRoot, { recursive: true, mode: 0o700 });
  fs.renameSync(mirror, place);
  removeEmptyFolder(folder);
}

/** Removes an entry's folder if it is empty (a restore's or a dropped move's leftover). */
export function removeEmptyFolder(folder: string): void {
  try {
    fs.rmdirSync(folder);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
  }
}

/** What the trash folder holds: entry folders (id, and their children's names) and anything else. */
export function scanTrash(trashRoot: string): { folders: { id: string; children: string[] }[]; foreign: string[] } {
  const folders: { id: string; children: string[] }[] = [];
  const foreign: string[] = [];
  if (!fs.existsSync(trashRoot)) return { folders, foreign };
  for (const d of fs.readdirSync(trashRoot, { withFileTypes: true })) {
    if (d.isDirectory() && TRASH_ID_PATTERN.test(d.name)) folders.push({ id: d.name, children: fs.readdirSync(path.join(trashRoot, d.name)) });
    else foreign.push(d.name);
  }
  return { folders, foreign };
}

/** Files and bytes of an entry found without a record (a symlink or file counts as one file). */
export function measureEntry(p: string): { kind: TrashRecord['kind']; files: number; bytes: number } {
  const st = fs.lstatSync(p, { bigint: true });
  if (st.isSymbolicLink()) return { kind: 'symlink', files: 1, bytes: 0 };
  if (!st.isDirectory()) return { kind: 'other', files: 1, bytes: Number(st.size) };
  return { kind: 'dir', ...measure(p, st.dev) };
}

/**
 * Removes entry `id` (its folder and everything in it) without blocking the event loop: depth
 * first, never following a symlink (links are unlinked), never entering another file system or
 * a mount point (`mounts`: from mountPointsUnder; MountPointError before anything in it is
 * touched). `stop()` true ends it early (an Error; the caller keeps the entry, to resume).
 */
export async function removeEntry(trashRoot: string, id: string, mounts: readonly string[] | null, stop: () => boolean): Promise<{ files: number; bytes: number }> {
  if (!TRASH_ID_PATTERN.test(id)) throw new Error(`${JSON.stringify(id)} is not a trash id`);
  const folder = path.join(trashRoot, id);
  const counts = { files: 0, bytes: 0 };
  const st = await lstatOrNull(folder);
  if (!st) return counts;
  if (!st.isDirectory()) throw new Error(`${folder} is not a directory`);
  const mount = mounts ? mountIn(path.join(fs.realpathSync(trashRoot), id), mounts) : null;
  if (mount) throw new MountPointError(mount);
  await removeTree(folder, st.dev, counts, stop);
  return counts;
}

async function lstatOrNull(p: string): Promise<fs.BigIntStats | null> {
  try {
    return await fsp.lstat(p, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Entries of one directory removed at once (files and links; directories go on the stack). */
const REMOVE_BATCH = 64;

async function removeTree(top: string, dev: bigint, counts: { files: number; bytes: number }, stop: () => boolean): Promise<void> {
  const stack: { p: string; ino: bigint | null }[] = [{ p: top, ino: null }];
  while (stack.length) {
    if (stop()) throw new Error('stopped before the end (the hub is closing): resumed at its next start');
    const cur = stack[stack.length - 1]!;
    if (cur.ino !== null) {
      // Its entries are gone: the directory itself, if it is still the one we emptied.
      const st = await lstatOrNull(cur.p);
      if (st && (!st.isDirectory() || st.ino !== cur.ino)) throw new Error(`${cur.p} changed while it was being removed`);
      if (st) await fsp.rmdir(cur.p);
      stack.pop();
      continue;
    }
    const st = await lstatOrNull(cur.p);
    if (!st) {
      stack.pop();
      continue;
    }
    if (!st.isDirectory()) {
      await fsp.unlink(cur.p);
      counts.files++;
      counts.bytes += st.isFile() ? Number(st.size) : 0;
      stack.pop();
      continue;
    }
    if (st.dev !== dev) throw new MountPointError(cur.p);
    const names = await fsp.readdir(cur.p);
    // The directory listed must be the one checked (not a symlink swapped in meanwhile).
    const again = await fsp.lstat(cur.p, { bigint: true });
    if (!again.isDirectory() || again.ino !== st.ino || again.dev !== st.dev) throw new Error(`${cur.p} changed while it was being removed`);
    cur.ino = st.ino;
    for (let i = 0; i < names.length; i += REMOVE_BATCH) {
      const batch = names.slice(i, i + REMOVE_BATCH).map((n) => path.join(cur.p, n));
      const stats = await Promise.all(batch.map(lstatOrNull));
      await Promise.all(batch.map(async (p, j) => {
        const s = stats[j];
        if (!s) return;
        if (s.isDirectory()) {
          stack.push({ p, ino: null });
          return;
        }
        // unlink never follows a link; a directory swapped in since the lstat fails it (EISDIR).
        await fsp.unlink(p);
        counts.files++;
        counts.bytes += s.isFile() ? Number(s.size) : 0;
      }));
    }
  }
}
