/** `cortex-hub search QUERY` for people: the paths found, a table, and how to get more. */
import type { SearchPage } from '../contract';
import { bytes } from '../util/format';
import { table } from './format';

const KIND = { file: 'file', dir: 'folder', symlink: 'link' } as const;

/** The page found for `query`; `more` is the command that prints the next page. */
export function searchText(r: SearchPage, query: string, more: (cursor: string) => string, nodeId?: string): string {
  const how = (n: number) => (r.match === 'substring' ? `path${n === 1 ? '' : 's'} containing` : `name${n === 1 ? '' : 's'} starting with`);
  const where = nodeId ? `the mirror of node ${nodeId}` : 'any mirror';
  // A page checks a bounded number of candidates (README, "Search across mirrors"): it may be empty and still have a next.
  if (r.hits.length === 0 && r.next) return `No ${how(0)} ${JSON.stringify(query)} in ${where} among the paths looked at so far.\nMore: ${more(r.next)}`;
  if (r.hits.length === 0) return `No ${how(0)} ${JSON.stringify(query)} in ${where}${r.match === 'name-prefix' ? ' (under 3 characters only the start of a name is searched; type more to search anywhere in the path)' : ''}.`;
  return [
    table([['NODE', 'TYPE', 'SIZE', 'MODIFIED', 'PATH'], ...r.hits.map((h) => [
      `${h.nodeName ?? h.nodeId}${h.nodeRetired ? ' (retired)' : ''}`, KIND[h.type], h.type === 'file' ? bytes(h.size) : '-',
      new Date(h.mtimeMs).toISOString().slice(0, 19).replace('T', ' '), `${h.path}${h.conflictCopy ? '  [conflict copy]' : ''}`,
    ])]),
    `${r.hits.length} ${how(r.hits.length)} ${JSON.stringify(query)}${r.next ? ' (the first page)' : ''}.`,
    ...(r.next ? [`More: ${more(r.next)}`] : []),
  ].join('\n');
}
