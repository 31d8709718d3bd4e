/**
 * The OpenAI adapter's `developer` role: kept for OpenAI's and Azure OpenAI's APIs, sent as
 * `system` to every other OpenAI-compatible API (DeepSeek refuses the role with a 400).
 */
import { describe, expect, it } from 'vitest';
import { isOpenAIHost } from '../../src/runtime/attempt.js';
import { openaiAdapter } from '../../src/upstream/adapters/openai.js';
import type { BuildInput } from '../../src/upstream/adapters/types.js';
import type { ChatBody } from '../../src/upstream/types.js';

function sentRoles(body: ChatBody, developerRole: boolean | undefined, prefill: string | null = null): string[] {
  const input: BuildInput = {
    body,
    upstreamModel: 'up',
    stream: false,
    apiKey: 'k',
    headers: {},
    basePath: '/v1',
    maxOutputTokens: 100,
    ...(developerRole === undefined ? {} : { developerRole }),
    anthropicVersion: '2023-06-01',
    prefill,
  };
  return (JSON.parse(openaiAdapter.buildRequest(input).body) as ChatBody).messages.map((m) => m.role);
}

describe('the developer role on OpenAI-kind upstreams', () => {
  it("is kept on OpenAI's and Azure OpenAI's APIs, which define it", () => {
    for (const own of ['https://api.openai.com/v1', 'https://my-res.openai.azure.com/openai/v1', 'https://my-proj.services.ai.azure.com/openai/v1'])
      expect(isOpenAIHost(own), own).toBe(true);
    for (const other of ['https://api.deepseek.com', 'https://generativelanguage.googleapis.com/v1beta/openai', 'http://127.0.0.1:4000/v1', 'not a url'])
      expect(isOpenAIHost(other), other).toBe(false);
    const body: ChatBody = {
      model: 'm',
      messages: [
        { role: 'developer', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ],
    };
    expect(sentRoles(body, true)).toEqual(['developer', 'user']);
    expect(sentRoles(body, undefined)).toEqual(['developer', 'user']);
  });

  it('goes as system elsewhere, wherever it is, the request itself untouched and a continuation after it', () => {
    const body: ChatBody = {
      model: 'm',
      messages: [
        { role: 'developer', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'Hi!' },
        { role: 'developer', content: 'German now.' },
        { role: 'user', content: 'again' },
      ],
    };
    expect(sentRoles(body, false)).toEqual(['system', 'user', 'assistant', 'system', 'user']);
    expect(sentRoles(body, false, 'Hallo')).toEqual(['system', 'user', 'assistant', 'system', 'user', 'assistant']);
    expect(body.messages.map((m) => m.role)).toEqual(['developer', 'user', 'assistant', 'developer', 'user']);
  });
});
