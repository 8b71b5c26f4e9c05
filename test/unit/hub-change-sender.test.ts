/**
 * The hub→node sender on a real hub database: batches of bounded count and bytes, several in
 * flight before the first is acknowledged (the node applies one while the next are on their
 * way), never more than the window, one batch per turn of the event loop.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HUB_BATCH_ENTRIES, HUB_WINDOW, HubChangeSender, INLINE_MAX, MAX_HUB_BATCH_FILE_BYTES, MAX_HUB_BATCH_INLINE } from '../../main/hub/hub-change-sender';
import type { FailureSet } from '../../main/hub/failures';
import type { WriteJournal } from '../../main/hub/write-journal';
import { HubStore } from '../../main/store/hub-store';
import type { CachedEntry } from '../../main/sync/types';
import type { HubMessage } from '../../main/sync/wire';
import { createLogger } from '../../main/util/log';
import { cachedEntry, tempDirs } from '../helpers/entries';

const tmp = tempDirs('hub-sender');
const turn = () => new Promise((r) => setImmediate(r));

/** Turns of the event loop until nothing more is sent (a batch is built over a few turns). */
async function settle(sent: unknown[]): Promise<void> {
  for (let quiet = 0; quiet < 20;) {
    const n = sent.length;
    await turn();
    quiet = sent.length === n ? quiet + 1 : 0;
  }
}

function setup(files: { path: string; size: number }[], over: { send?: (m: HubMessage) => void; refused?: string[]; content?: (recs: CachedEntry[]) => Promise<(Buffer | null)[]>; busy?: (p: string) => boolean } = {}) {
  const store = new HubStore(path.join(tmp(), 'hub.db'));
  store.addNode('n', 'n', 'x');
  store.index.putFiles('n', files.map((f) => cachedEntry(f.path, { size: f.size })));
  store.hubChanges.queue('n', files.map((f) => f.path));
  const sent: HubMessage[] = [];
  const sender = new HubChangeSender({
    nodeId: 'n', store, log: createLogger('hub', { consoleLevel: false }),
    failures: {} as FailureSet, journal: {} as WriteJournal,
    send: over.send ?? ((m) => sent.push(m)),
    refuse: (_p, _s, code, message) => {
      if (!over.refused) throw new Error(`${code}: ${message}`);
      over.refused.push(`${code}: ${message}`);
    },
    closed: () => false, busy: over.busy ?? (() => false), seenSeq: () => 0, nodePending: () => 0,
    staleDirs: () => undefined, clearFailure: () => undefined, failed: () => undefined, changed: () => undefined,
    ...(over.content ? { content: over.content } : {}),
  }, 0);
  const batches = () => sent.map((m) => m.hubIndex!.files!);
  const lastSeq = () => Number(batches().at(-1)!.at(-1)!.seq);
  return { store, sender, sent, batches, lastSeq };
}

describe('HubChangeSender', () => {
  it('sends one batch per turn, several before any acknowledgement, and stops at the window until the node acknowledges', async () => {
    const n = HUB_WINDOW + HUB_BATCH_ENTRIES + 10;
    const t = setup(Array.from({ length: n }, (_, i) => ({ path: `f${String(i).padStart(5, '0')}`, size: 10 })));
    t.sender.send();
    // One batch after the other, each built over a turn or a few.
    await settle(t.sent);
    expect(t.batches().map((b) => b.length)).toEqual(Array(HUB_WINDOW / HUB_BATCH_ENTRIES).fill(HUB_BATCH_ENTRIES));
    // The node acknowledges the first batch: one more batch fills the window again.
    t.sender.onAck(HUB_BATCH_ENTRIES);
    await settle(t.sent);
    expect(t.batches().reduce((a, b) => a + b.length, 0)).toBe(HUB_WINDOW + HUB_BATCH_ENTRIES);
    t.sender.onAck(t.lastSeq());
    await settle(t.sent);
    expect(t.batches().reduce((a, b) => a + b.length, 0)).toBe(n);
    expect(t.batches().flat().map((f) => f.path)).toEqual(Array.from({ length: n }, (_, i) => `f${String(i).padStart(5, '0')}`));
    t.sender.stop();
    t.store.close();
  });

  it('cuts batches by the bytes of their files too, and goes on with the next batch', async () => {
    const big = 5 * 1024 * 1024;
    const t = setup(Array.from({ length: 20 }, (_, i) => ({ path: `big${String(i).padStart(2, '0')}`, size: big })));
    t.sender.send();
    await settle(t.sent);
    const per = Math.floor(MAX_HUB_BATCH_FILE_BYTES / big);
    expect(t.batches().map((b) => b.length)).toEqual([per, per, per, 20 - 3 * per]);
    for (const b of t.batches()) expect(b.reduce((a, f) => a + Number(f.size), 0)).toBeLessThanOrEqual(MAX_HUB_BATCH_FILE_BYTES);
    t.sender.stop();
    t.store.close();
  });

  it('a batch sent in a later turn that fails ends in a refusal of the session, never an uncaught exception', async () => {
    const refused: string[] = [];
    let calls = 0;
    const t = setup(Array.from({ length: HUB_BATCH_ENTRIES + 1 }, (_, i) => ({ path: `f${i}`, size: 1 })), {
      refused,
      send: () => { if (++calls > 1) throw new Error('stream closed'); },
    });
    t.sender.send();
    for (let i = 0; i < 50 && calls < 2; i++) await turn();
    await turn();
    expect(calls).toBe(2);
    expect(refused).toEqual(['INTERNAL: stream closed']);
    t.sender.stop();
    t.store.close();
  });

  it('sends small files\' content inline (at most MAX_HUB_BATCH_INLINE bytes a batch), never a bigger file\'s or one it could not read', async () => {
    const small = 100 * 1024;
    const files = [
      ...Array.from({ length: 15 }, (_, i) => ({ path: `s${String(i).padStart(2, '0')}`, size: small })),
      { path: 'unreadable', size: 10 },
      { path: 'zbig', size: INLINE_MAX + 1 },
    ];
    const asked: string[] = [];
    const t = setup(files, {
      content: async (recs) => recs.map((rec) => {
        asked.push(rec.path);
        return rec.path === 'unreadable' ? null : Buffer.alloc(rec.size, 7);
      }),
    });
    t.sender.send();
    await settle(t.sent);
    const sent = t.batches().flat();
    expect(sent.map((f) => f.path)).toEqual(files.map((f) => f.path));
    expect(asked).not.toContain('zbig');
    for (const b of t.batches()) expect(b.reduce((a, f) => a + (f.content?.length ?? 0), 0)).toBeLessThanOrEqual(MAX_HUB_BATCH_INLINE);
    const withContent = sent.filter((f) => f.content);
    expect(withContent.length).toBe(Math.floor(MAX_HUB_BATCH_INLINE / small));
    expect(withContent.every((f) => f.content!.length === Number(f.size))).toBe(true);
    expect(sent.find((f) => f.path === 'unreadable')!.content).toBeUndefined();
    t.sender.stop();
    t.store.close();
  });

  it('a send asked for while a batch waits for its content is not lost: what was busy then goes once it is not', async () => {
    let busyB = true;
    let held = true;
    let release: () => void = () => undefined;
    const t = setup([{ path: 'a', size: 10 }, { path: 'b', size: 10 }], {
      busy: (p) => p === 'b' && busyB,
      content: (recs) => new Promise((resolve) => {
        release = () => resolve(recs.map((r) => Buffer.alloc(r.size, 1)));
        if (!held) release();
      }),
    });
    t.sender.send();
    await settle(t.sent);
    // 'a' waits for its content; 'b' had node work in progress, which is recorded now.
    expect(t.sent).toEqual([]);
    busyB = false;
    t.sender.send();
    held = false;
    release();
    await settle(t.sent);
    expect(t.batches().map((b) => b.map((f) => f.path))).toEqual([['a'], ['b']]);
    expect(t.batches()[0]![0]!.content?.length).toBe(10);
    t.sender.stop();
    t.store.close();
  });
});
