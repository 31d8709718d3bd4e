import { describe, expect, it } from 'vitest';
import { anthropicAdapter } from '../../src/upstream/adapters/anthropic.js';

/** A recorded-shape Messages response with text and a tool call. */
const MESSAGE = {
  id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5-20250929',
  content: [
    { type: 'thinking', thinking: 'The user wants weather.', signature: 'EqQB' },
    { type: 'text', text: "I'll check the weather." },
    { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'get_weather', input: { location: 'San Francisco, CA', unit: 'celsius' } },
  ],
  stop_reason: 'tool_use',
  stop_sequence: null,
  usage: { input_tokens: 100, output_tokens: 50, cache_read_input_tokens: 2000, cache_creation_input_tokens: 300 },
};

const withStop = (stop_reason: string): Record<string, unknown> => ({
  ...MESSAGE,
  content: [{ type: 'text', text: 'ok' }],
  stop_reason,
});

describe('anthropic parseCompletion', () => {
  it('builds an OpenAI chat.completion with text, tool calls, finish_reason and usage', () => {
    const before = Math.floor(Date.now() / 1000);
    const { completion, usage, text } = anthropicAdapter.parseCompletion(MESSAGE);
    expect(completion).toEqual({
      id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
      object: 'chat.completion',
      created: expect.any(Number) as number,
      model: 'claude-sonnet-4-5-20250929',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: "I'll check the weather.",
            // OpenAI's message always carries it.
            refusal: null,
            // The thinking block, as DeepSeek's reasoning_content (as the stream shows it).
            reasoning_content: 'The user wants weather.',
            tool_calls: [
              {
                id: 'toolu_01A09q90qw90lq917835lq9',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"celsius"}' },
              },
            ],
          },
          finish_reason: 'tool_calls',
          logprobs: null,
        },
      ],
      // Cache writes shown as OpenRouter shows them (they were dropped: the cost could not be worked out from the usage).
      usage: {
        prompt_tokens: 2400,
        completion_tokens: 50,
        total_tokens: 2450,
        prompt_tokens_details: { cached_tokens: 2000, cache_write_tokens: 300 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
    });
    expect(completion.created).toBeGreaterThanOrEqual(before);
    expect(usage).toEqual({ promptTokens: 2400, completionTokens: 50, cachedTokens: 2000, cacheCreationTokens: 300 });
    expect(text).toBe("I'll check the weather.");
  });

  it('gives content null when the answer is only a tool call', () => {
    const { completion } = anthropicAdapter.parseCompletion({ ...MESSAGE, content: [MESSAGE.content[2]] });
    const choice = (completion.choices as Array<{ message: Record<string, unknown> }>)[0]!;
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toHaveLength(1);
  });

  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['tool_use', 'tool_calls'],
    // A refusal of words alone is OpenAI's refusal (finish stop, the words in `refusal`): test/unit/apis.test.ts.
    ['refusal', 'stop'],
    ['pause_turn', 'stop'],
  ])('maps stop_reason %s to finish_reason %s', (stop, finish) => {
    const { completion } = anthropicAdapter.parseCompletion(withStop(stop));
    expect((completion.choices as Array<{ finish_reason: string }>)[0]!.finish_reason).toBe(finish);
  });

  it('reports no cached tokens when there was no cache use', () => {
    const { completion, usage } = anthropicAdapter.parseCompletion({ ...withStop('end_turn'), usage: { input_tokens: 12, output_tokens: 3 } });
    expect(usage).toEqual({ promptTokens: 12, completionTokens: 3 });
    // completion_tokens_details as OpenAI's answers and the streamed usage chunk have it (it was missing).
    expect(completion.usage).toEqual({
      prompt_tokens: 12,
      completion_tokens: 3,
      total_tokens: 15,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
  });

  it('gives the output besides the text (thinking, tool names and inputs) for estimates when the usage misses a count, and nothing to read when it has them', () => {
    const { usage: _u, ...noUsage } = MESSAGE;
    const { other } = anthropicAdapter.parseCompletion(noUsage);
    expect(other).toBe('The user wants weather.get_weather{"location":"San Francisco, CA","unit":"celsius"}');
    expect(anthropicAdapter.parseCompletion({ ...MESSAGE, usage: { input_tokens: 100, output_tokens: 0 } }).other).toBe(other);
    expect(anthropicAdapter.parseCompletion(MESSAGE).other).toBe('');
  });

  it('throws when the body is not a Messages response', () => {
    expect(() => anthropicAdapter.parseCompletion({ choices: [] })).toThrow(/not an Anthropic Messages response/);
    expect(() => anthropicAdapter.parseCompletion({ type: 'error', error: { type: 'api_error', message: 'x' } })).toThrow();
    expect(() => anthropicAdapter.parseCompletion(null)).toThrow();
    expect(() => anthropicAdapter.parseCompletion({ ...MESSAGE, type: 'chat.completion' })).toThrow();
  });
});

const errorBody = (type: string, message: string): string => JSON.stringify({ type: 'error', error: { type, message } });

describe('anthropic parseError', () => {
  it.each([
    [529, 'overloaded_error', 'Overloaded', 'overloaded_error'],
    [429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit', 'rate_limit_error'],
    [401, 'authentication_error', 'invalid x-api-key', 'authentication_error'],
    [400, 'invalid_request_error', 'max_tokens: Field required', 'invalid_request_error'],
    [400, 'invalid_request_error', 'prompt is too long: 208432 tokens > 200000 maximum', 'context_length_exceeded'],
    [400, 'invalid_request_error', 'input length and `max_tokens` exceed context limit: 199000 + 8192 > 200000', 'context_length_exceeded'],
    [400, 'invalid_request_error', 'Request has too many tokens', 'context_length_exceeded'],
  ])('status %i %s "%s" → code %s', (status, type, message, code) => {
    expect(anthropicAdapter.parseError(status, errorBody(type, message))).toEqual({ message, type, code, param: null });
  });

  it('keeps the raw text, truncated, when the body is not JSON', () => {
    const html = `<html>${'x'.repeat(1000)}</html>`;
    const info = anthropicAdapter.parseError(502, html);
    expect(info).toMatchObject({ type: null, code: null, param: null });
    expect(info.message).toBe(html.slice(0, 300));
    expect(anthropicAdapter.parseError(503, '').message).toBe('upstream status 503');
  });
});
