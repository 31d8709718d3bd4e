/**
 * Lookups by client-supplied names and limits on shape, through the real sidecar process:
 * prototype names are unknown models (400 model_not_found, never a 500), hints are bounded,
 * deep nesting and impossible timeouts are 400s.
 */
import { describe, expect, it } from 'vitest';
import { sidecarOnSimulator } from '../integration/harness.js';
import { isOpenAIError } from './raw.js';

const env = sidecarOnSimulator();

const post = async (body: unknown, headers: Record<string, string> = {}) => {
  const r = await fetch(`${env.sc.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, text, headers: r.headers, code: isOpenAIError(text) ? (JSON.parse(text) as { error: { code: string } }).error.code : null };
};
const hi = [{ role: 'user', content: 'hi' }];

describe('names that are members of every object', () => {
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'route/__proto__', 'route/constructor', 'route/toString', 'route/'])(
    'model %j is 400 model_not_found',
    async (model) => {
      const r = await post({ model, messages: hi });
      expect([r.status, r.code]).toEqual([400, 'model_not_found']);
    },
  );

  it('x-switchyard-task: constructor is an unknown task, not function Object()', async () => {
    const r = await post({ model: 'auto', messages: hi }, { 'x-switchyard-task': 'constructor' });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-switchyard-reason')).toMatch(/unknown task "constructor"/);
    expect(r.headers.get('x-switchyard-reason')).not.toMatch(/function/i);
  });

  it('a body field named constructor is refused by the Anthropic adapter, not taken as harmless', async () => {
    const r = await post({ model: 'claude-sonnet-4.5', messages: hi, constructor: 1, toString: 'x' });
    expect([r.status, r.code]).toEqual([400, 'invalid_request']);
    expect(r.text).toMatch(/constructor cannot be translated/);
  });
});

describe('hints', () => {
  it('the reason header shows a short excerpt of a task, never the whole of it', async () => {
    const r = await post({ model: 'auto', messages: hi }, { 'x-switchyard-task': 'x'.repeat(120) });
    expect(r.status).toBe(200);
    // The reason also carries the scorer's top contributions (issue 11), so bound the excerpt, not the whole line.
    const reason = r.headers.get('x-switchyard-reason')!;
    expect(reason).toContain(`unknown task "${'x'.repeat(32)}..."`);
    expect(reason).not.toContain('x'.repeat(33));
    expect(reason.length).toBeLessThan(200);
  });

  it.each(['x-switchyard-task', 'x-switchyard-tier', 'x-switchyard-max-cost-usd', 'x-switchyard-timeout-ms'])(
    '%s longer than 128 characters is 400',
    async (h) => {
      const r = await post({ model: 'auto', messages: hi }, { [h]: '1'.repeat(129) });
      expect([r.status, r.code]).toEqual([400, 'invalid_request']);
    },
  );

  it.each(['0', '3600001', '99999999999', '9'.repeat(40), '1e3', '-1', '2.5'])('x-switchyard-timeout-ms %s is 400, not an instant 504', async (v) => {
    const r = await post({ model: 'deepseek-v3.2', messages: hi }, { 'x-switchyard-timeout-ms': v });
    expect([r.status, r.code]).toEqual([400, 'invalid_request']);
  });

  it.each(['abc', '-1', 'NaN', 'Infinity', '0x10', '0b1', '1e400', '1,5', '$1'])('x-switchyard-max-cost-usd %s is 400 naming the header', async (v) => {
    const r = await post({ model: 'deepseek-v3.2', messages: hi }, { 'x-switchyard-max-cost-usd': v });
    expect([r.status, r.code]).toEqual([400, 'invalid_request']);
    expect(r.text).toContain('x-switchyard-max-cost-usd must be a non-negative number');
  });

  it.each([
    ['/v1/chat/completions', '1e308'],
    ['/v1/chat/completions', '9007200'],
    ['/v1/chat/completions', '1e10'],
    ['/switchyard/route', '1e308'],
  ])('%s: x-switchyard-max-cost-usd %s (its nano-USD beyond exact integers) is 400, not a 500', async (path, v) => {
    const r = await fetch(`${env.sc.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchyard-max-cost-usd': v },
      body: JSON.stringify({ model: 'deepseek-v3.2', messages: hi, max_tokens: 5 }),
    });
    const text = await r.text();
    expect([r.status, isOpenAIError(text)], text).toEqual([400, true]);
    expect(text).toContain('x-switchyard-max-cost-usd must be at most 9007199 (USD)');
  });

  it('x-switchyard-max-cost-usd 9007199 (the largest) is served', async () => {
    expect((await post({ model: 'deepseek-v3.2', messages: hi, max_tokens: 5 }, { 'x-switchyard-max-cost-usd': '9007199' })).status).toBe(200);
  });

  it.each(['1', '0.5', '.5', '5e-1', '1.'])('x-switchyard-max-cost-usd %s is a decimal and is served', async (v) => {
    expect((await post({ model: 'deepseek-v3.2', messages: hi, max_tokens: 5 }, { 'x-switchyard-max-cost-usd': v })).status).toBe(200);
  });

  it('x-switchyard-timeout-ms overrides resilience.requestTimeoutMs (15 s here) both ways, up to an hour', async () => {
    for (const v of ['15000', '15001', '300000', '3600000']) {
      expect((await post({ model: 'deepseek-v3.2', messages: hi }, { 'x-switchyard-timeout-ms': v })).status, v).toBe(200);
    }
  });
});

describe('nesting', () => {
  const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  it.each([65, 1000, 100_000])('a body nested %i levels deep is 400', async (depth) => {
    const r = await post(`{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}],"metadata":${nested(depth)}}`);
    expect([r.status, r.code]).toEqual([400, 'invalid_request']);
    expect(r.text).toMatch(/64 levels/);
  });

  // Each API's reader checks the parsed body (the Messages, Responses and embeddings routes checked
  // the raw text, a no-op, and a body 6,000 levels deep overflowed the stack: a 500).
  const ROUTES: Array<[string, (deep: string) => string, RegExp]> = [
    ['/v1/messages', (d) => `{"model":"claude-sonnet-4.5","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"metadata":${d}}`, /"type":"error"/],
    ['/v1/messages/count_tokens', (d) => `{"model":"claude-sonnet-4.5","messages":[{"role":"user","content":"hi"}],"metadata":${d}}`, /"type":"error"/],
    ['/v1/responses', (d) => `{"model":"gpt-4.1","input":"hi","metadata":${d}}`, /"error":\{"message"/],
    ['/v1/embeddings', (d) => `{"model":"text-embedding-3-small","input":"hi","x":${d}}`, /"error":\{"message"/],
  ];
  it.each(ROUTES)("on %s a body nested 65 or 6,000 levels deep is 400 in the API's own shape", async (path, body, shape) => {
    for (const depth of [65, 6_000]) {
      const r = await fetch(`${env.sc.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(nested(depth)) });
      const text = await r.text();
      expect([path, depth, r.status]).toEqual([path, depth, 400]);
      expect(text).toMatch(/64 levels/);
      expect(text).toMatch(shape);
    }
  });

  it.each([
    ...ROUTES.map(([p, b, s]) => [p, b, s] as const),
    ['/v1/chat/completions', (d: string) => `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}],"metadata":${d}}`, /"error":\{"message"/] as const,
  ])('on %s a key named __proto__, at the top or deeper, is 400 naming it', async (path, body, shape) => {
    // At the top (its value an object, as a pollution attempt sends it) and deep inside a field.
    for (const sent of ['{"__proto__":{"seed":1},' + body('1').slice(1), body('{"a":[{"__proto__":1}]}')]) {
      const r = await fetch(`${env.sc.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: sent });
      const got = await r.text();
      expect([path, sent, r.status]).toEqual([path, sent, 400]);
      expect(got).toContain('__proto__');
      expect(got).toMatch(shape);
    }
  });

  // The allow-lists of the translated APIs were looked up as plain objects: `constructor` was
  // accepted, `__defineGetter__` a 500, `hasOwnProperty` a 400 quoting JavaScript source.
  it.each([
    ['/v1/responses', { model: 'gpt-4.1', input: 'hi' }],
    ['/v1/embeddings', { model: 'text-embedding-3-small', input: 'hi' }],
  ])('on %s a field named like an Object.prototype member is 400 naming it', async (path, base) => {
    for (const key of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__', '__lookupGetter__']) {
      const r = await fetch(`${env.sc.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...base, [key]: 1 }),
      });
      const text = await r.text();
      expect([key, r.status]).toEqual([key, 400]);
      expect(isOpenAIError(text)).toBe(true);
      expect((JSON.parse(text) as { error: { message: string; param: string } }).error).toMatchObject({
        param: key,
        message: expect.stringMatching(/not supported/),
      });
      expect(text).not.toContain('native code');
    }
  });

  it('a body of more than 50,000 distinct key names is 400 at once; as many keys with few names are served', async () => {
    const flood = Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`k${i}`, i]));
    const r = await post({ model: 'deepseek-v3.2', messages: hi, metadata: flood });
    expect([r.status, r.code]).toEqual([400, 'invalid_request']);
    expect(r.text).toMatch(/more than 50000 distinct key names/);
    const messages = Array.from({ length: 20_001 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i}`, name: 'n' }));
    const ok = await post({ model: 'deepseek-v3.2', messages });
    expect(ok.status).toBe(200);
  });

  it('brackets inside strings do not count', async () => {
    const r = await post({ model: 'deepseek-v3.2', messages: [{ role: 'user', content: '['.repeat(500) }] });
    expect(r.status).toBe(200);
  });
});

describe('an empty body', () => {
  it.each(['/v1/chat/completions', '/v1/messages', '/v1/responses', '/v1/embeddings', '/switchyard/route'])('on %s is 400 saying it is empty', async (path) => {
    for (const body of ['', '  \n']) {
      const r = await fetch(`${env.sc.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(r.status).toBe(400);
      expect(await r.text()).toContain('request body is empty: send a JSON object');
    }
  });
});

describe('wrong types of the fields switchyard forwards', () => {
  // Sent on as they came, an OpenAI-kind simulator answered 200 and an Anthropic one saw a string temperature.
  it.each<[string, Record<string, unknown>, string]>([
    ['temperature as a string', { temperature: 'hot' }, 'temperature'],
    ['temperature above 2', { temperature: 3 }, 'temperature'],
    ['top_p above 1', { top_p: 1.5 }, 'top_p'],
    ['presence_penalty as a string', { presence_penalty: 'x' }, 'presence_penalty'],
    ['frequency_penalty below -2', { frequency_penalty: -3 }, 'frequency_penalty'],
    ['stop as a number', { stop: 5 }, 'stop'],
  ])('%s is 400 invalid_request naming the field', async (_name, extra, param) => {
    for (const model of ['gpt-4.1', 'claude-sonnet-4.5']) {
      const r = await post({ model, messages: hi, ...extra });
      expect([r.status, r.code], model).toEqual([400, 'invalid_request']);
      expect((JSON.parse(r.text) as { error: { param: string } }).error.param).toBe(param);
    }
  });

  it('a message content of the wrong type says what it must be', async () => {
    const r = await post({ model: 'gpt-4.1', messages: [{ role: 'user', content: 5 }] });
    expect([r.status, r.code]).toEqual([400, 'invalid_request']);
    expect(r.text).toMatch(/messages\[0\]\.content: expected a string, an array of content parts/);
  });

  it('a text part without a string text is 400 naming it, for every kind of model', async () => {
    for (const model of ['gpt-4.1', 'claude-sonnet-4.5']) {
      for (const part of [{ type: 'text' }, { type: 'text', text: 5 }]) {
        const r = await post({ model, messages: [{ role: 'user', content: [part] }] });
        expect([r.status, r.code], model).toEqual([400, 'invalid_request']);
        expect(r.text).toContain('messages[0].content[0].text: a text part needs \\"text\\": a string');
      }
    }
  });

  it('null and in-range values are served', async () => {
    const r = await post({ model: 'gpt-4.1', messages: hi, temperature: null, top_p: 0.9, stop: ['x'], presence_penalty: 0, frequency_penalty: null });
    expect(r.status).toBe(200);
  });
});

it('a feedback body over its own 4096-byte limit is 413 naming that limit, not server.maxBodyBytes (which it is not)', async () => {
  const r = await fetch(`${env.sc.url}/switchyard/feedback`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ request_id: 'x'.repeat(5000), good: true }),
  });
  const text = await r.text();
  expect([r.status, isOpenAIError(text)]).toEqual([413, true]);
  expect(text).toContain('over the limit of 4096 bytes (the fixed limit of feedback bodies)');
});

it('the process is alive and wrote no error line', () => {
  expect(env.sc.child.exitCode).toBeNull();
  expect(env.sc.stdout()).not.toMatch(/"level":50/);
});
