/**
 * A call of an OpenAI `custom` tool (`type: "custom"`, `custom: {name, input}`, free-form text
 * instead of JSON arguments) is output like a function call's arguments: counted by the stream
 * decoder as the model's output, and kept whole when a JSON body stands in for a stream.
 */
import { describe, expect, it } from 'vitest';
import { OpenAIStreamDecoder } from '../../src/upstream/adapters/openai.js';
import { completionAsSse } from '../../src/upstream/json-as-stream.js';

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-5', choices: [{ index: 0, delta, finish_reason: finish }] });

describe('custom tool calls', () => {
  it("the stream decoder counts a custom call's name and input as output (as a function call's name and arguments)", () => {
    const d = new OpenAIStreamDecoder({ templates: false });
    const other = (data: string): string =>
      d
        .decode({ data } as never)
        .map((p) => (p as { other?: string }).other ?? '')
        .join('');
    expect(
      other(chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_1', type: 'custom', custom: { name: 'shell', input: '' } }] })),
    ).toBe('shell');
    expect(other(chunk({ tool_calls: [{ index: 0, custom: { input: 'ls -la' } }] }))).toBe('ls -la');
    expect(other(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] }))).toBe('{"a":1}');
  });

  it('a JSON body standing in for a stream keeps a custom call whole (custom, no function), beside a function call', () => {
    const sse = completionAsSse({
      id: 'c',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-5',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_1', type: 'custom', custom: { name: 'shell', input: 'ls -la' } },
              { id: 'call_2', type: 'function', function: { name: 'f', arguments: '{}' } },
            ],
          },
          finish_reason: 'tool_calls',
        },
      ],
    })!;
    const first = JSON.parse(sse.split('\n\n')[0]!.slice('data: '.length)) as { choices: Array<{ delta: { tool_calls: unknown[] } }> };
    expect(first.choices[0]!.delta.tool_calls).toEqual([
      { index: 0, id: 'call_1', type: 'custom', custom: { name: 'shell', input: 'ls -la' } },
      { index: 1, id: 'call_2', type: 'function', function: { name: 'f', arguments: '{}' } },
    ]);
  });
});
