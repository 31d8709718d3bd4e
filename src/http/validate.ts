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

const message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string() })), z.null()]).optional(),
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
});

export function parseChatBody(raw: unknown): ChatBody {
  const r = chatBody.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0]!;
    const where = formatPath(first.path);
    const msg = r.error.issues.slice(0, 5).map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ');
    throw new SwitchyardError('invalid_request', `invalid request body: ${msg}`, { param: where === '(root)' ? null : where });
  }
  if (r.data.n !== undefined && r.data.n !== null && r.data.n > 1) {
    throw new SwitchyardError('invalid_request', 'n > 1 is not supported by switchyard (each choice would be billed and routed separately); send n requests', { param: 'n' });
  }
  return r.data as ChatBody;
}

const intHeader = (v: string | string[] | undefined, name: string): number | null => {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || s === '') return null;
  if (!/^\d+$/.test(s.trim())) throw new SwitchyardError('invalid_request', `header ${name} must be a whole number of milliseconds, got "${s}"`, { param: name });
  return Number(s.trim());
};

const numHeader = (v: string | string[] | undefined, name: string): number | null => {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || s === '') return null;
  const n = Number(s.trim());
  if (!Number.isFinite(n) || n < 0) throw new SwitchyardError('invalid_request', `header ${name} must be a non-negative number, got "${s}"`, { param: name });
  return n;
};

const strHeader = (v: string | string[] | undefined): string | null => {
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? null : s.trim();
};

export function parseHints(h: Record<string, string | string[] | undefined>) {
  const timeoutMs = intHeader(h['x-switchyard-timeout-ms'], 'x-switchyard-timeout-ms');
  if (timeoutMs === 0) throw new SwitchyardError('invalid_request', 'x-switchyard-timeout-ms must be greater than 0', { param: 'x-switchyard-timeout-ms' });
  const tier = strHeader(h['x-switchyard-tier']);
  if (tier !== null && !isTier(tier)) throw new SwitchyardError('invalid_request', `header x-switchyard-tier must be one of ${TIERS.join(', ')}, got "${tier}"`, { param: 'x-switchyard-tier' });
  const cascade = strHeader(h['x-switchyard-cascade']);
  if (cascade !== null && cascade !== 'on' && cascade !== 'off') throw new SwitchyardError('invalid_request', `header x-switchyard-cascade must be on or off, got "${cascade}"`, { param: 'x-switchyard-cascade' });
  return {
    cascade: cascade === null ? null : cascade === 'on',
    task: strHeader(h['x-switchyard-task']),
    tier,
    maxLatencyMs: intHeader(h['x-switchyard-max-latency-ms'], 'x-switchyard-max-latency-ms'),
    maxCostUsd: numHeader(h['x-switchyard-max-cost-usd'], 'x-switchyard-max-cost-usd'),
    timeoutMs,
  };
}
