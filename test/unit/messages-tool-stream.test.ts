/**
 * Tool calls from an OpenAI-kind upstream, answered to a Messages client: every call one whole
 * `tool_use` block whatever order the upstream sent its pieces in (Gemini's OpenAI-compatible API
 * leaves out `index` or numbers every call 0; some upstreams interleave two calls), and
 * `stop_reason: tool_use` whenever the answer calls a tool (Gemini ends tool calls with `stop`).
 * The events are read back by the official SDK's own stream accumulator, as a client reads them.
 */
import { MessageStream } from '@anthropic-ai/sdk/lib/MessageStream';
import { describe, expect, it } from 'vitest';
import { messageOfCompletion, MessagesStreamWriter, PING_EVERY_MS } from '../../src/apis/messages-output.js';

type Chunk = Record<string, unknown>;
const delta = (d: Record<string, unknown>, finish: string | null = null): Chunk => ({ choices: [{ index: 0, delta: d, finish_reason: finish }] });
const call = (piece: Record<string, unknown>): Chunk => delta({ tool_calls: [piece] });

/** The writer's events for these chunks, and the message the SDK's accumulator makes of them. */
async function relay(chunks: Chunk[]): Promise<{ events: Array<Record<string, unknown>>; message: Awaited<ReturnType<MessageStream['finalMessage']>> }> {
  const events: Array<Record<string, unknown>> = [];
  const w = new MessagesStreamWriter((_name, data) => (events.push(data), true), 'gemini-2.5-flash');
  w.start(5);
  for (const c of chunks) w.chunk(c);
  w.chunk({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 9 } });
  w.done();
  const lines = events.map((e) => `${JSON.stringify(e)}\n`).join('');
  const body = new ReadableStream({
    start(ctl) {
      ctl.enqueue(new TextEncoder().encode(lines));
      ctl.close();
    },
  });
  return { events, message: await MessageStream.fromReadableStream(body).finalMessage() };
}

/** The writer's events only (a stream that ends in an error event is no message). */
function relayEvents(chunks: Chunk[]): Promise<{ events: Array<Record<string, unknown>> }> {
  const events: Array<Record<string, unknown>> = [];
  const w = new MessagesStreamWriter((_name, data) => (events.push(data), true), 'gemini-2.5-flash');
  w.start(5);
  for (const c of chunks) w.chunk(c);
  w.done();
  return Promise.resolve({ events });
}

const toolUses = (content: Array<{ type: string }>) => content.filter((b) => b.type === 'tool_use');

describe('tool calls of an OpenAI-kind answer, as Messages', () => {
  it('two calls without index (Gemini): two whole blocks, stop_reason tool_use though the upstream said stop', async () => {
    const { message } = await relay([
      call({ id: 'call_x', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }),
      call({ id: 'call_y', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }),
      delta({}, 'stop'),
    ]);
    expect(toolUses(message.content)).toEqual([
      { type: 'tool_use', id: 'call_x', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_y', name: 'get_weather', input: { city: 'Rome' } },
    ]);
    expect(message.stop_reason).toBe('tool_use');
  });

  it('every call numbered 0 with its own id: a new id is a new call', async () => {
    const { message } = await relay([
      call({ index: 0, id: 'a', function: { name: 'f', arguments: '{"n":' } }),
      call({ index: 0, function: { arguments: '1}' } }),
      call({ index: 0, id: 'b', function: { name: 'g', arguments: '{"n":2}' } }),
      delta({}, 'tool_calls'),
    ]);
    expect(toolUses(message.content)).toEqual([
      { type: 'tool_use', id: 'a', name: 'f', input: { n: 1 } },
      { type: 'tool_use', id: 'b', name: 'g', input: { n: 2 } },
    ]);
  });

  it("two calls' pieces interleaved: each block holds its own call's arguments, nothing opened with an empty id or name", async () => {
    const { events, message } = await relay([
      call({ index: 0, id: 'a', function: { name: 'f', arguments: '' } }),
      call({ index: 1, id: 'b', function: { name: 'g', arguments: '' } }),
      call({ index: 0, function: { arguments: '{"x":' } }),
      call({ index: 1, function: { arguments: '{"y":' } }),
      call({ index: 0, function: { arguments: '"p"}' } }),
      call({ index: 1, function: { arguments: '"q"}' } }),
      delta({}, 'tool_calls'),
    ]);
    expect(toolUses(message.content)).toEqual([
      { type: 'tool_use', id: 'a', name: 'f', input: { x: 'p' } },
      { type: 'tool_use', id: 'b', name: 'g', input: { y: 'q' } },
    ]);
    const starts = events.filter((e) => e.type === 'content_block_start').map((e) => e.content_block as { id?: string; name?: string });
    expect(starts.every((b) => b.id !== '' && b.name !== '')).toBe(true);
  });

  it('text, then a call in the usual OpenAI pieces: the text block first, then the call, a length cut stays max_tokens', async () => {
    const { message } = await relay([
      delta({ content: 'Let me ' }),
      delta({ content: 'check.' }),
      call({ index: 0, id: 'c', type: 'function', function: { name: 'f', arguments: '' } }),
      call({ index: 0, function: { arguments: '{"q":"a b"}' } }),
      delta({}, 'length'),
    ]);
    expect(message.content).toEqual([
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'c', name: 'f', input: { q: 'a b' } },
    ]);
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.usage).toMatchObject({ input_tokens: 5, output_tokens: 9 });
  });

  it('a call without an id gets one; blank arguments are an empty input', async () => {
    const { message } = await relay([call({ index: 0, function: { name: 'f', arguments: '' } }), delta({}, 'tool_calls')]);
    const [use] = toolUses(message.content) as unknown as Array<{ id: string; input: unknown }>;
    expect(use!.id).toMatch(/^toolu_[0-9a-f]{24}$/);
    expect(use!.input).toEqual({});
  });

  it('arguments that are not a JSON object end the stream with an error event, never a tool_use the client would run with no arguments; cut by max_tokens, the call stays', async () => {
    const { events } = await relayEvents([call({ index: 0, function: { name: 'f', arguments: '{"cut' } }), delta({}, 'tool_calls')]);
    expect(events.at(-1)).toMatchObject({
      type: 'error',
      error: { type: 'api_error', message: expect.stringMatching(/call of tool f has arguments that are not a JSON object/) },
    });
    expect(events.some((e) => e.type === 'message_stop')).toBe(false);
    const cut = await relay([call({ index: 0, function: { name: 'f', arguments: '{"cut' } }), delta({}, 'length')]);
    expect(cut.message.stop_reason).toBe('max_tokens');
  });

  it('a call cut by max_tokens keeps the arguments it had: the SDK reads a partial input, as from a cut Anthropic stream (it was {})', async () => {
    const { message } = await relay([
      call({ index: 0, id: 'c', function: { name: 'get_weather', arguments: '{"city":"Paris","days":[1,2' } }),
      delta({}, 'length'),
    ]);
    expect(toolUses(message.content)).toEqual([{ type: 'tool_use', id: 'c', name: 'get_weather', input: { city: 'Paris', days: [1] } }]);
    expect(message.stop_reason).toBe('max_tokens');
  });

  it('a JSON answer with tool calls and finish_reason stop says tool_use; without calls, end_turn', () => {
    const withCall = messageOfCompletion({
      choices: [{ message: { content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'stop' }],
    });
    expect(withCall.stop_reason).toBe('tool_use');
    expect(messageOfCompletion({ choices: [{ message: { content: 'hi' }, finish_reason: 'stop' }] }).stop_reason).toBe('end_turn');
  });
});

describe('a long tool call', () => {
  it('pings every PING_EVERY_MS while its arguments are gathered (nothing else is written until the answer ends)', () => {
    let t = 0;
    const names: string[] = [];
    const w = new MessagesStreamWriter(
      (name) => (names.push(name), true),
      'gemini-2.5-flash',
      () => t,
    );
    w.start(5);
    w.chunk(call({ index: 0, id: 'c1', function: { name: 'f', arguments: '' } }));
    // A piece every second for 12 s: pings at 5 s and 10 s after the first piece.
    for (let i = 1; i <= 12; i++) {
      t += 1000;
      w.chunk(call({ index: 0, function: { arguments: i === 12 ? '{}' : ' ' } }));
    }
    expect(names).toEqual(['message_start', 'ping', 'ping', 'ping']);
    expect(PING_EVERY_MS).toBe(5000);
  });
});

describe("a long reasoning phase (DeepSeek's reasoning_content, OpenRouter's reasoning) before the answer", () => {
  it('pings every PING_EVERY_MS while the model reasons (the reasoning has no Messages form; nothing was written for minutes)', () => {
    let t = 0;
    const names: string[] = [];
    const w = new MessagesStreamWriter(
      (name) => (names.push(name), true),
      'deepseek-reasoner',
      () => t,
    );
    w.start(5);
    w.chunk(delta({ role: 'assistant', content: null, reasoning_content: 'Let me think.' }));
    for (let i = 1; i <= 12; i++) {
      t += 1000;
      w.chunk(delta(i % 2 === 0 ? { reasoning: ' more' } : { reasoning_content: ' more' }));
    }
    expect(names).toEqual(['message_start', 'ping', 'ping', 'ping']);
  });
});
