/** `cortex-hub changes ...` for people: the feed as a table of sentences, a path's timeline with why it is out of sync. */
import type { ChangesPage, FileHistoryView } from '../contract';
import { table } from './format';
import { bytes } from '../util/format';

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');

/** A page of the feed, newest first. */
export function changesText(r: ChangesPage, nodeNamed: boolean): string {
  if (r.items.length === 0) return `No changes recorded${r.oldestAt === null ? ' yet' : ' that match'} (kept ${r.retentionDays} days).`;
  const lines = [table([['WHEN', ...(nodeNamed ? [] : ['NODE']), 'PATH', 'WHAT'],
    ...r.items.map((c) => [when(c.at), ...(nodeNamed ? [] : [c.nodeName ?? c.nodeId]), c.path || '(the node itself)', c.sentence])])];
  if (r.next !== null) lines.push(`Older: the same command with --before ${r.next}`);
  return lines.join('\n');
}

/** One path's timeline, and why it is out of sync now. */
export function historyText(h: FileHistoryView): string {
  const now = h.current ? `the mirror holds a ${h.current.type}${h.current.type === 'file' ? ` of ${bytes(h.current.size)} (sha256 ${h.current.hash.slice(0, 16)}…)` : ''}` : 'the mirror holds nothing there';
  const lines = [`${h.path} on node ${h.nodeName} (${h.nodeId}): ${now}.`];
  if (h.inSync) lines.push('In sync: nothing keeps it from being the same on both sides, as far as the hub knows.');
  else lines.push('Out of sync, because:', ...h.why.map((w) => `  - ${w.sentence}`));
  if (h.events.length === 0) lines.push('No changes recorded for it (the change log keeps recent ones only).');
  else {
    lines.push('', `Timeline (newest first${h.truncated ? `, the newest ${h.events.length}` : ''}):`);
    lines.push(table(h.events.map((c) => [`  ${when(c.at)}`, c.madeBy === 'node' ? 'node' : 'hub', c.sentence])));
  }
  return lines.join('\n');
}
