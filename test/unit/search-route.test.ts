/** The search view's address: `#/search/<query>` both ways, any query (slashes, %, quotes, spaces), and a malformed one. */
import { describe, expect, it } from 'vitest';
import { hashOf, viewFromHash } from '../../renderer/src/store';
import { historyHref } from '../../renderer/src/links';

describe('the search route', () => {
  it.each(['report', 'src/app/', '50%_off "x"', 'a b', '#/node/x', '😀', '%E0%A4%A'])('keeps %j through its address', (query) => {
    const hash = hashOf({ name: 'search', query });
    expect(hash.startsWith('#/search/')).toBe(true);
    expect(viewFromHash(hash)).toEqual({ name: 'search', query });
  });

  it('takes an address with a broken escape as an empty search, not a crash', () => {
    expect(viewFromHash('#/search/%E0%A4%A')).toEqual({ name: 'search', query: '' });
    expect(viewFromHash('#/search')).toEqual({ name: 'search', query: '' });
  });

  it('links a hit to its history view with the node and the path each one encoded part', () => {
    expect(historyHref({ nodeId: 'n1', path: 'a b/c#d?.txt' })).toBe('#/history/n1/a%20b%2Fc%23d%3F.txt');
  });
});
