/**
 * Owner-only files and folders for what the hub (DATA) and the node (its state dir) keep for
 * themselves: databases, logs, certificates, tokens. Modes are set explicitly, never left to the
 * process umask (which can only take bits away from an explicit 0600/0700, never add them), and
 * what exists already with looser modes is tightened (group and other bits stripped).
 */
import fs from 'node:fs';

/** Bits that let anyone but the owner in. */
const GROUP_OTHER = 0o077;

/**
 * Strips group/other bits from what is at `p` (never following a symlink). True when it changed
 * a mode. Windows has no such bits (its ACLs are inherited from the parent folder): nothing to do.
 */
export function tighten(p: string): boolean {
  if (process.platform === 'win32') return false;
  const st = fs.lstatSync(p, { throwIfNoEntry: false });
  if (!st || st.isSymbolicLink() || (st.mode & GROUP_OTHER) === 0) return false;
  fs.chmodSync(p, st.mode & 0o7777 & ~GROUP_OTHER);
  return true;
}

/** A directory only its owner may enter: made 0700 when missing (with its missing parents), tightened when there. */
export function privateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  tighten(dir);
}

/** A file only its owner may read: created empty with 0600 when missing, tightened when there. */
export function privateFile(file: string): void {
  fs.closeSync(fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o600));
  tighten(file);
}
