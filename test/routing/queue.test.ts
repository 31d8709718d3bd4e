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

/**
 * A caller as the request driver is with claims: it waits claiming the endpoint `e` it found
 * full, and leaves a free slot of `e` to a waiter ahead of it that claims it (waking the line).
 */
function fairCaller(q: CapacityQueue, slots: { free: number }, log: string[], name: string) {
  const ticket = q.ticket();
  return (async () => {
    for (;;) {
      if (slots.free > 0 && !q.claimedBefore('e', ticket.n)) {
        await Promise.resolve();
        await Promise.resolve();
        slots.free--;
        log.push(name);
        return 'dispatched';
      }
      if (slots.free > 0) q.notify();
      const admitted = await q.wait(Date.now() + 60_000, new AbortController().signal, ticket, Date.now(), null, ['e']);
      if (!admitted) return 'gave up';
    }
  })();
}

describe('CapacityQueue claims (first come, first served for the endpoints)', () => {
  it('tells whether a waiter ahead of a ticket claims an endpoint; one woken (out of the line) no longer does', async () => {
    const { q } = queue();
    const signal = new AbortController().signal;
    const a = q.ticket();
    const b = q.ticket();
    const c = q.ticket();
    const wa = q.wait(Date.now() + 60_000, signal, a, Date.now(), null, ['e']);
    const wb = q.wait(Date.now() + 60_000, signal, b, Date.now(), null, ['f']);
    expect([q.claimedBefore('e', a.n), q.claimedBefore('e', b.n), q.claimedBefore('e', c.n)]).toEqual([false, true, true]);
    expect([q.claimedBefore('f', b.n), q.claimedBefore('f', c.n), q.claimedBefore('g', c.n)]).toEqual([false, true, false]);
    q.notify();
    expect(await wa).toBe(true);
    expect(q.claimedBefore('e', c.n)).toBe(false);
    await ticks(2);
    expect(await wb).toBe(true);
    expect(q.claimedBefore('f', c.n)).toBe(false);
  });

  it('a slot freed during a wake-up round goes to the first in line, not to the waiter the round has reached (it went to b before)', async () => {
    const { q } = queue();
    const slots = { free: 0 };
    const log: string[] = [];
    const all = [fairCaller(q, slots, log, 'a'), fairCaller(q, slots, log, 'b')];
    await ticks(1);
    q.notify(); // `a` is woken first, finds nothing free and queues again
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(q.depth).toBe(2);
    slots.free = 1;
    q.notify();
    await ticks(20);
    expect(log).toEqual(['a']);
    slots.free = 1;
    q.notify();
    expect(await Promise.race([Promise.all(all), ticks(50).then(() => 'stuck')])).toEqual(['dispatched', 'dispatched']);
    expect(log).toEqual(['a', 'b']);
  });

  it('a request that arrives when a slot has freed but the waiter is not yet woken leaves it to the waiter', async () => {
    const { q } = queue();
    const slots = { free: 0 };
    const log: string[] = [];
    const a = fairCaller(q, slots, log, 'a');
    await ticks(1);
    slots.free = 1; // no notify yet: the waiter has not been told
    const c = fairCaller(q, slots, log, 'c');
    await ticks(20);
    expect([log, q.depth]).toEqual([['a'], 1]);
    slots.free = 1;
    q.notify();
    expect(await Promise.all([a, c])).toEqual(['dispatched', 'dispatched']);
    expect(log).toEqual(['a', 'c']);
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
