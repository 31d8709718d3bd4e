/**
 * The string formats the `schema` and `tool_args` checks validate (src/quality/formats.ts), and
 * the schema cache using them: a cheap answer with a date that is no date fails its check.
 */
import { describe, expect, it } from 'vitest';
import { FORMATS, MAX_FORMAT_INPUT } from '../../src/quality/formats.js';
import { SchemaCache } from '../../src/quality/schema-cache.js';
import { schemaExample } from '../../src/simulator/schema-example.js';

const CASES: Record<string, { good: string[]; bad: string[] }> = {
  date: { good: ['2025-01-31', '2024-02-29'], bad: ['2025-02-29', '2025-13-01', '2025-1-5', 'tomorrow', '2025-01-31T00:00:00Z'] },
  time: { good: ['12:30:00', '23:59:60Z', '08:00:00.250+02:00'], bad: ['24:00:00', '12:60:00', '12:30', 'noon'] },
  'date-time': {
    good: ['2025-01-31T12:30:00Z', '2025-01-31t12:30:00.5+05:30', '2025-01-31 12:30:00-08:00'],
    bad: ['2025-01-31T12:30:00', '2025-02-30T12:30:00Z', '31/01/2025 12:30', 'yesterday at noon'],
  },
  duration: { good: ['P1D', 'PT2H30M', 'P3W', 'P1Y2M3DT4H5M6.5S'], bad: ['P', 'PT', '1 day', 'P1H'] },
  email: { good: ['someone@example.com', 'a.b+tag@mail.example.co.uk'], bad: ['someone', 'a@b', '@example.com', 'two words@example.com'] },
  hostname: { good: ['example.com', 'localhost', 'a-b.example.org.'], bad: ['-bad.example.com', 'under_score.com', 'a..b', ''] },
  ipv4: { good: ['192.0.2.1', '0.0.0.0'], bad: ['256.1.1.1', '1.2.3', '01.2.3.4x'] },
  ipv6: { good: ['2001:db8::1', '::1'], bad: ['2001:db8:::1', '12345::', 'fe80::g'] },
  uuid: {
    good: ['123e4567-e89b-42d3-a456-426614174000', 'urn:uuid:123E4567-E89B-42D3-A456-426614174000'],
    bad: ['123e4567e89b42d3a456426614174000', 'not-a-uuid'],
  },
  uri: { good: ['https://example.com/a?b=c', 'mailto:someone@example.com', 'urn:isbn:0451450523'], bad: ['example.com', '/relative/path', 'http://'] },
};

describe('formats', () => {
  it.each(Object.keys(CASES))('%s: its values pass, others fail', (name) => {
    const f = FORMATS[name]!;
    for (const s of CASES[name]!.good) expect([name, s, f(s)]).toEqual([name, s, true]);
    for (const s of CASES[name]!.bad) expect([name, s, f(s)]).toEqual([name, s, false]);
  });

  it('no format is run on a string longer than its bound', () => {
    const long = `${'a'.repeat(MAX_FORMAT_INPUT)}@example.com`;
    expect(FORMATS.email!(long)).toBe(false);
    expect(FORMATS.hostname!(`${'a.'.repeat(5_000)}com`)).toBe(false);
  });
});

describe('the schema check with formats', () => {
  const schema = {
    type: 'object',
    properties: { when: { type: 'string', format: 'date-time' }, who: { type: 'string', format: 'email' }, tag: { type: 'string', format: 'x-custom' } },
    required: ['when', 'who', 'tag'],
  };

  it('a value not of its format fails; a format switchyard does not know is not checked', () => {
    const cache = new SchemaCache(4);
    expect(cache.validate(schema, { when: '2025-01-31T12:30:00Z', who: 'a@example.com', tag: 'anything' })).toEqual({ ok: true });
    expect(cache.validate(schema, { when: 'next Tuesday', who: 'a@example.com', tag: 'x' })).toEqual({
      ok: false,
      error: '/when must match format "date-time"',
    });
    expect(cache.validate(schema, { when: '2025-01-31T12:30:00Z', who: 'nobody', tag: 'x' }).ok).toBe(false);
  });

  it("the simulator's answer to such a schema passes it", () => {
    const cache = new SchemaCache(4);
    const all = { type: 'object', properties: Object.fromEntries(Object.keys(CASES).map((f) => [f, { type: 'string', format: f }])) };
    const value = schemaExample({ ...all, properties: { ...all.properties, tag: { type: 'string', format: 'x-custom' } } }, 'words');
    expect(cache.validate(all, value)).toEqual({ ok: true });
    expect(value?.tag).toBe('words');
  });
});

describe('the simulator keeps to bounds a schema gives only in its description', () => {
  it("`{minimum: 3, maximum: 5}` moved into a description (the Anthropic adapter's form) is kept, as a model reading it would", () => {
    const schema = {
      type: 'object',
      properties: {
        n: { type: 'integer', description: 'how many\n\n{minimum: 3, maximum: 5}' },
        x: { type: 'number', description: '{exclusiveMaximum: -2}' },
        list: { type: 'array', items: { type: 'string' }, description: '{minItems: 2}' },
        plain: { type: 'integer', description: 'no bounds here' },
      },
    };
    expect(schemaExample(schema, 'w')).toEqual({ n: 3, x: -3, list: ['w', 'w'], plain: 1 });
  });

  it('a schema that allows no property (a tool without arguments) gets {}, one that names none and allows any gets nothing (the usual answer)', () => {
    expect(schemaExample({ type: 'object', properties: {}, additionalProperties: false }, 'w')).toEqual({});
    expect(schemaExample({ type: 'object', properties: {} }, 'w')).toBeUndefined();
  });
});
