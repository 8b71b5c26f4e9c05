/**
 * Percent and time left of a node's sync, per direction, as pure functions over samples of
 * what is pending (and, where the direction has one, a counter of bytes moved).
 *
 * An *episode* starts when something becomes pending (or the session changes) and ends when
 * nothing is: its total is what was pending at its start plus every increase seen since (work
 * added while it runs). Done is the total less what is pending, or the bytes moved since the
 * start when that says more (a large file shows progress while its blocks arrive, before it is
 * committed). The rate is the episode's average (done / time since its start), which does not
 * jump with each sample; the time left is what remains at that rate, unknown until something
 * was done. A percent stays below 100 while anything is pending.
 */

export interface ProgressSample {
  /** Pending now in this direction. */
  files: number;
  bytes: number;
  /** A counter of bytes moved in this direction that only grows within a session, or null. */
  moved: number | null;
  /** What the episode belongs to (the session's start): a new one starts a new episode. */
  epoch: number;
}

export interface ProgressTrack {
  epoch: number;
  startedAt: number;
  totalFiles: number;
  totalBytes: number;
  lastFiles: number;
  lastBytes: number;
  movedAtStart: number | null;
}

export interface Progress {
  /** 0 ≤ percent < 100 (a whole number) while something is pending. */
  percent: number;
  /** Milliseconds left at the episode's average rate; null until something was done. */
  etaMs: number | null;
}

/** Time within which a rate is not trusted yet (the time left is still "estimating"). */
export const ETA_AFTER_MS = 1000;

/** The episode after a sample (null: nothing pending, no episode). */
export function nextTrack(prev: ProgressTrack | null, s: ProgressSample, now: number): ProgressTrack | null {
  if (s.files <= 0 && s.bytes <= 0) return null;
  const restarted = !prev || prev.epoch !== s.epoch || (s.moved !== null && prev.movedAtStart !== null && s.moved < prev.movedAtStart);
  if (restarted) {
    return { epoch: s.epoch, startedAt: now, totalFiles: s.files, totalBytes: s.bytes, lastFiles: s.files, lastBytes: s.bytes, movedAtStart: s.moved };
  }
  return {
    ...prev,
    totalFiles: prev.totalFiles + Math.max(0, s.files - prev.lastFiles),
    totalBytes: prev.totalBytes + Math.max(0, s.bytes - prev.lastBytes),
    lastFiles: s.files,
    lastBytes: s.bytes,
  };
}

/** Percent and time left of an episode at a sample (null: no episode). */
export function progressOf(t: ProgressTrack | null, s: ProgressSample, now: number): Progress | null {
  if (!t) return null;
  const elapsed = now - t.startedAt;
  // By bytes when there are bytes to move; by entries when it is all deletions, directories, metadata.
  const byBytes = t.totalBytes > 0;
  const total = byBytes ? t.totalBytes : t.totalFiles;
  let done = total - (byBytes ? s.bytes : s.files);
  if (byBytes && s.moved !== null && t.movedAtStart !== null) done = Math.max(done, s.moved - t.movedAtStart);
  done = Math.min(Math.max(0, done), total);
  const percent = Math.min(99, Math.floor((done / total) * 100));
  const left = total - done;
  const etaMs = done > 0 && elapsed >= ETA_AFTER_MS ? Math.round(left / (done / elapsed)) : null;
  return { percent, etaMs };
}

/**
 * Episodes per node and direction: `sample` records a sample and says the progress. A node's
 * entry goes when nothing is pending, so the map holds only nodes with work.
 */
export class ProgressBoard {
  private readonly tracks = new Map<string, ProgressTrack>();

  sample(key: string, s: ProgressSample | null, now: number): Progress | null {
    const t = s ? nextTrack(this.tracks.get(key) ?? null, s, now) : null;
    if (t) this.tracks.set(key, t);
    else this.tracks.delete(key);
    return s ? progressOf(t, s, now) : null;
  }
}
