/**
 * Peers of another protocol version are refused with a clear message, both ways: a real hub
 * refuses a node that speaks protocol 2 (the version before weak hashes), and a real cortex-node
 * refuses a hand-written hub whose Welcome says no protocol (what a hub before 3 sends) and
 * exits with code 5, saying which side to upgrade.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateIdentity } from '../../main/hub/tls';
import { NodeSyncService, PROTOCOL_VERSION, type HubMessage, type NodeMessage } from '../../main/sync/wire';
import { decodeJoin, encodeJoin } from '../../main/sync/join';
import { HostileSession } from '../helpers/hostile-client';
import { Hub, Node, tempDir, waitFor } from '../helpers/procs';

describe('protocol versions', () => {
  const dir = tempDir('protocol');
  afterAll(() => {
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the hub refuses a node of protocol 2: FAILED_PRECONDITION, "upgrade cortex-node", logged', async () => {
    expect(PROTOCOL_VERSION).toBe(3);
    const hub = await Hub.start(path.join(dir, 'hub'));
    try {
      const { id, join } = await hub.addNode('old-node');
      const s = await HostileSession.open({ hub: hub.info.grpc, fingerprint: hub.info.fingerprint, token: decodeJoin(join).token });
      s.send({ hello: { nodeId: id, indexId: 'old', protocol: 2, version: 'cortex-node 0.0.old' } });
      const st = await s.ended(15_000);
      expect({ code: grpc.status[st.code], details: st.details }).toEqual({ code: 'FAILED_PRECONDITION', details: 'protocol 2 not supported (hub speaks 3); upgrade cortex-node' });
      expect(s.received.filter((m) => m.welcome)).toEqual([]);
      await waitFor('node.refused in the hub log', () => hub.logLines().find((l) => l.msg === 'node.refused' && l.reason === 'protocol 2 not supported (hub speaks 3); upgrade cortex-node'), 15_000);
      s.close();
    } finally {
      await hub.kill();
    }
  });

  it('a node refuses a hub whose Welcome carries no protocol (before 3): exit 5, "upgrade cortex-hub"', async () => {
    const identity = await loadOrCreateIdentity(path.join(dir, 'old-hub'));
    const server = new grpc.Server();
    let afterWelcome = 0;
    server.addService(NodeSyncService.service, {
      session: (call: grpc.ServerDuplexStream<NodeMessage, HubMessage>) => {
        let welcomed = false;
        call.on('data', (m: NodeMessage) => {
          if (m.hello && !welcomed) {
            welcomed = true;
            // What a protocol-2 hub sends: no protocol field.
            call.write({ welcome: { ackedSeq: 0, wantFull: true, hubVersion: 'old-hub' } as HubMessage['welcome'] });
          } else if (welcomed) afterWelcome++;
        });
        call.on('error', () => undefined);
      },
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{ cert_chain: identity.cert, private_key: identity.key }], false), (e, p) => (e ? reject(e) : resolve(p))));
    try {
      const ws = path.join(dir, 'ws');
      fs.mkdirSync(ws);
      fs.writeFileSync(path.join(ws, 'a.txt'), 'a\n');
      const join = encodeJoin({ hub: `127.0.0.1:${port}`, node: 'n', token: 'any', fp: identity.fingerprint });
      const node = Node.start(join, ws, path.join(dir, 'state'));
      const code = await Promise.race([node.p.exited, new Promise((r) => setTimeout(() => r('still running after 30 s'), 30_000))]);
      expect(code).toBe(5);
      expect(node.p.output()).toContain('the hub speaks protocol older than 3, this node speaks 3: upgrade cortex-hub');
      // Nothing of the index went to a hub that could misread it.
      expect(afterWelcome).toBe(0);
    } finally {
      server.forceShutdown();
    }
  });
});
