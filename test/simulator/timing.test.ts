import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/simulator/index.js';
import { formatGoDuration, retryAfterValue, RpmWindows } from '../../src/simulator/rate-limit.js';
import { ANTHROPIC_HEADERS, chatBody, messagesBody, post, startFast } from './helpers.js';

describe('rpm window (injected clock)', () => {
  it('is a real sliding 60-s window', () => {
    let now = 0;
    const w = new RpmWindows(() => now);
    expect(w.admit('m', 2)).toMatchObject({ admitted: true, remaining: 1 });
    now = 30_000;
    expect(w.admit('m', 2)).toMatchObject({ admitted: true, remaining: 0, resetMs: 30_000 });
    now = 59_999;
    expect(w.admit('m', 2)).toMatchObject({ admitted: false, remaining: 0, resetMs: 1 });
    now = 60_000;
    expect(w.admit('m', 2)).toMatchObject({ admitted: true, remaining: 0, resetMs: 30_000 });
    expect(w.admit('other', 2).admitted).toBe(true);
  });

  it('formats durations like OpenAI and retry-after as seconds or HTTP-date', () => {
    expect(formatGoDuration(120)).toBe('120ms');
    expect(formatGoDuration(1500)).toBe('1.5s');
    expect(formatGoDuration(360_000)).toBe('6m0s');
    expect(formatGoDuration(3_723_000)).toBe('1h2m3s');
    expect(retryAfterValue(1200, false)).toBe('2');
    expect(retryAfterValue(5000, true, Date.UTC(2030, 0, 1, 0, 0, 0, 500))).toBe('Tue, 01 Jan 2030 00:00:06 GMT');
  });
});

describe('rpm over HTTP', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startFast({ models: { limited: { rpm: 3 }, 'claude-limited': { rpm: 1 } } });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('OpenAI wire: true remaining counts on success, then 429 with retry-after and x-ratelimit-*', async () => {
    const url = `${sim.url}/openai/v1/chat/completions`;
    const remaining: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const ok = await post(url, { ...chatBody(), model: 'limited' });
      expect(ok.status).toBe(200);
      expect(ok.headers['x-ratelimit-limit-requests']).toBe('3');
      remaining.push(ok.headers['x-ratelimit-remaining-requests']);
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const limited = await post(url, { ...chatBody(), model: 'limited' });
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers['x-ratelimit-remaining-requests']).toBe('0');
    expect(String(limited.headers['x-ratelimit-reset-requests'])).toMatch(/^(59(\.\d+)?s|1m0s)$/);
    expect(JSON.parse(limited.text)).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
    // Another model has its own window.
    expect((await post(url, chatBody())).status).toBe(200);
  });

  it('Anthropic wire: 429 rate_limit_error with anthropic-ratelimit-requests-* and retry-after', async () => {
    const url = `${sim.url}/anthropic/v1/messages`;
    const ok = await post(url, { ...messagesBody(), model: 'claude-limited' }, { headers: ANTHROPIC_HEADERS });
    expect(ok.status).toBe(200);
    expect(ok.headers['anthropic-ratelimit-requests-limit']).toBe('1');
    expect(ok.headers['anthropic-ratelimit-requests-remaining']).toBe('0');
    const limited = await post(url, { ...messagesBody(), model: 'claude-limited' }, { headers: ANTHROPIC_HEADERS });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Date.parse(String(limited.headers['anthropic-ratelimit-requests-reset']))).toBeGreaterThan(Date.now());
    expect(JSON.parse(limited.text)).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
  });
});

describe('latency', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startFast({ models: { slow: { ttftMs: 120, tokenGapMs: 20, outputTokens: 5 } } });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('streams the first content token after ttftMs and spaces tokens by tokenGapMs', async () => {
    const raw = await post(`${sim.url}/openai/v1/chat/completions`, { ...chatBody({ stream: true }), model: 'slow' });
    const content = raw.timed.filter((e) => /"content":"[^"]/.test(e.event.data));
    expect(content).toHaveLength(5);
    // Times since the request was sent: nothing can arrive before the simulator sent it, however late this
    // (loaded) process reads it — the gap between two arrivals shrinks when the first is read late (it
    // measured 69.8 ms for 80 on a busy machine), so that gap is only checked loosely.
    expect(content[0]!.t).toBeGreaterThanOrEqual(115);
    expect(content[4]!.t).toBeGreaterThanOrEqual(195);
    expect(content[4]!.t - content[0]!.t).toBeGreaterThanOrEqual(40);
  });

  it('non-streaming waits ttft + tokenGap x tokens', async () => {
    const started = performance.now();
    const raw = await post(`${sim.url}/openai/v1/chat/completions`, { ...chatBody(), model: 'slow' });
    expect(raw.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(215);
  });

  it('with 0/0 latency no timer runs: 100 sequential streams take far less than 100 x the default ttft', async () => {
    const started = performance.now();
    for (let i = 0; i < 100; i++) {
      const r = await post(`${sim.url}/openai/v1/chat/completions`, chatBody({ stream: true }, `question ${i % 10}`));
      expect(r.text.endsWith('data: [DONE]\n\n')).toBe(true);
    }
    // 100 x 15 ms would be the floor if the default ttft (or any token gap) slipped in.
    expect(performance.now() - started).toBeLessThan(1500);
  });
});
