/**
 * Opening a SQLite database with our pragmas and numbered migrations (PRAGMA user_version).
 * The only folder with SQL is main/store/.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { privateFile, tighten } from '../util/private-files';

export type DB = Database.Database;
export type Migration = (db: DB) => void;

export interface OpenOptions {
  readonly?: boolean;
  /** Path to a better_sqlite3.node built for another ABI (Electron); see README. */
  nativeBinding?: string;
}

export function openDatabase(file: string, migrations: readonly Migration[], opts: OpenOptions = {}): DB {
  if (!opts.readonly) {
    // Owner-only whatever the umask: the file is made 0600 before SQLite opens it, and SQLite
    // gives the -wal and -shm files it creates the database file's mode. Older ones are tightened.
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    privateFile(file);
    for (const side of ['-wal', '-shm']) tighten(`${file}${side}`);
  }
  const nativeBinding = opts.nativeBinding ?? process.env.CORTEX_SQLITE_BINDING;
  const db = new Database(file, { readonly: opts.readonly ?? false, ...(nativeBinding ? { nativeBinding } : {}) });
  db.pragma('busy_timeout = 5000');
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, migrations);
  }
  return db;
}

export function migrate(db: DB, migrations: readonly Migration[]): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(`database schema version ${current} is newer than this program (${migrations.length}); upgrade Cortex Hub`);
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      migrations[v]!(db);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

export function integrityCheck(db: DB): string {
  return db.pragma('integrity_check', { simple: true }) as string;
}
