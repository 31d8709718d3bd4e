/**
 * Arbitrary JSON shapes against the real sidecar process (in front of the real simulator):
 * wrong types, deep nesting, huge numbers, prototype names, NUL and lone surrogates, odd hint
 * headers. Property: no 5xx (but the documented 503 for a latency wish no endpoint meets), no
 * crash, and every rejection is an OpenAI-shaped 4xx.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from '../integration/harness.js';
import { isOpenAIError } from './raw.js';

let sim: SimHandle;
let sc: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 3 } });
  sc = await startSidecar({ ...testConfig(sim.url), logging: { level: 'warn' } });
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

const PROTO = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'route/__proto__', 'route/constructor'];
const MODELS = ['gpt-4.1', 'claude-sonnet-4.5', 'gemini-2.5-flash', 'deepseek-v3.2', 'auto', 'route/chatbot', 'route/analysis', ...PROTO];
const nasty = fc.constantFrom('\u0000', '\ud800', 'a\udfffb', '\uffff', '<|endoftext|>', '%s%n', '${x}', 'a'.repeat(3000), '');
const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), nasty);
const num = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, 1e-320, 0.5));
const scalar = fc.oneof(text, num, fc.boolean(), fc.constant(null));
/** A value nested `depth` levels in arrays or objects. */
const deep = fc.integer({ min: 1, max: 200 }).chain((depth) =>
  fc.constantFrom('[]', '{}').map((k) => {
    let v: unknown = 1;
    for (let i = 0; i < depth; i++) v = k === '[]' ? [v] : { a: v };
    return v;
  }),
);
const value = fc.oneof({ weight: 3, arbitrary: scalar }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) }, { weight: 1, arbitrary: deep });
const content = fc.oneof(
  text,
  fc.array(
    fc.record(
      {
        type: fc.oneof(fc.constantFrom('text', 'image_url', 'input_audio', 'file'), text),
        text: fc.option(text),
        image_url: fc.option(fc.record({ url: text })),
      },
      { requiredKeys: ['type'] },
    ),
    { maxLength: 3 },
  ),
  value,
);
const message = fc.record(
  {
    role: fc.oneof(fc.constantFrom('user', 'assistant', 'system', 'tool', 'developer'), text),
    content,
    name: fc.option(text),
    tool_calls: fc.option(value),
    tool_call_id: fc.option(text),
  },
  { requiredKeys: ['role'] },
);
/** A request that would be served, so that one mutation at a time reaches deep into the sidecar. */
const valid = fc.record({
  model: fc.constantFrom(...MODELS),
  messages: fc.array(fc.record({ role: fc.constantFrom('user', 'system'), content: text }), { minLength: 1, maxLength: 3 }),
  stream: fc.boolean(),
  max_tokens: fc.option(fc.oneof(fc.integer({ min: 1, max: 2 ** 31 }), fc.constantFrom(1e308, 2 ** 53))),
});
const FIELDS = [
  'model',
  'messages',
  'stream',
  'max_tokens',
  'max_completion_tokens',
  'n',
  'tools',
  'tool_choice',
  'stream_options',
  'temperature',
  'response_format',
  'metadata',
  'constructor',
  '__proto__',
  'toString',
  'stop',
  'user',
];
const mutation = fc.oneof(
  fc.record({ field: fc.constantFrom(...FIELDS), to: value }),
  fc.record({ field: fc.constant('messages'), to: fc.array(message, { minLength: 1, maxLength: 3 }) }),
  fc.record({ field: fc.constant('model'), to: fc.oneof(fc.constantFrom(...PROTO), text) }),
);
const body = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.tuple(valid, fc.array(mutation, { maxLength: 2 })).map(([v, ms]) => {
      const out: Record<string, unknown> = { ...v };
      for (const m of ms) Object.defineProperty(out, m.field, { value: m.to, enumerable: true, writable: true, configurable: true });
      return out;
    }),
  },
  { weight: 1, arbitrary: value },
);
const headerText = fc.string({ unit: fc.constantFrom(...'abc019 -_.eE+/:'.split('')), maxLength: 200 });
const oddHints = fc.record(
  {
    'x-switchyard-task': headerText,
    'x-switchyard-tier': fc.oneof(fc.constantFrom('fast_cheap', 'balanced', 'high_quality'), headerText),
    'x-switchyard-timeout-ms': headerText,
    'x-switchyard-max-cost-usd': headerText,
    'x-switchyard-max-latency-ms': headerText,
  },
  { requiredKeys: [] },
);
/** Mostly none or valid hints (a task may be a prototype name), sometimes arbitrary ones. */
const hints = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        'x-switchyard-task': fc.constantFrom('constructor', '__proto__', 'toString', 'chat', 'analysis'),
        'x-switchyard-timeout-ms': fc.constantFrom('5000', '15000'),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: oddHints },
);

it('arbitrary bodies and hints: never a 5xx, every rejection an OpenAI-shaped 4xx', async () => {
  await fc.assert(
    fc.asyncProperty(body, hints, async (b, h) => {
      // Object literal keys like __proto__ must be sent as data: build the JSON by hand.
      const json = JSON.stringify(b, (_k, v: unknown) =>
        typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.fromEntries(Object.entries(v)) : v,
      );
      const r = await fetch(`${sc.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...h }, body: json });
      const out = await r.text();
      // A latency wish no endpoint meets ("1" ms) is the documented 503 no_endpoint_available
      // with x-should-retry: false (docs/contract.md), not a server fault.
      const latencyWish = (h as Record<string, string | undefined>)['x-switchyard-max-latency-ms'] !== undefined && r.status === 503;
      if (latencyWish) {
        expect(out, out.slice(0, 300)).toContain('"code":"no_endpoint_available"');
        expect(out).toContain('x-switchyard-max-latency-ms');
        expect(r.headers.get('x-should-retry')).toBe('false');
        return;
      }
      expect(r.status, out.slice(0, 300)).toBeLessThan(500);
      if (r.status >= 400) expect(isOpenAIError(out), out.slice(0, 300)).toBe(true);
    }),
    { numRuns: 150 },
  );
  expect(sc.child.exitCode).toBeNull();
  expect(sc.stdout()).not.toMatch(/"level":50/);
}, 120_000);

it('bodies that are not JSON, or not UTF-8: OpenAI-shaped 400', async () => {
  for (const raw of [
    Buffer.from([0xff, 0xfe, 0x00]),
    Buffer.from('{"model":'),
    Buffer.from('\u0000'),
    Buffer.from('[]'),
    Buffer.from('"x"'),
    Buffer.from('1e999'),
  ]) {
    const r = await fetch(`${sc.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
    const out = await r.text();
    expect(r.status, out).toBe(400);
    expect(isOpenAIError(out)).toBe(true);
  }
});
