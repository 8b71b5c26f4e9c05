/**
 * A small pool of worker threads for walking, hashing and committing small files, so that none
 * of it stalls the event loop of the hub (which also serves the UI) or of the node. Counts what
 * it hashed; logs what its workers say about group commit's barrier.
 */
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import type { BarrierNote, CommitRequest, CommitResult, HashResult, RecordedFile, SearchRequest, ServeItem, WalkResult, WorkerOptions, WorkerRequest, WorkerResponse } from './fs-protocol';
import { UnsafePathError } from './paths';
import { CASE_CODE, CaseConflict } from './expect';
import { SYNC_FS_COMMAND, barrierUnsupported } from './barrier';
import { GROUP_MIN_FILES } from './group-commit';
import type { Logger } from '../util/log';
import { blockCount, fileHashFromBlocks } from './blocks';
import { workerFile } from './worker-file';

/**
 * A backlog of small commits goes to a worker in one message, which commits them as a group
 * (group-commit.ts: one barrier for the batch's bytes, one for its renames): fewer thread
 * wake-ups and messages, and the barrier's cost shared. A batch is what is queued when a
 * worker is free (no timer: a lone change leaves at once), up to COMMIT_BATCH files and
 * COMMIT_BATCH_BYTES. Its completions are handed out RESOLVE_PER_TURN per event-loop turn:
 * 16 completions of 100 KiB files landing in one turn had raised the hub's event-loop lag p99
 * from 13 to 23 ms.
 */
export const COMMIT_BATCH = 128;
export const COMMIT_BATCH_BYTES = 4 * 1024 * 1024;
const RESOLVE_PER_TURN = 16;

export interface FsPoolOptions {
  /** Files of at least this size are hashed by all the workers at once (default SPLIT_HASH_MIN). */
  splitHashMin?: number;
  /** Where group commit's fallback to per-file fsync is said (warn). */
  log?: Logger;
  /** Group commit's barrier command (barrier.ts); null: none, every file fsynced. */
  barrierCommand?: readonly string[] | null;
  /** A worker idle this long ends (default IDLE_WORKER_MS; 0: never); see retire(). */
  idleMs?: number;
}

/**
 * A worker that has walked or hashed tens of thousands of files keeps a V8 heap of ~40-50 MiB
 * (mostly garbage V8 has no reason to collect while the thread sleeps); a fresh one ~5-6 MiB.
 * So a worker idle for IDLE_WORKER_MS ends; one is started again in its place at once, fresh,
 * if none is left (a lone change then finds a worker ready, its start not on its path), and
 * more on demand. Each worker's young generation is also capped (WORKER_YOUNG_MB; Node's
 * default lets it reach 48 MiB), so that its heap grows less between collections.
 */
export const IDLE_WORKER_MS = 5_000;
const WORKER_YOUNG_MB = 8;

/** Workers of a pool by default (the node's one pool, the hub's hashing pool): the cores, 1-4. */
export function defaultPoolSize(): number {
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

/**
 * A file of at least this size is hashed by all the pool's workers at once, each a range of
 * its blocks (SHA-256 bounds the speed, ~1.7 GB/s per thread here, not the disk): the node's
 * re-hash of a changed big file is most of a delta update's time on its side.
 */
export const SPLIT_HASH_MIN = 64 * 1024 * 1024;

interface Task {
  req: WorkerRequest;
  resolve: (r: WorkerResponse) => void;
  reject: (e: Error) => void;
  /** Someone waits on it to send bytes (serveMany): first in the queue, and it may take one worker more than `size`. */
  urgent?: boolean;
}

export class FsPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly queue: Task[] = [];
  /** Commit messages sent to workers and the files in them since takeCommitStats(). */
  private commitStats = { groups: 0, files: 0, alone: 0, belowGroupMin: 0 };
  private readonly running = new Map<Worker, Task>();
  /** Idle workers that have run a task since they started: when each ends if still idle. */
  private readonly idleTimers = new Map<Worker, NodeJS.Timeout>();
  /** Workers ending because they were idle (their answer to 'close' is not a task's). */
  private readonly retiring = new Set<Worker>();
  /** Workers started since this pool was created (replacements included). */
  workersStarted = 0;
  private nextId = 1;
  private closed = false;
  /** Totals since this pool was created: what `bytesHashedSinceStart` reports. */
  bytesHashed = 0;
  filesHashed = 0;
  /** Files hashed in parts by several workers (SPLIT_HASH_MIN). */
  filesSplit = 0;

  private readonly file: string;
  private readonly workerOptions: WorkerOptions;
  /** Reasons already logged that there is no barrier (each worker finds out for itself). */
  private readonly saidUnavailable = new Set<string>();

  /** Workers start on demand, up to `size`; one that dies is replaced by the next task. */
  constructor(private readonly size = defaultPoolSize(), private readonly options: FsPoolOptions = {}) {
    this.file = workerFile();
    this.workerOptions = { barrierCommand: options.barrierCommand === undefined ? SYNC_FS_COMMAND : options.barrierCommand };
  }

  private spawn(): Worker {
    const w = new Worker(this.file, { workerData: this.workerOptions, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } });
    this.workersStarted++;
    w.unref();
    w.on('message', (res: WorkerResponse) => this.done(w, res));
    w.on('error', (e) => this.failWorker(w, e));
    w.on('exit', () => this.failWorker(w, new Error('fs worker exited')));
    this.all.push(w);
    return w;
  }

  /** Everything under root/subtree (shallow: only the entries of root itself). */
  async walk(root: string, subtree = '', shallow = false, exactCase = false): Promise<WalkResult> {
    const res = await this.run({ id: 0, op: 'walk', root, subtree, shallow, exactCase });
    if (!res.ok) throw Object.assign(new Error(res.error), { code: res.code });
    return res.walk!;
  }

  /** `sizeHint`: the size the file had when listed (a large one is hashed in parts). */
  async hash(file: string, blockSize: number, sizeHint?: number): Promise<HashResult> {
    if (this.size > 1 && sizeHint !== undefined && sizeHint >= (this.options.splitHashMin ?? SPLIT_HASH_MIN)) return this.hashSplit(file, blockSize, sizeHint);
    const res = await this.run({ id: 0, op: 'hash', file, blockSize });
    if (!res.ok) throw Object.assign(new Error(`${file}: ${res.error}`), { code: res.code });
    return this.received(res.hash!);
  }

  /**
   * One file hashed by `size` workers, each a range of its blocks. Each part checks the file's
   * stamp before and after its range; the parts must all show the same stamp and cover the
   * file, else it changed while it was read (a write moves the mtime, so a part that ran
   * after it shows another stamp than one that ran before it). The last part runs to the end
   * of the file, whatever its size now.
   */
  private async hashSplit(file: string, blockSize: number, sizeHint: number): Promise<HashResult> {
    const per = Math.ceil(blockCount(sizeHint, blockSize) / this.size);
    const parts = await Promise.all(Array.from({ length: this.size }, (_, k) => this.run({ id: 0, op: 'hash', file, blockSize, range: { first: k * per, count: k === this.size - 1 ? Number.MAX_SAFE_INTEGER : per } })));
    const hs: HashResult[] = [];
    for (const res of parts) {
      if (!res.ok) throw Object.assign(new Error(`${file}: ${res.error}`), { code: res.code });
      hs.push(res.hash!);
    }
    const first = hs[0]!;
    if (first.changed) return first;
    for (const h of hs) {
      if (h.changed || h.size !== first.size || h.mtimeMs !== first.mtimeMs || h.ino !== first.ino || h.mode !== first.mode) return { changed: true };
    }
    const blocks = Buffer.concat(hs.map((h) => (h.changed ? [] : [h.blocks])).flat());
    if (blocks.length !== blockCount(first.size, blockSize) * 32) return { changed: true };
    const weak = Buffer.concat(hs.map((h) => (h.changed ? [] : [h.weak])).flat());
    this.filesSplit++;
    return this.received({ changed: false, size: first.size, mtimeMs: first.mtimeMs, mode: first.mode, ino: first.ino, hash: fileHashFromBlocks(blocks), blocks, weak });
  }

  /** Worker results arrive as plain Uint8Arrays: make them Buffers again, and count them. */
  private received(h: HashResult): HashResult {
    if (!h.changed) {
      h.blocks = Buffer.from(h.blocks.buffer, h.blocks.byteOffset, h.blocks.byteLength);
      h.hash = Buffer.from(h.hash.buffer, h.hash.byteOffset, h.hash.byteLength);
      h.weak = Buffer.from(h.weak.buffer, h.weak.byteOffset, h.weak.byteLength);
      this.bytesHashed += h.size;
      this.filesHashed += 1;
    }
    return h;
  }

  /** Block index → offset in `req.file` of the wanted blocks found there (fs-worker.ts search). */
  async search(req: SearchRequest): Promise<Map<number, number>> {
    const res = await this.run({ id: 0, op: 'search', search: req });
    if (!res.ok) throw Object.assign(new Error(`${req.file}: ${res.error}`), { code: res.code });
    return new Map(res.found ?? []);
  }

  /** Hashes many (small) files in one worker message; one result per file, in order. */
  async hashMany(files: string[], blockSize: number): Promise<(HashResult | Error)[]> {
    const res = await this.run({ id: 0, op: 'hashMany', files, blockSize });
    if (!res.ok) throw Object.assign(new Error(res.error), { code: res.code });
    return res.many!.map((r, i) => {
      if (!r.ok) return Object.assign(new Error(`${files[i]}: ${r.error}`), { code: r.code });
      return this.received(r.hash);
    });
  }

  /**
   * Reads blocks as block requests are answered (serve-block.ts), in one worker message: per
   * item its bytes or an error, and whether its file was found changed. Urgent (run()).
   */
  async serveMany(root: string, items: ServeItem[]): Promise<{ data: Buffer; error: string; changed: boolean }[]> {
    const res = await this.run({ id: 0, op: 'serveMany', root, items }, true);
    if (!res.ok) throw Object.assign(new Error(res.error), { code: res.code });
    const { data, lengths, errors, changed } = res.served!;
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength), wasChanged = new Set(changed);
    let at = 0;
    return lengths.map((n, i) => {
      at += n;
      return { data: buf.subarray(at - n, at), error: errors[i]!, changed: wasChanged.has(i) };
    });
  }

  /** Small files (at most a block each) read whole as recorded (serveMany); null: not read so. */
  async readMany(root: string, files: RecordedFile[]): Promise<(Buffer | null)[]> {
    const served = await this.serveMany(root, files.map((f) => ({ path: f.path, offset: 0, size: f.size, rec: f })));
    return served.map((s) => (s.error ? null : s.data));
  }

  /**
   * Writes a small verified file atomically; resolves once it is in place and durable (or,
   * with `syncDir` false and no barrier, durable but for its directory: `dirSynced`). When
   * commits queue up, a free worker takes up to COMMIT_BATCH of them in one message and
   * commits them as a group (group-commit.ts).
   */
  async commit(c: CommitRequest): Promise<CommitResult> {
    if (this.saidUnavailable.size === 0 && this.workerOptions.barrierCommand !== null) {
      const why = barrierUnsupported();
      if (why) this.noted([{ kind: 'unavailable', reason: why, files: 0 }]);
    }
    const res = await this.run({ id: 0, op: 'commit', commit: c });
    if (!res.ok) {
      if (res.unsafe) throw new UnsafePathError(c.wirePath, res.error.replace(/^unsafe path "[^"]*": /, ''));
      if (res.code === CASE_CODE && res.variant) throw new CaseConflict(c.wirePath, res.variant);
      throw Object.assign(new Error(`${c.wirePath}: ${res.error}`), { code: res.code });
    }
    return res.commit!;
  }

  /**
   * How commits went to the workers since the last call: messages (`groups`), the files in them,
   * the files that went alone, and those in messages too small for the barrier (GROUP_MIN_FILES:
   * each of them pays a per-file fsync); the counts start again.
   */
  takeCommitStats(): { groups: number; files: number; alone: number; belowGroupMin: number } {
    const s = this.commitStats;
    this.commitStats = { groups: 0, files: 0, alone: 0, belowGroupMin: 0 };
    return s;
  }

  /** Takes queued commits (after `first`) to send along with it, up to the batch limits. */
  private batchWith(first: Task): Task {
    if (first.req.op !== 'commit') return first;
    const batch = [first];
    let bytes = first.req.commit.data.byteLength;
    for (let i = 0; i < this.queue.length && batch.length < COMMIT_BATCH && bytes < COMMIT_BATCH_BYTES;) {
      const t = this.queue[i]!;
      if (t.req.op !== 'commit') { i++; continue; }
      this.queue.splice(i, 1);
      batch.push(t);
      bytes += t.req.commit.data.byteLength;
    }
    if (batch.length === 1) return first;
    const commits = batch.map((t) => (t.req as Extract<WorkerRequest, { op: 'commit' }>).commit);
    return {
      req: { id: first.req.id, op: 'commitMany', commits },
      resolve: (res) => inTurns(batch.map((t, i) => () => {
        const r = res.ok ? res.commits![i]! : res;
        t.resolve(r.ok ? { id: t.req.id, ok: true, commit: r.commit } : { id: t.req.id, ok: false, error: r.error, code: r.code, unsafe: r.unsafe, variant: r.variant });
      })),
      reject: (e) => batch.forEach((t) => t.reject(e)),
    };
  }

  /** Says what a worker found about the barrier: its absence once per reason, each fallback. */
  private noted(notes: BarrierNote[]): void {
    for (const n of notes) {
      if (n.kind === 'unavailable') {
        if (this.saidUnavailable.has(n.reason)) continue;
        this.saidUnavailable.add(n.reason);
        this.options.log?.warn('commit.barrier_unavailable', { reason: n.reason, fallback: 'fsync of every file and directory (slower, as durable)' });
      } else {
        this.options.log?.warn('commit.barrier_failed', { reason: n.reason, files: n.files, fallback: 'this batch fsynced file by file' });
      }
    }
  }

  /** Workers alive now (idle or busy; not those ending). */
  get workers(): number {
    return this.all.length;
  }

  /**
   * Ends `w`, idle for IDLE_WORKER_MS after a task; if it was the last one, starts a fresh one
   * in its place (idle, cheap, and ready for the next change).
   */
  private retire(w: Worker): void {
    this.idleTimers.delete(w);
    const j = this.idle.indexOf(w);
    if (this.closed || j < 0) return;
    this.idle.splice(j, 1);
    this.all.splice(this.all.indexOf(w), 1);
    this.retiring.add(w);
    const end = (): void => {
      if (!this.retiring.delete(w)) return;
      void w.terminate();
    };
    // Its barrier helper ends first (as in close()); then the thread.
    w.once('message', end);
    w.once('exit', end);
    w.postMessage({ id: 0, op: 'close' } satisfies WorkerRequest);
    if (this.all.length === 0) this.idle.push(this.spawn());
  }

  async close(): Promise<void> {
    this.closed = true;
    // The workers are unref'd: while the process waits for their goodbyes, nothing else may
    // keep it alive (a hub's last step, its servers closed), and it would end there, before
    // what comes after the close (the hub's clean-shutdown mark: the next start would then
    // verify as after a crash, with every node waiting for it).
    for (const w of [...this.all, ...this.retiring]) w.ref();
    for (const t of this.idleTimers.values()) clearTimeout(t);
    this.idleTimers.clear();
    await Promise.all([...this.retiring].map((w) => w.terminate()));
    for (const t of this.queue.splice(0)) t.reject(new Error('fs pool closed'));
    // Idle workers end their barrier helpers first (a busy one's helper ends with the process).
    await Promise.all(this.idle.map((w) => new Promise<void>((resolve) => {
      w.once('message', () => resolve());
      w.once('exit', () => resolve());
      w.postMessage({ id: 0, op: 'close' } satisfies WorkerRequest);
    })));
    await Promise.all(this.all.map((w) => w.terminate()));
  }

  /** `first`: urgent, after the urgent tasks queued and ahead of the others. */
  private run(req: WorkerRequest, first = false): Promise<WorkerResponse> {
    if (this.closed) return Promise.reject(new Error('fs pool closed'));
    req.id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (first) this.queue.splice(this.queue.findIndex((t) => !t.urgent) >>> 0, 0, { req, resolve, reject, urgent: true });
      else this.queue.push({ req, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    // An urgent task may run beside `size` busy ones (the hub's reads for a node do not wait behind a scan's hashing).
    const cap = () => this.size + (this.queue[0]?.urgent ? 1 : 0);
    while (this.queue.length > 0 && this.running.size < cap() && (this.idle.length > 0 || this.all.length < cap())) {
      const w = this.idle.pop() ?? this.spawn();
      clearTimeout(this.idleTimers.get(w));
      this.idleTimers.delete(w);
      const t = this.batchWith(this.queue.shift()!);
      this.running.set(w, t);
      w.ref();
      // A commit's data moves to the worker (its buffer becomes unusable here) instead of being copied.
      const commits = t.req.op === 'commit' ? [t.req.commit] : t.req.op === 'commitMany' ? t.req.commits : [];
      if (commits.length > 0) {
        this.commitStats.groups++;
        this.commitStats.files += commits.length;
        if (commits.length === 1) this.commitStats.alone++;
        if (commits.length < GROUP_MIN_FILES) this.commitStats.belowGroupMin += commits.length;
      }
      const transfer = [...new Set(commits.filter((c) => c.data.byteLength === c.data.buffer.byteLength).map((c) => c.data.buffer as ArrayBuffer))];
      w.postMessage(t.req, transfer);
    }
  }

  private done(w: Worker, res: WorkerResponse): void {
    if (this.retiring.has(w)) return;
    const t = this.running.get(w);
    this.running.delete(w);
    w.unref();
    this.idle.push(w);
    const idleMs = this.options.idleMs ?? IDLE_WORKER_MS;
    if (idleMs > 0 && !this.closed) this.idleTimers.set(w, setTimeout(() => this.retire(w), idleMs).unref());
    if (res.ok && res.notes) this.noted(res.notes);
    t?.resolve(res);
    this.pump();
  }

  private failWorker(w: Worker, e: Error): void {
    this.retiring.delete(w);
    clearTimeout(this.idleTimers.get(w));
    this.idleTimers.delete(w);
    const t = this.running.get(w);
    this.running.delete(w);
    const i = this.all.indexOf(w);
    if (i >= 0) this.all.splice(i, 1);
    const j = this.idle.indexOf(w);
    if (j >= 0) this.idle.splice(j, 1);
    t?.reject(e);
    if (!this.closed) this.pump();
  }
}

/** Runs `fns` RESOLVE_PER_TURN per event-loop turn, the first ones now. */
function inTurns(fns: (() => void)[]): void {
  for (const f of fns.slice(0, RESOLVE_PER_TURN)) f();
  if (fns.length > RESOLVE_PER_TURN) setImmediate(() => inTurns(fns.slice(RESOLVE_PER_TURN)));
}
