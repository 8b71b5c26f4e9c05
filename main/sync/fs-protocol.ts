/** Messages between the fs pool and its workers. */
import type { EntryType } from './types';
import type { Expected } from './expect';
import type { IgnoredPath, PathProblem } from './problems';

export interface WalkItem {
  path: string;
  type: EntryType;
  size: number;
  mtimeMs: number;
  mode: number;
  ino: number;
  target: string;
}

/** What a walk found: entries to compare, paths it could not read, special files it leaves out. */
export interface WalkResult {
  items: WalkItem[];
  problems: PathProblem[];
  ignored: IgnoredPath[];
}

export type HashResult =
  | { changed: true }
  | { changed: false; size: number; mtimeMs: number; mode: number; ino: number; hash: Buffer; blocks: Buffer; weak: Buffer };

/** Blocks [first, first + count) of a file (clipped to its size). */
export interface BlockRange {
  first: number;
  count: number;
}

/** Look for a file's blocks at any offset of an old local version of it (fs-worker.ts search). */
export interface SearchRequest {
  /** The old version. */
  file: string;
  /** Its SHA-256 per aligned block when known (narrows the search), else empty. */
  oldBlocks: Uint8Array;
  /** The wanted version: size, block size, SHA-256 and weak hash per block. */
  size: number;
  blockSize: number;
  blocks: Uint8Array;
  weak: Uint8Array;
  /** 1 for each block to look for. */
  need: Uint8Array;
}

/** A complete, verified small file to write atomically under root (see apply.ts for the steps). */
export interface CommitRequest {
  root: string;
  stagingDir: string;
  wirePath: string;
  data: Uint8Array;
  mode: number;
  mtimeMs: number;
  /**
   * fsync the directory after the rename (false: the caller batches it). A batch that takes
   * group commit's barrier makes its renames durable either way (CommitResult.dirSynced).
   */
  syncDir: boolean;
  /** Commit only if the target still shows this (expect.ts); absent: no check. */
  expected?: Expected;
  /** The root ignores case: a name that differs only in case is a CaseConflict, not this file. */
  caseInsensitive?: boolean;
}

export interface CommitResult {
  size: number;
  mtimeMs: number;
  mode: number;
  ino: number;
  /** The target was a directory and had to be removed first. */
  replacedDir: boolean;
  /** The rename is durable already (its directory fsynced, or a barrier): nothing left to the caller. */
  dirSynced: boolean;
}

/** What a worker has to say about group commit's barrier (group-commit.ts), logged by the pool. */
export interface BarrierNote {
  /** unavailable: no barrier from now on (per-file fsync); failed: this batch fell back to it. */
  kind: 'unavailable' | 'failed';
  reason: string;
  /** Files in the batch that fell back. */
  files: number;
}

/** A file as the index records it: read only while its size and mtime are these. */
export interface RecordedFile {
  path: string;
  size: number;
  mtimeMs: number;
}

/** A block to read: only from a file recorded so (`rec`; null: none is, the answer is "gone"). */
export interface ServeItem {
  path: string;
  offset: number;
  size: number;
  rec: RecordedFile | null;
}

/**
 * What serveMany read: the blocks' bytes one after the other (`lengths`), or an error for a
 * block (`errors`, '' when read); `changed`: the indexes of blocks whose file no longer was as
 * recorded (to rescan).
 */
export interface ServeManyResult {
  data: Uint8Array;
  lengths: number[];
  errors: string[];
  changed: number[];
}

/** What a worker is started with (workerData). */
export interface WorkerOptions {
  /** Group commit's barrier command, the directory appended (barrier.ts); null: none, per-file fsync. */
  barrierCommand: readonly string[] | null;
}

export type WorkerRequest =
  /** exactCase: the root ignores case; a subtree only exists under its exact name (case-insensitive file systems). */
  | { id: number; op: 'walk'; root: string; subtree: string; shallow: boolean; exactCase: boolean }
  /** range: only these blocks (a part of a large file hashed by several workers; fs-pool.ts hash). */
  | { id: number; op: 'hash'; file: string; blockSize: number; range?: BlockRange }
  | { id: number; op: 'search'; search: SearchRequest }
  | { id: number; op: 'hashMany'; files: string[]; blockSize: number }
  | { id: number; op: 'commit'; commit: CommitRequest }
  /** Several independent commits, made durable together (group-commit.ts). */
  | { id: number; op: 'commitMany'; commits: CommitRequest[] }
  /** Blocks read as a block request is answered (serve-block.ts): block requests, inline content. */
  | { id: number; op: 'serveMany'; root: string; items: ServeItem[] }
  /** The pool closes: end the worker's helper processes (barrier.ts). */
  | { id: number; op: 'close' };

export type CommitOutcome = { ok: true; commit: CommitResult } | { ok: false; error: string; code?: string; unsafe?: boolean; variant?: string };

export type WorkerResponse =
  | { id: number; ok: true; walk?: WalkResult; hash?: HashResult; many?: ({ ok: true; hash: HashResult } | { ok: false; error: string; code?: string })[]; commit?: CommitResult; commits?: CommitOutcome[]; notes?: BarrierNote[]; found?: [number, number][]; served?: ServeManyResult }
  | { id: number; ok: false; error: string; code?: string; unsafe?: boolean; variant?: string };
