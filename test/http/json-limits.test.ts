/**
 * The shape limits of a parsed body (json-limits.ts): nesting, `__proto__`, and distinct key
 * names, which are counted only once a body has more keys than the limit.
 */
import { describe, expect, it } from 'vitest';
import { MAX_DISTINCT_KEYS, shapeProblem } from '../../src/http/json-limits.js';

const named = (n: number, prefix = 'k'): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, i]));

describe('distinct key names', () => {
  it('more distinct names than the limit, in one object or spread over many, is refused', () => {
    expect(shapeProblem({ metadata: named(11) }, 64, 10)).toMatch(/more than 10 distinct key names/);
    expect(shapeProblem({ a: [named(4, 'x'), named(4, 'y'), { deep: [named(4, 'z')] }] }, 64, 10)).toMatch(/distinct key names/);
  });

  it('many keys with few names (a long conversation) is not', () => {
    const messages = Array.from({ length: 40 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i}` }));
    expect(shapeProblem({ model: 'm', messages }, 64, 10)).toBeNull();
    expect(shapeProblem({ metadata: named(9) }, 64, 10)).toBeNull();
  });

  it('the default limit leaves room for any real request and refuses a flood of names', () => {
    expect(shapeProblem({ tools: [{ parameters: { properties: named(5_000) } }] }, 64)).toBeNull();
    expect(shapeProblem({ metadata: named(MAX_DISTINCT_KEYS + 1) }, 64)).toMatch(/50000 distinct key names/);
  });
});
