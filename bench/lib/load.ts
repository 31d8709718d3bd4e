/**
 * Closed-loop load: N workers on an undici Pool of N connections, each sending the next
 * request as soon as the previous one has been read to its end, for a fixed time. Streams
 * also record the time to the first content chunk.
 */
import { Pool } from 'undici';

export type Mode = 'json' | 'stream';

export interface Target {
  name: string;
  /** Full URL of the chat completions endpoint. */
  url: string;
}

export interface LoadSample {
  requests: number;
  errors: number;
  seconds: number;
  /** Latency of each successful request, ms, sorted ascending. */
  latencyMs: number[];
  /** Streams only: time to the first content chunk, ms, sorted ascending. */
  ttfbMs: number[];
  firstError: string | null;
}

export function requestBody(mode: Mode): string {
  return JSON.stringify({
    model: 'gpt-4.1',
    messages: [{ role: 'user', content: 'Say hello to the benchmark in a few words, please.' }],
    max_tokens: 64,
    // The sidecar always asks its upstream for usage; the direct and pass-through paths ask too,
    // so every target moves the same events.
    ...(mode === 'stream' ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}

/**
 * A content delta with at least one character: `"content":"x`. The opening role event carries
 * `"content":""` and does not count. `tail` carries the end of the previous chunk so a marker
 * split between two chunks is still found.
 */
const CONTENT = '"content":"';
function hasContent(text: string): boolean {
  let at = text.indexOf(CONTENT);
  while (at !== -1) {
    const next = text[at + CONTENT.length];
    if (next !== undefined && next !== '"') return true;
    at = text.indexOf(CONTENT, at + 1);
  }
  return false;
}

interface Outcome {
  ok: boolean;
  ttfb: number;
  error: string | null;
}

async function once(pool: Pool, path: string, body: string, mode: Mode, t0: number): Promise<Outcome> {
  const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' }, body });
  if (mode === 'json') {
    const text = await res.body.text();
    if (res.statusCode !== 200) return { ok: false, ttfb: -1, error: `${res.statusCode} ${text.slice(0, 200)}` };
    return { ok: text.includes('"choices"'), ttfb: -1, error: text.includes('"choices"') ? null : `no choices: ${text.slice(0, 200)}` };
  }
  let ttfb = -1;
  let tail = '';
  for await (const chunk of res.body) {
    const text = tail + (chunk as Buffer).toString('utf8');
    if (ttfb < 0 && hasContent(text)) ttfb = performance.now() - t0;
    tail = text.slice(-32);
  }
  if (res.statusCode !== 200) return { ok: false, ttfb, error: `${res.statusCode} ${tail}` };
  // A stream that ends without [DONE] was truncated (switchyard ends failed streams that way).
  if (!tail.includes('[DONE]')) return { ok: false, ttfb, error: `stream without [DONE]: …${tail}` };
  if (ttfb < 0) return { ok: false, ttfb, error: 'stream without a content chunk' };
  return { ok: true, ttfb, error: null };
}

/** Called at the edges of the measured window (e.g. to read CPU counters). */
export interface WindowHooks {
  onStart(): void;
  onEnd(): void;
}

/**
 * Run `conns` closed-loop workers against `target`: `warmupSeconds` unrecorded, then
 * `seconds` measured, then the workers stop and in-flight requests drain. The measured window
 * is steady state: requests completing inside it are counted, and `hooks` fire at its edges,
 * so work in flight at the start and at the end balance out (no drain inside the window).
 */
export async function runLoad(
  pool: Pool,
  target: Target,
  mode: Mode,
  conns: number,
  warmupSeconds: number,
  seconds: number,
  hooks: WindowHooks,
): Promise<LoadSample> {
  const path = new URL(target.url).pathname;
  const body = requestBody(mode);
  const latency: number[] = [];
  const ttfb: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  let phase: 'warmup' | 'measure' | 'done' = 'warmup';
  let windowStart = 0;
  let windowEnd = 0;
  const startTimer = setTimeout(() => {
    hooks.onStart();
    windowStart = performance.now();
    phase = 'measure';
  }, warmupSeconds * 1000);
  const endTimer = setTimeout(
    () => {
      hooks.onEnd();
      windowEnd = performance.now();
      phase = 'done';
    },
    (warmupSeconds + seconds) * 1000,
  );
  const worker = async (): Promise<void> => {
    while (phase !== 'done') {
      const t0 = performance.now();
      let r: Outcome;
      try {
        r = await once(pool, path, body, mode, t0);
      } catch (err) {
        r = { ok: false, ttfb: -1, error: err instanceof Error ? err.message : String(err) };
      }
      if (phase !== 'measure') continue;
      if (r.ok) {
        latency.push(performance.now() - t0);
        if (r.ttfb >= 0) ttfb.push(r.ttfb);
      } else {
        errors++;
        firstError ??= r.error;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: conns }, worker));
  } finally {
    clearTimeout(startTimer);
    clearTimeout(endTimer);
  }
  const asc = (a: number, b: number): number => a - b;
  return { requests: latency.length, errors, seconds: (windowEnd - windowStart) / 1000, latencyMs: latency.sort(asc), ttfbMs: ttfb.sort(asc), firstError };
}

/** Exactly `n` requests over `conns` closed-loop workers (no timing): returns how many failed. */
export async function runCount(pool: Pool, target: Target, mode: Mode, conns: number, n: number): Promise<{ errors: number; firstError: string | null }> {
  const path = new URL(target.url).pathname;
  const body = requestBody(mode);
  let issued = 0;
  let errors = 0;
  let firstError: string | null = null;
  const worker = async (): Promise<void> => {
    while (issued < n) {
      issued++;
      let r: Outcome;
      try {
        r = await once(pool, path, body, mode, performance.now());
      } catch (err) {
        r = { ok: false, ttfb: -1, error: err instanceof Error ? err.message : String(err) };
      }
      if (!r.ok) {
        errors++;
        firstError ??= r.error;
      }
    }
  };
  await Promise.all(Array.from({ length: conns }, worker));
  return { errors, firstError };
}

export function newPool(target: Target, conns: number): Pool {
  return new Pool(new URL(target.url).origin, { connections: conns, pipelining: 1, keepAliveTimeout: 60_000 });
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
