/**
 * Edge validation of chat-completions bodies (zod). Unknown fields pass through untouched;
 * what switchyard itself reads must have the right type, or the client gets a 400 naming it.
 */
import { z } from 'zod';
import { SwitchyardError } from '../errors.js';
import { formatPath } from '../config/load.js';
import { TIERS } from '../config/schema.js';
import { isTier } from '../routing/classify.js';
import type { ChatBody } from '../upstream/types.js';

/** A content part: any type passes on, but a text part must carry its text (as OpenAI requires). */
const contentPart = z
  .looseObject({ type: z.string(), text: z.unknown().optional() })
  .refine((p) => p.type !== 'text' || typeof p.text === 'string', { message: 'a text part needs "text": a string', path: ['text'] });

const message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z
    .union([z.string(), z.array(contentPart), z.null()], {
      error: 'expected a string, an array of content parts ({"type": "text", "text": …}) or null',
    })
    .optional(),
  name: z.string().optional(),
  tool_calls: z.array(z.looseObject({})).optional(),
  tool_call_id: z.string().optional(),
});

const chatBody = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  n: z.number().int().positive().nullish(),
  tools: z.array(z.looseObject({})).nullish(),
  response_format: z.looseObject({ type: z.string() }).nullish(),
  // Sampling fields switchyard forwards (and translates for Anthropic): OpenAI's types and ranges.
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  stop: z.union([z.string(), z.array(z.string())], { error: 'expected a string or an array of strings' }).nullish(),
});

export function parseChatBody(raw: unknown): ChatBody {
  const r = chatBody.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0]!;
    const where = formatPath(first.path);
    const msg = r.error.issues
      .slice(0, 5)
      .map((i) => `${formatPath(i.path)}: ${i.message}`)
      .join('; ');
    throw new SwitchyardError('invalid_request', `invalid request body: ${msg}`, { param: where === '(root)' ? null : where });
  }
  if (r.data.n !== undefined && r.data.n !== null && r.data.n > 1) {
    throw new SwitchyardError('invalid_request', 'n > 1 is not supported by switchyard (each choice would be billed and routed separately); send n requests', {
      param: 'n',
    });
  }
  return r.data as ChatBody;
}

/** Longest hint header value accepted; real task names and numbers are far shorter. */
export const MAX_HINT_CHARS = 128;

const first = (v: string | string[] | undefined, name: string): string | null => {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || s.trim() === '') return null;
  if (s.length > MAX_HINT_CHARS) throw new SwitchyardError('invalid_request', `header ${name} is longer than ${MAX_HINT_CHARS} characters`, { param: name });
  return s.trim();
};

const intHeader = (v: string | string[] | undefined, name: string): number | null => {
  const s = first(v, name);
  if (s === null) return null;
  if (!/^\d{1,15}$/.test(s))
    throw new SwitchyardError('invalid_request', `header ${name} must be a whole number of milliseconds, got "${s.slice(0, 32)}"`, { param: name });
  return Number(s);
};

const numHeader = (v: string | string[] | undefined, name: string): number | null => {
  const s = first(v, name);
  if (s === null) return null;
  // Decimal only: Number() would also read "0x10" as 16, "0b1" as 1 and "1_0"-like typos as NaN.
  const n = /^(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(n) || n < 0)
    throw new SwitchyardError('invalid_request', `header ${name} must be a non-negative number, got "${s.slice(0, 32)}"`, { param: name });
  return n;
};

/**
 * The longest deadline a request may ask for with `x-switchyard-timeout-ms` when the config's own
 * `resilience.requestTimeoutMs` is shorter: the header overrides the config both ways (the spec:
 * "overall deadline for this request"), as LiteLLM's `timeout` and Portkey's request timeout do,
 * but a client cannot hold a request open for days.
 */
export const MAX_HINT_TIMEOUT_MS = 3_600_000;

/**
 * The routing hints of a request. `x-switchyard-timeout-ms` must lie in 1 ms .. the larger of
 * `configTimeoutMs` (resilience.requestTimeoutMs) and {@link MAX_HINT_TIMEOUT_MS}: beyond that
 * it is refused (a value beyond what a timer holds would fire at once, as an instant 504).
 */
export function parseHints(h: Record<string, string | string[] | undefined>, configTimeoutMs: number) {
  const maxTimeoutMs = Math.max(configTimeoutMs, MAX_HINT_TIMEOUT_MS);
  const timeoutMs = intHeader(h['x-switchyard-timeout-ms'], 'x-switchyard-timeout-ms');
  if (timeoutMs !== null && (timeoutMs < 1 || timeoutMs > maxTimeoutMs)) {
    throw new SwitchyardError('invalid_request', `x-switchyard-timeout-ms must be a whole number of milliseconds between 1 and ${maxTimeoutMs}`, {
      param: 'x-switchyard-timeout-ms',
    });
  }
  const tier = first(h['x-switchyard-tier'], 'x-switchyard-tier');
  if (tier !== null && !isTier(tier))
    throw new SwitchyardError('invalid_request', `header x-switchyard-tier must be one of ${TIERS.join(', ')}, got "${tier.slice(0, 32)}"`, {
      param: 'x-switchyard-tier',
    });
  const cascade = first(h['x-switchyard-cascade'], 'x-switchyard-cascade');
  if (cascade !== null && cascade !== 'on' && cascade !== 'off')
    throw new SwitchyardError('invalid_request', `header x-switchyard-cascade must be on or off, got "${cascade.slice(0, 32)}"`, {
      param: 'x-switchyard-cascade',
    });
  return {
    cascade: cascade === null ? null : cascade === 'on',
    task: first(h['x-switchyard-task'], 'x-switchyard-task'),
    tier,
    maxLatencyMs: intHeader(h['x-switchyard-max-latency-ms'], 'x-switchyard-max-latency-ms'),
    maxCostUsd: numHeader(h['x-switchyard-max-cost-usd'], 'x-switchyard-max-cost-usd'),
    timeoutMs,
  };
}
