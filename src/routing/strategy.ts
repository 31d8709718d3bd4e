/**
 * Selection strategies (`routing.strategy`). Pure; randomness is injected so tests can
 * count draws.
 *   cost     — cheapest expected cost for this request first (stable).
 *   latency  — power of two choices over peak-EWMA latency × (in-flight + 1).
 *   weighted — random by 1/latency (as the seed does), without replacement.
 */
export type Strategy = 'cost' | 'latency' | 'weighted';

export interface Scored<T> {
  item: T;
  /** Expected cost of this request in nano-USD. */
  cost: number;
  /** Measured latency (EWMA, prior until measured), ms. */
  latencyMs: number;
  inFlight: number;
}

export type Rng = () => number;

/**
 * mulberry32: a tiny seeded PRNG (uniform in [0, 1)), for reproducible draws — the simulator's
 * answers, the evaluation's bootstrap and the tests' counts all use this one.
 */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function order<T>(xs: ReadonlyArray<Scored<T>>, strategy: Strategy, rng: Rng = Math.random): T[] {
  if (xs.length <= 1) return xs.map((x) => x.item);
  if (strategy === 'cost')
    return byCost(
      xs.map((x) => x.item),
      (i) => xs[i]!.cost,
      (i) => xs[i]!.latencyMs,
    );
  if (strategy === 'latency') return powerOfTwo(xs, rng);
  return weighted(xs, rng);
}

/**
 * The cost strategy's order: cheapest first, a tie broken by lower latency (stable). `latency(i)` is
 * asked only for items in a tie, once each: a caller whose latency is a live read (every endpoint
 * of a model) pays it for ties alone — on a 250-model catalogue, every model on every `auto` request.
 */
export function byCost<T>(items: readonly T[], cost: (i: number) => number, latency: (i: number) => number): T[] {
  const costs = items.map((_, i) => cost(i));
  const latencies = new Array<number | undefined>(items.length);
  const lat = (i: number): number => (latencies[i] ??= latency(i));
  return items
    .map((_, i) => i)
    .sort((a, b) => costs[a]! - costs[b]! || lat(a) - lat(b))
    .map((i) => items[i]!);
}

const load = <T>(x: Scored<T>): number => Math.max(1, x.latencyMs) * (x.inFlight + 1);

function powerOfTwo<T>(xs: ReadonlyArray<Scored<T>>, rng: Rng): T[] {
  const i = Math.floor(rng() * xs.length);
  let j = Math.floor(rng() * (xs.length - 1));
  if (j >= i) j++;
  const a = xs[i]!;
  const b = xs[j]!;
  const first = load(a) <= load(b) ? a : b;
  const rest = xs.filter((x) => x !== first).sort((p, q) => load(p) - load(q));
  return [first.item, ...rest.map((x) => x.item)];
}

function weighted<T>(xs: ReadonlyArray<Scored<T>>, rng: Rng): T[] {
  const pool = [...xs];
  const out: T[] = [];
  while (pool.length > 0) {
    const weights = pool.map((x) => 1 / Math.max(1, x.latencyMs));
    const total = weights.reduce((s, w) => s + w, 0);
    let r = rng() * total;
    let k = 0;
    while (k < pool.length - 1 && r >= weights[k]!) {
      r -= weights[k]!;
      k++;
    }
    out.push(pool[k]!.item);
    pool.splice(k, 1);
  }
  return out;
}
