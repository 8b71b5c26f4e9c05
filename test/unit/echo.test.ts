/** Echoes: a path written waits for its watcher event, also when the event came first. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ECHO_WAIT_MS, Echoes } from '../../main/sync/echo';

beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });

describe('Echoes', () => {
  it('a path whose event never comes is handed on after ECHO_WAIT_MS', () => {
    const silent: string[][] = [];
    const e = new Echoes((p) => silent.push(p));
    e.expect(['a']);
    expect(e.size).toBe(1);
    vi.advanceTimersByTime(ECHO_WAIT_MS * 2);
    expect(silent).toEqual([['a']]);
    expect(e.size).toBe(0);
  });

  it('an event seen just before the path is expected is its echo (the rename\'s event can beat its completion)', () => {
    const silent: string[][] = [];
    const e = new Echoes((p) => silent.push(p));
    expect(e.seen('big.bin')).toBe(false);
    vi.advanceTimersByTime(20);
    e.expect(['big.bin']);
    expect(e.size).toBe(0);
    vi.advanceTimersByTime(ECHO_WAIT_MS * 2);
    expect(silent).toEqual([]);
  });

  it('an event older than ECHO_WAIT_MS, or one already taken as an echo, does not count for a later write', () => {
    const silent: string[][] = [];
    const e = new Echoes((p) => silent.push(p));
    e.seen('old');
    vi.advanceTimersByTime(ECHO_WAIT_MS + 1);
    e.expect(['old']);
    expect(e.size).toBe(1);
    e.expect(['twice']);
    expect(e.seen('twice')).toBe(false);
    e.expect(['twice']);
    expect(e.size).toBe(2);
    vi.advanceTimersByTime(ECHO_WAIT_MS * 2);
    expect(silent.flat().sort()).toEqual(['old', 'twice']);
  });
});
