/**
 * Message forms of OpenAI's chat wire that other OpenAI-compatible APIs refuse, through the real
 * sidecar with the official openai SDK, to a node:http server answering as DeepSeek's API does:
 * the `developer` role (OpenAI's newer name for system instructions, which the openai SDK's
 * examples and the Responses API use) and text parts in a non-user message (frameworks send a
 * system prompt or a tool result as parts). Such an upstream gets `system` and one string.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, testConfig, type SidecarHandle } from './harness.js';

let upstream: Server;
let sc: SidecarHandle;
/** The roles of every chat request the upstream got, in order. */
const seen: string[][] = [];
/** The content of every message of the last request. */
let lastContents: unknown[] = [];
/** The messages of the last request. */
let lastMessages: Array<Record<string, unknown>> = [];

/** DeepSeek's own 400 for a role it does not know. */
const deepseekError = (message: string) =>
  JSON.stringify({
    error: {
      message: `Failed to deserialize the JSON body into the target type: ${message}`,
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_request_error',
    },
  });
const deepseekRoleError = (i: number, role: string) =>
  deepseekError(`messages[${i}].role: unknown variant \`${role}\`, expected one of \`system\`, \`user\`, \`assistant\`, \`tool\` at line 1 column 85`);

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const j = JSON.parse(body) as { model: string; stream?: boolean; messages: Array<{ role: string; content?: unknown }> };
      const roles = j.messages.map((m) => m.role);
      seen.push(roles);
      lastContents = j.messages.map((m) => m.content);
      lastMessages = j.messages;
      // Gemini's OpenAI-compatible API: a tool result must name its function (OpenAI reads it from tool_call_id).
      const unnamed =
        j.model === 'gemini-2.5-flash' ? j.messages.findIndex((m) => m.role === 'tool' && typeof (m as { name?: unknown }).name !== 'string') : -1;
      if (unnamed >= 0) {
        const error = {
          code: 400,
          message: `* GenerateContentRequest.contents[${unnamed}].parts[0].function_response.name: Name cannot be empty.\n`,
          status: 'INVALID_ARGUMENT',
        };
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify([{ error }]));
        return;
      }
      const bad = roles.findIndex((r) => !['system', 'user', 'assistant', 'tool'].includes(r));
      if (bad >= 0) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(deepseekRoleError(bad, roles[bad]!));
        return;
      }
      // Content parts are taken in a user message only.
      const parts = j.messages.findIndex((m) => m.role !== 'user' && Array.isArray(m.content));
      if (parts >= 0) {
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(deepseekError(`messages[${parts}]: invalid type: sequence, expected a string at line 1 column 120`));
        return;
      }
      const usage = { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 };
      if (j.stream) {
        const base = { id: 'ds-1', object: 'chat.completion.chunk', created: 1, model: j.model };
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(
          `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hello there' }, finish_reason: null }] })}\n\n`,
        );
        res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
        res.write(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: 'ds-1',
          object: 'chat.completion',
          created: 1,
          model: j.model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there' }, finish_reason: 'stop' }],
          usage,
        }),
      );
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const base = testConfig(url);
  sc = await startSidecar({
    ...base,
    providers: { deepseek: { kind: 'openai', baseUrl: `${url}/v1`, apiKeyEnv: 'SY_TEST_DEEPSEEK_KEY' } },
    models: {
      'gemini-2.5-flash': {
        tier: 'balanced',
        price: { inputPerMTok: 0.3, outputPerMTok: 2.5 },
        contextWindow: 1_048_576,
        capabilities: ['chat', 'code', 'tools', 'json', 'vision'],
        maxOutputTokens: 65_536,
        endpoints: [{ provider: 'deepseek', upstreamModel: 'gemini-2.5-flash' }],
      },
      'deepseek-v3.2': {
        tier: 'fast_cheap',
        price: { inputPerMTok: 0.28, outputPerMTok: 0.42 },
        contextWindow: 128_000,
        capabilities: ['chat', 'code', 'tools', 'json'],
        maxOutputTokens: 8192,
        endpoints: [{ provider: 'deepseek', upstreamModel: 'deepseek-chat' }],
      },
    },
    routing: { strategy: 'cost', routes: {} },
  });
});

afterAll(async () => {
  await sc?.stop();
  await new Promise((r) => upstream?.close(r));
});

describe('a developer message to an OpenAI-compatible API other than OpenAI', () => {
  it('goes as a system message, on chat (JSON and stream, a named model and auto) and on the Responses API: it was a 400 from DeepSeek', async () => {
    seen.length = 0;
    const messages = [
      { role: 'developer' as const, content: 'Answer in one short sentence.' },
      { role: 'user' as const, content: 'Hello!' },
    ];
    for (const model of ['deepseek-v3.2', 'auto']) {
      const json = await sc.client.chat.completions.create({ model, messages });
      expect(json.choices[0]!.message.content).toBe('Hello there');
      const stream = await sc.client.chat.completions.stream({ model, messages }).finalChatCompletion();
      expect(stream.choices[0]!.message.content).toBe('Hello there');
    }
    const r = await sc.client.responses.create({
      model: 'deepseek-v3.2',
      input: [
        { role: 'developer', content: 'Answer in one short sentence.' },
        { role: 'user', content: 'Hello!' },
      ],
    });
    expect(r.output_text).toBe('Hello there');
    expect(seen).toHaveLength(5);
    for (const roles of seen) expect(roles).toEqual(['system', 'user']);
  });

  it('a developer turn in mid-conversation goes as system too, the other roles as they are; a role the upstream does not know is still its to answer', async () => {
    seen.length = 0;
    const c = await sc.client.chat.completions.create({
      model: 'deepseek-v3.2',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hi!' },
        { role: 'developer', content: 'Now in German.' },
        { role: 'user', content: 'Again' },
      ],
    });
    expect(c.choices[0]!.message.content).toBe('Hello there');
    expect(seen).toEqual([['system', 'user', 'assistant', 'system', 'user']]);
    const err = await new OpenAI({ baseURL: `${sc.url}/v1`, apiKey: 'x', maxRetries: 0 }).chat.completions
      .create({ model: 'deepseek-v3.2', messages: [{ role: 'function' as const, name: 'f', content: 'x' }] })
      .catch((e: unknown) => e);
    // A role the upstream does not know (the deprecated function role) is still the upstream's to answer.
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('a system prompt, an assistant turn or a tool result given as text parts goes as one string (DeepSeek refuses parts outside a user message: it was a 400); a user message keeps its parts', async () => {
    seen.length = 0;
    const parts = (...texts: string[]) => texts.map((text) => ({ type: 'text' as const, text }));
    const c = await sc.client.chat.completions.create({
      model: 'auto',
      messages: [
        { role: 'system', content: parts('You are ', 'terse.') },
        { role: 'user', content: parts('Weather in ', 'Paris?') },
        { role: 'assistant', content: parts('Let me look.'), tool_calls: [{ id: 'c1', type: 'function', function: { name: 'w', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: parts('sunny, ', '21 C') },
      ],
      tools: [{ type: 'function', function: { name: 'w', parameters: { type: 'object', properties: {} } } }],
    });
    expect(c.choices[0]!.message.content).toBe('Hello there');
    expect(lastContents).toEqual(['You are terse.', parts('Weather in ', 'Paris?'), 'Let me look.', 'sunny, 21 C']);
  });

  it("a tool result goes with the name of the function its call named (Gemini refuses one without: it was a 400), on chat and on the Responses API's function_call_output", async () => {
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const c = await sc.client.chat.completions.create({
      model: 'gemini-2.5-flash',
      tools,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      ],
    });
    expect(c.choices[0]!.message.content).toBe('Hello there');
    expect(lastMessages[2]).toMatchObject({ role: 'tool', tool_call_id: 'call_1', name: 'get_weather', content: 'sunny' });
    const r = await sc.client.responses.create({
      model: 'gemini-2.5-flash',
      tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false }],
      input: [
        { role: 'user', content: 'Weather in Paris?' },
        { type: 'function_call', call_id: 'call_2', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'call_2', output: 'sunny' },
      ],
    });
    expect(r.output_text).toBe('Hello there');
    expect(lastMessages.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'call_2', name: 'get_weather' });
  });
});
