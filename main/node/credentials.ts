/**
 * The node's credentials (hub address, node id, token, certificate pin), kept in its state
 * dir after the first successful join so that later runs need no token on the command line,
 * where any local user could read it (ps, /proc/PID/cmdline).
 *
 * The file is written whole and atomically: a fresh file created exclusively with mode 0600,
 * fsync'd, renamed over the old one, then the directory fsync'd. It is never readable by
 * anyone else, not even for an instant.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { JoinInfo } from '../sync/join';

export const CREDENTIALS_FILE = 'credentials.json';

export interface StoredCredentials extends JoinInfo {
  /** The hub refused these credentials (token revoked, node retired): a new join string replaces them. */
  revoked: boolean;
  savedAt: number;
}

export function credentialsFile(stateDir: string): string {
  return path.join(stateDir, CREDENTIALS_FILE);
}

export class CredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialsError';
  }
}

/** The stored credentials, or null when there are none. Throws CredentialsError when the file is unusable. */
export function loadCredentials(stateDir: string): StoredCredentials | null {
  const file = credentialsFile(stateDir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CredentialsError(`cannot read ${file}: ${(e as Error).message}`);
  }
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CredentialsError(`${file} is not valid JSON; remove it and join again with a join string`);
  }
  for (const k of ['hub', 'node', 'token', 'fp'] as const) {
    if (typeof o?.[k] !== 'string' || (o[k] as string).length === 0) throw new CredentialsError(`${file} lacks "${k}"; remove it and join again with a join string`);
  }
  return {
    hub: o.hub as string, node: o.node as string, token: o.token as string, fp: o.fp as string,
    revoked: o.revoked === true, savedAt: typeof o.savedAt === 'number' ? o.savedAt : 0,
  };
}

/** Group or other users may read the file (someone loosened it): returns the mode, else null. */
export function looseMode(file: string): number | null {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st && (st.mode & 0o077) !== 0 ? st.mode & 0o777 : null;
}

/** Writes the credentials atomically with mode 0600 (see the file comment). */
export function saveCredentials(stateDir: string, c: JoinInfo, revoked = false): void {
  const file = credentialsFile(stateDir);
  const tmp = path.join(stateDir, `.${CREDENTIALS_FILE}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  const body = `${JSON.stringify({ hub: c.hub, node: c.node, token: c.token, fp: c.fp, revoked, savedAt: Date.now() }, null, 2)}\n`;
  const fd = fs.openSync(tmp, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY | (fs.constants.O_NOFOLLOW ?? 0), 0o600);
  let renamed = false;
  try {
    try {
      // The mode given to open is filtered by the umask; 0600 is meant exactly.
      fs.fchmodSync(fd, 0o600);
      fs.writeFileSync(fd, body);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    renamed = true;
    try {
      const dfd = fs.openSync(stateDir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
    } catch { /* a directory fsync is not supported everywhere */ }
  } finally {
    if (!renamed) fs.rmSync(tmp, { force: true });
  }
}

/** Marks the stored credentials as refused by the hub (kept for reference; a new join string replaces them). */
export function markRevoked(stateDir: string, c: StoredCredentials): void {
  saveCredentials(stateDir, c, true);
}

/**
 * Pure: why a join string must not replace the stored credentials, or null when it may. A
 * state dir serves one node of one hub (its index is that node's); replacing the token or the
 * hub's address of the same node is fine, and so is anything once the hub refused the stored ones.
 */
export function replacementProblem(stored: StoredCredentials | null, given: JoinInfo, file: string): string | null {
  if (!stored || stored.revoked) return null;
  if (stored.node === given.node && stored.fp === given.fp) return null;
  const what = stored.node !== given.node ? `node ${given.node}` : `node ${given.node} of another hub (certificate ${given.fp.slice(0, 11)}…)`;
  return `this join string is for ${what}, but ${file} holds the credentials of node ${stored.node} at ${stored.hub}, and one state dir serves one node. `
    + `To run another node on this workspace, give it its own --state DIR; to move this workspace to ${what}, remove ${file} first.`;
}

/** Pure: the same credentials (nothing to save). */
export function sameCredentials(a: JoinInfo | null, b: JoinInfo): boolean {
  return a !== null && a.hub === b.hub && a.node === b.node && a.token === b.token && a.fp === b.fp;
}
