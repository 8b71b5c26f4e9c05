/**
 * Recent changes and file history, in the contract: the feed of what changed where
 * (`changes.list`: per node or hub-wide, filtered, newest first, a page at a time) and one
 * path's timeline with why it is out of sync, if it is (`changes.history`). Types, input
 * schemas and limits; the operations are spread into index.ts's table.
 */
import { z } from 'zod';
import { relativePathProblem } from './conflicts';

export const CHANGE_DIRECTIONS = ['to-hub', 'to-node'] as const;
export type ChangeDirectionName = (typeof CHANGE_DIRECTIONS)[number];
export const CHANGE_ACTIONS = ['put', 'delete', 'delivered', 'conflict', 'refused', 'failed'] as const;
export type ChangeActionName = (typeof CHANGE_ACTIONS)[number];
/** Filters by kind: `change` versions and deletions (either way) and deliveries; the rest one action each. */
export const CHANGE_KINDS = ['change', 'conflict', 'refusal', 'failure'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** The retention setting's default and bounds, in days (`changesRetentionDays`). */
export const CHANGES_RETENTION_DEFAULT_DAYS = 30;
export const CHANGES_RETENTION_MAX_DAYS = 3650;
/** Rows a page of the feed holds at most. */
export const CHANGES_PAGE_MAX = 1000;
/** Rows of a path's timeline returned at most (the newest). */
export const HISTORY_MAX = 500;

/** One row of the feed or a timeline. */
export interface ChangeView {
  /** Its place in the log (newer rows have larger ids): a page's `next` is the last one's. */
  id: number;
  at: number;
  nodeId: string;
  /** The node's name (null: a node the hub no longer knows). */
  nodeName: string | null;
  path: string;
  /** `to-hub`: made on the node, for the mirror; `to-node`: made on the hub's side, for the node. */
  direction: ChangeDirectionName;
  /**
   * put / delete: a version or a deletion applied to the mirror (to-hub) or queued for the node
   * (to-node); delivered: the node applied a queued one; conflict: a conflict copy was made;
   * refused: the hub refused the node's change; failed: a side could not apply it.
   */
  action: ChangeActionName;
  /** Which side made it: the node (to-hub) or the hub (to-node). */
  madeBy: 'node' | 'hub';
  /** Bytes of the version (files only), or null. */
  size: number | null;
  /** The first 8 bytes of the version's SHA-256, hex (files only), or null. */
  hash: string | null;
  /** The hub's queue sequence number (to-node), the node's (to-hub), or a failure's attempt; null when none. */
  seq: number | null;
  /** A refusal's or failure's code, the losing side of a conflict, the cause of a hub version sent again (LOCKED, RETRY, DEFERRED), or `dir` / `symlink` for a node's version that is no file. */
  code: string | null;
  /** A refusal's or failure's reason, a conflict copy's path. */
  detail: string | null;
  /** The row as a sentence ("The node's version (1.2 KiB) reached the mirror."). */
  sentence: string;
}

export interface ChangesPage {
  /** Newest first. */
  items: ChangeView[];
  /** Pass as `before` for the next (older) page; null when this was the last. */
  next: number | null;
  /** The retention setting in force, and the oldest row kept (null: the log is empty). */
  retentionDays: number;
  oldestAt: number | null;
}

/**
 * One reason a path is not in sync now (the pure `whyOutOfSync` decides them, hub/changes.ts):
 * queued: a hub change waits in the node's queue (`ahead` changes before it); to-hub: a node
 * change waits to be applied on the hub; failed: a side could not apply it (code, reason,
 * attempts, next try); node-problem: the node cannot send it; locked: the immutability lock
 * keeps the hub's version (the node's change was refused); paused; disconnected; retired.
 */
export interface OutOfSyncReason {
  code: 'queued' | 'to-hub' | 'failed' | 'node-problem' | 'locked' | 'paused' | 'disconnected' | 'retired';
  direction: ChangeDirectionName | null;
  sentence: string;
  /** queued: changes ahead of it in the node's queue, and the first few of them (what goes first). */
  ahead?: number;
  head?: string[];
  /** failed: its code, reason, attempts so far and when it is tried again (null: when something changes). */
  failure?: { code: string; reason: string; attempts: number; retryAt: number | null };
  /** locked: the glob that locks it. */
  glob?: string;
}

export interface FileHistoryView {
  nodeId: string;
  nodeName: string;
  path: string;
  /** What the mirror holds there now (null: nothing). */
  current: { type: 'file' | 'dir' | 'symlink'; size: number; mtimeMs: number; hash: string } | null;
  /** True when nothing keeps it from being in sync (as far as the hub knows); else `why` says what. */
  inSync: boolean;
  why: OutOfSyncReason[];
  /** Its rows, newest first (at most HISTORY_MAX). */
  events: ChangeView[];
  /** True when older rows exist than those returned. */
  truncated: boolean;
}

const Id = z.string().min(1).max(64);
const ChangePath = z.string().max(4096).superRefine((p, ctx) => {
  const problem = p === '' ? null : relativePathProblem(p);
  if (problem) ctx.addIssue({ code: 'custom', message: `a path in the mirror ${problem}` });
});

export const ChangesListInput = z.object({
  nodeId: Id.optional(),
  /** An exact path, or with `prefix: true` a path and everything under it ('' with prefix: all). */
  path: ChangePath.optional(),
  prefix: z.boolean().optional(),
  direction: z.enum(CHANGE_DIRECTIONS).optional(),
  action: z.enum(CHANGE_ACTIONS).optional(),
  kind: z.enum(CHANGE_KINDS).optional(),
  /** Rows older than this id (an earlier page's `next`). */
  before: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  limit: z.number().int().min(1).max(CHANGES_PAGE_MAX).optional(),
}).strict();
export type ChangesListFilter = z.infer<typeof ChangesListInput>;

export const ChangesHistoryInput = z.object({ nodeId: Id, path: ChangePath.refine((p) => p !== '', 'a path in the mirror is not empty') }).strict();

export const changeOperations = {
  /** The feed of what changed where, newest first, filtered (ChangesPage). */
  'changes.list': { input: ChangesListInput, output: {} as ChangesPage },
  /** One path's timeline, and why it is out of sync now if it is (FileHistoryView). */
  'changes.history': { input: ChangesHistoryInput, output: {} as FileHistoryView },
} as const;
