/**
 * When a session's flush step (hub/session-flush.ts) records and acknowledges: at once when
 * nothing else is being applied (a single change is not held back), gathered while changes are
 * being applied (one transaction and one acknowledgement for many files), and early when many
 * writes wait. The store is a recorder; the queue and the journal are the real ones; only time
 * is mocked.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApplyQueue } from '../../main/hub/apply-queue';
import { FailureSet } from '../../main/hub/failures';
import { FlushGroup, SessionFlush } from '../../main/hub/session-flush';
import { WriteJournal } from '../../main/hub/write-journal';
import type { FlushRecord, HubStore } from '../../main/store/hub-store';
import type { CachedEntry } from '../../main/sync/types';
import type { Logger } from '../../main/util/log';

/** Lets setImmediate callbacks and promise continuations run (setImmediate is not mocked). */
const turn = () => new Promise((r) => setImmediate(r));

function stamp(path: string): CachedEntry {
  return { path, type: 'file', size: 1, mtimeMs: 1, mode: 0o644, ino: 1, hash: Buffer.alloc(32), blockSize: 131072, blocks: Buffer.alloc(32), target: '', seq: 1, deleted: false };
}

function setup() {
  const flushes: FlushRecord[] = [];
  const store = { recordFlush: (_node: string, w: FlushRecord) => flushes.push(w) } as unknown as HubStore;
  const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;
  const queue = new ApplyQueue({ caseInsensitive: false, run: () => Promise.resolve(), ran: () => undefined });
  const journal = new WriteJournal();
  let busy = false;
  const flush = new SessionFlush({
    nodeId: 'n', indexId: 'i', store, log, failures: new FailureSet(), queue, journal,
    closed: () => false,
    busy: () => busy,
    ackedSeq: () => 0,
    doneSeq: () => -1,
    fullPassOpen: () => false,
    acknowledge: () => undefined,
    sendHubChanges: () => undefined,
    changed: () => undefined,
  });
  /** A result of an applied change, and the session's call that follows it. */
  const wrote = (path: string) => {
    journal.add({ put: [stamp(path)] });
    flush.schedule();
  };
  return { flushes, wrote, setBusy: (b: boolean) => { busy = b; } };
}

describe('SessionFlush', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('records a change at once when nothing else is being applied, with the others of the same turn', async () => {
    const { flushes, wrote } = setup();
    wrote('a');
    wrote('b');
    await turn();
    // No timer had to run.
    expect(flushes.map((f) => f.put.map((x) => x.path))).toEqual([['a', 'b']]);
  });

  it('gathers results while changes are being applied, and records them when the work is done', async () => {
    const { flushes, wrote, setBusy } = setup();
    setBusy(true);
    wrote('a');
    await turn();
    await vi.advanceTimersByTimeAsync(25);
    wrote('b');
    await turn();
    expect(flushes).toEqual([]);
    // The last change of the burst has run: nothing is being applied any more.
    setBusy(false);
    wrote('c');
    await turn();
    expect(flushes.map((f) => f.put.map((x) => x.path))).toEqual([['a', 'b', 'c']]);
  });

  it('records what was gathered after a while even when the work goes on', async () => {
    const { flushes, wrote, setBusy } = setup();
    setBusy(true);
    wrote('a');
    await vi.advanceTimersByTimeAsync(1000);
    expect(flushes.map((f) => f.put.map((x) => x.path))).toEqual([['a']]);
  });

  it('records early when many writes wait', async () => {
    const { flushes, wrote, setBusy } = setup();
    setBusy(true);
    for (let i = 0; i < 600; i++) wrote(`f${i}`);
    await turn();
    expect(flushes).toHaveLength(1);
    expect(flushes[0]!.put.length).toBeGreaterThanOrEqual(512);
  });

  /** Sessions sharing a FlushGroup over a recorder store; `events` orders transactions and acknowledgements. */
  function shared(failing: string[] = []) {
    const events: string[] = [];
    const store = {
      recordFlushes: (fs: { nodeId: string; w: FlushRecord }[]) => {
        if (fs.some((f) => failing.includes(f.nodeId))) throw new Error('rolled back');
        events.push(`tx ${fs.map((f) => `${f.nodeId}:${f.w.put.map((x) => x.path).join('+')}@${f.w.acked}`).join(' ')}`);
      },
      recordFlush: (nodeId: string, w: FlushRecord) => {
        if (failing.includes(nodeId)) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
        events.push(`alone ${nodeId}:${w.put.map((x) => x.path).join('+')}@${w.acked}`);
      },
    } as unknown as HubStore;
    const group = new FlushGroup(store);
    const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;
    const session = (nodeId: string) => {
      const queue = new ApplyQueue({ caseInsensitive: false, run: () => Promise.resolve(), ran: () => undefined });
      const journal = new WriteJournal();
      let acked = 0;
      const flush = new SessionFlush({
        nodeId, indexId: 'i', store, group, log, failures: new FailureSet(), queue, journal,
        closed: () => false,
        busy: () => false,
        ackedSeq: () => acked,
        // The node's index is done through 5: a flush acknowledges it.
        doneSeq: () => 5,
        fullPassOpen: () => false,
        acknowledge: (seq) => {
          acked = seq;
          events.push(`ack ${nodeId} ${seq}`);
        },
        sendHubChanges: () => undefined,
        changed: () => undefined,
      });
      return {
        flush,
        wrote: (path: string) => {
          journal.add({ put: [stamp(path)] });
          flush.schedule();
        },
      };
    };
    return { events, session };
  }

  it('records the flushes of several sessions in one transaction, and acknowledges each only after it', async () => {
    const { events, session } = shared();
    const a = session('a');
    const b = session('b');
    a.wrote('x');
    b.wrote('y');
    a.wrote('z');
    await vi.waitFor(() => expect(events).toHaveLength(3));
    expect(events[0]).toBe('tx a:x+z@5 b:y@5');
    expect(events.slice(1).sort()).toEqual(['ack a 5', 'ack b 5']);
  });

  it("a shared transaction that fails is retried per session: one node's failure holds no other back", async () => {
    const { events, session } = shared(['bad']);
    const good = session('good');
    const bad = session('bad');
    good.wrote('x');
    bad.wrote('y');
    await vi.waitFor(() => expect(events).toEqual(['alone good:x@5', 'ack good 5']));
    await vi.waitFor(() => expect(bad.flush.error?.code).toBe('DISK_FULL'));
    // Nothing of the failed node is acknowledged.
    expect(events).toEqual(['alone good:x@5', 'ack good 5']);
  });
});
