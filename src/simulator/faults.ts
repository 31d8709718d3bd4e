import { z } from 'zod';

/**
 * Injectable faults. Every fault may carry `times` (apply to the next N matching requests,
 * then clear itself) and `durationMs` (active only that long after being set); with neither
 * it stays until cleared.
 */
const lifetime = {
  times: z.number().int().positive().optional(),
  durationMs: z.number().int().positive().optional(),
};
const afterTokens = z.number().int().min(0);

export const FaultSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('rate_limit'),
    retryAfterSec: z.number().min(0).optional(),
    /** Send `retry-after` as an HTTP-date instead of seconds. */
    retryAfterDate: z.boolean().optional(),
    /** Send `retry-after-ms` (OpenAI's and Azure's header, milliseconds). */
    retryAfterMs: z.number().min(0).optional(),
    /** Include x-ratelimit-* / anthropic-ratelimit-* headers with remaining 0. */
    rateLimitHeaders: z.boolean().optional(),
    ...lifetime,
  }),
  z.strictObject({ kind: z.literal('ratelimit_headers_exhausted'), resetSec: z.number().min(0), ...lifetime }),
  z.strictObject({
    kind: z.literal('http_error'),
    status: z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(529)], { error: 'expected one of 500, 502, 503, 529' }),
    message: z.string().optional(),
    retryAfterSec: z.number().min(0).optional(),
    retryAfterMs: z.number().min(0).optional(),
    ...lifetime,
  }),
  z.strictObject({ kind: z.literal('reset'), ...lifetime }),
  z.strictObject({ kind: z.literal('hang'), ...lifetime }),
  z.strictObject({ kind: z.literal('slow_first_token'), delayMs: z.number().int().min(0), ...lifetime }),
  z.strictObject({ kind: z.literal('cut'), afterTokens, ...lifetime }),
  z.strictObject({ kind: z.literal('stall'), afterTokens, ...lifetime }),
  z.strictObject({ kind: z.literal('malformed_chunk'), afterTokens, ...lifetime }),
  z.strictObject({ kind: z.literal('no_done'), omitUsage: z.boolean().optional(), ...lifetime }),
  z.strictObject({ kind: z.literal('no_usage'), ...lifetime }),
  z.strictObject({ kind: z.literal('context_length_exceeded'), ...lifetime }),
  z.strictObject({ kind: z.literal('content_policy_violation'), ...lifetime }),
  /** The provider's own 404 for the model it was sent (retired, misspelt, not on the account). */
  z.strictObject({ kind: z.literal('model_not_found'), ...lifetime }),
  z.strictObject({ kind: z.literal('stream_error_event'), afterTokens, ...lifetime }),
  // Quality faults: a 200 answer that is not good enough (the cascade's checks catch them).
  z.strictObject({ kind: z.literal('invalid_json'), ...lifetime }),
  z.strictObject({ kind: z.literal('json_mismatch'), ...lifetime }),
  z.strictObject({ kind: z.literal('refusal'), ...lifetime }),
  z.strictObject({ kind: z.literal('empty'), ...lifetime }),
  z.strictObject({ kind: z.literal('length_stop'), ...lifetime }),
  z.strictObject({ kind: z.literal('invalid_tool_args'), ...lifetime }),
  z.strictObject({ kind: z.literal('low_logprob'), logprob: z.number().max(0).optional(), ...lifetime }),
]);

export type Fault = z.infer<typeof FaultSchema>;
export type FaultKind = Fault['kind'];

/** Faults that only change a streamed answer; a non-streaming request does not consume them. */
const STREAM_ONLY: ReadonlySet<FaultKind> = new Set<FaultKind>(['malformed_chunk', 'no_done', 'stream_error_event']);

/** The key under which a fault applies to every model without a fault of its own. */
export const ALL_MODELS = '*';

interface Entry {
  fault: Fault;
  remaining: number | undefined;
  expiresAt: number | undefined;
}

/** Active faults by upstream model name; a model's own fault wins over the `*` one. */
export class FaultStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  set(model: string, fault: Fault): void {
    this.entries.set(model, {
      fault,
      remaining: fault.times,
      expiresAt: fault.durationMs === undefined ? undefined : this.now() + fault.durationMs,
    });
  }

  clear(model?: string): void {
    if (model === undefined) this.entries.clear();
    else this.entries.delete(model);
  }

  /** The fault to apply to this request, counting it against `times`; null if none. */
  take(model: string, stream: boolean): Fault | null {
    for (const key of [model, ALL_MODELS]) {
      const entry = this.entries.get(key);
      if (entry === undefined) continue;
      if (entry.expiresAt !== undefined && this.now() >= entry.expiresAt) {
        this.entries.delete(key);
        continue;
      }
      if (!stream && STREAM_ONLY.has(entry.fault.kind)) return null;
      if (entry.remaining !== undefined) {
        entry.remaining--;
        if (entry.remaining <= 0) this.entries.delete(key);
      }
      return entry.fault;
    }
    return null;
  }
}
