/**
 * A slow hub never makes the node buffer unbounded data: against a hand-written hub that
 * welcomes the node and then never acknowledges anything, the real cortex-node sends at most
 * its index window of entries, then waits.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateIdentity } from '../../main/hub/tls';
import { encodeJoin } from '../../main/sync/join';
import { NodeSyncService, PROTOCOL_VERSION, type HubMessage, type NodeMessage } from '../../main/sync/wire';
import { Node, tempDir, waitFor } from '../helpers/procs';

const WINDOW = 200;
const FILES = 1500;

describe('flow control toward a slow hub', () => {
  let dir: string;
  let server: grpc.Server;
  let port: number;
  let fingerprint: string;
  const received: number[] = [];
  let dones = 0;
  let current: grpc.ServerDuplexStream<NodeMessage, HubMessage> | null = null;

  beforeAll(async () => {
    dir = tempDir('flow');
    const id = await loadOrCreateIdentity(path.join(dir, 'fake-hub'));
    fingerprint = id.fingerprint;
    server = new grpc.Server();
    server.addService(NodeSyncService.service, {
      session: (call: grpc.ServerDuplexStream<NodeMessage, HubMessage>) => {
        call.on('data', (m: NodeMessage) => {
          if (m.hello) {
            current = call;
            call.write({ welcome: { ackedSeq: 0, wantFull: true, hubVersion: 'slow-hub', protocol: PROTOCOL_VERSION } });
          }
          else if (m.index) for (const f of m.index.files) received.push(Number(f.seq));
          else if (m.done) dones++;
          // No Ack unless the test sends one, never a block request: the slowest possible hub.
        });
        call.on('error', () => undefined);
      },
    });
    port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{ cert_chain: id.cert, private_key: id.key }], false), (e, p) => (e ? reject(e) : resolve(p))));
  });

  afterAll(() => {
    server.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`sends at most ${WINDOW} unacknowledged entries of ${FILES}, waits, and goes on as acks come`, async () => {
    const ws = path.join(dir, 'ws');
    fs.mkdirSync(ws);
    for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(ws, `f${i}.txt`), `file ${i}\n`);
    const join = encodeJoin({ hub: `127.0.0.1:${port}`, node: 'slow', token: 'any', fp: fingerprint });
    const node = Node.start(join, ws, path.join(dir, 'state'), [], { CORTEX_INDEX_WINDOW: String(WINDOW) });
    try {
      await waitFor('the node to fill its window', () => received.length >= WINDOW, 30_000);
      await waitFor('the node to have scanned everything', () => node.logLines().some((l) => l.msg === 'scan.done'), 30_000);
      // Proving that nothing more comes needs a bounded wait; the hub reads all it is sent.
      await new Promise((r) => setTimeout(r, 1000));
      expect(received.length).toBe(WINDOW);
      expect(received).toEqual(Array.from({ length: WINDOW }, (_, i) => i + 1));
      expect(dones).toBe(0);
      // Each acknowledgement opens the window by exactly what it acknowledges: no less (the
      // wait), no more (the bounded wait after it, as above).
      const opens = async (ack: number, total: number) => {
        current!.write({ ack: { seq: ack } });
        await waitFor(`entries through ${total} after the ack of ${ack}`, () => received.length >= total, 30_000);
        await new Promise((r) => setTimeout(r, 1000));
        expect(received, `what the ack of ${ack} opened`).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      };
      await opens(WINDOW, 2 * WINDOW);
      await opens(WINDOW + 50, 2 * WINDOW + 50);
      expect(dones).toBe(0);
      current!.write({ ack: { seq: FILES + 10 } });
      await waitFor('the rest of the index and IndexDone', () => received.length >= FILES && dones > 0, 30_000);
      expect(new Set(received).size).toBe(received.length);
      expect(node.p.proc.exitCode).toBeNull();
    } finally {
      await node.kill();
    }
  });
});
