/**
 * Trusting the hub by its pinned certificate: the join string carries the fingerprint of the
 * hub's self-signed certificate; the node fetches the certificate, refuses one that does not
 * match (FatalNodeError, exit 4), and gives gRPC credentials that check it again on connect.
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { FatalNodeError } from './config';

function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hostPort.slice(i + 1)) };
}

/** Fetches the hub's certificate and checks it against the pinned fingerprint. */
export async function fetchPinnedCert(hostPort: string, fingerprint: string, timeoutMs = 10_000): Promise<string> {
  const { host, port } = splitHostPort(hostPort);
  const cert = await new Promise<X509Certificate>((resolve, reject) => {
    const sock = tls.connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'], servername: 'cortex-hub' }, () => {
      const raw = sock.getPeerCertificate(true)?.raw;
      sock.destroy();
      if (!raw) reject(new Error('the hub presented no certificate'));
      else resolve(new X509Certificate(raw));
    });
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`no TLS answer from ${hostPort} within ${timeoutMs} ms`)));
    sock.on('error', reject);
  });
  if (cert.fingerprint256 !== fingerprint) {
    throw new FatalNodeError(`the hub at ${hostPort} presented certificate ${cert.fingerprint256}, but the join string pins ${fingerprint}; refusing to connect (a different hub, or someone in between)`, 4);
  }
  return cert.toString();
}

/** gRPC credentials for the hub at `hostPort`, trusting only the certificate with this fingerprint. */
export async function pinnedCredentials(hostPort: string, fingerprint: string): Promise<grpc.ChannelCredentials> {
  const pem = await fetchPinnedCert(hostPort, fingerprint);
  return grpc.credentials.createSsl(Buffer.from(pem), null, null, {
    checkServerIdentity: (_host, cert) => (cert.fingerprint256 === fingerprint ? undefined : new Error(`hub certificate ${cert.fingerprint256} does not match the pinned ${fingerprint}`)),
  });
}
