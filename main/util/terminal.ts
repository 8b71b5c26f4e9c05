/**
 * Text that came from nodes, mirrors or the database (names, paths, error messages), made safe
 * to print on a terminal: nothing in it can move the cursor, change colours, retitle the
 * window (ANSI/OSC escapes, C1 controls) or reorder the text around it (bidi overrides and
 * isolates). Such characters are shown as visible escapes instead: `\x1b`, `\u202e`, `\n`.
 * Pure (no Node APIs).
 */

/**
 * Controls (C0, DEL, C1), format characters (bidi and other invisible ones; not the zero-width
 * joiner and non-joiner, which are harmless and which some scripts need), line and paragraph
 * separators, lone surrogates.
 */
const UNSAFE = /(?![\u200c\u200d])[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;
const UNSAFE_BUT_NEWLINE = /(?![\u200c\u200d\n])[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;
/** What JSON.stringify leaves raw that a terminal may act on: DEL, C1, format characters, separators. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\p{Cf}\u2028\u2029]/gu;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escape(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const cp = ch.codePointAt(0)!;
  if (cp <= 0xff) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\u{${cp.toString(16)}}`;
}

/** One value (a cell, a name, a path, a message): every unsafe character escaped, line breaks included. */
export function termSafe(s: string): string {
  return s.replace(UNSAFE, escape);
}

/** A whole text of several lines: as termSafe, but its line breaks stay line breaks. */
export function termSafeLines(s: string): string {
  return s.replace(UNSAFE_BUT_NEWLINE, escape);
}

/**
 * JSON text for a terminal: the characters JSON.stringify leaves raw and a terminal may act
 * on become \u escapes (only strings can hold them, so the document still parses to the same
 * value).
 */
export function jsonTermSafe(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (ch) => {
    let out = '';
    for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}
