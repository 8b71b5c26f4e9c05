/** The hub's self-signed TLS identity, made at first start and kept in DIR/tls. */
import fs from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { generate as Generate } from 'selfsigned';

export interface HubIdentity {
  cert: Buffer;
  key: Buffer;
  /** SHA-256 fingerprint as Node prints it (AA:BB:...): what join strings pin. */
  fingerprint: string;
}

export async function loadOrCreateIdentity(dataDir: string): Promise<HubIdentity> {
  const dir = path.join(dataDir, 'tls');
  const certFile = path.join(dir, 'hub-cert.pem');
  const keyFile = path.join(dir, 'hub-key.pem');
  if (!fs.existsSync(certFile) || !fs.existsSync(keyFile)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const now = new Date();
    // Loaded only here, for a new identity: loading it took ~90 ms of every hub's start-up.
    const { generate } = await import('selfsigned');
    const pems = await generate([{ name: 'commonName', value: 'cortex-hub' }], {
      keyType: 'ec', curve: 'P-256', algorithm: 'sha256',
      notBeforeDate: new Date(now.getTime() - 24 * 3600_000),
      notAfterDate: new Date(now.getTime() + 20 * 365 * 24 * 3600_000),
    } as Parameters<typeof Generate>[1]);
    // Write key then cert, each exclusively with mode 0600, so a crash leaves no half identity in use.
    fs.writeFileSync(`${keyFile}.new`, pems.private, { mode: 0o600 });
    fs.writeFileSync(`${certFile}.new`, pems.cert, { mode: 0o600 });
    fs.renameSync(`${keyFile}.new`, keyFile);
    fs.renameSync(`${certFile}.new`, certFile);
  }
  const cert = fs.readFileSync(certFile);
  const key = fs.readFileSync(keyFile);
  return { cert, key, fingerprint: new X509Certificate(cert).fingerprint256 };
}
