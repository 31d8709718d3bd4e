import { describe, expect, it } from 'vitest';
import { MAX_UPSTREAM_WAIT_MS, parseDuration, parseRateLimit, parseRetryAfter } from '../../src/upstream/rate-headers.js';

/** A whole second, so HTTP-dates (second precision) round-trip exactly. */
const NOW = Date.UTC(2025, 10, 27, 12, 0, 0);
const httpDate = (ms: number): string => new Date(ms).toUTCString();
const rfc3339 = (ms: number): string => new Date(ms).toISOString();

describe('parseRetryAfter', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('3', NOW)).toBe(3000);
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 7 ', NOW)).toBe(7000);
  });

  it('reads fractional seconds', () => {
    expect(parseRetryAfter('1.5', NOW)).toBe(1500);
    expect(parseRetryAfter('0.25', NOW)).toBe(250);
  });

  it('reads an HTTP-date relative to the given now', () => {
    expect(httpDate(NOW + 30_000)).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    expect(parseRetryAfter(httpDate(NOW + 30_000), NOW)).toBe(30_000);
    expect(parseRetryAfter(httpDate(NOW + 30_000), NOW + 10_000)).toBe(20_000);
  });

  it('clamps an HTTP-date in the past to 0', () => {
    expect(parseRetryAfter(httpDate(NOW - 60_000), NOW)).toBe(0);
  });

  it('returns null for absent, empty and plain garbage values', () => {
    for (const v of [undefined, '', '   ', 'soon', 'in 5 minutes', '1e3', 'NaN']) expect(parseRetryAfter(v, NOW), String(v)).toBeNull();
  });

  it('returns null (not "retry now") for malformed numbers that Date.parse happens to accept', () => {
    // RFC 9110: Retry-After is an HTTP-date or 1*DIGIT. V8's lenient Date.parse reads these as
    // dates in 2001, which would turn a broken header into an immediate retry.
    for (const v of ['-1', '+3', '1,5', '1.5.2']) expect(parseRetryAfter(v, NOW), v).toBeNull();
  });
});

describe('parseDuration', () => {
  it.each([
    ['1s', 1000],
    ['6m0s', 360_000],
    ['1h2m3.5s', 3_723_500],
    ['20ms', 20],
    ['0.5s', 500],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['17', 17_000],
  ])('%s → %i ms', (v, ms) => {
    expect(parseDuration(v)).toBe(ms);
  });

  it.each([undefined, '', 'soon', '5x', '1m30', 's', 'ms', '1s garbage', '-1s', '1 s'])('%s → null', (v) => {
    expect(parseDuration(v)).toBeNull();
  });

  it('a header of 15,000 digits and no unit is refused in linear time (200 ms each: retried from every start)', () => {
    const hostile = `${'9'.repeat(15_000)}x`;
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) expect(parseDuration(hostile)).toBeNull();
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('parseRateLimit', () => {
  it('OpenAI headers: requests exhausted → resetMs from x-ratelimit-reset-requests', () => {
    const info = parseRateLimit(
      {
        'x-ratelimit-limit-requests': '500',
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': '6m0s',
        'x-ratelimit-remaining-tokens': '149984',
        'x-ratelimit-reset-tokens': '6ms',
      },
      NOW,
    );
    expect(info).toEqual({ retryAfterMs: null, remainingRequests: 0, remainingTokens: 149984, resetMs: 360_000 });
  });

  it('OpenAI headers: tokens exhausted → resetMs from x-ratelimit-reset-tokens', () => {
    const info = parseRateLimit(
      { 'x-ratelimit-remaining-requests': '12', 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '1.5s', 'retry-after': '2' },
      NOW,
    );
    expect(info).toEqual({ retryAfterMs: 2000, remainingRequests: 12, remainingTokens: 0, resetMs: 1500 });
  });

  it('both exhausted → the later reset', () => {
    const h = {
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '2s',
      'x-ratelimit-remaining-tokens': '0',
      'x-ratelimit-reset-tokens': '20ms',
    };
    expect(parseRateLimit(h, NOW).resetMs).toBe(2000);
    expect(parseRateLimit({ ...h, 'x-ratelimit-reset-tokens': '1m' }, NOW).resetMs).toBe(60_000);
  });

  it('Anthropic headers: RFC 3339 reset time relative to now', () => {
    const info = parseRateLimit(
      {
        'anthropic-ratelimit-requests-limit': '50',
        'anthropic-ratelimit-requests-remaining': '0',
        'anthropic-ratelimit-requests-reset': rfc3339(NOW + 20_000),
        'anthropic-ratelimit-tokens-remaining': '39000',
        'anthropic-ratelimit-tokens-reset': rfc3339(NOW + 5_000),
        'retry-after': '20',
      },
      NOW,
    );
    expect(info).toEqual({ retryAfterMs: 20_000, remainingRequests: 0, remainingTokens: 39000, resetMs: 20_000 });
    const tokens = parseRateLimit({ 'anthropic-ratelimit-tokens-remaining': '0', 'anthropic-ratelimit-tokens-reset': '2025-11-27T12:00:07Z' }, NOW);
    expect(tokens.resetMs).toBe(7000);
  });

  it('remaining > 0 → resetMs null even when reset headers are present', () => {
    const oa = parseRateLimit(
      { 'x-ratelimit-remaining-requests': '3', 'x-ratelimit-reset-requests': '1s', 'x-ratelimit-remaining-tokens': '100', 'x-ratelimit-reset-tokens': '1s' },
      NOW,
    );
    expect(oa).toEqual({ retryAfterMs: null, remainingRequests: 3, remainingTokens: 100, resetMs: null });
    const an = parseRateLimit({ 'anthropic-ratelimit-requests-remaining': '9', 'anthropic-ratelimit-requests-reset': rfc3339(NOW + 1000) }, NOW);
    expect(an.resetMs).toBeNull();
  });

  it('no rate-limit headers at all → everything null', () => {
    expect(parseRateLimit({ 'content-type': 'application/json' }, NOW)).toEqual({
      retryAfterMs: null,
      remainingRequests: null,
      remainingTokens: null,
      resetMs: null,
    });
  });

  it('retry-after-ms (OpenAI, Azure) is read first, as the OpenAI and Anthropic SDKs do; a broken one falls back to retry-after', () => {
    expect(parseRateLimit({ 'retry-after-ms': '400' }, NOW).retryAfterMs).toBe(400);
    expect(parseRateLimit({ 'retry-after-ms': '250.5', 'retry-after': '1' }, NOW).retryAfterMs).toBe(251);
    expect(parseRateLimit({ 'retry-after-ms': '0', 'retry-after': '20' }, NOW).retryAfterMs).toBe(0);
    for (const v of ['', 'soon', '-5', '1e3', 'NaN']) expect(parseRateLimit({ 'retry-after-ms': v, 'retry-after': '3' }, NOW).retryAfterMs, v).toBe(3000);
    expect(parseRateLimit({ 'retry-after-ms': 'soon' }, NOW).retryAfterMs).toBeNull();
  });

  it('an upstream wait is at most an hour, however far its header points (retry-after: 1000000000 took the endpoint out for decades)', () => {
    expect(MAX_UPSTREAM_WAIT_MS).toBe(3_600_000);
    const hour = MAX_UPSTREAM_WAIT_MS;
    expect(parseRateLimit({ 'retry-after': '1000000000' }, NOW).retryAfterMs).toBe(hour);
    expect(parseRateLimit({ 'retry-after': '99999999999999999999' }, NOW).retryAfterMs).toBe(hour);
    expect(parseRateLimit({ 'retry-after-ms': '99999999999' }, NOW).retryAfterMs).toBe(hour);
    expect(parseRateLimit({ 'retry-after': httpDate(NOW + 40 * 365 * 86_400_000) }, NOW).retryAfterMs).toBe(hour);
    expect(parseRateLimit({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '100000h' }, NOW).resetMs).toBe(hour);
    expect(parseRateLimit({ 'anthropic-ratelimit-tokens-remaining': '0', 'anthropic-ratelimit-tokens-reset': rfc3339(NOW + 1e12) }, NOW).resetMs).toBe(hour);
    // An hour itself, and anything shorter, as sent.
    expect(parseRateLimit({ 'retry-after': '3600' }, NOW).retryAfterMs).toBe(hour);
    expect(parseRateLimit({ 'retry-after': '3599' }, NOW).retryAfterMs).toBe(3_599_000);
  });

  it('reads the first value of a repeated header', () => {
    const info = parseRateLimit({ 'retry-after': ['4', '9'], 'x-ratelimit-remaining-requests': ['0'], 'x-ratelimit-reset-requests': ['3s'] }, NOW);
    expect(info).toMatchObject({ retryAfterMs: 4000, remainingRequests: 0, resetMs: 3000 });
  });

  it('an exhausted window whose reset is unknown gives resetMs null, not 0', () => {
    // 0 would read as "resets now" and make a 429 retry the same endpoint with no delay.
    expect(parseRateLimit({ 'x-ratelimit-remaining-tokens': '0' }, NOW).resetMs).toBeNull();
    expect(parseRateLimit({ 'anthropic-ratelimit-tokens-remaining': '0', 'anthropic-ratelimit-tokens-reset': 'garbage' }, NOW).resetMs).toBeNull();
    expect(parseRateLimit({ 'x-ratelimit-remaining-requests': '0' }, NOW).resetMs).toBeNull();
  });
});
