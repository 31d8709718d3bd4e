/**
 * The reservation arithmetic: the prompt side is a bound no tokenizer can beat (checked
 * against o200k, which counts fewer tokens than bytes), and the output cap is what every
 * adapter sends upstream whichever field the client used.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  answerRoom,
  IMAGE_PART_TOKENS_BOUND,
  MIN_ANSWER_ROOM,
  outputCap,
  promptBoundTokens,
  promptWorstTokens,
  requestedOutputTokens,
  TOOLS_OVERHEAD_TOKENS,
} from '../../src/accounting/reservation.js';
import { translateMessages } from '../../src/apis/messages-request.js';
import { validateConfig } from '../../src/config/load.js';
import { countPromptTokens } from '../../src/accounting/tokens.js';
import { anthropicAdapter } from '../../src/upstream/adapters/anthropic.js';
import { autoCapField } from '../../src/runtime/attempt.js';
import { openaiAdapter } from '../../src/upstream/adapters/openai.js';
import type { BuildInput } from '../../src/upstream/adapters/types.js';
import type { ChatBody } from '../../src/upstream/types.js';

describe('outputCap', () => {
  it.each([
    [{}, 1000, 1000],
    [{ max_tokens: 100_000 }, 1000, 1000],
    [{ max_completion_tokens: 100_000 }, 1000, 1000],
    [{ max_tokens: 50 }, 1000, 50],
    [{ max_tokens: 300, max_completion_tokens: 200 }, 1000, 200],
    [{ max_tokens: 200, max_completion_tokens: 300 }, 1000, 200],
    [{ max_tokens: null, max_completion_tokens: 70 }, 1000, 70],
  ])('%j with a model cap of %i reserves %i', (body, model, cap) => {
    expect(outputCap(body, { maxOutputTokens: model, contextWindow: 1_000_000 }, 10)).toBe(cap);
  });

  it('without a client cap, sends no more than the room the prompt leaves in the window (never less than 1); a client cap is kept', () => {
    const model = { maxOutputTokens: 4096, contextWindow: 16_000 };
    expect(outputCap({}, model, 14_006)).toBe(1994);
    expect(outputCap({}, model, 1000)).toBe(4096);
    expect(outputCap({}, model, 16_000)).toBe(1);
    expect(outputCap({}, model, 20_000)).toBe(1);
    expect(outputCap({ max_tokens: 3000 }, model, 14_006)).toBe(3000);
  });

  it('answerRoom is the client cap as sent, or MIN_ANSWER_ROOM when there is none', () => {
    expect(answerRoom({}, 4096)).toBe(MIN_ANSWER_ROOM);
    expect(answerRoom({}, 100)).toBe(100);
    expect(answerRoom({ max_tokens: 3000 }, 4096)).toBe(3000);
    expect(answerRoom({ max_completion_tokens: 9000 }, 4096)).toBe(4096);
  });

  it('requestedOutputTokens is null when the client asked for nothing', () => {
    expect(requestedOutputTokens({ max_tokens: null })).toBeNull();
  });
});

function build(
  kind: 'openai' | 'anthropic',
  body: Partial<ChatBody>,
  modelCap: number,
  capField: 'client' | 'max_tokens' | 'max_completion_tokens' = 'client',
): Record<string, unknown> {
  const full: ChatBody = { model: 'm', messages: [{ role: 'user', content: 'hi' }], ...body };
  const input: BuildInput = {
    body: full,
    upstreamModel: 'up',
    stream: false,
    apiKey: 'k',
    headers: {},
    basePath: '/v1',
    maxOutputTokens: outputCap(full, { maxOutputTokens: modelCap, contextWindow: 1_000_000 }, 10),
    capField,
    anthropicVersion: '2023-06-01',
    prefill: null,
  };
  const adapter = kind === 'openai' ? openaiAdapter : anthropicAdapter;
  return JSON.parse(adapter.buildRequest(input).body) as Record<string, unknown>;
}

describe('a history of tool calls with no tools offered', () => {
  it("is reserved for the placeholder tools an Anthropic-kind endpoint is sent (Anthropic's tool prompt and their definitions)", () => {
    const names = Array.from({ length: 40 }, (_, i) => `a_rather_long_tool_name_number_${i}`);
    const messages = [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: null, tool_calls: names.map((name, i) => ({ id: `c${i}`, type: 'function', function: { name, arguments: '{}' } })) },
      ...names.map((_, i) => ({ role: 'tool', tool_call_id: `c${i}`, content: 'ok' })),
    ];
    const plain = promptBoundTokens({ messages });
    const sentTools = JSON.parse(
      anthropicAdapter.buildRequest({
        body: { model: 'c', messages } as ChatBody,
        upstreamModel: 'c',
        stream: false,
        apiKey: 'k',
        headers: {},
        basePath: '',
        maxOutputTokens: 10,
        anthropicVersion: '2023-06-01',
        prefill: null,
      }).body,
    ).tools as unknown[];
    expect(sentTools).toHaveLength(40);
    // At least the tools' own bytes and the tool prompt's bound beyond the messages' bound.
    const messagesOnly = promptBoundTokens({ messages: messages.map((m) => ({ ...m, tool_calls: undefined, role: m.role === 'tool' ? 'user' : m.role })) });
    expect(plain - messagesOnly).toBeGreaterThanOrEqual(Buffer.byteLength(JSON.stringify(sentTools)) + TOOLS_OVERHEAD_TOKENS);
    // No history of calls: nothing added.
    expect(promptBoundTokens({ messages: [{ role: 'user', content: 'go' }] })).toBeLessThan(TOOLS_OVERHEAD_TOKENS);
  });
});

describe('every adapter sends exactly the reserved cap', () => {
  const cases: Array<[Partial<ChatBody>, number]> = [
    [{ max_tokens: 100_000 }, 1000],
    [{ max_completion_tokens: 100_000 }, 1000],
    [{ max_tokens: 100_000, max_completion_tokens: 50 }, 50],
    [{ max_tokens: 40, max_completion_tokens: 100_000 }, 40],
    [{}, 1000],
  ];
  it.each(cases)('openai: %j → no output field above %i', (body, cap) => {
    const sent = build('openai', body, 1000);
    const fields = [sent.max_tokens, sent.max_completion_tokens].filter((v) => v !== undefined);
    expect(fields.length).toBeGreaterThan(0);
    for (const f of fields) expect(f).toBe(cap);
  });
  it.each(cases)("openai, OpenAI's own API: %j → no output field above %i", (body, cap) => {
    const sent = build('openai', body, 1000, 'max_completion_tokens');
    const fields = [sent.max_tokens, sent.max_completion_tokens].filter((v) => v !== undefined);
    expect(fields.length).toBeGreaterThan(0);
    for (const f of fields) expect(f).toBe(cap);
  });
  it.each(cases)('anthropic: %j → max_tokens %i', (body, cap) => {
    expect(build('anthropic', body, 1000).max_tokens).toBe(cap);
  });
  it('openai keeps the field the client used', () => {
    expect(build('openai', { max_completion_tokens: 10 }, 1000)).not.toHaveProperty('max_tokens');
    expect(build('openai', { max_tokens: 10 }, 1000)).not.toHaveProperty('max_completion_tokens');
  });
  it("openai: OpenAI's and Azure OpenAI's APIs get max_completion_tokens only (their o-series refuse max_tokens), whatever the client used, DeepSeek's max_tokens only; others keep the client's field", () => {
    for (const own of [
      'https://api.openai.com/v1',
      'https://eu.api.openai.com/v1',
      'https://us.api.openai.com/v1',
      'https://my-res.openai.azure.com/openai/v1',
      'https://my-res.cognitiveservices.azure.com/openai/v1',
      'https://my-proj.services.ai.azure.com/openai/v1',
    ])
      expect(autoCapField(own), own).toBe('max_completion_tokens');
    // DeepSeek's API ignores max_completion_tokens (the answer ran past the cap, billed beyond the reservation): max_tokens only.
    for (const deepseek of ['https://api.deepseek.com', 'https://api.deepseek.com/v1', 'https://API.DeepSeek.com/beta'])
      expect(autoCapField(deepseek), deepseek).toBe('max_tokens');
    for (const body of [{ max_completion_tokens: 10 }, { max_tokens: 5, max_completion_tokens: 10 }]) {
      const sent = build('openai', body, 1000, autoCapField('https://api.deepseek.com/v1'));
      expect(sent).not.toHaveProperty('max_completion_tokens');
      expect(sent.max_tokens).toBe(outputCap(body, { maxOutputTokens: 1000, contextWindow: 1_000_000 }, 10));
    }
    for (const other of [
      'https://deepseek.com.evil.test/v1',
      'https://api.openai.com.evil.test/v1',
      'https://evilapi.openai.com.test/v1',
      'https://generativelanguage.googleapis.com/v1beta/openai',
      'http://127.0.0.1:4000/v1',
      'https://openai.azure.com.evil.test/v1',
      'not a url',
    ])
      expect(autoCapField(other), other).toBe('client');
    expect(build('openai', {}, 1000)).toMatchObject({ max_tokens: 1000 });
    expect(build('openai', {}, 1000)).not.toHaveProperty('max_completion_tokens');
    for (const body of [{}, { max_tokens: 10 }, { max_completion_tokens: 10 }, { max_tokens: 5, max_completion_tokens: 10 }]) {
      const sent = build('openai', body, 1000, 'max_completion_tokens');
      expect(sent).not.toHaveProperty('max_tokens');
      expect(sent.max_completion_tokens).toBe(outputCap(body, { maxOutputTokens: 1000, contextWindow: 1_000_000 }, 10));
      // providers.<name>.outputCapField: max_tokens, for an API that takes only that one.
      const old = build('openai', body, 1000, 'max_tokens');
      expect(old).not.toHaveProperty('max_completion_tokens');
      expect(old.max_tokens).toBe(sent.max_completion_tokens);
    }
  });
});

describe('promptBoundTokens', () => {
  it('is at least the UTF-8 byte count of the text', () => {
    const text = 'ab'.repeat(5000) + 'äöü€😀';
    expect(promptBoundTokens({ messages: [{ role: 'user', content: text }] })).toBeGreaterThanOrEqual(Buffer.byteLength(text));
  });

  it('beats o200k on a repetitive prompt where the estimate undercounted other tokenizers', () => {
    const text = 'the same sentence again. '.repeat(2000);
    const messages = [{ role: 'user', content: text }];
    expect(promptBoundTokens({ messages })).toBeGreaterThan(3 * countPromptTokens(messages));
  });

  it('counts a fixed bound per image, not the bytes of a data URL, and adds the continuation', () => {
    const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(100_000)}` } };
    const bound = promptBoundTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, image] }] });
    expect(bound).toBeGreaterThan(IMAGE_PART_TOKENS_BOUND);
    expect(bound).toBeLessThan(IMAGE_PART_TOKENS_BOUND + 200);
    const base = promptBoundTokens({ messages: [{ role: 'user', content: 'x' }] });
    expect(promptBoundTokens({ messages: [{ role: 'user', content: 'x' }] }, 'a'.repeat(500))).toBeGreaterThanOrEqual(base + 500);
  });

  it('counts every field the upstream sees (tools, response_format)', () => {
    const messages = [{ role: 'user', content: 'x' }];
    const schema = { type: 'json_schema', json_schema: { name: 'n', schema: { description: 'd'.repeat(3000) } } };
    expect(promptBoundTokens({ messages, response_format: schema } as never)).toBeGreaterThan(3000);
    expect(promptBoundTokens({ messages, tools: [{ type: 'function', function: { name: 'f' } }] })).toBeGreaterThan(1024);
  });

  it('is never below the o200k count (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ role: fc.constantFrom('user', 'assistant', 'system'), content: fc.string({ unit: 'binary', maxLength: 300 }) }), {
          minLength: 1,
          maxLength: 5,
        }),
        (messages) => {
          expect(promptBoundTokens({ messages })).toBeGreaterThanOrEqual(countPromptTokens(messages));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('promptBoundTokens of what a Messages request sends beyond its chat form', () => {
  const big = 'The quick brown fox jumps over the lazy dog. '.repeat(13_000);
  const messages = (content: unknown[]) => translateMessages({ model: 'claude-sonnet-4.5', max_tokens: 10, messages: [{ role: 'user', content }] });
  const png = { type: 'base64', media_type: 'image/png', data: 'A'.repeat(400_000) };

  it('a text document counts its text as a text block does (it was reserved at nothing: the chat form leaves it out)', () => {
    const asText = promptBoundTokens(
      messages([
        { type: 'text', text: big },
        { type: 'text', text: 'summarize' },
      ]),
    );
    const asDoc = promptBoundTokens(
      messages([
        { type: 'document', source: { type: 'text', media_type: 'text/plain', data: big } },
        { type: 'text', text: 'summarize' },
      ]),
    );
    expect(asText).toBeGreaterThan(Buffer.byteLength(big));
    expect(asDoc).toBeGreaterThanOrEqual(asText - 100);
  });

  it('a PDF, a document by URL or by file id, or an MCP server is unbounded: the reservation takes the model window', () => {
    for (const source of [
      { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0x' },
      { type: 'url', url: 'https://example.com/a.pdf' },
      { type: 'file', file_id: 'file_01' },
    ])
      expect(
        promptBoundTokens(
          messages([
            { type: 'document', source },
            { type: 'text', text: 'summarize' },
          ]),
        ),
      ).toBe(Infinity);
    const mcp = translateMessages({
      model: 'claude-sonnet-4.5',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }],
      mcp_servers: [{ type: 'url', url: 'https://mcp.example.com/sse', name: 'x' }],
    });
    expect(promptBoundTokens(mcp)).toBe(Infinity);
    expect(promptWorstTokens(Infinity, { contextWindow: 200_000 }, mcp)).toBe(200_000);
    expect(promptWorstTokens(1_234, { contextWindow: 200_000 }, mcp)).toBe(1_234);
  });

  it('an image inside a tool result counts its fixed bound, not its base64 bytes; search results and thinking count their text', () => {
    const body = translateMessages({
      model: 'claude-sonnet-4.5',
      max_tokens: 10,
      messages: [
        { role: 'user', content: 'look' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: big, signature: 's' },
            { type: 'tool_use', id: 't1', name: 'shot', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 't1', content: [{ type: 'image', source: png }] },
            { type: 'search_result', source: 'https://example.com', title: 't', content: [{ type: 'text', text: big }] },
          ],
        },
      ],
    });
    const bound = promptBoundTokens(body);
    expect(bound).toBeGreaterThan(2 * Buffer.byteLength(big) + IMAGE_PART_TOKENS_BOUND);
    expect(bound).toBeLessThan(2 * Buffer.byteLength(big) + IMAGE_PART_TOKENS_BOUND + 2_000);
  });

  it('a chat file part (a PDF as data or by id) is unbounded', () => {
    const body = {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'read' },
            { type: 'file', file: { file_id: 'file-abc' } },
          ],
        },
      ],
    };
    expect(promptBoundTokens(body)).toBe(Infinity);
  });

  it("a part of a type chat does not define (a relay's video_url, audio_url) is unbounded; text, refusal and image parts are not", () => {
    const ask = (part: Record<string, unknown>) => promptBoundTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'describe' }, part] }] });
    expect(ask({ type: 'video_url', video_url: { url: 'https://example.com/an-hour.mp4' } })).toBe(Infinity);
    expect(ask({ type: 'audio_url', audio_url: { url: 'https://example.com/a.mp3' } })).toBe(Infinity);
    expect(ask({ type: 'image_url', image_url: { url: 'https://example.com/a.png' } })).toBeLessThan(IMAGE_PART_TOKENS_BOUND + 200);
    expect(ask({ type: 'text', text: 'more' })).toBeLessThan(200);
    // An image part whose data URL is a PDF or a video (a LiteLLM relay sends it on as one) is unbounded too.
    expect(ask({ type: 'image_url', image_url: { url: 'data:application/pdf;base64,JVBERi0xLjQK' } })).toBe(Infinity);
    expect(ask({ type: 'image_url', image_url: { url: 'DATA:video/mp4;base64,AAAA' } })).toBe(Infinity);
    expect(ask({ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } })).toBeLessThan(IMAGE_PART_TOKENS_BOUND + 200);
    expect(promptBoundTokens({ messages: [{ role: 'assistant', content: [{ type: 'refusal', refusal: 'no' }] }] })).toBeLessThan(200);
  });
});

describe('a Gemini context cache read by name (its tokens are billed as the prompt, none of them in the request)', () => {
  const messages = [{ role: 'user', content: 'summarise the cached document' }];
  it('is unbounded: extra_body.google.cached_content (the OpenAI-compatible API) or cached_content (a LiteLLM relay)', () => {
    expect(promptBoundTokens({ model: 'm', messages, extra_body: { google: { cached_content: 'cachedContents/abc' } } } as ChatBody)).toBe(Infinity);
    expect(promptBoundTokens({ model: 'm', messages, cached_content: 'cachedContents/abc' } as ChatBody)).toBe(Infinity);
    expect(promptBoundTokens({ model: 'm', messages, extra_body: { google: { thinking_config: { thinking_budget: 0 } } } } as ChatBody)).toBeLessThan(200);
    expect(promptBoundTokens({ model: 'm', messages, cached_content: null } as ChatBody)).toBeLessThan(200);
  });
});

describe("a model whose images bill more than the bound's 6,400 each (gpt-4o-mini: 2,833 + 5,667 a tile)", () => {
  const img = { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'high' } };
  const body = { messages: [{ role: 'user', content: [{ type: 'text', text: 'compare' }, img, img] }] };

  it('holds its imageTokens for each image; another model the bound', () => {
    const bound = promptBoundTokens(body);
    expect(promptWorstTokens(bound, { contextWindow: 128_000 }, body)).toBe(bound);
    expect(promptWorstTokens(bound, { contextWindow: 128_000, imageTokens: 48_169 }, body)).toBe(bound + 2 * (48_169 - IMAGE_PART_TOKENS_BOUND));
    // Never more than the window; a smaller figure does not lower the bound.
    expect(promptWorstTokens(bound, { contextWindow: 50_000, imageTokens: 48_169 }, body)).toBe(50_000);
    expect(promptWorstTokens(bound, { contextWindow: 128_000, imageTokens: 258 }, body)).toBe(bound);
  });

  it("a model served as gpt-4o-mini (or a relay's openai/gpt-4o-mini) gets 48,169 by default; imageTokens set in the config wins", () => {
    const model = (upstreamModel: string, more: Record<string, unknown> = {}) => {
      const r = validateConfig({
        providers: { p: { kind: 'openai', baseUrl: 'https://relay.example.com/v1', apiKeyEnv: 'P_KEY' } },
        models: {
          m: {
            tier: 'fast_cheap',
            price: { inputPerMTok: 0.15, outputPerMTok: 0.6 },
            contextWindow: 128_000,
            endpoints: [{ provider: 'p', upstreamModel }],
            ...more,
          },
        },
      });
      if (!r.ok) throw new Error(r.errors.join('; '));
      return r.config.models.m!;
    };
    expect(model('gpt-4o-mini').imageTokens).toBe(48_169);
    expect(model('openai/gpt-4o-mini-2024-07-18').imageTokens).toBe(48_169);
    // A deployment's name around it (it was reserved at the bound, 7.5× under what an image bills there).
    expect(model('azure-gpt-4o-mini').imageTokens).toBe(48_169);
    expect(model('prod_GPT-4o-mini-eu').imageTokens).toBe(48_169);
    expect(model('gpt-4o').imageTokens).toBeUndefined();
    expect(model('chatgpt-4o-latest').imageTokens).toBeUndefined();
    expect(model('gpt-4o-mini', { imageTokens: 60_000 }).imageTokens).toBe(60_000);
    expect(model('gpt-4.1', { imageTokens: 9_000 }).imageTokens).toBe(9_000);
  });
});

describe('requestedOutputTokens without arrays', () => {
  it('is the smaller positive number of the two, as the filter-and-min it replaced (property)', () => {
    const reference = (b: { max_tokens?: unknown; max_completion_tokens?: unknown }): number | null => {
      const asked = [b.max_tokens, b.max_completion_tokens].filter((v): v is number => typeof v === 'number' && v > 0);
      return asked.length === 0 ? null : Math.min(...asked);
    };
    const v = fc.option(fc.oneof(fc.integer({ min: -3, max: 300_000 }), fc.double(), fc.constantFrom(0, -0, Infinity, Number.NaN)), { nil: undefined });
    fc.assert(
      fc.property(fc.oneof(v, fc.constant(null)), fc.oneof(v, fc.constant(null)), (a, b) => {
        const body = { ...(a === undefined ? {} : { max_tokens: a }), ...(b === undefined ? {} : { max_completion_tokens: b }) } as ChatBody;
        expect(Object.is(requestedOutputTokens(body), reference(body))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});
