/**
 * The tail of a stream of bytes, bounded: what an agent's stdout and stderr ended with. The
 * node keeps the last AGENT_OUTPUT_TAIL bytes of each (never more than twice that in memory,
 * however much is written) and counts all of them; the hub turns a tail into text without a
 * broken character at its cut.
 */

/** Bytes of each of an agent's stdout and stderr kept (the contract's OUTPUT_TAIL_BYTES). */
export const AGENT_OUTPUT_TAIL = 64 * 1024;

export class ByteTail {
  private chunks: Buffer[] = [];
  private held = 0;
  /** Every byte pushed, kept or not. */
  total = 0;

  constructor(private readonly limit = AGENT_OUTPUT_TAIL) {}

  push(b: Buffer): void {
    this.total += b.length;
    this.chunks.push(b);
    this.held += b.length;
    if (this.held >= 2 * this.limit) this.compact();
  }

  /** The last `limit` bytes (fewer when fewer were pushed). */
  bytes(): Buffer {
    this.compact();
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private compact(): void {
    const all = Buffer.concat(this.chunks);
    const kept = all.length > this.limit ? Buffer.from(all.subarray(all.length - this.limit)) : all;
    this.chunks = kept.length ? [kept] : [];
    this.held = kept.length;
  }
}

/**
 * A tail as text: at most `limit` bytes (the last ones), without the continuation bytes of a
 * character cut at its start (cut here, or by the node when the stream had more than its
 * tail: `total`), invalid UTF-8 as U+FFFD. From a node: any bytes at all.
 */
export function tailText(b: Uint8Array | null | undefined, total = 0, limit = AGENT_OUTPUT_TAIL): string {
  if (!b || b.length === 0) return '';
  let start = b.length > limit ? b.length - limit : 0;
  // A cut inside a character leaves up to 3 continuation bytes (10xxxxxx) at the start.
  if (start > 0 || total > b.length) for (let k = 0; k < 3 && start < b.length && (b[start]! & 0xc0) === 0x80; k++) start++;
  return new TextDecoder('utf-8', { fatal: false }).decode(b.subarray(start));
}
