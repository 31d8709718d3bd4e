import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LabelledHistogram } from '../../src/observe/metrics.js';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

describe('LabelledHistogram', () => {
  it("exports what prom-client's Histogram exports for the same observations (text and JSON, property)", async () => {
    const value = fc.oneof(
      fc.constantFrom(0, 0.005, 0.01, 120, 120.0001, 1e9, 0.1 + 0.2),
      fc.double({ min: 0, max: 200, noNaN: true }),
      fc.integer({ min: 0, max: 300_000 }).map((ms) => ms / 1000),
    );
    const model = fc.constantFrom('gpt-4.1', 'none', 'a/b', 'm "q"\\', 'é');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(model, value), { maxLength: 60 }), fc.nat({ max: 60 }), async (obs, resetAt) => {
        const ref = new Registry();
        const mine = new Registry();
        const h = new Histogram({ name: 'x_seconds', help: 'Help "text"\\ here', labelNames: ['model'], buckets: BUCKETS, registers: [ref] });
        const l = new LabelledHistogram('x_seconds', 'Help "text"\\ here', 'model', BUCKETS, mine);
        obs.forEach(([m, v], i) => {
          if (i === resetAt) {
            h.reset();
            l.reset();
          }
          h.observe({ model: m }, v);
          l.observe(m, v);
        });
        expect(await mine.metrics()).toBe(await ref.metrics());
        expect(await mine.getMetricsAsJSON()).toEqual(await ref.getMetricsAsJSON());
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a value that is not a finite number, as prom-client does', () => {
    const l = new LabelledHistogram('y_seconds', 'y', 'model', BUCKETS, new Registry());
    expect(() => l.observe('m', Number.NaN)).toThrow(TypeError);
    expect(() => l.observe('m', Infinity)).toThrow(TypeError);
  });
});
