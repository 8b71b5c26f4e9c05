/**
 * The hub database's schema: its numbered migrations, applied in order and recorded in
 * PRAGMA user_version (db.ts). Append only: an existing database must open, so a migration
 * never changes, moves or goes away once released.
 */
import { CONFLICT_MARK } from '../sync/reconcile';
import { AGENT_EDITS_SCHEMA, AGENT_SCHEMA } from './agent-store';
import { REPORT_SCHEMA } from './report-store';
import { TRASH_SCHEMA } from './trash-store';
import { CHANGES_SCHEMA } from './change-log';
import { MARKED_GRAMS_SCHEMA, PATH_SEARCH_SCHEMA } from './path-search';
import type { Migration } from './db';
import { FILE_COLUMN_DEFS, WEAK_COLUMN } from './file-rows';

export const HUB_MIGRATIONS: readonly Migration[] = [
  (db) => db.exec(`
    CREATE TABLE nodes (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      token_hash BLOB NOT NULL,
      created_at INTEGER NOT NULL,
      retired_at INTEGER,
      last_seen INTEGER,
      index_id TEXT,
      acked_seq INTEGER NOT NULL DEFAULT 0,
      settings TEXT NOT NULL
    );
    CREATE TABLE files (
      node_id TEXT NOT NULL,
      ${FILE_COLUMN_DEFS},
      PRIMARY KEY (node_id, path)
    ) WITHOUT ROWID;
    CREATE TABLE blocks (
      node_id TEXT NOT NULL,
      hash BLOB NOT NULL,
      path TEXT NOT NULL,
      idx INTEGER NOT NULL,
      PRIMARY KEY (node_id, hash, path, idx)
    ) WITHOUT ROWID;
    CREATE INDEX blocks_by_path ON blocks (node_id, path);
    CREATE TABLE events (
      id INTEGER PRIMARY KEY,
      at INTEGER NOT NULL,
      node_id TEXT,
      kind TEXT NOT NULL,
      data TEXT NOT NULL
    );
    CREATE INDEX events_by_node ON events (node_id, id);
    CREATE INDEX events_by_kind ON events (kind, id);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  `),
  // status counts and sums a node's files often: a covering index keeps that off the big rows.
  (db) => db.exec('CREATE INDEX files_sizes ON files (node_id, type, size)'),
  // Two-way sync: the last version both sides agreed on per path (what was recorded so far all
  // came from the node, so it starts as the agreement); the changes made on the hub's side
  // that the node has not applied yet, in the hub's own sequence; conflict copies found fast.
  (db) => db.exec(`
    CREATE TABLE ancestors (
      node_id TEXT NOT NULL,
      path TEXT NOT NULL,
      type INTEGER NOT NULL,
      mode INTEGER NOT NULL,
      hash BLOB NOT NULL,
      target TEXT NOT NULL,
      mtime_ms REAL NOT NULL,
      PRIMARY KEY (node_id, path)
    ) WITHOUT ROWID;
    INSERT INTO ancestors SELECT node_id, path, type, mode, hash, target, mtime_ms FROM files;
    CREATE TABLE hub_changes (
      node_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      path TEXT NOT NULL,
      PRIMARY KEY (node_id, seq)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX hub_changes_by_path ON hub_changes (node_id, path);
    ALTER TABLE nodes ADD COLUMN hub_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE nodes ADD COLUMN hub_acked INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX files_conflicts ON files (node_id, path) WHERE path GLOB '*${CONFLICT_MARK}*';
  `),
  // Agents (agent-store.ts): templates, and instances looked up by node, session, template and
  // state, newest first; every lookup has its index (tested with EXPLAIN QUERY PLAN).
  (db) => db.exec(AGENT_SCHEMA),
  // Failures to apply a change, either way (the truth behind a node's `problems`): kept across
  // restarts, with what to retry (a node entry the hub could not apply) and when.
  (db) => db.exec(`
    CREATE TABLE failures (
      node_id TEXT NOT NULL,
      direction INTEGER NOT NULL,
      path TEXT NOT NULL,
      code TEXT NOT NULL,
      reason TEXT NOT NULL,
      first_at INTEGER NOT NULL,
      at INTEGER NOT NULL,
      attempts INTEGER NOT NULL,
      retry_at INTEGER,
      entry TEXT,
      PRIMARY KEY (node_id, direction, path)
    ) WITHOUT ROWID;
  `),
  // Purge plans: what a preview listed (each target with its identity), runnable once until it
  // expires, so a purge removes what was previewed and nothing else (hub or CLI alike).
  (db) => db.exec(`
    CREATE TABLE purge_plans (
      id TEXT PRIMARY KEY,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      targets TEXT NOT NULL,
      run_at INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX purge_plans_by_age ON purge_plans (created_at);
  `),
  // What each node reports it cannot send, and the special files it leaves out (report-store.ts).
  (db) => db.exec(REPORT_SCHEMA),
  // Weak hashes per block of the mirror's files (protocol 3, shifted content: blocks.ts).
  (db) => db.exec(WEAK_COLUMN),
  // A node's sync paused by the operator, since when (null: not paused): kept across restarts.
  (db) => db.exec('ALTER TABLE nodes ADD COLUMN paused_at INTEGER'),
  // The trash (trash-store.ts): mirrors a purge moved into DATA/trash/, restorable until emptied.
  (db) => db.exec(TRASH_SCHEMA),
  // Agent templates edited and deleted (a deleted one stays as a tombstone: its instances keep
  // their history), the command each instance ran, and the tail of its output (agent-store.ts).
  (db) => db.exec(AGENT_EDITS_SCHEMA),
  // The change log (change-log.ts): what changed where, for the feed and a path's timeline.
  (db) => db.exec(CHANGES_SCHEMA),
  // Search across mirrors (path-search.ts): an id and a name per recorded path, kept in step with
  // `files` by triggers (filled from it here), and a trigram index over the paths that the hub
  // fills when idle (hub/search-indexer.ts).
  (db) => db.exec(PATH_SEARCH_SCHEMA),
  // The search's trigram index again, its paths marked with their node and its trigrams counted
  // (path-search.ts): filled anew by the indexer when the hub is idle.
  (db) => db.exec(MARKED_GRAMS_SCHEMA),
];
