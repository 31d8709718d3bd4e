import { describe, expect, it } from 'vitest';
import { OutputParts } from '../../src/observe/output-parts.js';

describe("OutputParts (a span's captured output, in the GenAI conventions' parts)", () => {
  it('a whole chat answer: reasoning, text, then each tool call with its arguments parsed', () => {
    const o = new OutputParts();
    o.completion({
      choices: [
        {
          message: {
            role: 'assistant',
            reasoning_content: 'think',
            content: 'Calling.',
            tool_calls: [
              { id: 'c1', type: 'function', function: { name: 'a', arguments: '{"x":1}' } },
              { id: 'c2', type: 'function', function: { name: 'b', arguments: 'not json' } },
            ],
          },
        },
      ],
    });
    expect(o.parts()).toEqual([
      { type: 'reasoning', content: 'think' },
      { type: 'text', content: 'Calling.' },
      { type: 'tool_call', id: 'c1', name: 'a', arguments: { x: 1 } },
      { type: 'tool_call', id: 'c2', name: 'b', arguments: 'not json' },
    ]);
  });

  it('chat chunks: reasoning deltas apart from text, a call gathered from its pieces', () => {
    const o = new OutputParts();
    const chunk = (delta: object) => ({ choices: [{ index: 0, delta }] });
    o.chunk(chunk({ role: 'assistant', reasoning: 'hm' }));
    o.chunk(chunk({ content: 'Hi' }));
    o.addText(' there');
    o.chunk(chunk({ tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'f', arguments: '' } }] }));
    o.chunk(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a"' } }] }));
    o.chunk(chunk({ tool_calls: [{ index: 0, function: { arguments: ':2}' } }] }));
    expect(o.parts()).toEqual([
      { type: 'reasoning', content: 'hm' },
      { type: 'text', content: 'Hi there' },
      { type: 'tool_call', id: 'c1', name: 'f', arguments: { a: 2 } },
    ]);
  });

  it("relayed Anthropic events: thinking is reasoning, a tool_use block's input JSON is its call's arguments, not text", () => {
    const o = new OutputParts();
    const ev = (name: string, data: object) => o.native(name, JSON.stringify(data));
    ev('message_start', { type: 'message_start', message: { id: 'msg_1' } });
    ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } });
    ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Let me see.' } });
    ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig' } });
    ev('content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } });
    ev('content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Checking.' } });
    ev('content_block_start', { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_1', name: 'w', input: {} } });
    ev('content_block_delta', { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"city":' } });
    ev('content_block_delta', { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } });
    o.native('content_block_delta', 'not json');
    expect(o.parts()).toEqual([
      { type: 'reasoning', content: 'Let me see.' },
      { type: 'text', content: 'Checking.' },
      { type: 'tool_call', id: 'toolu_1', name: 'w', arguments: { city: 'Paris' } },
    ]);
  });
});
