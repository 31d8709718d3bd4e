/**
 * `gen_ai.input.messages` in the shape the OpenTelemetry GenAI conventions give it
 * (`[{role, parts}]`), from the chat messages a request was translated to.
 */
import { describe, expect, it } from 'vitest';
import { capturedJson, inputMessages, MAX_CAPTURED_CHARS } from '../../src/observe/otel.js';

describe('inputMessages', () => {
  it('writes text, images, tool calls and tool results as the conventions’ parts', () => {
    const messages = [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        name: 'ana',
        content: [
          { type: 'text', text: 'What is in it?' },
          { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'low' } },
        ],
      },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'look', arguments: '{"q":"a.png"}' } },
          { id: 'call_2', type: 'custom', custom: { name: 'grep', input: 'png' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'a cat' },
      { role: 'assistant', content: [{ type: 'refusal', refusal: 'No.' }] },
    ];
    expect(inputMessages(messages)).toEqual([
      { role: 'system', parts: [{ type: 'text', content: 'Be brief.' }] },
      {
        role: 'user',
        name: 'ana',
        parts: [
          { type: 'text', content: 'What is in it?' },
          { type: 'uri', modality: 'image', uri: 'https://example.com/a.png' },
        ],
      },
      {
        role: 'assistant',
        parts: [
          { type: 'tool_call', id: 'call_1', name: 'look', arguments: { q: 'a.png' } },
          { type: 'tool_call', id: 'call_2', name: 'grep', arguments: 'png' },
        ],
      },
      { role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_1', response: 'a cat' }] },
      { role: 'assistant', parts: [{ type: 'text', content: 'No.' }] },
    ]);
  });

  it('writes an image or audio sent inline (a base64 data: URL, input_audio) as a blob part, not a uri', () => {
    const messages = [
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'data:;base64,AAAA' } },
          { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
        ],
      },
    ];
    expect(inputMessages(messages)).toEqual([
      {
        role: 'user',
        parts: [
          { type: 'blob', modality: 'image', mime_type: 'image/png', content: 'iVBORw0KGgo=' },
          { type: 'blob', modality: 'image', content: 'AAAA' },
          { type: 'blob', modality: 'audio', mime_type: 'audio/wav', content: 'UklGRg==' },
        ],
      },
    ]);
  });

  it('keeps arguments that are not JSON as text, and gives nothing for what is not a message list', () => {
    expect(inputMessages([{ role: 'assistant', tool_calls: [{ id: 'c', function: { name: 'f', arguments: '{broken' } }] }])).toEqual([
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'c', name: 'f', arguments: '{broken' }] },
    ]);
    // A call without arguments ("") is `{}`, as the answer's own tool calls are exported (output-parts.ts).
    expect(inputMessages([{ role: 'assistant', tool_calls: [{ id: 'c', function: { name: 'now', arguments: '' } }] }])).toEqual([
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'c', name: 'now', arguments: {} }] },
    ]);
    expect(inputMessages(undefined)).toEqual([]);
    expect(inputMessages('hi')).toEqual([]);
  });
});

describe('capturedJson', () => {
  it('keeps content that fits whole, and bounds what does not: long strings clipped, then the oldest messages left out', () => {
    const small = inputMessages([{ role: 'user', content: 'hello' }]);
    expect(capturedJson(small)).toEqual({ json: JSON.stringify(small), clipped: false });
    // A 4 MB prompt (a pasted document, an inline image) was copied whole into the span.
    const big = capturedJson(
      inputMessages([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'x'.repeat(4_000_000) },
      ]),
    );
    expect(big.clipped).toBe(true);
    expect(big.json.length).toBeLessThanOrEqual(MAX_CAPTURED_CHARS);
    const parsed = JSON.parse(big.json) as Array<{ role: string; parts: Array<{ content: string }> }>;
    expect(parsed.map((m) => m.role)).toEqual(['system', 'user']);
    expect(parsed[1]!.parts[0]!.content.endsWith('…[clipped]')).toBe(true);
    // A long conversation: the newest turns are kept.
    const turns = Array.from({ length: 400 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `turn ${i} ${'y'.repeat(300)}` }));
    const long = capturedJson(inputMessages(turns));
    expect(long.json.length).toBeLessThanOrEqual(MAX_CAPTURED_CHARS);
    const kept = JSON.parse(long.json) as Array<{ parts: Array<{ content: string }> }>;
    expect(kept.at(-1)!.parts[0]!.content.startsWith('turn 399 ')).toBe(true);
    expect(kept.length).toBeLessThan(400);
  });
});
