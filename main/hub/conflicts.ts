/**
 * Conflict copies, for the operator (`conflicts.list`, `conflicts.show`, `conflicts.resolve`):
 * listed across nodes from the mirror index, looked at beside the version they lost to (sizes,
 * times, sides, a line diff of text files, hashes otherwise), and settled in the mirror. A
 * resolution is an edit made on the hub's side: the mirror is changed (a copy deleted or
 * renamed, never through a symlink, only if each path still shows what the index recorded),
 * then scanned at once, which records the change and queues it for the node like any other.
 * The decisions are conflict-plan.ts's; the diff is util/line-diff.ts's.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  ContractError, TEXT_DIFF_MAX_BYTES,
  type ConflictDetail, type ConflictDiffView, type ConflictKeep, type ConflictList, type ConflictResolution, type ConflictVersionView, type ConflictView,
} from '../contract';
import type { HubStore, NodeRecord } from '../store/hub-store';
import { fsyncDir } from '../sync/apply';
import { ChangedMeanwhile, expectedOf, stampMatches, type Expected } from '../sync/expect';
import { UnsafePathError, checkNoSymlinkParents, checkNoSymlinkParentsSync, wirePathProblem } from '../sync/paths';
import { isConflictCopy } from '../sync/reconcile';
import type { CachedEntry } from '../sync/types';
import { clip } from '../util/text';
import { diffLines, diffRows, splitLines } from '../util/line-diff';
import type { Logger } from '../util/log';
import { originalOf, parseCopyName, planResolution, type ResolveStep } from './conflict-plan';

export interface ConflictDeskDeps {
  store: HubStore;
  log: Logger;
  mode: 'serve' | 'admin';
  mirrorOf(id: string): string;
  /** A node change of this path is being applied right now. */
  applying(nodeId: string, wirePath: string): boolean;
  /** Scans these mirror paths now (records what changed on the hub's side and queues it for the node). */
  scan(nodeId: string, paths: string[]): Promise<void>;
}

const DEFAULT_LIMIT = 500;

export class ConflictDesk {
  constructor(private readonly d: ConflictDeskDeps) {}

  /** Conflict copies of one active node, or of every active node, by node then path. */
  list(f: { nodeId?: string; limit?: number }): ConflictList {
    const limit = f.limit ?? DEFAULT_LIMIT;
    const nodes = f.nodeId ? [this.activeNode(f.nodeId, false)] : this.d.store.nodes().filter((n) => n.retiredAt === null);
    const out: ConflictView[] = [];
    let total = 0;
    for (const n of nodes) {
      const copies = this.d.store.index.conflicts(n.id);
      total += copies.length;
      for (const c of copies) {
        if (out.length >= limit) break;
        const v = this.view(n, c);
        if (v) out.push(v);
      }
    }
    return { conflicts: out, total };
  }

  /** One conflict copy beside the version it lost to, with a line diff when both are text. */
  show(nodeId: string, copy: string): ConflictDetail {
    const n = this.activeNode(nodeId, false);
    const v = this.view(n, this.checkCopy(copy));
    if (!v) throw new ContractError('NOT_FOUND', `no conflict copy ${clip(copy)} in the mirror of node ${nodeId}`);
    return { ...v, diff: this.diff(n.id, v) };
  }

  /**
   * Settles a conflict copy: keep the winner (the copy is deleted), the copy (it replaces the
   * original) or both (the copy becomes an ordinary file). Refused, with nothing changed, when
   * either path changed since the index recorded it or a node change of it is being applied.
   */
  async resolve(nodeId: string, copy: string, keep: ConflictKeep): Promise<ConflictResolution> {
    const n = this.activeNode(nodeId, true);
    this.checkCopy(copy);
    if (this.d.mode !== 'serve') throw new ContractError('UNAVAILABLE', 'no hub is running on this data directory: start one with "cortex-hub serve" (a resolution reaches the node through it)');
    const { store } = this.d;
    const id = n.id;
    const copyEntry = store.index.stamp(id, copy);
    if (!copyEntry) throw new ContractError('NOT_FOUND', `no conflict copy ${clip(copy)} in the mirror of node ${id}`);
    const original = this.originalOf(id, copy);
    const originalEntry = original ? store.index.stamp(id, original) : undefined;
    const plan = planResolution({
      copy, copyType: copyEntry.type, original, originalType: originalEntry?.type ?? null, keep,
      taken: (p) => Boolean(store.index.stamp(id, p)) || this.d.applying(id, p),
    });
    if ('refused' in plan) {
      this.d.log.warn('conflict.resolve_refused', { node: id, copy: clip(copy), keep, reason: plan.refused });
      throw new ContractError('CONFLICT', plan.refused);
    }
    const touched = [copy, ...(original ? [original] : []), ...plan.steps.flatMap((s) => (s.kind === 'move' ? [s.to] : []))];
    const busy = touched.find((p) => this.d.applying(id, p));
    if (busy) throw new ContractError('CONFLICT', `a change of ${clip(busy)} from the node is being applied right now: try again in a moment`);
    const expected = new Map<string, Expected>([[copy, expectedOf(copyEntry)], ...(original ? [[original, expectedOf(originalEntry)] as [string, Expected]] : [])]);
    const root = this.d.mirrorOf(id);
    try {
      for (const step of plan.steps) await carryOut(root, step, expected);
    } catch (e) {
      if (e instanceof ChangedMeanwhile) {
        this.d.log.warn('conflict.resolve_refused', { node: id, copy: clip(copy), keep, reason: e.message });
        throw new ContractError('CONFLICT', `${e.wirePath} changed since the hub last looked at it; nothing was changed: look at the conflict again`);
      }
      if (e instanceof UnsafePathError) {
        // A directory on the way was replaced by a symlink (or a file) since it was recorded.
        this.d.log.warn('conflict.resolve_refused', { node: id, copy: clip(copy), keep, reason: e.message });
        throw new ContractError('CONFLICT', `${e.message}; nothing was changed`);
      }
      this.d.log.error('conflict.resolve_failed', { node: id, copy: clip(copy), keep, error: (e as Error).message });
      throw new ContractError('INTERNAL', `resolving ${clip(copy)} failed: ${(e as Error).message}`);
    }
    // Recorded and queued for the node now, not when the watcher gets to it.
    await this.d.scan(id, [...new Set(touched)]);
    const result: ConflictResolution = { nodeId: id, copy, keep, original, result: plan.result };
    store.events.add(id, 'conflict.resolved', { copy, keep, original, result: plan.result });
    this.d.log.info('conflict.resolved', { node: id, copy, keep, original, result: plan.result });
    return result;
  }

  private activeNode(id: string, forChange: boolean): NodeRecord {
    const n = this.d.store.node(id);
    if (!n) throw new ContractError('NOT_FOUND', `no node with id ${id}`);
    if (n.retiredAt !== null) throw new ContractError(forChange ? 'CONFLICT' : 'NOT_FOUND', `node ${id} is retired: its mirror is an orphan, not synced`);
    return n;
  }

  /** The copy's path, if it is a safe mirror path and a conflict copy's name. */
  private checkCopy(copy: string): string {
    const problem = wirePathProblem(copy);
    if (problem) throw new ContractError('BAD_REQUEST', `unsafe path ${JSON.stringify(clip(copy))}: ${problem}`);
    if (!isConflictCopy(copy)) throw new ContractError('BAD_REQUEST', `${clip(copy)} is not a conflict copy (name.sync-conflict-YYYYMMDD-HHMMSS-node|hub.ext)`);
    return copy;
  }

  private originalOf(id: string, copy: string): string | null {
    const { index } = this.d.store;
    const dir = copy.slice(0, copy.lastIndexOf('/') + 1).replace(/\/$/, '');
    return originalOf(copy, (p) => index.stamp(id, p) !== undefined, () => [...index.childStamps(id, dir).keys()]);
  }

  private view(n: NodeRecord, copy: string): ConflictView | null {
    const { index } = this.d.store;
    const name = parseCopyName(copy);
    const entry = index.file(n.id, copy);
    if (!name || !entry) return null;
    const original = this.originalOf(n.id, copy);
    const o = original ? index.file(n.id, original) : undefined;
    return {
      nodeId: n.id, nodeName: n.name, copy, original, copySide: name.side, madeAt: Number.isFinite(name.at) ? name.at : null,
      copyVersion: versionView(entry), originalVersion: o ? versionView(o) : null,
    };
  }

  /** A line diff of the original against the copy when both are text files of at most TEXT_DIFF_MAX_BYTES. */
  private diff(id: string, v: ConflictView): ConflictDiffView {
    const a = v.originalVersion;
    const b = v.copyVersion;
    if (!a) return { kind: 'none', reason: 'nothing is at the original path now' };
    if (a.type !== 'file' || b.type !== 'file') return { kind: 'none', reason: a.type === 'symlink' || b.type === 'symlink' ? 'a symlink: compare the targets' : 'not two files' };
    if (a.hash === b.hash) return { kind: 'none', reason: 'the same content (only the mode or the time differ)' };
    if (a.size > TEXT_DIFF_MAX_BYTES || b.size > TEXT_DIFF_MAX_BYTES) return { kind: 'none', reason: `larger than ${TEXT_DIFF_MAX_BYTES / 1024} KiB: compare the hashes` };
    const root = this.d.mirrorOf(id);
    const ta = readText(root, v.original!, a);
    const tb = readText(root, v.copy, b);
    for (const t of [ta, tb]) if (typeof t !== 'string') return { kind: 'none', reason: t.reason };
    const ops = diffLines(splitLines(ta as string), splitLines(tb as string));
    if (!ops) return { kind: 'none', reason: 'too different to show line by line: compare the hashes' };
    return { kind: 'text', ...diffRows(ops) };
  }
}

function versionView(e: CachedEntry): ConflictVersionView {
  return { path: e.path, type: e.type, size: e.size, mtimeMs: e.mtimeMs, hash: e.type === 'file' ? e.hash.toString('hex') : '', target: e.type === 'symlink' ? e.target : '' };
}

/** A file's text as recorded (same stamp), or why not: binary (NUL, not UTF-8), changed on disk, unreadable. */
function readText(root: string, wirePath: string, v: ConflictVersionView): string | { reason: string } {
  let fd: number | undefined;
  try {
    const native = checkNoSymlinkParentsSync(root, wirePath);
    fd = fs.openSync(native, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size !== v.size || st.mtimeMs !== v.mtimeMs) return { reason: `${wirePath} changed on disk since the hub last looked at it` };
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = fs.readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    if (buf.includes(0)) return { reason: 'binary content: compare the hashes' };
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, off));
    } catch {
      return { reason: 'not UTF-8 text: compare the hashes' };
    }
  } catch (e) {
    return { reason: `${wirePath} could not be read: ${(e as Error).message}` };
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * One step in the mirror, each path checked first against what the index recorded (a path no
 * step expects must be empty): a delete unlinks, a move renames (replacing the original when
 * `replaces`). Never through a symlinked directory; the directory is fsynced after.
 */
async function carryOut(root: string, step: ResolveStep, expected: Map<string, Expected>): Promise<void> {
  const check = async (wirePath: string): Promise<string> => {
    const native = await checkNoSymlinkParents(root, wirePath);
    const st = await fs.promises.lstat(native).catch(() => undefined);
    if (!stampMatches(st, expected.get(wirePath) ?? null)) throw new ChangedMeanwhile(wirePath);
    return native;
  };
  if (step.kind === 'delete') {
    const native = await check(step.path);
    await fs.promises.unlink(native);
    await fsyncDir(path.dirname(native));
    return;
  }
  const from = await check(step.from);
  const to = await check(step.to);
  await fs.promises.rename(from, to);
  await fsyncDir(path.dirname(to));
  if (path.dirname(from) !== path.dirname(to)) await fsyncDir(path.dirname(from));
}
