import OpenAI from 'openai';
import { zodFunction, zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { encode } from 'gpt-tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerTokens } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { chatBody, jsonEvents, openAiStreamText, parseSse, post, startFast } from './helpers.js';

let sim: Simulator;
let client: OpenAI;

beforeAll(async () => {
  sim = await startFast({ models: { 'gpt-cached': { cachedTokens: 4 }, 'gpt-long': { outputTokens: 30 } } });
  client = new OpenAI({ baseURL: `${sim.url}/openai/v1`, apiKey: 'sk-test', maxRetries: 0 });
});
afterAll(async () => {
  await sim.close();
});

const expectedText = (seed: string, n = 8): string => answerTokens(seed, n).join('');

describe('OpenAI wire through the official SDK', () => {
  it('lists top_logprobs alternatives per token when asked (the token itself first, each next one less likely), none without', async () => {
    const res = await client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], logprobs: true, top_logprobs: 3 });
    const content = res.choices[0]?.logprobs?.content ?? [];
    expect(content).toHaveLength(8);
    for (const t of content) {
      expect(t.top_logprobs).toHaveLength(3);
      expect(t.top_logprobs[0]).toEqual({ token: t.token, logprob: t.logprob, bytes: null });
      expect(t.top_logprobs[1]!.logprob).toBeLessThan(t.top_logprobs[0]!.logprob);
      expect(t.top_logprobs[2]!.logprob).toBeLessThan(t.top_logprobs[1]!.logprob);
    }
    const plain = await client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], logprobs: true });
    expect(plain.choices[0]?.logprobs?.content?.every((t) => t.top_logprobs.length === 0)).toBe(true);
  });

  it('answers non-streaming with deterministic text, stop and exact usage', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-test',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'what is a switchyard?' },
      ],
    });
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe('gpt-test');
    expect(res.choices[0]?.message.content).toBe(expectedText('be brief\nwhat is a switchyard?'));
    expect(res.choices[0]?.finish_reason).toBe('stop');
    const prompt = encode('be brief').length + encode('what is a switchyard?').length + 3 * 2 + 3;
    expect(res.usage).toEqual({
      prompt_tokens: prompt,
      completion_tokens: 8,
      total_tokens: prompt + 8,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
  });

  it('gives the same text for the same conversation on any model, a different one for another', async () => {
    const ask = async (model: string, content: string): Promise<string | null | undefined> =>
      (await client.chat.completions.create({ model, messages: [{ role: 'user', content }] })).choices[0]?.message.content;
    const a = await ask('gpt-test', 'same question');
    const b = await ask('deepseek-chat', 'same question');
    const long = await ask('gpt-long', 'same question');
    expect(b).toBe(a);
    expect(long?.startsWith(a ?? '-')).toBe(true);
    expect(long?.split(' ')).toHaveLength(30);
    expect(await ask('gpt-test', 'another question')).not.toBe(a);
  });

  it('reports cachedTokens from the profile', async () => {
    const res = await client.chat.completions.create({ model: 'gpt-cached', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.usage?.prompt_tokens_details?.cached_tokens).toBe(4);
  });

  it('streams role first, one content delta per token, finish, and no usage chunk unless asked', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-test', stream: true, messages: [{ role: 'user', content: 'stream me' }] });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    const contents = chunks.slice(1, -1).map((c) => c.choices[0]?.delta.content);
    expect(contents).toEqual(answerTokens('stream me', 8));
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.every((c) => c.usage === undefined || c.usage === null)).toBe(true);
  });

  it('sends a final usage chunk with empty choices when include_usage is set, then [DONE]', async () => {
    const raw = await post(`${sim.url}/openai/v1/chat/completions`, chatBody({ stream: true, stream_options: { include_usage: true } }));
    expect(raw.headers['content-type']).toContain('text/event-stream');
    const events = parseSse(raw.text);
    expect(events.at(-1)?.data).toBe('[DONE]');
    const last = jsonEvents(events).at(-1) as { choices: unknown[]; usage: { completion_tokens: number; prompt_tokens: number } };
    expect(last.choices).toEqual([]);
    expect(last.usage.completion_tokens).toBe(8);
    expect(last.usage.prompt_tokens).toBe(encode('hello there').length + 6);
    expect(openAiStreamText(events)).toBe(expectedText('hello there'));
  });

  it('stops at max_tokens / max_completion_tokens with finish_reason length', async () => {
    const a = await client.chat.completions.create({ model: 'gpt-test', max_tokens: 3, messages: [{ role: 'user', content: 'hello there' }] });
    expect(a.choices[0]?.message.content).toBe(answerTokens('hello there', 3).join(''));
    expect(a.choices[0]?.finish_reason).toBe('length');
    expect(a.usage?.completion_tokens).toBe(3);
    const b = await client.chat.completions.create({
      model: 'gpt-test',
      max_completion_tokens: 2,
      stream: true,
      messages: [{ role: 'user', content: 'hello there' }],
    });
    const parts: string[] = [];
    let finish: string | null | undefined;
    for await (const c of b) {
      parts.push(c.choices[0]?.delta.content ?? '');
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(parts.join('')).toBe(answerTokens('hello there', 2).join(''));
    expect(finish).toBe('length');
  });

  it('stops before the earliest `stop` sequence with finish_reason stop (a string or an array; JSON and stream)', async () => {
    const words = answerTokens('stop somewhere', 8);
    const stop = words[3]!;
    const cut = words.slice(0, 3).join('');
    const messages = [{ role: 'user' as const, content: 'stop somewhere' }];
    const a = await client.chat.completions.create({ model: 'gpt-test', stop: ['absent', stop], messages });
    expect(a.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: cut } });
    expect(a.usage?.completion_tokens).toBe(3);
    const b = await client.chat.completions.create({ model: 'gpt-test', stop, stream: true, messages });
    let text = '';
    let finish: string | null | undefined;
    for await (const c of b) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(cut);
    expect(finish).toBe('stop');
  });

  const tools = [
    { type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: {} } } },
    { type: 'function' as const, function: { name: 'weather', parameters: { type: 'object', properties: {} } } },
  ];

  it('calls the first tool, or the one named in tool_choice, with the first 40 chars of the user text', async () => {
    const text = 'What is the weather like in Ulaanbaatar today, and tomorrow?';
    const res = await client.chat.completions.create({ model: 'gpt-test', tools, messages: [{ role: 'user', content: text }] });
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' ? call.function.name : '').toBe('lookup');
    expect(call?.type === 'function' ? JSON.parse(call.function.arguments) : null).toEqual({ input: text.slice(0, 40) });
    const named = await client.chat.completions.create({
      model: 'gpt-test',
      tools,
      tool_choice: { type: 'function', function: { name: 'weather' } },
      messages: [{ role: 'user', content: text }],
    });
    const namedCall = named.choices[0]?.message.tool_calls?.[0];
    expect(namedCall?.type === 'function' ? namedCall.function.name : '').toBe('weather');
  });

  it('answers json_schema requests and tool calls in the shape of their schemas (the SDK parse() helpers validate them)', async () => {
    const Event = z.object({
      name: z.string(),
      count: z.number().int(),
      score: z.number().min(2).max(5),
      tags: z.array(z.string()),
      kind: z.enum(['talk', 'demo']),
      note: z.string().nullable(),
      place: z.object({ city: z.string(), indoor: z.boolean() }),
    });
    const r = await client.chat.completions.parse({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'extract the event' }],
      response_format: zodResponseFormat(Event, 'event'),
    });
    const parsed = r.choices[0]?.message.parsed;
    expect(Event.safeParse(parsed).success).toBe(true);
    expect(parsed).toMatchObject({ count: 1, score: 2, kind: 'talk', place: { indoor: true } });
    const weather = zodFunction({ name: 'get_weather', parameters: z.object({ city: z.string(), unit: z.enum(['c', 'f']) }) });
    const t = await client.chat.completions.parse({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'weather in Paris?' }],
      tools: [weather],
      tool_choice: 'required',
    });
    expect(t.choices[0]?.message.tool_calls?.[0]?.function.parsed_arguments).toEqual({ city: 'weather in Paris?', unit: 'c' });
    // json_object, or a schema without properties, keeps the plain {"answer": …}
    const plain = await client.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hi' }],
      response_format: { type: 'json_object' },
    });
    expect(Object.keys(JSON.parse(plain.choices[0]!.message.content!) as object)).toEqual(['answer']);
  });

  it('answers text when tool_choice is none or the last message is a tool result', async () => {
    const none = await client.chat.completions.create({ model: 'gpt-test', tools, tool_choice: 'none', messages: [{ role: 'user', content: 'hi' }] });
    expect(none.choices[0]?.finish_reason).toBe('stop');
    expect(none.choices[0]?.message.tool_calls ?? []).toEqual([]);
    const after = await client.chat.completions.create({
      model: 'gpt-test',
      tools,
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      ],
    });
    expect(after.choices[0]?.finish_reason).toBe('stop');
    expect(after.choices[0]?.message.content?.length).toBeGreaterThan(0);
  });

  it('streams a tool call as id+name first, then arguments in two or more pieces', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-test', stream: true, tools, messages: [{ role: 'user', content: 'find the manual' }] });
    const deltas = [];
    let finish: string | null | undefined;
    for await (const c of stream) {
      const tc = c.choices[0]?.delta.tool_calls?.[0];
      if (tc !== undefined) deltas.push(tc);
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(deltas[0]?.id).toMatch(/^call_/);
    expect(deltas[0]?.function?.name).toBe('lookup');
    const pieces = deltas.slice(1).map((d) => d.function?.arguments ?? '');
    expect(pieces.length).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(pieces.join(''))).toEqual({ input: 'find the manual' });
    expect(finish).toBe('tool_calls');
  });

  it('calls a custom tool with free-form input (JSON and streamed), named or through allowed_tools, and reads one back in the history', async () => {
    const custom = [{ type: 'custom' as const, custom: { name: 'shell', description: 'run a command' } }, ...tools];
    const res = await client.chat.completions.create({ model: 'gpt-test', tools: custom, messages: [{ role: 'user', content: 'list the files' }] });
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type).toBe('custom');
    expect(call?.type === 'custom' ? call.custom : null).toEqual({ name: 'shell', input: 'list the files' });
    const named = await client.chat.completions.create({
      model: 'gpt-test',
      tools: [...tools, ...custom.slice(0, 1)],
      tool_choice: { type: 'custom', custom: { name: 'shell' } },
      messages: [{ role: 'user', content: 'pwd' }],
    });
    expect(named.choices[0]?.message.tool_calls?.[0]?.type).toBe('custom');
    const allowed = await client.chat.completions.create({
      model: 'gpt-test',
      tools: custom,
      tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'weather' } }] } },
      messages: [{ role: 'user', content: 'pwd' }],
    });
    const allowedCall = allowed.choices[0]?.message.tool_calls?.[0];
    expect(allowedCall?.type === 'function' ? allowedCall.function.name : '').toBe('weather');
    const stream = await client.chat.completions.create({
      model: 'gpt-test',
      stream: true,
      tools: custom,
      messages: [{ role: 'user', content: 'list the files' }],
    });
    const deltas: unknown[] = [];
    for await (const c of stream) for (const d of c.choices[0]?.delta.tool_calls ?? []) deltas.push(d);
    const first = deltas[0] as { id: string; type: string; custom: { name: string; input: string } };
    expect(first).toMatchObject({ index: 0, type: 'custom', custom: { name: 'shell', input: '' } });
    const pieces = deltas.slice(1).map((d) => (d as { custom: { input: string } }).custom.input);
    expect(pieces.length).toBeGreaterThanOrEqual(2);
    expect(pieces.join('')).toBe('list the files');
    const after = await client.chat.completions.create({
      model: 'gpt-test',
      tools: custom,
      messages: [
        { role: 'user', content: 'list the files' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'custom', custom: { name: 'shell', input: 'ls' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'a.txt' },
      ],
    });
    expect(after.choices[0]?.finish_reason).toBe('stop');
  });

  it('lists the profile models in OpenAI list format', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id).sort()).toEqual(['gpt-cached', 'gpt-long']);
  });

  it('rejects an invalid body with a wire-correct 400', async () => {
    const raw = await post(`${sim.url}/openai/v1/chat/completions`, { model: 'gpt-test' });
    expect(raw.status).toBe(400);
    const body = JSON.parse(raw.text) as { error: { type: string; message: string; param: string | null; code: unknown } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain('messages');
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  });

  it('refuses an assistant message with no content (null or left out) and no tool calls with a 400 naming it, as OpenAI does', async () => {
    const url = `${sim.url}/openai/v1/chat/completions`;
    for (const assistant of [{ role: 'assistant', content: null }, { role: 'assistant' }, { role: 'assistant', content: null, tool_calls: [] }]) {
      const raw = await post(url, { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }, assistant, { role: 'user', content: 'and?' }] });
      expect(raw.status).toBe(400);
      expect((JSON.parse(raw.text) as { error: unknown }).error).toMatchObject({
        type: 'invalid_request_error',
        param: 'messages.[1].content',
        message: "Invalid value for 'content': expected a string, got null.",
      });
    }
    // With its tool calls (or the legacy function_call), or with text, it is served.
    const call = { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } };
    for (const assistant of [
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'assistant', function_call: { name: 'f', arguments: '{}' } },
      { role: 'assistant', content: '' },
    ]) {
      const tail = 'tool_calls' in assistant ? [{ role: 'tool', tool_call_id: 'call_1', content: 'r' }] : [{ role: 'user', content: 'and?' }];
      const raw = await post(url, { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }, assistant, ...tail] });
      expect(raw.status).toBe(200);
    }
  });

  it('refuses tool_choice or parallel_tool_calls without tools with a 400 naming it, as OpenAI does', async () => {
    const messages = [{ role: 'user', content: 'hi' }];
    for (const [param, value] of [
      ['tool_choice', 'auto'],
      ['tool_choice', 'none'],
      ['parallel_tool_calls', false],
    ] as const)
      for (const tools of [undefined, []]) {
        const raw = await post(`${sim.url}/openai/v1/chat/completions`, { model: 'gpt-test', messages, tools, [param]: value });
        expect(raw.status).toBe(400);
        const body = JSON.parse(raw.text) as { error: { type: string; message: string; param: string | null } };
        expect(body.error).toMatchObject({
          type: 'invalid_request_error',
          param,
          message: expect.stringContaining(`'${param}' is only allowed when 'tools' are specified`),
        });
      }
  });
});
