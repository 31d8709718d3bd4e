import { describe, expect, it } from 'vitest';
import { withHeldUsage } from '../../src/runtime/held-usage.js';

const held = { promptTokens: 30, completionTokens: 100, cachedTokens: 10, reasoningTokens: 40 };

describe('withHeldUsage: the body shows the counts billed, in its own API convention', () => {
  it('OpenAI chat: prompt, completion, total and the details it has; the body itself unchanged', () => {
    const body = {
      id: 'c',
      model: 'x',
      usage: {
        prompt_tokens: 1e15,
        completion_tokens: 1e15,
        total_tokens: 2e15,
        prompt_tokens_details: { cached_tokens: 1e15, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 1e15 },
      },
    };
    const out = withHeldUsage(body, held);
    expect(out.usage).toEqual({
      prompt_tokens: 30,
      completion_tokens: 100,
      total_tokens: 130,
      prompt_tokens_details: { cached_tokens: 10, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 40 },
    });
    expect(out.id).toBe('c');
    expect(body.usage.prompt_tokens).toBe(1e15);
  });

  it('OpenAI chat from a relay: its cache-write count shows the writes billed (none, when the over-bound prompt was billed as plain input)', () => {
    const out = withHeldUsage(
      {
        usage: {
          prompt_tokens: 1234,
          completion_tokens: 5,
          total_tokens: 1239,
          cache_write_tokens: 100,
          prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 100 },
        },
      },
      {
        promptTokens: 284,
        completionTokens: 5,
      },
    );
    expect(out.usage).toEqual({
      prompt_tokens: 284,
      completion_tokens: 5,
      total_tokens: 289,
      cache_write_tokens: 0,
      prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
    });
  });

  it('Anthropic Messages: input_tokens leaves out cache reads and writes', () => {
    const body = { type: 'message', usage: { input_tokens: 1e9, output_tokens: 1e9, cache_read_input_tokens: 1e9, cache_creation_input_tokens: 0 } };
    expect(withHeldUsage(body, { ...held, cacheCreationTokens: 5 }).usage).toEqual({
      input_tokens: 15,
      output_tokens: 100,
      cache_read_input_tokens: 10,
      cache_creation_input_tokens: 5,
    });
  });

  it('Anthropic Messages: the cache writes split by lifetime are written too (they kept the upstream 5,000,000)', () => {
    const body = {
      type: 'message',
      usage: {
        input_tokens: 1e6,
        output_tokens: 1e5,
        cache_read_input_tokens: 5e6,
        cache_creation_input_tokens: 5e6,
        cache_creation: { ephemeral_5m_input_tokens: 5e6, ephemeral_1h_input_tokens: 0 },
      },
    };
    expect(withHeldUsage(body, { promptTokens: 93, completionTokens: 100, cachedTokens: 0 }).usage).toEqual({
      input_tokens: 93,
      output_tokens: 100,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    });
  });

  it('OpenAI Responses: input_tokens includes cached tokens', () => {
    const body = {
      object: 'response',
      usage: {
        input_tokens: 1e9,
        output_tokens: 1e9,
        total_tokens: 2e9,
        input_tokens_details: { cached_tokens: 1e9 },
        output_tokens_details: { reasoning_tokens: 1e9 },
      },
    };
    expect(withHeldUsage(body, held).usage).toEqual({
      input_tokens: 30,
      output_tokens: 100,
      total_tokens: 130,
      input_tokens_details: { cached_tokens: 10 },
      output_tokens_details: { reasoning_tokens: 40 },
    });
  });

  it('a chat usage that could not be read (no total_tokens) gets its total too', () => {
    expect(withHeldUsage({ object: 'chat.completion', usage: { prompt_tokens: 'x', completion_tokens: -1 } }, held).usage).toEqual({
      prompt_tokens: 30,
      completion_tokens: 100,
      total_tokens: 130,
    });
  });

  it('embeddings (no completion_tokens) and bodies without usage', () => {
    expect(withHeldUsage({ object: 'list', usage: { prompt_tokens: 1e12, total_tokens: 1e12 } }, held).usage).toEqual({ prompt_tokens: 30, total_tokens: 30 });
    // A body with none gets one in its API's shape (the counts billed, estimated).
    expect(withHeldUsage({ id: 'x', object: 'chat.completion' }, held).usage).toEqual({ prompt_tokens: 30, completion_tokens: 100, total_tokens: 130 });
    expect(withHeldUsage({ type: 'message' }, held).usage).toEqual({ input_tokens: 30, output_tokens: 100 });
    expect(withHeldUsage({ object: 'response' }, held).usage).toEqual({ input_tokens: 30, output_tokens: 100, total_tokens: 130 });
  });
});
