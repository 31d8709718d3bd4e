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

export const realScheduler: Scheduler = {
  now: Date.now,
  after(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
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
