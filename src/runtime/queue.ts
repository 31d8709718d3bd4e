/**
 * Waiting for capacity when every candidate endpoint is throttled or busy: bounded by the
 * request's deadline and `resilience.queue.maxDepth`, woken first come first served whenever
 * an endpoint actor changes (a window freed, a request finished).
 */
interface Waiter {
  ticket: number;
  wake: (admitted: boolean) => void;
}

export class CapacityQueue {
  private waiters: Waiter[] = [];
  private nextTicket = 1;

  constructor(
    private readonly maxDepth: () => number,
    private readonly onDepth: (delta: 1 | -1) => void,
  ) {}

  get depth(): number {
    return this.waiters.length;
  }

  /**
   * Wait until something changes or `until` (epoch ms). Resolves false when the queue is full
   * or the signal aborted: the caller gives up. A caller that waits again passes the ticket
   * it got first, so it keeps its place in line.
   */
  ticket(): number {
    return this.nextTicket++;
  }

  wait(until: number, signal: AbortSignal, ticket: number, now = Date.now()): Promise<boolean> {
    if (signal.aborted || this.waiters.length >= this.maxDepth()) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        ticket,
        wake: (admitted) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          this.remove(waiter);
          resolve(admitted);
        },
      };
      const onAbort = () => waiter.wake(false);
      const timer = setTimeout(() => waiter.wake(true), Math.max(0, until - now));
      signal.addEventListener('abort', onAbort, { once: true });
      let i = this.waiters.length;
      while (i > 0 && this.waiters[i - 1]!.ticket > ticket) i--;
      this.waiters.splice(i, 0, waiter);
      this.onDepth(1);
    });
  }

  /** Something changed: wake everyone in arrival order; each re-checks and may queue again. */
  notify(): void {
    if (this.waiters.length === 0) return;
    const ws = this.waiters.slice();
    for (const w of ws) w.wake(true);
  }

  private remove(w: Waiter): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) {
      this.waiters.splice(i, 1);
      this.onDepth(-1);
    }
  }
}
