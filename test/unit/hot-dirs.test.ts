/**
 * The node's quicker ear for directories being edited (node/hot-dirs.ts), on a real temp dir
 * with real fs.watch: after an edit is reported in a directory, later writes there are heard
 * directly (echoes of our own writes left to the workspace watcher), and the set of directories
 * stays bounded in number and in time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HotDirs } from '../../main/node/hot-dirs';

let root: string;
let hot: HotDirs | null = null;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-hot-'));
  fs.mkdirSync(path.join(root, 'd', 'e'), { recursive: true });
});
afterEach(() => {
  hot?.close();
  hot = null;
  fs.rmSync(root, { recursive: true, force: true });
});

/** A HotDirs whose reports are collected; `next(p)` resolves when `p` is reported. */
function setup(echoes: Set<string> = new Set(), limits?: { max: number; ms: number }) {
  const reported: string[] = [];
  const waiting = new Map<string, () => void>();
  hot = new HotDirs({
    root,
    changed: (p) => {
      reported.push(p);
      waiting.get(p)?.();
    },
    echo: (p) => echoes.has(p),
  }, limits);
  const next = (p: string) => new Promise<void>((r) => waiting.set(p, r));
  return { hot, reported, next };
}

describe('HotDirs', () => {
  it('hears writes in a directory where an edit was reported, and leaves echoes of our own writes alone', async () => {
    const { hot, reported, next } = setup(new Set(['d/e/ours']));
    hot.edited('d/e/first');
    expect(hot.watched).toEqual(['d/e']);
    fs.writeFileSync(path.join(root, 'd', 'e', 'ours'), 'x');
    const heard = next('d/e/theirs');
    fs.writeFileSync(path.join(root, 'd', 'e', 'theirs'), 'y');
    await heard;
    // Events come in order: the echo, written first, was not reported.
    expect(reported).not.toContain('d/e/ours');
    expect(reported).toContain('d/e/theirs');
  });

  it('watches the root for an edit at the top level', async () => {
    const { hot, next } = setup();
    hot.edited('top');
    const heard = next('other');
    fs.writeFileSync(path.join(root, 'other'), 'z');
    await heard;
    expect(hot.watched).toEqual(['']);
  });

  it('keeps at most `max` directories, the most recently edited, and drops those quiet too long', () => {
    const { hot } = setup(new Set(), { max: 2, ms: 1000 });
    hot.edited('a', 0);
    hot.edited('d/x', 10);
    hot.edited('a', 20);
    hot.edited('d/e/y', 30);
    expect(hot.watched.sort()).toEqual(['', 'd/e']);
    hot.edited('d/z', 2000);
    expect(hot.watched).toEqual(['d']);
    hot.close();
    expect(hot.watched).toEqual([]);
  });
});
