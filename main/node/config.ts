/**
 * What a node is given and where it keeps things: its configuration, the error after which
 * retrying cannot help, the default state dir, where hub-side changes are staged, and the
 * paths of the workspace the node never syncs (its own state and staging directories).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FsPool } from '../sync/fs-pool';
import { outsideRoot } from '../sync/paths';
import type { Logger } from '../util/log';

export interface NodeConfig {
  hub: string;
  nodeId: string;
  token: string;
  fingerprint: string;
  workspace: string;
  stateDir: string;
  log: Logger;
  /** Called once per run, when the hub first accepts these credentials (Welcome). */
  onJoined?: () => void;
  /**
   * The hashing/commit worker pool to use instead of one of its own (bench/sim-nodes.mjs runs
   * many clients in one process: one pool each would be a worker thread each). The client
   * closes only a pool it made.
   */
  pool?: FsPool;
}

/** Errors after which retrying cannot help; the CLI exits with `exitCode`. */
export class FatalNodeError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = 'FatalNodeError';
  }
}

export function defaultStateDir(workspace: string): string {
  const base = process.env.CORTEX_NODE_STATE
    ?? path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'cortex-node');
  const key = crypto.createHash('sha256').update(path.resolve(workspace)).digest('hex').slice(0, 16);
  return path.join(base, key);
}

/** Staging inside the workspace, when the state directory is on another file system. */
export const WORKSPACE_STAGING = '.cortex-staging';

/**
 * Where hub-side changes are assembled: it must be on the workspace's file system (commits are
 * renames). The state directory when it is, else a hidden directory in the workspace that the
 * node never syncs.
 */
export function stagingFor(workspace: string, stateDir: string): string {
  const inState = path.join(stateDir, 'staging');
  return fs.statSync(stateDir).dev === fs.statSync(workspace).dev ? inState : path.join(workspace, WORKSPACE_STAGING);
}

/** The workspace paths (wire form) the node never syncs: its state dir, when inside the workspace, and the workspace staging. */
export function nodeOwnPaths(workspace: string, stateDir: string): (wirePath: string) => boolean {
  const rel = path.relative(workspace, stateDir);
  const stateWire = !outsideRoot(rel) ? rel.split(path.sep).join('/') : null;
  const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);
  return (p) => (stateWire !== null && under(p, stateWire)) || under(p, WORKSPACE_STAGING);
}
