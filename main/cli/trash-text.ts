/** `cortex-hub trash ...` for people: the trash as a table, what an emptying did. */
import type { TrashEmptyView, TrashView } from '../contract';
import { bytes } from '../util/format';
import { table } from './format';

/** The trash, for people. */
export function trashText(r: TrashView): string {
  if (r.entries.length === 0) return `The trash is empty (purged mirrors stay ${r.retentionDays} days).`;
  return [
    table([['ID', 'MIRROR', 'NODE', 'FILES', 'BYTES', 'PURGED', 'EMPTIED AFTER', 'STATE'],
      ...r.entries.map((e) => [e.id, e.name, e.nodeName ?? (e.reason === 'unknown' ? '(no node)' : '-'), String(e.files), bytes(e.bytes), new Date(e.trashedAt).toISOString(),
        new Date(e.expiresAt).toISOString(), e.state === 'emptying' ? `emptying${e.error ? `: ${e.error}` : ''}` : 'restorable'])]),
    `Total: ${r.entries.length} mirror${r.entries.length === 1 ? '' : 's'}, ${r.files} files, ${bytes(r.bytes)}; each is emptied ${r.retentionDays} days after its purge.`,
    'Restore one with: cortex-hub trash restore ID',
  ].join('\n');
}

export function emptiedText(r: TrashEmptyView): string {
  const lines = [r.emptied.length === 0 ? 'Nothing was emptied.' : `Emptied ${r.emptied.length} mirror${r.emptied.length === 1 ? '' : 's'} from the trash: ${r.files} files, ${bytes(r.bytes)} (${r.emptied.map((e) => e.id).join(', ')}).`];
  if (r.failed.length) lines.push('Not emptied (tried again at the next check):', table(r.failed.map((f) => [`  ${f.id}`, f.message])));
  return lines.join('\n');
}
