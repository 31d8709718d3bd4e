/**
 * `parseChatBody` checks a parsed body in place and hands it back as it is (or, for a message or
 * body whose keys are out of zod's order, a copy in that order); only what that check does not
 * accept goes to zod. Property: on generated bodies, valid ones and ones mutated into wrong types,
 * boundaries, odd keys and other key orders, it gives exactly what zod alone gives
 * (`parseChatBodyZod`, the path before): the same value with the same keys in the same order, or
 * the same error. And the in-place check (`checkChatBody`) accepts a body only when zod does, and
 * every body zod accepts unless it has a `__proto__` key or a small object (content part,
 * stream_options, response_format) out of zod's order, the cases it leaves to zod.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../src/errors.js';
import { checkChatBody, parseChatBody, parseChatBodyZod } from '../../src/http/validate.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A small deterministic generator (mulberry32), seeded by fast-check. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const chance = (p: number): boolean => next() < p;
  return { int, pick, chance };
}
type Rng = ReturnType<typeof rng>;

/** An object with the entries in this order; `__proto__` as an own key, as JSON.parse makes it. */
function obj(entries: Array<[string, unknown]>): Obj {
  const o: Obj = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

function shuffled<T>(r: Rng, xs: T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Keys nothing in the schema names, some of them odd for a plain object. */
const EXTRA_KEYS = ['user', 'seed', 'metadata', 'tool_choice', 'refusal', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '0', '12', 'x-y', ''];

/** Values of every JSON type (and what JSON.parse makes of 1e400 and -0), around every bound of the schema. */
const VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -0,
  1,
  -1,
  2,
  0.5,
  1.5,
  1.0000001,
  2.0000001,
  -2,
  -2.0000001,
  3,
  64,
  2 ** 53 - 1,
  2 ** 53,
  -(2 ** 53),
  1e308,
  Infinity,
  -Infinity,
  '',
  'x',
  '\ud83d\ude00',
  '\ud800',
  'user',
  'text',
  'function',
  [],
  ['x'],
  ['x', 5],
  [1],
  [{}],
  [null],
  [[]],
  {},
  { type: 'text' },
  { type: 'text', text: 'a' },
  { include_usage: true },
  { type: 5 },
];

/** A JSON-ish value: mostly from VALUES, sometimes a small nested one. */
function anyValue(r: Rng, depth = 0): unknown {
  if (depth < 2 && r.chance(0.15)) {
    return r.chance(0.5)
      ? Array.from({ length: r.int(3) }, () => anyValue(r, depth + 1))
      : obj(Array.from({ length: r.int(3) }, () => [r.pick([...EXTRA_KEYS, 'type', 'text', 'role']), anyValue(r, depth + 1)] as [string, unknown]));
  }
  return structuredClone(r.pick(VALUES));
}

/** The entries of an object, in their usual order or shuffled, with an extra key now and then. */
function entries(r: Rng, es: Array<[string, unknown]>): Obj {
  const all = [...es];
  if (r.chance(0.15)) all.push([r.pick(EXTRA_KEYS), anyValue(r)]);
  return obj(r.chance(0.35) ? shuffled(r, all) : all);
}

function contentPart(r: Rng): Obj {
  switch (r.int(4)) {
    case 0:
      return entries(r, [
        ['type', 'text'],
        ['text', r.pick(['hello', '', 'a longer piece of text'])],
      ]);
    case 1:
      return entries(r, [
        ['type', 'image_url'],
        ['image_url', obj([['url', 'https://x.test/a.png']])],
      ]);
    case 2:
      return entries(r, [
        ['type', 'input_audio'],
        ['input_audio', obj([['data', 'AAAA']])],
      ]);
    default:
      return entries(r, [
        ['type', r.pick(['file', 'refusal', 'x'])],
        ['text', anyValue(r)],
      ]);
  }
}

const toolCall = (r: Rng): Obj =>
  entries(r, [
    ['id', `call_${r.int(100)}`],
    ['type', 'function'],
    [
      'function',
      obj([
        ['name', 'f'],
        ['arguments', '{}'],
      ]),
    ],
  ]);

function chatMessage(r: Rng): Obj {
  const es: Array<[string, unknown]> = [];
  switch (r.int(5)) {
    case 0:
      es.push(['role', r.pick(['system', 'developer'])], ['content', 'be brief']);
      break;
    case 1:
      es.push(['role', 'user'], ['content', r.chance(0.5) ? 'hi' : Array.from({ length: r.int(4) }, () => contentPart(r))]);
      if (r.chance(0.2)) es.push(['name', 'ann']);
      break;
    case 2:
      es.push(['role', 'assistant'], ['content', r.pick([null, 'sure', ''])]);
      if (r.chance(0.5)) es.push(['tool_calls', Array.from({ length: r.int(3) }, () => toolCall(r))]);
      if (r.chance(0.3)) es.push(['refusal', null], ['annotations', []]);
      break;
    case 3:
      es.push(['role', 'tool'], ['content', '{"ok":true}'], ['tool_call_id', 'call_1']);
      break;
    default:
      es.push(['role', 'function'], ['name', 'f'], ['content', r.pick(['1', null])]);
  }
  // Left out now and then: an absent content is as valid as a null one.
  if (r.chance(0.1)) es.splice(1, 1);
  return entries(r, es);
}

const tool = (r: Rng): Obj =>
  entries(r, [
    ['type', 'function'],
    [
      'function',
      obj([
        ['name', 'get_weather'],
        ['parameters', obj([['type', 'object']])],
      ]),
    ],
  ]);

/** A body zod accepts, before mutation (every optional field now and then, in some order). */
function validBody(r: Rng): Obj {
  const es: Array<[string, unknown]> = [
    ['model', r.pick(['gpt-4.1', 'a', 'claude-sonnet-4.5'])],
    ['messages', Array.from({ length: 1 + r.int(5) }, () => chatMessage(r))],
  ];
  const maybe = (p: number, k: string, v: () => unknown): void => {
    if (r.chance(p)) es.push([k, v()]);
  };
  maybe(0.4, 'stream', () => r.pick([true, false, null]));
  maybe(0.3, 'stream_options', () =>
    r.pick([
      null,
      obj([]),
      obj([['include_usage', r.pick([true, false, null])]]),
      entries(r, [
        ['include_usage', true],
        ['x', 1],
      ]),
    ]),
  );
  maybe(0.4, 'max_tokens', () => r.pick([1, 64, 4096, 2 ** 53 - 1, null]));
  maybe(0.2, 'max_completion_tokens', () => r.pick([1, 100, null]));
  maybe(0.2, 'n', () => r.pick([1, null]));
  maybe(0.3, 'tools', () => r.pick([null, [], Array.from({ length: 1 + r.int(2) }, () => tool(r))]));
  maybe(0.2, 'tool_choice', () => r.pick(['auto', 'none', obj([['type', 'function']])]));
  maybe(0.2, 'response_format', () =>
    r.pick([
      null,
      obj([['type', 'json_object']]),
      entries(r, [
        ['type', 'json_schema'],
        ['json_schema', obj([['name', 's']])],
      ]),
    ]),
  );
  maybe(0.3, 'temperature', () => r.pick([0, -0, 0.7, 2, null]));
  maybe(0.2, 'top_p', () => r.pick([0, 0.9, 1, null]));
  maybe(0.2, 'presence_penalty', () => r.pick([-2, 0, 2, null]));
  maybe(0.2, 'frequency_penalty', () => r.pick([-2, 0.5, 2, null]));
  maybe(0.2, 'stop', () => r.pick(['\n', [], ['a', 'b'], null]));
  maybe(0.2, 'user', () => 'u1');
  return entries(r, es);
}

/** Every object and array of `v` (the body itself first). */
function containers(v: unknown, out: Array<Obj | unknown[]> = []): Array<Obj | unknown[]> {
  if (Array.isArray(v)) {
    out.push(v);
    for (const x of v) containers(x, out);
  } else if (isObj(v)) {
    out.push(v);
    for (const k of Object.keys(v)) containers(v[k], out);
  }
  return out;
}

const SCHEMA_KEYS = [
  'model',
  'messages',
  'stream',
  'stream_options',
  'include_usage',
  'max_tokens',
  'max_completion_tokens',
  'n',
  'tools',
  'response_format',
  'temperature',
  'top_p',
  'presence_penalty',
  'frequency_penalty',
  'stop',
  'role',
  'content',
  'name',
  'tool_calls',
  'tool_call_id',
  'type',
  'text',
];

/** One to three changes at random places: a value replaced, a key removed or added (`__proto__` too), keys reordered, an array emptied. */
function mutate(r: Rng, body: Obj): void {
  for (let m = 1 + r.int(3); m > 0; m--) {
    const all = containers(body);
    // Most changes go to the body or its messages, where the schema is.
    const target = r.chance(0.3) ? body : r.pick(all);
    if (Array.isArray(target)) {
      if (target.length === 0 || r.chance(0.2)) target.length = 0;
      else target[r.int(target.length)] = anyValue(r);
      continue;
    }
    const keys = Object.keys(target);
    switch (r.int(6)) {
      case 0:
      case 1: {
        const k = r.pick([...keys, ...SCHEMA_KEYS]);
        Object.defineProperty(target, k, { value: anyValue(r), enumerable: true, writable: true, configurable: true });
        break;
      }
      case 2:
        if (keys.length > 0) delete target[r.pick(keys)];
        break;
      case 3:
        if (r.chance(0.3)) Object.defineProperty(target, '__proto__', { value: anyValue(r), enumerable: true, writable: true, configurable: true });
        else Object.defineProperty(target, r.pick(EXTRA_KEYS), { value: anyValue(r), enumerable: true, writable: true, configurable: true });
        break;
      default: {
        const es = shuffled(
          r,
          keys.map((k): [string, unknown] => [k, target[k]]),
        );
        for (const k of keys) delete target[k];
        for (const [k, v] of es) Object.defineProperty(target, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
    }
  }
}

/** The value with its keys in order and -0, ±Infinity and undefined spelled out (JSON.stringify would hide them). */
function exact(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (Array.isArray(v)) return `[${v.map(exact).join(',')}]`;
  if (isObj(v)) {
    const proto = Object.getPrototypeOf(v) === Object.prototype ? '' : '<proto>';
    return `${proto}{${Object.keys(v)
      .map((k) => `${JSON.stringify(k)}:${exact(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
function outcome(f: () => unknown): Outcome {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
}
const describeError = (e: unknown): unknown =>
  e instanceof SwitchyardError ? { class: 'SwitchyardError', message: e.message, status: e.status, code: e.code, param: e.param, body: e.toBody() } : e;

/**
 * Whether the in-place check may leave a body zod accepts to zod: a `__proto__` key anywhere, or
 * a content part, stream_options or response_format whose keys do not begin with the schema's
 * (`type`, then `text` when present; `include_usage` when present; `type`), integer-like keys
 * included (they always come first, in zod's copy too, but the check does not tell them apart).
 */
function mayGiveUp(input: Obj): boolean {
  if (containers(input).some((c) => isObj(c) && Object.hasOwn(c, '__proto__'))) return true;
  const startsWith = (o: unknown, keys: string[]): boolean => {
    if (!isObj(o)) return true;
    const own = Object.keys(o);
    const want = keys.filter((k) => k in o);
    return want.every((k, i) => own[i] === k);
  };
  if (!startsWith(input.stream_options, ['include_usage']) || !startsWith(input.response_format, ['type'])) return true;
  return (input.messages as Obj[]).some((m) => Array.isArray(m.content) && m.content.some((p) => !startsWith(p, ['type', 'text'])));
}

const stats = { bodies: 0, valid: 0, invalid: 0, sameObject: 0, copied: 0, leftToZod: 0 };

/** The whole comparison for one body (the tests below also run hand-picked bodies through it). */
function compare(input: Obj): void {
  const before = exact(input);
  const ref = outcome(() => parseChatBodyZod(structuredClone(input)));
  const fast = checkChatBody(input);
  const got = outcome(() => parseChatBody(input));
  expect(exact(input), 'the input is left as it was').toBe(before);
  stats.bodies++;
  if (ref.ok && got.ok) {
    expect(exact(got.value)).toBe(exact(ref.value));
    // toEqual, not toStrictEqual: that one compares `.constructor`, an own key of some bodies here.
    expect(got.value).toEqual(ref.value);
  } else {
    expect(got.ok, `zod ${ref.ok ? 'accepts' : 'refuses'} ${before}`).toBe(ref.ok);
    expect(describeError(!got.ok && got.error)).toStrictEqual(describeError(!ref.ok && ref.error));
  }
  // The schema's own verdict: n > 1, a tool_choice of no known kind or naming a tool missing from tools, and a response_format
  // of another type or a json_schema one without its schema are refused after it (by both paths
  // alike), so such a body is judged with n: 1 and without its tool_choice and response_format.
  const afterSchema =
    !ref.ok &&
    ref.error instanceof SwitchyardError &&
    ((ref.error.param === 'n' && ref.error.message.startsWith('n > 1')) ||
      ((ref.error.param === 'tool_choice' || ref.error.param === 'tool_choice.type') && ref.error.message.startsWith("Invalid value for 'tool_choice'")) ||
      (ref.error.param === 'response_format.type' && ref.error.message.startsWith("Invalid value for 'response_format.type'")) ||
      (ref.error.param === 'response_format.json_schema' && ref.error.message.startsWith("Missing required parameter: 'response_format.json_schema'")) ||
      // stream_options without stream: true (OpenAI's 400).
      (ref.error.param === 'stream_options' && ref.error.message.startsWith("The 'stream_options' parameter is only allowed")) ||
      // A tool with nothing to call (checkPriced): no function object, or one without a name.
      (typeof ref.error.param === 'string' && ref.error.param.startsWith('tools[') && ref.error.message.startsWith("Missing required parameter: 'tools[")) ||
      // OpenAI's required message fields (content, a tool message's tool_call_id) and its logprobs rules.
      (typeof ref.error.param === 'string' &&
        /^messages\[\d+\]\.(content|tool_call_id)$/.test(ref.error.param) &&
        /^(Missing required parameter:|Invalid type for) 'messages\[/.test(ref.error.message)) ||
      // OpenAI's tool-turn pairing: a tool message answers a call of the assistant message before it, every call is answered, each has an id.
      (typeof ref.error.param === 'string' &&
        /^messages\[\d+\]\.(role|tool_call_id|tool_calls(\[\d+\]\.id)?)$/.test(ref.error.param) &&
        /^(Invalid parameter: |An assistant message with 'tool_calls'|Missing required parameter: 'messages\[)/.test(ref.error.message)) ||
      // Fields passed on as they are, held to OpenAI's types (checkPassedFields).
      (['seed', 'user', 'safety_identifier', 'prompt_cache_key', 'store', 'logit_bias', 'metadata'].includes(ref.error.param as string) &&
        /^Invalid (type|value|'metadata')/.test(ref.error.message)) ||
      ((ref.error.param === 'logprobs' || ref.error.param === 'top_logprobs') && /^Invalid (type|value) for '(top_)?logprobs'/.test(ref.error.message)) ||
      // An image or file part with nothing to send (partShape).
      (typeof ref.error.param === 'string' &&
        /^messages\[\d+\]\.content\[\d+\]\.(image_url\.url|file)$/.test(ref.error.param) &&
        ref.error.message.startsWith("Missing required parameter: 'messages[")) ||
      // What the catalogue cannot price (checkPriced): a service tier, web search, audio in or out.
      / is not supported: (switchyard reserves|the provider bills each search|audio tokens|it turns on|it asks the upstream|a built-in tool)/.test(
        ref.error.message,
      ));
  const judged = (): Record<string, unknown> => {
    const c = structuredClone(input);
    if (typeof c.n === 'number' && c.n > 1) c.n = 1;
    delete c.tool_choice;
    delete c.response_format;
    if (c.stream !== true) delete c.stream_options;
    for (const k of ['service_tier', 'web_search_options', 'audio', 'modalities', 'plugins', 'search_parameters', 'models', 'fallbacks']) delete c[k];
    if (Array.isArray(c.tools))
      c.tools = (c.tools as unknown[]).filter((t) => {
        const type = (t as { type?: unknown }).type;
        if (!['function', 'custom', undefined].includes(type as string)) return false;
        const def = (t as Record<string, unknown>)[type === 'custom' ? 'custom' : 'function'];
        const name = typeof def === 'object' && def !== null && !Array.isArray(def) ? (def as { name?: unknown }).name : undefined;
        return typeof name === 'string' && name !== '';
      });
    delete c.logprobs;
    delete c.top_logprobs;
    for (const k of ['seed', 'user', 'safety_identifier', 'prompt_cache_key', 'store', 'logit_bias', 'metadata']) delete c[k];
    if (Array.isArray(c.messages))
      for (const m of c.messages as unknown[]) {
        if (m !== null && typeof m === 'object') delete (m as { audio?: unknown }).audio;
        const msg = m as { role?: unknown; content?: unknown; tool_call_id?: unknown } | null;
        if (msg !== null && typeof msg === 'object' && ['system', 'developer', 'user', 'tool'].includes(msg.role as string)) {
          if (msg.content === undefined || (msg.content === null && msg.role !== 'tool')) msg.content = '';
          if (msg.role === 'tool' && msg.tool_call_id === undefined) msg.tool_call_id = 'c';
        }
        // Tool turns judged apart (checkToolTurns): a tool message as a user's, no calls.
        if (msg !== null && typeof msg === 'object' && msg.role === 'tool') {
          msg.role = 'user';
          msg.content ??= '';
        }
        if (msg !== null && typeof msg === 'object' && msg.role === 'assistant') delete (msg as { tool_calls?: unknown }).tool_calls;
        if (m !== null && typeof m === 'object' && Array.isArray((m as { content?: unknown }).content))
          for (const p of (m as { content: unknown[] }).content)
            if (p !== null && typeof p === 'object' && ['input_audio', 'image_url', 'file'].includes((p as { type?: unknown }).type as string))
              (p as { type: string }).type = 'other_part';
      }
    return c;
  };
  const zodData = afterSchema ? outcome(() => parseChatBodyZod(judged())) : ref;
  if (afterSchema) expect(zodData.ok).toBe(true);
  if (fast !== null) {
    expect(zodData.ok, `the in-place check accepts what zod refuses: ${before}`).toBe(true);
    // Refused after the schema, both paths refuse alike (compared above); otherwise the check's body is zod's.
    if (!afterSchema) {
      expect(ref.ok).toBe(true);
      expect(exact(fast)).toBe(exact((ref as { value: unknown }).value));
    }
    if (fast === input) stats.sameObject++;
    else stats.copied++;
  } else if (zodData.ok) {
    expect(mayGiveUp(input), `the in-place check leaves to zod a body it should accept: ${before}`).toBe(true);
    stats.leftToZod++;
  }
  if (zodData.ok) stats.valid++;
  else stats.invalid++;
}

describe('parseChatBody against zod alone', () => {
  it('agrees on generated bodies, valid and mutated', () => {
    fc.assert(
      fc.property(fc.integer(), fc.boolean(), (seed, mutated) => {
        const r = rng(seed);
        const body = validBody(r);
        if (mutated) mutate(r, body);
        compare(body);
      }),
      { numRuns: 6000 },
    );
    // Not vacuous: both verdicts and every outcome of the in-place check are exercised. The runs are
    // random, so each bound sits far below its mean (six runs: valid ~4,650, invalid ~1,350, same
    // object ~565 with a spread of ~23, copied ~3,500, left to zod ~570); a CI run once drew 497
    // same-object bodies against a bound of 500, so that bound is 400, seven spreads down.
    expect(stats.valid).toBeGreaterThan(2000);
    expect(stats.invalid).toBeGreaterThan(1000);
    expect(stats.sameObject).toBeGreaterThan(400);
    expect(stats.copied).toBeGreaterThan(200);
    expect(stats.leftToZod).toBeGreaterThan(50);
  });

  it('agrees on bodies as JSON.parse makes them, at the bounds', () => {
    const base = '"model":"m","messages":[{"role":"user","content":"hi"}]';
    const texts = [
      `{${base}}`,
      `{${base},"max_tokens":1e400}`,
      `{${base},"max_tokens":-0}`,
      `{${base},"max_tokens":9007199254740991}`,
      `{${base},"max_tokens":9007199254740992}`,
      `{${base},"max_tokens":1.0}`,
      `{${base},"n":2}`,
      `{${base},"n":1}`,
      `{${base},"temperature":-0}`,
      `{${base},"temperature":2.0}`,
      `{${base},"temperature":1e400}`,
      `{${base},"top_p":-1e-400}`,
      `{${base},"stop":[]}`,
      `{${base},"stop":""}`,
      `{${base},"__proto__":{"model":5}}`,
      `{"__proto__":null,${base}}`,
      `{${base},"constructor":{"prototype":1}}`,
      '{"model":"","messages":[{"role":"user","content":"hi"}]}',
      '{"model":"\\ud800","messages":[{"role":"user","content":"hi"}]}',
      '{"model":"m","messages":[]}',
      '{"messages":[{"content":"hi","role":"user"}],"model":"m"}',
      '{"model":"m","messages":[{"role":"user","content":[{"text":"a","type":"text"}]}]}',
      '{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}',
      '{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","text":5}]}]}',
      '{"model":"m","messages":[{"role":"user","__proto__":{"role":"x"},"content":"hi"}]}',
      '{"model":"m","messages":[{"role":"user","content":"hi","name":null}]}',
      '{"model":"m","messages":[{"role":"tool","tool_call_id":"c","content":"1"}]}',
      '{"model":"m","messages":[{"role":"assistant","tool_calls":[{"__proto__":{}}]}]}',
      '{"model":"m","messages":[{"role":"assistant","tool_calls":[[]]}]}',
      `{${base},"stream_options":{"x":1,"include_usage":true}}`,
      `{${base},"stream_options":{"include_usage":1}}`,
      `{${base},"response_format":{"json_schema":{},"type":"json_schema"}}`,
      `{${base},"response_format":{}}`,
      `{${base},"tools":[{"type":"function"},{"__proto__":1}]}`,
      '[]',
      'null',
      '"x"',
    ];
    for (const t of texts) {
      const v: unknown = JSON.parse(t);
      if (isObj(v)) compare(v);
      else expect(describeError(outcome(() => parseChatBody(v)))).toStrictEqual(describeError(outcome(() => parseChatBodyZod(v))));
    }
  });

  it('hands a body already in zod order back as it is, and copies only what is out of order', () => {
    const inOrder = JSON.parse('{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null}],"stream":true,"user":"u"}') as Obj;
    expect(parseChatBody(inOrder)).toBe(inOrder);
    const python = JSON.parse('{"messages":[{"role":"user","content":"hi"},{"content":"ok","role":"assistant"}],"model":"m"}') as Obj;
    const out = parseChatBody(python) as unknown as Obj;
    expect(Object.keys(out)).toEqual(['model', 'messages']);
    const [m0, m1] = out.messages as Obj[];
    expect(m0).toBe((python.messages as Obj[])[0]);
    expect(Object.keys(m1!)).toEqual(['role', 'content']);
  });
});
