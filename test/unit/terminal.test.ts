/** Text from nodes printed on a terminal (escaped, never acted on), and what a node name may be. */
import { describe, expect, it } from 'vitest';
import { table } from '../../main/cli/format';
import { nodeNameKey, nodeNameProblem, normalizeNodeName } from '../../main/contract';
import { jsonTermSafe, termSafe, termSafeLines } from '../../main/util/terminal';

/** Anything a terminal could act on: C0 but newline, DEL, C1, bidi and other format characters, separators. */
const ACTIONABLE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2069\ufeff\u2028\u2029]/;

describe('termSafe', () => {
  const hostile = [
    ['ESC colour', 'red\x1b[31mtext\x1b[0m', 'red\\x1b[31mtext\\x1b[0m'],
    ['OSC title with BEL', '\x1b]0;pwned\x07name', '\\x1b]0;pwned\\x07name'],
    ['C1 CSI', 'a\u009b2Jb', 'a\\x9b2Jb'],
    ['DEL and backspace', 'ab\x7f\x08c', 'ab\\x7f\\x08c'],
    ['line breaks', 'one\ntwo\rthree\tfour', 'one\\ntwo\\rthree\\tfour'],
    ['bidi override', 'evil\u202etxt.exe', 'evil\\u202etxt.exe'],
    ['bidi isolates and marks', '\u2066a\u2069\u200e\u200f\u061c', '\\u2066a\\u2069\\u200e\\u200f\\u061c'],
    ['invisible format characters', 'a\u200bb\ufeffc\u00add', 'a\\u200bb\\ufeffc\\xadd'],
    ['separators', 'a\u2028b\u2029c', 'a\\u2028b\\u2029c'],
    ['an astral format character (tag)', 'x\u{e0041}y', 'x\\u{e0041}y'],
    ['a lone surrogate', 'a\ud800b', 'a\\ud800b'],
  ] as const;
  it.each(hostile)('escapes %s visibly', (_what, raw, shown) => {
    expect(termSafe(raw)).toBe(shown);
    expect(termSafe(raw)).not.toMatch(ACTIONABLE);
  });

  it('leaves ordinary text alone: accents, CJK, emoji (with joiners), backslashes, spaces', () => {
    for (const s of ['build-box 3', 'café', '日本語ノード', '👩‍💻 dev', 'C:\\work\\x', 'می‌خواهم']) expect(termSafe(s)).toBe(s);
  });

  it('keeps the line breaks of a multi-line text, and nothing else', () => {
    expect(termSafeLines('a\x1b[2J\nb\u202ec\n')).toBe('a\\x1b[2J\nb\\u202ec\n');
  });

  it('JSON for a terminal parses back to the same value and holds nothing a terminal acts on', () => {
    const value = { name: 'n\x1b]0;t\x07\u009b\u202e\u2066\u2028\u{e0041}\u200d', list: ['\x7f'] };
    const text = jsonTermSafe(JSON.stringify(value, null, 2));
    expect(JSON.parse(text)).toEqual(value);
    expect(text.replace(/\n/g, '')).not.toMatch(ACTIONABLE);
  });

  it('escapes every table cell', () => {
    const t = table([['ID', 'NAME'], ['1', 'x\x1b[31my'], ['2', 'a\nb']]);
    expect(t).toBe('ID  NAME\n1   x\\x1b[31my\n2   a\\nb');
  });
});

describe('node names', () => {
  it('refuses controls, bidi and invisible format characters, naming the character', () => {
    expect(nodeNameProblem('ok name')).toBeNull();
    expect(nodeNameProblem('café 日本 👩‍💻')).toBeNull();
    expect(nodeNameProblem('a\nb')).toMatch(/cannot contain control, bidirectional or invisible formatting characters \(U\+000A at position 2\)/);
    expect(nodeNameProblem('x\x1b[31m')).toMatch(/U\+001B at position 2/);
    expect(nodeNameProblem('x\u009b')).toMatch(/U\+009B/);
    expect(nodeNameProblem('x\x7f')).toMatch(/U\+007F/);
    for (const ch of ['\u202a', '\u202e', '\u2066', '\u2069', '\u200e', '\u200f', '\u061c', '\u200b', '\ufeff', '\u2028']) {
      expect(nodeNameProblem(`a${ch}b`), ch.codePointAt(0)!.toString(16)).toMatch(/formatting characters/);
    }
    expect(nodeNameProblem('')).toMatch(/cannot be empty/);
    expect(nodeNameProblem('x'.repeat(100))).toBeNull();
    expect(nodeNameProblem('x'.repeat(101))).toMatch(/at most 100 characters \(this one has 101\)/);
  });

  it('stores names trimmed in NFC, and compares them ignoring case, normalization and joiners', () => {
    expect(normalizeNodeName('  cafe\u0301 ')).toBe('caf\u00e9');
    expect(nodeNameKey('Build-Box')).toBe(nodeNameKey('build-box'));
    expect(nodeNameKey('CAFE\u0301')).toBe(nodeNameKey('café'));
    expect(nodeNameKey('STRASSE')).toBe(nodeNameKey('straße'));
    expect(nodeNameKey('ab')).toBe(nodeNameKey('a\u200db'));
    expect(nodeNameKey('box-1')).not.toBe(nodeNameKey('box-2'));
  });
});
