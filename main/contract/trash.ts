/**
 * The trash, in the contract: what a purge moved into DATA/trash/ (a rename, never a copy),
 * listed with size and date, restorable until it is emptied (after the retention window, or on
 * demand). Types, input schemas and limits; the operations are in index.ts's table.
 */
import { z } from 'zod';

/** A trash entry's id: `tr-` and 16 hex digits (also its folder's name under DATA/trash/: nothing else gets through). */
export const TRASH_ID_PATTERN = /^tr-[0-9a-f]{16}$/;
export const TrashId = z.string().regex(TRASH_ID_PATTERN, 'a trash id is "tr-" and 16 hex digits (see "cortex-hub trash list")');

/** The retention window's default and bounds, in days (the `trashRetentionDays` setting). */
export const TRASH_RETENTION_DEFAULT_DAYS = 7;
export const TRASH_RETENTION_MAX_DAYS = 3650;

export interface TrashEntryView {
  id: string;
  /** Its entry name under the mirrors folder (a node id for a node's mirror). */
  name: string;
  /** The node whose mirror it was, and that node's name (null for an unknown entry). */
  nodeId: string | null;
  nodeName: string | null;
  reason: 'retired' | 'unknown';
  kind: 'dir' | 'symlink' | 'other';
  /** Where it was, and where a restore puts it back: DATA/mirrors/<name>. */
  originalPath: string;
  files: number;
  bytes: number;
  /** When the purge moved it (ms since the epoch). */
  trashedAt: number;
  /** When the retention window ends: it is emptied at the first check after. */
  expiresAt: number;
  /** The purge plan that moved it; null when the hub found it in the trash without a record (adopted at start). */
  planId: string | null;
  /** `trashed`: restorable. `emptying`: being removed, or its removal failed (`error`) and is tried again. */
  state: 'trashed' | 'emptying';
  error: string | null;
}

export interface TrashView {
  /** Newest first. */
  entries: TrashEntryView[];
  files: number;
  bytes: number;
  /** The setting in force: entries are emptied this many days after their purge. */
  retentionDays: number;
}

export interface TrashRestoreView {
  entry: TrashEntryView;
  /** Where it is now (a path under the mirrors folder). */
  restoredTo: string;
  /**
   * True when it went beside its original place (`<name>.restored-<id>`), not into it: its
   * node is active, and an old mirror under a live node would send its old files to the node.
   */
  beside: boolean;
  /** What the restore did, in a sentence (the CLI prints it). */
  message: string;
}

export interface TrashEmptyView {
  /** The entries removed. */
  emptied: TrashEntryView[];
  files: number;
  bytes: number;
  /** Entries the request named or selected that could not be removed now, and why (they stay listed). */
  failed: { id: string; message: string }[];
}

export const TrashRestoreInput = z.object({ id: TrashId }).strict();
export const TrashEmptyInput = z.object({
  /** Only entries purged at least this many days ago (0: every entry); omitted: every entry. */
  olderThanDays: z.number().min(0).max(100_000).optional(),
  /** Only these entries. */
  ids: z.array(TrashId).min(1).max(10_000).optional(),
}).strict();
