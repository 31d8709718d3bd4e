import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { spliceModel } from '../../src/runtime/splice-model.js';

/** The slow path finalize takes when it cannot splice: parse, set the model, re-serialise. */
const slow = (raw: string, model: string): string => {
  const c = JSON.parse(raw) as Record<string, unknown>;
  c.model = model;
  return JSON.stringify(c);
};

const completion = (model: string, content: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model,
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
  ...extra,
});

describe('spliceModel', () => {
  it('is byte-identical to parse + set model + stringify for compact upstream JSON (property)', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.string(),
        fc.dictionary(
          fc.string().filter((k) => k !== 'model'),
          fc.jsonValue(),
        ),
        (up, mine, content, extra) => {
          const raw = JSON.stringify(completion(up, content, extra));
          const parsed = JSON.parse(raw) as Record<string, unknown>;
          const fast = spliceModel(raw, parsed, mine);
          if (fast !== null) expect(fast).toBe(slow(raw, mine));
          // The only reason to refuse compact JSON is a second literal `"model"` somewhere (content, extra keys).
          if (fast === null) expect(raw.split('"model"').length).toBeGreaterThan(2);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps the upstream formatting and changes only the model value in indented JSON', () => {
    const raw = JSON.stringify(completion('gpt-4.1-2025', 'hi'), null, 2);
    const out = spliceModel(raw, JSON.parse(raw) as Record<string, unknown>, 'gpt-4.1');
    expect(out).not.toBeNull();
    expect(JSON.parse(out!)).toEqual(JSON.parse(slow(raw, 'gpt-4.1')));
    expect(out).toBe(raw.replace('"model": "gpt-4.1-2025"', '"model": "gpt-4.1"'));
  });

  it('refuses when the only "model" key is nested, escaped, repeated or absent', () => {
    const nested = '{"id":"x","meta":{"model":"a"},"choices":[]}';
    expect(spliceModel(nested, { ...(JSON.parse(nested) as Record<string, unknown>), model: 'a' }, 'b')).toBeNull();
    const escaped = '{"mod\\u0065l":"a","choices":[]}';
    expect(spliceModel(escaped, JSON.parse(escaped) as Record<string, unknown>, 'b')).toBeNull();
    const twice = '{"model":"a","choices":[{"message":{"content":"x","model":"a"}}]}';
    expect(spliceModel(twice, JSON.parse(twice) as Record<string, unknown>, 'b')).toBeNull();
    const absent = '{"id":"x","choices":[]}';
    expect(spliceModel(absent, JSON.parse(absent) as Record<string, unknown>, 'b')).toBeNull();
    const oddEscape = '{"model":"a\\u002fb","choices":[]}';
    expect(spliceModel(oddEscape, JSON.parse(oddEscape) as Record<string, unknown>, 'b')).toBeNull();
  });

  it('does not count a "model" inside a string value as a key', () => {
    const raw = JSON.stringify(completion('up', 'say \\"model\\": "x"'));
    const out = spliceModel(raw, JSON.parse(raw) as Record<string, unknown>, 'mine');
    // The content holds `\"model\"` (escaped quotes), so the literal key occurs once and the splice is exact.
    expect(out).toBe(slow(raw, 'mine'));
  });
});
