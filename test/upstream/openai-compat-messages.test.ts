/**
 * The OpenAI adapter's messages for an OpenAI-compatible API other than OpenAI's own: the
 * `developer` role as `system`, and text parts of a non-user message as one string (DeepSeek
 * refuses both forms with a 400); OpenAI's and Azure OpenAI's APIs get them as written.
 */
import { describe, expect, it } from 'vitest';
import { isGeminiHost, isOpenAIHost } from '../../src/runtime/attempt.js';
import { openaiAdapter } from '../../src/upstream/adapters/openai.js';
import type { BuildInput } from '../../src/upstream/adapters/types.js';
import type { ChatBody } from '../../src/upstream/types.js';

/** The body the OpenAI adapter sends upstream for `body`, with `over` set on its input. */
function sentBody(body: ChatBody, over: Partial<BuildInput> = {}): Record<string, unknown> {
  const input: BuildInput = {
    body,
    upstreamModel: 'up',
    stream: false,
    apiKey: 'k',
    headers: {},
    basePath: '/v1',
    maxOutputTokens: 100,
    anthropicVersion: '2023-06-01',
    prefill: null,
    ...over,
  };
  return JSON.parse(openaiAdapter.buildRequest(input).body) as Record<string, unknown>;
}

const sent = (body: ChatBody, openaiHost: boolean | undefined, prefill: string | null = null): ChatBody['messages'] =>
  (sentBody(body, { prefill, ...(openaiHost === undefined ? {} : { openaiHost }) }) as unknown as ChatBody).messages;

const sentRoles = (body: ChatBody, openaiHost: boolean | undefined, prefill: string | null = null): string[] =>
  sent(body, openaiHost, prefill).map((m) => m.role);

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

  it('sends the text parts of a system, developer, assistant or tool message as one string elsewhere; a user message, a part with a marker (cache_control) or an image as written', () => {
    const parts = (...texts: string[]) => texts.map((text) => ({ type: 'text', text }));
    const body: ChatBody = {
      model: 'm',
      messages: [
        { role: 'system', content: parts('You are ', 'terse.') },
        { role: 'developer', content: parts('Answer in German.') },
        { role: 'user', content: parts('Weather', ' in Paris?') },
        { role: 'assistant', content: parts('Let me look.'), tool_calls: [{ id: 'c1', type: 'function', function: { name: 'w', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: parts('sunny, ', '21 C') },
        { role: 'system', content: [{ type: 'text', text: 'cached', cache_control: { type: 'ephemeral' } }] },
      ],
    };
    const out = sent(body, false);
    expect(out.map((m) => [m.role, m.content])).toEqual([
      ['system', 'You are terse.'],
      ['system', 'Answer in German.'],
      ['user', parts('Weather', ' in Paris?')],
      ['assistant', 'Let me look.'],
      ['tool', 'sunny, 21 C'],
      ['system', [{ type: 'text', text: 'cached', cache_control: { type: 'ephemeral' } }]],
    ]);
    expect(out[3]!.tool_calls).toEqual(body.messages[3]!.tool_calls);
    // The tool result names the function its call named (Gemini refuses one without); OpenAI reads it from tool_call_id.
    expect(out[4]!.name).toBe('w');
    expect(sent(body, true)[4]!.name).toBeUndefined();
    expect(sent(body, true).map((m) => m.content)).toEqual(body.messages.map((m) => m.content));
    // The request itself is not changed (a fail-over to OpenAI sends it as written).
    expect(body.messages[0]!.content).toEqual(parts('You are ', 'terse.'));
  });

  it('leaves OpenAI\'s prompt-caching hints out for Google\'s Gemini APIs, which refuse them as unknown fields (Unknown name "prompt_cache_key": Cannot find field); sends them elsewhere', () => {
    for (const google of [
      'https://generativelanguage.googleapis.com/v1beta/openai',
      'https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/endpoints/openapi',
      'https://aiplatform.googleapis.com/v1/projects/p/locations/global/endpoints/openapi',
    ])
      expect(isGeminiHost(google), google).toBe(true);
    for (const other of ['https://api.openai.com/v1', 'https://api.deepseek.com', 'https://googleapis.com.evil.test/v1', 'not a url'])
      expect(isGeminiHost(other), other).toBe(false);
    const body: ChatBody = { model: 'm', messages: [{ role: 'user', content: 'hi' }], prompt_cache_key: 'k', prompt_cache_retention: '24h', user: 'u' };
    const build = (dropCacheHints: boolean) => sentBody(body, { dropCacheHints });
    expect(build(true)).not.toHaveProperty('prompt_cache_key');
    expect(build(true)).not.toHaveProperty('prompt_cache_retention');
    expect(build(true).user).toBe('u');
    expect(build(false)).toMatchObject({ prompt_cache_key: 'k', prompt_cache_retention: '24h' });
    expect(body.prompt_cache_key).toBe('k');
  });
});

describe("OpenAI's stored-completion fields on Google's Gemini APIs", () => {
  it('are left out there (Unknown name "store": Cannot find field, a 400 for every request an SDK or framework sends store: false with), sent elsewhere', () => {
    const body: ChatBody = { model: 'm', messages: [{ role: 'user', content: 'hi' }], store: false, metadata: { app: 'a' }, user: 'u' };
    const gemini = sentBody(body, { dropCacheHints: true });
    expect(gemini).not.toHaveProperty('store');
    expect(gemini).not.toHaveProperty('metadata');
    expect(gemini.user).toBe('u');
    expect(sentBody(body, { dropCacheHints: false })).toMatchObject({ store: false, metadata: { app: 'a' } });
    expect(body.store).toBe(false);
  });
});

describe('a continuation on an OpenAI-kind upstream', () => {
  const body: ChatBody = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

  it('sends the text delivered so far as the final assistant turn', () => {
    expect(sent(body, undefined, 'Once upon')).toEqual([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'Once upon' },
    ]);
  });

  it('with nothing of the answer delivered (a stream a long reasoning phase started), sends no empty assistant turn: some APIs refuse one (Mistral: "Assistant message must have either content or tool_calls"), and to the others it is a finished empty reply', () => {
    for (const host of [true, undefined, false]) expect(sent(body, host, '')).toEqual([{ role: 'user', content: 'hi' }]);
  });
});

describe('an empty tools list', () => {
  it('is left out, as a null is (OpenAI refuses an empty array; the Anthropic translation already left it out)', () => {
    const body = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }], tools: [] } as ChatBody;
    expect(sentBody(body)).not.toHaveProperty('tools');
    const one = { ...body, tools: [{ type: 'function' as const, function: { name: 'f', parameters: { type: 'object' } } }] } as ChatBody;
    expect((sentBody(one).tools as unknown[]).length).toBe(1);
  });
});
