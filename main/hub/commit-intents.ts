/**
 * The hub's commits of node versions that may not be recorded yet, kept on disk: before a
 * node's version is renamed into the mirror, its path and hash are appended to a small file in
 * the node's staging directory; once the session's flush has recorded it, it is forgotten.
 *
 * After a crash the mirror's verification finds every file that differs from the index. Some
 * are the hub's own commits that the crash kept from being recorded (agreed: the node has that
 * version, and will send its newer one without a conflict); the others are edits made on the
 * hub's side just before the crash or while it was down (hub-side changes: a node change of
 * the same file then keeps both). This file tells the two apart by path and hash. An append is
 * one write(2), in the page cache before the rename it precedes, so a killed process keeps it;
 * a small file committed in a group (sync/group-commit.ts) is noted before it is queued, so the
 * group's first barrier (syncfs of the staging file system, where this file lives) makes its
 * intent durable too. Otherwise, after a power loss an intent may be lost, and its commit then
 * only counts as a hub-side edit (at worst a conflict copy of the node's own version: nothing
 * is lost). Appends stay one per file: ~4 µs of CPU each (20k notes), about 1 % of the hub's
 * CPU per small file, not worth moving into the commit workers' batches.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The file, in the node's staging directory (never cleared with the staging leftovers). */
export const INTENTS_FILE = 'commits.intents';
/** Rewritten with only what is still pending once it grows past this. */
const COMPACT_BYTES = 1024 * 1024;

export class CommitIntents {
  private readonly file: string;
  private fd: number | null = null;
  private bytes = 0;
  /** Noted and not recorded yet: path → hashes (hex). */
  private readonly pending = new Map<string, Set<string>>();

  constructor(stagingDir: string) {
    this.file = path.join(stagingDir, INTENTS_FILE);
  }

  /**
   * What an earlier run noted and never saw recorded (path → hashes, hex), and a fresh start:
   * call once, before the first commit of this run.
   */
  takeEarlier(): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    let text = '';
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      // None yet.
    }
    for (const line of text.split('\n')) {
      const tab = line.indexOf('\t');
      // A torn last line (the process was killed mid-append) is not an intent.
      if (tab !== 64 || !/^[0-9a-f]{64}$/.test(line.slice(0, 64))) continue;
      const p = line.slice(65);
      const set = out.get(p) ?? new Set<string>();
      set.add(line.slice(0, 64));
      out.set(p, set);
    }
    this.rewrite();
    return out;
  }

  /** A node version is about to be renamed into the mirror at `wirePath`. */
  note(wirePath: string, hash: Buffer): void {
    const hex = hash.toString('hex');
    const set = this.pending.get(wirePath) ?? new Set<string>();
    set.add(hex);
    this.pending.set(wirePath, set);
    this.append(`${hex}\t${wirePath}\n`);
  }

  /** These paths' writes are recorded in the mirror index: their intents are done. */
  recorded(wirePaths: Iterable<string>): void {
    for (const p of wirePaths) this.pending.delete(p);
    if (this.bytes > COMPACT_BYTES) this.rewrite();
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private append(line: string): void {
    if (this.fd === null) this.fd = fs.openSync(this.file, 'a', 0o600);
    fs.writeSync(this.fd, line);
    this.bytes += Buffer.byteLength(line);
  }

  /** Replaces the file by what is still pending (atomically: a crash keeps the old or the new). */
  private rewrite(): void {
    this.close();
    const lines = [...this.pending].flatMap(([p, hashes]) => [...hashes].map((h) => `${h}\t${p}\n`)).join('');
    const tmp = `${this.file}.new`;
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(tmp, lines, { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    this.bytes = Buffer.byteLength(lines);
  }
}
