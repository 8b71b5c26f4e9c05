/**
 * The block fetcher both sides use (sync/block-fetcher.ts), with its `send` in memory: requests
 * of one turn go out together, the byte budget holds requests back until answers free it, an
 * error answer and a lost peer fail what they should, and an answer to nothing is told apart.
 */
import { describe, expect, it } from 'vitest';
import { BlockFetcher, BlockUnavailable, PeerGone } from '../../main/sync/block-fetcher';
import type { BlockRequest } from '../../main/sync/wire';

const hash = Buffer.alloc(32);
/** Lets setImmediate callbacks (the fetcher's sending) and promise continuations run. */
const turn = () => new Promise((r) => setImmediate(r));

function setup(maxBytes: number) {
  const sent: BlockRequest[][] = [];
  const f = new BlockFetcher({ peer: 'node', maxBytes, send: (reqs) => sent.push(reqs) });
  return { f, sent, ids: () => sent.flat().map((r) => r.id) };
}

describe('BlockFetcher', () => {
  it('sends the requests of one turn together and resolves each with its answer', async () => {
    const { f, sent } = setup(1000);
    const a = f.fetch('a', 0, 10, hash);
    const b = f.fetch('b', 10, 20, hash);
    await turn();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.map((r) => [r.path, r.offset, r.size])).toEqual([['a', 0, 10], ['b', 10, 20]]);
    expect(f.inFlight).toBe(30);
    expect(f.onResponse(sent[0]![1]!.id, Buffer.from('bb'), '')).toBe(true);
    expect(f.onResponse(sent[0]![0]!.id, Buffer.from('aa'), '')).toBe(true);
    expect((await a).toString()).toBe('aa');
    expect((await b).toString()).toBe('bb');
    expect(f.inFlight).toBe(0);
  });

  it('keeps the bytes requested and not answered within its budget', async () => {
    const { f, sent, ids } = setup(100);
    const first = f.fetch('a', 0, 60, hash);
    const second = f.fetch('a', 60, 60, hash);
    await turn();
    await turn();
    // 60 + 60 > 100: the second waits for the first's answer.
    expect(ids()).toHaveLength(1);
    expect(f.inFlight).toBe(60);
    f.onResponse(ids()[0]!, Buffer.alloc(60), '');
    await first;
    await turn();
    await turn();
    expect(ids()).toHaveLength(2);
    expect(f.inFlight).toBe(60);
    f.onResponse(ids()[1]!, Buffer.alloc(60), '');
    await second;
    expect(f.inFlight).toBe(0);
    expect(sent).toHaveLength(2);
  });

  it('lets one request bigger than the budget go alone', async () => {
    const { f, ids } = setup(100);
    const big = f.fetch('a', 0, 500, hash);
    await turn();
    expect(ids()).toHaveLength(1);
    f.onResponse(ids()[0]!, Buffer.alloc(500), '');
    expect((await big).length).toBe(500);
  });

  it('fails a request the peer cannot serve with BlockUnavailable, and frees its bytes', async () => {
    const { f, ids } = setup(100);
    const p = f.fetch('a', 0, 60, hash);
    await turn();
    f.onResponse(ids()[0]!, Buffer.alloc(0), 'changed');
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlockUnavailable);
    expect((err as BlockUnavailable).reason).toBe('changed');
    expect((err as Error).message).toBe('node could not supply the block: changed');
    expect(f.inFlight).toBe(0);
  });

  it('tells an answer to no request apart (and an answer given twice)', async () => {
    const { f, ids } = setup(100);
    expect(f.onResponse(42, Buffer.alloc(1), '')).toBe(false);
    const p = f.fetch('a', 0, 1, hash);
    await turn();
    expect(f.onResponse(ids()[0]!, Buffer.alloc(1), '')).toBe(true);
    expect(f.onResponse(ids()[0]!, Buffer.alloc(1), '')).toBe(false);
    await p;
  });

  it('fails everything waiting when the peer is gone: answers, budget, and later fetches', async () => {
    const { f, ids } = setup(100);
    const sentOne = f.fetch('a', 0, 60, hash);
    const waitsForBudget = f.fetch('b', 0, 60, hash);
    const sentOneErr = sentOne.catch((e: unknown) => e);
    const waitsErr = waitsForBudget.catch((e: unknown) => e);
    await turn();
    await turn();
    expect(ids()).toHaveLength(1);
    f.close();
    expect(await sentOneErr).toBeInstanceOf(PeerGone);
    expect(await waitsErr).toBeInstanceOf(PeerGone);
    await expect(f.fetch('c', 0, 1, hash)).rejects.toBeInstanceOf(PeerGone);
    await turn();
    // Nothing more was sent, and a late answer answers nothing.
    expect(ids()).toHaveLength(1);
    expect(f.onResponse(ids()[0]!, Buffer.alloc(60), '')).toBe(false);
  });

  it('sends nothing gathered before the peer went', async () => {
    const { f, sent } = setup(100);
    const p = f.fetch('a', 0, 1, hash).catch((e: unknown) => e);
    f.close();
    await turn();
    expect(sent).toEqual([]);
    expect(await p).toBeInstanceOf(PeerGone);
  });
});
