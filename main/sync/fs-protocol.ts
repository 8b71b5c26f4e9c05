/** Messages between the fs pool and its workers. */
import type { EntryType } from './types';

export interface WalkItem {
  path: string;
  type: EntryType;
  size: number;
  mtimeMs: number;
  mode: number;
  ino: number;
  target: string;
}

export type HashResult =
  | { changed: true }
  | { changed: false; size: number; mtimeMs: number; mode: number; ino: number; hash: Buffer; blocks: Buffer };

export type WorkerRequest =
  | { id: number; op: 'walk'; root: string; subtree: string }
  | { id: number; op: 'hash'; file: string; blockSize: number };

export type WorkerResponse =
  | { id: number; ok: true; walk?: { items: WalkItem[]; skipped: { path: string; reason: string }[] }; hash?: HashResult }
  | { id: number; ok: false; error: string; code?: string };
