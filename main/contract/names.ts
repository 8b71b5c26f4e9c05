/**
 * What a node name may be, shared by the contract's schema (every transport), the HubService
 * and the UI: printable text, at most NODE_NAME_MAX characters after trimming, unique among
 * active nodes. Pure; imports nothing.
 */

export const NODE_NAME_MAX = 100;

/**
 * Characters a name may not hold: controls (C0, DEL, C1), line and paragraph separators,
 * lone surrogates, and format characters (Cf: bidi overrides, embeddings, isolates and marks,
 * zero-width spaces, the BOM, …) that are invisible or reorder what is printed around them.
 * The zero-width joiner and non-joiner (U+200C, U+200D) are allowed: scripts such as Persian
 * and emoji sequences need them (they move no cursor and reorder nothing), and the uniqueness
 * key ignores them.
 */
const FORBIDDEN = /(?![\u200c\u200d])[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/** How a character looks when named in an error: U+202E. */
function codePoint(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Why a (trimmed) name is not acceptable, or null. */
export function nodeNameProblem(name: string): string | null {
  if (name.length === 0) return 'a node name cannot be empty';
  if (name.length > NODE_NAME_MAX) return `a node name has at most ${NODE_NAME_MAX} characters (this one has ${name.length})`;
  const bad = FORBIDDEN.exec(name);
  if (bad) return `a node name cannot contain control, bidirectional or invisible formatting characters (${codePoint(bad[0])} at position ${bad.index + 1})`;
  return null;
}

/** The name as stored: trimmed, in Unicode NFC. */
export function normalizeNodeName(name: string): string {
  return name.trim().normalize('NFC');
}

/**
 * Two names are the same when their keys are: NFC, case folded (upper then lower, so "ß" and
 * "SS" agree), without joiners.
 */
export function nodeNameKey(name: string): string {
  return normalizeNodeName(name).toUpperCase().toLowerCase().normalize('NFC').replace(/[\u200c\u200d]/g, '');
}
