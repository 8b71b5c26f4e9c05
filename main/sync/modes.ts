/**
 * The mirror mode rule: which permission bits a node's file or directory gets on disk in its
 * hub mirror, and how the hub tells its own writes from a real chmod on its side. Pure.
 *
 * - The hub's index always keeps the node's real mode (permission bits, 0o777). On disk the
 *   mirror gets `mirrorMode(real, setting)`: with `private` (the default) world-write is
 *   stripped, so no other local user of the hub machine can write into a workspace through
 *   two-way sync (a 0666 file is 0664 in the mirror, a 1777 directory 0775); with `exact` the
 *   bits are kept as they are. setuid, setgid and sticky are never set in a mirror (the index
 *   holds permission bits only). Group bits are kept: the mirror's group is the hub user's own.
 * - A mode on disk is "as the hub wrote it" when it is the index mode or the index mode with
 *   world-write stripped (`writtenAs`): under either setting, since a change of the setting
 *   applies to new writes only and a mirror may hold both. Such a mode is never a hub-side
 *   change, so nothing flows back to the node because of the rule.
 * - Any other mode on disk is a real chmod on the hub's side (`hubSideMode`): the bits it
 *   changed, compared with what the current setting writes, are taken into the index mode and
 *   flow to the node; the bits the rule hid keep the node's value. A 0666 file shown as 0664
 *   and chmod'ed to 0644 on the hub becomes 0646 on the node (group-write removed, the node's
 *   world-write untouched); one chmod'ed to 0666 on the hub is left alone (0666 is its index
 *   mode), and world-write added on the hub to a 0644 file flows as 0646.
 */

export type MirrorModes = 'private' | 'exact';

const WORLD_WRITE = 0o002;

/** The mode a node's entry gets on disk in its mirror. */
export function mirrorMode(nodeMode: number, setting: MirrorModes): number {
  const bits = nodeMode & 0o777;
  return setting === 'exact' ? bits : bits & ~WORLD_WRITE;
}

/** Whether `diskMode` is what the hub writes for `indexMode` (under either setting). */
export function writtenAs(diskMode: number, indexMode: number): boolean {
  const d = diskMode & 0o777;
  const m = indexMode & 0o777;
  return d === m || d === mirrorMode(m, 'private');
}

/**
 * The index mode (what goes to the node) after the hub's scan saw `diskMode` at a path whose
 * index mode was `indexMode` (undefined: new on the hub's side, or of another type).
 */
export function hubSideMode(diskMode: number, indexMode: number | undefined, setting: MirrorModes): number {
  const d = diskMode & 0o777;
  if (indexMode === undefined) return d;
  const m = indexMode & 0o777;
  if (writtenAs(d, m)) return m;
  const changed = mirrorMode(m, setting) ^ d;
  return (m & ~changed) | (d & changed);
}
