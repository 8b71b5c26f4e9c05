/**
 * The rsync baseline: a loopback rsync daemon with one writable module, and timed rsync client
 * runs with their statistics.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startProc } from '../../harness/procs.mjs';
import { waitFor } from '../../harness/wait.mjs';
import { round } from './report.mjs';

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}


export const RSYNC = process.env.BENCH_RSYNC_BIN || '/usr/bin/rsync';

/**
 * A loopback rsync daemon (`rsync --daemon --no-detach`) with one writable module `bench`
 * rooted at a fresh directory. `url(sub)` is the rsync:// destination for a sub-directory.
 */
export async function startRsyncDaemon(dir) {
  if (!fs.existsSync(RSYNC)) throw new Error(`rsync not found at ${RSYNC} (set BENCH_RSYNC_BIN)`);
  const moduleRoot = path.join(dir, 'rsync-dest');
  fs.mkdirSync(moduleRoot, { recursive: true });
  const conf = path.join(dir, 'rsyncd.conf');
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  fs.writeFileSync(conf, [
    `use chroot = no`,
    `munge symlinks = no`,
    `uid = ${uid}`,
    `gid = ${gid}`,
    `log file = ${path.join(dir, 'rsyncd.log')}`,
    `max connections = 0`,
    ``,
    `[bench]`,
    `  path = ${moduleRoot}`,
    `  read only = no`,
    `  list = yes`,
    ``,
  ].join('\n'));
  const port = await freePort();
  const p = startProc(RSYNC, ['--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, '--address=127.0.0.1']);
  await waitFor('the rsync daemon to listen', () => new Promise((resolve, reject) => {
    if (!p.running()) return reject(new Error(`rsync daemon exited: ${p.output()}`));
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  }), { timeoutMs: 15_000, everyMs: 20 });
  return {
    port,
    moduleRoot,
    url: (sub) => `rsync://127.0.0.1:${port}/bench/${sub}/`,
    stop: () => p.kill('SIGTERM'),
  };
}

/** Runs an rsync client (`rsync ARGS... SRC/ DEST`), timed; returns { ms, stats, code }. */
export async function runRsync(args, src, dest) {
  const t0 = process.hrtime.bigint();
  const p = startProc(RSYNC, [...args, '--stats', `${src.replace(/\/+$/, '')}/`, dest]);
  const code = await p.exited;
  const ms = round(Number(process.hrtime.bigint() - t0) / 1e6, 1);
  const out = p.output();
  if (code !== 0) throw new Error(`rsync ${args.join(' ')} exited with ${code}: ${out.slice(-2000)}`);
  const num = (re) => {
    const m = out.match(re);
    return m ? Number(m[1].replace(/,/g, '')) : null;
  };
  return {
    ms,
    command: `rsync ${args.join(' ')} --stats ${src}/ ${dest}`,
    stats: {
      filesTransferred: num(/Number of regular files transferred: ([\d,]+)/),
      totalBytesSent: num(/Total bytes sent: ([\d,]+)/),
      literalData: num(/Literal data: ([\d,]+)/),
      matchedData: num(/Matched data: ([\d,]+)/),
    },
  };
}
