/**
 * The realistic sidecar config the benches measure (`npm run bench`, bench/ab.ts,
 * bench/memory.ts): one model on the simulator's OpenAI wire, a global budget (every request
 * reserves and settles, as a deployment that keeps spend bounded does), the real default store
 * (a durable SQLite row per request is part of the cost being measured), logging at warn.
 */
export function realisticConfig(simUrl: string, ledgerFile: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1' },
    providers: { openai: { kind: 'openai', baseUrl: `${simUrl}/openai/v1`, apiKeyEnv: 'SY_BENCH_OPENAI_KEY' } },
    models: {
      'gpt-4.1': {
        tier: 'balanced',
        price: { inputPerMTok: 2, outputPerMTok: 8 },
        contextWindow: 1_047_576,
        endpoints: [{ provider: 'openai', upstreamModel: 'gpt-4.1', maxConcurrent: 1000 }],
      },
    },
    budget: { limits: [{ scope: 'global', period: 'day', usd: 1_000_000 }] },
    logging: { level: 'warn' },
    storage: { ledger: `sqlite:${ledgerFile}` },
    ...over,
  };
}
