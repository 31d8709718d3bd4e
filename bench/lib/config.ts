/**
 * The realistic sidecar config the benches measure (`npm run bench`, bench/ab.ts,
 * bench/memory.ts, bench/shared.ts): one model on the simulator's OpenAI wire, a global budget
 * (every request reserves and settles, as a deployment that keeps spend bounded does), the real
 * default store (a durable SQLite row per request is part of the cost being measured) unless
 * `storage` names another, logging at warn. `endpoint` adds keys to the model's one endpoint
 * (rate limits); `over` replaces top-level keys.
 */
/** The simulator every bench runs against: zero think time, so what is left is the cost of the hops. */
export const SIM_PROFILE = { defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 32 } };

export function realisticConfig(
  simUrl: string,
  storage: Record<string, unknown>,
  opts: { endpoint?: Record<string, unknown>; over?: Record<string, unknown> } = {},
): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1' },
    providers: { openai: { kind: 'openai', baseUrl: `${simUrl}/openai/v1`, apiKeyEnv: 'SY_BENCH_OPENAI_KEY' } },
    models: {
      'gpt-4.1': {
        tier: 'balanced',
        price: { inputPerMTok: 2, outputPerMTok: 8 },
        contextWindow: 1_047_576,
        endpoints: [{ provider: 'openai', upstreamModel: 'gpt-4.1', maxConcurrent: 1000, ...opts.endpoint }],
      },
    },
    budget: { limits: [{ scope: 'global', period: 'day', usd: 1_000_000 }] },
    logging: { level: 'warn' },
    storage,
    ...opts.over,
  };
}

/** The storage block of a SQLite ledger file. */
export const sqliteStorage = (file: string): Record<string, unknown> => ({ ledger: `sqlite:${file}` });
