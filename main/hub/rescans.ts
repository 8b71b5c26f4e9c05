/**
 * The operator's rescans of a node's workspace, as the hub waits for them: each Rescan sent to
 * a node's session carries an id, and the node's RescanDone with that id settles it. The caller
 * waits at most a given time; an answer that comes later is only handed to `late` (recorded as
 * an event). A session that ends settles its waits with why there is no answer. What a node
 * sends is checked first (rescanSide): anyone may be on the other end.
 */
import type { RescanSideView } from '../contract';
import { clip } from '../util/text';

/** What the node's rescan found, or why there is no result. */
export type SideAnswer = { ok: true; side: RescanSideView } | { ok: false; why: string };

/** Rescans one session may have waiting (answered or timed out ones included), at most. */
const MAX_WAITING = 64;

const NUMBER_FIELDS = ['scanned', 'changed', 'deleted', 'hashedFiles', 'hashedBytes', 'problems', 'ms'] as const;

/** A node's RescanDone as an answer (its counts must be whole, non-negative, safe numbers; `ms` finite), or why it is refused. */
export function rescanAnswer(m: unknown): { id: number; answer: SideAnswer } | string {
  if (typeof m !== 'object' || m === null) return 'a rescan answer must be a message';
  const r = m as Record<string, unknown>;
  const id = Number(r.id);
  if (!Number.isSafeInteger(id) || id < 1) return `rescan answer id ${clip(String(r.id))} is not a positive integer`;
  const error = typeof r.error === 'string' ? r.error : '';
  if (error) return { id, answer: { ok: false, why: `the node's rescan failed: ${clip(error)}` } };
  const side: Partial<RescanSideView> = {};
  for (const k of NUMBER_FIELDS) {
    const v = Number(r[k] ?? 0);
    if (!Number.isFinite(v) || v < 0 || (k !== 'ms' && !Number.isSafeInteger(v))) return `rescan answer field ${k} is not a valid count: ${clip(String(r[k]))}`;
    side[k] = k === 'ms' ? Math.round(v) : v;
  }
  return { id, answer: { ok: true, side: side as RescanSideView } };
}

interface Wait {
  session: object;
  nodeId: string;
  /** Settles the caller's wait (null once it timed out). */
  settle: ((a: SideAnswer) => void) | null;
  timer: NodeJS.Timeout;
}

export class RescanWaits {
  private next = 1;
  private readonly waits = new Map<number, Wait>();

  /** `late`: an answer that came after its caller stopped waiting. */
  constructor(private readonly late: (nodeId: string, answer: SideAnswer) => void) {}

  /**
   * Asks a session's node to rescan (`send` with the id) and resolves with its answer, or after
   * `waitMs` with why there is none yet (the answer then goes to `late` when it comes).
   */
  ask(session: object, nodeId: string, send: (id: number) => void, waitMs: number): Promise<SideAnswer> {
    const mine = [...this.waits].filter(([, w]) => w.session === session);
    if (mine.length >= MAX_WAITING) {
      // The oldest wait (long timed out, surely: the node never answers) is forgotten.
      const [oldId, old] = mine[0]!;
      clearTimeout(old.timer);
      this.waits.delete(oldId);
      old.settle?.({ ok: false, why: 'too many rescans of this node are waiting for its answer' });
    }
    const id = this.next++;
    return new Promise<SideAnswer>((resolve) => {
      const w: Wait = {
        session, nodeId, settle: resolve,
        timer: setTimeout(() => {
          w.settle = null;
          resolve({ ok: false, why: `the node has not finished its rescan after ${Math.round(waitMs / 1000)} s; its result is recorded as a node.rescanned event when it does` });
        }, waitMs),
      };
      w.timer.unref();
      this.waits.set(id, w);
      send(id);
    });
  }

  /** A session's node answered (RescanDone): null when accepted, else why it is refused. */
  answered(session: object, m: unknown): string | null {
    const parsed = rescanAnswer(m);
    if (typeof parsed === 'string') return parsed;
    const w = this.waits.get(parsed.id);
    if (!w || w.session !== session) return `rescan answer ${parsed.id} answers no rescan asked of this node`;
    clearTimeout(w.timer);
    this.waits.delete(parsed.id);
    if (w.settle) w.settle(parsed.answer);
    else this.late(w.nodeId, parsed.answer);
    return null;
  }

  /** The session ended: its rescans get no answer. */
  ended(session: object): void {
    for (const [id, w] of this.waits) {
      if (w.session !== session) continue;
      clearTimeout(w.timer);
      this.waits.delete(id);
      w.settle?.({ ok: false, why: 'the node disconnected before its rescan was over' });
    }
  }
}
