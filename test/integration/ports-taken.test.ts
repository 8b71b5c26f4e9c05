/**
 * A listener's port already taken: `cortex-hub serve` says which port and which flag chooses
 * another, in one line, and exits 1 (gRPC's own "No address added…" is not the message, and is
 * not printed beside it); the error carries EADDRINUSE and the port, which the desktop app's
 * fallback to a free port goes by (desktop/listeners.ts). A hub that listens says where in its
 * status.
 */
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubService } from '../../main/hub/hub-service';
import { Hub, runCli, tempDir } from '../helpers/procs';

describe('a port already taken', () => {
  const dir = tempDir('ports-taken');
  const blocker = net.createServer();
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    port = (blocker.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it.each([
    ['node (gRPC)', ['--grpc', 'PORT', '--ui', '127.0.0.1:0'], /^cortex-hub: the node port 127\.0\.0\.1:\d+ is in use \(another hub\?\); choose another with --grpc HOST:PORT$/],
    ['UI', ['--grpc', '127.0.0.1:0', '--ui', 'PORT'], /^cortex-hub: the UI port 127\.0\.0\.1:\d+ is in use \(another hub\?\); choose another with --ui HOST:PORT$/],
  ])('%s: serve says so in one line and exits 1', async (_, flags, message) => {
    const args = flags.map((f) => (f === 'PORT' ? `127.0.0.1:${port}` : f));
    const r = await runCli('cortex-hub', ['serve', '--data', path.join(dir, `hub-${flags[1]}`), ...args]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(message)]);
  });

  it('a hub that listens says where in its status: both addresses (webhook URLs in the desktop app come from it)', async () => {
    const hub = await Hub.start(path.join(dir, 'listening'));
    try {
      const s = await hub.status();
      expect(s.ui).toBe(hub.info.ui);
      expect(s.grpc).toBe(hub.info.grpc);
    } finally {
      await hub.stop();
    }
  });

  it('the hub\'s listen rejects with code EADDRINUSE and the port', async () => {
    const hub = await HubService.open({ dataDir: path.join(dir, 'direct'), mode: 'serve', consoleLevel: false });
    try {
      await expect(hub.listen(`127.0.0.1:${port}`)).rejects.toMatchObject({ code: 'EADDRINUSE', port });
    } finally {
      await hub.close();
    }
  });
});
