/**
 * Reading rate-limit headers: `retry-after-ms` (milliseconds, OpenAI's and Azure's; read first,
 * as the OpenAI and Anthropic SDKs do), `retry-after` (seconds or HTTP-date), OpenAI's
 * `x-ratelimit-remaining-*` / `x-ratelimit-reset-*` (durations like `1s`, `6m0s`, `20ms`)
 * and Anthropic's `anthropic-ratelimit-*-remaining` / `-reset` (RFC 3339 times).
 */
import type { RateLimitInfo } from './types.js';

type Headers = Record<string, string | string[] | undefined>;

/**
 * The longest wait an upstream can impose (`retry-after`, `retry-after-ms`, an exhausted
 * window's reset): one hour. A header asking for more is most likely broken (`retry-after:
 * 1000000000`, a date decades ahead) and would take the endpoint out for good; a real daily
 * quota is then asked again once an hour, which costs one 429.
 */
export const MAX_UPSTREAM_WAIT_MS = 3_600_000;

const capped = (ms: number | null): number | null => (ms === null ? null : Math.min(ms, MAX_UPSTREAM_WAIT_MS));

const one = (h: Headers, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

const HTTP_DATE = /^[A-Za-z]{3,9},? [\w -]+ \d{2}:\d{2}:\d{2}( GMT| \d{4})$/;

/** `retry-after` as milliseconds from `now`, or null. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (value === undefined || value.trim() === '') return null;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  // Only an HTTP-date; V8's lenient Date.parse would read "-1" or "1,5" as a date in 2001.
  if (!HTTP_DATE.test(v)) return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}

/** `retry-after-ms` (a non-negative decimal number of milliseconds) as whole milliseconds, or null. */
export function parseRetryAfterMs(value: string | undefined): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  return /^\d+(\.\d+)?$/.test(v) ? Math.ceil(Number(v)) : null;
}

/**
 * The longest duration read (`1h2m3.5s` is 8). An upstream's header of 15,000 digits and no unit
 * took 200 ms: the pattern below retried its digits from every start.
 */
const MAX_DURATION_CHARS = 64;

/** Go-style durations as OpenAI sends them: `1s`, `6m0s`, `1h2m3.5s`, `20ms`. */
export function parseDuration(value: string | undefined): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (v.length > MAX_DURATION_CHARS) return null;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = '';
  for (const m of v.matchAll(re)) {
    const n = Number(m[1]);
    const unit = m[2];
    total += unit === 'h' ? n * 3_600_000 : unit === 'm' ? n * 60_000 : unit === 's' ? n * 1000 : n;
    matched += m[0];
  }
  return matched.length === v.length && matched.length > 0 ? Math.round(total) : null;
}

const num = (v: string | undefined): number | null => (v !== undefined && /^\d+$/.test(v.trim()) ? Number(v.trim()) : null);

export function parseRateLimit(h: Headers, now: number): RateLimitInfo {
  const remainingRequests = num(one(h, 'x-ratelimit-remaining-requests')) ?? num(one(h, 'anthropic-ratelimit-requests-remaining'));
  const remainingTokens = num(one(h, 'x-ratelimit-remaining-tokens')) ?? num(one(h, 'anthropic-ratelimit-tokens-remaining'));
  let resetMs: number | null = null;
  const pick = (oa: string, an: string): number | null => {
    const d = parseDuration(one(h, oa));
    if (d !== null) return d;
    const t = one(h, an);
    if (t === undefined) return null;
    const at = Date.parse(t);
    return Number.isNaN(at) ? null : Math.max(0, at - now);
  };
  if (remainingRequests === 0) resetMs = pick('x-ratelimit-reset-requests', 'anthropic-ratelimit-requests-reset');
  if (remainingTokens === 0) {
    const t = pick('x-ratelimit-reset-tokens', 'anthropic-ratelimit-tokens-reset');
    if (t !== null) resetMs = Math.max(resetMs ?? 0, t);
  }
  const retryAfterMs = parseRetryAfterMs(one(h, 'retry-after-ms')) ?? parseRetryAfter(one(h, 'retry-after'), now);
  return { retryAfterMs: capped(retryAfterMs), remainingRequests, remainingTokens, resetMs: capped(resetMs) };
}
