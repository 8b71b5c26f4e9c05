#!/usr/bin/env node
/**
 * The "hub test harness" of ui-load.mjs: many real node clients (dist/main/node/client.js, the
 * code cortex-node runs) in one process, each with a tiny workspace, each changing one of its
 * files' mode at RATE Hz (random phase) so the hub sees a steady stream of real index entries
 * and its status changes for every node. One process instead of one per node keeps 100 nodes
 * affordable on a small machine.
 *
 *   node bench/sim-nodes.mjs SPEC.json     SPEC: { product, rateHz, nodes: [{ join, workspace, state }] }
 *
 * Prints "ready" on stdout once every node is connected (their first index sent), then runs
 * until SIGTERM.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const require = createRequire(path.join(spec.product, 'package.json'));
const { NodeClient } = require('./dist/main/node/client.js');
const { decodeJoin } = require('./dist/main/sync/join.js');
const { createLogger } = require('./dist/main/util/log.js');
const { FsPool } = require('./dist/main/sync/fs-pool.js');

// One hashing pool for all the clients (one each would be 1,000 worker threads at 1,000 nodes).
const pool = new FsPool(2);

const clients = [];
const timers = [];
for (const n of spec.nodes) {
  fs.mkdirSync(n.workspace, { recursive: true });
  fs.mkdirSync(n.state, { recursive: true });
  for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(n.workspace, `f${i}.txt`), `node file ${i}\n`.repeat(20));
  const j = decodeJoin(n.join);
  const log = createLogger('node', { file: path.join(n.state, 'node.log'), fileLevel: 'warn', consoleLevel: false });
  const c = new NodeClient({ hub: j.hub, nodeId: j.node, token: j.token, fingerprint: j.fp, workspace: n.workspace, stateDir: n.state, log, pool });
  clients.push(c);
  c.run().catch((e) => process.stderr.write(`node ${j.node}: ${e.message}\n`));
}

const periodMs = 1000 / spec.rateHz;
let changes = 0;
for (const n of spec.nodes) {
  const file = path.join(n.workspace, 'f0.txt');
  let on = false;
  const start = setTimeout(() => {
    timers.push(setInterval(() => {
      on = !on;
      fs.chmodSync(file, on ? 0o640 : 0o644);
      changes++;
    }, periodMs));
  }, Math.random() * periodMs);
  timers.push(start);
}
process.stdout.write('ready\n');

process.on('SIGTERM', async () => {
  for (const t of timers) clearInterval(t);
  process.stderr.write(`sim-nodes: ${changes} changes made\n`);
  await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
  await pool.close();
  process.exit(0);
});
