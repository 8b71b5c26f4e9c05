/** Small text helpers shared by the engine. */

/** Longest peer-supplied string the hub logs, remembers or echoes back in full. */
export const CLIP_CHARS = 512;

/** Cuts a (possibly hostile, megabytes long) string to CLIP_CHARS, saying how long it was. */
export function clip(s: string): string {
  return s.length <= CLIP_CHARS ? s : `${s.slice(0, CLIP_CHARS)}… (${s.length} characters)`;
}
