/**
 * A thread of hashFloor() (floors.mjs): says it is ready, then hashes the files it is sent
 * (absolute paths): SHA-256 of every byte, read in 1 MiB pieces, one hash per file, nothing
 * else; answers { files, bytes } and ends.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';

const buf = Buffer.allocUnsafe(1024 * 1024);
parentPort.once('message', (files) => {
  let bytes = 0;
  for (const file of files) {
    const h = crypto.createHash('sha256');
    const fd = fs.openSync(file, 'r');
    try {
      let n;
      while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) {
        h.update(buf.subarray(0, n));
        bytes += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    h.digest();
  }
  parentPort.postMessage({ files: files.length, bytes });
  parentPort.close();
});
parentPort.postMessage('ready');
