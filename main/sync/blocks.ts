/**
 * Block hashing arithmetic shared by the hasher, the puller and validation.
 *
 * A file is cut into fixed blocks of BLOCK_SIZE bytes (the last one shorter). Each block has a
 * SHA-256; the file hash is the SHA-256 of the concatenated block hashes. So bytes are hashed
 * exactly once: a receiver verifies each block as it arrives, and the file as a whole by
 * hashing the (small) block list at commit.
 */
import crypto from 'node:crypto';

export const BLOCK_SIZE = 128 * 1024;
export const HASH_LEN = 32;

export function sha256(data: Uint8Array): Buffer {
  return crypto.createHash('sha256').update(data).digest();
}

export function blockCount(size: number, blockSize: number): number {
  return size === 0 ? 0 : Math.ceil(size / blockSize);
}

export function blockHash(blocks: Buffer, i: number): Buffer {
  return blocks.subarray(i * HASH_LEN, (i + 1) * HASH_LEN);
}

/** Where each block hash occurs in a block list: hex hash → block indices, in order. */
export function blockIndex(blocks: Buffer): Map<string, number[]> {
  const at = new Map<string, number[]>();
  for (let i = 0; i * HASH_LEN < blocks.length; i++) {
    const key = blockHash(blocks, i).toString('hex');
    const list = at.get(key);
    if (list) list.push(i);
    else at.set(key, [i]);
  }
  return at;
}

export function blockLength(size: number, blockSize: number, i: number): number {
  return Math.min(blockSize, size - i * blockSize);
}

export function fileHashFromBlocks(blocks: Buffer): Buffer {
  return sha256(blocks);
}

export function symlinkHash(target: string): Buffer {
  return sha256(Buffer.from(target, 'utf8'));
}

/**
 * Weak hashes, for finding a sender's blocks at any offset of an older local version (shifted
 * content: an insertion or deletion moves every block after it). Each block of a file larger
 * than WEAK_MIN_SIZE also has a 4-byte rsync-style rolling checksum of its first WEAK_WINDOW
 * bytes (the whole block when shorter). The receiver rolls the same checksum over its old
 * version at every offset, and each offset whose checksum is a wanted block's is confirmed by
 * the SHA-256 of the whole block there: a weak match is only ever a candidate.
 *
 * Only the block's first WEAK_WINDOW bytes: the checksum costs ~2.3 ns per byte in JS, so the
 * whole block would add ~2.4 s to hashing each GiB on the sender; 4 KiB of 128 KiB adds
 * ~75 ms per GiB. The receiver's rolling costs the same per byte whatever the window.
 */
export const WEAK_LEN = 4;
export const WEAK_WINDOW = 4096;
/** Files up to this size have no weak hashes and are never searched (they are built in memory). */
export const WEAK_MIN_SIZE = 1024 * 1024;

/** The rolling checksum of data[start, start + len): (b << 16) | a, each mod 2^16. */
export function weakHash(data: Uint8Array, start: number, len: number): number {
  let a = 0;
  let b = 0;
  for (let i = start, end = start + len; i < end; i++) {
    a += data[i]!;
    b += a;
  }
  return (((b & 0xffff) << 16) | (a & 0xffff)) >>> 0;
}

/**
 * The checksum of a window of `len` bytes moved one byte on: `out` left it, `inb` entered it.
 * rollWeak(weakHash(d, p, n), d[p], d[p + n], n) === weakHash(d, p + 1, n).
 */
export function rollWeak(weak: number, out: number, inb: number, len: number): number {
  const a = ((weak & 0xffff) - out + inb) & 0xffff;
  const b = ((weak >>> 16) - len * out + a) & 0xffff;
  return ((b << 16) | a) >>> 0;
}

/** The weak hash of a block whose bytes are data[start, start + len). */
export function blockWeak(data: Uint8Array, start: number, len: number): number {
  return weakHash(data, start, Math.min(WEAK_WINDOW, len));
}

/** Whether a file of this size carries weak hashes. */
export function hasWeak(size: number): boolean {
  return size > WEAK_MIN_SIZE;
}

/** What the receiver wants: the sender's version of a file. */
export interface WantedFile {
  size: number;
  blockSize: number;
  /** Concatenated SHA-256 per block. */
  blocks: Buffer;
  /** Concatenated 4-byte big-endian weak hash per block. */
  weak: Buffer;
}

/** An old local version to search: its size, and a reader (may return fewer bytes at its end). */
export interface OldVersion {
  size: number;
  read(pos: number, len: number): Buffer;
}

/**
 * The ranges of the old version worth rolling over, as [first, end) of window start offsets.
 * With the old version's block list (`oldBlocks`, its SHA-256 per aligned block; empty when
 * unknown) the aligned old blocks that the new version has anyway (found by hash, no search
 * needed) are left out, with a block's margin so a block straddling their edge is still seen:
 * a 1 MiB edit in a 1 GiB file rolls over ~1.3 MiB, not the whole file.
 */
export function searchRanges(oldSize: number, blockSize: number, oldBlocks: Buffer, wanted: Buffer): [number, number][] {
  const n = blockCount(oldSize, blockSize);
  if (oldBlocks.length !== n * HASH_LEN) return oldSize > 0 ? [[0, oldSize]] : [];
  const have = new Set<string>();
  for (let i = 0; i * HASH_LEN < wanted.length; i++) have.add(blockHash(wanted, i).toString('hex'));
  const out: [number, number][] = [];
  for (let j = 0; j < n;) {
    if (have.has(blockHash(oldBlocks, j).toString('hex'))) { j++; continue; }
    let k = j;
    while (k < n && !have.has(blockHash(oldBlocks, k).toString('hex'))) k++;
    const first = Math.max(0, j * blockSize - blockSize + 1);
    const end = Math.min(oldSize, k * blockSize);
    const last = out[out.length - 1];
    if (last && last[1] >= first) last[1] = Math.max(last[1], end);
    else out.push([first, end]);
    j = k;
  }
  return out;
}

/**
 * The search gives up after rolling over this many bytes without a match (~0.2 s): an old
 * version with nothing in common (a file rewritten whole) costs no more, and a shifted block
 * beyond that much replaced content is fetched instead.
 */
export const SEARCH_UNMATCHED_MAX = 64 * 1024 * 1024;

/** Bytes read from the old version at a time (plus one block of overlap). */
const SEARCH_CHUNK = 8 * 1024 * 1024;

/**
 * Finds blocks of `want` (those `need(i)` says are missing) at any offset of `old`, within
 * `ranges` (searchRanges). Returns block index → offset in the old version; every offset is
 * confirmed by the SHA-256 of the block's bytes there. Bounded: after a match the search jumps
 * a block ahead (as rsync does), it stops once every needed block is found, after
 * 2 × blocks + 64 SHA-256 checks (low-entropy data can make the weak hash match almost
 * everywhere), and after SEARCH_UNMATCHED_MAX bytes rolled over without a match: what it
 * found so far is returned, the rest is fetched.
 */
export function findShifted(old: OldVersion, want: WantedFile, need: (i: number) => boolean, ranges: [number, number][]): Map<number, number> {
  const found = new Map<number, number>();
  const n = blockCount(want.size, want.blockSize);
  if (want.weak.length !== n * WEAK_LEN || old.size === 0) return found;
  const table = new Map<number, number[]>();
  let missing = 0;
  const lastLen = n > 0 ? blockLength(want.size, want.blockSize, n - 1) : 0;
  for (let i = 0; i < n; i++) {
    if (!need(i)) continue;
    missing++;
    // A last block shorter than the window is looked for at the old version's end only.
    if (i === n - 1 && lastLen < WEAK_WINDOW) continue;
    const w = want.weak.readUInt32BE(i * WEAK_LEN);
    const list = table.get(w);
    if (list) list.push(i);
    else table.set(w, [i]);
  }
  if (missing === 0) return found;
  let checksLeft = 2 * n + 64;
  // Checks the block candidates at `p` of the old version (bytes `buf` from `base`).
  const check = (candidates: number[], buf: Buffer, base: number, p: number): number => {
    let matched = 0;
    const digests = new Map<number, Buffer>();
    for (const i of candidates) {
      if (found.has(i)) continue;
      const len = blockLength(want.size, want.blockSize, i);
      if (p + len > old.size || p - base + len > buf.length) continue;
      let d = digests.get(len);
      if (!d) {
        if (checksLeft-- <= 0) return -1;
        d = sha256(buf.subarray(p - base, p - base + len));
        digests.set(len, d);
      }
      if (d.equals(blockHash(want.blocks, i))) {
        found.set(i, p);
        missing--;
        matched = Math.max(matched, len);
      }
    }
    return matched;
  };
  if (n > 0 && need(n - 1) && lastLen > 0 && old.size >= lastLen) {
    const tail = old.read(old.size - lastLen, lastLen);
    if (tail.length === lastLen && sha256(tail).equals(blockHash(want.blocks, n - 1))) {
      found.set(n - 1, old.size - lastLen);
      missing--;
    }
  }
  const keep = Math.max(want.blockSize, WEAK_WINDOW + 1);
  let sinceMatch = 0;
  for (const [first, end0] of ranges) {
    const end = Math.min(end0, old.size - WEAK_WINDOW + 1);
    let p = first;
    let buf: Buffer = Buffer.alloc(0);
    let base = 0;
    let weak = -1;
    while (p < end && missing > 0) {
      // Keep one whole block after p in the buffer (or the old version's end).
      if (p + keep > base + buf.length && base + buf.length < old.size) {
        base = p;
        buf = old.read(p, Math.min(SEARCH_CHUNK + want.blockSize, old.size - p));
        if (buf.length < WEAK_WINDOW) break;
        weak = -1;
      }
      if (p - base + WEAK_WINDOW > buf.length) break;
      if (weak < 0) weak = weakHash(buf, p - base, WEAK_WINDOW);
      const candidates = table.get(weak);
      if (candidates) {
        const matched = check(candidates, buf, base, p);
        if (matched < 0) return found;
        if (matched > 0) {
          sinceMatch = 0;
          p += matched;
          weak = -1;
          continue;
        }
      }
      if (p + 1 >= end) break;
      weak = rollWeak(weak, buf[p - base]!, buf[p - base + WEAK_WINDOW]!, WEAK_WINDOW);
      p++;
      if (++sinceMatch > SEARCH_UNMATCHED_MAX) return found;
    }
  }
  return found;
}
