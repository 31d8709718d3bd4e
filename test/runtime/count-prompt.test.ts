/**
 * The prompt count that routing, TPM windows and a stream's first usage read: a byte estimate
 * unless the prompt is long enough for the count to decide something (context windows, the
 * long-prompt rule). Tool definitions are part of the prompt's bytes and no longer force the
 * exact tokenizer (~100 µs per 2 KB, 60 MB of tables on first use) on every request with tools.
 */
import { describe, expect, it } from 'vitest';
import { countPromptTokens, countTextTokens } from '../../src/accounting/tokens.js';
import { withNative } from '../../src/apis/native.js';
import type { ChatCall } from '../../src/runtime/api.js';
import { countPrompt, shownPromptTokens } from '../../src/runtime/request-prep.js';
import type { ChatBody } from '../../src/upstream/types.js';

const tool = (name: string, description: string) => ({
  type: 'function',
  function: { name, description, parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
});
const body = (tools?: unknown[], text = 'What is the weather in Berlin?'): ChatBody =>
  ({ model: 'm', messages: [{ role: 'user', content: text }], ...(tools ? { tools } : {}) }) as ChatBody;

describe('countPrompt', () => {
  it("a short request with tools is estimated from its bytes, the tools' JSON included (no tokenizer)", () => {
    const tools = [tool('get_weather', 'Weather for a city.'), tool('get_time', 'Local time for a city.')];
    const text = 'What is the weather in Berlin?';
    const bytes = Buffer.byteLength(text) + Buffer.byteLength(JSON.stringify(tools));
    expect(countPrompt({ body: body(tools, text) })).toBe(Math.ceil(bytes / 3) + 3 + 3);
    // More tools, more tokens: the definitions count.
    expect(countPrompt({ body: body([...tools, tool('get_news', 'Headlines.')], text) })).toBeGreaterThan(countPrompt({ body: body(tools, text) }));
    // The estimate stays above the exact count for such text (bytes / 3 against ~4 bytes a token).
    expect(countPrompt({ body: body(tools, text) })).toBeGreaterThan(countPromptTokens(body(tools, text).messages, tools));
  });

  it('tool definitions over the byte limit are counted exactly', () => {
    const tools = Array.from({ length: 120 }, (_, i) => tool(`tool_${i}`, `Does thing number ${i} for the user, with a long description of what it does.`));
    const b = body(tools);
    expect(countPrompt({ body: b })).toBe(countPromptTokens(b.messages, tools));
  });
});

describe('shownPromptTokens (a row the upstream gave no usage for)', () => {
  it("counts an embeddings request's inputs as an embeddings API does, without chat message framing (12 for 4 tokens before)", () => {
    const texts = ['hello world foo', 'bar'];
    const chat = { model: 'e', messages: [{ role: 'user', content: texts.join('\n') }], max_tokens: 1 } as ChatBody;
    const call = { body: withNative(chat, { kind: 'embeddings', input: texts, extra: {}, longestInput: 3 }) } as unknown as ChatCall;
    expect(shownPromptTokens(call)).toBe(countTextTokens('hello world foo') + countTextTokens('bar'));
    expect(shownPromptTokens(call)).toBe(4);
    const ids = { body: withNative({ ...chat }, { kind: 'embeddings', input: [1, 2, 3], tokens: 3, extra: {}, longestInput: 3 }) } as unknown as ChatCall;
    expect(shownPromptTokens(ids)).toBe(3);
    // A chat request keeps the chat count, framing included.
    expect(shownPromptTokens({ body: body() } as unknown as ChatCall)).toBe(countPromptTokens(body().messages));
  });
});
