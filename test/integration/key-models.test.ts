/**
 * A client key's model list (`auth.keys[].models`, LiteLLM's key `models`) through the real
 * sidecar and simulator with the official SDKs: a named model off the list is a 403
 * `model_not_allowed` (OpenAI's PermissionDeniedError, Anthropic's `permission_error`), `auto`,
 * routes, fallbacks and the cascade are served from the listed models only, `/v1/models` lists
 * what the key may use, and a key without a list (or no key) keeps every model.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ledgerFileOf, ledgerRow } from './ledger-row.js';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';

let sim: SimHandle;
let sc: SidecarHandle;
const CHEAP_KEY = 'sy-key-models-cheap';
const ALL_KEY = 'sy-key-models-all';
let cheap: OpenAI;
let ledgerFile: string;
let all: OpenAI;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 2, tokenGapMs: 1, outputTokens: 8 } });
  const base = testConfig(sim.url);
  const embed = (upstreamModel: string) => ({
    tier: 'fast_cheap',
    price: { inputPerMTok: 0.02, outputPerMTok: 0 },
    contextWindow: 8192,
    capabilities: ['embeddings'],
    endpoints: [{ provider: 'openai', upstreamModel }],
  });
  const cfg = testConfig(sim.url, {
    models: { ...(base.models as Record<string, unknown>), 'embed-small': embed('text-embedding-3-small'), 'embed-large': embed('text-embedding-3-large') },
    auth: {
      keys: [
        { id: 'cheap', keyEnv: 'SY_TEST_CHEAP_KEY', models: ['deepseek-v3.2', 'gpt-4.1', 'embed-small'] },
        { id: 'all', keyEnv: 'SY_TEST_ALL_KEY' },
      ],
    },
  });
  ledgerFile = ledgerFileOf(cfg);
  sc = await startSidecar(cfg, { SY_TEST_CHEAP_KEY: CHEAP_KEY, SY_TEST_ALL_KEY: ALL_KEY });
  cheap = new OpenAI({ baseURL: `${sc.url}/v1`, apiKey: CHEAP_KEY, maxRetries: 0 });
  all = new OpenAI({ baseURL: `${sc.url}/v1`, apiKey: ALL_KEY, maxRetries: 0 });
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

afterEach(async () => {
  await sim.clearFaults();
  await sim.clearLog();
});

const hi = [{ role: 'user' as const, content: 'Hi there' }];
const hard = [
  {
    role: 'user' as const,
    content:
      'Prove that every finite integral domain is a field. Then derive the number of elements of a finite field, step by step, and explain why a field with 6 elements cannot exist.',
  },
];

describe('auth.keys[].models', () => {
  it('refuses a named model off the list with 403 model_not_allowed (PermissionDeniedError), before anything is sent upstream', async () => {
    const err = await cheap.chat.completions.create({ model: 'claude-sonnet-4.5', messages: hi }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const e = err as InstanceType<typeof OpenAI.PermissionDeniedError>;
    expect(e.status).toBe(403);
    expect(e.error).toMatchObject({ type: 'permission_error', code: 'model_not_allowed', param: 'model' });
    expect(e.message).toContain('client key "cheap" may not use the model "claude-sonnet-4.5"');
    expect(e.message).toContain('deepseek-v3.2, gpt-4.1, embed-small');
    expect(e.headers?.get('x-switchyard-error-code')).toBe('model_not_allowed');
    expect(await sim.log()).toEqual([]);
    // Its row, at no cost, as every refused request has.
    expect(ledgerRow(ledgerFile, e.headers?.get('x-request-id') ?? null)).toMatchObject({ key_id: 'cheap', status: 403, cost_nano: 0 });
    // The same model for a key without a list.
    const ok = await all.chat.completions.create({ model: 'claude-sonnet-4.5', messages: hi });
    expect(ok.choices[0]!.message.content).toBeTruthy();
  });

  it('serves a listed model, and never fails over to a fallback off the list', async () => {
    const { data, response } = await cheap.chat.completions.create({ model: 'gpt-4.1', messages: hi }).withResponse();
    expect(data.choices[0]!.message.content).toBeTruthy();
    expect(response.headers.get('x-switchyard-model')).toBe('gpt-4.1');
    // gpt-4.1's fallback is claude-sonnet-4.5, which this key may not use: its failure is the answer.
    await sim.setFault('gpt-4.1', { kind: 'http_error', status: 500 });
    const err = await cheap.chat.completions.create({ model: 'gpt-4.1', messages: hi }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    const sent = (await sim.log()) as Array<{ model: string }>;
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((r) => r.model === 'gpt-4.1')).toBe(true);
    // A key without a list fails over to the fallback, as before.
    const { response: r2 } = await all.chat.completions.create({ model: 'gpt-4.1', messages: hi }).withResponse();
    expect(r2.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
  });

  it('serves auto from the listed models only, and says so in x-switchyard-reason', async () => {
    // A hard prompt: the router picks high_quality, where this key has no model.
    const { data, response } = await cheap.chat.completions.create({ model: 'auto', messages: hard }).withResponse();
    expect(data.choices[0]!.message.content).toBeTruthy();
    expect(['deepseek-v3.2', 'gpt-4.1']).toContain(response.headers.get('x-switchyard-model'));
    expect(response.headers.get('x-switchyard-reason')).toContain("key cheap's models only");
    const forced = await cheap.chat.completions.create({ model: 'auto', messages: hi }, { headers: { 'x-switchyard-tier': 'high_quality' } }).withResponse();
    expect(['deepseek-v3.2', 'gpt-4.1']).toContain(forced.response.headers.get('x-switchyard-model'));
    // Without a list the same request goes to the router's tier.
    const other = await all.chat.completions.create({ model: 'auto', messages: hi }, { headers: { 'x-switchyard-tier': 'high_quality' } }).withResponse();
    expect(other.response.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
  });

  it('serves a route from its listed models only', async () => {
    const { response } = await cheap.chat.completions.create({ model: 'route/analysis', messages: hi }).withResponse();
    expect(response.headers.get('x-switchyard-model')).toBe('gpt-4.1');
    // route/chatbot is deepseek-v3.2 → gemini-2.5-flash; with deepseek down, gemini is off the list.
    await sim.clearLog();
    await sim.setFault('deepseek-chat', { kind: 'http_error', status: 500 });
    const down = await cheap.chat.completions.create({ model: 'route/chatbot', messages: hi }).catch((e: unknown) => e);
    expect((down as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect(((await sim.log()) as Array<{ model: string }>).every((r) => r.model === 'deepseek-chat')).toBe(true);
  });

  it('lists only what the key may use in /v1/models (models.retrieve of another is a 404), every model for a key without a list', async () => {
    const ids = (await cheap.models.list()).data.map((m) => m.id).sort();
    expect(ids).toEqual(['auto', 'deepseek-v3.2', 'embed-small', 'gpt-4.1', 'route/analysis', 'route/chatbot', 'route/code']);
    await expect(cheap.models.retrieve('claude-sonnet-4.5')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await cheap.models.retrieve('gpt-4.1')).id).toBe('gpt-4.1');
    const allIds = (await all.models.list()).data.map((m) => m.id);
    expect(allIds).toContain('claude-sonnet-4.5');
    expect(allIds).toContain('gemini-2.5-flash');
  });

  it('holds for embeddings: a listed model is served, another is a 403', async () => {
    const ok = await cheap.embeddings.create({ model: 'embed-small', input: 'hello' });
    expect(ok.data[0]!.embedding.length).toBeGreaterThan(0);
    await expect(cheap.embeddings.create({ model: 'embed-large', input: 'hello' })).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((await all.embeddings.create({ model: 'embed-large', input: 'hello' })).data).toHaveLength(1);
  });

  it("answers the Anthropic SDK a 403 permission_error in Anthropic's shape", async () => {
    const claude = new Anthropic({ baseURL: sc.url, apiKey: CHEAP_KEY, maxRetries: 0 });
    const err = await claude.messages.create({ model: 'claude-sonnet-4.5', max_tokens: 20, messages: hi }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((err as InstanceType<typeof Anthropic.PermissionDeniedError>).error).toMatchObject({
      type: 'error',
      error: { type: 'permission_error' },
    });
    const ok = await claude.messages.create({ model: 'deepseek-v3.2', max_tokens: 20, messages: hi });
    expect(ok.type).toBe('message');
  });
});

describe('auth.keys[].models and the cascade judge', () => {
  it("never bills a key on a judge off its list: the answer goes unjudged and x-switchyard-judge says why (a cheap-only key was billed the judge's gpt-4.1 row)", async () => {
    const judged = await startSidecar(
      testConfig(sim.url, {
        routing: { strategy: 'cost', cascade: { enabled: true, checks: ['empty', 'judge'], judge: { model: 'gemini-2.5-flash' } } },
        auth: { keys: [{ id: 'cheap', keyEnv: 'SY_TEST_CHEAP_KEY', models: ['deepseek-v3.2', 'gpt-4.1'] }] },
      }),
      { SY_TEST_CHEAP_KEY: CHEAP_KEY },
    );
    try {
      await sim.clearLog();
      const c = new OpenAI({ baseURL: `${judged.url}/v1`, apiKey: CHEAP_KEY, maxRetries: 0 });
      const { response } = await c.chat.completions
        .create({ model: 'auto', messages: [{ role: 'user', content: 'hello judge' }] }, { headers: { 'x-switchyard-tier': 'fast_cheap' } })
        .withResponse();
      expect(response.headers.get('x-switchyard-model')).toBe('deepseek-v3.2');
      expect(response.headers.get('x-switchyard-judge')).toBe("unclear (the judge gemini-2.5-flash is not among client key cheap's models)");
      expect(((await sim.log()) as Array<{ model: string }>).map((l) => l.model)).toEqual(['deepseek-chat']);
    } finally {
      await judged.stop();
    }
  });
});
