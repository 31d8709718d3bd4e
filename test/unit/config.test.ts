import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { chmod, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_CONFIG } from '../../src/config/defaults.js';
import { formatPath, loadConfigFile, validateConfig, type LoadResult } from '../../src/config/load.js';
import { duplicateJsonKeys } from '../../src/config/json-duplicates.js';
import { configSchema, DEFAULT_PG_JOURNAL, MAX_BODY_BYTES, pgJournal, type Config } from '../../src/config/schema.js';
import { SPEC_EXAMPLE_YAML } from './fixtures/spec-example.js';
import { loadProfile } from '../../src/simulator/profile.js';
import { BIN } from '../product.js';

type Obj = Record<string, unknown>;

/** A deep, untyped copy of the default catalogue, so tests can break it on purpose. */
const rawDefaults = (): Obj => structuredClone(DEFAULT_CONFIG) as Obj;

/** Walk to a nested object (throws if the path does not lead to one). */
function at(o: unknown, ...path: string[]): Obj {
  let cur = o;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) throw new Error(`no object at ${path.join('.')}`);
    cur = (cur as Obj)[k];
  }
  if (typeof cur !== 'object' || cur === null) throw new Error(`no object at ${path.join('.')}`);
  return cur as Obj;
}

function ok(res: LoadResult): Config {
  if (!res.ok) throw new Error(`expected a valid config, got:\n${res.errors.join('\n')}`);
  return res.config;
}
function errors(res: LoadResult): string[] {
  if (res.ok) throw new Error('expected validation errors, got a valid config');
  return res.errors;
}

const minimal = (): Obj => ({
  providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
  models: { m: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 1000, endpoints: [{ provider: 'p', upstreamModel: 'm' }] } },
});

describe('default catalogue', () => {
  const cfg = ok(validateConfig(DEFAULT_CONFIG));

  it('holds the four seed models with their prices and tiers (issue 11: gpt-4.1 high_quality, gemini-2.5-flash balanced)', () => {
    const summary = Object.fromEntries(Object.entries(cfg.models).map(([id, m]) => [id, [m.tier, m.price.inputPerMTok, m.price.outputPerMTok]]));
    expect(summary).toEqual({
      'gpt-4.1': ['high_quality', 2.0, 8.0],
      'claude-sonnet-4.5': ['high_quality', 3.0, 15.0],
      'gemini-2.5-flash': ['balanced', 0.3, 2.5],
      'deepseek-v3.2': ['fast_cheap', 0.28, 0.42],
    });
  });

  it('has the four providers with the right kinds, each model on its own provider', () => {
    expect(Object.fromEntries(Object.entries(cfg.providers).map(([id, p]) => [id, p.kind]))).toEqual({
      openai: 'openai',
      anthropic: 'anthropic',
      gemini: 'openai',
      deepseek: 'openai',
    });
    const providerOf = (m: string) => cfg.models[m]?.endpoints.map((e) => e.provider);
    expect(providerOf('gpt-4.1')).toEqual(['openai']);
    expect(providerOf('claude-sonnet-4.5')).toEqual(['anthropic']);
    expect(providerOf('gemini-2.5-flash')).toEqual(['gemini']);
    expect(providerOf('deepseek-v3.2')).toEqual(['deepseek']);
    for (const p of Object.values(cfg.providers)) expect(p.apiKeyEnv).toMatch(/^[A-Z_]+_API_KEY$/);
  });

  it('has the seed routing matrix as routes', () => {
    expect(cfg.routing.routes).toEqual({
      chatbot: ['deepseek-v3.2', 'gemini-2.5-flash'],
      code: ['deepseek-v3.2', 'gpt-4.1'],
      analysis: ['gpt-4.1', 'claude-sonnet-4.5'],
      longform: ['gemini-2.5-flash', 'deepseek-v3.2'],
      translation: ['deepseek-v3.2'],
    });
  });
});

describe('spec §6 example', () => {
  it('parses with every key', () => {
    const cfg = ok(validateConfig(parseYaml(SPEC_EXAMPLE_YAML)));
    expect(cfg.server).toMatchObject({ host: '127.0.0.1', port: 4141, maxBodyBytes: 4194304 });
    expect(cfg.providers.anthropic).toMatchObject({ kind: 'anthropic', baseUrl: 'https://api.anthropic.com', apiKeyEnv: 'ANTHROPIC_API_KEY' });
    expect(cfg.models['deepseek-v3.2']).toMatchObject({
      tier: 'fast_cheap',
      price: { inputPerMTok: 0.28, outputPerMTok: 0.42 },
      contextWindow: 128000,
      capabilities: ['chat', 'code', 'reasoning', 'tools', 'json'],
      latencyPriorMs: 35,
      maxOutputTokens: 8192,
      fallbacks: ['gemini-2.5-flash'],
      endpoints: [{ provider: 'deepseek', upstreamModel: 'deepseek-chat', rpm: 60, tpm: 1000000, maxConcurrent: 10 }],
    });
    expect(cfg.routing).toMatchObject({ strategy: 'cost', routes: { chatbot: ['deepseek-v3.2', 'gemini-2.5-flash'] } });
    expect(cfg.routing.classifier).toMatchObject({
      simpleTasks: ['greeting', 'simple_qa', 'translation'],
      complexTasks: ['analysis', 'creative'],
      complexityThreshold: 3,
    });
    expect(cfg.routing.classifier.complexityKeywords).toHaveLength(8);
    expect(cfg.resilience).toMatchObject({
      headersTimeoutMs: 60000,
      maxRetryAfterMs: 5000,
      retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 5000 },
      queue: { maxDepth: 1000 },
    });
    expect(cfg.budget.limits).toEqual([
      { scope: 'global', period: 'day', usd: 100 },
      { scope: 'key', key: 'team-a', period: 'month', usd: 20 },
      { scope: 'model', model: 'claude-sonnet-4.5', period: 'day', usd: 10 },
    ]);
    expect(cfg.budget.currency).toEqual({ code: 'CNY', perUsd: 7.1 });
    expect(cfg.auth?.keys).toEqual([{ id: 'team-a', keyEnv: 'TEAM_A_KEY', rpm: 600 }]);
    expect(cfg.storage).toEqual({
      ledger: 'sqlite:./switchyard.db',
      shared: 'memory',
      leaseMs: 5000,
      keyPrefix: 'switchyard',
      responses: { ttlSeconds: 2_592_000, maxEntries: 10_000, maxBytes: 1_073_741_824 },
    });
    expect(cfg.logging.level).toBe('info');
    expect(cfg.observe.statelyInspectUrl).toBe('ws://127.0.0.1:8080');
  });
});

describe('defaults', () => {
  it('fills server, resilience and storage defaults', () => {
    const cfg = ok(validateConfig(minimal()));
    expect(cfg.server).toMatchObject({ host: '127.0.0.1', port: 4141, maxBodyBytes: 4194304 });
    expect(cfg.resilience).toMatchObject({
      failureThreshold: 5,
      recoveryMs: 60000,
      halfOpenProbes: 1,
      latencyWindow: 100,
      requestTimeoutMs: 120000,
      firstTokenTimeoutMs: 10000,
      idleTimeoutMs: 10000,
      maxRetryAfterMs: 5000,
      retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 5000 },
      queue: { maxDepth: 1000 },
    });
    expect(cfg.storage).toEqual({
      ledger: 'sqlite:./switchyard.db',
      shared: 'memory',
      leaseMs: 5000,
      keyPrefix: 'switchyard',
      responses: { ttlSeconds: 2_592_000, maxEntries: 10_000, maxBytes: 1_073_741_824 },
    });
    expect(cfg.models.m?.endpoints[0]?.maxConcurrent).toBe(64);
    expect(cfg.routing.strategy).toBe('cost');
  });

  it('fills a partly given section with the rest of its defaults', () => {
    const raw = { ...minimal(), resilience: { retry: { maxAttempts: 7 } } };
    const cfg = ok(validateConfig(raw));
    expect(cfg.resilience.retry).toMatchObject({ maxAttempts: 7, baseDelayMs: 200, maxDelayMs: 5000 });
    expect(cfg.resilience.failureThreshold).toBe(5);
    expect(configSchema.safeParse(raw).success).toBe(true);
  });
});

describe('error messages', () => {
  it('names the path and the expectation', () => {
    const raw = rawDefaults();
    at(raw, 'models', 'gpt-4.1', 'price').outputPerMTok = '8.00';
    expect(errors(validateConfig(raw))).toEqual(['models.gpt-4.1.price.outputPerMTok: expected number, got string']);
  });

  it('says a fraction where a whole number is wanted in words, with the value written (not zod\'s "expected int, got number")', () => {
    const raw = minimal();
    (raw.models as Obj).m = { ...((raw.models as Obj).m as Obj), endpoints: [{ provider: 'p', upstreamModel: 'm', rpm: 2.5 }] };
    raw.resilience = { failureThreshold: 1.5 };
    raw.server = { port: 4141.5 };
    expect(errors(validateConfig(raw)).sort()).toEqual(
      [
        'models.m.endpoints[0].rpm: expected a whole number, got 2.5',
        'resilience.failureThreshold: expected a whole number, got 1.5',
        'server.port: expected a whole number, got 4141.5',
      ].sort(),
    );
  });

  it('an rpm or tpm of 0 says how to have no limit (it said only "expected > 0"; 0 reads as "none" to many)', () => {
    const raw = minimal();
    (raw.models as Obj).m = { ...((raw.models as Obj).m as Obj), endpoints: [{ provider: 'p', upstreamModel: 'm', rpm: 0, tpm: 0 }] };
    expect(errors(validateConfig(raw)).sort()).toEqual([
      'models.m.endpoints[0].rpm: expected > 0 (leave the key out for no limit)',
      'models.m.endpoints[0].tpm: expected > 0 (leave the key out for no limit)',
    ]);
  });

  it('a model\'s alias written where the config names a model (route, fallback, budget) is said to be an alias, with the id to write (it said "unknown model")', () => {
    const raw = minimal();
    const m = (raw.models as Obj).m as Obj;
    raw.models = { m: { ...m, aliases: ['m-latest'] }, n: { ...m, fallbacks: ['m-latest'] } };
    raw.routing = { routes: { r: ['m-latest'] } };
    raw.budget = { limits: [{ scope: 'model', model: 'm-latest', period: 'day', usd: 1 }] };
    const said = '"m-latest" is an alias of model "m": the config names a model by its id, write "m"';
    expect(errors(validateConfig(raw)).sort()).toEqual(
      [`models.n.fallbacks[0]: ${said}`, `routing.routes.r[0]: ${said}`, `budget.limits[0].model: ${said}`].sort(),
    );
  });

  it('a file that is a list or a bare value is told what a config is (it said "(root): expected object, got array")', () => {
    const list = errors(validateConfig(parseYaml('- providers: {}\n- models: {}\n')));
    expect(list).toEqual([
      '(root): a config is a mapping of sections at the top level (providers:, models:, and optionally server:, routing:, budget:, …), got a list (a line starting with "- " at the top level?)',
    ]);
    expect(errors(validateConfig(parseYaml('hello')))).toEqual([expect.stringMatching(/^\(root\): a config is a mapping of sections .*, got a string$/)]);
    expect(errors(validateConfig(42))).toEqual([expect.stringMatching(/, got a number$/)]);
  });

  it('says strict bounds as strict, empty strings as empty, and why a record key is refused', () => {
    const raw = minimal();
    (raw.models as Obj).m = { ...((raw.models as Obj).m as Obj), endpoints: [{ provider: 'p', upstreamModel: 'm', rpm: 0 }] };
    raw.server = { host: '' };
    raw.budget = { currency: { code: 'EUR', perUsd: 0 } };
    raw.routing = { routes: { 'x/y': ['m'] } };
    raw.resilience = { retry: { maxAttempts: 0 } };
    expect(errors(validateConfig(raw)).sort()).toEqual(
      [
        'models.m.endpoints[0].rpm: expected > 0 (leave the key out for no limit)',
        'server.host: expected a non-empty string',
        'budget.currency.perUsd: expected > 0',
        'routing.routes.x/y: invalid key: expected a route name of letters, digits, _ . -',
        'resilience.retry.maxAttempts: expected > 0',
      ].sort(),
    );
  });

  it('refuses model and endpoint ids a response header cannot carry (non-ASCII, control characters), naming the header', () => {
    const raw = minimal();
    const m = (raw.models as Obj).m as Obj;
    raw.models = { '深度-v3': m, 'we"ird\nmodel': m, 'ok model': m, ' padded': m, 'del\u007f': m };
    const got = errors(validateConfig(raw));
    expect(got.filter((e) => e.includes('x-switchyard-model')).length).toBe(4);
    // A control character is shown escaped, DEL too (JSON leaves it raw).
    expect(got.find((e) => e.includes('"del\\u007f" has another character'))).toBeDefined();
    expect(got.some((e) => e.startsWith('models.深度-v3: a model id is sent in the x-switchyard-model response header'))).toBe(true);
    expect(got.some((e) => e.includes('ok model'))).toBe(false); // an inner space is fine
    const raw2 = minimal();
    ((raw2.models as Obj).m as Obj).endpoints = [{ provider: 'p', upstreamModel: 'm', id: 'east\tone' }];
    expect(errors(validateConfig(raw2))).toEqual([expect.stringMatching(/^models\.m\.endpoints\[0\]\.id: an endpoint id .*x-switchyard-endpoint/)]);
    // An empty id: one problem, not also "has another character".
    ((raw2.models as Obj).m as Obj).endpoints = [{ provider: 'p', upstreamModel: 'm', id: '' }];
    expect(errors(validateConfig(raw2))).toHaveLength(1);
  });

  it('formats paths with array indices', () => {
    expect(formatPath(['models', 'gpt-4.1', 'endpoints', 0, 'rpm'])).toBe('models.gpt-4.1.endpoints[0].rpm');
    expect(formatPath([])).toBe('(root)');
  });

  it('reports missing required sections', () => {
    // Said with what goes in them, not zod's "required (expected record)".
    expect(errors(validateConfig(null))).toEqual([
      'providers: required: the upstream APIs by a name of your choice (openai: { kind: openai, baseUrl: https://api.openai.com/v1, apiKeyEnv: OPENAI_API_KEY })',
      'models: required: the catalogue by model id (gpt-4.1: { tier, price: { inputPerMTok, outputPerMTok }, contextWindow, endpoints: [{ provider, upstreamModel }] })',
    ]);
  });

  it('a price finer than a micro-USD per million tokens is refused (it was rounded: 0.0000001 priced at $0)', () => {
    const raw = rawDefaults();
    const m = (raw.models as Record<string, Record<string, Record<string, unknown>>>)['gpt-4.1']!;
    m.price!.inputPerMTok = 0.0000001;
    expect(errors(validateConfig(raw))).toEqual([
      'models.gpt-4.1.price.inputPerMTok: at most 6 decimals (switchyard holds prices in micro-USD per million tokens; a finer price would be rounded)',
    ]);
    m.price!.inputPerMTok = 0.075;
    expect(validateConfig(raw).ok).toBe(true);
    // A price over the maximum is said so, once (it was also told "at most 6 decimals").
    m.price!.inputPerMTok = 1e308;
    expect(errors(validateConfig(raw))).toEqual([expect.stringMatching(/^models\.gpt-4\.1\.price\.inputPerMTok: .*at most 10000 USD per million tokens/)]);
  });

  it('a model one request on which could cost over $1,000,000 is refused (a context window of 2^53 tokens was taken, then a large max_tokens answered 500)', () => {
    const raw = rawDefaults();
    const m = (raw.models as Record<string, Record<string, unknown>>)['gpt-4.1']!;
    m.contextWindow = Number.MAX_SAFE_INTEGER;
    m.maxOutputTokens = Number.MAX_SAFE_INTEGER;
    expect(errors(validateConfig(raw))).toEqual([
      expect.stringMatching(
        /^models\.gpt-4\.1\.contextWindow: one request on this model could cost \$9\.01e\+10 .*set the model's real contextWindow and maxOutputTokens/,
      ),
    ]);
    // A real long-context model at a high price is far under it.
    m.contextWindow = 10_000_000;
    delete m.maxOutputTokens;
    m.price = { inputPerMTok: 75, outputPerMTok: 150 };
    expect(validateConfig(raw).ok).toBe(true);
  });

  it('a missing tier is "required", not a wrong value (a misspelt key beside it is named too)', () => {
    const raw = rawDefaults();
    const m = (raw.models as Record<string, Record<string, unknown>>)['gpt-4.1']!;
    m.teir = m.tier;
    delete m.tier;
    const errs = errors(validateConfig(raw));
    expect(errs).toContain('models.gpt-4.1.tier: required (expected one of "fast_cheap", "balanced", "high_quality")');
    expect(errs.join('\n')).toMatch(/unknown key "teir" \(did you mean "tier"\?\)/);
  });

  it('a number where a section is expected says so, not "expected a finite object" (`price: 0.3`)', () => {
    const raw = rawDefaults();
    (raw.models as Record<string, Record<string, unknown>>)['gpt-4.1']!.price = 0.3;
    expect(errors(validateConfig(raw))).toEqual(['models.gpt-4.1.price: expected object, got number']);
    (raw.models as Record<string, Record<string, unknown>>)['gpt-4.1']!.price = { inputPerMTok: Infinity, outputPerMTok: 8 };
    expect(errors(validateConfig(raw))).toEqual(['models.gpt-4.1.price.inputPerMTok: expected a finite number, got Infinity']);
  });

  it('a name with an invisible character (zero-width, a right-to-left override, a control) is shown with its code point, never raw (the terminal showed nothing, or the line turned around)', () => {
    for (const [ch, code] of [
      ['\u200b', '200B'],
      ['\u202e', '202E'],
      ['\u0001', '0001'],
    ] as const) {
      const raw = minimal();
      const models = raw.models as Obj;
      models[`m1${ch}x`] = models.m;
      const errs = errors(validateConfig(raw)).join('\n');
      expect(errs).not.toContain(ch);
      expect(errs).toContain(`models.m1<U+${code}>x`);
      expect(errs).toContain(`"m1\\u${code.toLowerCase()}x" has another character`);
    }
  });

  it('a provider kind named after the provider (azure, gemini, vllm) says an OpenAI-compatible API is kind openai (it listed the two kinds and no more)', () => {
    for (const kind of ['azure', 'gemini', 'openai-compatible', 'vllm']) {
      const raw = minimal();
      at(raw, 'providers', 'p').kind = kind;
      expect(errors(validateConfig(raw))).toEqual([
        `providers.p.kind: expected one of "openai", "anthropic", got "${kind}" (an OpenAI-compatible API, "${kind}" included, is kind "openai" with its /v1 address as baseUrl; Anthropic's Messages API is "anthropic")`,
      ]);
    }
  });

  it('a misspelt value names what was written and the value meant (`period: daily`, `kind: opnai`)', () => {
    const raw = rawDefaults();
    raw.budget = { limits: [{ scope: 'globl', period: 'Day', usd: 5 }] };
    expect(errors(validateConfig(raw))).toEqual([
      'budget.limits[0].scope: expected one of "global", "key", "model", got "globl" (did you mean "global"?)',
      'budget.limits[0].period: expected one of "day", "month", "total", got "Day" (did you mean "day"?)',
    ]);
    raw.budget = { limits: [{ scope: 'global', period: 'weekly', usd: 5 }] };
    expect(errors(validateConfig(raw))).toEqual(['budget.limits[0].period: expected one of "day", "month", "total", got "weekly"']);
    raw.budget = { limits: [] };
    (raw.models as Record<string, { endpoints: Array<{ provider: string }> }>)['gpt-4.1']!.endpoints[0]!.provider = 'opnai';
    expect(errors(validateConfig(raw))).toEqual([
      expect.stringMatching(/^models\.gpt-4\.1\.endpoints\[0\]\.provider: unknown provider "opnai" \(did you mean "openai"\?\); expected one of: /),
    ]);
  });

  it('a display currency of USD takes no other rate (the ledger counts in USD)', () => {
    const raw = rawDefaults();
    raw.budget = { limits: [], currency: { code: 'USD', perUsd: 0.9 } };
    expect(errors(validateConfig(raw))).toEqual(["budget.currency.perUsd: USD is the ledger's own currency: its perUsd is 1 (or leave currency out)"]);
    raw.budget = { limits: [], currency: { code: 'USD', perUsd: 1 } };
    expect(validateConfig(raw).ok).toBe(true);
    // A code in small letters is a 3-letter code: the message says what is wrong with it (it said "expected a 3-letter currency code").
    raw.budget = { limits: [], currency: { code: 'eur', perUsd: 0.9 } };
    expect(errors(validateConfig(raw))).toEqual(['budget.currency.code: expected a 3-letter ISO 4217 code in capitals (EUR, CNY, JPY)']);
  });

  it('a ledger or journal path a shell would expand is refused (`sqlite:~/switchyard.db` made a directory named "~" and kept the ledger there)', () => {
    const raw = rawDefaults();
    for (const ledger of ['sqlite:~/switchyard.db', 'sqlite:$HOME/switchyard.db']) {
      raw.storage = { ledger };
      expect(errors(validateConfig(raw))).toEqual([expect.stringMatching(/^storage\.ledger: a path starting with ~ or \$VARIABLE is not expanded/)]);
    }
    raw.storage = { ledger: 'postgres://u@h/db', journal: '~/inflight' };
    expect(errors(validateConfig(raw))).toEqual([expect.stringMatching(/^storage\.journal: a path starting with ~ or \$VARIABLE is not expanded/)]);
    raw.storage = { ledger: 'sqlite:./a~b$c.db' };
    expect(validateConfig(raw).ok).toBe(true);
  });

  it('refuses unknown keys', () => {
    const raw = rawDefaults();
    raw.server = { hots: 'localhost' };
    expect(errors(validateConfig(raw))).toEqual(['server: unknown key "hots" (did you mean "host"?)']);
  });

  it("a client key's models (auth.keys[].models) are catalogue ids: an unknown one, auto, a route or an empty list is refused", () => {
    const raw = rawDefaults() as Record<string, unknown>;
    raw.auth = {
      keys: [
        { id: 'team-a', keyEnv: 'TEAM_A_KEY', models: ['deepseek-v3.2', 'gpt-41', 'auto', 'route/chatbot'] },
        { id: 'team-b', keyEnv: 'TEAM_B_KEY', models: [] },
      ],
    };
    const errs = errors(validateConfig(raw));
    expect(errs.find((e) => e.startsWith('auth.keys[0].models[1]:'))).toContain('did you mean "gpt-4.1"?');
    expect(errs).toContain('auth.keys[0].models[2]: list catalogue models: a key may always ask for "auto", served from its listed models only');
    expect(errs).toContain('auth.keys[0].models[3]: list catalogue models: a key may always ask for a route, served from its listed models only');
    expect(errs.find((e) => e.startsWith('auth.keys[1].models:'))).toContain('an empty list would refuse every request');
    expect(errs).toHaveLength(4);
    raw.auth = { keys: [{ id: 'team-a', keyEnv: 'TEAM_A_KEY', models: ['deepseek-v3.2', 'gpt-4.1'] }] };
    expect(ok(validateConfig(raw)).auth?.keys[0]?.models).toEqual(['deepseek-v3.2', 'gpt-4.1']);
  });

  it("LiteLLM's team, tags and user on a client key are told switchyard has none (they said only the keys a key takes)", () => {
    const raw = rawDefaults() as Record<string, unknown>;
    raw.auth = { keys: [{ id: 'team-a', keyEnv: 'TEAM_A_KEY', team_id: 'search', tags: ['x'], user_id: 'u1', max_parallel_requests: 4 }] };
    const said = errors(validateConfig(raw)).join('\n');
    expect(said).toContain('auth.keys[0]: unknown keys "team_id" (switchyard has no teams: each client key (auth.keys[].id) has its own budget');
    expect(said).toContain('"tags" (switchyard keeps no spend by tag');
    expect(said).toContain('"user_id" (switchyard keeps no spend by user');
    expect(said).toContain("shared by every key (a client key's own limit is its rpm)");
  });

  it("a LiteLLM or Portkey setting is pointed at switchyard's own (tpm on a client key said 'did you mean rpm?', which made tokens requests)", () => {
    const raw = rawDefaults() as Record<string, unknown>;
    raw.resilience = { timeout: 30, num_retries: 2, allowed_fails: 3, cooldown_time: 60 };
    raw.auth = { keys: [{ id: 'team-a', keyEnv: 'TEAM_A_KEY', tpm: 1000 }] };
    const errs = errors(validateConfig(raw));
    expect(errs).toContain(
      'auth.keys[0]: unknown key "tpm" (a client key is limited by rpm only; tokens a minute are an endpoint\'s limit, models.<id>.endpoints[].tpm)',
    );
    expect(errs.find((e) => e.includes('"timeout"'))).toContain('resilience.requestTimeoutMs');
    expect(errs.find((e) => e.includes('"num_retries"'))).toContain('resilience.retry.maxAttempts');
    expect(errs.find((e) => e.includes('"allowed_fails"'))).toContain('resilience.failureThreshold');
    expect(errs.find((e) => e.includes('"cooldown_time"'))).toContain('resilience.recoveryMs');
    // Budgets, a key's limits, fallbacks and strategy as LiteLLM writes them (a migrant round: each said only "expected one of …").
    const more = rawDefaults() as Record<string, unknown>;
    more.auth = { keys: [{ id: 'team-a', keyEnv: 'TEAM_A_KEY', max_budget: 5, budget_duration: '30d', rpm_limit: 10 }] };
    more.budget = { max_budget: 100 };
    more.routing = { fallbacks: [{ 'gpt-4.1': ['claude-sonnet-4.5'] }], routing_strategy: 'latency-based-routing' };
    const models = more.models as Record<string, Record<string, unknown>>;
    models['gpt-4.1']!.rpm = 100;
    models['gpt-4.1']!.price = { input_cost_per_token: 0.000002, output_cost_per_token: 0.000008 };
    models['gpt-4.1']!.tpm = 100_000;
    const said = errors(validateConfig(more)).join('\n');
    expect(said).toContain(
      '"max_budget" (budgets are budget.limits, a line each: { scope: global | key | model, key: <auth.keys id> or model: <id>, period: day | month | total, usd })',
    );
    expect(said).toContain('"budget_duration" (budgets are budget.limits');
    expect(said).toContain('"rpm_limit" (a client key\'s requests a minute are auth.keys[].rpm');
    expect(said).toMatch(/^budget: unknown key "max_budget" \(budgets are budget\.limits/m);
    expect(said).toContain('"fallbacks" (a model\'s fallbacks are models.<id>.fallbacks');
    expect(said).toContain('"routing_strategy" (the order among a tier\'s models and a model\'s endpoints is routing.strategy');
    expect(said).toContain('"rpm" (a limit of each endpoint: models.<id>.endpoints[].rpm), "tpm" (a limit of each endpoint: models.<id>.endpoints[].tpm)');
    expect(said).toContain('"input_cost_per_token" (prices are USD per million tokens: price.inputPerMTok, outputPerMTok');
    // A LiteLLM proxy config file: said so, not only "not a switchyard config".
    expect(errors(validateConfig({ model_list: [{ model_name: 'gpt-4.1' }], litellm_settings: {} }))).toEqual([
      '(root): this is a LiteLLM proxy config: switchyard\'s has providers: and models: (README, Config reference) (its top-level key "model_list" is LiteLLM\'s)',
    ]);
  });

  it('a model id "__proto__" is refused naming where it is (it vanished: check-config said ok with one model fewer)', () => {
    const raw = rawDefaults() as Record<string, unknown>;
    const models = raw.models as Record<string, unknown>;
    Object.defineProperty(models, '__proto__', { value: models['gpt-4.1'], enumerable: true, configurable: true, writable: true });
    expect(errors(validateConfig(raw))).toEqual([
      'models: "__proto__" is not a name switchyard takes (a reserved JavaScript name, lost when read): choose another',
    ]);
    expect(errors(validateConfig(JSON.parse('{"providers":{},"models":{},"routing":{"routes":{"__proto__":["a"]}}}')))[0]).toMatch(
      /^routing\.routes: "__proto__"/,
    );
  });

  it('an unknown key says which one was meant, or else which keys that place takes', () => {
    const raw = rawDefaults() as Record<string, unknown>;
    raw.resilience = { failureTreshold: 5, retry: { maxAtempts: 2 } };
    raw.storag = { ledger: 'memory' };
    (raw.models as Record<string, Record<string, unknown>>)['gpt-4.1']!.price = { inputPerMtok: 2, outputPerMTok: 8 };
    raw.logging = { colour: true };
    const errs = errors(validateConfig(raw));
    expect(errs).toContain('resilience: unknown key "failureTreshold" (did you mean "failureThreshold"?)');
    expect(errs).toContain('resilience.retry: unknown key "maxAtempts" (did you mean "maxAttempts"?)');
    expect(errs).toContain('(root): unknown key "storag" (did you mean "storage"?)');
    expect(errs).toContain('models.gpt-4.1.price: unknown key "inputPerMtok" (did you mean "inputPerMTok"?)');
    // Nothing close: the keys this place takes.
    expect(errs).toContain('logging: unknown key "colour" (expected one of: level, pretty)');
  });

  it('refuses an inline secret and points at apiKeyEnv', () => {
    const raw = rawDefaults();
    at(raw, 'providers', 'openai').apiKey = 'sk-live-123';
    const errs = errors(validateConfig(raw));
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^providers\.openai: inline secret "apiKey" is not allowed.*apiKeyEnv/);
    expect(errs[0]).not.toContain('sk-live-123');
  });

  it('refuses a credential header in providers.*.headers (secrets only by environment variable) without echoing it', () => {
    // By name, and by the words of one (Azure API Management's subscription key, Helicone's, Cloudflare AI Gateway's, a cookie…: they were accepted).
    for (const name of [
      'Authorization',
      'x-api-key',
      'api-key',
      'Ocp-Apim-Subscription-Key',
      'Helicone-Auth',
      'cf-aig-authorization',
      'x-auth-token',
      'Cookie',
      'private-token',
    ]) {
      const raw = minimal();
      at(raw, 'providers', 'p').headers = { [name]: 'Bearer sk-LEAK-IN-HEADER', 'OpenAI-Organization': 'org-1' };
      const errs = errors(validateConfig(raw));
      expect(errs).toHaveLength(1);
      expect(errs[0]).toMatch(new RegExp(`^providers\\.p\\.headers\\.${name}: a credential header is not accepted inline.*apiKeyEnv`));
      expect(errs.join('\n')).not.toContain('sk-LEAK');
    }
    const raw = minimal();
    at(raw, 'providers', 'p').headers = { 'OpenAI-Organization': 'org-1', 'HTTP-Referer': 'https://app.example', 'X-Title': 'app', 'anthropic-beta': 'x' };
    expect(ok(validateConfig(raw)).providers.p!.headers).toEqual({
      'OpenAI-Organization': 'org-1',
      'HTTP-Referer': 'https://app.example',
      'X-Title': 'app',
      'anthropic-beta': 'x',
    });
  });

  it("takes a gateway's own key as headersEnv (a variable's name), and refuses the provider's key header, a clash with headers, or a value for a name", () => {
    const raw = minimal();
    at(raw, 'providers', 'p').headersEnv = { 'cf-aig-authorization': 'CF_AIG_TOKEN', 'Helicone-Auth': 'HELICONE_AUTH' };
    expect(ok(validateConfig(raw)).providers.p!.headersEnv).toEqual({ 'cf-aig-authorization': 'CF_AIG_TOKEN', 'Helicone-Auth': 'HELICONE_AUTH' });
    const refused = (headersEnv: Record<string, string>, headers: Record<string, string> = {}) => {
      const r = minimal();
      Object.assign(at(r, 'providers', 'p'), { headersEnv, headers });
      return errors(validateConfig(r)).join('\n');
    };
    expect(refused({ Authorization: 'MY_KEY' })).toMatch(
      /^providers\.p\.headersEnv\.Authorization: authorization carries the provider's own key: name its variable in apiKeyEnv/,
    );
    expect(refused({ 'x-api-key': 'MY_KEY' })).toMatch(/x-api-key carries the provider's own key/);
    expect(refused({ 'X-Title': 'APP_TITLE' }, { 'x-title': 'app' })).toMatch(/headersEnv\.X-Title: header X-Title is also in headers: keep it in one of them/);
    expect(refused({ 'bad header': 'V' })).toMatch(/not a valid HTTP header name/);
    expect(refused({ Connection: 'V' })).toMatch(/switchyard sets connection itself/);
    const leaked = refused({ 'helicone-auth': 'sk-helicone-AbCdEf123456789XyZ987654' });
    expect(leaked).toMatch(/looks like a key itself, not the name of a variable/);
    expect(leaked).not.toContain('AbCdEf123456789');
  });

  it('bounds prices and budgets where exact nano-USD money would overflow (a larger one passed and then failed requests with a 500 or the start with a stack trace)', () => {
    const priced = minimal();
    at(priced, 'models', 'm', 'price').inputPerMTok = 1e9;
    expect(errors(validateConfig(priced))).toEqual([
      expect.stringMatching(/^models\.m\.price\.inputPerMTok: expected <= 10000 \(at most 10000 USD per million tokens/),
    ]);
    const budget = { ...minimal(), budget: { limits: [{ scope: 'global', period: 'day', usd: 999_999_999 }] } };
    expect(errors(validateConfig(budget))).toEqual([
      expect.stringMatching(/^budget\.limits\[0\]\.usd: expected <= 9000000 \(at most 9000000 .*leave the limit out/),
    ]);
    expect(ok(validateConfig({ ...minimal(), budget: { limits: [{ scope: 'global', period: 'day', usd: 9_000_000 }] } })).budget.limits[0]!.usd).toBe(
      9_000_000,
    );
    // Below one nano-USD a limit would be 0 (every request refused): said, not run as 0. 0 itself is a limit.
    const tiny = { ...minimal(), budget: { limits: [{ scope: 'global', period: 'day', usd: 0.0000000004 }] } };
    expect(errors(validateConfig(tiny))).toEqual([expect.stringMatching(/^budget\.limits\[0\]\.usd: a limit above 0 must be at least 0\.000000001/)]);
    // A negative limit is told once (it was told it is under 0 and under one nano-USD).
    const negative = { ...minimal(), budget: { limits: [{ scope: 'global', period: 'day', usd: -1 }] } };
    expect(errors(validateConfig(negative))).toEqual([expect.stringMatching(/^budget\.limits\[0\]\.usd: expected >= 0|Too small/)]);
  });

  it('refuses an auth section with no key (it let every request in) and a task both simple and complex (one entry did nothing)', () => {
    expect(errors(validateConfig({ ...minimal(), auth: { keys: [] } }))).toEqual([
      expect.stringMatching(/^auth\.keys: auth\.keys is empty.*remove the auth section/),
    ]);
    expect(errors(validateConfig({ ...minimal(), auth: {} }))).toEqual([expect.stringMatching(/^auth\.keys: auth\.keys is empty/)]);
    const both = { ...minimal(), routing: { classifier: { simpleTasks: ['greeting', 'analysis'], complexTasks: ['analysis', 'creative'] } } };
    expect(errors(validateConfig(both))).toEqual([
      expect.stringMatching(/^routing\.classifier\.complexTasks: task "analysis" is in both routing\.classifier\.simpleTasks and complexTasks/),
    ]);
    // A task name with a capital letter could never match (the header is matched lower-cased): refused, naming the fix.
    const capital = { ...minimal(), routing: { classifier: { tasks: { Smalltalk: 'fast_cheap' }, complexTasks: ['Legal'] } } };
    expect(errors(validateConfig(capital))).toEqual([
      expect.stringMatching(/^routing\.classifier\.complexTasks\[0\]: task names are matched lower-case .*write "legal"/),
      expect.stringMatching(/^routing\.classifier\.tasks\.Smalltalk: .*write "smalltalk"/),
    ]);
    // tasks gives a tier over the lists (their defaults too): allowed.
    expect(ok(validateConfig({ ...minimal(), routing: { classifier: { tasks: { analysis: 'balanced' } } } })).routing.classifier.tasks).toEqual({
      analysis: 'balanced',
    });
    for (const usd of [0, 1e-9])
      expect(ok(validateConfig({ ...minimal(), budget: { limits: [{ scope: 'global', period: 'day', usd }] } })).budget.limits[0]!.usd).toBe(usd);
  });

  it('refuses a duration in ms over 2^31-1, the longest a Node timer waits (a longer one passed and fired after 1 ms: every request a 504 after a few ms)', () => {
    const paths: string[][] = [
      ['server', 'shutdownGraceMs'],
      ['server', 'requestTimeoutMs'],
      ['server', 'sendTimeoutMs'],
      ...['recoveryMs', 'requestTimeoutMs', 'connectTimeoutMs', 'headersTimeoutMs', 'firstTokenTimeoutMs', 'idleTimeoutMs', 'maxRetryAfterMs'].map((k) => [
        'resilience',
        k,
      ]),
      ['resilience', 'retry', 'baseDelayMs'],
      ['resilience', 'retry', 'maxDelayMs'],
    ];
    for (const path of paths) {
      const raw: Obj = minimal();
      let o = raw;
      for (const k of path.slice(0, -1)) o = (o[k] ??= {}) as Obj;
      const key = path[path.length - 1]!;
      o[key] = 2 ** 31;
      // maxDelayMs under baseDelayMs is its own problem: keep them in order.
      if (key === 'baseDelayMs') o.maxDelayMs = 2 ** 31;
      const errs = errors(validateConfig(raw)).filter((e) => e.startsWith(path.join('.')));
      expect(errs, path.join('.')).toEqual([
        `${path.join('.')}: expected <= 2147483647 (got 2147483648: a duration in milliseconds is waited for with a Node timer, which holds at most 2147483647 ms (about 24.8 days) and fires a longer one at once)`,
      ]);
      o[key] = 2 ** 31 - 1;
      if (key === 'baseDelayMs') o.maxDelayMs = 2 ** 31 - 1;
      ok(validateConfig(raw));
    }
  });

  it('a key pasted where a variable name goes does not hide the other problems of the file (an unknown fallback or provider was not said until it was fixed)', () => {
    const raw = minimal();
    const pasted = 'sk-proj-AbCdEf1234567890abcdef';
    at(raw, 'providers', 'p').apiKeyEnv = pasted;
    (raw.models as Obj).m = { ...((raw.models as Obj).m as Obj), fallbacks: ['nope'], endpoints: [{ provider: 'q', upstreamModel: 'm' }] };
    const got = errors(validateConfig(raw));
    expect(got).toContain(
      'providers.p.apiKeyEnv: this looks like a key itself, not the name of a variable: put the key in an environment variable and write that name here (the value is not shown)',
    );
    expect(got.some((e) => e.startsWith('models.m.fallbacks[0]: unknown model "nope"'))).toBe(true);
    expect(got.some((e) => e.startsWith('models.m.endpoints[0].provider: unknown provider "q"'))).toBe(true);
    expect(JSON.stringify(got)).not.toContain('AbCdEf1234567890');
  });

  it("a key of 32 hex digits or more (Azure OpenAI's) pasted where a variable name goes is refused and not shown (it passed as a name and was printed back as the variable not set)", () => {
    const raw = minimal();
    const azure = 'c0ffee11d4e5f60718293a4b5c6d7e8f';
    at(raw, 'providers', 'p').apiKeyEnv = azure;
    const got = errors(validateConfig(raw));
    expect(got).toEqual([
      'providers.p.apiKeyEnv: this looks like a key itself, not the name of a variable: put the key in an environment variable and write that name here (the value is not shown)',
    ]);
    // A name that is hex-like but short, or all letters, stays a name.
    for (const name of ['DEADBEEF_KEY', 'abcdefabcdefabcdefabcdefabcdefabcdef', 'a1b2c3d4']) {
      at(raw, 'providers', 'p').apiKeyEnv = name;
      expect(validateConfig(raw).ok).toBe(true);
    }
  });

  it('an env variable written the LiteLLM or shell way (os.environ/X, $X, ${X}) says the name to write; anything else is never echoed', () => {
    const raw = rawDefaults();
    at(raw, 'providers', 'openai').apiKeyEnv = 'os.environ/OPENAI_API_KEY';
    at(raw, 'providers', 'anthropic').apiKeyEnv = '$ANTHROPIC_API_KEY';
    at(raw, 'providers', 'gemini').apiKeyEnv = '${GEMINI_API_KEY}';
    at(raw, 'providers', 'deepseek').apiKeyEnv = 'sk-live-123';
    // A key made only of letters, digits and _ would pass as a name: it is refused, and not echoed.
    const pasted = 'AIzaSyD4x9Qm2Lk7Rt5Vb1Nc8Wp3Zs6Hj0Fg_Ey';
    raw.auth = {
      keys: [
        { id: 'team-a', keyEnv: 'os.environ/TEAM_A_KEY' },
        { id: 'team-b', keyEnv: pasted },
      ],
    };
    expect(errors(validateConfig(raw))).toEqual([
      'auth.keys[0].keyEnv: expected the name of an environment variable: write TEAM_A_KEY, not "os.environ/TEAM_A_KEY"',
      'auth.keys[1].keyEnv: this looks like a key itself, not the name of a variable: put the key in an environment variable and write that name here (the value is not shown)',
      'providers.openai.apiKeyEnv: expected the name of an environment variable: write OPENAI_API_KEY, not "os.environ/OPENAI_API_KEY"',
      'providers.anthropic.apiKeyEnv: expected the name of an environment variable: write ANTHROPIC_API_KEY, not "$ANTHROPIC_API_KEY"',
      'providers.gemini.apiKeyEnv: expected the name of an environment variable: write GEMINI_API_KEY, not "${GEMINI_API_KEY}"',
      'providers.deepseek.apiKeyEnv: expected the name of an environment variable (letters, digits and _, like OPENAI_API_KEY), not a value',
    ]);
    expect(JSON.stringify(validateConfig(raw))).not.toContain(pasted);
    // Ordinary names, long ones included, stay names.
    const fine = rawDefaults();
    at(fine, 'providers', 'deepseek').apiKeyEnv = 'MY_COMPANY_DEEPSEEK_API_KEY_2026_PROD';
    at(fine, 'providers', 'gemini').apiKeyEnv = 'GeminiKeyForTheStagingCluster2';
    expect(validateConfig(fine).ok).toBe(true);
  });

  it('names unknown references in endpoints, fallbacks, routes and budget limits', () => {
    const raw = rawDefaults();
    const model = at(raw, 'models', 'gpt-4.1');
    model.endpoints = [{ provider: 'azure', upstreamModel: 'gpt-4.1' }];
    model.fallbacks = ['gpt-5'];
    at(raw, 'routing', 'routes').chatbot = ['deepseek-v3.2', 'llama-4'];
    raw.budget = { limits: [{ scope: 'model', model: 'mistral', period: 'day', usd: 1 }] };
    const errs = errors(validateConfig(raw));
    expect(errs).toHaveLength(4);
    expect(errs).toContainEqual(
      expect.stringMatching(/^models\.gpt-4\.1\.endpoints\[0\]\.provider: unknown provider "azure"; expected one of: openai, anthropic, gemini, deepseek$/),
    );
    const catalogue = `(the catalogue's models: ${Object.keys(at(raw, 'models')).join(', ')})`;
    expect(errs).toContain(`models.gpt-4.1.fallbacks[0]: unknown model "gpt-5" ${catalogue}`);
    expect(errs).toContain(`routing.routes.chatbot[1]: unknown model "llama-4" ${catalogue}`);
    expect(errs).toContain(`budget.limits[0].model: unknown model "mistral" ${catalogue}`);
  });

  it('an unknown model id near a catalogue id says which was meant', () => {
    const raw = rawDefaults();
    at(raw, 'routing', 'routes').code = ['deepseek-v3.2', 'gpt4.1'];
    at(raw, 'models', 'gpt-4.1').fallbacks = ['Claude-Sonnet-4.5'];
    const errs = errors(validateConfig(raw));
    expect(errs).toContain('routing.routes.code[1]: unknown model "gpt4.1" (did you mean "gpt-4.1"?)');
    expect(errs).toContain('models.gpt-4.1.fallbacks[0]: unknown model "Claude-Sonnet-4.5" (did you mean "claude-sonnet-4.5"?)');
  });

  it('a route naming auto or another route is told a route lists models (it said unknown model "route/chatbot")', () => {
    const raw = rawDefaults();
    at(raw, 'routing', 'routes').code = ['route/chatbot', 'auto', 'gpt-4.1'];
    expect(errors(validateConfig(raw))).toEqual([
      'routing.routes.code[0]: "route/chatbot" is a route, not a model: a route lists catalogue models (in the order tried), it cannot name another route',
      'routing.routes.code[1]: "auto" is the scorer, not a model: a route lists catalogue models (in the order tried), it cannot name auto',
    ]);
  });

  it('refuses budget limits that would silently apply more widely or never: a key or model field on another scope, a key budget without auth.keys', () => {
    const raw = rawDefaults();
    raw.budget = {
      limits: [
        { scope: 'global', period: 'day', usd: 1, model: 'gpt-4.1' },
        { scope: 'key', key: 'team-a', model: 'gpt-4.1', period: 'day', usd: 1 },
        { scope: 'model', model: 'gpt-4.1', key: 'team-a', period: 'day', usd: 1 },
      ],
    };
    const errs = errors(validateConfig(raw));
    expect(errs).toEqual([
      'budget.limits[0].model: only used with scope "model" (this limit is scope "global"; a budget has one scope)',
      'budget.limits[1].key: a budget for client key "team-a" needs auth.keys: without client keys no request carries a key id, so it would never apply',
      'budget.limits[1].model: only used with scope "model" (this limit is scope "key"; a budget has one scope)',
      'budget.limits[2].key: only used with scope "key" (this limit is scope "model"; a budget has one scope)',
    ]);
    raw.auth = { keys: [{ id: 'team-a', keyEnv: 'TEAM_A_KEY' }] };
    raw.budget = {
      limits: [
        { scope: 'key', key: 'team-a', period: 'day', usd: 1 },
        { scope: 'model', model: 'gpt-4.1', period: 'day', usd: 1 },
      ],
    };
    ok(validateConfig(raw));
  });

  it("refuses two client keys read from one variable (every request would count as the first id; the second id's budget and rpm would never apply)", () => {
    const raw = rawDefaults();
    raw.auth = {
      keys: [
        { id: 'team-a', keyEnv: 'TEAM_KEY' },
        { id: 'team-b', keyEnv: 'TEAM_KEY', rpm: 10 },
      ],
    };
    expect(errors(validateConfig(raw))).toEqual([
      'auth.keys[1].keyEnv: TEAM_KEY is already the variable of client key "team-a": each id needs its own key (its own variable)',
    ]);
  });

  it('refuses a file with no models (the sidecar would start, never get ready, and refuse every request with a wrong reason)', () => {
    expect(errors(validateConfig({ providers: {}, models: {} }))).toEqual([
      'models: no model is configured: add at least one (a sidecar without models can serve nothing)',
    ]);
    expect(errors(validateConfig({ providers: {}, models: {}, logging: { level: 'loud' } }))).toHaveLength(2);
  });

  it('refuses keys nothing would read: anthropicVersion on an openai-kind provider, complexityThreshold without complexityKeywords', () => {
    const withVersion = rawDefaults();
    at(withVersion, 'providers', 'gemini').anthropicVersion = '2023-06-01';
    expect(errors(validateConfig(withVersion)).join('\n')).toMatch(
      /providers\.gemini\.anthropicVersion: only sent to a provider of kind anthropic .*this one is kind openai.*remove it/,
    );
    const anthropic = rawDefaults();
    at(anthropic, 'providers', 'anthropic').anthropicVersion = '2023-06-01';
    ok(validateConfig(anthropic));
    const capField = rawDefaults();
    at(capField, 'providers', 'anthropic').outputCapField = 'max_tokens';
    expect(errors(validateConfig(capField)).join('\n')).toMatch(/providers\.anthropic\.outputCapField: only read for a provider of kind openai/);
    const onOpenAI = rawDefaults();
    at(onOpenAI, 'providers', 'deepseek').outputCapField = 'max_completion_tokens';
    expect(ok(validateConfig(onOpenAI)).providers.deepseek!.outputCapField).toBe('max_completion_tokens');
    expect(ok(validateConfig(rawDefaults())).providers.deepseek!.outputCapField).toBe('auto');
    const threshold = rawDefaults();
    at(threshold, 'routing').classifier = { complexityThreshold: 2 };
    expect(errors(validateConfig(threshold)).join('\n')).toMatch(
      /routing\.classifier\.complexityThreshold: only counts routing\.classifier\.complexityKeywords, which is empty.*add keywords, or remove complexityThreshold/,
    );
    at(threshold, 'routing').classifier = { complexityThreshold: 2, complexityKeywords: [] };
    expect(errors(validateConfig(threshold)).join('\n')).toMatch(/complexityThreshold/);
    at(threshold, 'routing').classifier = { complexityThreshold: 2, complexityKeywords: ['detailed'] };
    ok(validateConfig(threshold));
  });

  it('refuses duplicate endpoint ids', () => {
    const raw = rawDefaults();
    const model = at(raw, 'models', 'deepseek-v3.2');
    model.endpoints = [
      { provider: 'deepseek', upstreamModel: 'deepseek-chat' },
      { provider: 'deepseek', upstreamModel: 'deepseek-reasoner' },
    ];
    expect(errors(validateConfig(raw))).toEqual([
      'models.deepseek-v3.2.endpoints[1].id: duplicate endpoint id "deepseek-v3.2@deepseek"; give one of them an explicit id',
    ]);
    (model.endpoints as Obj[])[1] = { id: 'ds-reasoner', provider: 'deepseek', upstreamModel: 'deepseek-reasoner' };
    ok(validateConfig(raw));
  });

  it('refuses model ids a request could never name: "auto" and route/… (they would shadow auto and the routes)', () => {
    const raw = rawDefaults();
    const models = at(raw, 'models');
    models.auto = structuredClone(models['deepseek-v3.2']);
    models['route/fast'] = structuredClone(models['deepseek-v3.2']);
    at(models, 'auto').endpoints = [{ id: 'a', provider: 'deepseek', upstreamModel: 'deepseek-chat' }];
    at(models, 'route/fast').endpoints = [{ id: 'b', provider: 'deepseek', upstreamModel: 'deepseek-chat' }];
    delete at(models, 'auto').aliases;
    delete at(models, 'route/fast').aliases;
    expect(errors(validateConfig(raw))).toEqual([
      'models.auto: "auto" is reserved (model "auto" lets switchyard choose): give this model another id',
      'models.route/fast: a model id cannot start with "route/" (model "route/<name>" names a route): give this model another id, or make it a route under routing.routes',
    ]);
  });

  it('refuses the model ids spend and metrics give requests with no model: "(none)" and "none" (a migrant round: its requests merged with refused ones)', () => {
    for (const id of ['(none)', 'none']) {
      const raw = rawDefaults();
      const models = at(raw, 'models');
      models[id] = structuredClone(models['deepseek-v3.2']);
      at(models, id).endpoints = [{ id: 'z', provider: 'deepseek', upstreamModel: 'deepseek-chat' }];
      delete at(models, id).aliases;
      expect(errors(validateConfig(raw)), id).toEqual([
        `models.${id}: "${id}" is what /switchyard/spend ("(none)") and /metrics ("none") call requests that had no model (refused before one was chosen): give this model another id`,
      ]);
    }
  });

  it("aliases: a name of one model only, never a model id, auto or a route; the built-in catalogue names Anthropic's own ids", () => {
    expect(ok(validateConfig(rawDefaults())).models['claude-sonnet-4.5']!.aliases).toEqual(['claude-sonnet-4-5', 'claude-sonnet-4-5-20250929']);
    const raw = rawDefaults();
    const models = at(raw, 'models');
    at(models, 'gpt-4.1').aliases = ['gemini-2.5-flash', 'auto', 'route/code', 'claude-sonnet-4-5', 'has space', 'x', 'x'];
    const got = errors(validateConfig(raw)).join('\n');
    expect(got).toMatch(/models\.gpt-4\.1\.aliases\[6\]: "x" is already in this list/);
    expect(got).toMatch(/models\.gpt-4\.1\.aliases\[4\]: expected visible ASCII without spaces/);
    const fixed = rawDefaults();
    at(at(fixed, 'models'), 'gpt-4.1').aliases = ['gemini-2.5-flash', 'auto', 'route/code', 'claude-sonnet-4-5'];
    expect(errors(validateConfig(fixed))).toEqual([
      'models.gpt-4.1.aliases[0]: "gemini-2.5-flash" is the id of a model in the catalogue: an alias names a model by another name',
      'models.gpt-4.1.aliases[1]: "auto" names auto in a request\'s model: an alias cannot be it',
      'models.gpt-4.1.aliases[2]: "route/code" names a route in a request\'s model: an alias cannot be it',
      'models.claude-sonnet-4.5.aliases[0]: "claude-sonnet-4-5" is already an alias of gpt-4.1: a name a request sends can mean one model',
    ]);
  });

  it('refuses settings that contradict each other: a model as its own fallback, maxOutputTokens above contextWindow, baseDelayMs above maxDelayMs', () => {
    const raw = rawDefaults();
    at(raw, 'models', 'gpt-4.1').fallbacks = ['claude-sonnet-4.5', 'gpt-4.1'];
    at(raw, 'models', 'deepseek-v3.2').maxOutputTokens = 200_000;
    raw.resilience = { retry: { baseDelayMs: 6000, maxDelayMs: 5000 } };
    expect(errors(validateConfig(raw))).toEqual([
      "models.deepseek-v3.2.maxOutputTokens: 200000 is larger than the model's contextWindow (128000): the answer has to fit in the context window with its prompt",
      'models.gpt-4.1.fallbacks[1]: a model cannot be its own fallback (its endpoints are already tried in turn): remove "gpt-4.1" or name another model',
      'resilience.retry.baseDelayMs: 6000 is above maxDelayMs (5000): the first back-off would already exceed the cap; lower baseDelayMs or raise maxDelayMs',
    ]);
  });

  it('refuses two limits of one budget (scope, key or model, period): only the stricter acted, and the other was not seen in /metrics', () => {
    const raw = rawDefaults();
    raw.budget = {
      limits: [
        { scope: 'global', period: 'day', usd: 100 },
        { scope: 'model', model: 'gpt-4.1', period: 'day', usd: 5 },
        { scope: 'global', period: 'day', usd: 5 },
        { scope: 'global', period: 'month', usd: 5 },
        { scope: 'model', model: 'deepseek-v3.2', period: 'day', usd: 5 },
        { scope: 'model', model: 'gpt-4.1', period: 'day', usd: 1 },
      ],
    };
    expect(errors(validateConfig(raw))).toEqual([
      'budget.limits[2]: the same budget as budget.limits[0] (scope, period): keep one limit per budget',
      'budget.limits[5]: the same budget as budget.limits[1] (scope, model, period): keep one limit per budget',
    ]);
  });

  it('maxOutputTokens defaults to 4096, or to the context window when that is smaller (4096 would be sent upstream and refused there)', () => {
    const small = minimal();
    expect(ok(validateConfig(small)).models.m?.maxOutputTokens).toBe(1000);
    at(small, 'models', 'm').contextWindow = 100_000;
    expect(ok(validateConfig(small)).models.m?.maxOutputTokens).toBe(4096);
    at(small, 'models', 'm').maxOutputTokens = 100_000;
    expect(ok(validateConfig(small)).models.m?.maxOutputTokens).toBe(100_000);
  });

  it('reports type errors and unknown references together (every problem in one pass)', () => {
    const raw = rawDefaults();
    at(raw, 'models', 'gpt-4.1', 'price').outputPerMTok = 'eight';
    at(raw, 'models', 'gpt-4.1').fallbacks = ['gpt-5'];
    const errs = errors(validateConfig(raw));
    expect(errs).toContain('models.gpt-4.1.price.outputPerMTok: expected number, got string');
    expect(errs).toContainEqual(expect.stringMatching(/^models\.gpt-4\.1\.fallbacks\[0\]: unknown model "gpt-5" \(the catalogue's models: /));
  });
});

describe('loadConfigFile and check-config', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const file = async (name: string, text: string): Promise<string> => {
    const p = join(dir, name);
    await writeFile(p, text);
    return p;
  };

  it('loads YAML and JSON files', async () => {
    expect(Object.keys(ok(await loadConfigFile(await file('spec.yaml', SPEC_EXAMPLE_YAML))).models)).toHaveLength(3);
    expect(Object.keys(ok(await loadConfigFile(await file('default.json', JSON.stringify(DEFAULT_CONFIG)))).models)).toHaveLength(4);
  });

  it('says the line each problem of a YAML or JSON file is on: the key, the list item, where a missing key goes, an unknown key, a value taken from a merge key', async () => {
    const yaml = [
      'x-price: &price', // 1
      '  inputPerMTok: "1"', // 2
      '  outputPerMTok: 2', // 3
      'providers:', // 4
      '  sim: { kind: openai, baseUrl: "http://127.0.0.1:9/v1", apiKeyEnv: SIM_KEY, bogus: 1 }', // 5
      'models:', // 6
      '  gpt-4.1:', // 7
      '    tier: balanced', // 8
      '    price: { inputPerMTok: 1 }', // 9
      '    contextWindow: 128000', // 10
      '    endpoints:', // 11
      '      - { provider: sim, upstreamModel: a }', // 12
      '      - { provider: simm, upstreamModel: b }', // 13
      '  m2:', // 14
      '    tier: balanced', // 15
      '    price: { <<: *price }', // 16
      '    contextWindow: 1000', // 17
      '    endpoints: [{ provider: sim, upstreamModel: c }]', // 18
      'storage: { leaseMs: 1000 }', // 19
      '',
    ].join('\n');
    const expected: Array<[string, number]> = [
      ['providers.sim: unknown key "bogus"', 5],
      ['models.gpt-4.1.price.outputPerMTok: required', 9],
      ['models.gpt-4.1.endpoints[1].provider: unknown provider "simm"', 13],
      ['models.m2.price.inputPerMTok: expected number, got string', 2],
      ['(root): unknown key "x-price"', 1],
      ['storage.leaseMs: only read with storage.shared', 19],
    ];
    const y = errors(await loadConfigFile(await file('lines.yaml', yaml)));
    for (const [start, line] of expected) expect(y.find((x) => x.startsWith(start)) ?? y, start).toMatch(new RegExp(` \\(line ${line}\\)$`));
    // The same file as JSON: its own lines (the merge key is YAML's alone: the value is written out).
    const json = JSON.stringify(parseYaml(yaml, { merge: true }), null, 2);
    const lineOf = (text: string): number => json.split('\n').findIndex((l) => l.includes(text)) + 1;
    const j = errors(await loadConfigFile(await file('lines.json', json)));
    expect(j.find((x) => x.startsWith('providers.sim: unknown key "bogus"'))).toMatch(new RegExp(`\\(line ${lineOf('"bogus"')}\\)$`));
    expect(j.find((x) => x.startsWith('models.gpt-4.1.endpoints[1].provider'))).toMatch(new RegExp(`\\(line ${lineOf('"simm"')}\\)$`));
    expect(j.find((x) => x.startsWith('storage.leaseMs'))).toMatch(new RegExp(`\\(line ${lineOf('"leaseMs"')}\\)$`));
  });

  it('reports YAML and JSON syntax errors with the file name', async () => {
    const y = await file('broken.yaml', 'models: [unclosed\n  providers: {');
    const yErrs = errors(await loadConfigFile(y));
    expect(yErrs).toHaveLength(1);
    expect(yErrs[0]).toMatch(new RegExp(`^${y.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid YAML: .+`));
    const j = await file('broken.json', '{"providers": {},');
    expect(errors(await loadConfigFile(j))).toEqual([expect.stringMatching(/broken\.json: not valid JSON: .+/)]);
    // Where, on every Node (Node 20 says only "at position N"): a trailing comma on line 3.
    const comma = await file('comma.json', '{\n  "providers": {},\n  "models": {},\n}\n');
    expect(errors(await loadConfigFile(comma))).toEqual([expect.stringMatching(/comma\.json: not valid JSON: .*line 4,? column 1/)]);
    // The parser's "at line 3, column 1:" is followed by the line it points at, not left dangling.
    const indent = await file('indent.yaml', 'providers:\n  a: 1\n b: 2\nmodels: {}\n');
    expect(errors(await loadConfigFile(indent))).toEqual([
      `${indent}: not valid YAML: All mapping items must start at the same column at line 3, column 1: "b: 2"`,
    ]);
  });

  it('a BOM is skipped in JSON as in YAML; UTF-16, several YAML documents are said plainly; YAML merge keys are taken', async () => {
    const bom = await file('bom.json', '\uFEFF' + JSON.stringify(minimal()));
    expect(Object.keys(ok(await loadConfigFile(bom)).models)).toEqual(['m']);
    const utf16 = join(dir, 'utf16.yaml');
    await writeFile(utf16, Buffer.from('\uFEFFproviders: {}\n', 'utf16le'));
    expect(errors(await loadConfigFile(utf16))).toEqual([`${utf16}: the file is not UTF-8 text (it looks like UTF-16, or binary): save it as UTF-8`]);
    const docs = await file('docs.yaml', 'providers: {}\n---\nmodels: {}\n');
    expect(errors(await loadConfigFile(docs))[0]).toMatch(/several YAML documents \(separated by ---\): a config is one document/);
    const merged = await file(
      'merge.yaml',
      [
        'providers: { p: { kind: openai, baseUrl: "http://127.0.0.1:9/v1" } }',
        'models:',
        '  a: &common { tier: balanced, price: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 1000, endpoints: [{ provider: p, upstreamModel: a }] }',
        '  b: { <<: *common, tier: fast_cheap }',
        '',
      ].join('\n'),
    );
    const cfg = ok(await loadConfigFile(merged));
    expect([cfg.models.b!.tier, cfg.models.b!.contextWindow]).toEqual(['fast_cheap', 1000]);
  });

  it('a catalogue sharing one anchor a hundred times and more is taken (it was "a resource exhaustion attack"); an alias bomb, a custom tag and a file nested too deep are refused plainly, never quoting a line', async () => {
    const lines = [
      'providers: { p: { kind: openai, baseUrl: "http://127.0.0.1:9/v1" } }',
      'models:',
      '  m0: &base { tier: balanced, price: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 1000, endpoints: [{ provider: p, upstreamModel: m0 }] }',
      ...Array.from({ length: 150 }, (_, i) => `  m${i + 1}: { <<: *base, endpoints: [{ provider: p, upstreamModel: up${i + 1} }] }`),
      '',
    ];
    expect(Object.keys(ok(await loadConfigFile(await file('many.yaml', lines.join('\n')))).models)).toHaveLength(151);
    // Nine laughs, eight levels: 9^9 values from 600 bytes.
    let bomb = 'x:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
    for (let i = 1, prev = 'a'; i <= 8; prev = `l${i}`, i++) bomb += `  l${i}: &l${i} [${Array(9).fill(`*${prev}`).join(', ')}]\n`;
    const t0 = Date.now();
    expect(errors(await loadConfigFile(await file('bomb.yaml', `providers: {}\nmodels: {}\n${bomb}`)))[0]).toMatch(
      /expands to more than 200000 values through its aliases/,
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    const tagged = await file(
      'tag.yaml',
      'providers:\n  p: { kind: openai, baseUrl: "http://127.0.0.1:9/v1", headers: { X-Org: !vault "sk-proj-SECRETabcdef1234567890" } }\nmodels: {}\n',
    );
    const warned = vi.spyOn(process, 'emitWarning');
    const tagErr = errors(await loadConfigFile(tagged));
    expect(tagErr).toEqual([expect.stringMatching(/the YAML tag !vault at line 2 is not read by switchyard: values are read as written/)]);
    expect(JSON.stringify(tagErr)).not.toContain('SECRET');
    // The parser's own warning (which quoted the line, the key with it) is not printed.
    expect(warned).not.toHaveBeenCalled();
    warned.mockRestore();
    // Empty, or only comments (a ConfigMap caught mid-write): said so (it was "providers: required", or "not valid JSON … check the path").
    for (const [name, text] of [
      ['empty.yaml', ''],
      ['comment.yaml', '# models come later\n'],
      ['empty.json', '\n'],
    ] as const)
      expect(errors(await loadConfigFile(await file(name, text)))[0]).toMatch(/the file holds no config \(it is empty/);
    const deep = await file('deep.json', `{"observe":${'['.repeat(3000)}${']'.repeat(3000)}}`);
    expect(errors(await loadConfigFile(deep))[0]).toMatch(/observe\[0\]\[0\].*… is nested more than 64 levels deep/);
  });

  it('refuses provider headers that can never be sent (a bad name, a line break, one switchyard sets itself) and a duplicated fallback, naming the path', () => {
    const raw = minimal();
    at(raw, 'providers', 'p').headers = { 'bad name': 'v', 'x-a': 'v\r\nx-b: 1', 'Content-Length': '5', 'OpenAI-Organization': 'org-1' };
    ((raw.models as Obj).m as Obj).fallbacks = [];
    (raw.models as Obj).n = { ...((raw.models as Obj).m as Obj), fallbacks: ['m', 'm'] };
    const errs = errors(validateConfig(raw));
    expect(errs).toEqual([
      expect.stringMatching(/^providers\.p\.headers\.bad name: not a valid HTTP header name/),
      expect.stringMatching(/^providers\.p\.headers\.x-a: not a valid HTTP header value \(no line breaks/),
      'providers.p.headers.Content-Length: switchyard sets content-length itself for each request: remove it',
      'models.n.fallbacks[1]: "m" is already in fallbacks (a model is tried once per request): remove the repeat',
    ]);
    const host = minimal();
    host.server = { host: 'not a host!' };
    expect(errors(validateConfig(host))).toEqual([expect.stringMatching(/^server\.host: not a host name or an IP address/)]);
    // A scheme is one problem, not also a port.
    host.server = { host: 'http://x' };
    expect(errors(validateConfig(host))).toEqual([expect.stringMatching(/^server\.host: not a host name or an IP address/)]);
    host.server = { host: 'localhost:4141' };
    expect(errors(validateConfig(host))).toEqual([expect.stringMatching(/^server\.host: a host without a port \(the port is server\.port/)]);
    for (const good of ['0.0.0.0', '::1', 'localhost', 'fe80::1%eth0', 'my-host.internal']) {
      const g = minimal();
      g.server = { host: good };
      expect(ok(validateConfig(g)).server.host).toBe(good);
    }
  });

  it('refuses a base URL with credentials or a query, a model twice in a route, and client key ids a header or the spend report would garble', () => {
    const raw = minimal();
    raw.providers = {
      p: { kind: 'openai', baseUrl: 'http://user:URLPASS@127.0.0.1:9/v1' },
      e: { kind: 'openai', baseUrl: 'http://@127.0.0.1:9/v1' },
      q: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1?x=1#f' },
    };
    (raw.models as Obj).m = {
      ...((raw.models as Obj).m as Obj),
      endpoints: [
        { provider: 'p', upstreamModel: 'm' },
        { provider: 'q', upstreamModel: 'm' },
      ],
    };
    raw.routing = { routes: { r: ['m', 'm'] } };
    raw.auth = {
      keys: [
        { id: 'we"ird\nid', keyEnv: 'K1' },
        { id: '(none)', keyEnv: 'K2' },
      ],
    };
    const got = errors(validateConfig(raw)).join('\n');
    expect(got).toMatch(/providers\.p\.baseUrl: a base URL with a user name or password is not accepted/);
    expect(got).toMatch(/providers\.e\.baseUrl: a base URL with a user name or password is not accepted/);
    expect(got).not.toContain('URLPASS');
    expect(got).toMatch(/providers\.q\.baseUrl: a base URL takes no query string or fragment/);
    expect(got).toMatch(/routing\.routes\.r\[1\]: "m" is already in this route/);
    expect(got).toMatch(/auth\.keys\[0\]\.id: expected visible ASCII/);
    expect(got).toMatch(/auth\.keys\[1\]\.id: "\(none\)" is what \/switchyard\/spend calls requests without a client key/);
  });

  it('a base URL written as an environment variable (${SIM_URL}, $SIM_URL, os.environ/SIM_URL) is told variables are not read there (it said only "expected an http:// or https:// URL")', () => {
    for (const baseUrl of ['${SIM_URL}', '$SIM_URL', 'os.environ/SIM_URL', 'http://${HOST}:9/v1']) {
      const raw = minimal();
      raw.providers = { p: { kind: 'openai', baseUrl } };
      (raw.models as Obj).m = { ...((raw.models as Obj).m as Obj), endpoints: [{ provider: 'p', upstreamModel: 'm' }] };
      const got = errors(validateConfig(raw));
      expect(got.join('\n')).toMatch(/providers\.p\.baseUrl: .*config values are not read from environment variables/);
      // Each line once (the same message twice was printed as two problems).
      expect(new Set(got).size).toBe(got.length);
    }
    // Anywhere, not only in a URL: a ledger path (a directory named "${HOME}" was made), a model id sent upstream.
    const raw = minimal();
    raw.storage = { ledger: 'sqlite:${HOME}/l.db' };
    (raw.models as Obj).m = { ...((raw.models as Obj).m as Obj), endpoints: [{ provider: 'p', upstreamModel: '${MODEL}' }] };
    const got = errors(validateConfig(raw)).join('\n');
    expect(got).toMatch(/^storage\.ledger: config values are not read from environment variables .*"sqlite:\$\{HOME\}\/l\.db" would be used as written/m);
    expect(got).toMatch(/^models\.m\.endpoints\[0\]\.upstreamModel: config values are not read from environment variables/m);
    const plain = minimal();
    plain.providers = { p: { kind: 'openai', baseUrl: 'not a url' } };
    (plain.models as Obj).m = { ...((plain.models as Obj).m as Obj), endpoints: [{ provider: 'p', upstreamModel: 'm' }] };
    expect(errors(validateConfig(plain)).join('\n')).toMatch(/providers\.p\.baseUrl: expected an http:\/\/ or https:\/\/ URL$/m);
  });

  it('refuses an OTLP endpoint with a user name, a password or a credential in its query (it was logged whole at start and on every failed export)', () => {
    for (const [endpoint, why] of [
      ['http://otuser:otPASSWORD@127.0.0.1:4318/v1/traces', /a user name or password/],
      ['http://127.0.0.1:4318/v1/traces?api_key=otQUERYKEY', /a credential in its query \(api_key\)/],
    ] as const) {
      const raw = minimal();
      raw.observe = { otlp: { endpoint } };
      const got = errors(validateConfig(raw)).join('\n');
      expect(got).toMatch(/observe\.otlp\.endpoint: an OTLP endpoint with /);
      expect(got).toMatch(why);
      expect(got).toContain('OTEL_EXPORTER_OTLP_HEADERS');
      expect(got).not.toMatch(/otPASSWORD|otQUERYKEY/);
    }
    const fragment = minimal();
    fragment.observe = { otlp: { endpoint: 'http://127.0.0.1:4318/v1/traces#token=SECRETFRAG' } };
    expect(errors(validateConfig(fragment)).join('\n')).toMatch(/observe\.otlp\.endpoint: an OTLP endpoint takes no fragment/);
    const ok = minimal();
    ok.observe = { otlp: { endpoint: 'http://127.0.0.1:4318/v1/traces?tenant=a' } };
    expect(validateConfig(ok).ok).toBe(true);
  });

  it('a capability listed twice is named (it was taken silently)', () => {
    const raw = minimal();
    (raw.models as Obj).m = { ...((raw.models as Obj).m as Obj), capabilities: ['chat', 'tools', 'chat'] };
    expect(errors(validateConfig(raw))).toEqual(['models.m.capabilities[2]: "chat" is already in this list: remove it']);
    const checks = minimal();
    checks.routing = { cascade: { checks: ['empty', 'empty'] } };
    expect(errors(validateConfig(checks))).toEqual(['routing.cascade.checks[1]: "empty" is already in this list: remove it']);
  });

  it('an empty routing.cascade.checks is refused (every cheap answer passed: requests stayed on the cheapest tier, never escalated)', () => {
    for (const enabled of [true, false]) {
      const raw = minimal();
      raw.routing = { cascade: { enabled, checks: [] } };
      const got = errors(validateConfig(raw));
      expect(got).toHaveLength(1);
      expect(got[0]).toMatch(/^routing\.cascade\.checks: no check means no answer ever fails/);
      expect(got[0]).toContain('List at least one check');
      expect(got[0]).toContain('routing.cascade.enabled: false');
    }
    const one = minimal();
    one.routing = { cascade: { enabled: true, checks: ['empty'] } };
    expect(validateConfig(one).ok).toBe(true);
  });

  it('an empty YAML section (a key with nothing under it: null) is named as one (it said "expected object, got null")', () => {
    const raw = minimal();
    raw.observe = null;
    raw.budget = { limits: null };
    expect(errors(validateConfig(raw)).sort()).toEqual([
      'budget.limits: the section is empty (in YAML, a key with nothing under it is null): give it its items, or remove the line',
      'observe: the section is empty (in YAML, a key with nothing under it is null): give it its keys, or remove the line',
    ]);
    const noModels = minimal();
    noModels.models = null;
    expect(errors(validateConfig(noModels))[0]).toBe(
      'models: the section is empty (in YAML, a key with nothing under it is null): give it its keys, or remove the line',
    );
  });

  it('refuses a JSON file with a key twice in one object, naming the key and its line', async () => {
    const j = await file('dup.json', '{\n  "budget": {"limits": []},\n  "models": {},\n  "budget": {"limits": []}\n}');
    expect(errors(await loadConfigFile(j))).toEqual([`${j}: line 4: the key "budget" appears twice in one object (JSON would keep only the last): remove one`]);
  });

  it('a file with a duration over 2^31-1 ms is refused as check-config, serve and reload read it (loadConfigFile)', async () => {
    const f = await file(
      'long-timer.yaml',
      [
        'providers: { p: { kind: openai, baseUrl: "http://127.0.0.1:9/v1" } }',
        'models: { m: { tier: balanced, price: { inputPerMTok: 1, outputPerMTok: 2 }, contextWindow: 1000, endpoints: [{ provider: p, upstreamModel: m }] } }',
        'resilience: { requestTimeoutMs: 3000000000 }',
      ].join('\n'),
    );
    expect(errors(await loadConfigFile(f))).toEqual([
      expect.stringMatching(/^resilience\.requestTimeoutMs: expected <= 2147483647 \(got 3000000000: .*Node timer/),
    ]);
  });

  it('reports an unreadable file without throwing', async () => {
    const missing = join(dir, 'nope.yaml');
    expect(errors(await loadConfigFile(missing))).toEqual([
      `${missing}: cannot read the file (ENOENT: there is no such file): check the path (relative paths are the working directory's)`,
    ]);
    // Unreadable: said with what to do (it said only "(EACCES)").
    const locked = await file('locked.yaml', 'providers: {}');
    await chmod(locked, 0);
    if (process.getuid?.() !== 0)
      expect(errors(await loadConfigFile(locked))).toEqual([
        `${locked}: cannot read the file (EACCES: permission denied): give the user switchyard runs as read access to the file and its directories`,
      ]);
    expect(errors(await loadConfigFile(join(locked, 'x.yaml')))).toEqual([
      `${join(locked, 'x.yaml')}: cannot read the file (ENOTDIR: a part of the path is a file, not a directory): check the path`,
    ]);
    const sub = join(dir, 'a-directory.yaml');
    await mkdir(sub);
    expect(errors(await loadConfigFile(sub))).toEqual([`${sub}: not a regular file (a directory): give the path of a config file`]);
  });

  it('refuses a pipe or a device instead of reading it whole (a FIFO hung the start; /dev/zero was read to 600 MB)', async () => {
    const fifo = join(dir, 'a-fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    expect(errors(await loadConfigFile(fifo))).toEqual([`${fifo}: not a regular file (a pipe, device or socket): give the path of a config file`]);
    expect(errors(await loadConfigFile('/dev/zero'))).toEqual(['/dev/zero: not a regular file (a pipe, device or socket): give the path of a config file']);
    await expect(loadProfile(fifo)).rejects.toThrow(`${fifo}: not a regular file (a pipe, device or socket): give the path of a simulator profile file`);
  });

  const root = fileURLToPath(new URL('../../', import.meta.url));
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  // Each run starts the built CLI as a process (slow under load): both go in parallel.
  it.concurrent('check-config: a bad file exits 1 and lists every problem with its path', async ({ expect }) => {
    const bad = await file(
      'bad.yaml',
      [
        'server: { port: 99999, hots: x }',
        'providers:',
        '  openai: { kind: openai, baseUrl: https://api.openai.com/v1, apiKey: sk-123 }',
        'models:',
        '  gpt-4.1:',
        '    tier: premium',
        '    price: { inputPerMTok: 2, outputPerMTok: "8" }',
        '    contextWindow: 1000',
        '    endpoints: [{ provider: openai, upstreamModel: gpt-4.1 }]',
      ].join('\n'),
    );
    const res = await cli(['check-config', bad]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('5 problems');
    expect(res.stderr).toContain('server.port: expected <= 65535');
    expect(res.stderr).toContain('server: unknown key "hots"');
    expect(res.stderr).toContain('providers.openai: inline secret "apiKey"');
    expect(res.stderr).toContain('models.gpt-4.1.tier: expected one of "fast_cheap", "balanced", "high_quality"');
    expect(res.stderr).toContain('models.gpt-4.1.price.outputPerMTok: expected number, got string');
    expect(res.stderr).not.toContain('sk-123');
  });

  it.concurrent('check-config: a good file exits 0', async ({ expect }) => {
    // With the secrets it names in the environment (else a note lists them on stderr).
    const secrets = {
      OPENAI_API_KEY: 'sk-openai-test-0123',
      ANTHROPIC_API_KEY: 'sk-ant-test-0123',
      DEEPSEEK_API_KEY: 'sk-ds-test-0123',
      TEAM_A_KEY: 'team-a-key',
    };
    const res = await cli(['check-config', await file('good.yaml', SPEC_EXAMPLE_YAML)], secrets);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('ok (3 models, 3 providers, 1 route)');
  });
});

describe('storage.shared (issue 13)', () => {
  it('refuses Redis with a ledger per replica (SQLite or memory) and says why', () => {
    for (const ledger of ['sqlite:./switchyard.db', 'memory']) {
      const errs = errors(validateConfig({ ...minimal(), storage: { ledger, shared: 'redis://127.0.0.1:6379/0' } }));
      expect(errs.join('\n')).toMatch(/storage\.ledger.*ledger must be shared too \(postgres:\/\/…\)/);
    }
  });

  it('storage.journal: only for a PostgreSQL ledger without Redis, which keeps one by default', () => {
    const pg = 'postgres://u@h/db';
    const cfg = ok(validateConfig({ ...minimal(), storage: { ledger: pg, journal: '/var/lib/switchyard/inflight' } }));
    expect(pgJournal(cfg.storage)).toBe('/var/lib/switchyard/inflight');
    expect(pgJournal(ok(validateConfig({ ...minimal(), storage: { ledger: pg } })).storage)).toBe(DEFAULT_PG_JOURNAL);
    expect(pgJournal(ok(validateConfig({ ...minimal(), storage: { ledger: pg, journal: 'off' } })).storage)).toBeUndefined();
    expect(pgJournal(ok(validateConfig({ ...minimal(), storage: { ledger: pg, shared: 'redis://h' } })).storage)).toBeUndefined();
    expect(pgJournal(ok(validateConfig({ ...minimal() })).storage)).toBeUndefined(); // SQLite: next to its file
    expect(errors(validateConfig({ ...minimal(), storage: { ledger: 'sqlite:./x.db', journal: './j' } })).join('\n')).toMatch(
      /storage\.journal.*sqlite ledger keeps its in-flight journal next to its file/,
    );
    expect(errors(validateConfig({ ...minimal(), storage: { journal: './j' } })).join('\n')).toMatch(/storage\.journal/);
    // A memory ledger has no file to keep a journal next to (it said it had).
    expect(errors(validateConfig({ ...minimal(), storage: { ledger: 'memory', journal: 'off' } })).join('\n')).toMatch(
      /storage\.journal.*a memory ledger keeps no in-flight journal/,
    );
    expect(errors(validateConfig({ ...minimal(), storage: { ledger: pg, shared: 'redis://h', journal: './j' } })).join('\n')).toMatch(
      /storage\.journal.*replicas on Redis reclaim/,
    );
    expect(errors(validateConfig({ ...minimal(), storage: { ledger: pg, journal: '' } })).join('\n')).toMatch(/storage\.journal/);
  });

  it('storage.leaseMs and storage.keyPrefix: refused without Redis, where nothing reads them', () => {
    for (const storage of [{ leaseMs: 1000 }, { keyPrefix: 'prod-eu' }, { ledger: 'postgres://u@h/db', shared: 'memory', leaseMs: 5000 }]) {
      const key = Object.keys(storage).find((k) => k === 'leaseMs' || k === 'keyPrefix')!;
      const errs = errors(validateConfig({ ...minimal(), storage })).join('\n');
      expect(errs).toContain(`storage.${key}: only read with storage.shared: redis://…`);
      expect(errs).toMatch(/remove it, or set storage\.shared/);
    }
  });

  it('storage.shared that is neither memory nor redis://: the one problem is said, not also "storage.shared is memory here" for leaseMs and keyPrefix', () => {
    const errs = errors(
      validateConfig({ ...minimal(), storage: { ledger: 'postgres://u@h/db', shared: 'http://127.0.0.1:6379', leaseMs: 2000, keyPrefix: 'prod-eu' } }),
    );
    expect(errs.join('\n')).toContain('storage.shared: expected memory or redis://…');
    expect(errs.join('\n')).not.toContain('storage.shared is memory here');
  });

  it('server.maxBodyBytes is bounded by what can be read: one JavaScript string (a larger limit let a client crash the process with a declared length over 4 GiB)', () => {
    // V8's longest string (536,870,888 characters on 64-bit Node 20 and 22).
    expect(MAX_BODY_BYTES).toBeLessThan(2 ** 30);
    for (const maxBodyBytes of [6_000_000_000, MAX_BODY_BYTES + 1])
      expect(errors(validateConfig({ ...minimal(), server: { maxBodyBytes } })).join('\n'), String(maxBodyBytes)).toContain(
        `server.maxBodyBytes: expected <= ${MAX_BODY_BYTES} (at most ${MAX_BODY_BYTES} bytes: a request body is read into one string`,
      );
    expect(ok(validateConfig({ ...minimal(), server: { maxBodyBytes: MAX_BODY_BYTES } })).server.maxBodyBytes).toBe(MAX_BODY_BYTES);
  });

  it('storage.shared: a redis:// URL the Redis client cannot read is refused with what to write, never echoing the URL (its password)', () => {
    // Each of these passed check-config, then crashed `serve` with a stack trace printing the URL, password included.
    for (const shared of [
      'redis://:hunter2SECRET@127.0.0.1:99999',
      'redis://:hunter2SECRET@127.0.0.1:6379:6379',
      'redis://:hunter2SECRET@127.0.0.1 :6379',
      'rediss://:hunter2SECRET@[::1:6379',
    ]) {
      const errs = errors(validateConfig({ ...minimal(), storage: { ledger: 'postgres://u@h/db', shared } })).join('\n');
      expect(errs, shared).toContain('storage.shared: not a URL the Redis client can read');
      expect(errs, shared).toContain('redis://HOST:PORT/DB');
      expect(errs, shared).not.toContain('hunter2');
    }
    // A path is the database number: `/cache` crashed the start at its SELECT.
    for (const shared of ['redis://127.0.0.1:6379/cache', 'redis://127.0.0.1:6379/1/2', 'redis://127.0.0.1:6379/-1x'])
      expect(errors(validateConfig({ ...minimal(), storage: { ledger: 'postgres://u@h/db', shared } })).join('\n'), shared).toContain(
        'storage.shared: the path after the host is the database number',
      );
    for (const shared of ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379/', 'redis://127.0.0.1:6379/3', 'rediss://:pw@[::1]:6380/0', 'redis://h'])
      ok(validateConfig({ ...minimal(), storage: { ledger: 'postgres://u@h/db', shared } }));
  });

  it('storage.ledger: a postgres:// URL the driver cannot read is refused by check-config with what to write, never echoing the URL (its password)', () => {
    // These passed check-config and stopped `serve` with "Invalid URL".
    for (const ledger of [
      'postgres://app:hunter2SECRET@127.0.0.1:99999/db',
      'postgresql://app:hunter2SECRET@db:5432:5432/db',
      'postgres://app:hunter2SECRET@h/\ud800 x',
    ]) {
      const errs = errors(validateConfig({ ...minimal(), storage: { ledger } })).join('\n');
      expect(errs, ledger).toContain('storage.ledger: not a URL the PostgreSQL driver can read');
      expect(errs, ledger).not.toContain('hunter2');
    }
    // What the driver reads: spaces (encoded), a socket directory as the host, an empty host.
    for (const ledger of [
      'postgres://u@h/db',
      'postgres://u@127.0.0.1:5432/my db',
      'postgres://u@%2Fvar%2Frun%2Fpostgresql/db',
      'postgres:///db?host=/var/run/postgresql',
      'postgres://u:p@/db',
      'postgresql://u@[::1]:5432/db?sslmode=require',
    ])
      ok(validateConfig({ ...minimal(), storage: { ledger } }));
  });

  it('resilience.halfOpenProbes above 1 is refused with Redis, whose probe slot is one per endpoint (it would act as 1)', () => {
    const storage = { ledger: 'postgres://u@h/db', shared: 'redis://h' };
    expect(errors(validateConfig({ ...minimal(), storage, resilience: { halfOpenProbes: 3 } })).join('\n')).toMatch(
      /resilience\.halfOpenProbes: more than 1 is not built with storage\.shared: redis:\/\/….*would act as 1/,
    );
    ok(validateConfig({ ...minimal(), storage, resilience: { halfOpenProbes: 1 } }));
    ok(validateConfig({ ...minimal(), resilience: { halfOpenProbes: 3 } }));
  });

  it('accepts Redis (and rediss://) with a PostgreSQL ledger, a lease and a key prefix', () => {
    const cfg = ok(
      validateConfig({ ...minimal(), storage: { ledger: 'postgres://u@h/db', shared: 'rediss://h:6380/1', leaseMs: 3000, keyPrefix: 'prod-eu' } }),
    );
    expect(cfg.storage).toEqual({
      ledger: 'postgres://u@h/db',
      shared: 'rediss://h:6380/1',
      leaseMs: 3000,
      keyPrefix: 'prod-eu',
      responses: { ttlSeconds: 2_592_000, maxEntries: 10_000, maxBytes: 1_073_741_824 },
    });
    expect(errors(validateConfig({ ...minimal(), storage: { ledger: 'postgres://u@h/db', shared: 'redis://h', leaseMs: 50 } })).join('\n')).toMatch(/leaseMs/);
  });
});

describe('duplicateJsonKeys', () => {
  it('finds a key twice in the same object, at any depth, and nothing else', () => {
    expect(duplicateJsonKeys('{"a":1,"b":{"a":2,"c":[{"a":3},{"a":4}]},"d":"a"}')).toEqual([]);
    expect(duplicateJsonKeys('{"a":1,"b":{"x":2,"x":3}}')).toEqual([{ key: 'x', line: 1 }]);
    expect(duplicateJsonKeys('[{"k":1,"k":2},{"k":3}]')).toEqual([{ key: 'k', line: 1 }]);
  });

  it('compares keys as JSON reads them (escapes decoded) and is not fooled by quotes or braces in strings', () => {
    expect(duplicateJsonKeys('{"ab":1,"a\\u0062":2}')).toEqual([{ key: 'ab', line: 1 }]);
    expect(duplicateJsonKeys('{"a":"x\\"y,\\"a\\":{","b":"}]","a2":["a","a"]}')).toEqual([]);
    expect(duplicateJsonKeys('{\n"q\\"":1,\n"q\\"":2}')).toEqual([{ key: 'q"', line: 3 }]);
  });
});

describe('a file that is no config', () => {
  it('is refused without its keys (a wrong path, /etc/shadow read as YAML, had its lines copied into the output); a misspelt key keeps its hint', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sy-noconfig-'));
    try {
      const file = join(dir, 'shadow.yaml');
      await writeFile(file, 'root:$6$SECRETHASH:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n');
      const res = await loadConfigFile(file);
      expect(res.ok).toBe(false);
      const errors = (res as { errors: string[] }).errors;
      expect(errors).toEqual([expect.stringMatching(/^\(root\): this is not a switchyard config: none of its 2 top-level keys is one switchyard reads/)]);
      expect(errors.join('\n')).not.toMatch(/SECRETHASH|daemon/);
      // One that does not even parse: where it failed, never the parser's excerpt of the line.
      for (const [name, text] of [
        ['creds.ini', '[default]\naws_secret_access_key = abcdSECRETHASH\n'],
        ['passwd.json', 'root:x:0:0:SECRETHASH:/root:/bin/bash\n'],
      ] as const) {
        const f = join(dir, name);
        await writeFile(f, text);
        const bad = await loadConfigFile(f);
        expect((bad as { errors: string[] }).errors).toEqual([
          expect.stringMatching(/: not valid (YAML|JSON).*, and not a switchyard config .*check the path$/),
        ]);
        expect((bad as { errors: string[] }).errors.join('\n')).not.toMatch(/SECRETHASH|aws_secret|root:x/);
      }
      const typo = validateConfig({ modles: {} });
      expect(typo.ok).toBe(false);
      expect((typo as { errors: string[] }).errors).toContain('(root): unknown key "modles" (did you mean "models"?)');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
