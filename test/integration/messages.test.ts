/**
 * `POST /v1/messages` through the real sidecar and simulator with the official
 * @anthropic-ai/sdk: to an Anthropic-kind target (sent natively) and to an OpenAI-kind one
 * (translated both ways), JSON, stream, tool use, count_tokens, auth and error shapes.
 */
import Anthropic from '@anthropic-ai/sdk';
import { betaZodTool } from '@anthropic-ai/sdk/helpers/beta/zod';
import { z } from 'zod';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { ledgerFileOf, ledgerRow } from './ledger-row.js';

let sim: SimHandle;
let sc: SidecarHandle;
let client: Anthropic;
let ledgerFile: string;
const KEY = 'sy-client-key-messages';

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 10 } });
  const cfg = testConfig(sim.url, { auth: { keys: [{ id: 'team-a', keyEnv: 'SY_TEST_CLIENT_KEY' }] } });
  // Anthropic's own dated id, as Anthropic's SDK and tools send it.
  (cfg.models as Record<string, Record<string, unknown>>)['claude-sonnet-4.5']!.aliases = ['claude-sonnet-4-5-20250929'];
  ledgerFile = ledgerFileOf(cfg);
  sc = await startSidecar(cfg, { SY_TEST_CLIENT_KEY: KEY });
  client = new Anthropic({ baseURL: sc.url, apiKey: KEY, maxRetries: 0, timeout: 30_000 });
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

afterEach(async () => {
  await sim.clearLog();
});

const tools = [
  { name: 'lookup', description: 'Look a word up', input_schema: { type: 'object' as const, properties: { input: { type: 'string' } }, required: ['input'] } },
];

describe('a model named by an alias (models.<id>.aliases)', () => {
  it("is served as the model it names, on every API, and found by models.retrieve under the name asked (Anthropic's own id was a 400 model_not_found)", async () => {
    const alias = 'claude-sonnet-4-5-20250929';
    const { data, response } = await client.messages.create({ model: alias, max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(data.type).toBe('message');
    expect(response.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
    expect(ledgerRow(ledgerFile, response.headers.get('x-request-id'))).toMatchObject({ model: 'claude-sonnet-4.5', status: 200 });
    expect((await sim.log()).at(-1)).toMatchObject({ wire: 'anthropic', model: 'claude-sonnet-4-5' });
    expect((await client.messages.countTokens({ model: alias, messages: [{ role: 'user', content: 'Hi' }] })).input_tokens).toBeGreaterThan(0);
    const chat = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: alias, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(chat.status).toBe(200);
    expect(chat.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
    expect(await client.models.retrieve(alias)).toMatchObject({ id: alias });
    // A name that is no model and no alias is still refused.
    await expect(
      client.messages.create({ model: 'claude-sonnet-4-5-20991231', max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] }),
    ).rejects.toMatchObject({
      status: 400,
    });
  });
});

describe.each([
  { target: 'claude-sonnet-4.5', wire: 'anthropic', upstream: 'claude-sonnet-4-5' },
  { target: 'gpt-4.1', wire: 'openai', upstream: 'gpt-4.1' },
])('POST /v1/messages to $target ($wire-kind)', ({ target, wire, upstream }) => {
  it('answers a Messages object, billed in the ledger', async () => {
    const { data, response, request_id } = await client.messages
      .create({ model: target, max_tokens: 200, system: 'Be brief.', messages: [{ role: 'user', content: 'Explain the switchyard.' }] })
      .withResponse();
    expect(data.type).toBe('message');
    expect(data.role).toBe('assistant');
    expect(data.model).toBe(target);
    expect(data.stop_reason).toBe('end_turn');
    const text = data.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    expect(text.split(' ')).toHaveLength(10);
    expect(data.usage.output_tokens).toBe(10);
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    const log = await sim.log();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ wire, model: upstream });
    const row = ledgerRow(ledgerFile, response.headers.get('x-request-id'));
    expect(row).toMatchObject({ model: target, status: 200, completion_tokens: 10, key_id: 'team-a' });
    // The SDK's request id (also _request_id on what create() resolves to) reads Anthropic's request-id header: the same id.
    expect(request_id).toBe(response.headers.get('x-request-id'));
  });

  it('an upstream that reports no usage: the message has the counts billed (estimated; it had no usage, and the SDK reads usage.output_tokens)', async () => {
    await sim.setFault(upstream, { kind: 'no_usage', times: 1 });
    const { data, response } = await client.messages
      .create({ model: target, max_tokens: 200, messages: [{ role: 'user', content: 'Explain the switchyard.' }] })
      .withResponse();
    const row = ledgerRow(ledgerFile, response.headers.get('x-request-id'));
    expect(row).toMatchObject({ estimated: 1, status: 200 });
    expect(data.usage.output_tokens).toBe(Number(row!.completion_tokens));
    expect(data.usage.input_tokens).toBe(Number(row!.prompt_tokens));
    expect(data.usage.output_tokens).toBeGreaterThan(0);
  });

  it('streams the Messages events and a final message with usage', async () => {
    // A count loads the tokenizer, as a long prompt, tools or a replica on Redis would.
    await client.messages.countTokens({ model: target, messages: [{ role: 'user', content: 'Hi' }] });
    const stream = client.messages.stream({
      model: target,
      max_tokens: 200,
      system: 'You are a storyteller who writes short, vivid tales for children, each with a gentle moral at the end.',
      messages: [{ role: 'user', content: 'Tell me a story about a lighthouse keeper who befriends a seagull during a long winter storm.' }],
    });
    const types: string[] = [];
    let text = '';
    let startInput = -1;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'message_start') {
        startInput = ev.message.usage.input_tokens;
        // Both ways, its cache counts are there, as the SDK's Usage type requires (translated, they were left out).
        expect(typeof ev.message.usage.cache_read_input_tokens).toBe('number');
        expect(typeof ev.message.usage.cache_creation_input_tokens).toBe('number');
      }
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    }
    const final = await stream.finalMessage();
    expect(types[0]).toBe('message_start');
    // message_start reports the input as Anthropic does (LangChain reads it there): translated, the
    // exact count once the tokenizer is loaded (count_tokens loaded it: see below), the upstream's own.
    // (The simulator frames the prompt its own way: a token per message or so apart. The quick bound was 22 over.)
    expect(Math.abs(startInput - final.usage.input_tokens)).toBeLessThanOrEqual(3);
    expect(types).toContain('content_block_start');
    expect(types).toContain('content_block_stop');
    expect(types.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(final.content[0]).toMatchObject({ type: 'text', text });
    expect(final.usage.output_tokens).toBe(10);
    expect(final.usage.input_tokens).toBeGreaterThan(0);
    expect(final.stop_reason).toBe('end_turn');
  });

  it('stops before the first of stop_sequences (JSON and stream)', async () => {
    const messages = [{ role: 'user' as const, content: 'Name some words.' }];
    const full = await client.messages.create({ model: target, max_tokens: 200, messages });
    const words = (full.content[0]?.type === 'text' ? full.content[0].text : '').split(' ');
    const stop = ` ${words[3]!}`;
    const cut = words.slice(0, 3).join(' ');
    // An OpenAI-kind upstream does not say which sequence it stopped at, so the translation says end_turn.
    const stopped = wire === 'anthropic' ? { stop_reason: 'stop_sequence', stop_sequence: stop } : { stop_reason: 'end_turn', stop_sequence: null };
    const body = { model: target, max_tokens: 200, stop_sequences: ['never-in-the-text', stop], messages };
    expect(await client.messages.create(body)).toMatchObject({ ...stopped, content: [{ type: 'text', text: cut }] });
    expect(await client.messages.stream(body).finalMessage()).toMatchObject({ ...stopped, content: [{ type: 'text', text: cut }] });
  });

  it('uses a tool and continues with its result', async () => {
    const first = await client.messages.create({
      model: target,
      max_tokens: 200,
      tools,
      tool_choice: { type: 'tool', name: 'lookup' },
      messages: [{ role: 'user', content: 'Look up "rail".' }],
    });
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b) => b.type === 'tool_use');
    if (use?.type !== 'tool_use') throw new Error('no tool_use block');
    expect(use.name).toBe('lookup');
    expect(use.input).toHaveProperty('input');
    const second = await client.messages.create({
      model: target,
      max_tokens: 200,
      tools,
      messages: [
        { role: 'user', content: 'Look up "rail".' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'a bar' }] },
      ],
    });
    expect(second.stop_reason).toBe('end_turn');
    expect(second.content[0]!.type).toBe('text');
    // The last turn without tools, the history still holding the call: Anthropic refuses it ("must define tools",
    // as the simulator does), an OpenAI-kind model took it; sent with placeholder tools and tool_choice none, both answer.
    const bare = await client.messages.create({
      model: target,
      max_tokens: 200,
      messages: [
        { role: 'user', content: 'Look up "rail".' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'a bar' }] },
      ],
    });
    expect([bare.stop_reason, bare.content[0]!.type]).toEqual(['end_turn', 'text']);
  });

  it('refuses a tool_choice naming a tool that is not in tools (or with no tools) with 400 invalid_request_error, before any upstream call or ledger row', async () => {
    const messages = [{ role: 'user' as const, content: 'Look up "rail".' }];
    for (const [extra, declared] of [
      [{ tools }, 'declared: lookup'],
      [{}, 'the request declares no tools'],
    ] as const) {
      for (const stream of [false, true]) {
        const err = await client.messages
          .create({ model: target, max_tokens: 200, messages, stream, tool_choice: { type: 'tool', name: 'x' }, ...extra })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Anthropic.BadRequestError);
        const e = err as InstanceType<typeof Anthropic.BadRequestError>;
        expect(e.error).toMatchObject({
          type: 'error',
          error: { type: 'invalid_request_error', message: expect.stringContaining(`tool_choice.name: tool "x" is not in tools (${declared})`) },
        });
        expect(ledgerRow(ledgerFile, e.requestID ?? null)).toBeUndefined();
      }
    }
    expect(await sim.log()).toHaveLength(0);
  });

  it('refuses tool_choice {type:"any"} with no tools (absent or empty) with 400 invalid_request_error, before any upstream call or ledger row', async () => {
    const messages = [{ role: 'user' as const, content: 'Look up "rail".' }];
    for (const extra of [{}, { tools: [] }])
      for (const stream of [false, true]) {
        const err = await client.messages
          .create({ model: target, max_tokens: 200, messages, stream, tool_choice: { type: 'any' }, ...extra })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Anthropic.BadRequestError);
        const e = err as InstanceType<typeof Anthropic.BadRequestError>;
        expect(e.error).toMatchObject({
          type: 'error',
          error: {
            type: 'invalid_request_error',
            message: expect.stringContaining('tool_choice: type "any" makes the model call one of tools, and the request declares no tools'),
          },
        });
        expect(ledgerRow(ledgerFile, e.requestID ?? null)).toBeUndefined();
      }
    expect(await sim.log()).toHaveLength(0);
  });

  it('serves tool_choice auto or none with no tools, as Anthropic does (an OpenAI-kind target gets neither tool_choice nor parallel_tool_calls, which OpenAI refuses without tools)', async () => {
    const messages = [{ role: 'user' as const, content: 'Look up "rail".' }];
    for (const tool_choice of [{ type: 'auto' }, { type: 'none' }, { type: 'auto', disable_parallel_tool_use: true }] as const)
      for (const extra of [{}, { tools: [] }]) {
        const ok = await client.messages.create({ model: target, max_tokens: 200, messages, tool_choice, ...extra });
        expect([ok.type, ok.stop_reason], JSON.stringify(tool_choice)).toEqual(['message', 'end_turn']);
      }
    expect((await sim.log()).map((e) => e.status)).toEqual([200, 200, 200, 200, 200, 200]);
  });

  it('refuses a tool_use block whose input is not a JSON object with 400 invalid_request_error naming its path, before any upstream call or ledger row', async () => {
    const turn = (input: unknown) => [
      { role: 'user' as const, content: 'Look up "rail".' },
      { role: 'assistant' as const, content: [{ type: 'tool_use' as const, id: 'toolu_1', name: 'lookup', input }] },
      { role: 'user' as const, content: [{ type: 'tool_result' as const, tool_use_id: 'toolu_1', content: 'a bar' }] },
    ];
    for (const [input, why] of [
      ['{"input":"rail"}', 'Input should be a valid dictionary'],
      [['rail'], 'Input should be a valid dictionary'],
      [5, 'Input should be a valid dictionary'],
      [null, 'Input should be a valid dictionary'],
      [undefined, 'Field required'],
    ] as const) {
      const err = await client.messages.create({ model: target, max_tokens: 200, tools, messages: turn(input) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      const e = err as InstanceType<typeof Anthropic.BadRequestError>;
      expect(e.error).toMatchObject({
        type: 'error',
        error: { type: 'invalid_request_error', message: expect.stringContaining(`messages[1].content[0].input: ${why}`) },
      });
      expect(ledgerRow(ledgerFile, e.requestID ?? null)).toBeUndefined();
    }
    expect(await sim.log()).toHaveLength(0);
    // An object input is served.
    const ok = await client.messages.create({ model: target, max_tokens: 200, tools, messages: turn({ input: 'rail' }) });
    expect(ok.stop_reason).toBe('end_turn');
  });

  it('streams a tool call as input_json_delta', async () => {
    const stream = client.messages.stream({
      model: target,
      max_tokens: 200,
      tools,
      tool_choice: { type: 'any' },
      messages: [{ role: 'user', content: 'Look up "switch".' }],
    });
    const final = await stream.finalMessage();
    const use = final.content.find((b) => b.type === 'tool_use');
    expect(use?.type === 'tool_use' && use.input).toHaveProperty('input');
    expect(final.stop_reason).toBe('tool_use');
  });
});

describe('Messages API edges', () => {
  it("a prefill (the last turn the assistant's) is routed only to a model that continues it: auto picks a prefill model, a route without one is refused by name", async () => {
    const prefill = [
      { role: 'user' as const, content: 'Count to five.' },
      { role: 'assistant' as const, content: 'One,' },
    ];
    const { data, response } = await client.messages.create({ model: 'auto', max_tokens: 20, messages: prefill }).withResponse();
    expect(data.type).toBe('message');
    // claude-sonnet-4.5 is the test catalogue's one prefill model (it was gemini or deepseek, which answer afresh).
    expect(response.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
    expect((await sim.log()).map((e) => [e.model, e.prefill])).toEqual([['claude-sonnet-4-5', true]]);
    // The same question without the prefill goes where the scorer says, prefill model or not.
    const plain = await client.messages.create({ model: 'auto', max_tokens: 20, messages: [prefill[0]!] }).withResponse();
    expect(plain.data.type).toBe('message');
    const err = await client.messages.create({ model: 'route/chatbot', max_tokens: 20, messages: prefill }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as Error).message).toMatch(/needs prefill/);
  });

  it('sends Anthropic-only fields (thinking) natively, and refuses them for an OpenAI-kind target naming the field', async () => {
    const ok = await client.messages.create({
      model: 'claude-sonnet-4.5',
      max_tokens: 50,
      thinking: { type: 'disabled' },
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(ok.type).toBe('message');
    const err = await client.messages
      .create({ model: 'gpt-4.1', max_tokens: 50, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect((err as Error).message).toMatch(/thinking/);
  });

  it('that 400 is answered before an endpoint is picked: no attempt, no endpoint, no request on its count (its rpm window)', async () => {
    const gpt = async () => (await sc.state()).endpoints.find((e) => e.model === 'gpt-4.1')!;
    const before = (await gpt()).requests;
    for (const over of [{ top_k: 3 }, { thinking: { type: 'enabled' as const, budget_tokens: 1024 } }]) {
      const err = await client.messages
        .create({ model: 'gpt-4.1', max_tokens: 2000, messages: [{ role: 'user', content: 'hi' }], ...over })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      const headers = (err as InstanceType<typeof Anthropic.BadRequestError>).headers;
      // It said attempts 1 and named the endpoint, which was never asked (and took a slot of its rpm window).
      expect(headers.get('x-switchyard-attempts')).toBe('0');
      expect(headers.get('x-switchyard-endpoint')).toBeNull();
      expect(ledgerRow(ledgerFile, headers.get('x-request-id'))).toMatchObject({ attempts: 0, endpoint: null, status: 400 });
    }
    expect((await gpt()).requests).toBe(before);
    expect(await sim.log()).toHaveLength(0);
  });

  it('a thinking budget no candidate fits is refused naming the budget, not a field some other model has no form for', async () => {
    const ask = { max_tokens: 500, thinking: { type: 'enabled' as const, budget_tokens: 1024 }, messages: [{ role: 'user' as const, content: 'hi' }] };
    for (const model of ['auto', 'route/analysis']) {
      const err = await client.messages.create({ model, ...ask }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      // It said 'thinking has no chat-completions form … (deepseek-v3.2 is OpenAI-kind)' under auto.
      expect((err as Error).message).toMatch(/thinking\.budget_tokens \(1024\) must be less than max_tokens/);
      expect((err as InstanceType<typeof Anthropic.BadRequestError>).headers.get('x-switchyard-attempts')).toBe('0');
    }
    expect(await sim.log()).toHaveLength(0);
  });

  it('refuses for an OpenAI-kind target what chat cannot carry (a non-text system block, a fifth stop sequence), naming it; sends it natively to Anthropic', async () => {
    const msg = { max_tokens: 50, messages: [{ role: 'user' as const, content: 'hi' }] };
    const system = [
      { type: 'text' as const, text: 'Be brief.' },
      { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
    ] as unknown as Anthropic.TextBlockParam[];
    const stop_sequences = ['q1', 'q2', 'q3', 'q4', 'q5'];
    // Anthropic takes tool names of up to 128 characters, chat completions 64.
    const tool = (name: string) => ({ name, input_schema: { type: 'object' as const, properties: {} } });
    const tools = [tool('lookup'), tool(`get_${'x'.repeat(96)}`)];
    for (const [over, param] of [
      [{ system }, 'system[1]'],
      [{ stop_sequences }, 'stop_sequences[4]'],
      [{ tools }, 'tools[1].name'],
    ] as const) {
      const err = await client.messages.create({ model: 'gpt-4.1', ...msg, ...over }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
      expect((err as Error).message).toContain(param);
      expect((await client.messages.create({ model: 'claude-sonnet-4.5', ...msg, ...over })).type).toBe('message');
    }
    const five = await client.messages.create({ model: 'gpt-4.1', ...msg, stop_sequences }).catch((e: unknown) => e);
    expect((five as Error).message).toMatch(/OpenAI-kind endpoints take at most 4 stop sequences/);
    // Four stop sequences are chat's own limit: translated.
    expect((await client.messages.create({ model: 'gpt-4.1', ...msg, stop_sequences: stop_sequences.slice(0, 4) })).type).toBe('message');
    const long = await client.messages.create({ model: 'gpt-4.1', ...msg, tools }).catch((e: unknown) => e);
    expect((long as Error).message).toMatch(/OpenAI-kind endpoints take tool names of at most 64 characters/);
    // Routed (auto), the long name goes to an Anthropic-kind model, not to an OpenAI-kind one's 400.
    const routed = await client.messages.create({ model: 'auto', ...msg, tools }).withResponse();
    expect(routed.response.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
    // 64 characters are chat's own limit: translated.
    expect((await client.messages.create({ model: 'gpt-4.1', ...msg, tools: [tool(`f${'x'.repeat(63)}`)] })).type).toBe('message');
  });

  it('drops Anthropic-only fields at their do-nothing value (thinking disabled, service_tier auto) for an OpenAI-kind target, and still refuses any other value', async () => {
    const ok = await client.messages.create({
      model: 'gpt-4.1',
      max_tokens: 50,
      thinking: { type: 'disabled' },
      service_tier: 'auto',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(ok.type).toBe('message');
    const err = await client.messages
      .create({ model: 'gpt-4.1', max_tokens: 50, service_tier: 'standard_only', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as Error).message).toMatch(/service_tier/);
  });

  it("a conversation holding Claude's earlier answers with their thinking (passed back as the SDK's examples do) goes on with an OpenAI-kind model when thinking is not on (it was a 400 naming the thinking block)", async () => {
    const ask = [{ role: 'user' as const, content: 'Look the weather word up.' }];
    const first = await client.messages.create({
      model: 'claude-sonnet-4.5',
      max_tokens: 2000,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      tools,
      tool_choice: { type: 'any' },
      messages: ask,
    });
    expect(first.content.map((b) => b.type)).toEqual(['thinking', 'tool_use']);
    const call = first.content.find((b) => b.type === 'tool_use')!;
    const history: Anthropic.MessageParam[] = [
      ...ask,
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'sunny' }] },
      {
        role: 'assistant',
        content: [
          { type: 'redacted_thinking', data: 'EmwKAhgBEgy' },
          { type: 'text', text: 'It is sunny.' },
        ],
      },
      { role: 'user', content: 'Thanks. And tomorrow?' },
    ];
    for (const stream of [false, true]) {
      const next = stream
        ? await client.messages.stream({ model: 'gpt-4.1', max_tokens: 50, tools, messages: history }).finalMessage()
        : await client.messages.create({ model: 'gpt-4.1', max_tokens: 50, tools, messages: history });
      expect([next.type, next.model]).toEqual(['message', 'gpt-4.1']);
    }
    expect((await sim.log()).at(-1)).toMatchObject({ wire: 'openai', model: 'gpt-4.1' });
    // With thinking on, the request is still Anthropic-kind's alone.
    const err = await client.messages
      .create({ model: 'gpt-4.1', max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 }, tools, messages: history })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as Error).message).toMatch(/has no chat-completions form/);
  });

  it("a text document goes to an OpenAI-kind model as text (it was a 400: no chat-completions form), so auto may route it to a cheap model; a PDF by its bytes as chat's file part", async () => {
    const doc = {
      type: 'document' as const,
      title: 'Memo',
      source: { type: 'text' as const, media_type: 'text/plain' as const, data: 'The office closes at 5.' },
    };
    const messages = [{ role: 'user' as const, content: [doc, { type: 'text' as const, text: 'When does it close?' }] }];
    for (const model of ['gpt-4.1', 'deepseek-v3.2']) {
      const m = await client.messages.create({ model, max_tokens: 50, messages });
      expect([m.type, m.model, m.stop_reason]).toEqual(['message', model, 'end_turn']);
    }
    expect((await sim.log()).map((e) => e.wire)).toEqual(['openai', 'openai']);
    await sim.clearLog();
    const pdf = { type: 'document' as const, source: { type: 'base64' as const, media_type: 'application/pdf' as const, data: 'JVBERi0xLjQK' } };
    const withPdf = (d: unknown) => [{ role: 'user' as const, content: [d as typeof pdf, { type: 'text' as const, text: 'sum?' }] }];
    // It was a 400 (no chat-completions form): now OpenAI's file part, JSON and stream.
    const m = await client.messages.create({ model: 'gpt-4.1', max_tokens: 50, messages: withPdf({ ...pdf, title: 'Q3' }) });
    expect([m.type, m.model, m.stop_reason]).toEqual(['message', 'gpt-4.1', 'end_turn']);
    const streamed = await client.messages.stream({ model: 'gpt-4.1', max_tokens: 50, messages: withPdf(pdf) }).finalMessage();
    expect(streamed.stop_reason).toBe('end_turn');
    expect((await sim.log()).map((e) => [e.wire, e.model])).toEqual([
      ['openai', 'gpt-4.1'],
      ['openai', 'gpt-4.1'],
    ]);
    // A PDF of a real size (600 KB) reaches Claude and gpt-4.1 alike, and count_tokens leaves its pages out: its base64 was
    // counted as text (~540,000 tokens), over Claude's window, a 400 context_length_exceeded for any PDF over ~220 KB.
    const big = { ...pdf, source: { ...pdf.source, data: Buffer.alloc(600_000, 7).toString('base64') } };
    for (const model of ['claude-sonnet-4.5', 'gpt-4.1']) {
      const r = await client.messages.create({ model, max_tokens: 50, messages: withPdf(big) });
      expect([r.type, r.stop_reason]).toEqual(['message', 'end_turn']);
    }
    expect((await client.messages.countTokens({ model: 'claude-sonnet-4.5', messages: withPdf(big) })).input_tokens).toBeLessThan(100);
    await sim.clearLog();
    // Citations have no chat form: such a PDF stays Anthropic-kind only.
    const cited = await client.messages
      .create({ model: 'gpt-4.1', max_tokens: 50, messages: withPdf({ ...pdf, citations: { enabled: true } }) })
      .catch((e: unknown) => e);
    expect(cited).toBeInstanceOf(Anthropic.BadRequestError);
    // It says what stands in the way, not only where (it named messages[0].content[0] alone).
    expect((cited as Error).message).toMatch(
      /messages\[0\]\.content\[0\] \(a document with citations on: chat has no citations; turn them off to send it to any model\) has no chat-completions form/,
    );
    const byUrl = await client.messages
      .create({ model: 'gpt-4.1', max_tokens: 50, messages: withPdf({ type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } }) })
      .catch((e: unknown) => e);
    expect((byUrl as Error).message).toContain("(a PDF by URL: chat takes a file's bytes; send it as base64)");
    // An earlier turn of thinking alone, without thinking on: it said "with thinking on" (an SDK round).
    const thoughtOnly = await client.messages
      .create({
        model: 'gpt-4.1',
        max_tokens: 50,
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm', signature: 'abc' }] },
          { role: 'user', content: 'more' },
        ],
      })
      .catch((e: unknown) => e);
    expect(thoughtOnly).toBeInstanceOf(Anthropic.BadRequestError);
    expect((thoughtOnly as Error).message).toContain(
      "messages[1].content[0] (an earlier answer's thinking, and that turn has no text or tool use beside it to send)",
    );
    expect((thoughtOnly as Error).message).not.toContain('with thinking on');
    expect(await sim.log()).toEqual([]);
  });

  it('an OpenAI-kind answer calling a tool with arguments that are not a JSON object is never a tool_use with empty input: JSON and streams fail over (the bad answer billed)', async () => {
    const tools = [{ name: 'f', description: 'look up', input_schema: { type: 'object' as const, properties: { input: { type: 'string' } } } }];
    const ask = { model: 'gpt-4.1', max_tokens: 100, tools, messages: [{ role: 'user' as const, content: 'call f' }] };
    await sim.setFault('gpt-4.1', { kind: 'invalid_tool_args', times: 1 });
    try {
      const { data, response } = await client.messages.create(ask).withResponse();
      expect(response.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
      expect(response.headers.get('x-switchyard-attempts')).toBe('2');
      const use = data.content.find((b) => b.type === 'tool_use');
      expect(use && use.type === 'tool_use' ? Object.keys(use.input as object) : []).toContain('input');
      const row = ledgerRow(ledgerFile, response.headers.get('request-id'));
      // Both answers billed: the bad one at its own usage.
      const claudeNano = data.usage.input_tokens * 3000 + data.usage.output_tokens * 15000;
      expect(Number(row?.cost_nano)).toBeGreaterThan(claudeNano);
      expect(row?.attempts).toBe(2);
      await sim.setFault('gpt-4.1', { kind: 'invalid_tool_args', times: 1 });
      // A stream's tool calls are written whole when its answer ends: the bad one reached nobody, and fails over as JSON does.
      const stream = client.messages.stream({ ...ask, model: 'gpt-4.1' });
      const { response: streamed } = await stream.withResponse();
      const msg = await stream.finalMessage();
      expect([streamed.headers.get('x-switchyard-model'), streamed.headers.get('x-switchyard-attempts')]).toEqual(['claude-sonnet-4.5', '2']);
      const streamedUse = msg.content.find((b) => b.type === 'tool_use');
      expect(streamedUse && streamedUse.type === 'tool_use' ? Object.keys(streamedUse.input as object) : []).toContain('input');
      const both = ledgerRow(ledgerFile, streamed.headers.get('request-id'));
      expect(both).toMatchObject({ status: 200, error_code: null, stream: 1, attempts: 2 });
      // The bad streamed answer billed at the usage it reported after its finish, as the JSON one is (it was estimated: 2.3x).
      expect(both?.estimated).toBe(0);
      const streamedClaudeNano = msg.usage.input_tokens * 3000 + msg.usage.output_tokens * 15000;
      expect(Number(both?.cost_nano) - streamedClaudeNano).toBe(Number(row?.cost_nano) - claudeNano);
    } finally {
      await sim.clearFaults();
    }
  });

  it("gives an OpenAI-kind model's refusal as its text (JSON and stream), never an empty message", async () => {
    await sim.setFault('deepseek-chat', { kind: 'refusal', times: 1 });
    const json = await client.messages.create({ model: 'deepseek-v3.2', max_tokens: 50, messages: [{ role: 'user', content: 'Refuse me.' }] });
    await sim.setFault('deepseek-chat', { kind: 'refusal', times: 1 });
    const stream = client.messages.stream({ model: 'deepseek-v3.2', max_tokens: 50, messages: [{ role: 'user', content: 'Refuse me.' }] });
    let text = '';
    stream.on('text', (t) => (text += t));
    const streamed = await stream.finalMessage();
    await sim.clearFaults();
    for (const m of [json, streamed]) expect(m.content).toEqual([{ type: 'text', text: expect.stringMatching(/sorry/) }]);
    expect(text).toBe(streamed.content[0]?.type === 'text' ? streamed.content[0].text : null);
  });

  it('ends a stream cut after the commit with an error event, never message_stop', async () => {
    await sim.setFault('deepseek-chat', { kind: 'cut', afterTokens: 4 });
    const stream = client.messages.stream({ model: 'deepseek-v3.2', max_tokens: 200, messages: [{ role: 'user', content: 'cut me off' }] });
    let text = '';
    stream.on('text', (t) => (text += t));
    const err = await stream.finalMessage().catch((e: unknown) => e);
    await sim.clearFaults();
    expect(text.length).toBeGreaterThan(0);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
  });

  it('accepts bearer auth as well as x-api-key, and answers 401 in Anthropic shape', async () => {
    const bearer = new Anthropic({ baseURL: sc.url, authToken: KEY, apiKey: null, maxRetries: 0 });
    expect((await bearer.messages.create({ model: 'auto', max_tokens: 20, messages: [{ role: 'user', content: 'hello' }] })).type).toBe('message');
    const bad = await fetch(`${sc.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': 'wrong', 'content-type': 'application/json' }, body: '{}' });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    // Without any key, the message names the header an Anthropic client sends.
    const none = await fetch(`${sc.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { message: string } }).error.message).toContain('x-api-key');
  });

  it('answers bad input in Anthropic shape', async () => {
    const cases: Array<[string, RegExp]> = [
      ['{"model":', /not valid JSON/],
      ['{"model":"gpt-4.1","messages":[{"role":"user","content":"x"}]}', /max_tokens/],
      ['{"model":"gpt-4.1","max_tokens":5,"messages":[]}', /messages/],
      ['{"model":"nope","max_tokens":5,"messages":[{"role":"user","content":"x"}]}', /nope/],
      [
        '{"model":"gpt-4.1","max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"x"}]}',
        /tools\[0\]\.type/,
      ],
      // A stream flag that is not a boolean is refused, not answered as JSON.
      ['{"model":"gpt-4.1","max_tokens":5,"stream":"true","messages":[{"role":"user","content":"x"}]}', /stream/],
      ['{"model":"gpt-4.1","max_tokens":5,"stream":1,"messages":[{"role":"user","content":"x"}]}', /stream/],
    ];
    for (const [body, re] of cases) {
      const r = await fetch(`${sc.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body });
      expect(r.status).toBe(400);
      const j = (await r.json()) as { type: string; error: { type: string; message: string } };
      expect(j.type).toBe('error');
      expect(j.error.type).toBe('invalid_request_error');
      expect(j.error.message).toMatch(re);
    }
  });

  it('a wrong method or an unknown path under /v1/messages is in Anthropic shape too (405 with Allow, 404), with the request-id header its SDK reads', async () => {
    for (const path of ['/v1/messages', '/v1/messages/count_tokens']) {
      const r = await fetch(`${sc.url}${path}`, { headers: { 'x-api-key': KEY } });
      expect(r.status).toBe(405);
      expect(r.headers.get('allow')).toBe('POST');
      expect(r.headers.get('request-id')).toBe(r.headers.get('x-request-id'));
      expect(await r.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('POST') } });
    }
    const nf = await fetch(`${sc.url}/v1/messages/batches`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: '{}' });
    expect(nf.status).toBe(404);
    expect(nf.headers.get('request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await nf.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    // The SDK reads it as an Anthropic error object.
    const err = await client.messages.batches.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });

  it("Message Batches, and any path or method no route serves, answer Anthropic's shape to Anthropic's SDK (an anthropic-version header), OpenAI's otherwise", async () => {
    // Every batches call is a NotFoundError the SDK reads, saying Message Batches are not supported.
    const calls: Array<() => Promise<unknown>> = [
      () =>
        client.messages.batches.create({
          requests: [{ custom_id: 'a', params: { model: 'gpt-4.1', max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] } }],
        }),
      () => client.messages.batches.list(),
      () => client.messages.batches.retrieve('msgbatch_01'),
      () => client.messages.batches.cancel('msgbatch_01'),
      () => client.beta.messages.batches.list(),
    ];
    for (const call of calls) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.NotFoundError);
      const e = err as InstanceType<typeof Anthropic.NotFoundError>;
      expect(e.error).toMatchObject({
        type: 'error',
        error: { type: 'not_found_error', message: expect.stringContaining('Message Batches are not supported by switchyard') },
      });
      expect(e.requestID).toBe(e.headers?.get('x-request-id'));
    }
    // A path that is not the Messages API's: Anthropic's shape with anthropic-version (the SDK's own call too) ...
    const unknown = await client.get('/v1/nope').catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
    expect((unknown as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const anthropicHeaders = { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' };
    const nf = await fetch(`${sc.url}/v1/nope`, { headers: anthropicHeaders });
    expect(nf.status).toBe(404);
    expect(nf.headers.get('request-id')).toBe(nf.headers.get('x-request-id'));
    const nfBody = (await nf.json()) as Record<string, unknown>;
    // The body's request_id is the header's, as Anthropic's API sends both (it was left out).
    expect(nfBody).toEqual({
      type: 'error',
      error: { type: 'not_found_error', message: expect.stringContaining('no route GET /v1/nope') },
      request_id: nf.headers.get('request-id'),
    });
    const wrong = await fetch(`${sc.url}/v1/embeddings`, { headers: anthropicHeaders });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect(await wrong.json()).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringContaining('POST') },
      request_id: wrong.headers.get('request-id'),
    });
    // A routed request's error (an unknown model) and a validation error carry it too.
    for (const body of [
      { model: 'no-such-model', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] },
      { model: 'gpt-4.1', messages: [] },
    ]) {
      const r = await fetch(`${sc.url}/v1/messages`, {
        method: 'POST',
        headers: { ...anthropicHeaders, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(r.status).toBe(400);
      const j = (await r.json()) as Record<string, unknown>;
      expect(j.request_id).toBe(r.headers.get('request-id'));
      expect(j.request_id).toEqual(expect.any(String));
    }
    // ... and OpenAI's without it.
    const plain = await fetch(`${sc.url}/v1/nope`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(plain.status).toBe(404);
    expect(await plain.json()).toEqual({
      error: { message: expect.stringContaining('no route GET /v1/nope'), type: expect.any(String), param: null, code: 'not_found' },
    });
    const plainWrong = await fetch(`${sc.url}/v1/embeddings`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(plainWrong.status).toBe(405);
    expect(await plainWrong.json()).toMatchObject({ error: { code: 'method_not_allowed' } });
  });

  it('counts tokens without calling a provider', async () => {
    const r = await client.messages.countTokens({
      model: 'claude-sonnet-4.5',
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'How many tokens is this?' }],
    });
    expect(r.input_tokens).toBeGreaterThan(5);
    const longer = await client.messages.countTokens({
      model: 'claude-sonnet-4.5',
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'How many tokens is this? '.repeat(10) }],
    });
    expect(longer.input_tokens).toBeGreaterThan(r.input_tokens);
    // Without a model: Anthropic's 400 naming the missing field, not "the model \"\" does not exist".
    const missing = await client.messages
      .countTokens({ messages: [{ role: 'user', content: 'hi' }] } as unknown as Parameters<typeof client.messages.countTokens>[0])
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Anthropic.BadRequestError);
    expect((missing as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringMatching(/^model: Field required/) },
    });
    expect(await sim.log()).toHaveLength(0);
  });

  it('counts the blocks that have no chat form too: a document, a search result in a tool result (a 2,000-word document counted as the question alone)', async () => {
    const doc = 'The harbour lighthouse was built of granite in the year of the great storm. '.repeat(150);
    const question = { type: 'text' as const, text: 'Summarise the document.' };
    const bare = await client.messages.countTokens({ model: 'claude-sonnet-4.5', messages: [{ role: 'user', content: [question] }] });
    const withDoc = await client.messages.countTokens({
      model: 'claude-sonnet-4.5',
      messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: doc } }, question] }],
    });
    // 15 words a sentence, 150 sentences: well over 2,000 tokens of text the model reads.
    expect(withDoc.input_tokens - bare.input_tokens).toBeGreaterThan(2000);
    const searched = await client.messages.countTokens({
      model: 'claude-sonnet-4.5',
      tools,
      messages: [
        { role: 'user', content: 'Look up the lighthouse.' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { input: 'lighthouse' } }] },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 'toolu_1',
              content: [{ type: 'search_result', source: 'https://example.com/lighthouse', title: 'Lighthouse', content: [{ type: 'text', text: doc }] }],
            },
          ],
        },
      ],
    });
    expect(searched.input_tokens).toBeGreaterThan(2000);
    expect(await sim.log()).toHaveLength(0);
  });

  it('an Anthropic-kind upstream that reports no usage for a prompt with a document: the estimate bills the document too', async () => {
    const doc = 'The harbour lighthouse was built of granite in the year of the great storm. '.repeat(150);
    await sim.setFault('claude-sonnet-4-5', { kind: 'no_usage', times: 1 });
    const { data, response } = await client.messages
      .create({
        model: 'claude-sonnet-4.5',
        max_tokens: 20,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'document', source: { type: 'text', media_type: 'text/plain', data: doc } },
              { type: 'text', text: 'Summarise.' },
            ],
          },
        ],
      })
      .withResponse();
    const row = ledgerRow(ledgerFile, response.headers.get('x-request-id'));
    expect(row).toMatchObject({ estimated: 1, status: 200 });
    expect(Number(row!.prompt_tokens)).toBeGreaterThan(2000);
    expect(data.usage.input_tokens).toBe(Number(row!.prompt_tokens));
  });
});

describe('GET /v1/models for the Anthropic SDK', () => {
  it("takes Anthropic's client-run tools (bash, the text editor) to a Claude model, its answer's tool_use for the app to run; an OpenAI-kind model is a 400 naming the tool", async () => {
    const clientTools = [
      { type: 'bash_20250124', name: 'bash' },
      { type: 'text_editor_20250728', name: 'str_replace_based_edit_tool' },
    ] as unknown as Anthropic.Messages.ToolUnion[];
    const messages = [{ role: 'user' as const, content: 'list the files' }];
    const m = await client.messages.create({ model: 'claude-sonnet-4.5', max_tokens: 200, messages, tools: clientTools, tool_choice: { type: 'any' } });
    expect(m.stop_reason).toBe('tool_use');
    expect(m.content.find((b) => b.type === 'tool_use')).toMatchObject({ name: 'bash' });
    const s = await client.messages
      .stream({ model: 'claude-sonnet-4.5', max_tokens: 200, messages, tools: clientTools, tool_choice: { type: 'any' } })
      .finalMessage();
    expect(s.content.find((b) => b.type === 'tool_use')).toMatchObject({ name: 'bash' });
    // count_tokens counts their hidden definitions, as Anthropic's does (bash 245, the text editor 700).
    const plain = await client.messages.countTokens({ model: 'claude-sonnet-4.5', messages });
    const counted = await client.messages.countTokens({ model: 'claude-sonnet-4.5', messages, tools: clientTools });
    expect(counted.input_tokens - plain.input_tokens).toBeGreaterThanOrEqual(945);
    // The chat form has no such tool: a model the client names on an OpenAI-kind endpoint answers the 400 that says so.
    const err = await client.messages.create({ model: 'gpt-4.1', max_tokens: 200, messages, tools: clientTools }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as Error).message).toMatch(/tools\[0\]\.type/);
    // A server tool (run and billed inside Anthropic) stays refused.
    const server = await client.messages
      .create({
        model: 'claude-sonnet-4.5',
        max_tokens: 200,
        messages,
        tools: [{ type: 'web_search_20250305', name: 'web_search' }] as unknown as Anthropic.Messages.ToolUnion[],
      })
      .catch((e: unknown) => e);
    expect(server).toBeInstanceOf(Anthropic.BadRequestError);
  });

  it('lists and retrieves models with the fields Anthropic ModelInfo has (type, display_name, created_at) and the page fields', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toContain('claude-sonnet-4.5');
    for (const m of page.data) {
      expect(m).toMatchObject({ type: 'model', display_name: m.id });
      expect(new Date(m.created_at).toISOString()).toBe(m.created_at);
    }
    expect(page.has_more).toBe(false);
    expect(page.first_id).toBe(page.data[0]?.id);
    expect(page.last_id).toBe(page.data.at(-1)?.id);
    const one = await client.models.retrieve('route/code');
    expect(one).toMatchObject({ id: 'route/code', type: 'model', display_name: 'route/code' });
    // The OpenAI fields stay, and an OpenAI client (no anthropic-version) sees OpenAI's list alone.
    expect(one).toMatchObject({ object: 'model', owned_by: expect.any(String) });
    const plain = (await (await fetch(`${sc.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as { data: object[] };
    expect(Object.keys(plain)).toEqual(['object', 'data']);
    expect(Object.keys(plain.data[0]!)).toEqual(['id', 'object', 'created', 'owned_by']);
  });

  it('pages as Anthropic does: limit, after_id, before_id, has_more; the SDK walks every page; a bad limit or unknown id is a 400', async () => {
    const all = (await client.models.list({ limit: 1000 })).data.map((m) => m.id);
    expect(all.length).toBeGreaterThan(4);
    const first = await client.models.list({ limit: 3 });
    expect(first.data.map((m) => m.id)).toEqual(all.slice(0, 3));
    expect([first.has_more, first.first_id, first.last_id]).toEqual([true, all[0], all[2]]);
    const next = await client.models.list({ limit: 3, after_id: all[2]! });
    expect(next.data.map((m) => m.id)).toEqual(all.slice(3, 6));
    const back = await client.models.list({ limit: 2, before_id: all[4]! });
    expect([back.data.map((m) => m.id), back.has_more]).toEqual([all.slice(2, 4), true]);
    const walked: string[] = [];
    for await (const m of client.models.list({ limit: 2 })) walked.push(m.id);
    expect(walked).toEqual(all);
    for (const q of ['limit=0', 'limit=1001', 'limit=x', 'after_id=no-such-model']) {
      const r = await fetch(`${sc.url}/v1/models?${q}`, { headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' } });
      expect([q, r.status, ((await r.json()) as { error: { type: string } }).error.type]).toEqual([q, 400, 'invalid_request_error']);
    }
  });

  it("answers the Anthropic SDK's models errors in Anthropic's shape (404 not_found_error, 401 authentication_error); OpenAI's without anthropic-version", async () => {
    const missing = await client.models.retrieve('no-such-model').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect((missing as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const stranger = new Anthropic({ baseURL: sc.url, apiKey: 'sk-wrong', maxRetries: 0 });
    const denied = await stranger.models.list().catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((denied as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const plain = await fetch(`${sc.url}/v1/models/no-such-model`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(((await plain.json()) as { error: unknown }).error).toMatchObject({ code: 'model_not_found', type: 'invalid_request_error' });
  });
});

describe("the SDK's tool runner (message threads)", () => {
  it.each(['claude-sonnet-4.5', 'gpt-4.1'])(
    'runs a tool loop to its end on %s: a thread is refused with thread_unsupported_request and the SDK goes on without one',
    async (model) => {
      const weather = betaZodTool({
        name: 'get_weather',
        description: 'The weather in a city',
        inputSchema: z.object({ city: z.string() }),
        run: (input) => Promise.resolve(`sunny in ${input.city}`),
      });
      const runner = client.beta.messages.toolRunner({ model, max_tokens: 200, messages: [{ role: 'user', content: 'weather in paris?' }], tools: [weather] });
      const stops: Array<string | null> = [];
      for await (const m of runner) stops.push(m.stop_reason);
      expect(stops).toEqual(['tool_use', 'end_turn']);
      // Sent as the SDK sends it, the thread gets the code the SDK recovers on.
      const err = await client.messages
        .create({ model, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], thread: { type: 'create' } } as Anthropic.MessageCreateParamsNonStreaming)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
        error: { type: 'invalid_request_error', details: { error_code: 'thread_unsupported_request', unsupported: ['thread'] } },
      });
    },
  );
});

describe("Anthropic's prompt cache pre-warm (max_tokens: 0)", () => {
  const doc = { type: 'text' as const, text: 'A long reference document. '.repeat(50), cache_control: { type: 'ephemeral' as const } };

  it('is sent to an Anthropic-kind endpoint with max_tokens 0 and answered as Anthropic answers it: no content, no output billed (it was a 400)', async () => {
    for (const model of ['claude-sonnet-4.5', 'auto']) {
      const { data, response } = await client.messages
        .create({ model, max_tokens: 0, system: [doc], messages: [{ role: 'user', content: 'Hi' }] })
        .withResponse();
      expect(response.status).toBe(200);
      expect(response.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
      // The simulator, as Anthropic, generates nothing only when it was sent 0.
      expect(data).toMatchObject({ type: 'message', content: [], stop_reason: 'max_tokens', usage: { output_tokens: 0 } });
      expect((await sim.log()).at(-1)).toMatchObject({ wire: 'anthropic', stream: false, status: 200 });
      const row = ledgerRow(ledgerFile, response.headers.get('x-request-id'));
      expect(row).toMatchObject({ model: 'claude-sonnet-4.5', status: 200, completion_tokens: 0, attempts: 1 });
      expect(Number(row!.prompt_tokens)).toBeGreaterThan(0);
    }
  });

  it('is refused with a 400 naming max_tokens for an OpenAI-kind model, streamed, or with extended thinking (Anthropic refuses those too)', async () => {
    const refused = async (body: Record<string, unknown>): Promise<{ status: number; message: string }> => {
      const r = await fetch(`${sc.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': KEY },
        body: JSON.stringify({ max_tokens: 0, messages: [{ role: 'user', content: 'Hi' }], ...body }),
      });
      const e = (await r.json()) as { type: string; error: { type: string; message: string } };
      expect(e).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
      return { status: r.status, message: e.error.message };
    };
    const openai = await refused({ model: 'gpt-4.1' });
    expect(openai.status).toBe(400);
    expect(openai.message).toContain('max_tokens');
    expect(openai.message).toContain('Anthropic-kind');
    // The value is what has no form (it said "max_tokens has no chat-completions form", as if the field had none).
    expect(openai.message).toContain('max_tokens 0 (a prompt cache pre-warm: the prompt cached, nothing generated) has no chat-completions form');
    expect(await refused({ model: 'claude-sonnet-4.5', stream: true })).toEqual({
      status: 400,
      message: expect.stringContaining('max_tokens: 0 (a prompt cache pre-warm) cannot be used with stream'),
    });
    expect((await refused({ model: 'claude-sonnet-4.5', thinking: { type: 'enabled', budget_tokens: 1024 } })).message).toContain(
      'cannot be used with thinking',
    );
    expect(await sim.log()).toEqual([]);
  });

  it('is never escalated by the quality cascade (its empty answer is by design): one step, one row', async () => {
    const cfg = testConfig(sim.url, { routing: { strategy: 'cost', cascade: { enabled: true, startAt: 'cheapest' } } });
    const models = cfg.models as Record<string, Record<string, unknown>>;
    models['claude-haiku-4.5'] = {
      ...models['claude-sonnet-4.5']!,
      tier: 'fast_cheap',
      price: { inputPerMTok: 1, outputPerMTok: 5 },
      fallbacks: [],
      endpoints: [{ provider: 'anthropic', upstreamModel: 'claude-haiku-4-5' }],
    };
    (cfg.routing as Record<string, unknown>).routes = { claudes: ['claude-haiku-4.5', 'claude-sonnet-4.5'] };
    const file = ledgerFileOf(cfg);
    const own = await startSidecar(cfg);
    try {
      const c = new Anthropic({ baseURL: own.url, apiKey: 'unused', maxRetries: 0 });
      const { data, response } = await c.messages
        .create({ model: 'route/claudes', max_tokens: 0, system: [doc], messages: [{ role: 'user', content: 'Hi' }] })
        .withResponse();
      expect(data.content).toEqual([]);
      expect(response.headers.get('x-switchyard-cascade')).toBeNull();
      expect(response.headers.get('x-switchyard-model')).toBe('claude-haiku-4.5');
      expect((await sim.log()).filter((l) => l.wire === 'anthropic')).toHaveLength(1);
      expect(ledgerRow(file, response.headers.get('x-request-id'))).toMatchObject({ model: 'claude-haiku-4.5', completion_tokens: 0, parent_id: null });
      // The same route with a real max_tokens is cascaded (the guard is the pre-warm's alone).
      await sim.setFault('claude-haiku-4-5', { kind: 'empty', times: 1 });
      const real = await c.messages
        .create({ model: 'route/claudes', max_tokens: 50, messages: [{ role: 'user', content: 'Explain how a bloom filter works' }] })
        .withResponse();
      expect(real.response.headers.get('x-switchyard-cascade')).toBe('claude-haiku-4.5:empty>claude-sonnet-4.5:pass');
    } finally {
      await sim.clearFaults();
      await own.stop();
    }
  });
});

describe("a provider's own 400 for a prompt over its window", () => {
  it("carries x-switchyard-error-code: context_length_exceeded, as switchyard's own refusal does (a Messages body has no code; it said invalid_request)", async () => {
    await sim.setFault('gpt-4.1', { kind: 'context_length_exceeded', times: 1 });
    try {
      const err = await client.messages.create({ model: 'gpt-4.1', max_tokens: 20, messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      const e = err as InstanceType<typeof Anthropic.BadRequestError>;
      expect(e.headers?.get('x-switchyard-error-code')).toBe('context_length_exceeded');
      expect(e.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    } finally {
      await sim.clearFaults();
    }
  });
});

describe('an upstream that no longer serves the model it is sent (a JSON 404: retired, misspelt)', () => {
  it("fails over to the model's fallback: the upstreamModel is the operator's (it was the client's 404 NotFoundError, the fallback never tried)", async () => {
    await sim.setFault('claude-sonnet-4-5', { kind: 'model_not_found' });
    try {
      const { data, response } = await client.messages
        .create({ model: 'claude-sonnet-4.5', max_tokens: 20, messages: [{ role: 'user', content: 'Hi' }] })
        .withResponse();
      expect(data.type).toBe('message');
      expect(response.headers.get('x-switchyard-model')).toBe('gpt-4.1');
      const log = (await sim.log()) as Array<{ model: string; status: number }>;
      expect(log.map((l) => [l.model, l.status])).toEqual([
        ['claude-sonnet-4-5', 404],
        ['gpt-4.1', 200],
      ]);
    } finally {
      await sim.clearFaults();
    }
  });
});
