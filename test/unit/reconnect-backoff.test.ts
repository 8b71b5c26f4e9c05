import { describe, expect, it } from 'vitest';
import { RECONNECT_FAST_MS, ReconnectBackoff } from '../../main/node/retries';

/** Waits of a backoff under a mocked clock, advancing the clock by each wait. */
function waits(b: ReconnectBackoff, clock: { t: number }, forMs: number): number[] {
  const out: number[] = [];
  const end = clock.t + forMs;
  while (clock.t < end) {
    const { waitMs } = b.next();
    out.push(waitMs);
    clock.t += waitMs;
  }
  return out;
}

describe('ReconnectBackoff', () => {
  it('retries about every 100 ms for a while after losing a session that worked (a hub restart), then backs off', () => {
    const clock = { t: 1_000_000 };
    const b = new ReconnectBackoff(() => clock.t, () => 1);
    b.welcomed();
    const fast = waits(b, clock, RECONNECT_FAST_MS);
    // Without the fast window the waits had grown past 500 ms within a second of the loss.
    expect(Math.max(...fast)).toBeLessThanOrEqual(125);
    expect(fast.length).toBeGreaterThan(50);
    const later = waits(b, clock, 60_000);
    expect(later[1]!).toBeGreaterThan(later[0]!);
    expect(Math.max(...later)).toBeLessThanOrEqual(30_000 * 1.25);
  });

  it('backs off from the first attempt when no session worked (a hub that is down or unreachable)', () => {
    const clock = { t: 0 };
    const b = new ReconnectBackoff(() => clock.t, () => 0.5);
    const w = waits(b, clock, 5_000);
    expect(w.slice(0, 3)).toEqual([100, 150, 225]);
    // A failed session afterwards does not start a fast window: only welcomed() does.
    expect(b.next().fast).toBe(false);
  });
});
