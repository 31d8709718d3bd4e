/**
 * The shape limits of a parsed body (json-limits.ts): nesting, `__proto__`, and distinct key
 * names, which are counted only once a body has more keys than the limit.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_DISTINCT_KEYS, nestsDeeper, shapeProblem } from '../../src/http/json-limits.js';

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

describe('nesting read from the raw bytes, before the parse', () => {
  /** The padding puts a body over the size from which it is scanned; its text is full of quotes, escapes and brackets. */
  const pad = '\\"[{ \\\\ }]" '.repeat(400);
  const depthOf = (v: unknown): number =>
    typeof v !== 'object' || v === null ? 0 : 1 + Math.max(0, ...(Array.isArray(v) ? v : Object.values(v)).map(depthOf));

  it('agrees with the depth of the parsed value, whatever the strings hold (brackets, quotes, backslashes)', () => {
    const text = fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', ' ', 'é') });
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', maxDepth: 12 },
        text,
        fc.integer(),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(text, tie('node'), { maxKeys: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, fc.integer({ min: 1, max: 8 }), (v, limit) => {
        const body = { pad, v };
        expect(nestsDeeper(Buffer.from(JSON.stringify(body)), limit)).toBe(depthOf(body) > limit);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses 4 MB of brackets at the first level past the limit, and reads a 4 MB prompt through (small bodies are left to the parse)', () => {
    expect(nestsDeeper(Buffer.from(`{"x":${'['.repeat(2_000_000)}${']'.repeat(2_000_000)}}`), 64)).toBe(true);
    expect(nestsDeeper(Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'word "quoted" \\ '.repeat(200_000) }] })), 64)).toBe(false);
    expect(nestsDeeper(Buffer.from('['.repeat(100)), 64)).toBe(false);
  });
});
