/**
 * Waiting for capacity when every candidate endpoint is throttled or busy: bounded by the
 * request's deadline and `resilience.queue.maxDepth`, woken first come first served whenever
 * an endpoint actor changes (a window freed, a request finished).
 *
 * First come, first served holds for the endpoints too: a waiter *claims* the endpoints it
 * found full (see {@link CapacityQueue.claimedBefore}), and a request that came later passes
 * over a claimed endpoint even when it has room (a new request, or a waiter woken before the
 * one with the claim), so the slot goes to the request that waited longest. Without it a new
 * request took a slot freed while a wake-up round ran, and waiters ran out their deadlines
 * while later requests were served.
 */
import { realScheduler, type Scheduler } from './scheduler.js';
import type { CancelSignal } from './cancel.js';
/** A request's place in line, kept across its waits; `entered` once it first stood in the line (a re-wait is not a new request queued). */
export interface Ticket {
  readonly n: number;
  entered: boolean;
}

interface Waiter {
  ticket: Ticket;
  /** When the capacity it waits for frees (every candidate's throttle known), or null when it may free any time (busy). */
  freesAt: number | null;
  /** The endpoints it found full when it last looked (ids): a later request leaves them to it. */
  claims: readonly string[];
  /** Set once woken (admitted, timed out or aborted); it is then out of the line. */
  done: boolean;
  wake: (admitted: boolean | 'shed') => void;
}

export class CapacityQueue {
  private waiters: Waiter[] = [];
  private nextTicket = 1;
  /** A wake-up round is running (see notify). */
  private waking = false;
  /** Something changed again during the round: run another one after it. */
  private again = false;
  /** Shutting down: the end of the grace period (epoch ms), after which no wait can be served here. */
  private drainEnd: number | null = null;
  private readonly sleepers = new Set<{ until: number; shed: () => void }>();

  constructor(
    private readonly maxDepth: () => number,
    /** `first`: a request entering the line for the first time (not one woken that waits again). */
    private readonly onDepth: (delta: 1 | -1, first: boolean) => void,
    private readonly scheduler: Scheduler = realScheduler,
  ) {}

  get depth(): number {
    return this.waiters.length;
  }

  /**
   * Wait until something changes or `until` (epoch ms). Resolves false when the queue is full
   * or the signal aborted: the caller gives up. A caller that waits again passes the ticket
   * it got first, so it keeps its place in line.
   */
  ticket(): Ticket {
    return { n: this.nextTicket++, entered: false };
  }

  wait(
    until: number,
    signal: CancelSignal,
    ticket: Ticket,
    now = Date.now(),
    freesAt: number | null = null,
    claims: readonly string[] = [],
  ): Promise<boolean | 'shed'> {
    if (this.sheds(freesAt)) return Promise.resolve('shed');
    if (signal.aborted || this.waiters.length >= this.maxDepth()) return Promise.resolve(false);
    return new Promise<boolean | 'shed'>((resolve) => {
      const waiter: Waiter = {
        ticket,
        freesAt,
        claims,
        done: false,
        wake: (admitted) => {
          if (waiter.done) return;
          waiter.done = true;
          cancel();
          signal.removeEventListener('abort', onAbort);
          this.remove(waiter);
          resolve(admitted);
        },
      };
      const onAbort = () => waiter.wake(false);
      const cancel = this.scheduler.after(until - now, () => waiter.wake(true));
      signal.addEventListener('abort', onAbort, { once: true });
      let i = this.waiters.length;
      while (i > 0 && this.waiters[i - 1]!.ticket.n > ticket.n) i--;
      this.waiters.splice(i, 0, waiter);
      const first = !ticket.entered;
      ticket.entered = true;
      this.onDepth(1, first);
    });
  }

  /**
   * Shutting down, its grace period ending at `drainEnd`: a wait whose capacity frees only after
   * that (every candidate throttled past it) cannot be served by this process. Such waiters, now
   * and later, are woken with `'shed'` (the request answers 503 shutting_down at once, to be sent
   * to another instance) instead of holding the shutdown for the whole grace period. A wait that
   * may end any time (a busy endpoint) goes on: the requests in flight free it.
   */
  shed(drainEnd: number): void {
    this.drainEnd = drainEnd;
    for (const w of this.waiters.slice()) if (this.sheds(w.freesAt)) w.wake('shed');
    for (const s of [...this.sleepers])
      if (this.sheds(s.until)) {
        this.sleepers.delete(s);
        s.shed();
      }
  }

  /**
   * A retry's wait on one endpoint until `until` (a 429's retry-after, a 5xx's backoff) is shed
   * like a queued wait: `shed` is called at once when shutdown has begun and the wait ends after
   * its grace period, or when shutdown begins so later (the request answered 503 shutting_down
   * at the end of the grace period, and held the exit until then). Returns the wait's end.
   */
  sleeping(until: number, shed: () => void): () => void {
    if (this.sheds(until)) {
      shed();
      return () => undefined;
    }
    const s = { until, shed };
    this.sleepers.add(s);
    return () => this.sleepers.delete(s);
  }

  /**
   * Whether a request ahead of ticket number `n` waits for `endpointId` (it found it full): the
   * caller, later in line, must leave the endpoint to it even if it has room now. The caller
   * then waits too, and calls {@link notify} so the one ahead is woken to take the room.
   */
  claimedBefore(endpointId: string, n: number): boolean {
    for (const w of this.waiters) {
      if (w.ticket.n >= n) return false;
      if (!w.done && w.claims.includes(endpointId)) return true;
    }
    return false;
  }

  private sheds(freesAt: number | null): boolean {
    return this.drainEnd !== null && freesAt !== null && freesAt > this.drainEnd;
  }

  /**
   * Something changed: wake everyone in arrival order; each re-checks and may queue again.
   * One waiter per macrotask: the woken one re-checks and dispatches in microtasks (the
   * endpoint's window then counts it) before the next one looks. Waking all at once let every
   * waiter see the same freed slot and go, over the endpoint's rpm. Changes during a round are
   * coalesced into one more round.
   */
  notify(): void {
    if (this.waiters.length === 0) return;
    if (this.waking) {
      this.again = true;
      return;
    }
    this.waking = true;
    const round = this.waiters.slice();
    const step = (i: number): void => {
      while (i < round.length && round[i]!.done) i++;
      if (i >= round.length) {
        this.waking = false;
        if (this.again) {
          this.again = false;
          this.notify();
        }
        return;
      }
      round[i]!.wake(true);
      setImmediate(() => step(i + 1));
    };
    step(0);
  }

  private remove(w: Waiter): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) {
      this.waiters.splice(i, 1);
      this.onDepth(-1, false);
    }
  }
}
