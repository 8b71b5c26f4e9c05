/** The admin commands' answers for people (`cortex-hub node show`, `conflicts list`, `node rescan`, `node pause`, `purge`); `--json` prints the contract's views as they are. */
import type { ConflictList, NodeDetail, PauseView, PurgeView, RescanSideView, RescanView } from '../contract';
import { ago, bytes } from '../util/format';
import { eventSentence, plural, progressText } from '../util/describe';
import { table } from './format';

/** `node show`, for people: the node's facts, then each section that has something in it. */
export function nodeShow(d: NodeDetail): string {
  const n = d.node;
  const f = d.facts;
  const progress = (p: number | null, eta: number | null) => progressText(p, eta);
  const toHub = progress(n.toHubPercent, n.toHubEtaMs);
  const toNode = progress(n.toNodePercent, n.toNodeEtaMs);
  const lines = [
    `${n.name} (${n.id})  ${n.state}  last seen ${ago(n.lastSeen)}${n.pausedAt !== null ? `  paused since ${new Date(n.pausedAt).toISOString()}${n.connected ? ' (connected)' : ''}` : ''}`,
    `node: ${f.host ?? 'host not known'}  cortex-node ${f.version ?? '(version not known)'}  workspace ${f.workspace ?? '(not known)'}`,
    `mirror ${n.mirror}: ${plural(n.files, 'file')}, ${bytes(n.bytes)}`,
    `to hub: ${n.outOfSyncFiles} (${bytes(n.outOfSyncBytes)})${toHub ? ` ${toHub}` : ''}  to node: ${n.toNodeFiles} (${bytes(n.toNodeBytes)})${toNode ? ` ${toNode}` : ''}  conflicts: ${n.conflicts}  problems: ${n.problems}`,
  ];
  const section = (title: string, total: number, rows: string[][]) => {
    if (rows.length === 0) return;
    lines.push('', `${title} (${total}${rows.length < total ? `, first ${rows.length}` : ''}):`, table(rows));
  };
  section('Problems', n.problems, d.problems.length ? [['PATH', 'DIRECTION', 'CODE', 'REASON'], ...d.problems.map((p) => [p.path || '(whole node)', p.direction, p.code, p.reason])] : []);
  section('Pending to hub', n.outOfSyncFiles, d.pending.length ? [['PATH', 'ACTION', 'BYTES', 'STATE'], ...d.pending.map((p) => [p.path, p.action, bytes(p.size), p.state])] : []);
  section('Pending to node', n.toNodeFiles, d.toNode.length ? [['PATH', 'ACTION', 'BYTES'], ...d.toNode.map((p) => [p.path, p.action, bytes(p.size)])] : []);
  section('Conflict copies', n.conflicts, d.conflicts.map((c) => [c]));
  if (n.problems === 0 && n.state === 'in-sync') lines.push('', 'Everything is mirrored, both ways.');
  if (d.events.length) lines.push('', 'Recent events:', table(d.events.slice(0, 10).map((e) => [new Date(e.at).toISOString(), eventSentence(e)])));
  return lines.join('\n');
}

/** `conflicts list`, for people. */
export function conflictsText(r: ConflictList): string {
  if (r.conflicts.length === 0) return 'No conflicts.';
  const rows = r.conflicts.map((c) => [c.nodeName, c.nodeId, c.copy, c.copySide, c.original ?? '(unknown)', bytes(c.copyVersion.size),
    c.originalVersion ? bytes(c.originalVersion.size) : '(none)', c.madeAt ? new Date(c.madeAt).toISOString() : '-']);
  return [table([['NODE', 'ID', 'CONFLICT COPY', 'COPY FROM', 'ORIGINAL', 'COPY SIZE', 'ORIGINAL SIZE', 'DECIDED'], ...rows]),
    `${r.total} conflict ${r.total === 1 ? 'copy' : 'copies'}${r.conflicts.length < r.total ? ` (first ${r.conflicts.length})` : ''}. Resolve one with: cortex-hub conflicts resolve NODE_ID COPY_PATH --keep winner|copy|both`].join('\n');
}

/** What a rescan found on each side, for people. */
export function rescanText(r: RescanView): string {
  const side = (where: string, v: RescanSideView | null, missing: string | null) => (v
    ? `${where}: ${v.scanned} entries scanned, ${v.changed} new or changed, ${v.deleted} deleted, ${v.hashedFiles} files hashed (${bytes(v.hashedBytes)})${v.problems ? `, ${v.problems} problems` : ''} in ${v.ms} ms`
    : `${where}: no result: ${missing ?? 'unknown'}`);
  return [
    `Rescanned node ${r.nodeId}.`,
    side('  mirror on the hub', r.hub, r.hubMissing),
    side('  workspace on the node', r.node, r.nodeMissing),
    `  ${r.retried} failed change(s) tried again.`,
    ...(r.paused ? ['  The node is paused: what was found is held on each side until "cortex-hub node resume".'] : []),
  ].join('\n');
}

/** What a pause or resume did, for people. */
export function pauseText(r: PauseView, paused: boolean): string {
  if (r.nodes.length === 0) return 'No active nodes.';
  const verb = paused ? 'paused' : 'resumed';
  return table([['ID', 'NAME', 'NOW'], ...r.nodes.map((n) => [n.id, n.name, n.changed ? verb : `already ${verb}`])]);
}

/** A purge preview (with how to run it) or a purge's result, for people. */
export function purgeText(r: PurgeView, hint = true): string {
  const lines: string[] = [];
  if (r.targets.length === 0) lines.push(r.dryRun ? 'No orphaned mirrors to purge.' : `Nothing was moved to the trash (plan ${r.planId}).`);
  else if (r.dryRun) {
    lines.push(`Would remove these orphaned mirrors (plan ${r.planId}):`);
    lines.push(table([['MIRROR', 'REASON', 'FILES', 'BYTES'], ...r.targets.map((t) => [t.id, t.reason, String(t.files), bytes(t.bytes)])]));
    lines.push(`Total: ${r.files} files, ${bytes(r.bytes)}`);
  } else {
    lines.push(`Moved these orphaned mirrors to the trash (plan ${r.planId}):`);
    lines.push(table([['MIRROR', 'REASON', 'FILES', 'BYTES', 'TRASH ID'], ...r.targets.map((t) => [t.id, t.reason, String(t.files), bytes(t.bytes), t.trashId ?? '-'])]));
    lines.push(`Total: ${r.files} files, ${bytes(r.bytes)}. Restore one with: cortex-hub trash restore TRASH_ID`);
  }
  if (r.skipped.length) {
    lines.push(r.dryRun ? 'Left out of the plan:' : 'Kept:');
    lines.push(table(r.skipped.map((k) => [`  ${k.id}`, k.why, k.message])));
  }
  if (r.dryRun && r.targets.length && hint) lines.push(`To remove exactly these, before ${new Date(r.expiresAt).toISOString()}: cortex-hub purge --plan ${r.planId}`);
  return lines.join('\n');
}
