/**
 * What the operator reads, in words (main/util/describe.ts and the byte format): counts with
 * the right noun, a never-connected node not counted as a problem, events as sentences and
 * never raw JSON, what retiring loses, rates rounded and hidden when idle, time left, list
 * headings that agree with their lists.
 */
import { describe, expect, it } from 'vitest';
import { bytes, inTime } from '../../main/util/format';
import { duration, etaText, eventSentence, heldText, hostOfPeer, listNote, needsAttention, nodesSummary, overallPercent, plural, progressText, rateText, retireLoss } from '../../main/util/describe';

describe('counts and the overview summary', () => {
  it('says "1 node", never "1 nodes"', () => {
    expect(plural(1, 'node')).toBe('1 node');
    expect(plural(0, 'node')).toBe('0 nodes');
    expect(plural(2, 'conflict copy', 'conflict copies')).toBe('2 conflict copies');
    expect(nodesSummary({ total: 1, inSync: 1, fresh: 0, attention: 0 })).toBe('1 node · 1 in sync');
    expect(nodesSummary({ total: 3, inSync: 1, fresh: 1, attention: 1 })).toBe('3 nodes · 1 in sync · 1 new (never connected) · 1 needs attention');
    expect(nodesSummary({ total: 5, inSync: 0, fresh: 0, attention: 2 })).toBe('5 nodes · 0 in sync · 2 need attention');
  });

  it('counts error and disconnected as needing attention, never a new node', () => {
    expect(needsAttention('error')).toBe(true);
    expect(needsAttention('disconnected')).toBe(true);
    for (const s of ['new', 'connected', 'syncing', 'in-sync', 'retired']) expect(needsAttention(s), s).toBe(false);
  });
});

describe('what a paused node holds back', () => {
  it('says it in words, capped counts as "over", nothing when nothing is held', () => {
    expect(heldText({ changes: 3, bytes: 1536, capped: false })).toBe('3 changes (1.5 KiB) held on the node');
    expect(heldText({ changes: 100_000, bytes: 10, capped: true })).toBe('over 100,000 changes (10 B or more) held on the node');
    expect(heldText({ changes: 0, bytes: 0, capped: false })).toBeNull();
    expect(heldText(null)).toBeNull();
  });
});

describe('moments to come', () => {
  it.each([[0, 'in 0s'], [45_000, 'in 45s'], [60_000, 'in 1m'], [2 * 3600_000, 'in 2h'], [3 * 86_400_000, 'in 3d'], [-5000, 'in 0s']])('%i ms ahead: %s', (ahead, text) => {
    expect(inTime(1_000_000 + ahead, 1_000_000)).toBe(text);
  });
});

describe('rates and sizes', () => {
  it('rounds bytes to whole bytes, with one decimal above', () => {
    expect(bytes(35.85657370517928)).toBe('36 B');
    expect(bytes(0)).toBe('0 B');
    expect(bytes(1536)).toBe('1.5 KiB');
  });

  it('shows a rate rounded, and no rate at all when nothing moves', () => {
    expect(rateText(35.85657370517928)).toBe('36 B/s');
    expect(rateText(3 * 1024 * 1024 + 12345)).toBe('3.0 MiB/s');
    expect(rateText(0)).toBeNull();
    expect(rateText(0.4)).toBeNull();
    expect(rateText(Number.NaN)).toBeNull();
  });

  it('says time left coarsely, and "estimating" before it is known', () => {
    expect(etaText(null)).toBe('estimating…');
    expect(etaText(1200)).toBe('5 s left');
    expect(etaText(41_000)).toBe('45 s left');
    expect(etaText(61_000)).toBe('2 min left');
    expect(etaText(2 * 3600_000 + 10 * 60_000)).toBe('2 h 10 min left');
    expect(progressText(42.7, 61_000)).toBe('42 % · 2 min left');
    expect(progressText(null, 1000)).toBeNull();
    expect(duration(400)).toBe('0.4 s');
    expect(duration(185_000)).toBe('3 min 5 s');
  });

  it('takes the lower percent of the directions with work for the row\'s bar', () => {
    expect(overallPercent({ toHubPercent: null, toNodePercent: null })).toBeNull();
    expect(overallPercent({ toHubPercent: 80, toNodePercent: null })).toBe(80);
    expect(overallPercent({ toHubPercent: 80, toNodePercent: 20 })).toBe(20);
  });
});

describe('events as sentences', () => {
  const e = (kind: string, data: Record<string, unknown>) => eventSentence({ kind, data });

  it('says each kind the hub records in words, with no raw JSON', () => {
    const said = [
      e('node.added', { name: 'alpha' }),
      e('node.retired', { name: 'alpha' }),
      e('node.connected', { peer: '::ffff:10.0.0.7:51234', version: '0.9.0', fullIndex: true }),
      e('node.connected', { peer: '127.0.0.1:4000', version: '0.9.0', fullIndex: false }),
      e('node.disconnected', { reason: 'stream ended' }),
      e('node.superseded', { replaced: '127.0.0.1:1', by: '127.0.0.1:2' }),
      e('sync.complete', { files: 40, bytes: 2048, bytesReceived: 2048, bytesReused: 0, ms: 1234 }),
      e('purge', { planId: 'pp-x', targets: [{ id: 'a' }], files: 3, bytes: 10, skipped: [] }),
    ];
    expect(said).toEqual([
      'Added as “alpha”.',
      'Retired (was “alpha”): its token is revoked; its mirror stays until a purge removes it.',
      'Connected from 10.0.0.7 running cortex-node 0.9.0; it sends its whole index (first connection, or its index is new).',
      'Connected from 127.0.0.1 running cortex-node 0.9.0; it sends what changed since it was last seen.',
      'Disconnected: stream ended.',
      'A connection from 127.0.0.1 replaced the one from 127.0.0.1 (the same credentials: a restart, or two processes sharing them).',
      'In sync: 40 files (2.0 KiB) mirrored; 2.0 KiB received and 0 B reused this session, 1.2 s after it connected.',
      'Purge pp-x removed 1 mirror (3 files, 10 B).',
    ]);
    for (const s of said) expect(s).not.toMatch(/[{}"]/);
  });

  it('says an unknown kind by its fields, and survives missing or odd data', () => {
    expect(e('node.renamed', { from: 'a', to: 'b' })).toBe('node.renamed: from a, to b.');
    expect(e('node.added', {})).toBe('Added as “?”.');
    expect(e('sync.complete', { files: 'x' })).toMatch(/^In sync: 0 files/);
  });

  it('finds the host in peer addresses of every form', () => {
    expect(hostOfPeer('127.0.0.1:5123')).toBe('127.0.0.1');
    expect(hostOfPeer('::1:5123')).toBe('::1');
    expect(hostOfPeer('::ffff:192.168.1.9:5123')).toBe('192.168.1.9');
    expect(hostOfPeer('[fe80::1]:5123')).toBe('fe80::1');
    expect(hostOfPeer('unknown')).toBe('unknown');
  });
});

describe('what retiring a node loses', () => {
  const none = { outOfSyncFiles: 0, outOfSyncBytes: 0, toNodeFiles: 0, toNodeBytes: 0, conflicts: 0, problems: 0 };

  it('says nothing when nothing is pending', () => {
    expect(retireLoss(none)).toEqual([]);
  });

  it('counts each kind of pending work', () => {
    expect(retireLoss({ ...none, toNodeFiles: 2, toNodeBytes: 2048, outOfSyncFiles: 1, outOfSyncBytes: 5, conflicts: 1, problems: 3 })).toEqual([
      "2 changes made on the hub's side (2.0 KiB) will never reach the node.",
      '1 change of the node (5 B) not yet in the mirror will never arrive.',
      '3 paths that could not be synced stay as they are on each side.',
      '1 conflict copy stays in the mirror, unresolved.',
    ]);
    expect(retireLoss({ ...none, problems: 1 })).toEqual(['1 path that could not be synced stays as it is on each side.']);
  });
});

describe('a list heading agrees with its list', () => {
  it('never says "first 0 of N" above an empty list', () => {
    expect(listNote(301, 0, 'Nothing pending.', '301 changes being taken in.')).toEqual({ heading: ' (301)', empty: '301 changes being taken in.' });
    expect(listNote(0, 0, 'Nothing pending.', 'x')).toEqual({ heading: '', empty: 'Nothing pending.' });
    expect(listNote(301, 100, 'n', 'u')).toEqual({ heading: ' (first 100 of 301)', empty: null });
    expect(listNote(5, 5, 'n', 'u')).toEqual({ heading: ' (5)', empty: null });
  });
});
