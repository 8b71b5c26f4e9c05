/**
 * Fetching blocks from the peer (the node, for the hub; the hub, for the node), written once
 * for both sides: one byte budget for what is requested and not yet answered, requests made in
 * one turn of the event loop sent together through the injected `send`, and one pair of errors
 * (BlockUnavailable: the peer answered it cannot; PeerGone: the connection went). No gRPC here:
 * the caller turns requests into messages and hands answers to onResponse().
 */
import type { BlockRequest } from './wire';

/** The peer could not serve the block (the file changed or went away there, say). */
export class BlockUnavailable extends Error {
  constructor(readonly peer: string, readonly reason: string) {
    super(`${peer} could not supply the block: ${reason}`);
    this.name = 'BlockUnavailable';
  }
}

/** The connection to the peer went: nothing waiting will be answered. */
export class PeerGone extends Error {
  constructor(readonly peer: string) {
    super(`the connection to ${peer} was lost`);
    this.name = 'PeerGone';
  }
}

export interface BlockFetcherOptions {
  /** Who serves the blocks, as error messages name it ("node", "the hub"). */
  peer: string;
  /** Bytes requested and not yet answered, at most (one request bigger than this goes alone). */
  maxBytes: number;
  /** Sends requests to the peer (the caller batches them into messages). */
  send(requests: BlockRequest[]): void;
}

interface Waiting {
  size: number;
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
}

export class BlockFetcher {
  private nextId = 1;
  private bytes = 0;
  private gone = false;
  private readonly budgetWaiters: (() => void)[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private outbox: BlockRequest[] = [];

  constructor(private readonly o: BlockFetcherOptions) {}

  /** Bytes requested and not answered yet. */
  get inFlight(): number {
    return this.bytes;
  }

  /** Fetches one block; rejects with BlockUnavailable or PeerGone. */
  async fetch(path: string, offset: number, size: number, hash: Buffer): Promise<Buffer> {
    while (!this.gone && this.bytes + size > this.o.maxBytes && this.bytes > 0) {
      await new Promise<void>((resolve) => this.budgetWaiters.push(resolve));
    }
    if (this.gone) throw new PeerGone(this.o.peer);
    const id = this.nextId++;
    this.bytes += size;
    return new Promise<Buffer>((resolve, reject) => {
      this.waiting.set(id, { size, resolve, reject });
      this.outbox.push({ id, path, offset, size, hash });
      if (this.outbox.length === 1) setImmediate(() => this.flush());
    });
  }

  /** An answer from the peer. False when it answers no request (the caller tells the peer). */
  onResponse(id: number, data: Uint8Array, error: string): boolean {
    const w = this.waiting.get(id);
    if (!w) return false;
    this.waiting.delete(id);
    // The budget is released here, when the answer arrives, and not in a `finally` of the
    // caller: it bounds bytes requested and not yet received, and these are received now,
    // whatever the caller does next. Releasing in one place also frees a failed request's bytes
    // (an error answer, or close()) with no second path that could forget to.
    this.release(w.size);
    if (error) w.reject(new BlockUnavailable(this.o.peer, error));
    else w.resolve(Buffer.isBuffer(data) ? data : Buffer.from(data));
    return true;
  }

  /** The peer is gone: every request waiting (for an answer or for budget) and every later one fails with PeerGone. */
  close(): void {
    if (this.gone) return;
    this.gone = true;
    this.outbox = [];
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    this.bytes = 0;
    for (const w of this.budgetWaiters.splice(0)) w();
    for (const w of waiting) w.reject(new PeerGone(this.o.peer));
  }

  private release(size: number): void {
    this.bytes -= size;
    this.budgetWaiters.shift()?.();
  }

  /** Sends the requests gathered during this turn of the event loop. */
  private flush(): void {
    if (this.gone) return;
    const batch = this.outbox;
    this.outbox = [];
    if (batch.length) this.o.send(batch);
  }
}
