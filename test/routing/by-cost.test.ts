import { describe, expect, it } from 'vitest';
import { byCost, order } from '../../src/routing/strategy.js';

describe('byCost (the cost strategy)', () => {
  it("orders by cost, a tie by latency, stably, and reads an item's latency only when it is in a tie, once", () => {
    const items = ['a', 'b', 'c', 'd', 'e'];
    const cost = [3, 1, 3, 2, 3];
    const lat = [50, 10, 20, 99, 20];
    const asked: number[] = [];
    const got = byCost(
      items,
      (i) => cost[i]!,
      (i) => {
        asked.push(i);
        return lat[i]!;
      },
    );
    expect(got).toEqual(['b', 'd', 'c', 'e', 'a']);
    // b (1) and d (2) are alone at their cost: never asked.
    expect([...new Set(asked)].sort()).toEqual([0, 2, 4]);
    expect(asked.length).toBe(new Set(asked).size);
    // The same as order()'s cost strategy over the scored items.
    const scored = items.map((item, i) => ({ item, cost: cost[i]!, latencyMs: lat[i]!, inFlight: 0 }));
    expect(order(scored, 'cost')).toEqual(got);
  });
});
