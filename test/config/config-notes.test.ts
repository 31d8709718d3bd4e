import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { knownOutputLimit } from '../../src/config/known-output-limits.js';
import {
  budgetsBelowOneAnswer,
  cascadeGoesNowhere,
  outputCapsDefaulted,
  publicMetricsOnLoopback,
  reloadRemovals,
  timesTooShort,
  unreachableFallbacks,
} from '../../src/config/config-notes.js';

/** A catalogue of `n` models, model i falling back to the next `fallbacks`, and one route of them all. */
function config(n: number, fallbacks: number, maxTotalAttempts: number, routes = 1) {
  const ids = Array.from({ length: n }, (_, i) => `m${i}`);
  const r = validateConfig({
    providers: { p: { kind: 'openai', baseUrl: 'https://api.example.com/v1', apiKeyEnv: 'P_KEY' } },
    models: Object.fromEntries(
      ids.map((id, i) => [
        id,
        {
          tier: 'balanced',
          price: { inputPerMTok: 1, outputPerMTok: 1 },
          contextWindow: 8000,
          fallbacks: ids.slice(i + 1, i + 1 + fallbacks),
          endpoints: [{ provider: 'p', upstreamModel: id }],
        },
      ]),
    ),
    routing: { routes: Object.fromEntries(Array.from({ length: routes }, (_, k) => [`r${k}`, ids])) },
    resilience: { retry: { maxTotalAttempts } },
  });
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
}

describe('unreachableFallbacks', () => {
  it('names the chains of more models than maxTotalAttempts, and which models a request failing on each never reaches (nothing said of them before)', () => {
    expect(unreachableFallbacks(config(8, 2, 6))).toEqual([
      'routing.routes.r0: 8 models, more than resilience.retry.maxTotalAttempts (6): a request failing on each ends before m6, m7, tried only when models before are passed over unattempted (circuit open, window full); raise maxTotalAttempts or shorten the chain',
    ]);
    expect(unreachableFallbacks(config(8, 2, 8))).toEqual([]);
    expect(unreachableFallbacks(config(8, 6, 6))[0]).toMatch(
      /^models\.m0 and its fallbacks: 7 models, more than resilience\.retry\.maxTotalAttempts \(6\): a request failing on each ends before m6,/,
    );
  });

  it('names ten such chains and counts the rest', () => {
    const notes = unreachableFallbacks(config(8, 2, 3, 14));
    expect(notes).toHaveLength(11);
    expect(notes[10]).toBe('… and 4 more chains longer than 3 models');
  });
});

/** A valid config of one provider, `models` (each on it: `upstreamModel` its id) and `extra` top-level keys. */
function valid(models: Record<string, Record<string, unknown>>, extra: Record<string, unknown> = {}) {
  const r = validateConfig({
    providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: Object.fromEntries(
      Object.entries(models).map(([id, m]) => [
        id,
        { tier: 'fast_cheap', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 8192, endpoints: [{ provider: 'p', upstreamModel: id }], ...m },
      ]),
    ),
    ...extra,
  });
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.config;
}

describe('timesTooShort', () => {
  it('holds an embeddings model to no first-token limit (it streams nothing: the note said most of its requests would time out)', () => {
    const cfg = valid(
      { chat: { latencyPriorMs: 900 }, emb: { latencyPriorMs: 900, capabilities: ['embeddings'], price: { inputPerMTok: 0.02, outputPerMTok: 0 } } },
      { resilience: { firstTokenTimeoutMs: 500 } },
    );
    const notes = timesTooShort(cfg);
    expect(notes.filter((n) => n.startsWith('models.chat:'))).toHaveLength(1);
    expect(notes.filter((n) => n.startsWith('models.emb:'))).toEqual([]);
  });
});

describe('publicMetricsOnLoopback', () => {
  const cfg = (publicMetrics: boolean) => valid({ a: {} }, { observe: { publicMetrics } });
  it('notes the key where it does nothing (a loopback bind: /metrics is open there), and only there', () => {
    expect(publicMetricsOnLoopback(cfg(true), '127.0.0.1', true)).toEqual([
      expect.stringMatching(/^observe\.publicMetrics: true does nothing on a loopback bind \(127\.0\.0\.1\)/),
    ]);
    expect(publicMetricsOnLoopback(cfg(true), '0.0.0.0', false)).toEqual([]);
    expect(publicMetricsOnLoopback(cfg(false), '127.0.0.1', true)).toEqual([]);
  });
});

describe('reloadRemovals', () => {
  const withLimits = (limits: unknown[]) => {
    const r = validateConfig({
      providers: { p: { kind: 'openai', baseUrl: 'https://api.example.com/v1', apiKeyEnv: 'P_KEY' } },
      models: {
        m: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 8000, endpoints: [{ provider: 'p', upstreamModel: 'm' }] },
      },
      budget: { limits },
    });
    if (!r.ok) throw new Error(r.errors.join('; '));
    return r.config;
  };

  it('a budget limit whose period changes is said replaced, not removed ("no longer limited" was wrong); one left out is removed', () => {
    const running = withLimits([
      { scope: 'global', period: 'day', usd: 100 },
      { scope: 'model', model: 'm', period: 'day', usd: 5 },
    ]);
    expect(reloadRemovals(running, withLimits([{ scope: 'global', period: 'month', usd: 500 }]))).toEqual([
      'this reload replaces the budget limit global per day (100 USD) with global per month (500 USD): the new one counts what the ledger holds for its own period',
      'this reload removes the budget limit model "m" per day (5 USD): what it limited is no longer limited',
    ]);
    // Both periods kept: nothing taken away.
    expect(reloadRemovals(running, withLimits([...running.budget.limits, { scope: 'global', period: 'month', usd: 500 }]))).toEqual([]);
    // One of two periods removed: the other still limits the scope (it said "no longer limited").
    const both = withLimits([
      { scope: 'global', period: 'day', usd: 50 },
      { scope: 'global', period: 'month', usd: 500 },
    ]);
    expect(reloadRemovals(both, withLimits([{ scope: 'global', period: 'month', usd: 500 }]))).toEqual([
      'this reload removes the budget limit global per day (50 USD): global per month (500 USD) still limits it',
    ]);
  });
});

describe('cascadeGoesNowhere', () => {
  const cfg = (tiers: string[], routes: Record<string, string[]>, enabled = true) => {
    const r = validateConfig({
      providers: { p: { kind: 'openai', baseUrl: 'https://api.example.com/v1', apiKeyEnv: 'P_KEY' } },
      models: Object.fromEntries(
        tiers.map((tier, i) => [
          `m${i}`,
          { tier, price: { inputPerMTok: i + 1, outputPerMTok: 2 * (i + 1) }, contextWindow: 8000, endpoints: [{ provider: 'p', upstreamModel: `m${i}` }] },
        ]),
      ),
      routing: { routes, cascade: { enabled } },
    });
    if (!r.ok) throw new Error(r.errors.join('; '));
    return r.config;
  };

  it('names a catalogue of one tier and a route that lists a dearer model before a cheaper one (both were silent), only with the cascade on', () => {
    expect(cascadeGoesNowhere(cfg(['balanced', 'balanced'], { down: ['m1', 'm0'], up: ['m0', 'm1'] }))).toEqual([
      'routing.cascade.enabled: every chat model is tier balanced, so an auto request has no tier to escalate to (it is served as a plain request, unchecked): give the models the tiers they are (fast_cheap, balanced, high_quality), or cascade along a route',
      "routing.routes.down: with the cascade on, an answer of m1 that fails a check escalates to m0, a cheaper model (6 → 3 USD per million tokens in and out): list a route's models cheapest first, or send its requests with x-switchyard-cascade: off",
    ]);
    expect(cascadeGoesNowhere(cfg(['fast_cheap', 'high_quality'], { up: ['m0', 'm1'] }))).toEqual([]);
    expect(cascadeGoesNowhere(cfg(['balanced', 'balanced'], { down: ['m1', 'm0'] }, false))).toEqual([]);
  });
});

describe('budgetsBelowOneAnswer', () => {
  it("a key's budget is weighed on the models the key may use (auth.keys[].models), not the whole catalogue", () => {
    const r = validateConfig({
      providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1' } },
      models: {
        cheap: {
          tier: 'fast_cheap',
          price: { inputPerMTok: 0.1, outputPerMTok: 0.1 },
          contextWindow: 8000,
          maxOutputTokens: 1000,
          endpoints: [{ provider: 'p', upstreamModel: 'c' }],
        },
        dear: {
          tier: 'high_quality',
          price: { inputPerMTok: 10, outputPerMTok: 40 },
          contextWindow: 8000,
          maxOutputTokens: 4000,
          endpoints: [{ provider: 'p', upstreamModel: 'd' }],
        },
      },
      auth: {
        keys: [
          { id: 'search', keyEnv: 'K_SEARCH', models: ['cheap'] },
          { id: 'all', keyEnv: 'K_ALL' },
        ],
      },
      budget: {
        limits: [
          { scope: 'key', key: 'search', period: 'day', usd: 0.01 },
          { scope: 'key', key: 'all', period: 'day', usd: 0.01 },
        ],
      },
    });
    if (!r.ok) throw new Error(r.errors.join('\n'));
    // It named `dear` for key search, which may not use it.
    expect(budgetsBelowOneAnswer(r.config)).toEqual([
      "budget.limits[1] ($0.01) is less than one answer's output at maxOutputTokens on dear ($0.16 for 4000 tokens): a request there without a lower max_tokens is always refused by it",
    ]);
  });
});

describe('outputCapsDefaulted', () => {
  const cfg = (models: Record<string, { up: string; max?: number; window?: number }>) => {
    const r = validateConfig({
      providers: { p: { kind: 'openai', baseUrl: 'https://api.example.com/v1', apiKeyEnv: 'P_KEY' } },
      models: Object.fromEntries(
        Object.entries(models).map(([id, m]) => [
          id,
          {
            tier: 'balanced',
            price: { inputPerMTok: 1, outputPerMTok: 1 },
            contextWindow: m.window ?? 1_000_000,
            ...(m.max === undefined ? {} : { maxOutputTokens: m.max }),
            endpoints: [{ provider: 'p', upstreamModel: m.up }],
          },
        ]),
      ),
    });
    if (!r.ok) throw new Error(r.errors.join('; '));
    return r.config;
  };

  it("names a known model left at the default cap, with its real limit (the README's example answered max_output_tokens 10000 with 4096, and nothing said why)", () => {
    expect(outputCapsDefaulted(cfg({ 'gpt-4.1-mini': { up: 'gpt-4.1-mini' }, sonnet: { up: 'anthropic/claude-sonnet-4-5', window: 40_000 } }))).toEqual([
      'models.gpt-4.1-mini.maxOutputTokens is not set, so its answers stop at 4096 tokens (a request asking more is sent 4096 and its answer is cut there: finish_reason "length", stop_reason "max_tokens"); gpt-4.1-mini writes up to 32768: set maxOutputTokens: 32768 (a request without max_tokens reserves that many output tokens against its budgets) or a lower cap you mean',
      'models.sonnet.maxOutputTokens is not set, so its answers stop at 4096 tokens (a request asking more is sent 4096 and its answer is cut there: finish_reason "length", stop_reason "max_tokens"); anthropic/claude-sonnet-4-5 writes up to 64000: set maxOutputTokens: 40000 (a request without max_tokens reserves that many output tokens against its budgets) or a lower cap you mean',
    ]);
  });

  it('knows the names as relays, deployments and snapshots write them, and not the variants that write less or are no chat model', () => {
    const limits = Object.fromEntries(
      [
        'gpt-4.1-mini',
        'openai/gpt-4o',
        'chatgpt-4o-latest',
        'prod-gpt4o',
        'o3',
        'openai/o3-mini',
        'o4-mini-2025-04-16',
        'gpt-5-nano',
        'claude-opus-4-1',
        'anthropic.claude-sonnet-4-20250514-v1:0',
        'claude-sonnet-4@20250514',
        'gemini-2.5-pro',
        'gpt-4o-2024-05-13',
        'gpt-4o-realtime-preview',
        'gpt-4o-mini-tts',
        'gpt-5-chat-latest',
        'gemini-2.5-flash-image-preview',
        'llama-3-o3',
        'gpt-4-turbo',
      ].map((up) => [up, knownOutputLimit(up)]),
    );
    expect(limits).toEqual({
      'gpt-4.1-mini': 32_768,
      'openai/gpt-4o': 16_384,
      'chatgpt-4o-latest': 16_384,
      'prod-gpt4o': 16_384,
      o3: 100_000,
      'openai/o3-mini': 100_000,
      'o4-mini-2025-04-16': 100_000,
      'gpt-5-nano': 128_000,
      'claude-opus-4-1': 32_000,
      'anthropic.claude-sonnet-4-20250514-v1:0': 64_000,
      'claude-sonnet-4@20250514': 64_000,
      'gemini-2.5-pro': 65_536,
      'gpt-4o-2024-05-13': null,
      'gpt-4o-realtime-preview': null,
      'gpt-4o-mini-tts': null,
      'gpt-5-chat-latest': null,
      'gemini-2.5-flash-image-preview': null,
      'llama-3-o3': null,
      'gpt-4-turbo': null,
    });
  });

  it('says nothing of a cap the config sets (even a lower one), of a model it does not know, or of a default already at the limit', () => {
    expect(
      outputCapsDefaulted(
        cfg({ a: { up: 'gpt-4.1', max: 1024 }, b: { up: 'my-llama-70b' }, c: { up: 'gpt-4.1-nano', max: 32_768 }, d: { up: 'gpt-4o', window: 2000 } }),
      ),
    ).toEqual([]);
  });
});
