/**
 * The hub's data directory: where things live, the single-hub lock, and hub.json (how admin
 * commands find a running hub).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tighten } from '../util/private-files';

export interface Layout {
  root: string;
  db: string;
  hubJson: string;
  lock: string;
  mirrors: string;
  /** Purged mirrors, restorable until emptied (trash-service.ts); on the mirrors' file system. */
  trash: string;
  staging: string;
  logs: string;
  adminToken: string;
  /** The node ids whose mirrors the last start served (a hint for the next start: early-watch.ts). */
  activeMirrors: string;
}

/** --data, else CORTEX_HUB_DATA, else the OS app-data folder (the desktop app uses the same). */
export function resolveDataDir(flag?: string): string {
  if (flag) return path.resolve(flag);
  if (process.env.CORTEX_HUB_DATA) return path.resolve(process.env.CORTEX_HUB_DATA);
  const home = os.homedir();
  switch (process.platform) {
    case 'darwin': return path.join(home, 'Library', 'Application Support', 'Cortex Hub');
    case 'win32': return path.join(process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Cortex Hub');
    default: return path.join(process.env.XDG_DATA_HOME ?? path.join(home, '.local', 'share'), 'cortex-hub');
  }
}

export function layout(root: string): Layout {
  return {
    root,
    db: path.join(root, 'hub.db'),
    hubJson: path.join(root, 'hub.json'),
    lock: path.join(root, 'hub.lock'),
    mirrors: path.join(root, 'mirrors'),
    trash: path.join(root, 'trash'),
    staging: path.join(root, 'staging'),
    logs: path.join(root, 'logs'),
    adminToken: path.join(root, 'admin-token'),
    activeMirrors: path.join(root, 'active-mirrors'),
  };
}

export class DataDirBusyError extends Error {
  constructor(readonly dir: string, readonly pid: number) {
    super(`data directory ${dir} is in use by another hub (pid ${pid})`);
    this.name = 'DataDirBusyError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the data directory's lock (a file holding our pid, created exclusively). A lock left
 * by a dead process is taken over. Returns the release function.
 */
export function acquireLock(l: Layout): () => void {
  fs.mkdirSync(l.root, { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = fs.openSync(l.lock, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => {
        try {
          if (fs.readFileSync(l.lock, 'utf8') === String(process.pid)) fs.unlinkSync(l.lock);
        } catch { /* already gone */ }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const pid = Number(fs.readFileSync(l.lock, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw new DataDirBusyError(l.root, pid);
    // Stale (its process is gone, or the file is torn): remove and retry.
    fs.rmSync(l.lock, { force: true });
  }
  throw new Error(`could not take the lock ${l.lock}`);
}

export interface HubJson {
  pid: number;
  grpc: string;
  ui: string;
  adminToken: string;
  fingerprint: string;
  version: string;
}

export function writeHubJson(l: Layout, info: HubJson): void {
  const tmp = `${l.hubJson}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, l.hubJson);
}

/**
 * Notes the ids of the nodes whose mirrors this start serves (one per line, 0600), read by the
 * next start before anything else loads (early-watch.ts). Only a hint, written best-effort: a
 * stale or missing list costs the next start that early start, never correctness. (Not read from
 * the database: a read-only SQLite connection creates its -wal and -shm files, on a disk that may
 * be full of staging leftovers not cleared yet.)
 */
export function writeActiveMirrors(l: Layout, ids: string[]): void {
  const tmp = `${l.activeMirrors}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, ids.map((id) => `${id}\n`).join(''), { mode: 0o600 });
    fs.renameSync(tmp, l.activeMirrors);
  } catch {
    try { fs.rmSync(tmp, { force: true }); } catch { /* best-effort */ }
  }
}

/** The ids writeActiveMirrors noted (only names a node id can have), or [] when there are none. */
export function readActiveMirrors(l: Layout): string[] {
  let text: string;
  try {
    text = fs.readFileSync(l.activeMirrors, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((id) => /^[0-9a-f]{16}$/.test(id));
}

/** The running hub's hub.json, or null when no live hub owns this directory. */
export function readHubJson(l: Layout): HubJson | null {
  let info: HubJson;
  try {
    info = JSON.parse(fs.readFileSync(l.hubJson, 'utf8')) as HubJson;
  } catch {
    return null;
  }
  return Number.isInteger(info.pid) && alive(info.pid) ? info : null;
}

export function removeHubJson(l: Layout): void {
  try {
    const info = JSON.parse(fs.readFileSync(l.hubJson, 'utf8')) as HubJson;
    if (info.pid === process.pid) fs.unlinkSync(l.hubJson);
  } catch { /* nothing to remove */ }
}

/**
 * DATA is private: files 0600 and folders 0700 (hub.db and its -wal/-shm, logs, hub.json, the
 * lock, tls/, staging/, the mirrors and trash folders). What is created is created so (explicit
 * modes, whatever the umask); this tightens what an earlier run, an older version or an operator
 * left looser, at every start. Mirror contents are left alone, in the trash too: they carry the
 * nodes' modes (the mirror mode rule, sync/modes.ts, and a restore puts them back as they were),
 * and the 0700 mirrors and trash folders keep other users out of them.
 * Symlinks are never followed. Returns the paths whose modes it changed, and those it could not
 * change (e.g. owned by another user), with why.
 */
export function tightenDataDir(l: Layout): { changed: string[]; failed: { path: string; error: string }[] } {
  const changed: string[] = [];
  const failed: { path: string; error: string }[] = [];
  const visit = (p: string, descend: boolean) => {
    try {
      if (tighten(p)) changed.push(p);
    } catch (e) {
      failed.push({ path: p, error: (e as Error).message });
    }
    if (!descend) return;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(p, { withFileTypes: true });
    } catch (e) {
      failed.push({ path: p, error: (e as Error).message });
      return;
    }
    for (const e of entries) {
      const child = path.join(p, e.name);
      // The mirrors and trash folders themselves, but not what is in them.
      visit(child, e.isDirectory() && child !== l.mirrors && child !== l.trash);
    }
  };
  visit(l.root, true);
  return { changed, failed };
}

// ---- the admin token ----------------------------------------------------------------------

/** A token as this hub makes them: 32 random bytes, base64url (43 characters). */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

function newToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/** Writes a token file in one step: a private temp file, fsync, rename over the old one. */
function replaceTokenFile(l: Layout, token: string): void {
  const tmp = `${l.adminToken}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, `${token}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, l.adminToken);
}

/**
 * The hub's admin token, kept in DATA/admin-token (0600) so it stays the same across restarts
 * (saved links and open UIs keep working): read, or made when there is none (created
 * exclusively: two starters never end with different tokens), or replaced when the file does
 * not hold a token this hub made (`replaced` says so, for the log).
 */
export function loadAdminToken(l: Layout): { token: string; made: 'existing' | 'created' | 'replaced' } {
  fs.mkdirSync(l.root, { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(l.adminToken, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      const token = newToken();
      try {
        const w = fs.openSync(l.adminToken, 'wx', 0o600);
        try {
          fs.writeSync(w, `${token}\n`);
          fs.fsyncSync(w);
        } finally {
          fs.closeSync(w);
        }
        return { token, made: 'created' };
      } catch (e2) {
        if ((e2 as NodeJS.ErrnoException).code === 'EEXIST') continue; // made meanwhile: read it
        throw e2;
      }
    }
    try {
      if ((fs.fstatSync(fd).mode & 0o077) !== 0) fs.fchmodSync(fd, 0o600);
      const token = fs.readFileSync(fd, 'utf8').trim();
      if (TOKEN_SHAPE.test(token)) return { token, made: 'existing' };
    } finally {
      fs.closeSync(fd);
    }
    const token = newToken();
    replaceTokenFile(l, token);
    return { token, made: 'replaced' };
  }
  throw new Error(`could not read or create ${l.adminToken}`);
}

/** A new admin token, in place of the old one in DATA/admin-token; returns it. */
export function rotateAdminToken(l: Layout): string {
  fs.mkdirSync(l.root, { recursive: true, mode: 0o700 });
  const token = newToken();
  replaceTokenFile(l, token);
  return token;
}
