/** The hub's commit intents on disk: what a crashed run noted and never recorded is found at the next start. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommitIntents, INTENTS_FILE } from '../../main/hub/commit-intents';
import { tempDirs } from '../helpers/entries';

const tmp = tempDirs('intents');
const h = (n: number) => Buffer.alloc(32, n);

describe('CommitIntents', () => {
  it('keeps what was noted and not recorded across a "crash", and only that', () => {
    const dir = tmp();
    const a = new CommitIntents(dir);
    expect(a.takeEarlier()).toEqual(new Map());
    a.note('a.txt', h(1));
    a.note('dir/b.txt', h(2));
    a.note('dir/b.txt', h(3));
    a.recorded(['a.txt']);
    // Killed here: no close, nothing else written. The next run finds b's two intents, not a's
    // (recorded, though still in the file until it is compacted: the start tells them apart)...
    const b = new CommitIntents(dir);
    const earlier = b.takeEarlier();
    expect(earlier.get('dir/b.txt')).toEqual(new Set([h(2).toString('hex'), h(3).toString('hex')]));
    // ...a is still listed (the file is append-only until compacted): a recorded commit found
    // again at start matches the index anyway, so it is never looked at.
    expect([...earlier.keys()].sort()).toEqual(['a.txt', 'dir/b.txt']);
    // And the next start after that sees nothing of them.
    expect(new CommitIntents(dir).takeEarlier()).toEqual(new Map());
  });

  it('ignores a torn last line and names with tabs survive', () => {
    const dir = tmp();
    const a = new CommitIntents(dir);
    a.takeEarlier();
    a.note('x\ty.txt', h(4));
    fs.appendFileSync(path.join(dir, INTENTS_FILE), `${h(5).toString('hex').slice(0, 20)}`);
    expect(new CommitIntents(dir).takeEarlier()).toEqual(new Map([['x\ty.txt', new Set([h(4).toString('hex')])]]));
  });

  it('compacts to what is still pending once the file grows', () => {
    const dir = tmp();
    const a = new CommitIntents(dir);
    a.takeEarlier();
    a.note('pending.txt', h(6));
    for (let i = 0; i < 20_000; i++) {
      a.note(`f${i}.txt`, h(7));
      a.recorded([`f${i}.txt`]);
    }
    expect(fs.statSync(path.join(dir, INTENTS_FILE)).size).toBeLessThan(1024 * 1024 + 200);
    expect([...new CommitIntents(dir).takeEarlier().keys()].filter((p) => p === 'pending.txt' || !p.startsWith('f'))).toEqual(['pending.txt']);
  });
});
