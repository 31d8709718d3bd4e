/**
 * The adapter against the simulator's Anthropic wire: what buildRequest sends is accepted, and
 * what comes back (whole, streamed, or an error) is read into the OpenAI format.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { anthropicAdapter } from '../../src/upstream/adapters/anthropic.js';
import type { BuildInput } from '../../src/upstream/adapters/types.js';
import { SseParser } from '../../src/upstream/sse.js';
import type { ChatBody, StreamPiece } from '../../src/upstream/types.js';

let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({
    port: 0,
    profile: {
      defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 8 },
      models: { 'claude-cached': { cachedTokens: 5 }, 'claude-small': { contextWindow: 50 }, 'claude-auth': { requireAuth: true } },
    },
  });
});
afterAll(async () => {
  await sim.close();
});

function build(body: Partial<ChatBody>, over: Partial<BuildInput> = {}): BuildInput {
  return {
    body: {
      model: 'x',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'what is a switchyard?' },
      ],
      ...body,
    },
    upstreamModel: 'claude-test',
    stream: false,
    apiKey: 'sk-ant-test',
    headers: {},
    basePath: '/anthropic',
    maxOutputTokens: 100,
    anthropicVersion: '2023-06-01',
    prefill: null,
    ...over,
  };
}

async function call(inp: BuildInput): Promise<{ status: number; text: string }> {
  const req = anthropicAdapter.buildRequest(inp);
  const res = await request(`${sim.url}${req.path}`, { method: 'POST', headers: req.headers, body: req.body });
  return { status: res.statusCode, text: await res.body.text() };
}

async function complete(inp: BuildInput): Promise<ReturnType<typeof anthropicAdapter.parseCompletion>> {
  const res = await call(inp);
  expect(res.status).toBe(200);
  return anthropicAdapter.parseCompletion(JSON.parse(res.text));
}

async function stream(inp: BuildInput): Promise<StreamPiece[]> {
  const res = await call({ ...inp, stream: true });
  expect(res.status).toBe(200);
  const parser = new SseParser();
  const decoder = anthropicAdapter.streamDecoder();
  return [...parser.push(res.text), ...parser.end()].flatMap((ev) => decoder.decode(ev));
}

const streamedText = (pieces: StreamPiece[]): string => pieces.map((p) => (p.type === 'chunk' ? p.text : '')).join('');

describe('anthropic adapter ⇄ simulator', () => {
  it('non-streaming: a chat.completion with text, stop and usage including cache reads', async () => {
    const { completion, usage, text } = await complete(build({}, { upstreamModel: 'claude-cached' }));
    expect(text.length).toBeGreaterThan(0);
    expect(completion).toMatchObject({ object: 'chat.completion', choices: [{ message: { role: 'assistant', content: text }, finish_reason: 'stop' }] });
    expect(usage?.completionTokens).toBe(8);
    expect(usage?.cachedTokens).toBe(5);
    expect(completion.usage).toMatchObject({ prompt_tokens: usage?.promptTokens, prompt_tokens_details: { cached_tokens: 5 } });
  });

  it('streaming gives the same text, a finish, the same usage and done', async () => {
    const whole = await complete(build({}));
    const pieces = await stream(build({}));
    expect(streamedText(pieces)).toBe(whole.text);
    expect(pieces.filter((p) => p.type === 'chunk' && p.finishReason === 'stop')).toHaveLength(1);
    // The last counts are the answer's (message_start's come first: the input, and a floor for the output).
    expect(pieces.filter((p) => p.type === 'usage').at(-1)).toEqual({ type: 'usage', usage: whole.usage });
    expect(pieces[pieces.length - 1]).toEqual({ type: 'done' });
  });

  it('tools: the tool call comes back with JSON arguments, whole and streamed', async () => {
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }];
    const { completion } = await complete(build({ tools, tool_choice: 'required' }));
    const choice = (
      completion.choices as Array<{ finish_reason: string; message: { tool_calls: Array<{ function: { name: string; arguments: string } }> } }>
    )[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.tool_calls[0]!.function.name).toBe('lookup');
    const args = choice.message.tool_calls[0]!.function.arguments;
    expect(() => JSON.parse(args) as unknown).not.toThrow();
    const pieces = await stream(build({ tools }));
    const streamedArgs = pieces
      .flatMap((p) => (p.type === 'chunk' ? ((p.chunk.choices[0]!.delta.tool_calls as Array<{ function: { arguments: string } }> | undefined) ?? []) : []))
      .map((t) => t.function.arguments)
      .join('');
    expect(streamedArgs).toBe(args);
  });

  it('a prefill ending in whitespace is accepted (it is trimmed) and continued', async () => {
    const whole = await complete(build({}));
    const firstWord = whole.text.split(' ')[0]!;
    const res = await call(build({}, { prefill: `${firstWord} ` }));
    expect(res.status).toBe(200);
    const cont = anthropicAdapter.parseCompletion(JSON.parse(res.text));
    // The continuation restarts where the trimmed prefill ends, so it re-emits the space the
    // client already has: the seam subtlety described at appendPrefill.
    expect(firstWord + cont.text).toBe(whole.text);
    expect(cont.text.startsWith(' ')).toBe(true);
  });

  it('errors: context window and authentication are read into codes', async () => {
    const big = await call(build({ messages: [{ role: 'user', content: 'word '.repeat(80) }] }, { upstreamModel: 'claude-small' }));
    expect(big.status).toBe(400);
    expect(anthropicAdapter.parseError(big.status, big.text)).toMatchObject({ type: 'invalid_request_error', code: 'context_length_exceeded' });
    const anon = await call(build({}, { upstreamModel: 'claude-auth', apiKey: undefined }));
    expect(anon.status).toBe(401);
    expect(anthropicAdapter.parseError(anon.status, anon.text)).toMatchObject({ type: 'authentication_error', code: 'authentication_error' });
  });
});
