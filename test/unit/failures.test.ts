/** The hub's record of what could not be applied: backoff, clearing, what is due, and what survives a restart. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FailureSet, RETRY_MAX_MS, RETRY_MIN_MS, retryAt } from '../../main/hub/failures';
import { HubStore } from '../../main/store/hub-store';
import { errnoProblem } from '../../main/sync/problems';
import type { Entry } from '../../main/sync/types';
import { fileEntry } from '../helpers/entries';

const entry = (p: string): Entry => fileEntry(p, { mtimeMs: 5, seq: 9 });

describe('retryAt', () => {
  it('doubles from RETRY_MIN_MS up to RETRY_MAX_MS, and never retries by itself what cannot help', () => {
    expect(retryAt(1, true, 1000)).toBe(1000 + RETRY_MIN_MS);
    expect(retryAt(2, true, 1000)).toBe(1000 + 2 * RETRY_MIN_MS);
    expect(retryAt(4, true, 0)).toBe(8 * RETRY_MIN_MS);
    expect(retryAt(40, true, 0)).toBe(RETRY_MAX_MS);
    expect(retryAt(1, false, 0)).toBeNull();
  });
});

describe('errnoProblem', () => {
  it('names disk full, permissions and read-only file systems in words, and leaves other errors alone', () => {
    const err = (code: string) => Object.assign(new Error(`${code}: boom`), { code });
    expect(errnoProblem(err('ENOSPC'), "the hub's mirror")).toEqual({ code: 'DISK_FULL', reason: "the hub's mirror: no space left on the device (ENOSPC: boom)", retry: true });
    expect(errnoProblem(err('EACCES'), 'workspace')).toMatchObject({ code: 'PERMISSION_DENIED', retry: true });
    expect(errnoProblem(err('ENAMETOOLONG'), 'workspace')).toMatchObject({ code: 'NAME_TOO_LONG', retry: false });
    expect(errnoProblem(new Error('plain'), 'x')).toBeUndefined();
  });
});

describe('FailureSet', () => {
  it('counts attempts, keeps the first time, clears, and lists what is due', () => {
    const set = new FailureSet();
    set.fail('to-hub', 'a', 'DISK_FULL', 'full', true, entry('a'), 1000);
    const again = set.fail('to-hub', 'a', 'DISK_FULL', 'still full', true, entry('a'), 5000);
    expect(again).toMatchObject({ attempts: 2, firstAt: 1000, at: 5000, retryAt: 5000 + 2 * RETRY_MIN_MS, reason: 'still full' });
    set.fail('to-node', 'a', 'PERMISSION_DENIED', 'no', true, null, 1000);
    set.fail('to-hub', 'bad', 'UNSAFE_PATH', 'no', false, null, 1000);
    expect(set.size).toBe(3);
    expect(set.due(5000 + 2 * RETRY_MIN_MS).map((f) => `${f.direction}:${f.path}`).sort()).toEqual(['to-hub:a', 'to-node:a']);
    // A rescan tries everything it can: not the path that has nothing to retry.
    expect(set.due(0, true).map((f) => `${f.direction}:${f.path}`).sort()).toEqual(['to-hub:a', 'to-node:a']);
    expect(set.nextRetry()).toBe(1000 + RETRY_MIN_MS);
    set.trying(set.get('to-node', 'a')!);
    expect(set.nextRetry()).toBe(5000 + 2 * RETRY_MIN_MS);
    expect(set.clear('to-hub', 'a')).toBe(true);
    expect(set.clear('to-hub', 'a')).toBe(false);
    expect(set.has('DISK_FULL')).toBe(false);
    expect(set.size).toBe(2);
  });

  it('survives a restart through the store, entry and all, and is forgotten with the mirror', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cortex-failures-'));
    const store = new HubStore(path.join(dir, 'hub.db'));
    store.addNode('n', 'n', 'secret');
    const set = new FailureSet();
    const rec = set.fail('to-hub', 'big.bin', 'DISK_FULL', 'full', true, entry('big.bin'), 1000);
    const other = set.fail('to-node', 'x', 'PERMISSION_DENIED', 'no', true, null, 1000);
    store.recordFlush('n', { put: [], del: [], agreed: [], forNode: [], failed: [rec, other], cleared: [], acked: 7, indexId: 'idx' });
    store.close();
    const again = new HubStore(path.join(dir, 'hub.db'));
    const loaded = new FailureSet(again.failures.list('n'));
    expect(loaded.size).toBe(2);
    const back = loaded.get('to-hub', 'big.bin')!;
    expect(back).toMatchObject({ code: 'DISK_FULL', attempts: 1, retryAt: rec.retryAt });
    expect(back.entry!.blocks.equals(entry('x').blocks)).toBe(true);
    expect(back.entry!.hash.equals(entry('x').hash)).toBe(true);
    expect(again.node('n')!.ackedSeq).toBe(7);
    again.recordFlush('n', { put: [], del: [], agreed: [], forNode: [], failed: [], cleared: [{ direction: 'to-node', path: 'x' }], acked: null, indexId: 'idx' });
    expect(again.failures.list('n').map((f) => f.path)).toEqual(['big.bin']);
    again.forgetMirror('n');
    expect(again.failures.list('n')).toEqual([]);
    again.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
