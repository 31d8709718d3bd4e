/**
 * `POST /v1/embeddings` through the real sidecar and simulator with the official openai SDK:
 * string and array input, fail-over between endpoints, budget, ledger; embeddings models are
 * never picked for chat and chat models never for embeddings. Also checks that every API's
 * requests are counted in /switchyard/state and /metrics.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { ledgerFileOf, ledgerRow } from './ledger-row.js';

let sim: SimHandle;
let sc: SidecarHandle;
let ledgerFile: string;

const embeddingModel = (endpoints: unknown[]) => ({
  tier: 'fast_cheap',
  price: { inputPerMTok: 0.02, outputPerMTok: 0 },
  contextWindow: 8192,
  capabilities: ['embeddings'],
  endpoints,
});

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 8 } });
  const base = testConfig(sim.url);
  const cfg: Record<string, unknown> = {
    ...base,
    models: {
      ...(base.models as Record<string, unknown>),
      'text-embedding-3-small': embeddingModel([
        { provider: 'openai', upstreamModel: 'text-embedding-3-small' },
        { provider: 'gemini', upstreamModel: 'text-embedding-004' },
      ]),
      'embed-capped': embeddingModel([{ provider: 'openai', upstreamModel: 'embed-capped' }]),
    },
    budget: { limits: [{ scope: 'model', model: 'embed-capped', period: 'day', usd: 0.000000001 }] },
  };
  ledgerFile = ledgerFileOf(cfg);
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

afterEach(async () => {
  await sim.clearFaults();
  await sim.clearLog();
});

describe('POST /v1/embeddings', () => {
  it('embeds a string, billed per input token in the ledger', async () => {
    const { data, response } = await sc.client.embeddings
      .create({ model: 'text-embedding-3-small', input: 'the quick brown fox', encoding_format: 'float' })
      .withResponse();
    expect(data.object).toBe('list');
    expect(data.model).toBe('text-embedding-3-small');
    expect(data.data).toHaveLength(1);
    expect(data.data[0]!.embedding).toHaveLength(8);
    // The simulator bills the text's own tokens, as OpenAI does (no chat message overhead).
    expect(data.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    const row = ledgerRow(ledgerFile, response.headers.get('x-request-id'));
    expect(row).toMatchObject({ model: 'text-embedding-3-small', status: 200, completion_tokens: 0, prompt_tokens: data.usage.prompt_tokens });
    // $0.02 per MTok = 20 nano-USD per token.
    expect(row!.cost_nano).toBe(data.usage.prompt_tokens * 20);
    const log = await sim.log();
    expect(log[0]).toMatchObject({ model: 'text-embedding-3-small', provider: 'openai' });
  });

  it('embeds an array, same text same vector', async () => {
    const r = await sc.client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b', 'a'], dimensions: 16 });
    expect(r.data.map((d) => d.index)).toEqual([0, 1, 2]);
    expect(r.data[0]!.embedding).toHaveLength(16);
    expect(r.data[0]!.embedding).toEqual(r.data[2]!.embedding);
    expect(r.data[0]!.embedding).not.toEqual(r.data[1]!.embedding);
  });

  it('embeds token ids (one array or several), billed one token per id, sent upstream as ids', async () => {
    // LangChain's OpenAI embeddings send token arrays by default.
    const { data, response } = await sc.client.embeddings
      .create({
        model: 'text-embedding-3-small',
        input: [
          [9906, 1917],
          [15339, 374, 264],
        ] as unknown as string[],
        encoding_format: 'float',
      })
      .withResponse();
    expect(data.data.map((d) => d.index)).toEqual([0, 1]);
    expect(data.usage.prompt_tokens).toBe(5);
    const row = ledgerRow(ledgerFile, response.headers.get('x-request-id'));
    expect(row).toMatchObject({ prompt_tokens: 5, cost_nano: 5 * 20, status: 200 });
    const one = await sc.client.embeddings.create({ model: 'text-embedding-3-small', input: [9906, 1917] as unknown as string, encoding_format: 'float' });
    expect(one.usage.prompt_tokens).toBe(2);
    expect(one.data[0]!.embedding).toEqual(data.data[0]!.embedding);
    // A single token array is one input: longer than 2048 ids is fine.
    const long = await sc.client.embeddings.create({
      model: 'text-embedding-3-small',
      input: Array.from({ length: 3000 }, (_, i) => i) as unknown as string,
      encoding_format: 'float',
    });
    expect(long.usage.prompt_tokens).toBe(3000);
    const log = await sim.log();
    expect(log.map((l) => l.model)).toEqual(['text-embedding-3-small', 'text-embedding-3-small', 'text-embedding-3-small']);
  });

  it.each<[unknown, string, string]>([
    ['', 'input', 'input: expected a non-empty string (an empty text has nothing to embed)'],
    [['', 'a'], 'input[0]', 'input[0]: expected a non-empty string, or token ids'],
    [['a', ''], 'input[1]', 'input[1]: expected a non-empty string, as the first entry is (or send token ids only)'],
    [[[], [1]], 'input[0]', 'input[0]: expected a non-empty array of token ids'],
  ])(
    'an empty input %j is named as it is, %s (it said "as the first entry is" of an empty first entry, or of a lone string)',
    async (input, param, message) => {
      const r = await fetch(`${sc.url}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'text-embedding-3-small', input }),
      });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: unknown }).error).toMatchObject({ param, message });
    },
  );

  it.each<[unknown, string]>([
    [[1, 2.5], 'input[1]'],
    [[-1], 'input[0]'],
    [[1, 'a'], 'input[1]'],
    [['a', 1], 'input[1]'],
    [[[1, 2], []], 'input[1]'],
    [
      [
        [1, 2],
        [3, 'x'],
      ],
      'input[1][1]',
    ],
    [[[1], 'a'], 'input[1]'],
    [[2 ** 32], 'input[0]'],
  ])('refuses token input %j naming %s', async (input, param) => {
    const r = await fetch(`${sc.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'text-embedding-3-small', input }),
    });
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe(param);
  });

  it('fails over to the next endpoint when one fails', async () => {
    await sim.setFault('text-embedding-3-small', { kind: 'http_error', status: 503 });
    const { data, response } = await sc.client.embeddings.create({ model: 'text-embedding-3-small', input: 'fail me over' }).withResponse();
    expect(data.data).toHaveLength(1);
    expect(response.headers.get('x-switchyard-endpoint')).toBe('text-embedding-3-small@gemini');
    expect(Number(response.headers.get('x-switchyard-attempts'))).toBeGreaterThanOrEqual(2);
    const log = await sim.log();
    expect(log.map((l) => l.model)).toContain('text-embedding-004');
  });

  it("holds each input, not the batch's sum, to the context window (OpenAI's limit is per input)", async () => {
    const texts = Array.from({ length: 20 }, (_, i) => `${i} ${'word '.repeat(500)}`);
    const ids = Array.from({ length: 20 }, () => Array.from({ length: 500 }, () => 1));
    for (const input of [texts, ids]) {
      const r = await sc.client.embeddings.create({ model: 'text-embedding-3-small', input });
      expect(r.data).toHaveLength(20);
      expect(r.usage.prompt_tokens).toBeGreaterThan(8192);
    }
    // One input over the window is still refused before any upstream call.
    await sim.clearLog();
    for (const input of [
      ['short', 'word '.repeat(9000)],
      [[1], Array.from({ length: 9000 }, () => 1)],
    ]) {
      const err = await sc.client.embeddings.create({ model: 'text-embedding-3-small', input }).catch((e: unknown) => e);
      // The entry too long is named (a batch's client could not tell which it was): `param` and the message.
      expect(err).toMatchObject({
        status: 400,
        code: 'context_length_exceeded',
        param: 'input[1]',
        message: expect.stringMatching(/input\[1\] is 900\d tokens/),
      });
    }
    const one = await sc.client.embeddings.create({ model: 'text-embedding-3-small', input: 'word '.repeat(9000) }).catch((e: unknown) => e);
    // With the window a client trims to (it said only the input's count).
    expect(one).toMatchObject({
      status: 400,
      code: 'context_length_exceeded',
      param: 'input',
      message: expect.stringMatching(/input is 900\d tokens; the largest context window of the models that take it is 8192 tokens/),
    });
    // The header says the same code as the body (it said invalid_request).
    expect((one as { headers: Headers }).headers.get('x-switchyard-error-code')).toBe('context_length_exceeded');
    expect(await sim.log()).toHaveLength(0);
  });

  it("the simulator's own refusal of a field (dimensions above 4,096) is relayed naming that field (it said param null)", async () => {
    const err = await sc.client.embeddings.create({ model: 'text-embedding-3-small', input: 'x', dimensions: 5000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, param: 'dimensions', type: 'invalid_request_error' });
  });

  it("reserves a batch's every input, not one window: a cap above one window's cost but under the batch's is a 429 before any upstream call", async () => {
    const texts = Array.from({ length: 20 }, (_, i) => `${i} ${'word '.repeat(500)}`);
    // One window (8,192 tokens) at $0.02/MTok is $0.000164; the batch's ~10,000 tokens (~50,000 bytes of bound) are more.
    const cap = { headers: { 'x-switchyard-max-cost-usd': '0.0002' } };
    await sim.clearLog();
    const err = await sc.client.embeddings.create({ model: 'text-embedding-3-small', input: texts }, cap).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 429, code: 'budget_exceeded' });
    expect(await sim.log()).toHaveLength(0);
  });

  it('refuses what a budget cannot cover', async () => {
    const err = await sc.client.embeddings.create({ model: 'embed-capped', input: 'too expensive' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 429, code: 'budget_exceeded' });
    // No max_tokens to lower on embeddings (sending one is a 400): the hint is not given.
    expect((err as Error).message).not.toContain('max_tokens');
  });

  it('keeps chat and embeddings models apart', async () => {
    const chatOnEmb = await sc.client.chat.completions
      .create({ model: 'text-embedding-3-small', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(chatOnEmb).toMatchObject({ status: 400, param: 'model' });
    const embOnChat = await sc.client.embeddings.create({ model: 'gpt-4.1', input: 'x' }).catch((e: unknown) => e);
    expect(embOnChat).toMatchObject({ status: 400, param: 'model' });
    // A name not in the catalogue is model_not_found, as on the chat route; auto is a chat choice.
    const unknown = await sc.client.embeddings.create({ model: 'no-such-embedder', input: 'x' }).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ status: 400, code: 'model_not_found', param: 'model' });
    expect(String((unknown as Error).message)).toContain('text-embedding-3-small');
    const auto = await sc.client.embeddings.create({ model: 'auto', input: 'x' }).catch((e: unknown) => e);
    expect(auto).toMatchObject({ status: 400, code: 'invalid_request', param: 'model' });
    for (let i = 0; i < 3; i++) {
      const r = await sc.client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hello there' }] }).withResponse();
      expect(r.response.headers.get('x-switchyard-model')).not.toMatch(/embed/);
    }
    const bad = await sc.client.embeddings.create({ model: 'text-embedding-3-small', input: [] }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, param: 'input' });
    // The token counts refuse it as their create calls do (they answered a count for it).
    for (const [path, body] of [
      ['/v1/messages/count_tokens', { model: 'text-embedding-3-small', messages: [{ role: 'user', content: 'hi' }] }],
      ['/v1/responses/input_tokens', { model: 'text-embedding-3-small', input: 'hi' }],
    ] as const) {
      const r = await fetch(`${sc.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect([path, r.status]).toEqual([path, 400]);
      expect(JSON.stringify(await r.json())).toContain('is an embeddings model: use POST /v1/embeddings');
    }
  });

  it("holds `user` to OpenAI's type, as chat does (a number was passed on upstream)", async () => {
    for (const user of [5, { a: 1 }, true]) {
      const err = await sc.client.embeddings.create({ model: 'text-embedding-3-small', input: 'x', user: user as unknown as string }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 400, param: 'user' });
      expect(String((err as Error).message)).toMatch(/Invalid type for 'user': expected a string, but got/);
    }
    expect((await sc.client.embeddings.create({ model: 'text-embedding-3-small', input: 'x', user: 'u-1' })).data).toHaveLength(1);
  });
});

describe('every API is counted', () => {
  it('shows chat, responses, messages and embeddings in /switchyard/state and /metrics', async () => {
    const before = ((await (await fetch(`${sc.url}/switchyard/state`)).json()) as { apis: Record<string, number> }).apis;
    await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] });
    await sc.client.responses.create({ model: 'gpt-4.1', input: 'hi' });
    await new Anthropic({ baseURL: sc.url, apiKey: 'unused', maxRetries: 0 }).messages.create({
      model: 'gpt-4.1',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'hi' }],
    });
    await sc.client.embeddings.create({ model: 'text-embedding-3-small', input: 'hi' });
    const after = ((await (await fetch(`${sc.url}/switchyard/state`)).json()) as { apis: Record<string, number> }).apis;
    for (const api of ['chat', 'responses', 'messages', 'embeddings']) expect(after[api]).toBe(before[api]! + 1);
    const metrics = await (await fetch(`${sc.url}/metrics`)).text();
    for (const api of ['chat', 'responses', 'messages', 'embeddings'])
      expect(metrics).toMatch(new RegExp(`switchyard_api_requests_total\\{api="${api}",status="200"\\} [1-9]`));
  });
});
