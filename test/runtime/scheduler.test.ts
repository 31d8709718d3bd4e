/**
 * The real scheduler arms a long timer (a request's deadline) at a multiple of GRAIN_MS and sets
 * the rest when that fires: it must fire exactly when a plain timer of the asked duration fires
 * (on node's own timers, faked here so the check is to the millisecond), and cancel in either phase.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GRAIN_MS, realScheduler } from '../../src/runtime/scheduler.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** The scheduler's timer and a plain one, side by side: the step at which each fired. */
function race(ms: number): { ours: () => number | null; plain: () => number | null } {
  let ours: number | null = null;
  let plain: number | null = null;
  const t0 = Date.now();
  realScheduler.after(ms, () => (ours = Date.now() - t0));
  setTimeout(() => (plain = Date.now() - t0), Math.max(0, ms));
  return { ours: () => ours, plain: () => plain };
}

describe('realScheduler.after', () => {
  const durations = [0, 1, 5, 999, 1023, 1024, 2047, 2048, 2049, 3071, 3072, 30_000, 59_393, 59_999, 60_000, 600_001];
  it.each(durations)('fires a %i ms timer when a plain setTimeout of that duration fires, not a millisecond before or after', (ms) => {
    const r = race(ms);
    if (ms > 1) vi.advanceTimersByTime(ms - 1);
    if (ms > 1) expect([r.ours(), r.plain()]).toEqual([null, null]);
    vi.advanceTimersByTime(ms > 1 ? 1 : Math.max(1, ms));
    expect(r.plain()).not.toBeNull();
    expect(r.ours()).toBe(r.plain());
  });

  it('arms deadlines that differ by the milliseconds spent at the same duration (one node timer list)', () => {
    const set = vi.spyOn(globalThis, 'setTimeout');
    for (const ms of [60_000, 59_997, 59_500, 59_393]) realScheduler.after(ms, () => {})();
    expect(set.mock.calls.map((c) => c[1])).toEqual([59_392, 59_392, 59_392, 59_392]);
    expect(59_392 % GRAIN_MS).toBe(0);
    set.mockRestore();
  });

  it('cancels before the coarse part fires and while the rest is pending', () => {
    let fired = 0;
    const early = realScheduler.after(10_000, () => fired++);
    vi.advanceTimersByTime(5_000);
    early();
    const late = realScheduler.after(10_000, () => fired++);
    vi.advanceTimersByTime(10_000 - (10_000 % GRAIN_MS) + 1);
    late();
    vi.advanceTimersByTime(20_000);
    expect(fired).toBe(0);
  });
});
