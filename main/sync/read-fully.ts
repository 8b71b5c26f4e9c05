import fs from 'node:fs';

/**
 * Reads `len` bytes at file position `pos` into the start of `buf`, as many calls as it takes
 * (a read may return less than asked). Returns how many were read: fewer than `len` only at
 * the end of the file.
 */
export function readFullySync(fd: number, buf: Buffer, len: number, pos: number): number {
  let got = 0;
  while (got < len) {
    const n = fs.readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}
