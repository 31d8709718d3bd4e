/**
 * Time for the runtime, injected: real timers in production, a simulated clock in tests.
 * Everything a request waits for (a backoff, the deadline, capacity) goes through it.
 */
import type { CancelSignal } from './cancel.js';

export interface Scheduler {
  now(): number;
  /** Run `fn` after `ms`; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/**
 * Node keeps one timer list per distinct duration, created when the first timer of that duration
 * is set and dropped when its last is cleared. A request's deadline is `timeout - elapsed`, a
 * duration that differs by the milliseconds already spent, so armed as asked nearly every request
 * would create and drop a list of its own. A long timer is armed instead at the multiple of
 * GRAIN_MS just below its duration (the lists in-flight requests share) and, when that fires (a
 * request that lasted that long), sets the few milliseconds left: it fires when a plain timer
 * would, give or take the turn between the two.
 */
export const GRAIN_MS = 1024;
/** Node's longest timer (longer ones it fires after 1 ms): those go as asked. */
const TIMEOUT_MAX = 2 ** 31 - 1;

export const realScheduler: Scheduler = {
  now: Date.now,
  after(ms, fn) {
    if (!(ms >= 2 * GRAIN_MS && ms <= TIMEOUT_MAX)) {
      const t = setTimeout(fn, Math.max(0, ms));
      return () => clearTimeout(t);
    }
    const rest = ms % GRAIN_MS;
    let t = setTimeout(() => {
      if (rest > 0) t = setTimeout(fn, rest);
      else fn();
    }, ms - rest);
    return () => clearTimeout(t);
  },
};

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleepOn(s: Scheduler, ms: number, signal: CancelSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const cancel = s.after(ms, done);
    function done(): void {
      cancel();
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Resolves once `s.now()` has reached `until`, or at once when `signal` aborts. Node times a timer
 * on its monotonic clock in whole milliseconds, while `now()` is the wall clock: measured here,
 * about 1 timer in 100 set for `until - now` fired a millisecond before `until` by `Date.now()`.
 * A waiter that must not act before `until` (the same endpoint again after a 429's retry-after,
 * which throttles it until then; a CI run failed over once for it) sleeps again for what is left.
 */
export async function sleepUntil(s: Scheduler, until: number, signal: CancelSignal): Promise<void> {
  for (let left = until - s.now(); left > 0 && !signal.aborted; left = until - s.now()) await sleepOn(s, left, signal);
}
