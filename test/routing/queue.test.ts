/**
 * CapacityQueue: the wait behind full endpoints (spec §5 "Queueing"): bounded by maxDepth and
 * the caller's deadline, first come first served, and — the request flow checks availability,
 * then awaits the budget, then dispatches — woken so that one freed slot admits one waiter.
 */
import { describe, expect, it } from 'vitest';
import { CapacityQueue } from '../../src/runtime/queue.js';

const tick = () => new Promise<void>((r) => setImmediate(r));
async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await tick();
}

function queue(maxDepth = 100) {
  let depth = 0;
  let entered = 0;
  let firsts = 0;
  const q = new CapacityQueue(
    () => maxDepth,
    (d, first) => {
      depth += d;
      if (d === 1) entered++;
      if (first) firsts++;
    },
  );
  return { q, depth: () => depth, entered: () => entered, firsts: () => firsts };
}

/** A caller shaped like the request driver (pick → reserve → send): check, await (budget), then take. */
function caller(q: CapacityQueue, slots: { free: number }, log: string[], name: string, signal = new AbortController().signal) {
  const ticket = q.ticket();
  return (async () => {
    for (;;) {
      if (slots.free > 0) {
        await Promise.resolve();
        await Promise.resolve();
        slots.free--;
        log.push(name);
        return 'dispatched';
      }
      const admitted = await q.wait(Date.now() + 60_000, signal, ticket);
      if (!admitted) return 'gave up';
    }
  })();
}

describe('CapacityQueue', () => {
  it("says a request's first entry apart from its re-waits (requestsQueued counted every re-wait)", async () => {
    const { q, entered, firsts } = queue(10);
    const signal = new AbortController().signal;
    const t = q.ticket();
    // One request (one ticket) waiting three times is one request queued; a second ticket is another.
    const a = q.wait(Date.now() + 20, signal, t);
    const b = q.wait(Date.now() + 20, signal, t);
    expect(await Promise.all([a, b])).toEqual([true, true]);
    await q.wait(Date.now() + 20, signal, t);
    const other = q.wait(Date.now() + 20, signal, q.ticket());
    await other;
    expect({ entered: entered(), firsts: firsts() }).toEqual({ entered: 4, firsts: 2 });
  });

  it('refuses at once when maxDepth waiters are queued (0: never queues)', async () => {
    const { q, depth } = queue(0);
    const ac = new AbortController();
    expect(await q.wait(Date.now() + 1000, ac.signal, q.ticket())).toBe(false);
    expect(depth()).toBe(0);
    const two = queue(2);
    const a = two.q.wait(Date.now() + 50, ac.signal, two.q.ticket());
    const b = two.q.wait(Date.now() + 50, ac.signal, two.q.ticket());
    expect(two.q.depth).toBe(2);
    expect(await two.q.wait(Date.now() + 50, ac.signal, two.q.ticket())).toBe(false);
    expect(await Promise.all([a, b])).toEqual([true, true]);
    expect(two.depth()).toBe(0);
  });

  it('wakes at `until` (admitted: re-check), and gives up on abort; depth is reported both ways', async () => {
    const { q, depth } = queue();
    const ac = new AbortController();
    const t0 = Date.now();
    const timed = q.wait(t0 + 80, new AbortController().signal, q.ticket(), t0);
    const aborted = q.wait(t0 + 60_000, ac.signal, q.ticket(), t0);
    expect(depth()).toBe(2);
    ac.abort();
    expect(await aborted).toBe(false);
    expect(depth()).toBe(1);
    expect(await timed).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(70);
    expect(depth()).toBe(0);
    expect(await q.wait(Date.now() + 1000, ac.signal, q.ticket())).toBe(false);
  });

  it('one freed slot admits exactly one waiter, the first in line; the others stay queued', async () => {
    const { q } = queue();
    const slots = { free: 0 };
    const log: string[] = [];
    const all = [caller(q, slots, log, 'a'), caller(q, slots, log, 'b'), caller(q, slots, log, 'c')];
    await ticks(2);
    expect(q.depth).toBe(3);
    slots.free = 1;
    q.notify();
    await ticks(10);
    expect(slots.free).toBe(0);
    expect(log).toEqual(['a']);
    expect(q.depth).toBe(2);
    slots.free = 1;
    q.notify();
    await ticks(10);
    expect(log).toEqual(['a', 'b']);
    slots.free = 5;
    q.notify();
    expect(await Promise.all(all)).toEqual(['dispatched', 'dispatched', 'dispatched']);
    expect(log).toEqual(['a', 'b', 'c']);
    expect(slots.free).toBe(4);
  });

  it('a caller that waits again keeps its place in line (its first ticket)', async () => {
    const { q } = queue();
    const slots = { free: 0 };
    const log: string[] = [];
    const first = caller(q, slots, log, 'first');
    await ticks(1);
    // Woken with nothing free: `first` re-queues with its old ticket, ahead of `second`.
    q.notify();
    await ticks(2);
    const second = caller(q, slots, log, 'second');
    await ticks(2);
    q.notify();
    await ticks(5);
    expect(q.depth).toBe(2);
    slots.free = 1;
    q.notify();
    await ticks(10);
    expect(log).toEqual(['first']);
    slots.free = 1;
    q.notify();
    await Promise.all([first, second]);
    expect(log).toEqual(['first', 'second']);
  });

  it('changes during a wake-up round are not lost', async () => {
    const { q } = queue();
    const slots = { free: 0 };
    const log: string[] = [];
    const all = [caller(q, slots, log, 'a'), caller(q, slots, log, 'b')];
    await ticks(1);
    q.notify(); // a round starts: `a` is woken first, finds nothing free and queues again
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(q.depth).toBe(2);
    slots.free = 2;
    q.notify(); // during the round (b not woken yet): b takes one; a needs another round
    const outcome = await Promise.race([Promise.all(all), ticks(50).then(() => 'stuck')]);
    expect(outcome).toEqual(['dispatched', 'dispatched']);
    expect(log).toEqual(['b', 'a']);
  });
});

describe('CapacityQueue.shed (shutting down)', () => {
  it('wakes at once, with "shed", the waits whose capacity frees only after the grace period; a wait that may end any time stays; later waits alike', async () => {
    const { q, depth } = queue();
    const now = Date.now();
    const signal = new AbortController().signal;
    const throttledLong = q.wait(now + 60_000, signal, q.ticket(), now, now + 30_000);
    const throttledShort = q.wait(now + 60_000, signal, q.ticket(), now, now + 2_000);
    const busy = q.wait(now + 60_000, signal, q.ticket(), now, null);
    expect(depth()).toBe(3);
    q.shed(now + 10_000);
    expect(await throttledLong).toBe('shed');
    expect(depth()).toBe(2);
    // A request that starts waiting after the shutdown began, for a throttle past its end: at once.
    expect(await q.wait(now + 60_000, signal, q.ticket(), now, now + 20_000)).toBe('shed');
    q.notify();
    expect(await throttledShort).toBe(true);
    await ticks(2);
    expect(await busy).toBe(true);
    expect(depth()).toBe(0);
  });
});
