/**
 * Input a client controls, read by a pattern that could go quadratic: a request-target ending in a
 * long run of slashes, and a client key padded with spaces (read before the key is checked, so by
 * anyone). `/\/+$/` and `/[ \t]+$/` tried every start of the run and failed at its end: ~100 ms for
 * 16 KB, so twenty such requests held the event loop for seconds. A generous bound, as a
 * denial-of-service test may have; the results are checked against the plain rule too.
 */
import { describe, expect, it } from 'vitest';
import { ClientKeys, trimEndSpaceTab } from '../../src/http/auth.js';
import { parseTarget } from '../../src/http/routes.js';
import { configSchema } from '../../src/config/schema.js';
import { parseChatBody } from '../../src/http/validate.js';
import { translateResponses } from '../../src/apis/responses-request.js';
import { translateMessages } from '../../src/apis/messages-request.js';
import {
  MAX_DEPENDENCY_NAMES,
  MAX_ENUM_VALUES,
  MAX_PATH_PROPERTIES,
  MAX_SCHEMA_ALTERNATIVES,
  MAX_SCHEMA_PATTERNS,
  riskyPattern,
  SchemaCache,
} from '../../src/quality/schema-cache.js';
import { scoreRequest } from '../../src/routing/scorer.js';
import { keywordHits } from '../../src/routing/classify.js';
import { registerSecrets, scrub } from '../../src/observe/scrub.js';
import { capturedJson, MAX_CAPTURED_CHARS } from '../../src/observe/otel.js';
import { countTextTokens, mostTextTokens } from '../../src/accounting/tokens.js';
import { leftOutTokens } from '../../src/runtime/request-prep.js';
import { parse as parseEmbeddings } from '../../src/http/embeddings-route.js';
import { nativeOf } from '../../src/apis/native.js';
import { ResponsesStreamWriter } from '../../src/apis/responses-stream.js';
import { anthropicSchema, MAX_SCHEMA_NODES as MAX_ANTHROPIC_SCHEMA_NODES } from '../../src/upstream/adapters/anthropic-schema.js';

const N = 20;

describe('linear in what a client sends', () => {
  it('a target with 16 KB of slashes before its last character: 20 parses well under a second', () => {
    const target = `/v1/${'/'.repeat(16_000)}x`;
    const t0 = performance.now();
    for (let i = 0; i < N; i++) parseTarget(target);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(parseTarget('/v1/models///').path).toBe('/v1/models');
    expect(parseTarget('///').path).toBe('/');
  });

  it('a client key with 16 KB of spaces inside it: 20 refusals well under a second', () => {
    const cfg = configSchema.parse({
      providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
      models: {
        a: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100_000, endpoints: [{ provider: 'p', upstreamModel: 'up-a' }] },
      },
      auth: { keys: [{ id: 'a', keyEnv: 'QT_KEY' }] },
    });
    const keys = new ClientKeys(cfg, { QT_KEY: 'the-real-client-key-0123' });
    const header = `Bearer x${' '.repeat(16_000)}y`;
    const t0 = performance.now();
    for (let i = 0; i < N; i++) expect(() => keys.authenticate(header)).toThrow(/invalid client key/);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(() => keys.authenticate('Bearer the-real-client-key-0123 \t ')).not.toThrow();
    for (const s of ['', ' ', 'a \t', 'a b ', '\ta']) expect(trimEndSpaceTab(s)).toBe(s.replace(/[ \t]+$/, ''));
  });
});

describe('linear in a request body, a schema, a prompt or an upstream error (a CPU denial-of-service round)', () => {
  /** The CPU milliseconds `fn` took (this process's user and system time: a busy neighbour on the machine does not count, as wall time did). */
  const timed = (fn: () => unknown): number => {
    const c0 = process.cpuUsage();
    fn();
    const d = process.cpuUsage(c0);
    return (d.user + d.system) / 1000;
  };
  const N_TOOLS = 10_000;
  const tools = Array.from({ length: N_TOOLS }, (_, i) => ({ type: 'function', function: { name: `t${i}`, parameters: { type: 'object' } } }));

  it('chat tool_choice.allowed_tools naming the last of 10,000 tools 10,000 times (it was 18 s)', () => {
    const last = { type: 'function', function: { name: `t${N_TOOLS - 1}` } };
    const body = {
      model: 'x',
      messages: [{ role: 'user', content: 'hi' }],
      tools,
      tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: Array(N_TOOLS).fill(last) } },
    };
    expect(timed(() => parseChatBody(body))).toBeLessThan(1000);
    const wrong = {
      ...body,
      tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [{ type: 'function', function: { name: 'nope' } }] } },
    };
    expect(() => parseChatBody(wrong)).toThrow(/"nope" is not in 'tools'/);
  });

  it('Responses tool_choice allowed_tools over 40,000 tools (it was 2.6 s)', () => {
    const n = 40_000;
    const fns = Array.from({ length: n }, (_, i) => ({ type: 'function', name: `t${i}`, parameters: { type: 'object' } }));
    const body = {
      model: 'x',
      input: 'hi',
      tools: fns,
      tool_choice: { type: 'allowed_tools', mode: 'auto', tools: Array(n).fill({ type: 'function', name: `t${n - 1}` }) },
    };
    expect(timed(() => translateResponses(body, []))).toBeLessThan(1000);
  });

  it('a Messages output_config.format schema of 40,000 properties with required in reverse order (it was 1 s)', () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `p${i}`);
    const schema = {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(keys.map((k) => [k, { type: 'string' }])),
      required: [...keys].reverse(),
    };
    const body = { model: 'x', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], output_config: { format: { type: 'json_schema', schema } } };
    expect(timed(() => translateMessages(body))).toBeLessThan(1000);
  });

  it('a schema pattern with a back-reference is refused (^(.*)(.*)\\1$ ran in cubic time: 16 s on 8,000 characters)', () => {
    for (const p of ['^(.*)(.*)\\1$', '^(?<a>x+)\\k<a>$', '(a)\\2']) expect(riskyPattern(p), p).toBe(true);
    for (const p of ['^[\\1-\\3]+$', '^\\d{3}$', '^a\\.b$']) expect(riskyPattern(p), p).toBe(false);
  });

  it('a prompt of 64,000 combining marks of two classes is composed in bounded time, by the scorer and the keyword rule (ICU: 2.3 s)', () => {
    const marks = `e${'\u0301'.repeat(32_000)}${'\u0316'.repeat(32_000)}`;
    expect(timed(() => scoreRequest({ messages: [{ role: 'user', content: `Prove it ${marks}` }] }))).toBeLessThan(1000);
    expect(timed(() => keywordHits(marks, ['proof']))).toBeLessThan(1000);
    // Accents typed apart are still composed: "número" is the word it is.
    expect(keywordHits('el nu\u0301mero', ['número'])).toEqual(['número']);
  });

  it('an upstream error of 64 KB of base64 not broken into lines is scrubbed in linear time (it was 10 s)', () => {
    registerSecrets(['sk-qd-abcdefghijklmnopqrstuvwxyz0123456789']);
    expect(timed(() => scrub(`Invalid input:\n${'QUJD'.repeat(16_000)} is not valid`))).toBeLessThan(1000);
    // A wrapped secret is still found.
    expect(scrub('key:\nsk-qd-abcdefghijklmnopqrst\nuvwxyz0123456789\nend')).not.toContain('uvwxyz0123456789');
  });

  // 400 texts of 4 KB, 1.6 MB (under the body limit), of pseudo-random letters and digits, base64's
  // shape: what the tokenizer is slowest on (~5 µs a character, where English prose takes ~0.1).
  const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  // xorshift32: no piece repeats (the tokenizer caches the pieces it has seen).
  let seed = 2_463_534_242;
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const doc = (): string => Array.from({ length: 4000 }, () => ALPHA[next() % 62]).join('');
  const docs = Array.from({ length: 400 }, doc);

  it('a Messages request with 400 search results of 4 KB is counted in bounded time (each counted whole: 3.8 s)', () => {
    // Search results have no chat form: their texts are counted apart (the prompt's left-out blocks).
    const result = (text: string, i: number) => ({
      type: 'search_result',
      source: `https://example.com/${i}`,
      title: `r${i}`,
      content: [{ type: 'text', text }],
    });
    const content = [...docs.map(result), { type: 'text', text: 'Summarise.' }];
    const chat = translateMessages({ model: 'x', max_tokens: 10, messages: [{ role: 'user', content }] });
    let n = 0;
    expect(timed(() => (n = leftOutTokens(chat)))).toBeLessThan(1000);
    // Windows over all of them, scaled: within a few percent of counting each.
    const whole =
      docs.reduce((a, t, i) => a + (i % 20 === 0 ? countTextTokens(t) + countTextTokens(`r${i}`) + countTextTokens(`https://example.com/${i}`) : 0), 0) * 20;
    expect(Math.abs(n - whole) / whole).toBeLessThan(0.05);
  });

  it('an embeddings batch of 400 inputs of 4 KB finds its longest input in bounded time (each counted: 11 s)', () => {
    const native = nativeOf(parseEmbeddings({ model: 'x', input: docs }));
    if (native?.kind !== 'embeddings' || native.longestExact === undefined) throw new Error('expected text inputs');
    const exact = native.longestExact;
    let got = { n: 0, param: '' };
    expect(timed(() => (got = exact()))).toBeLessThan(1000);
    const counts = docs.slice(0, 10).map((t) => countTextTokens(t));
    expect(got.n).toBeGreaterThanOrEqual(Math.min(...counts));
    expect(got.n).toBeLessThanOrEqual(Math.max(...counts) * 1.05);
  });

  it('the longest input is the one counted most, longest first, and the first on a tie', () => {
    // Digits run more tokens a byte than words: the shorter text of digits holds the most.
    const texts = ['hello world '.repeat(50), '7 3 9 1 '.repeat(60), 'hi', '7 3 9 1 '.repeat(60)];
    const counts = texts.map((t) => countTextTokens(t));
    const best = counts.indexOf(Math.max(...counts));
    expect(mostTextTokens(texts)).toEqual({ n: counts[best], i: best });
    expect(best).toBe(1);
    expect(mostTextTokens(['one'])).toEqual({ n: countTextTokens('one'), i: 0 });
    // Past the counted share, a shorter input of digits (2,700 bytes, 2,700 tokens) among 400 of
    // words (2,932 bytes, 1,200 tokens) is found by its rate, and counted.
    const words = (i: number): string => Array.from({ length: 600 }, (_, j) => `w${(i * 7 + j * 13) % 997}`).join(' ');
    const digits = '1 2 3 4 5 6 7 8 9 '.repeat(150);
    const many = [...Array.from({ length: 400 }, (_, i) => words(i)), digits];
    expect(countTextTokens(digits)).toBeGreaterThan(2 * countTextTokens(words(0)));
    expect(mostTextTokens(many)).toEqual({ n: countTextTokens(digits), i: 400 });
    // Punctuation with plain words in its middle (12,402 bytes, 9,301 tokens) among 60 texts of 24,000
    // bytes of words (4,001 tokens): a window from the middle alone read it as words.
    const punct = (n: number, s = 0) => Array.from({ length: n }, (_, i) => '!?#$%&*+;:<>@^~|'[((i + s) * 7) % 16]).join('');
    const hello = 'hello world '.repeat(2000);
    const tricky = `${punct(5600)} ${'hello world '.repeat(100)} ${punct(5600, 3)}`;
    const batch = Array.from({ length: 60 }, () => hello);
    batch.splice(37, 0, tricky);
    expect(countTextTokens(tricky)).toBeGreaterThan(2 * countTextTokens(hello));
    expect(mostTextTokens(batch)).toEqual({ n: countTextTokens(tricky), i: 37 });
  });

  describe("a client's schema, compiled for the quality checks", () => {
    const props = (n: number, each: (i: number) => object = () => ({ type: 'string' })) => ({
      type: 'object',
      properties: Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, each(i)])),
      required: Array.from({ length: n }, (_, i) => `p${i}`),
      additionalProperties: false,
    });
    const answer = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, `a${i}`]));

    it(`with more than ${MAX_SCHEMA_PATTERNS} patterns is unusable at once (2,400 took 5.7 s to compile)`, () => {
      let v: ReturnType<SchemaCache['validate']> = { ok: true };
      const schema = props(2400, (i) => ({ type: 'string', pattern: `^a${i}$` }));
      expect(timed(() => (v = new SchemaCache(4).validate(schema, answer(2400))))).toBeLessThan(1000);
      expect(v).toEqual({ ok: 'unusable', error: `schema has more than ${MAX_SCHEMA_PATTERNS} patterns` });
      // As many as that still check.
      expect(
        new SchemaCache(4).validate(
          props(MAX_SCHEMA_PATTERNS, (i) => ({ type: 'string', pattern: `^a${i}$` })),
          answer(MAX_SCHEMA_PATTERNS),
        ).ok,
      ).toBe(true);
    });

    it(`of more than ${MAX_PATH_PROPERTIES} properties along one path is unusable at once, and says why (one object of 1,800 was "a $ref loop"; of 2,400, 2.3 s and "Maximum call stack size exceeded")`, () => {
      for (const n of [1800, 2400]) {
        let v: ReturnType<SchemaCache['validate']> = { ok: true };
        expect(timed(() => (v = new SchemaCache(4).validate(props(n), answer(n))))).toBeLessThan(1000);
        expect(v).toEqual({ ok: 'unusable', error: `schema has more than ${MAX_PATH_PROPERTIES} properties along one path of nested objects` });
      }
      // Nested: 3 levels of 400 each along one path is too many; 5 siblings of 400 under one parent are not.
      const nested = {
        ...props(400),
        properties: { ...props(400).properties, child: { ...props(400), properties: { ...props(400).properties, child: props(400) } } },
      };
      expect(new SchemaCache(4).validate(nested, {}).ok).toBe('unusable');
      const siblings = { type: 'object', properties: Object.fromEntries(Array.from({ length: 5 }, (_, j) => [`o${j}`, props(400)])) };
      expect(new SchemaCache(4).validate(siblings, { o0: answer(400) }).ok).toBe(true);
    });

    it(`with more than ${MAX_ENUM_VALUES} enum values or ${MAX_DEPENDENCY_NAMES} dependency names is unusable at once (20,000 values: 2.2 s; 8 lists of 1,500 names: 17 s)`, () => {
      const names = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);
      const cases: Array<[object, unknown, string]> = [
        [
          { type: 'object', properties: { a: { type: 'array', items: { enum: names(20_000) } } } },
          { a: [] },
          `schema has more than ${MAX_ENUM_VALUES} enum values`,
        ],
        [{ propertyNames: { enum: names(600) }, properties: { b: { enum: names(600) } } }, {}, `schema has more than ${MAX_ENUM_VALUES} enum values`],
        [
          { type: 'object', dependencies: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, names(1500)])) },
          {},
          `schema's dependencies list more than ${MAX_DEPENDENCY_NAMES} names`,
        ],
      ];
      for (const [schema, value, error] of cases) {
        let v: ReturnType<SchemaCache['validate']> = { ok: true };
        expect(timed(() => (v = new SchemaCache(4).validate(schema, value)))).toBeLessThan(1000);
        expect(v).toEqual({ ok: 'unusable', error });
      }
      // At the limits they still check.
      const cache = new SchemaCache(4);
      expect(cache.validate({ enum: names(MAX_ENUM_VALUES) }, `n${MAX_ENUM_VALUES - 1}`).ok).toBe(true);
      expect(cache.validate({ enum: names(MAX_ENUM_VALUES) }, 'x').ok).toBe(false);
      expect(cache.validate({ type: 'object', dependencies: { k: names(MAX_DEPENDENCY_NAMES) } }, { k: 1 }).ok).toBe(false);
      expect(cache.validate({ type: 'object', dependencies: { k: names(MAX_DEPENDENCY_NAMES) } }, { x: 1 }).ok).toBe(true);
    });

    it(`of more than ${MAX_SCHEMA_ALTERNATIVES} alternatives is unusable at once, and says why (1,000 took 1.2 s on every request; 2,000 were "a $ref loop")`, () => {
      const union = (n: number, kw: 'anyOf' | 'oneOf') => ({
        [kw]: Array.from({ length: n }, (_, i) => ({ type: 'object', properties: { k: { const: i } }, required: ['k'] })),
      });
      for (const kw of ['anyOf', 'oneOf'] as const)
        for (const n of [1000, 2000]) {
          let v: ReturnType<SchemaCache['validate']> = { ok: true };
          expect(timed(() => (v = new SchemaCache(4).validate(union(n, kw), { k: 1 })))).toBeLessThan(1000);
          expect(v).toEqual({ ok: 'unusable', error: `schema has more than ${MAX_SCHEMA_ALTERNATIVES} subschemas in anyOf, oneOf and allOf` });
        }
      // As many as that still check.
      const cache = new SchemaCache(4);
      const most = union(MAX_SCHEMA_ALTERNATIVES, 'anyOf');
      expect(cache.validate(most, { k: MAX_SCHEMA_ALTERNATIVES - 1 }).ok).toBe(true);
      expect(cache.validate(most, { k: MAX_SCHEMA_ALTERNATIVES }).ok).toBe(false);
    });

    it('at the limits (4 objects of 990 properties) compiles in bounded time and checks (2.3 s with the optimising pass, 0.5 s without)', () => {
      const cache = new SchemaCache(4);
      const four = { type: 'object', properties: Object.fromEntries(Array.from({ length: 4 }, (_, j) => [`o${j}`, props(990)])) };
      expect(timed(() => expect(cache.validate(four, { o0: answer(990) }).ok).toBe(true))).toBeLessThan(1500);
      expect(cache.validate(four, { o3: { ...answer(990), p7: 3 } })).toEqual({ ok: false, error: '/o3/p7 must be string' });
    });
  });

  it(`a strict schema of more than ${MAX_ANTHROPIC_SCHEMA_NODES} subschemas is not rewritten for Anthropic (1,300,000 empty anyOf members: 1.5 s a rewrite)`, () => {
    const huge = { type: 'object', properties: { v: { anyOf: Array.from({ length: 1_300_000 }, () => ({})) } } };
    let err: unknown = null;
    expect(
      timed(() => {
        try {
          anthropicSchema(huge, 'response_format.json_schema.schema');
        } catch (e) {
          err = e;
        }
      }),
    ).toBeLessThan(1000);
    expect(String(err)).toMatch(new RegExp(`more than ${MAX_ANTHROPIC_SCHEMA_NODES} subschemas`));
    // A large schema within it is rewritten whole.
    const wide = { type: 'object', properties: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`p${i}`, { type: 'string' }])) };
    expect(Object.keys(anthropicSchema(wide, 'x').properties as object)).toHaveLength(5000);
  });

  describe("an upstream's stream written as Responses events", () => {
    const writer = () => {
      let n = 0;
      const w = new ResponsesStreamWriter({ id: 'resp_1', createdAt: 1, model: 'm', echo: {} }, () => (n++, true));
      w.start();
      return { w, events: () => n };
    };

    it('2,000 tool calls whose arguments never close are linear (they took 27 s: each new call parsed every open one)', () => {
      const { w } = writer();
      const calls = 2000;
      const ms = timed(() => {
        for (let i = 0; i < calls; i++)
          w.chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: i, id: `call_${i}`, function: { name: 'f', arguments: '{"a":' } }] } }] });
        w.chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] });
        w.finishItems();
      });
      expect(ms).toBeLessThan(1000);
      // Every call is still an item of the answer, its arguments as they came.
      const made = w.result().assistant.tool_calls as unknown[];
      expect(made).toHaveLength(calls);
      expect(made[calls - 1]).toEqual({ id: `call_${calls - 1}`, type: 'function', function: { name: 'f', arguments: '{"a":' } });
    });

    it('40,000 alternating reasoning and text deltas are linear (each new item walked every earlier one: 13.7 s for 20,000 pairs)', () => {
      const { w, events } = writer();
      const ms = timed(() => {
        for (let i = 0; i < 20_000; i++) {
          w.chunk({ choices: [{ index: 0, delta: { reasoning_content: 'r' } }] });
          w.chunk({ choices: [{ index: 0, delta: { content: 'a' } }] });
        }
        w.finishItems();
      });
      expect(ms).toBeLessThan(2000);
      expect(w.result().assistant.content).toBe('a'.repeat(20_000));
      expect(events()).toBeGreaterThan(40_000);
    });
  });

  it('captured content of 8,000 short messages keeps the newest in one pass (it was 13.7 s)', () => {
    const messages = Array.from({ length: 8_000 }, (_, i) => ({ role: 'user', parts: [{ type: 'text', content: `message number ${i} ${'x'.repeat(40)}` }] }));
    let out = { json: '', clipped: false };
    expect(timed(() => (out = capturedJson(messages)))).toBeLessThan(1000);
    expect(out.clipped).toBe(true);
    expect(out.json.length).toBeLessThanOrEqual(MAX_CAPTURED_CHARS);
    const kept = JSON.parse(out.json) as unknown[];
    expect(kept.at(-1)).toEqual(messages.at(-1));
    // The newest that fit, and no more: one more would not.
    expect(JSON.stringify(messages.slice(messages.length - kept.length - 1)).length).toBeGreaterThan(MAX_CAPTURED_CHARS);
  });
});
