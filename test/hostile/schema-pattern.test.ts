/**
 * A client's JSON Schema `pattern` cannot hold the event loop: the cascade's `schema` and
 * `tool_args` checks run client schemas on model answers (up to MAX_PATTERN_INPUT characters),
 * and a pattern of three unbounded quantifiers in a row, with no group to catch
 * (`^a*a*a*a*b$`; `a*a*b` unanchored, retried at every start), backtracks polynomially: 33 s on 600 characters, far longer on 10 000.
 * Such a pattern now makes the schema unusable (the check is skipped, never failed).
 */
import { expect, it } from 'vitest';
import { MAX_PATTERN_INPUT, riskyPattern, SchemaCache } from '../../src/quality/schema-cache.js';

/** Generous: refused at once with the fix; the defect took 33 s on this input (^a*a*a*a*b$); the others fail by being usable. */
const BOUND_MS = 1500;

it.each(['^a*a*a*a*b$', '^\\w+\\w+\\w+x$', '^a{1,}a{0,}a+b$', '^a{0,5000}a{0,5000}a{0,5000}b$', 'a*a*b', 'a{0,100}a{0,100}a{0,100}b'])(
  'pattern %s on a long answer is answered promptly (unusable)',
  (pattern) => {
    const cache = new SchemaCache(8);
    const t = performance.now();
    const v = cache.validate({ type: 'object', properties: { x: { type: 'string', pattern } } }, { x: 'a'.repeat(600) });
    expect(performance.now() - t).toBeLessThan(BOUND_MS);
    expect(v.ok).toBe('unusable');
  },
);

it('ordinary patterns are still checked, up to MAX_PATTERN_INPUT characters', () => {
  for (const p of ['^[a-z]+@[a-z]+$', '^\\d{3}-\\d{4}$', '^a{1,10}b{1,10}c{1,10}$', '^\\s*\\S+$', 'a+b', '\\d{1,3}\\.\\d{1,3}'])
    expect(riskyPattern(p), p).toBe(false);
  const cache = new SchemaCache(8);
  const schema = { type: 'object', properties: { x: { type: 'string', pattern: '^[a-z]+@[a-z]+$' } } };
  expect(cache.validate(schema, { x: 'ab@cd' }).ok).toBe(true);
  expect(cache.validate(schema, { x: 'ab@' }).ok).toBe(false);
  expect(MAX_PATTERN_INPUT).toBeGreaterThan(600);
});

it('bounded choices count by their size: eight a{0,10} in a row (11^8 paths, 2.8 s on 40 characters) are refused at once', () => {
  const pattern = `^${'a{0,10}'.repeat(8)}x$`;
  expect(riskyPattern(pattern)).toBe(true);
  expect(riskyPattern(`^${'a{0,10}'.repeat(3)}x$`)).toBe(false);
  const cache = new SchemaCache(8);
  const t = performance.now();
  const v = cache.validate({ type: 'object', properties: { x: { type: 'string', pattern } } }, { x: 'a'.repeat(40) });
  expect(performance.now() - t).toBeLessThan(BOUND_MS);
  expect(v.ok).toBe('unusable');
});
