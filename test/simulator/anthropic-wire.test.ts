import Anthropic from '@anthropic-ai/sdk';
import { encode } from 'gpt-tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerTokens } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { ANTHROPIC_HEADERS, messagesBody, parseSse, post, startFast } from './helpers.js';

let sim: Simulator;
let client: Anthropic;

beforeAll(async () => {
  sim = await startFast({ models: { 'claude-cached': { cachedTokens: 5 }, 'claude-written': { cachedTokens: 2, cacheWriteTokens: 3 } } });
  client = new Anthropic({ baseURL: `${sim.url}/anthropic`, apiKey: 'sk-ant-test', maxRetries: 0 });
});
afterAll(async () => {
  await sim.close();
});

const tools = [
  { name: 'lookup', input_schema: { type: 'object' as const, properties: {} } },
  { name: 'weather', input_schema: { type: 'object' as const, properties: {} } },
];

describe('Anthropic wire through the official SDK', () => {
  it('answers non-streaming with text, end_turn and usage', async () => {
    const msg = await client.messages.create({
      model: 'claude-test',
      max_tokens: 100,
      system: 'be brief',
      messages: [{ role: 'user', content: 'what is a switchyard?' }],
    });
    expect(msg.type).toBe('message');
    expect(msg.role).toBe('assistant');
    expect(msg.content).toEqual([{ type: 'text', text: answerTokens('be brief\nwhat is a switchyard?', 8).join('') }]);
    expect(msg.stop_reason).toBe('end_turn');
    const prompt = encode('be brief').length + encode('what is a switchyard?').length + 9;
    expect(msg.usage).toEqual({ input_tokens: prompt, output_tokens: 8, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
  });

  it("counts a text document's and a search result's text as prompt, as Anthropic does (a 2,000-token document reported 10 input tokens)", async () => {
    const doc = 'The harbour lighthouse was built of granite in the year of the great storm. '.repeat(150);
    const bare = await client.messages.create({ model: 'claude-test', max_tokens: 10, messages: [{ role: 'user', content: 'Summarise.' }] });
    const withDoc = await client.messages.create({
      model: 'claude-test',
      max_tokens: 10,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'text', media_type: 'text/plain', data: doc } },
            { type: 'search_result', source: 'https://example.com', title: 'Lighthouse', content: [{ type: 'text', text: doc }] },
            { type: 'text', text: 'Summarise.' },
          ],
        },
      ],
    });
    expect(withDoc.usage.input_tokens - bare.usage.input_tokens).toBeGreaterThanOrEqual(2 * encode(doc).length);
  });

  it('gives the same text as the OpenAI wire for the same conversation', async () => {
    const msg = await client.messages.create({ model: 'claude-test', max_tokens: 100, messages: [{ role: 'user', content: 'shared' }] });
    const raw = await post(`${sim.url}/v1/chat/completions`, { model: 'gpt-x', messages: [{ role: 'user', content: 'shared' }] });
    const openai = JSON.parse(raw.text) as { choices: { message: { content: string } }[] };
    expect(msg.content[0]?.type === 'text' ? msg.content[0].text : '').toBe(openai.choices[0]?.message.content);
  });

  it('splits cached tokens out of input_tokens', async () => {
    const msg = await client.messages.create({ model: 'claude-cached', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    const prompt = encode('hi').length + 6;
    expect(msg.usage.cache_read_input_tokens).toBe(5);
    expect(msg.usage.input_tokens).toBe(prompt - 5);
  });

  it('reports cacheWriteTokens as cache_creation_input_tokens, out of input_tokens', async () => {
    const msg = await client.messages.create({ model: 'claude-written', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    const prompt = encode('hi').length + 6;
    expect(msg.usage).toMatchObject({ cache_read_input_tokens: 2, cache_creation_input_tokens: 3, input_tokens: prompt - 5 });
  });

  it('answers thinking: enabled with a signed thinking block before the text, billed as output (JSON and stream)', async () => {
    const body = {
      model: 'claude-test',
      max_tokens: 100,
      thinking: { type: 'enabled' as const, budget_tokens: 1024 },
      messages: [{ role: 'user' as const, content: 'think first' }],
    };
    const msg = await client.messages.create(body);
    const thought = answerTokens('thinking:think first', 8).join('');
    expect(msg.content).toEqual([
      { type: 'thinking', thinking: thought, signature: expect.any(String) as unknown },
      { type: 'text', text: answerTokens('think first', 8).join('') },
    ]);
    expect(msg.usage.output_tokens).toBe(16);
    const stream = client.messages.stream(body);
    const deltas: string[] = [];
    stream.on('streamEvent', (e) => e.type === 'content_block_delta' && deltas.push(e.delta.type));
    const final = await stream.finalMessage();
    expect(final.content).toEqual(msg.content);
    expect(deltas.slice(0, 9)).toEqual([...Array<string>(8).fill('thinking_delta'), 'signature_delta']);
    expect(final.usage.output_tokens).toBe(16);
  });

  it('stops before the earliest stop sequence with stop_reason stop_sequence (JSON and stream)', async () => {
    const words = answerTokens('stop somewhere', 8);
    const stop = words[3]!;
    const body = { model: 'claude-test', max_tokens: 100, stop_sequences: ['absent', stop], messages: [{ role: 'user' as const, content: 'stop somewhere' }] };
    const msg = await client.messages.create(body);
    expect(msg).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: stop, content: [{ type: 'text', text: words.slice(0, 3).join('') }] });
    const final = await client.messages.stream(body).finalMessage();
    expect(final).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: stop, content: [{ type: 'text', text: words.slice(0, 3).join('') }] });
  });

  it('streams the real event sequence and the SDK assembles the message', async () => {
    const stream = client.messages.stream({ model: 'claude-test', max_tokens: 100, messages: [{ role: 'user', content: 'stream me' }] });
    const types: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    const final = await stream.finalMessage();
    expect(final.content).toHaveLength(1);
    expect(final.content[0]).toMatchObject({ type: 'text', text: answerTokens('stream me', 8).join('') });
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBe(8);
    // The SDK swallows `ping`; the raw test below checks it.
    expect(types).toEqual([
      'message_start',
      'content_block_start',
      ...Array<string>(8).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });

  it('sends every event as `event: X` with a matching data.type', async () => {
    const raw = await post(`${sim.url}/anthropic/v1/messages`, messagesBody({ stream: true }), { headers: ANTHROPIC_HEADERS });
    const events = parseSse(raw.text);
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      ...Array<string>(8).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    for (const e of events) expect((JSON.parse(e.data) as { type: string }).type).toBe(e.event);
    const start = JSON.parse(events[0]!.data) as { message: { usage: { input_tokens: number } } };
    expect(start.message.usage.input_tokens).toBe(encode('hello there').length + 6);
  });

  it('stops at max_tokens with stop_reason max_tokens', async () => {
    const msg = await client.messages.create({ model: 'claude-test', max_tokens: 3, messages: [{ role: 'user', content: 'hello there' }] });
    expect(msg.stop_reason).toBe('max_tokens');
    expect(msg.usage.output_tokens).toBe(3);
    expect(msg.content[0]?.type === 'text' ? msg.content[0].text : '').toBe(answerTokens('hello there', 3).join(''));
  });

  it('a refusal fault ends as Claude ends a refusal: stop_reason refusal (it was end_turn, so through the chat API it read as an ordinary answer)', async () => {
    for (const stream of [false, true]) {
      sim.setFault('claude-test', { kind: 'refusal', times: 1 });
      const ask = { model: 'claude-test', max_tokens: 50, messages: [{ role: 'user' as const, content: 'refuse me' }] };
      const msg = stream ? await client.messages.stream(ask).finalMessage() : await client.messages.create(ask);
      expect(msg.stop_reason).toBe('refusal');
      expect(msg.content[0]?.type === 'text' ? msg.content[0].text : '').toMatch(/sorry/i);
    }
  });

  it("a tool_use input takes the shape of the tool's input_schema", async () => {
    const msg = await client.messages.create({
      model: 'claude-test',
      max_tokens: 100,
      tools: [
        {
          name: 'get_weather',
          input_schema: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1 } }, required: ['city'] },
        },
      ],
      tool_choice: { type: 'any' },
      messages: [{ role: 'user', content: 'weather?' }],
    });
    expect(msg.content[0]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'weather?', days: 1 } });
  });

  it('calls a tool (first, or the named one) with tool_use, non-streaming', async () => {
    const text = 'Please look up the maintenance schedule for line four';
    const msg = await client.messages.create({ model: 'claude-test', max_tokens: 100, tools, messages: [{ role: 'user', content: text }] });
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content[0]).toMatchObject({ type: 'tool_use', name: 'lookup', input: { input: text.slice(0, 40) } });
    const named = await client.messages.create({
      model: 'claude-test',
      max_tokens: 100,
      tools,
      tool_choice: { type: 'tool', name: 'weather' },
      messages: [{ role: 'user', content: text }],
    });
    expect(named.content[0]).toMatchObject({ type: 'tool_use', name: 'weather' });
  });

  it('streams a tool call as tool_use block plus input_json_delta pieces', async () => {
    const stream = client.messages.stream({ model: 'claude-test', max_tokens: 100, tools, messages: [{ role: 'user', content: 'find it' }] });
    const partials: string[] = [];
    stream.on('streamEvent', (e) => {
      if (e.type === 'content_block_delta' && e.delta.type === 'input_json_delta') partials.push(e.delta.partial_json);
    });
    const final = await stream.finalMessage();
    expect(partials.length).toBeGreaterThanOrEqual(2);
    expect(final.content[0]).toMatchObject({ type: 'tool_use', name: 'lookup', input: { input: 'find it' } });
    expect(final.stop_reason).toBe('tool_use');
  });

  it('answers text after a tool_result and when tool_choice is none', async () => {
    const after = await client.messages.create({
      model: 'claude-test',
      max_tokens: 100,
      tools,
      messages: [
        { role: 'user', content: 'find it' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'found' }] },
      ],
    });
    expect(after.stop_reason).toBe('end_turn');
    expect(after.content[0]?.type).toBe('text');
    const none = await client.messages.create({
      model: 'claude-test',
      max_tokens: 100,
      tools,
      tool_choice: { type: 'none' },
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(none.content[0]?.type).toBe('text');
  });

  it('requires anthropic-version and max_tokens, as the real API does', async () => {
    const noVersion = await post(`${sim.url}/anthropic/v1/messages`, messagesBody(), { headers: { 'x-api-key': 'k' } });
    expect(noVersion.status).toBe(400);
    expect(JSON.parse(noVersion.text)).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringContaining('anthropic-version') },
    });
    const noMax = await post(
      `${sim.url}/anthropic/v1/messages`,
      { model: 'claude-test', messages: [{ role: 'user', content: 'x' }] },
      { headers: ANTHROPIC_HEADERS },
    );
    expect(noMax.status).toBe(400);
    expect(noMax.text).toContain('max_tokens');
  });

  it('routes /messages without /v1 and records the provider prefix', async () => {
    sim.resetLog();
    const raw = await post(`${sim.url}/claude-relay/messages`, messagesBody(), { headers: ANTHROPIC_HEADERS });
    expect(raw.status).toBe(200);
    expect(sim.log()).toMatchObject([{ provider: 'claude-relay', wire: 'anthropic', model: 'claude-test', authPresent: true }]);
  });

  it('surfaces simulator faults to the SDK: 529 as APIError, an in-stream error event as a throw', async () => {
    sim.setFault('claude-test', { kind: 'http_error', status: 529, times: 1 });
    await expect(client.messages.create({ model: 'claude-test', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({
      status: 529,
    });
    sim.setFault('claude-test', { kind: 'stream_error_event', afterTokens: 2, times: 1 });
    const stream = client.messages.stream({ model: 'claude-test', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] });
    await expect(stream.finalMessage()).rejects.toThrow(/Overloaded/);
    const ok = await client.messages.create({ model: 'claude-test', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
    expect(ok.stop_reason).toBe('max_tokens');
  });
});
