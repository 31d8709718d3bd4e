/**
 * Tally.inc1..inc3 (label values as arguments, no array per call) export exactly what inc([...])
 * exports for the same increments: the same /metrics text, series by series.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { tallied } from '../../src/observe/metrics.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('Tally.inc1..inc3', () => {
  it('give the same /metrics text as inc with an array of label values', async () => {
    const r = rng(3);
    const pick = (xs: readonly string[]): string => xs[Math.floor(r() * xs.length)]!;
    const A = ['gpt-4.1', 'none', 'x'];
    const B = ['ep/0', 'ep/1', 'none', ''];
    const C = ['200', '429', '502'];
    const viaArray = new Registry();
    const viaArgs = new Registry();
    const names = [['a'], ['a', 'b'], ['a', 'b', 'c']] as const;
    const arr = names.map((n, i) => tallied(viaArray, `t${i}_total`, 'h', n));
    const args = names.map((n, i) => tallied(viaArgs, `t${i}_total`, 'h', n));
    for (let i = 0; i < 20_000; i++) {
      const k = Math.floor(r() * 3);
      const by = r() < 0.5 ? 1 : Math.floor(r() * 1000) / 7;
      const a = pick(A);
      const b = pick(B);
      const c = pick(C);
      if (k === 0) {
        arr[0]!.inc([a], by);
        args[0]!.inc1(a, by);
      } else if (k === 1) {
        arr[1]!.inc([a, b], by);
        args[1]!.inc2(a, b, by);
      } else {
        arr[2]!.inc([a, b, c], by);
        args[2]!.inc3(a, b, c, by);
      }
    }
    args[2]!.inc3('only', 'once', '200');
    arr[2]!.inc(['only', 'once', '200']);
    const text = await viaArgs.metrics();
    expect(text).toBe(await viaArray.metrics());
    expect(text).toContain('t2_total{a="only",b="once",c="200"} 1');
    expect(text.split('\n').filter((l) => l.startsWith('t2_total{')).length).toBeGreaterThan(30);
  });
});
