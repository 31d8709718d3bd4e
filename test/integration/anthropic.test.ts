/**
 * Anthropic-kind providers end to end: the client speaks OpenAI to the sidecar, the sidecar
 * speaks the Messages API to the simulator, and routing, fail-over and accounting behave the
 * same as for OpenAI-kind providers.
 */
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';

let sim: SimHandle;
let sc: SidecarHandle;
let ledgerFile: string;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 16 } });
  const cfg = testConfig(sim.url);
  ledgerFile = String((cfg.storage as { ledger: string }).ledger).slice('sqlite:'.length);
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

function ledgerRow(requestId: string | null): Record<string, unknown> | undefined {
  const db = new Database(ledgerFile, { readonly: true });
  try {
    return db.prepare('select * from ledger where request_id = ?').get(requestId) as Record<string, unknown> | undefined;
  } finally {
    db.close();
  }
}

const prompt = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'Explain the switchyard.' },
];

describe('claude-sonnet-4.5 through the Messages API', () => {
  it("answers a chat request with a file part (OpenAI's form for a PDF), sent to Claude as a document", async () => {
    const data = await sc.client.chat.completions.create({
      model: 'claude-sonnet-4.5',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Summarise the report.' },
            { type: 'file', file: { filename: 'report.pdf', file_data: 'data:application/pdf;base64,JVBERi0xLjQK' } },
          ],
        },
      ],
    });
    expect([data.model, data.choices[0]!.finish_reason]).toEqual(['claude-sonnet-4.5', 'stop']);
    expect((await sim.log()).map((e) => e.wire)).toEqual(['anthropic']);
    // A file by OpenAI file id has no Anthropic form: a 400 naming it, before any upstream call.
    await sim.clearLog();
    const err = await sc.client.chat.completions
      .create({ model: 'claude-sonnet-4.5', messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] }] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, param: 'messages[0].content[0].file.file_id' });
    expect(await sim.log()).toEqual([]);
  });

  it('answers non-streaming, billed from Anthropic usage', async () => {
    const { data, response } = await sc.client.chat.completions.create({ model: 'claude-sonnet-4.5', messages: prompt }).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('claude-sonnet-4.5');
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.choices[0]!.message.content!.split(' ')).toHaveLength(16);
    expect(data.usage!.completion_tokens).toBe(16);
    const log = await sim.log();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ wire: 'anthropic', model: 'claude-sonnet-4-5', provider: 'anthropic', authPresent: true });
    const row = ledgerRow(response.headers.get('x-request-id'));
    // $3 / $15 per MTok.
    expect(row!.cost_nano).toBe(data.usage!.prompt_tokens * 3000 + 16 * 15000);
    expect(Number(response.headers.get('x-switchyard-cost-usd'))).toBeCloseTo(Number(row!.cost_nano) / 1e9, 12);
  });

  it('streams OpenAI chunks with the final usage and [DONE]', async () => {
    const s = await sc.client.chat.completions.create({ model: 'claude-sonnet-4.5', messages: prompt, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of s) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      if (c.usage) usage = c.usage;
    }
    const whole = await sc.client.chat.completions.create({ model: 'claude-sonnet-4.5', messages: prompt });
    expect(text).toBe(whole.choices[0]!.message.content);
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBe(16);
  });

  it('translates tool calls both ways', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: 'function',
        function: { name: 'lookup', description: 'look something up', parameters: { type: 'object', properties: { input: { type: 'string' } } } },
      },
    ];
    const first = await sc.client.chat.completions.create({
      model: 'claude-sonnet-4.5',
      messages: [{ role: 'user', content: 'Find the weather in Berlin' }],
      tools,
    });
    const call = first.choices[0]!.message.tool_calls?.[0];
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call?.type).toBe('function');
    expect(call && 'function' in call ? call.function.name : null).toBe('lookup');
    const args = JSON.parse(call && 'function' in call ? call.function.arguments : '{}') as { input: string };
    expect(args.input).toBe('Find the weather in Berlin');

    const s = await sc.client.chat.completions.create({
      model: 'claude-sonnet-4.5',
      messages: [{ role: 'user', content: 'Find the weather in Berlin' }],
      tools,
      stream: true,
    });
    let streamedArgs = '';
    let name = '';
    for await (const c of s) {
      const tc = c.choices[0]?.delta.tool_calls?.[0];
      if (tc?.function?.name) name = tc.function.name;
      streamedArgs += tc?.function?.arguments ?? '';
    }
    expect(name).toBe('lookup');
    expect(JSON.parse(streamedArgs)).toEqual(args);

    const followUp = await sc.client.chat.completions.create({
      model: 'claude-sonnet-4.5',
      tools,
      messages: [
        { role: 'user', content: 'Find the weather in Berlin' },
        first.choices[0]!.message,
        { role: 'tool', tool_call_id: call!.id, content: 'sunny, 21 °C' },
      ],
    });
    expect(followUp.choices[0]!.finish_reason).toBe('stop');
    expect(followUp.choices[0]!.message.content).toBeTruthy();

    // The turn after the tool result without tools, as OpenAI's own examples send it: Anthropic
    // refuses a history of tool calls with no tools defined (the simulator as Anthropic does), so it
    // was a 400 on Claude. Sent with the history's tools as placeholders and tool_choice none.
    const history: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'Find the weather in Berlin' },
      first.choices[0]!.message,
      { role: 'tool', tool_call_id: call!.id, content: 'sunny, 21 °C' },
    ];
    const bare = await sc.client.chat.completions.create({ model: 'claude-sonnet-4.5', messages: history });
    expect([bare.choices[0]!.finish_reason, bare.choices[0]!.message.tool_calls ?? null]).toEqual(['stop', null]);
    expect(bare.choices[0]!.message.content).toBeTruthy();
    const streamedBare = await sc.client.chat.completions.stream({ model: 'claude-sonnet-4.5', messages: history }).finalChatCompletion();
    expect(streamedBare.choices[0]!.finish_reason).toBe('stop');
    // The Responses API's follow-up alike (function_call and its output, no tools).
    const resp = await sc.client.responses.create({
      model: 'claude-sonnet-4.5',
      input: [
        { role: 'user', content: 'Find the weather in Berlin' },
        { type: 'function_call', call_id: call!.id, name: 'lookup', arguments: '{"input":"Berlin"}' },
        { type: 'function_call_output', call_id: call!.id, output: 'sunny, 21 °C' },
      ],
    });
    expect(resp.status).toBe('completed');
    expect(resp.output_text).toBeTruthy();
  });

  it("a conversation whose tool call ids are outside Anthropic's alphabet (Kimi's 'functions.lookup:0') is served, each id mapped the same way in tool_use and tool_result", async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }];
    const history = (ids: [string, string]): OpenAI.ChatCompletionMessageParam[] => [
      { role: 'user', content: 'Look both up' },
      {
        role: 'assistant',
        content: null,
        tool_calls: ids.map((id) => ({ id, type: 'function' as const, function: { name: 'lookup', arguments: '{}' } })),
      },
      { role: 'tool', tool_call_id: ids[0], content: 'one' },
      { role: 'tool', tool_call_id: ids[1], content: 'two' },
    ];
    // Two ids that differ only in characters Anthropic refuses stay two ids.
    const r = await sc.client.chat.completions.create({ model: 'claude-sonnet-4.5', tools, messages: history(['functions.lookup:0', 'functions.lookup;0']) });
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.choices[0]!.message.content).toBeTruthy();
    // The simulator refuses such an id as Anthropic does (its own pattern error) when it reaches it as written.
    const direct = await fetch(`${sim.url}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        max_tokens: 10,
        messages: [
          { role: 'user', content: 'Look it up' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'functions.lookup:0', name: 'lookup', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'functions.lookup:0', content: 'one' }] },
        ],
      }),
    });
    expect(direct.status).toBe(400);
    expect(await direct.text()).toContain('should match pattern');
  });

  it('fails over to another provider on 529 overloaded', async () => {
    await sim.setFault('claude-sonnet-4-5', { kind: 'http_error', status: 529 });
    const { data, response } = await sc.client.chat.completions.create({ model: 'claude-sonnet-4.5', messages: prompt }).withResponse();
    expect(data.model).toBe('gpt-4.1');
    expect(response.headers.get('x-switchyard-model')).toBe('gpt-4.1');
    const log = await sim.log();
    const claude = log.filter((l) => l.model === 'claude-sonnet-4-5');
    expect(claude.every((l) => l.status === 529)).toBe(true);
    // One quick retry on the same endpoint at most, then the other provider.
    expect(claude.length).toBeLessThanOrEqual(2);
    expect(log.at(-1)).toMatchObject({ wire: 'openai', model: 'gpt-4.1', status: 200 });
    expect(response.headers.get('x-switchyard-attempts')).toBe(String(claude.length + 1));
  });

  it('drops the no-op values clients send by default (modalities [text], top_logprobs 0, service_tier auto/default)', async () => {
    for (const extra of [{ modalities: ['text' as const] }, { top_logprobs: 0 }, { service_tier: 'auto' as const }, { service_tier: 'default' as const }]) {
      const { data, response } = await sc.client.chat.completions.create({ model: 'claude-sonnet-4.5', messages: prompt, ...extra }).withResponse();
      expect(data.choices[0]!.message.content).toBeTruthy();
      expect(response.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
    }
  });

  it("serves chat.completions.parse with zodResponseFormat on a Claude model through Anthropic's structured outputs", async () => {
    const Place = z.object({ city: z.string(), country: z.string() });
    const { data, response } = await sc.client.chat.completions
      .parse({ model: 'claude-sonnet-4.5', messages: prompt, response_format: zodResponseFormat(Place, 'place') })
      .withResponse();
    expect(response.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
    // The simulator answers JSON of the schema's shape only when it was sent output_config.format.
    const parsed = data.choices[0]!.message.parsed;
    expect(parsed).not.toBeNull();
    expect(Place.parse(parsed)).toEqual(parsed);
  });

  it("a Claude refusal under a parsed format, streamed: the OpenAI SDK's stream helper gets OpenAI's structured refusal (delta.refusal, parsed null), as the JSON call does (it threw a SyntaxError on the refusal's first words)", async () => {
    const Place = z.object({ city: z.string(), country: z.string() });
    const ask = { model: 'claude-sonnet-4.5', messages: prompt, response_format: zodResponseFormat(Place, 'place') };
    await sim.setFault('claude-sonnet-4-5', { kind: 'refusal', times: 1 });
    const streamed = await sc.client.chat.completions.stream(ask).finalChatCompletion();
    expect(streamed.choices[0]!.message.parsed).toBeNull();
    expect(streamed.choices[0]!.message.refusal).toMatch(/^I'm sorry/);
    expect(streamed.choices[0]!.message.content).toBeNull();
    expect(streamed.choices[0]!.finish_reason).toBe('stop');
    await sim.setFault('claude-sonnet-4-5', { kind: 'refusal', times: 1 });
    const json = await sc.client.chat.completions.parse(ask);
    expect(json.choices[0]!.message.refusal).toBe(streamed.choices[0]!.message.refusal);
    // An answer that is JSON streams as it comes, and parses.
    const ok = await sc.client.chat.completions.stream(ask).finalChatCompletion();
    expect(Place.parse(ok.choices[0]!.message.parsed)).toEqual(ok.choices[0]!.message.parsed);
  });

  it('refuses a field that cannot be translated with a clear 400 and no upstream call', async () => {
    const err = (await sc.client.chat.completions
      .create({ model: 'claude-sonnet-4.5', messages: prompt, logit_bias: { '50256': -100 } })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/logit_bias/);
    expect(await sim.log()).toHaveLength(0);
  });

  it('that 400 is answered before an endpoint is picked: no attempt, no endpoint, no request on its count (its rpm window)', async () => {
    const claude = async () => (await sc.state()).endpoints.find((e) => e.model === 'claude-sonnet-4.5')! as unknown as { requests: number; inFlight: number };
    const before = (await claude()).requests;
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${sc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4.5', seed: 1, messages: prompt }),
      });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/seed/);
      // It said attempts 1 and named the endpoint, which was never asked.
      expect(r.headers.get('x-switchyard-attempts')).toBe('0');
      expect(r.headers.get('x-switchyard-endpoint')).toBeNull();
      expect(ledgerRow(r.headers.get('x-request-id'))).toMatchObject({ attempts: 0, endpoint: null, status: 400, error_code: 'invalid_request' });
    }
    expect(await sim.log()).toHaveLength(0);
    expect((await claude()).requests).toBe(before);
  });
});

describe('a model with endpoints of both kinds and a body only one kind of its endpoints can take', () => {
  let mixed: SidecarHandle;
  beforeAll(async () => {
    const cfg = testConfig(sim.url);
    const models = cfg.models as Record<string, unknown>;
    models.mixed = {
      tier: 'fast_cheap',
      price: { inputPerMTok: 1, outputPerMTok: 2 },
      contextWindow: 200_000,
      capabilities: ['chat'],
      endpoints: [
        { provider: 'anthropic', upstreamModel: 'claude-sonnet-4-5', rpm: 2 },
        { provider: 'openai', upstreamModel: 'gpt-4.1' },
      ],
    };
    // Claude through an OpenAI-compatible gateway first, and Anthropic's own API.
    models['mixed-claude'] = {
      tier: 'fast_cheap',
      price: { inputPerMTok: 3, outputPerMTok: 15 },
      contextWindow: 200_000,
      maxOutputTokens: 64_000,
      capabilities: ['chat'],
      endpoints: [
        { provider: 'openai', upstreamModel: 'claude-sonnet-4-5' },
        { provider: 'anthropic', upstreamModel: 'claude-sonnet-4-5' },
      ],
    };
    mixed = await startSidecar(cfg);
  });
  afterAll(async () => {
    await mixed?.stop();
  });

  it('is served by that endpoint every time, the Anthropic-kind one never picked (it answered the 400 after taking an rpm slot, then a 200 once throttled); the dry run agrees', async () => {
    await sim.clearLog();
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${mixed.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'mixed', seed: 1, messages: prompt }),
      });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-switchyard-endpoint')).toBe('mixed@openai');
      expect(r.headers.get('x-switchyard-attempts')).toBe('1');
    }
    expect((await sim.log()).map((e) => e.wire)).toEqual(['openai', 'openai', 'openai']);
    const anth = (await mixed.state()).endpoints.find((e) => e.id === 'mixed@anthropic')! as unknown as { requests: number };
    expect(anth.requests).toBe(0);
    const dry = await fetch(`${mixed.url}/switchyard/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mixed', seed: 1, messages: prompt }),
    });
    expect(dry.status).toBe(200);
    expect(((await dry.json()) as { endpoint: string }).endpoint).toBe('mixed@openai');
  });

  it('a Messages body only its Anthropic-kind endpoint can take (thinking) is served there every time; the OpenAI-kind one, listed first, is never picked (it was, and answered the 400 each time); the dry run agrees', async () => {
    await sim.clearLog();
    const messages = [{ role: 'user', content: 'Explain the switchyard.' }];
    const body = { model: 'mixed-claude', max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 }, messages };
    const post = (path: string) =>
      fetch(`${mixed.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify(body),
      });
    for (let i = 0; i < 3; i++) {
      const r = await post('/v1/messages');
      expect(r.status).toBe(200);
      expect(r.headers.get('x-switchyard-endpoint')).toBe('mixed-claude@anthropic');
      expect(r.headers.get('x-switchyard-attempts')).toBe('1');
      expect(((await r.json()) as { content: Array<{ type: string }> }).content[0]!.type).toBe('thinking');
    }
    expect((await sim.log()).map((e) => e.wire)).toEqual(['anthropic', 'anthropic', 'anthropic']);
    const gateway = (await mixed.state()).endpoints.find((e) => e.id === 'mixed-claude@openai')! as unknown as { requests: number };
    expect(gateway.requests).toBe(0);
    const dry = await post('/switchyard/route');
    expect(dry.status).toBe(200);
    expect(((await dry.json()) as { endpoint: string }).endpoint).toBe('mixed-claude@anthropic');
    // A body both can take goes to either, as the pick chooses.
    const plain = await fetch(`${mixed.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'mixed-claude', max_tokens: 50, messages }),
    });
    expect(plain.status).toBe(200);
  });
});
