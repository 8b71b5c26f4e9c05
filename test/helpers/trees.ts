/**
 * Trees for integration tests: a workspace generator, a snapshot of a tree (modes and content
 * digests) and the differences between a workspace and its mirror.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { rng } from '../../harness/rng.mjs';
import { writtenAs } from '../../main/sync/modes';

export interface TreeItem {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  size: number;
  digest: string;
}

/** Every entry under root, by relative path, with mode and a content digest (never following symlinks). */
export function snapshot(root: string): Map<string, TreeItem> {
  const out = new Map<string, TreeItem>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, r);
      const st = fs.lstatSync(abs);
      if (st.isDirectory()) {
        out.set(r, { type: 'dir', mode: st.mode & 0o777, size: 0, digest: '' });
        walk(r);
      } else if (st.isSymbolicLink()) {
        out.set(r, { type: 'symlink', mode: 0, size: 0, digest: fs.readlinkSync(abs) });
      } else {
        const h = crypto.createHash('sha256');
        const fd = fs.openSync(abs, 'r');
        const buf = Buffer.allocUnsafe(1 << 20);
        let n: number;
        while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
        fs.closeSync(fd);
        out.set(r, { type: 'file', mode: st.mode & 0o777, size: st.size, digest: h.digest('hex') });
      }
    }
  };
  walk('');
  return out;
}

/**
 * Differences between a workspace (`a`) and its mirror (`b`), as readable lines (empty when
 * identical). Modes follow the mirror mode rule (main/sync/modes.ts): the mirror may show a
 * world-writable mode of the node without its world-write bit, as the hub writes it; any other
 * difference counts.
 */
export function diffTrees(a: Map<string, TreeItem>, b: Map<string, TreeItem>, ignore: (p: string) => boolean = () => false): string[] {
  const out: string[] = [];
  for (const [p, x] of a) {
    if (ignore(p)) continue;
    const y = b.get(p);
    if (!y) out.push(`missing in mirror: ${p}`);
    else if (x.type !== y.type || !writtenAs(y.mode, x.mode) || x.size !== y.size || x.digest !== y.digest) {
      out.push(`differs: ${p} ${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
    }
  }
  for (const p of b.keys()) if (!ignore(p) && !a.has(p)) out.push(`extra in mirror: ${p}`);
  return out;
}

export interface GenOptions {
  files: number;
  seed?: number;
  /** Sizes of extra big files to add (bytes). */
  big?: number[];
}

/** Writes a workspace: nested dirs, text and binary files, empty files and dirs, unicode names, modes. */
export function generateWorkspace(root: string, opts: GenOptions): void {
  const rand = rng(opts.seed ?? 1);
  const names = ['src', 'docs', 'data', 'naïve', '日本語', 'émoji 🚀', 'a b', 'deep'];
  const dirs = [''];
  fs.mkdirSync(root, { recursive: true });
  for (let i = 0; i < Math.max(4, opts.files / 40); i++) {
    const parent = dirs[Math.floor(rand() * dirs.length)]!;
    const d = parent ? `${parent}/${names[i % names.length]}${i}` : `${names[i % names.length]}${i}`;
    if (d.split('/').length > 6) continue;
    fs.mkdirSync(path.join(root, d), { recursive: true });
    dirs.push(d);
  }
  fs.mkdirSync(path.join(root, 'empty-dir', 'nested-empty'), { recursive: true });
  for (let i = 0; i < opts.files; i++) {
    const d = dirs[Math.floor(rand() * dirs.length)]!;
    const kind = i % 10;
    const name = `${kind === 3 ? 'ünïcödé-' : 'f'}${i}${kind < 5 ? '.txt' : '.bin'}`;
    const p = path.join(root, d, name);
    let size = kind === 0 ? 0 : Math.floor(rand() * rand() * 300_000);
    if (kind === 9) size = 128 * 1024 * (1 + Math.floor(rand() * 3)); // exact block multiples
    const buf = kind < 5 ? Buffer.from('lorem ipsum dolor sit amet\n'.repeat(Math.ceil(size / 27)).slice(0, size)) : crypto.randomBytes(size);
    fs.writeFileSync(p, buf, { mode: kind === 7 ? 0o600 : kind === 8 ? 0o755 : 0o644 });
  }
  for (const [i, size] of (opts.big ?? []).entries()) {
    const fd = fs.openSync(path.join(root, `big-${i}.bin`), 'w');
    const chunk = crypto.randomBytes(4 << 20);
    for (let off = 0; off < size; off += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, size - off));
    fs.closeSync(fd);
  }
}
