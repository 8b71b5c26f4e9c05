/**
 * Names that differ only in case, where the workspace ignores case (sync/expect.ts): which name
 * a case-only rename renames (CaseConflict.renameSpan), and whether a file's new name can only
 * come from the rename of a directory on the way (caseOfParentDiffers: node/hub-changes.ts then
 * leaves the file alone until that directory's rename arrives). No I/O.
 */
import { describe, expect, it } from 'vitest';
import { CaseConflict, caseOfParentDiffers } from '../../main/sync/expect';

describe('caseOfParentDiffers', () => {
  it('is true only when the first segment that differs in case is a directory on the way', () => {
    const rows: [from: string, to: string, parent: boolean][] = [
      // A directory renamed: its files' new names come with it.
      ['many/f1.txt', 'Many/f1.txt', true],
      ['a/many/f1.txt', 'a/Many/f1.txt', true],
      // The directory and the name both: the directory's rename comes first.
      ['many/f1.txt', 'Many/F1.txt', true],
      ['many/sub/f1.txt', 'Many/sub/f1.txt', true],
      ['many/sub/f1.txt', 'many/SUB/f1.txt', true],
      // The name itself: a rename of the file (or of the directory itself) does it.
      ['docs/Readme.md', 'docs/README.md', false],
      ['Readme.md', 'README.md', false],
      ['many', 'Many', false],
      ['a/many', 'a/Many', false],
      // The same path, or not one another in another case.
      ['many/f1.txt', 'many/f1.txt', false],
      ['many/f1.txt', 'more/f1.txt', false],
      ['many/f1.txt', 'Many/f2.txt', false],
      ['many/f1.txt', 'Many', false],
      ['', '', false],
    ];
    for (const [from, to, parent] of rows) expect([from, to, caseOfParentDiffers(from, to)]).toEqual([from, to, parent]);
  });

  it('agrees with the span a case-only rename renames: a directory exactly when it is true', () => {
    // Where the new name is wanted (`wirePath`) and its other case is on disk (`existing`).
    const pairs: [existing: string, wanted: string][] = [
      ['many/f1.txt', 'Many/f1.txt'],
      ['many/f1.txt', 'Many/F1.txt'],
      ['docs/Readme.md', 'docs/README.md'],
      ['a/many/x/y', 'a/MANY/x/Y'],
      ['Many', 'many'],
    ];
    for (const [existing, wanted] of pairs) {
      const { from, to } = new CaseConflict(wanted, existing).renameSpan();
      const spanIsParent = from !== existing;
      expect([existing, wanted, caseOfParentDiffers(existing, wanted)]).toEqual([existing, wanted, spanIsParent]);
      expect(to.toLowerCase()).toBe(from.toLowerCase());
    }
  });
});
