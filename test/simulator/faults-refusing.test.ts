import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/simulator/index.js';
import { ANTHROPIC_HEADERS, chatBody, messagesBody, post, startFast } from './helpers.js';

let sim: Simulator;
let oa: string;
let an: string;

beforeAll(async () => {
  sim = await startFast({ models: { small: { contextWindow: 30 } } });
  oa = `${sim.url}/openai/v1/chat/completions`;
  an = `${sim.url}/anthropic/v1/messages`;
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  sim.clearFaults();
  sim.resetLog();
});

const openAiError = (text: string): { type: string; code: string | null; param: string | null; message: string } =>
  (JSON.parse(text) as { error: { type: string; code: string | null; param: string | null; message: string } }).error;
const anthropicError = (text: string): { type: string; message: string } => {
  const body = JSON.parse(text) as { type: string; error: { type: string; message: string } };
  expect(body.type).toBe('error');
  return body.error;
};

describe('faults that replace the answer', () => {
  it('rate_limit: 429 rate_limit_exceeded with retry-after seconds on OpenAI, rate_limit_error on Anthropic', async () => {
    sim.setFault('gpt-test', { kind: 'rate_limit', retryAfterSec: 7 });
    const a = await post(oa, chatBody());
    expect(a.status).toBe(429);
    expect(a.headers['retry-after']).toBe('7');
    expect(openAiError(a.text)).toMatchObject({ code: 'rate_limit_exceeded' });
    expect(a.headers['x-ratelimit-remaining-requests']).toBeUndefined();
    sim.setFault('claude-test', { kind: 'rate_limit', retryAfterSec: 2 });
    const b = await post(an, messagesBody(), { headers: ANTHROPIC_HEADERS });
    expect(b.status).toBe(429);
    expect(b.headers['retry-after']).toBe('2');
    expect(anthropicError(b.text).type).toBe('rate_limit_error');
    expect(sim.log().map((e) => [e.fault, e.status])).toEqual([
      ['rate_limit', 429],
      ['rate_limit', 429],
    ]);
  });

  it('rate_limit: no retry-after without retryAfterSec; HTTP-date with retryAfterDate; x-ratelimit-* with rateLimitHeaders', async () => {
    sim.setFault('gpt-test', { kind: 'rate_limit' });
    const bare = await post(oa, chatBody());
    expect(bare.status).toBe(429);
    expect(bare.headers['retry-after']).toBeUndefined();

    sim.setFault('gpt-test', { kind: 'rate_limit', retryAfterSec: 30, retryAfterDate: true, rateLimitHeaders: true });
    const before = Date.now();
    const dated = await post(oa, chatBody());
    const when = Date.parse(String(dated.headers['retry-after']));
    expect(String(dated.headers['retry-after'])).toMatch(/GMT$/);
    expect(when).toBeGreaterThanOrEqual(before + 29_000);
    expect(when).toBeLessThanOrEqual(Date.now() + 31_000);
    expect(dated.headers['x-ratelimit-remaining-requests']).toBe('0');
    expect(dated.headers['x-ratelimit-reset-requests']).toBe('30s');

    sim.setFault('claude-test', { kind: 'rate_limit', rateLimitHeaders: true });
    const ant = await post(an, messagesBody(), { headers: ANTHROPIC_HEADERS });
    expect(ant.headers['anthropic-ratelimit-requests-remaining']).toBe('0');
  });

  it('ratelimit_headers_exhausted: a normal 200 answer announcing remaining 0 and the reset', async () => {
    sim.setFault('*', { kind: 'ratelimit_headers_exhausted', resetSec: 12 });
    const a = await post(oa, chatBody());
    expect(a.status).toBe(200);
    expect(JSON.parse(a.text)).toHaveProperty('choices');
    expect(a.headers['x-ratelimit-remaining-requests']).toBe('0');
    expect(a.headers['x-ratelimit-reset-requests']).toBe('12s');
    expect(a.headers['x-ratelimit-remaining-tokens']).toBe('0');
    expect(a.headers['x-ratelimit-reset-tokens']).toBe('12s');
    const b = await post(an, messagesBody(), { headers: ANTHROPIC_HEADERS });
    expect(b.status).toBe(200);
    expect(b.headers['anthropic-ratelimit-requests-remaining']).toBe('0');
    const reset = Date.parse(String(b.headers['anthropic-ratelimit-requests-reset']));
    expect(reset - Date.now()).toBeGreaterThan(10_000);
  });

  it('http_error: each status with a wire-correct body, seen by the OpenAI SDK as APIError with that status', async () => {
    const openai = new OpenAI({ baseURL: `${sim.url}/openai/v1`, apiKey: 'k', maxRetries: 0 });
    for (const status of [500, 502, 503, 529] as const) {
      sim.setFault('gpt-test', { kind: 'http_error', status });
      const raw = await post(oa, chatBody());
      expect(raw.status).toBe(status);
      expect(openAiError(raw.text).type).toBe('server_error');
      await expect(openai.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status });
    }
    sim.setFault('claude-test', { kind: 'http_error', status: 529 });
    const overloaded = await post(an, messagesBody(), { headers: ANTHROPIC_HEADERS });
    expect(overloaded.status).toBe(529);
    expect(anthropicError(overloaded.text).type).toBe('overloaded_error');
    sim.setFault('claude-test', { kind: 'http_error', status: 500 });
    const apiError = await post(an, messagesBody(), { headers: ANTHROPIC_HEADERS });
    expect(anthropicError(apiError.text).type).toBe('api_error');
  });

  it('reset: the socket is destroyed before any header; the log has no status', async () => {
    sim.setFault('gpt-test', { kind: 'reset' });
    await expect(request(oa, { method: 'POST', body: JSON.stringify(chatBody()) })).rejects.toThrow();
    expect(sim.log()).toMatchObject([{ fault: 'reset', status: null, model: 'gpt-test' }]);
  });

  it('hang: reads the request and never answers', async () => {
    sim.setFault('gpt-test', { kind: 'hang' });
    const started = performance.now();
    await expect(request(oa, { method: 'POST', body: JSON.stringify(chatBody()), signal: AbortSignal.timeout(250) })).rejects.toThrow();
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);
    expect(sim.log()).toMatchObject([{ fault: 'hang', status: null }]);
  });

  it('context_length_exceeded: OpenAI code and param, Anthropic "prompt is too long"', async () => {
    sim.setFault('*', { kind: 'context_length_exceeded' });
    const a = await post(oa, chatBody());
    expect(a.status).toBe(400);
    expect(openAiError(a.text)).toMatchObject({ type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' });
    expect(openAiError(a.text).message).toMatch(/maximum context length is \d+ tokens/);
    const b = await post(an, messagesBody(), { headers: ANTHROPIC_HEADERS });
    expect(b.status).toBe(400);
    expect(anthropicError(b.text)).toMatchObject({
      type: 'invalid_request_error',
      message: expect.stringMatching(/^prompt is too long: \d+ tokens > \d+ maximum$/),
    });
  });

  it('contextWindow in the profile: prompt + max_tokens over it fails naturally, under it passes', async () => {
    const over = await post(oa, { ...chatBody({ max_tokens: 25 }), model: 'small' });
    expect(over.status).toBe(400);
    expect(openAiError(over.text).code).toBe('context_length_exceeded');
    expect(openAiError(over.text).message).toContain('maximum context length is 30 tokens');
    const under = await post(oa, { ...chatBody({ max_tokens: 5 }), model: 'small' });
    expect(under.status).toBe(200);
    const ant = await post(an, { ...messagesBody({ max_tokens: 100 }), model: 'small' }, { headers: ANTHROPIC_HEADERS });
    expect(anthropicError(ant.text).message).toMatch(/> 30 maximum$/);
  });

  it('content_policy_violation: 400 on both wires', async () => {
    sim.setFault('*', { kind: 'content_policy_violation' });
    const a = await post(oa, chatBody());
    expect(a.status).toBe(400);
    expect(openAiError(a.text)).toMatchObject({ type: 'invalid_request_error', code: 'content_policy_violation' });
    const b = await post(an, messagesBody(), { headers: ANTHROPIC_HEADERS });
    expect(b.status).toBe(400);
    expect(anthropicError(b.text)).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining('Usage Policy') });
  });
});

describe('close() with hung and stalled connections', () => {
  it('returns promptly and the client sees the connection end', async () => {
    const other = await startFast();
    other.setFault('m', { kind: 'hang' });
    const pending = request(`${other.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ ...chatBody(), model: 'm' }) });
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    await other.close();
    expect(performance.now() - started).toBeLessThan(2000);
    await expect(pending).rejects.toThrow();
  });
});
