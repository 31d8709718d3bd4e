/**
 * `POST /v1/completions` (OpenAI's legacy Completions API) through the real sidecar and simulator
 * with the official openai SDK: JSON and streams as `text_completion` objects, the API's own
 * default `max_tokens` (16), `echo`, fail-over, an in-band stream error, the ledger row, and the
 * fields with no chat form refused in OpenAI's shape naming the client's own field.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { ledgerFileOf, ledgerRow } from './ledger-row.js';

let sim: SimHandle;
let sc: SidecarHandle;
let ledgerFile: string;

beforeAll(async () => {
  // deepseek answers 24 words: longer than the Completions API's default max_tokens (16).
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 12 }, models: { 'deepseek-chat': { outputTokens: 24 } } });
  const cfg = testConfig(sim.url);
  ledgerFile = ledgerFileOf(cfg);
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

type ApiErr = InstanceType<typeof OpenAI.APIError>;

describe('POST /v1/completions', () => {
  it('answers a text_completion with the routing headers, and writes its ledger row at the cost it reports', async () => {
    const apis = async () => ((await (await fetch(`${sc.url}/switchyard/state`)).json()) as { apis: Record<string, number> }).apis;
    const before = await apis();
    const { data, response } = await sc.client.completions.create({ model: 'gpt-4.1', prompt: 'Say hello', max_tokens: 100 }).withResponse();
    expect(data).toMatchObject({ object: 'text_completion', model: 'gpt-4.1' });
    expect(data.id).toMatch(/^cmpl-[0-9a-f]{32}$/);
    expect(data.choices).toHaveLength(1);
    expect(data.choices[0]).toMatchObject({ index: 0, logprobs: null, finish_reason: 'stop' });
    expect(data.choices[0]!.text.split(' ')).toHaveLength(12);
    expect(data.usage).toMatchObject({ completion_tokens: 12 });
    expect(response.headers.get('x-switchyard-model')).toBe('gpt-4.1');
    const cost = Number(response.headers.get('x-switchyard-cost-usd'));
    expect(cost).toBeCloseTo((data.usage!.prompt_tokens * 2 + 12 * 8) / 1e6, 12);
    const row = ledgerRow(ledgerFile, response.headers.get('x-request-id'));
    expect(row).toMatchObject({ model: 'gpt-4.1', status: 200, completion_tokens: 12 });
    expect((await apis()).completions).toBe((before.completions ?? 0) + 1);
  });

  it("without max_tokens the answer stops at the Completions API's default of 16 tokens", async () => {
    const c = await sc.client.completions.create({ model: 'deepseek-v3.2', prompt: 'Tell me a long story' });
    expect(c.choices[0]!.text.split(' ')).toHaveLength(16);
    expect(c.choices[0]!.finish_reason).toBe('length');
    const sent = (await sim.log()).at(-1);
    expect(sent?.model).toBe('deepseek-chat');
  });

  it("a cost cap below the worst case: the 429's hint names the Completions API's own default (16), not chat's maxOutputTokens", async () => {
    const r = await fetch(`${sc.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchyard-max-cost-usd': '0.0000001' },
      body: JSON.stringify({ model: 'gpt-4.1', prompt: 'hi' }),
    });
    expect(r.status).toBe(429);
    const message = ((await r.json()) as { error: { message: string } }).error.message;
    expect(message).toContain('max_tokens (16 when absent');
    expect(message).not.toContain('maxOutputTokens');
  });

  it('streams text_completion chunks, the usage chunk when asked, and [DONE]', async () => {
    const s = await sc.client.completions.create({
      model: 'gpt-4.1',
      prompt: 'Stream please',
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 50,
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    const ids = new Set<string>();
    for await (const c of s) {
      expect(c.object).toBe('text_completion');
      ids.add(c.id);
      for (const ch of c.choices) {
        text += ch.text;
        finish = ch.finish_reason ?? finish;
      }
      if (c.usage) usage = c.usage;
    }
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^cmpl-/);
    expect(text.split(' ')).toHaveLength(12);
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ completion_tokens: 12 });
  });

  it('echo puts the prompt before the completion, JSON and streamed', async () => {
    const c = await sc.client.completions.create({ model: 'gpt-4.1', prompt: 'Once upon a time', echo: true, max_tokens: 50 });
    expect(c.choices[0]!.text.startsWith('Once upon a time')).toBe(true);
    expect(c.choices[0]!.text.length).toBeGreaterThan('Once upon a time'.length);
    const s = await sc.client.completions.create({ model: 'gpt-4.1', prompt: 'Once upon a time', echo: true, stream: true, max_tokens: 50 });
    let text = '';
    for await (const chunk of s) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(c.choices[0]!.text);
  });

  it("gives a model's refusal as its text (JSON and stream), never an empty success", async () => {
    await sim.setFault('gpt-4.1', { kind: 'refusal', times: 2 });
    try {
      const c = await sc.client.completions.create({ model: 'gpt-4.1', prompt: 'Refuse me', max_tokens: 50 });
      expect(c.choices[0]!.text).toMatch(/can't help/);
      const s = await sc.client.completions.create({ model: 'gpt-4.1', prompt: 'Refuse me', max_tokens: 50, stream: true });
      let text = '';
      for await (const chunk of s) text += chunk.choices[0]?.text ?? '';
      expect(text).toBe(c.choices[0]!.text);
    } finally {
      await sim.clearFaults();
    }
  });

  it('routes auto and fails over like chat (a 503 on the first model is invisible)', async () => {
    const { data, response } = await sc.client.completions.create({ model: 'auto', prompt: 'Hello there' }).withResponse();
    expect(data.choices[0]!.text.length).toBeGreaterThan(0);
    expect(response.headers.get('x-switchyard-reason')).toBeTruthy();
    await sim.setFault('gpt-4.1', { kind: 'http_error', status: 503, times: 1 });
    try {
      const r = await sc.client.completions.create({ model: 'gpt-4.1', prompt: 'Fail over please', max_tokens: 50 }).withResponse();
      expect(r.data.choices[0]!.finish_reason).toBe('stop');
      expect(r.response.headers.get('x-switchyard-attempts')).toBe('2');
    } finally {
      await sim.clearFaults();
    }
  });

  it('a stream cut after its first words ends with an in-band error, never a clean finish', async () => {
    // deepseek-v3.2 cannot be continued (no prefill capability) and its fallback is cut too.
    await sim.setFault('deepseek-chat', { kind: 'cut', afterTokens: 3 });
    await sim.setFault('gemini-2.5-flash', { kind: 'cut', afterTokens: 3 });
    try {
      const s = await sc.client.completions.create({ model: 'deepseek-v3.2', prompt: 'Stream please', stream: true, max_tokens: 50 });
      let text = '';
      const err = await (async () => {
        for await (const c of s) text += c.choices[0]?.text ?? '';
      })().catch((x: unknown) => x);
      expect(text.length).toBeGreaterThan(0);
      expect(err).toBeInstanceOf(OpenAI.APIError);
    } finally {
      await sim.clearFaults();
    }
  });

  it('refuses what has no chat form, and chat-checked values, in OpenAI shape naming the field sent', async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ suffix: ' the end' }, 'suffix', /insertion/],
      [{ best_of: 3 }, 'best_of', /only 1/],
      [{ logprobs: 2 }, 'logprobs', /log probabilities/],
      [{ prompt: ['one', 'two'] }, 'prompt', /batch of 2 prompts/],
      [{ prompt: [1, 2, 3] }, 'prompt', /token arrays/],
      [{ prompt: undefined }, 'prompt', /Field required/],
      [{ n: 2 }, 'n', /n > 1/],
      [{ temperature: 7 }, 'temperature', /temperature/],
      [{ prompt: 42 }, 'prompt', /expected a string/],
      // A chat field sent here by mistake is named as it is, not as the prompt.
      [{ messages: [{ role: 'user', content: 'hi' }] }, 'messages', /messages: this field is not supported/],
    ];
    for (const [over, param, message] of cases) {
      const body = { model: 'gpt-4.1', prompt: 'hi', ...over } as OpenAI.CompletionCreateParamsNonStreaming;
      const e = (await sc.client.completions.create(body).catch((x: unknown) => x)) as ApiErr;
      expect(e, JSON.stringify(over)).toBeInstanceOf(OpenAI.BadRequestError);
      expect(e.param, JSON.stringify(over)).toBe(param);
      expect(e.message, JSON.stringify(over)).toMatch(message);
      expect(e.type).toBe('invalid_request_error');
    }
    // An empty prompt for an Anthropic-kind model: its refusal speaks of the prompt (it read "only system/developer prompt or empty ones").
    const empty = (await sc.client.completions.create({ model: 'claude-sonnet-4.5', prompt: '' }).catch((x: unknown) => x)) as ApiErr;
    expect(empty).toBeInstanceOf(OpenAI.BadRequestError);
    expect([empty.param, empty.message]).toEqual([
      'prompt',
      '400 prompt cannot be translated for Anthropic models: Anthropic needs a prompt with text; this one is empty',
    ]);
    // The harmless values of those fields are served.
    const ok = await sc.client.completions.create({ model: 'gpt-4.1', prompt: ['hi'], best_of: 1, suffix: '', max_tokens: 50 });
    expect(ok.choices[0]!.text.length).toBeGreaterThan(0);
    const unknown = (await sc.client.completions.create({ model: 'gpt-9', prompt: 'hi' }).catch((x: unknown) => x)) as ApiErr;
    expect(unknown.code).toBe('model_not_found');
  });
});
