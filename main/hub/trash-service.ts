/**
 * The trash: purged mirrors kept in DATA/trash/ (trash.ts) and recorded in the hub's database
 * (store/trash-store.ts), listed, restored, and emptied after the retention window (the
 * `trashRetentionDays` setting, checked at start and every TRASH_CHECK_MS) or on demand.
 *
 * Crash safety: every disk step is announced in the database first (`moving` before a purge's
 * rename, `emptying` before a removal), and the start-up reconcile settles whatever a kill
 * left: a mirror is never lost and never left in the trash without a record.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ContractError, type TrashEmptyView, type TrashEntryView, type TrashRestoreView, type TrashView } from '../contract';
import type { HubStore, TrashRecord } from '../store/hub-store';
import { testPause } from '../sync/barrier';
import type { Logger } from '../util/log';
import { clip } from '../util/text';
import type { Layout } from './data-dir';
import { mountPointsUnder, type PurgeTarget } from './purge';
import {
  ensureTrashRoot, entriesToEmpty, expiredEntries, expiresAt, inTrash, measureEntry, moveIntoTrash, newTrashId, PlaceTakenError, reconcileAction,
  removeEmptyFolder, removeEntry, restoreFromTrash, restorePlace, scanTrash, trashPaths,
} from './trash';

/** How often the retention window is checked (CORTEX_TRASH_CHECK_MS overrides it). */
export const TRASH_CHECK_MS = Number(process.env.CORTEX_TRASH_CHECK_MS) > 0 ? Number(process.env.CORTEX_TRASH_CHECK_MS) : 60 * 60 * 1000;

export interface TrashDeps {
  layout: Pick<Layout, 'mirrors' | 'trash'>;
  store: HubStore;
  log: Logger;
  /** The retention setting, in days (read at each check). */
  retentionDays(): number;
  /** The trash's bytes changed (the status shows them). */
  changed(): void;
  /** The clock (tests move it). */
  now?: () => number;
}

export class TrashService {
  private readonly now: () => number;
  private cachedBytes: number;
  /** Entries a run is removing now. */
  private readonly inFlight = new Set<string>();
  /** Removal runs under way (close waits for them). */
  private readonly runs = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;

  constructor(private readonly deps: TrashDeps) {
    this.now = deps.now ?? Date.now;
    this.cachedBytes = deps.store.trash.bytes();
  }

  /** Bytes in the trash (the status's `trashBytes`). */
  bytes(): number {
    return this.cachedBytes;
  }

  private recount(): void {
    const before = this.cachedBytes;
    this.cachedBytes = this.deps.store.trash.bytes();
    if (before !== this.cachedBytes) this.deps.changed();
  }

  // ---- start-up -----------------------------------------------------------------------------

  /**
   * Settles what a kill left (reconcileAction), adopts entry folders the database has no record
   * of (their one child is the mirror, named as it was under mirrors/), and says what else is in
   * the trash folder (never touched: the hub removes only what it put there). Run at open,
   * before anything else uses the trash.
   */
  reconcile(): void {
    try {
      ensureTrashRoot(this.deps.layout.trash);
      this.settle();
    } catch (e) {
      // The hub serves on; purges fail with the reason until the trash folder is usable.
      this.deps.log.error('trash.reconcile_failed', { dir: this.deps.layout.trash, error: (e as Error).message });
    }
    this.recount();
  }

  private settle(): void {
    const { store, log, layout } = this.deps;
    const recorded = new Map(store.trash.all().map((r) => [r.id, r]));
    const done = { settled: [] as string[], dropped: [] as string[], resumed: [] as string[], adopted: [] as string[] };
    for (const r of recorded.values()) {
      try {
        const action = reconcileAction(r.state, inTrash(layout.trash, r.id, r.name));
        if (action === 'settle') {
          store.trash.setState(r.id, 'trashed');
          done.settled.push(r.id);
        } else if (action === 'drop') {
          store.trash.remove(r.id);
          removeEmptyFolder(trashPaths(layout.trash, r.id, r.name).folder);
          done.dropped.push(r.id);
          if (r.state === 'trashed') log.warn('trash.entry_gone', { entry: r.id, name: r.name, reason: 'its mirror is no longer in the trash (restored by a run cut short, or removed by hand): forgotten' });
        } else if (action === 'resume') done.resumed.push(r.id);
      } catch (e) {
        // One entry that cannot be read (a record edited by hand, a folder without permission) does not stop the others.
        log.error('trash.reconcile_failed', { entry: clip(r.id), name: clip(r.name), error: (e as Error).message });
      }
    }
    const found = scanTrash(layout.trash);
    for (const f of found.folders) {
      if (recorded.has(f.id)) continue;
      if (f.children.length === 0) {
        removeEmptyFolder(path.join(layout.trash, f.id));
        continue;
      }
      if (f.children.length !== 1) {
        found.foreign.push(f.id);
        continue;
      }
      const name = f.children[0]!;
      try {
        const m = measureEntry(trashPaths(layout.trash, f.id, name).mirror);
        const node = store.node(name);
        store.trash.add({
          id: f.id, name, nodeId: node ? node.id : null, nodeName: node?.name ?? null, reason: node ? 'retired' : 'unknown',
          kind: m.kind, files: m.files, bytes: m.bytes, trashedAt: this.now(), planId: null, state: 'trashed', error: null,
        });
        done.adopted.push(f.id);
      } catch (e) {
        log.warn('trash.not_adopted', { entry: f.id, name: clip(name), error: (e as Error).message });
        found.foreign.push(f.id);
      }
    }
    if (done.settled.length || done.dropped.length || done.adopted.length || done.resumed.length) log.info('trash.reconciled', done);
    if (found.foreign.length) log.warn('trash.foreign', { dir: layout.trash, entries: found.foreign.slice(0, 20).map((n) => clip(n)), count: found.foreign.length, reason: 'not put there by the hub: left alone' });
  }

  /** Starts the retention checks: one now (and emptyings cut short resumed), then every TRASH_CHECK_MS. */
  start(): void {
    this.timer = setInterval(() => this.check(), TRASH_CHECK_MS);
    this.timer.unref();
    this.check();
  }

  /** A retention check in the background (expire), its failure logged. */
  check(): void {
    if (this.stopping) return;
    this.expire().catch((e: Error) => this.deps.log.error('trash.check_failed', { error: e.message }));
  }

  /** Stops the checks and ends removals early (what is left is resumed at the next start). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.runs]);
  }

  // ---- views --------------------------------------------------------------------------------

  private view(r: TrashRecord, retentionDays = this.deps.retentionDays()): TrashEntryView {
    return {
      id: r.id, name: r.name, nodeId: r.nodeId, nodeName: r.nodeName, reason: r.reason, kind: r.kind,
      originalPath: path.join(this.deps.layout.mirrors, r.name), files: r.files, bytes: r.bytes, trashedAt: r.trashedAt,
      expiresAt: expiresAt(r.trashedAt, retentionDays), planId: r.planId, state: r.state === 'emptying' ? 'emptying' : 'trashed', error: r.error,
    };
  }

  list(): TrashView {
    const days = this.deps.retentionDays();
    const entries = this.deps.store.trash.all().filter((r) => r.state !== 'moving').map((r) => this.view(r, days));
    return { entries, files: entries.reduce((s, e) => s + e.files, 0), bytes: entries.reduce((s, e) => s + e.bytes, 0), retentionDays: days };
  }

  // ---- purge: into the trash ----------------------------------------------------------------

  /**
   * Moves a purge target (checked by executePurge: still orphaned, still what was previewed)
   * into the trash: recorded as `moving`, renamed, recorded as `trashed`. Returns its id.
   * Throws when the rename fails (the row goes; the mirror stays where it was).
   */
  put(t: PurgeTarget, planId: string): string {
    const { store, layout } = this.deps;
    const id = newTrashId();
    const node = store.node(t.id);
    store.trash.add({
      id, name: t.id, nodeId: node ? node.id : null, nodeName: node?.name ?? null, reason: t.reason, kind: t.kind,
      files: t.files, bytes: t.bytes, trashedAt: this.now(), planId, state: 'moving', error: null,
    });
    testPause('trash-before-rename', [t.id]);
    try {
      moveIntoTrash(layout.mirrors, layout.trash, id, t.id);
    } catch (e) {
      store.trash.remove(id);
      throw e;
    }
    testPause('trash-after-rename', [t.id]);
    try {
      store.trash.setState(id, 'trashed');
      this.recount();
    } catch (e) {
      // Moved, but not recorded as trashed (the database refused the write): the next start's
      // reconcile settles it. The mirror is in the trash all the same; say so, not "failed".
      this.deps.log.error('trash.unrecorded', { entry: id, name: t.id, error: (e as Error).message });
    }
    return id;
  }

  // ---- restore ------------------------------------------------------------------------------

  /**
   * Puts an entry's mirror back under mirrors/ (restorePlace: in its place, or beside it when
   * its node is active). Refuses, keeping the entry, when that place is taken, when the entry
   * is being emptied, or when it is unknown.
   */
  restore(id: string): TrashRestoreView {
    const { store, layout, log } = this.deps;
    const rec = store.trash.get(id);
    const refuse = (code: 'NOT_FOUND' | 'CONFLICT', message: string): never => {
      log.warn('trash.restore_refused', { entry: clip(id), reason: message });
      throw new ContractError(code, message);
    };
    if (!rec || rec.state === 'moving') return refuse('NOT_FOUND', `no trash entry ${id} (see "cortex-hub trash list")`);
    if (rec.state === 'emptying') return refuse('CONFLICT', `trash entry ${id} is being emptied${rec.error ? ` (its removal failed: ${rec.error})` : ''}: it cannot be restored`);
    if (!inTrash(layout.trash, id, rec.name)) {
      store.trash.remove(id);
      removeEmptyFolder(trashPaths(layout.trash, id, rec.name).folder);
      this.recount();
      return refuse('NOT_FOUND', `trash entry ${id} (mirrors/${rec.name}) is no longer in the trash (removed outside the hub): forgotten`);
    }
    const node = store.node(rec.name);
    const to = restorePlace(rec, node);
    try {
      restoreFromTrash(layout.trash, layout.mirrors, id, rec.name, to.name);
    } catch (e) {
      if (e instanceof PlaceTakenError) return refuse('CONFLICT', `cannot restore ${id}: ${e.message}. The entry stays in the trash; move that away (or purge it) and restore again`);
      throw e;
    }
    testPause('trash-after-restore', [rec.name]);
    store.trash.remove(id);
    const entry = this.view(rec);
    const restoredTo = path.join(layout.mirrors, to.name);
    const what = rec.nodeId ? `the mirror of node "${rec.nodeName ?? rec.nodeId}" (${rec.nodeId})` : `mirrors/${rec.name}`;
    const message = to.beside
      ? `Restored ${what} beside its place, to ${restoredTo}: node ${rec.nodeId ?? rec.name} is active, and an old mirror under a live node would send its old files to the node. It is an orphan there, to inspect or purge.`
      : `Restored ${what} to ${restoredTo}, as an orphan again (${node ? 'its node is retired' : 'no node has that id'}): inspect it, or purge it again.`;
    store.events.add(rec.nodeId, 'trash.restored', { entry: id, name: rec.name, restoredTo: to.name, beside: to.beside, files: rec.files, bytes: rec.bytes });
    log.info('trash.restored', { entry: id, name: rec.name, to: to.name, beside: to.beside, files: rec.files, bytes: rec.bytes });
    this.recount();
    return { entry, restoredTo, beside: to.beside, message };
  }

  // ---- emptying -----------------------------------------------------------------------------

  /** Removes entries for good: all, those purged at least `olderThanDays` ago, or those named (unknown names refused). */
  async empty(f: { olderThanDays?: number; ids?: string[] }): Promise<TrashEmptyView> {
    if (f.ids) {
      const unknown = f.ids.filter((id) => !this.deps.store.trash.get(id));
      if (unknown.length) {
        const message = `no trash entr${unknown.length === 1 ? 'y' : 'ies'} ${unknown.slice(0, 10).join(', ')} (see "cortex-hub trash list")`;
        this.deps.log.warn('trash.empty_refused', { reason: message });
        throw new ContractError('NOT_FOUND', message);
      }
    }
    const chosen = entriesToEmpty(this.deps.store.trash.all(), this.now(), f, this.inFlight);
    return this.remove(chosen, 'on demand');
  }

  /** The retention check: entries past the window, and emptyings cut short or failed, removed. */
  async expire(): Promise<TrashEmptyView> {
    const all = this.deps.store.trash.all();
    const due = [...expiredEntries(all, this.now(), this.deps.retentionDays()), ...all.filter((r) => r.state === 'emptying')].filter((r) => !this.inFlight.has(r.id));
    if (due.length === 0) return { emptied: [], files: 0, bytes: 0, failed: [] };
    return this.remove(due, 'retention');
  }

  private remove(recs: TrashRecord[], why: 'on demand' | 'retention'): Promise<TrashEmptyView> {
    const run = this.removeAll(recs, why);
    this.runs.add(run);
    void run.finally(() => this.runs.delete(run));
    return run;
  }

  private async removeAll(recs: TrashRecord[], why: 'on demand' | 'retention'): Promise<TrashEmptyView> {
    const { store, layout, log } = this.deps;
    const days = this.deps.retentionDays();
    // Announced first, all together: none of them can be restored from here on.
    for (const r of recs) {
      this.inFlight.add(r.id);
      if (r.state !== 'emptying') store.trash.setState(r.id, 'emptying');
    }
    const result: TrashEmptyView = { emptied: [], files: 0, bytes: 0, failed: [] };
    try {
      const mounts = fs.existsSync(layout.trash) ? mountPointsUnder(layout.trash) : null;
      for (const r of recs) {
        try {
          const removed = await removeEntry(layout.trash, r.id, mounts, () => this.stopping);
          store.trash.remove(r.id);
          result.emptied.push(this.view(r, days));
          result.files += removed.files;
          result.bytes += removed.bytes;
          store.events.add(r.nodeId, 'trash.emptied', { entry: r.id, name: r.name, why, files: removed.files, bytes: removed.bytes });
        } catch (e) {
          const message = (e as Error).message;
          if (!this.stopping) store.trash.setError(r.id, message);
          result.failed.push({ id: r.id, message });
          log.warn('trash.empty_failed', { entry: r.id, name: r.name, error: message });
        } finally {
          this.inFlight.delete(r.id);
        }
      }
    } finally {
      for (const r of recs) this.inFlight.delete(r.id);
      this.recount();
    }
    if (result.emptied.length) log.info('trash.emptied', { why, entries: result.emptied.map((e) => e.id), files: result.files, bytes: result.bytes });
    return result;
  }
}
