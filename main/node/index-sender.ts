/**
 * The node's index, sent to the hub: from what the hub acknowledged (Welcome) the entries it
 * has not seen, in batches under a window of unacknowledged entries (flow control), each pass
 * closed by IndexDone; acknowledgements open the window again and let tombstones be pruned.
 * While the operator has the node paused, nothing is sent but a count of what is held back
 * (Held), when it changes, at most once every HELD_REPORT_MS.
 */
import type { NodeStore } from '../store/node-store';
import { INDEX_BATCH_ENTRIES, INDEX_WINDOW, toWireEntry, type NodeMessage } from '../sync/wire';
import type { Logger } from '../util/log';

/** A paused node tells the hub what it holds back at most this often (as scans record more). */
export const HELD_REPORT_MS = 1000;

export interface IndexSenderDeps {
  store: NodeStore;
  log: Logger;
  /** A session is open past Welcome. */
  connected(): boolean;
  /** Writes to the hub (rejects when the session goes). */
  write(msg: NodeMessage): Promise<void>;
}

export class IndexSender {
  private sentSeq = 0;
  private ackedSeq = 0;
  private fullPass = false;
  private sending = false;
  /** The operator paused this node on the hub: nothing is sent; the scans go on recording (held). */
  private paused = false;
  private readonly ackWaiters: (() => void)[] = [];
  /** The held count last told in this session (null: none yet), when, and a report waiting for its turn. */
  private heldTold: string | null = null;
  private heldAt = 0;
  private heldTimer: NodeJS.Timeout | null = null;

  constructor(private readonly d: IndexSenderDeps) {}

  /** Entries are being sent right now. */
  get busy(): boolean {
    return this.sending;
  }

  /** What the hub has acknowledged. */
  get acked(): number {
    return this.ackedSeq;
  }

  /**
   * The hub's Welcome: what it has (or that it wants a full index). Returns false when the hub
   * has less than the node pruned: the index gets a new id and the session must be ended (the
   * hub then asks for a full index, the only way to tell it about those deletions).
   */
  welcome(wantFull: boolean, ackedSeq: number): boolean {
    const { store, log } = this.d;
    this.heldTold = null;
    this.fullPass = wantFull;
    this.ackedSeq = wantFull ? 0 : ackedSeq;
    if (!wantFull && this.ackedSeq < store.prunedTo) {
      // The hub has less than we pruned (its database went back in time): only a full
      // index can tell it about those deletions. A new index id makes it ask for one.
      log.warn('index.behind_pruned', { ackedSeq: this.ackedSeq, prunedTo: store.prunedTo });
      store.renewIndexId();
      return false;
    }
    this.sentSeq = this.ackedSeq;
    return true;
  }

  /** Whether the operator paused this node (nothing is sent while paused). */
  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * The hub says the node is paused (Welcome, SyncPause) or resumed: while paused nothing is
   * sent (a send under way stops after its current batch, which the hub keeps unapplied); on
   * resume the caller sends what is pending.
   */
  setPaused(paused: boolean): void {
    this.paused = paused;
    // A new pause tells its count afresh.
    if (!paused) this.heldTold = null;
    // A sender waiting for acknowledgements stops waiting (and, paused, stops).
    if (paused) for (const w of this.ackWaiters.splice(0)) w();
  }

  /** The hub acknowledged everything through `seq`. */
  ack(seq: number): void {
    const { store, log } = this.d;
    this.ackedSeq = seq;
    for (const w of this.ackWaiters.splice(0)) w();
    const pruned = store.pruneTombstones(this.ackedSeq);
    if (pruned) log.debug('index.pruned', { tombstones: pruned, upTo: this.ackedSeq });
    if (this.ackedSeq >= store.lastSeq) log.info('sync.complete', { seq: this.ackedSeq });
  }

  /** The session ended: a sender waiting for an acknowledgement stops waiting. */
  ended(): void {
    for (const w of this.ackWaiters.splice(0)) w();
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.heldTimer = null;
  }

  /** While paused: tells the hub what is held back, when that changed, at most once every HELD_REPORT_MS. */
  private reportHeld(): void {
    const { d } = this;
    if (this.heldTimer) return;
    const wait = this.heldAt + HELD_REPORT_MS - Date.now();
    if (wait > 0) {
      this.heldTimer = setTimeout(() => {
        this.heldTimer = null;
        if (this.paused && d.connected()) this.reportHeld();
      }, wait);
      this.heldTimer.unref();
      return;
    }
    const held = d.store.held(this.ackedSeq);
    const told = `${held.changes}:${held.bytes}:${held.capped}`;
    if (told === this.heldTold) return;
    this.heldTold = told;
    this.heldAt = Date.now();
    d.write({ held }).catch((e: Error) => d.log.debug('send.interrupted', { error: e.message }));
  }

  /** Sends every index entry the hub has not seen, then IndexDone. One sender at a time. */
  async sendPending(): Promise<void> {
    const { d } = this;
    const open = () => d.connected() && !this.paused;
    if (this.paused && d.connected()) this.reportHeld();
    if (this.sending || !open()) return;
    this.sending = true;
    try {
      while (open()) {
        // Flow control: wait for acknowledgements rather than piling entries up at the hub.
        while (open() && this.sentSeq - this.ackedSeq >= INDEX_WINDOW) {
          await new Promise<void>((resolve) => this.ackWaiters.push(resolve));
        }
        if (!open()) break;
        const batch = d.store.since(this.sentSeq, Math.min(INDEX_BATCH_ENTRIES, INDEX_WINDOW - (this.sentSeq - this.ackedSeq)));
        if (batch.length === 0) {
          // Numbers up to lastSeq not returned belonged to pruned tombstones: the hub may
          // acknowledge through them (so a reconnect never looks behind what was pruned).
          this.sentSeq = Math.max(this.sentSeq, d.store.lastSeq);
          break;
        }
        await d.write({ index: { files: batch.map(toWireEntry) } });
        this.sentSeq = batch[batch.length - 1]!.seq;
      }
      if (open()) {
        await d.write({ done: { seq: this.sentSeq, full: this.fullPass } });
        this.fullPass = false;
      }
    } catch (e) {
      d.log.debug('send.interrupted', { error: (e as Error).message });
    } finally {
      this.sending = false;
    }
    if (open() && d.store.lastSeq > this.sentSeq) void this.sendPending();
  }
}
