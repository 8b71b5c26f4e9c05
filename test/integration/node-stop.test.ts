/**
 * A node stopped (SIGTERM) while it reconnects must exit, and start no session after its stop.
 *
 * The window: each connection attempt first fetches the hub's certificate over TLS (pinned-tls.ts)
 * and only then opens the gRPC stream. A stop that came during that fetch used to find no
 * stream to cancel; the stream opened afterwards, on a closed store ("The database connection
 * is not open" on every hub batch), and the process never exited (seen in two-way.test.ts as a
 * restart that hung for minutes). A TCP proxy between node and hub holds the certificate fetch
 * open here, so the stop lands in that window every time.
 */
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hub, Node, tempDir, waitFor } from '../helpers/procs';

/** Forwards to `target`; while `hold` is set, new connections wait (their bytes kept) until released. */
class HoldingProxy {
  private readonly server = net.createServer((c) => this.accept(c));
  private readonly sockets = new Set<net.Socket>();
  private held: (() => void)[] = [];
  hold = false;
  port = 0;

  constructor(private readonly target: number) {}

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  get waiting(): number {
    return this.held.length;
  }

  private accept(c: net.Socket): void {
    this.sockets.add(c);
    c.on('close', () => this.sockets.delete(c));
    c.on('error', () => undefined);
    c.pause();
    const connect = () => {
      const up = net.connect(this.target, '127.0.0.1');
      this.sockets.add(up);
      up.on('close', () => { this.sockets.delete(up); c.destroy(); });
      up.on('error', () => c.destroy());
      c.on('close', () => up.destroy());
      c.pipe(up).pipe(c);
      c.resume();
    };
    if (this.hold) this.held.push(connect);
    else connect();
  }

  /** Ends every connection (the node's session drops). */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  release(): void {
    this.hold = false;
    for (const go of this.held.splice(0)) go();
  }

  close(): Promise<void> {
    this.dropAll();
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('a node stopped while it reconnects', () => {
  let dir: string;
  let hub: Hub;
  let proxy: HoldingProxy;

  beforeAll(async () => {
    dir = tempDir('node-stop');
    hub = await Hub.start(path.join(dir, 'hub'));
    proxy = new HoldingProxy(Number(hub.info.grpc.split(':').pop()));
    await proxy.listen();
  });

  afterAll(async () => {
    await proxy?.close();
    await hub?.stop();
  });

  it('exits, and opens no session after its stop', async () => {
    const { id, join } = await hub.addNode('stopped-while-reconnecting');
    const ws = tempDir('node-stop-ws');
    const node = Node.start(join, ws, path.join(dir, 'state'), ['--hub', `127.0.0.1:${proxy.port}`]);
    await hub.waitState(id, 'in-sync', 60_000);

    // The session drops; the node's next attempt (its certificate fetch) is held by the proxy.
    proxy.hold = true;
    proxy.dropAll();
    await waitFor('the node\'s next attempt, held', () => proxy.waiting > 0 || undefined, 30_000);
    const stopped = node.stop();
    // The stop is under way (agents, scans, store closing); then the hub answers.
    await waitFor('the node to log its stop', () => node.logLines().some((l) => l.msg === 'node.stopping') || undefined, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    proxy.release();

    const code = await Promise.race([stopped, new Promise((r) => setTimeout(() => r('still running 15 s after SIGTERM'), 15_000))]);
    if (code === 'still running 15 s after SIGTERM') await node.kill();
    expect(code).toBe(0);
    const lines = node.logLines();
    const stopAt = lines.findIndex((l) => l.msg === 'node.stopping');
    expect(lines.slice(stopAt).filter((l) => l.msg === 'hub.connected')).toEqual([]);
    expect(lines.filter((l) => /database connection is not open/.test(String(l.error ?? '')))).toEqual([]);
  }, 120_000);
});
