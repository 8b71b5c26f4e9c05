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

/** A glob as a RegExp over a whole path (throws LockFileError on a malformed class). */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const segStart = i === 0 || glob[i - 1] === '/';
        const segEnd = i + 2 === glob.length || glob[i + 2] === '/';
        if (segStart && segEnd) {
          // "**/" matches zero or more whole directories; a final "**" anything below.
          if (glob[i + 2] === '/') { re += '(?:[^/]*/)*'; i += 2; } else { re += '.*'; i += 1; }
          continue;
        }
      }
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) throw new LockFileError(`glob "${glob}": "[" without a closing "]"`);
      let body = glob.slice(i + 1, close);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = close;
    } else {
      re += c.replace(/[.+^${}()|\\]/g, (m) => `\\${m}`);
    }
  }
  return new RegExp(`^${re}$`);
}

export interface LockSet {
  globs: string[];
  /** The glob that locks `wirePath` (or the lock file's own name), else null. */
  lockOf(wirePath: string): string | null;
}

export function compileLocks(globs: string[]): LockSet {
  const compiled = globs.map((g) => ({ g, re: globToRegExp(g.replace(/^\/+|\/+$/g, '')) }));
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
  for (const g of parsed.data.immutable) globToRegExp(g);
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
