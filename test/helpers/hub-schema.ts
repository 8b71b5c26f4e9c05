import type Database from 'better-sqlite3';
import { HUB_MIGRATIONS } from '../../main/store/hub-migrations';

// How to take back each hub migration (index i undoes migration i + 1), so a test can put a
// database back to what an earlier version left behind, whatever was added since. A migration
// added without its undo here makes every rewinding test fail with the message below, not
// with a confusing SQL error in an unrelated test.
const UNDO: readonly string[] = [
  'DROP TABLE events; DROP TABLE blocks; DROP TABLE files; DROP TABLE nodes; DROP TABLE meta',
  'DROP INDEX files_sizes',
  'DROP TABLE ancestors; DROP TABLE hub_changes; DROP INDEX files_conflicts; ALTER TABLE nodes DROP COLUMN hub_seq; ALTER TABLE nodes DROP COLUMN hub_acked',
  'DROP TABLE agent_instances; DROP TABLE agent_templates',
  'DROP TABLE failures',
  'DROP TABLE purge_plans',
  'DROP TABLE node_problems; DROP TABLE node_ignored',
  'ALTER TABLE files DROP COLUMN weak',
  'ALTER TABLE nodes DROP COLUMN paused_at',
  'DROP TABLE trash',
  'DROP TABLE agent_output; ALTER TABLE agent_instances DROP COLUMN command; ALTER TABLE agent_templates DROP COLUMN deleted_name; ALTER TABLE agent_templates DROP COLUMN deleted_at',
  'DROP TABLE changes',
  'DROP TRIGGER files_named; DROP TRIGGER files_unnamed; DROP TABLE path_grams; DROP TABLE path_grams_upto; DROP TABLE path_names',
  `DROP TRIGGER path_names_removed; DROP TABLE path_grams; DROP VIEW path_grams_text; DROP TABLE path_gram_counts; DROP TABLE search_nodes;
   ALTER TABLE path_grams_upto DROP COLUMN merged_upto; UPDATE path_grams_upto SET upto = 0;
   CREATE VIRTUAL TABLE path_grams USING fts5(path, content='path_names', content_rowid='id', tokenize='trigram', detail='none', columnsize=0);
   CREATE TRIGGER path_names_removed AFTER DELETE ON path_names BEGIN
     INSERT INTO path_grams (path_grams, rowid, path) SELECT 'delete', old.id, old.path WHERE old.id <= (SELECT upto FROM path_grams_upto);
   END`,
];

/** Undo the hub's migrations above `version`, newest first, and record `version` as the schema's. */
export function rewindHubSchema(db: Database.Database, version: number): void {
  if (UNDO.length !== HUB_MIGRATIONS.length) {
    throw new Error(`test/helpers/hub-schema.ts knows how to undo ${UNDO.length} hub migrations, the hub has ${HUB_MIGRATIONS.length}: add the undo of the new one`);
  }
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v > version; v--) db.exec(UNDO[v - 1]!);
  db.pragma(`user_version = ${version}`);
}
