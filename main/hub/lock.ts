/**
 * The immutability lock of a mirror: `.metadata.json` at the mirror's root may list globs of
 * paths a node must not change (`{"immutable": ["docs/**", "*.lock", "release"]}`). The file
 * is read when it is loaded and again only when told it changed (a watcher's job), never per
 * check; `reads` counts the reads so tests can prove it.
 *
 * Glob syntax, matched against the whole '/'-separated path from the mirror root: `*` any
 * run of characters but '/', `?` one such character, `**` any run including '/' (as a whole
 * segment), `[abc]`/`[a-z]`/`[!a]` a class; anything else is literal. A path is locked when a
 * glob matches it or one of its parent directories, so `release` locks `release/v1/app`.
 * The lock file itself is always locked against nodes.
 */
import fs from 'node:fs';
import { z } from 'zod';

export const LOCK_FILE = '.metadata.json';

const MetadataSchema = z.object({
  immutable: z.array(z.string().min(1).max(1024)).max(10_000).default([]),
}).passthrough();

export class LockFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LockFileError';
  }
}

/**
 * One step of a compiled glob. Each consumes one character, or (the stars) loops over a run of
 * them: `star` any run without '/', `dirs` ("**" followed by '/') zero or more whole
 * directories (each a run without '/' and a '/'), `any` (a final "**") any run at all.
 */
type GlobToken =
  | { t: 'lit'; c: number }
  | { t: 'one' }
  | { t: 'class'; negate: boolean; ranges: number[] }
  | { t: 'star' }
  | { t: 'dirs' }
  | { t: 'any' };

const SLASH = 0x2f;
const K_LIT = 0;
const K_ONE = 1;
const K_CLASS = 2;
const K_STAR = 3;
const K_ANY = 4;
const K_DIRS = 5;
const KIND: Record<GlobToken['t'], number> = { lit: K_LIT, one: K_ONE, class: K_CLASS, star: K_STAR, any: K_ANY, dirs: K_DIRS };

/** Parses a glob (throws LockFileError on a malformed class). */
function parseGlob(glob: string): GlobToken[] {
  const out: GlobToken[] = [];
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const segStart = i === 0 || glob[i - 1] === '/';
        const segEnd = i + 2 === glob.length || glob[i + 2] === '/';
        if (segStart && segEnd) {
          // "**/" matches zero or more whole directories; a final "**" anything below.
          if (glob[i + 2] === '/') { out.push({ t: 'dirs' }); i += 2; } else { out.push({ t: 'any' }); i += 1; }
          continue;
        }
      }
      out.push({ t: 'star' });
    } else if (c === '?') {
      out.push({ t: 'one' });
    } else if (c === '[') {
      // The first character after "[" (or "[!") may be "]" itself: the class ends at the next one.
      const close = glob.indexOf(']', i + 2);
      if (close < 0) throw new LockFileError(`glob "${glob}": "[" without a closing "]"`);
      let body = glob.slice(i + 1, close);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      out.push({ t: 'class', negate, ranges: classRanges(glob, body) });
      i = close;
    } else {
      out.push({ t: 'lit', c: glob.charCodeAt(i) });
    }
  }
  return out;
}

/**
 * A class body as [from, to] pairs of UTF-16 code units: "a-z" a range, every other character
 * itself ("-" first or last is literal; a range ends at its third character, so "a-c-e" is
 * a-c, "-" and "e").
 */
function classRanges(glob: string, body: string): number[] {
  const ranges: number[] = [];
  for (let k = 0; k < body.length;) {
    const from = body.charCodeAt(k);
    if (body[k + 1] === '-' && k + 2 < body.length) {
      const to = body.charCodeAt(k + 2);
      if (to < from) throw new LockFileError(`glob "${glob}": range "${body.slice(k, k + 3)}" is out of order`);
      ranges.push(from, to);
      k += 3;
    } else {
      ranges.push(from, from);
      k += 1;
    }
  }
  return ranges;
}

function inClass(tok: { negate: boolean; ranges: number[] }, c: number): boolean {
  let hit = false;
  for (let k = 0; k < tok.ranges.length && !hit; k += 2) hit = c >= tok.ranges[k]! && c <= tok.ranges[k + 1]!;
  return hit !== tok.negate;
}

/** A compiled glob: `test` answers in time linear in the path's length (see compileGlob). */
export interface GlobMatcher {
  readonly glob: string;
  test(path: string): boolean;
}

/** State transitions taken by every GlobMatcher.test so far (tests bound the work with it). */
export const globWork = { steps: 0 };

/**
 * A glob compiled to a small automaton over a whole path (throws LockFileError on a malformed
 * class). Matching runs it as a set of states (Thompson's simulation): each character of the
 * path moves every live state at most once, so a test costs at most (path length + 1) x
 * (2 x glob tokens + 1) steps whatever the glob; a backtracking RegExp took seconds for
 * `*a*a*a*a*a*a*a*a*b` against 60 characters, a lock a node could trigger on every path.
 *
 * States: 0..m-1 "before token k", m "matched"; a `dirs` token k also has m+1+k "inside one of
 * its directories" (its run must end with '/' before the token may end).
 */
export function compileGlob(glob: string): GlobMatcher {
  const tokens = parseGlob(glob);
  const m = tokens.length;
  // Cheap answers first: a glob without wildcards is one path; literal characters at either
  // end must be the path's own (each consumes exactly one character there).
  const lits = (list: GlobToken[]) => {
    let out = '';
    for (const t of list) {
      if (t.t !== 'lit') break;
      out += String.fromCharCode(t.c);
    }
    return out;
  };
  const prefix = lits(tokens);
  if (prefix.length === m) return { glob, test: (path) => path === prefix };
  const suffix = [...lits([...tokens].reverse())].reverse().join('');
  const minLength = tokens.filter((t) => t.t === 'lit' || t.t === 'one' || t.t === 'class').length;
  const size = 2 * m + 1;
  // Tokens as numbers and typed arrays: the loop below runs per character of every path checked.
  const kind = new Uint8Array(m);
  const lit = new Int32Array(m);
  const loops = new Uint8Array(m + 1);
  const classes: ({ negate: boolean; ranges: number[] } | null)[] = [];
  tokens.forEach((t, k) => {
    kind[k] = KIND[t.t];
    if (t.t === 'lit') lit[k] = t.c;
    loops[k] = t.t === 'star' || t.t === 'dirs' || t.t === 'any' ? 1 : 0;
    classes.push(t.t === 'class' ? t : null);
  });
  // Two state lists, swapped per character; generation marks instead of clearing a set.
  const mark = new Uint32Array(size);
  let gen = 0;
  let cur = new Int32Array(size);
  let next = new Int32Array(size);
  /** Adds state s (and, past stars that may match nothing, the states after them) to list; returns its new length. */
  const add = (list: Int32Array, n: number, s: number): number => {
    for (;;) {
      if (mark[s] === gen) return n;
      mark[s] = gen;
      list[n++] = s;
      if (s >= m || loops[s] === 0) return n;
      s++;
    }
  };
  return {
    glob,
    test(path: string): boolean {
      if (path.length < minLength || !path.startsWith(prefix) || !path.endsWith(suffix)) return false;
      if (gen > 0xfffffff0) { mark.fill(0); gen = 0; }
      gen++;
      // The prefix is matched: start after it.
      let nCur = add(cur, 0, prefix.length);
      for (let i = prefix.length; i < path.length && nCur > 0; i++) {
        const c = path.charCodeAt(i);
        gen++;
        let nNext = 0;
        globWork.steps += nCur;
        for (let j = 0; j < nCur; j++) {
          const st = cur[j]!;
          if (st > m) {
            // Inside a directory of a `dirs` token: more of its name, or its '/'.
            nNext = add(next, nNext, c === SLASH ? st - m - 1 : st);
            continue;
          }
          if (st === m) continue;
          switch (kind[st]) {
            case K_LIT: if (c === lit[st]) nNext = add(next, nNext, st + 1); break;
            case K_ONE: if (c !== SLASH) nNext = add(next, nNext, st + 1); break;
            case K_CLASS: if (inClass(classes[st]!, c)) nNext = add(next, nNext, st + 1); break;
            case K_STAR: if (c !== SLASH) nNext = add(next, nNext, st); break;
            case K_ANY: nNext = add(next, nNext, st); break;
            default: nNext = add(next, nNext, c === SLASH ? st : m + 1 + st); break; // K_DIRS
          }
        }
        const swap = cur;
        cur = next;
        next = swap;
        nCur = nNext;
      }
      for (let j = 0; j < nCur; j++) if (cur[j] === m) return true;
      return false;
    },
  };
}

export interface LockSet {
  globs: string[];
  /** The glob that locks `wirePath` (or the lock file's own name), else null. */
  lockOf(wirePath: string): string | null;
}

export function compileLocks(globs: string[]): LockSet {
  const compiled = globs.map((g) => ({ g, re: compileGlob(g.replace(/^\/+|\/+$/g, '')) }));
  return {
    globs: [...globs],
    lockOf(wirePath) {
      if (wirePath === LOCK_FILE) return LOCK_FILE;
      // The path itself, then each parent directory.
      for (let p = wirePath; p; p = p.slice(0, Math.max(0, p.lastIndexOf('/')))) {
        for (const { g, re } of compiled) if (re.test(p)) return g;
      }
      return null;
    },
  };
}

/** Parses the lock file's text (throws LockFileError with the reason). */
export function parseLockFile(text: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LockFileError(`${LOCK_FILE} is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = MetadataSchema.safeParse(json);
  if (!parsed.success) throw new LockFileError(`${LOCK_FILE}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  for (const g of parsed.data.immutable) compileGlob(g);
  return parsed.data.immutable;
}

/**
 * One mirror's lock, in memory. `load()` reads the file (counted); `changed()` is what a
 * watcher calls. A broken file keeps the last good lock set (never unlocks by accident) and
 * reports its error.
 */
export class MirrorLock {
  reads = 0;
  error: string | null = null;
  private set: LockSet = compileLocks([]);

  constructor(private readonly file: string) {}

  load(): void {
    this.reads++;
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.set = compileLocks([]);
        this.error = null;
        return;
      }
      this.error = `cannot read ${LOCK_FILE}: ${(e as Error).message}`;
      return;
    }
    try {
      this.set = compileLocks(parseLockFile(text));
      this.error = null;
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  changed(): void {
    this.load();
  }

  get globs(): string[] {
    return this.set.globs;
  }

  lockOf(wirePath: string): string | null {
    return this.set.lockOf(wirePath);
  }
}
