/**
 * The edge translations of the other APIs (pure parts) and their config rules: Responses and
 * Messages bodies → chat bodies, refused fields named, the native Messages request, and
 * embeddings models kept apart from chat.
 */
import { describe, expect, it } from 'vitest';
import { translateMessages } from '../../src/apis/messages-request.js';
import { promptBoundTokens } from '../../src/accounting/reservation.js';
import { nativeOf } from '../../src/apis/native.js';
import { anthropicError, anthropicToolId, messageOfCompletion, MessagesStreamWriter } from '../../src/apis/messages-output.js';
import { SwitchyardError, upstreamClientError } from '../../src/errors.js';
import { parseAnthropicError } from '../../src/upstream/adapters/anthropic-response.js';
import { translateResponses } from '../../src/apis/responses-request.js';
import { ResponsesStreamWriter } from '../../src/apis/responses-stream.js';
import { outputOfCompletion, responsesUsage } from '../../src/apis/responses-output.js';
import { DEFAULT_CONFIG } from '../../src/config/defaults.js';
import { validateConfig } from '../../src/config/load.js';
import { anthropicAdapter } from '../../src/upstream/adapters/anthropic.js';
import { openaiAdapter } from '../../src/upstream/adapters/openai.js';
import type { BuildInput } from '../../src/upstream/adapters/types.js';

const build = (body: BuildInput['body'], over: Partial<BuildInput> = {}): BuildInput => ({
  body,
  upstreamModel: 'up-model',
  stream: false,
  apiKey: 'k',
  headers: {},
  basePath: '/v1',
  maxOutputTokens: 100,
  anthropicVersion: '2023-06-01',
  prefill: null,
  ...over,
});

describe('Responses → chat', () => {
  it('an input that is neither a string nor an array says it may be either', () => {
    for (const input of [5, { role: 'user', content: 'hi' }, true]) {
      expect(() => translateResponses({ model: 'gpt-4.1', input }, [])).toThrow(/^input: expected a string or an array of input items$/);
    }
  });

  it("takes each side's part types as OpenAI does: input_text from the client's side, output_text or refusal in an assistant message; the other side's refused naming the part (an assistant input_text was answered 200)", () => {
    const refused = (input: unknown): unknown => {
      try {
        translateResponses({ model: 'gpt-4.1', input }, []);
        return null;
      } catch (e) {
        return e instanceof SwitchyardError ? { status: e.status, param: e.param, message: e.message } : e;
      }
    };
    const msg = (role: string, type: string) => [{ role, content: [type === 'refusal' ? { type, refusal: 'no' } : { type, text: 'x' }] }];
    for (const role of ['user', 'system', 'developer'])
      for (const type of ['output_text', 'refusal'])
        expect(refused(msg(role, type))).toEqual({
          status: 400,
          param: 'input[0].content[0].type',
          message: `input[0].content[0].type: Invalid value: '${type}'. Supported values are: 'input_text', 'input_image', and 'input_file'.`,
        });
    expect(refused(msg('assistant', 'input_text'))).toEqual({
      status: 400,
      param: 'input[0].content[0].type',
      message: "input[0].content[0].type: Invalid value: 'input_text'. Supported values are: 'output_text' and 'refusal'.",
    });
    // A tool's output is the client's side too.
    expect(
      refused([
        { type: 'function_call', call_id: 'c', name: 'f' },
        { type: 'function_call_output', call_id: 'c', output: [{ type: 'output_text', text: 'x' }] },
      ]),
    ).toMatchObject({
      param: 'input[1].output[0].type',
    });
    for (const ok of [msg('user', 'input_text'), msg('system', 'input_text'), msg('assistant', 'output_text'), msg('assistant', 'refusal')])
      expect(refused(ok)).toBeNull();
  });

  it("says a message's content may be a string or an array of parts, and that a part must be an object (it said 'expected an array' and 'content type undefined')", () => {
    const refused = (content: unknown, role = 'user'): unknown => {
      try {
        translateResponses({ model: 'gpt-4.1', input: [{ role, ...(content === undefined ? {} : { content }) }] }, []);
        return null;
      } catch (e) {
        return e instanceof SwitchyardError ? { param: e.param, message: e.message } : e;
      }
    };
    for (const role of ['user', 'assistant', 'system']) {
      expect(refused(undefined, role)).toEqual({ param: 'input[0].content', message: "input[0].content: Missing required parameter: 'input[0].content'" });
      for (const content of [5, null, { type: 'input_text', text: 'x' }])
        expect(refused(content, role)).toEqual({ param: 'input[0].content', message: 'input[0].content: expected a string or an array of content parts' });
      expect(refused([5], role)).toMatchObject({ param: 'input[0].content[0]', message: expect.stringContaining('a content part must be an object') });
      expect(refused([{ text: 'x' }], role)).toMatchObject({ param: 'input[0].content[0].type', message: expect.stringContaining('needs a type') });
    }
  });

  it("holds metadata to OpenAI's limits (16 string values) and parallel_tool_calls to a boolean, naming the field", () => {
    const refused = (over: Record<string, unknown>): unknown => {
      try {
        translateResponses({ model: 'gpt-4.1', input: 'hi', ...over }, []);
        return null;
      } catch (e) {
        return e instanceof SwitchyardError ? { status: e.status, param: e.param } : e;
      }
    };
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    expect(refused({ metadata: { n: 1 } })).toEqual({ status: 400, param: 'metadata.n' });
    expect(refused({ metadata: { v: 'x'.repeat(513) } })).toEqual({ status: 400, param: 'metadata.v' });
    expect(refused({ metadata: { ['k'.repeat(65)]: 'v' } })).toEqual({ status: 400, param: 'metadata' });
    expect(refused({ metadata: many })).toEqual({ status: 400, param: 'metadata' });
    expect(refused({ metadata: ['a'] })).toEqual({ status: 400, param: 'metadata' });
    expect(refused({ parallel_tool_calls: 'false' })).toEqual({ status: 400, param: 'parallel_tool_calls' });
    expect(refused({ metadata: { ...Object.fromEntries(Object.entries(many).slice(0, 16)), k0: 'x'.repeat(512) }, parallel_tool_calls: false })).toBeNull();
  });

  it("maps an input_file (a PDF by its bytes, or an OpenAI file id) to chat completions' file part; a file by URL is refused, naming the field", () => {
    const pdf = 'data:application/pdf;base64,JVBERi0xLjQ=';
    const t = translateResponses(
      {
        model: 'gpt-4.1',
        input: [
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'compare' },
              { type: 'input_file', filename: 'a.pdf', file_data: pdf },
              { type: 'input_file', file_id: 'file-abc' },
            ],
          },
        ],
      },
      [],
    );
    expect(t.chat.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'compare' },
          { type: 'file', file: { file_data: pdf, filename: 'a.pdf' } },
          { type: 'file', file: { file_id: 'file-abc' } },
        ],
      },
    ]);
    const refused = (part: Record<string, unknown>): unknown => {
      try {
        translateResponses({ model: 'gpt-4.1', input: [{ role: 'user', content: [{ type: 'input_file', ...part }] }] }, []);
        return null;
      } catch (e) {
        return e instanceof SwitchyardError ? { status: e.status, param: e.param } : e;
      }
    };
    expect(refused({ file_url: 'https://x/a.pdf' })).toEqual({ status: 400, param: 'input[0].content[0].file_url' });
    expect(refused({})).toEqual({ status: 400, param: 'input[0].content[0]' });
    expect(refused({ file_data: 5 })).toEqual({ status: 400, param: 'input[0].content[0].file_data' });
  });

  it('maps instructions, items, function calls and outputs, tools, text.format and limits', () => {
    const t = translateResponses(
      {
        model: 'gpt-4.1',
        instructions: 'Be brief.',
        max_output_tokens: 50,
        temperature: 0.5,
        stream: true,
        input: [
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'hi' },
              { type: 'input_image', image_url: 'https://x/y.png' },
            ],
          },
          { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{"a":1}' },
          { type: 'function_call_output', call_id: 'c1', output: 'done' },
        ],
        tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }],
        tool_choice: { type: 'function', name: 'f' },
        text: { format: { type: 'json_schema', name: 's', schema: { type: 'object' }, strict: true } },
      },
      [
        { role: 'user', content: 'earlier' },
        { role: 'assistant', content: 'answer' },
      ],
    );
    expect(t.chat.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'earlier' },
      { role: 'assistant', content: 'answer' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'hi' },
          { type: 'image_url', image_url: { url: 'https://x/y.png' } },
        ],
      },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'done' },
    ]);
    expect(t.conversation[0]).toEqual({ role: 'user', content: 'earlier' });
    expect(t.chat).toMatchObject({
      max_tokens: 50,
      temperature: 0.5,
      stream: true,
      stream_options: { include_usage: true },
      tool_choice: { type: 'function', function: { name: 'f' } },
    });
    expect(t.chat.tools).toEqual([{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }]);
    expect(t.chat.response_format).toEqual({ type: 'json_schema', json_schema: { name: 's', schema: { type: 'object' }, strict: true } });
  });

  it.each([
    [{ tools: [{ type: 'web_search_preview' }] }, 'tools[0].type'],
    [{ tools: [{ type: 'file_search', vector_store_ids: [] }] }, 'tools[0].type'],
    [{ reasoning: { effort: 'high', summary: 'auto' } }, 'reasoning.summary'],
    [{ reasoning: { effort: 'high', foo: 1 } }, 'reasoning.foo'],
    [{ reasoning: { effort: 3 } }, 'reasoning.effort'],
    [{ reasoning: 'high' }, 'reasoning'],
    [{ truncation: 'auto' }, 'truncation'],
    [{ include: ['message.output_text.logprobs'] }, 'include'],
    [{ background: true }, 'background'],
    [{ input: [{ type: 'item_reference', id: 'x' }] }, 'input[0].type'],
    [{ input: [{ role: 'user', content: [{ type: 'input_file', file_url: 'https://x/f.pdf' }] }] }, 'input[0].content[0].file_url'],
    // Empty, so nothing to send (they were sent on and billed: a re-test round).
    [{ input: [{ role: 'user', content: [{ type: 'input_image', image_url: '' }] }] }, 'input[0].content[0].image_url'],
    [{ input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'data:image/png;base64,' }] }] }, 'input[0].content[0].image_url'],
    [{ input: [{ role: 'user', content: [{ type: 'input_image' }] }] }, 'input[0].content[0].image_url'],
    [{ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file-1' }] }] }, 'input[0].content[0].file_id'],
    [{ input: [{ role: 'user', content: [{ type: 'input_file', file_data: '' }] }] }, 'input[0].content[0].file_data'],
    [{ input: [{ role: 'user', content: [{ type: 'input_file', file_id: '' }] }] }, 'input[0].content[0].file_id'],
    [{ text: { format: { type: 'text' }, verbosity: 3 } }, 'text.verbosity'],
    [{ text: { format: { type: 'text' }, foo: 1 } }, 'text.foo'],
    [{ max_output_tokens: 2 ** 53 }, 'max_output_tokens'],
    [{ max_output_tokens: 0 }, 'max_output_tokens'],
    [{ tool_choice: { type: 'function', name: 'f' } }, 'tool_choice'],
    [{ tools: [{ type: 'function', name: 'g' }], tool_choice: { type: 'function', name: 'f' } }, 'tool_choice'],
  ])('refuses %j naming %s', (extra, param) => {
    expect(() => translateResponses({ model: 'm', input: 'x', ...extra }, [])).toThrow(expect.objectContaining({ status: 400, param }));
  });

  it("sends reasoning.effort and text.verbosity as chat completions' reasoning_effort and verbosity, echoed as sent; none without them", () => {
    const t = translateResponses({ model: 'm', input: 'x', reasoning: { effort: 'low', summary: null } }, []);
    expect(t.chat.reasoning_effort).toBe('low');
    expect(t.echo.reasoning).toEqual({ effort: 'low', summary: null });
    expect(translateResponses({ model: 'm', input: 'x', reasoning: {} }, []).chat).not.toHaveProperty('reasoning_effort');
    expect(translateResponses({ model: 'm', input: 'x' }, []).chat).not.toHaveProperty('reasoning_effort');
    const v = translateResponses({ model: 'm', input: 'x', text: { verbosity: 'low' } }, []);
    expect(v.chat.verbosity).toBe('low');
    expect(v.echo.text).toEqual({ format: { type: 'text' }, verbosity: 'low' });
  });

  it('refuses a function_call_output answering no function_call, in this input or the stored conversation', () => {
    const output = { type: 'function_call_output', call_id: 'c1', output: 'done' };
    const call = (id: string) => ({ type: 'function_call', call_id: id, name: 'f', arguments: '{}' });
    const orphan = expect.objectContaining({
      status: 400,
      param: 'input',
      message: expect.stringMatching(/^No tool call found for function call output with call_id c1\./),
    });
    expect(() => translateResponses({ model: 'm', input: [output] }, [])).toThrow(orphan);
    expect(() => translateResponses({ model: 'm', input: [call('c2'), output] }, [])).toThrow(orphan);
    const stored = [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c2', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    ];
    expect(() => translateResponses({ model: 'm', input: [output] }, stored)).toThrow(orphan);
    // A call in the same input or in the stored conversation is matched.
    expect(translateResponses({ model: 'm', input: [call('c1'), output] }, []).chat.messages.at(-1)).toEqual({
      role: 'tool',
      tool_call_id: 'c1',
      content: 'done',
    });
    const continued = translateResponses({ model: 'm', input: [{ ...output, call_id: 'c2' }] }, stored);
    expect(continued.chat.messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 'c2', content: 'done' });
  });

  it('refuses a function_call its output does not answer before the conversation goes on, in this input or the stored one', () => {
    const call = (id: string) => ({ type: 'function_call', call_id: id, name: 'f', arguments: '{}' });
    const output = (id: string) => ({ type: 'function_call_output', call_id: id, output: 'done' });
    const unanswered = (id: string) =>
      expect.objectContaining({ status: 400, param: 'input', message: expect.stringMatching(new RegExp(`^No tool output found for function call ${id}\\.`)) });
    // A stored answer that called a tool, then a new turn that is not its output.
    const stored = [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    ];
    expect(() => translateResponses({ model: 'm', input: 'never mind, a joke' }, stored)).toThrow(unanswered('c1'));
    // Two calls, one answered; a call alone, statelessly.
    expect(() => translateResponses({ model: 'm', input: [call('a'), call('b'), output('a'), { role: 'user', content: 'go on' }] }, [])).toThrow(
      unanswered('b'),
    );
    expect(() => translateResponses({ model: 'm', input: [call('a')] }, [])).toThrow(unanswered('a'));
    // An output of a call answered already, a turn before (said so: it read "No tool call found"), and one given twice.
    const done = { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'done' }] };
    const answeredAlready = expect.objectContaining({
      status: 400,
      param: 'input',
      message: expect.stringMatching(/^The function_call a was answered already/),
    });
    expect(() => translateResponses({ model: 'm', input: [call('a'), output('a'), done, output('a')] }, [])).toThrow(answeredAlready);
    // The same across previous_response_id: the stored conversation answered it.
    const storedDone = [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'a', content: 'sunny' },
      { role: 'assistant', content: 'It is sunny.' },
    ];
    expect(() => translateResponses({ model: 'm', input: [output('a')] }, storedDone)).toThrow(answeredAlready);
    expect(() => translateResponses({ model: 'm', input: [output('zz')] }, storedDone)).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/^No tool call found for function call output with call_id zz\./) }),
    );
    expect(() => translateResponses({ model: 'm', input: [call('a'), output('a'), output('a')] }, [])).toThrow(
      expect.objectContaining({ status: 400, param: 'input', message: expect.stringMatching(/^Duplicate function call output for call_id a/) }),
    );
    // The stored conversation's call sent again with its output: said as such.
    expect(() => translateResponses({ model: 'm', input: [call('c1'), output('c1')] }, stored)).toThrow(
      expect.objectContaining({
        status: 400,
        param: 'input',
        message: expect.stringMatching(/^The function_call c1 is already in the conversation of previous_response_id/),
      }),
    );
    // Both answered, in either order: taken.
    expect(translateResponses({ model: 'm', input: [call('a'), call('b'), output('b'), output('a')] }, []).chat.messages.at(-1)).toMatchObject({
      role: 'tool',
    });
    expect(translateResponses({ model: 'm', input: [output('c1')] }, stored).chat.messages.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'c1' });
  });

  it("refuses max_output_tokens below OpenAI's minimum of 16 in its words, and takes 16", () => {
    for (const n of [1, 5, 15]) {
      expect(() => translateResponses({ model: 'm', input: 'x', max_output_tokens: n }, [])).toThrow(
        expect.objectContaining({
          status: 400,
          param: 'max_output_tokens',
          code: 'integer_below_min_value',
          message: `Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got ${n} instead.`,
        }),
      );
    }
    expect(() => translateResponses({ model: 'm', input: 'x', max_output_tokens: 16.5 }, [])).toThrow(expect.objectContaining({ param: 'max_output_tokens' }));
    expect(translateResponses({ model: 'm', input: 'x', max_output_tokens: 16 }, []).chat.max_tokens).toBe(16);
  });

  it("checks store's type, requires text.format.schema for json_schema, and echoes safety_identifier (as OpenAI's API does)", () => {
    expect(() => translateResponses({ model: 'm', input: 'x', store: 'yes' }, [])).toThrow(
      expect.objectContaining({ status: 400, param: 'store', message: 'store: expected a boolean' }),
    );
    expect(translateResponses({ model: 'm', input: 'x', store: false }, []).store).toBe(false);
    expect(translateResponses({ model: 'm', input: 'x' }, []).store).toBe(true);
    expect(() => translateResponses({ model: 'm', input: 'x', text: { format: { type: 'json_schema', name: 'p' } } }, [])).toThrow(
      expect.objectContaining({ status: 400, param: 'text.format.schema' }),
    );
    const r = translateResponses({ model: 'm', input: 'x', safety_identifier: 'sid-1' }, []);
    expect(r.echo).toMatchObject({ safety_identifier: 'sid-1', user: null });
  });

  it('passes user, safety_identifier and prompt_cache_key on under their own names, as chat completions take them', () => {
    const r = translateResponses({ model: 'm', input: 'x', user: 'u-1', safety_identifier: 'sid-1', prompt_cache_key: 'pck-1' }, []);
    expect(r.chat).toMatchObject({ user: 'u-1', safety_identifier: 'sid-1', prompt_cache_key: 'pck-1' });
    const only = translateResponses({ model: 'm', input: 'x', safety_identifier: 'sid-2' }, []).chat;
    expect(only.safety_identifier).toBe('sid-2');
    expect(only.user).toBeUndefined();
    expect(() => translateResponses({ model: 'm', input: 'x', prompt_cache_key: 5 }, [])).toThrow(
      expect.objectContaining({ status: 400, param: 'prompt_cache_key' }),
    );
    // An Anthropic-kind model reads safety_identifier as metadata.user_id.
    const sent = JSON.parse(
      anthropicAdapter.buildRequest({
        body: only,
        upstreamModel: 'claude',
        stream: false,
        apiKey: 'k',
        headers: {},
        basePath: '',
        maxOutputTokens: 100,
        anthropicVersion: '2023-06-01',
        prefill: null,
      }).body,
    ) as Record<string, unknown>;
    expect(sent.metadata).toEqual({ user_id: 'sid-2' });
  });

  it('streams items in order and closes them before completing', () => {
    const events: Array<[string, Record<string, unknown>]> = [];
    const w = new ResponsesStreamWriter({ id: 'resp_1', createdAt: 1, model: 'm', echo: {} }, (n, d) => (events.push([n, d]), true));
    w.start();
    w.chunk({ choices: [{ index: 0, delta: { content: 'Hel' } }] });
    w.chunk({ choices: [{ index: 0, delta: { content: 'lo' } }] });
    w.chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', function: { name: 'f', arguments: '{"a"' } }] } }] });
    w.chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }, finish_reason: 'tool_calls' }] });
    w.chunk({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 4 } });
    w.finishItems();
    const { response, assistant } = w.result();
    w.completed(response);
    expect(events.map(([n]) => n)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map(([, d]) => d.sequence_number)).toEqual(events.map((_, i) => i));
    expect(response).toMatchObject({ status: 'completed', usage: { input_tokens: 3, output_tokens: 4, total_tokens: 7 } });
    expect(assistant).toEqual({
      role: 'assistant',
      content: 'Hello',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
    });
  });

  it('a call streamed with empty arguments gets its "{}" as a delta before the done, so the deltas add up to what the done and the item say (they added up to "")', () => {
    const events: Array<[string, Record<string, unknown>]> = [];
    const w = new ResponsesStreamWriter({ id: 'resp_1', createdAt: 1, model: 'm', echo: {} }, (n, d) => (events.push([n, d]), true));
    w.start();
    w.chunk({
      choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', function: { name: 'now', arguments: '' } }] }, finish_reason: 'tool_calls' }],
    });
    w.finishItems();
    const { response } = w.result();
    const deltas = events.filter(([n]) => n === 'response.function_call_arguments.delta').map(([, d]) => d.delta);
    const done = events.find(([n]) => n === 'response.function_call_arguments.done')![1];
    expect(deltas.join('')).toBe('{}');
    expect(done.arguments).toBe('{}');
    expect((response.output as Array<{ arguments?: string }>)[0]!.arguments).toBe('{}');
  });

  it('parallel calls: one after another, each closes before the next opens; interleaved (every header first), no delta comes after its call closed', () => {
    const run = (chunks: Array<Record<string, unknown>>) => {
      const events: Array<[string, Record<string, unknown>]> = [];
      const w = new ResponsesStreamWriter({ id: 'resp_1', createdAt: 1, model: 'm', echo: {} }, (n, d) => (events.push([n, d]), true));
      w.start();
      for (const c of chunks) w.chunk({ choices: [{ index: 0, delta: { tool_calls: [c] } }] });
      w.finishItems();
      const { response } = w.result();
      return { events: events.slice(2).map(([n, d]) => `${n.replace('response.', '')}@${String(d.output_index)}`), response };
    };
    const call = (index: number, id: string, args = '') => ({ index, id, type: 'function', function: { name: `f${index}`, arguments: args } });
    const args = (index: number, a: string) => ({ index, function: { arguments: a } });
    const sequential = run([call(0, 'call_a'), args(0, '{"x":1}'), call(1, 'call_b'), args(1, '{"y":2}')]);
    expect(sequential.events).toEqual([
      'output_item.added@0',
      'function_call_arguments.delta@0',
      'function_call_arguments.done@0',
      'output_item.done@0',
      'output_item.added@1',
      'function_call_arguments.delta@1',
      'function_call_arguments.done@1',
      'output_item.done@1',
    ]);
    const interleaved = run([call(0, 'call_a'), call(1, 'call_b'), args(0, '{"x":1}'), args(1, '{"y":2}')]);
    expect(interleaved.events).toEqual([
      'output_item.added@0',
      'output_item.added@1',
      'function_call_arguments.delta@0',
      'function_call_arguments.delta@1',
      'function_call_arguments.done@0',
      'output_item.done@0',
      'function_call_arguments.done@1',
      'output_item.done@1',
    ]);
    expect(interleaved.response.output).toMatchObject([{ arguments: '{"x":1}' }, { arguments: '{"y":2}' }]);
  });

  it("a JSON answer's reasoning (DeepSeek's reasoning_content, OpenRouter's reasoning) is a reasoning item before the message, as a stream's is; not in the stored turn", () => {
    for (const field of ['reasoning_content', 'reasoning']) {
      const { output, assistant } = outputOfCompletion({
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hi', [field]: 'Let me think' }, finish_reason: 'stop' }],
      });
      expect(output).toMatchObject([
        { type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text: 'Let me think' }], status: 'completed' },
        { type: 'message', content: [{ type: 'output_text', text: 'Hi' }] },
      ]);
      expect((output[0] as { id: string }).id).toMatch(/^rs_/);
      expect(assistant).toEqual({ role: 'assistant', content: 'Hi' });
    }
  });

  it("Gemini's pieces: calls without an index, and every call numbered 0 under its own id, are each a call of their own", () => {
    const run = (chunks: Array<Record<string, unknown>>) => {
      const w = new ResponsesStreamWriter({ id: 'resp_1', createdAt: 1, model: 'm', echo: {} }, () => true);
      w.start();
      for (const c of chunks) w.chunk({ choices: [{ index: 0, delta: { tool_calls: [c] } }] });
      w.finishItems();
      return w.result().response.output;
    };
    const want = [
      { type: 'function_call', call_id: 'call_x', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { type: 'function_call', call_id: 'call_y', name: 'get_weather', arguments: '{"city":"Rome"}' },
    ];
    const whole = (id: string, city: string, more: Record<string, unknown> = {}) => ({
      id,
      type: 'function',
      function: { name: 'get_weather', arguments: `{"city":"${city}"}` },
      ...more,
    });
    expect(run([whole('call_x', 'Paris'), whole('call_y', 'Rome')])).toMatchObject(want);
    expect(run([whole('call_x', 'Paris', { index: 0 }), whole('call_y', 'Rome', { index: 0 })])).toMatchObject(want);
    // Without an index or an id, a piece goes on with the call before it.
    expect(
      run([{ id: 'call_x', function: { name: 'get_weather', arguments: '{"city":' } }, { function: { arguments: '"Paris"}' } }, whole('call_y', 'Rome')]),
    ).toMatchObject(want);
  });
});

describe('Messages → chat and back', () => {
  it('refuses wrong types with a message saying what is expected', () => {
    const base = { model: 'gpt-4.1', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ messages: [{ role: 'user', content: 5 }] }, 'messages[0].content: expected a string or an array of content blocks'],
      [{ system: 5 }, 'system: expected a string or an array of content blocks'],
      [{ temperature: 'hot' }, 'temperature: expected a number from 0 to 1'],
      [{ temperature: 1.5 }, 'temperature: expected a number from 0 to 1'],
      [{ top_p: 2 }, 'top_p: expected a number from 0 to 1'],
      [{ max_tokens: 2 ** 53 }, 'max_tokens: expected a positive integer <= 9007199254740991'],
      // Left out: Anthropic's words (it said "expected a positive integer", as if out of range).
      [{ max_tokens: undefined }, 'max_tokens: Field required'],
      // Anthropic's documented cache pre-warm is not streamed (Anthropic's rule): named as such.
      [{ max_tokens: 0, stream: true }, 'max_tokens: 0 (a prompt cache pre-warm) cannot be used with stream'],
      // 0 is a pre-warm, so "a positive integer" was not what it takes.
      [{ max_tokens: -1 }, 'max_tokens: expected 0 (a prompt cache pre-warm) or a positive integer'],
      // An image or document with nothing to read, for every endpoint kind (sent on and billed before).
      [{ messages: [{ role: 'user', content: [{ type: 'document' }] }] }, 'messages[0].content[0].source: Field required'],
      [
        { messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: '' } }] }] },
        'messages[0].content[0].source.url: String should have',
      ],
      [
        { messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: '' } }] }] },
        'messages[0].content[0].source.data: String should have',
      ],
      [{ messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'url', url: 5 } }] }] }, 'messages[0].content[0].source.url: Field required'],
    ];
    for (const [over, message] of cases) expect(() => translateMessages({ ...base, ...over })).toThrow(message);
    expect(translateMessages({ ...base, temperature: 0.5, top_p: 0.9 })).toMatchObject({ temperature: 0.5, top_p: 0.9 });
    // A pre-warm: reserved (and carried in the chat form) as 1, for Anthropic-kind endpoints only.
    const prewarm = translateMessages({ ...base, max_tokens: 0 });
    expect(prewarm.max_tokens).toBe(1);
    expect(nativeOf(prewarm)).toMatchObject({ kind: 'anthropic-messages', untranslated: ['max_tokens'] });
  });

  const body = {
    model: 'claude-sonnet-4.5',
    max_tokens: 300,
    system: [{ type: 'text', text: 'Sys', cache_control: { type: 'ephemeral' } }],
    stop_sequences: ['END'],
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'hi' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAA' } },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'calling' },
          { type: 'tool_use', id: 't1', name: 'f', input: { a: 1 } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: 'ok' },
          { type: 'text', text: 'thanks' },
        ],
      },
    ],
    tools: [{ name: 'f', input_schema: { type: 'object' } }],
    tool_choice: { type: 'any', disable_parallel_tool_use: true },
    top_k: 3,
  };

  it('stop_sequences [] (no stop sequences) sends an OpenAI-kind model no stop (it sent stop: [], which OpenAI refuses in some requests and Ollama reads as no end tokens)', () => {
    const chat = translateMessages({ model: 'c', max_tokens: 10, stop_sequences: [], messages: [{ role: 'user', content: 'x' }] });
    expect(chat.stop).toBeUndefined();
    expect(JSON.parse(openaiAdapter.buildRequest(build(chat)).body as string)).not.toHaveProperty('stop');
    expect(translateMessages({ model: 'c', max_tokens: 10, stop_sequences: ['END'], messages: [{ role: 'user', content: 'x' }] }).stop).toEqual(['END']);
  });

  it('translates a document a chat model can read as text (a text source, text blocks) into the user turn, title and context first; a PDF, a URL or citations keep it untranslated', () => {
    const user = (content: unknown) => ({ model: 'c', max_tokens: 10, messages: [{ role: 'user', content }] });
    const doc = { type: 'document', title: 'Memo', context: 'From HR', source: { type: 'text', media_type: 'text/plain', data: 'The office closes at 5.' } };
    const chat = translateMessages(user([doc, { type: 'text', text: 'When does it close?' }]));
    expect(nativeOf(chat)).toMatchObject({ untranslated: [] });
    expect(chat.messages).toEqual([{ role: 'user', content: 'Memo\n\nFrom HR\n\nThe office closes at 5.\nWhen does it close?' }]);
    const blocks = {
      type: 'document',
      source: {
        type: 'content',
        content: [
          { type: 'text', text: 'part one' },
          { type: 'text', text: 'part two' },
        ],
      },
    };
    expect(translateMessages(user([blocks, { type: 'text', text: 'sum?' }])).messages).toEqual([{ role: 'user', content: 'part one\npart two\nsum?' }]);
    // In a tool's result too.
    const call = { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] };
    const result = { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [doc] }] };
    const tools = [{ name: 'f', input_schema: { type: 'object' } }];
    const withTool = translateMessages({ model: 'c', max_tokens: 10, tools, messages: [{ role: 'user', content: 'go' }, call, result] });
    expect(withTool.messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 't1', content: 'Memo\n\nFrom HR\n\nThe office closes at 5.' });
    expect(nativeOf(withTool)).toMatchObject({ untranslated: [] });
    for (const other of [
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' }, citations: { enabled: true } },
      { type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } },
      { type: 'document', source: { type: 'file', file_id: 'file_011' } },
      // An image by its Files API id likewise (it was refused, "expected base64 or url", for an Anthropic-kind model too).
      { type: 'image', source: { type: 'file', file_id: 'file_011abc' } },
      { ...doc, citations: { enabled: true } },
      { type: 'document', source: { type: 'content', content: [{ type: 'image', source: { type: 'url', url: 'https://x/y.png' } }] } },
    ])
      expect(nativeOf(translateMessages(user([other, { type: 'text', text: 'x' }])))).toMatchObject({ untranslated: ['messages[0].content[0]'] });
  });

  it("translates a PDF given by its bytes into chat's file part (a filename from its title, title and context as text before it); a PDF in a tool result stays untranslated", () => {
    const user = (content: unknown) => ({ model: 'c', max_tokens: 10, messages: [{ role: 'user', content }] });
    const pdf = { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' } };
    const bare = translateMessages(user([pdf, { type: 'text', text: 'Summarise it.' }]));
    expect(nativeOf(bare)).toMatchObject({ untranslated: [] });
    expect(bare.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'file', file: { filename: 'document.pdf', file_data: 'data:application/pdf;base64,JVBERi0xLjQK' } },
          { type: 'text', text: 'Summarise it.' },
        ],
      },
    ]);
    const titled = translateMessages(
      user([
        { ...pdf, title: 'Q3 report / draft\n2', context: 'From finance' },
        { type: 'text', text: 'Sum?' },
      ]),
    );
    expect(titled.messages[0]!.content).toEqual([
      { type: 'text', text: 'Q3 report / draft\n2\n\nFrom finance' },
      { type: 'file', file: { filename: 'Q3 report draft 2.pdf', file_data: 'data:application/pdf;base64,JVBERi0xLjQK' } },
      { type: 'text', text: 'Sum?' },
    ]);
    expect((translateMessages(user([{ ...pdf, title: 'a.PDF' }])).messages[0]!.content as Array<{ file?: unknown }>)[1]!.file).toMatchObject({
      filename: 'a.PDF',
    });
    // Refused as Anthropic refuses it, for every endpoint kind.
    expect(() => translateMessages(user([{ ...pdf, source: { ...pdf.source, data: '' } }]))).toThrow(/the PDF is empty/);
    // A tool's result is text in chat: a PDF there keeps the request on Anthropic-kind models.
    const call = { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] };
    const result = { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [pdf] }] };
    const withTool = translateMessages({
      model: 'c',
      max_tokens: 10,
      tools: [{ name: 'f', input_schema: { type: 'object' } }],
      messages: [{ role: 'user', content: 'go' }, call, result],
    });
    expect(nativeOf(withTool)).toMatchObject({ untranslated: ['messages[2].content[0].content[0]'] });
  });

  it('translates output_config.format (structured outputs) to a json_schema response_format; effort keeps it on Anthropic-kind models', () => {
    const user = (content: unknown) => ({ model: 'c', max_tokens: 10, messages: [{ role: 'user', content }] });
    const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false };
    const chat = translateMessages({ ...user('x'), output_config: { format: { type: 'json_schema', schema } } });
    // Strict: Anthropic's structured outputs always hold the answer to the schema, OpenAI's only in strict mode.
    expect(chat.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema, strict: true } });
    expect(nativeOf(chat)).toMatchObject({ untranslated: [] });
    // A schema strict mode cannot take (an optional property, an open object, deep inside too) keeps the request on Anthropic-kind models.
    for (const bad of [
      { ...schema, required: [] },
      { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
      { ...schema, properties: { a: { type: 'array', items: { type: 'object', properties: { b: { type: 'string' } }, additionalProperties: false } } } },
    ]) {
      const c = translateMessages({ ...user('x'), output_config: { format: { type: 'json_schema', schema: bad } } });
      expect(nativeOf(c)).toMatchObject({ untranslated: ['output_config.format'] });
      expect(() => openaiAdapter.buildRequest(build(c))).toThrow(
        expect.objectContaining({ param: 'output_config.format', message: expect.stringMatching(/strict mode/) }),
      );
    }
    expect(nativeOf(translateMessages({ ...user('x'), output_config: { effort: 'high' } }))).toMatchObject({ untranslated: ['output_config.effort'] });
    expect(() => translateMessages({ ...user('x'), output_config: { format: { type: 'json_schema' } } })).toThrow(
      expect.objectContaining({ param: 'output_config.format' }),
    );
  });

  it('refuses what Anthropic bills above the standard prices, for every endpoint kind (fast mode, a regional inference_geo, priority service_tier)', () => {
    const user = (content: unknown) => ({ model: 'c', max_tokens: 10, messages: [{ role: 'user', content }] });
    for (const [field, value] of [
      ['speed', 'fast'],
      ['inference_geo', 'us'],
      ['service_tier', 'priority'],
    ] as const) {
      expect(() => translateMessages({ ...user('x'), [field]: value })).toThrow(expect.objectContaining({ status: 400, param: field }));
    }
    // Billed outside the priced usage: Anthropic's server-side fallbacks (another model's prices), its fallback credit, compaction.
    for (const [field, value, param] of [
      ['fallbacks', [{ model: 'claude-opus-4-1' }], 'fallbacks'],
      ['fallbacks', 'default', 'fallbacks'],
      ['fallback_credit_token', 'tok_1', 'fallback_credit_token'],
      ['compaction', { type: 'summarize' }, 'compaction'],
      ['context_management', { edits: [{ type: 'clear_tool_uses_20250919' }, { type: 'compact_20260112' }] }, 'context_management.edits[1]'],
    ] as const)
      expect(() => translateMessages({ ...user('x'), [field]: value })).toThrow(expect.objectContaining({ status: 400, param }));
    expect(() => translateMessages({ ...user('x'), context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] } })).not.toThrow();
    // No fallback asked for: a no-op value, dropped for an OpenAI-kind model (it kept the request on Claude).
    expect(nativeOf(translateMessages({ ...user('x'), fallbacks: [] }))).toMatchObject({ untranslated: [] });
    for (const [field, value] of [
      ['speed', 'standard'],
      ['inference_geo', 'global'],
      ['service_tier', 'standard_only'],
      ['service_tier', 'auto'],
    ] as const)
      expect(() => translateMessages({ ...user('x'), [field]: value })).not.toThrow();
  });

  it('a top-level cache_control (automatic caching) is a caching hint: dropped for an OpenAI-kind model as a block one is; a 1-hour one is refused', () => {
    const req = { model: 'c', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] };
    expect(nativeOf(translateMessages({ ...req, cache_control: { type: 'ephemeral' } }))).toMatchObject({ untranslated: [] });
    expect(() => translateMessages({ ...req, cache_control: { type: 'ephemeral', ttl: '1h' } })).toThrow(
      expect.objectContaining({ param: 'cache_control.ttl' }),
    );
    expect(nativeOf(translateMessages({ ...req, cache_control: { type: 'other' } }))).toMatchObject({ untranslated: ['cache_control'] });
  });

  it("keeps a strict tool strict: Anthropic's strict tool use is OpenAI's strict function", () => {
    const user = (content: unknown) => ({ model: 'c', max_tokens: 10, messages: [{ role: 'user', content }] });
    const closed = { type: 'object', properties: { q: { type: 'string' } }, required: ['q'], additionalProperties: false };
    const tools = [
      { name: 'a', input_schema: closed, strict: true },
      { name: 'b', input_schema: { type: 'object' }, strict: false },
      { name: 'c', input_schema: { type: 'object' } },
    ];
    const chat = translateMessages({ ...user('x'), tools });
    expect(chat.tools).toEqual([
      { type: 'function', function: { name: 'a', parameters: closed, strict: true } },
      { type: 'function', function: { name: 'b', parameters: { type: 'object' }, strict: false } },
      { type: 'function', function: { name: 'c', parameters: { type: 'object' } } },
    ]);
    expect(nativeOf(chat)).toMatchObject({ untranslated: [] });
    // A strict tool whose schema OpenAI's strict mode refuses (an optional property, an open object) keeps the
    // request on Anthropic-kind models, as output_config.format does: it was sent, and OpenAI answered a 400.
    for (const bad of [{ ...closed, required: [] }, { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] }, { type: 'object' }]) {
      const c = translateMessages({ ...user('x'), tools: [tools[1], { name: 'a', input_schema: bad, strict: true }] });
      expect(nativeOf(c)).toMatchObject({ untranslated: ['tools[1].strict'] });
      expect(() => openaiAdapter.buildRequest(build(c))).toThrow(
        expect.objectContaining({ param: 'tools[1].strict', message: expect.stringMatching(/strict tool only when/) }),
      );
    }
    expect(() => translateMessages({ ...user('x'), tools: [{ name: 'a', input_schema: { type: 'object' }, strict: 'yes' }] })).toThrow(
      expect.objectContaining({ param: 'tools[0].strict' }),
    );
  });

  it('translates system, blocks, tools and choice; lists what has no chat form', () => {
    const chat = translateMessages(body);
    expect(chat.messages).toEqual([
      { role: 'system', content: 'Sys' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'hi' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAA' } },
        ],
      },
      { role: 'assistant', content: 'calling', tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
      { role: 'tool', tool_call_id: 't1', content: 'ok' },
      { role: 'user', content: 'thanks' },
    ]);
    expect(chat).toMatchObject({ max_tokens: 300, stop: ['END'], tool_choice: 'required', parallel_tool_calls: false });
    // top_k reaches an Anthropic-kind endpoint untouched, and is refused by name for an OpenAI-kind one.
    const native = JSON.parse(anthropicAdapter.buildRequest(build(chat)).body) as Record<string, unknown>;
    expect(native).toMatchObject({ model: 'up-model', max_tokens: 100, top_k: 3, system: body.system, messages: body.messages });
    expect(() => openaiAdapter.buildRequest(build(chat))).toThrow(expect.objectContaining({ status: 400, param: 'top_k' }));
    const { top_k: _drop, ...plain } = body;
    expect(JSON.parse(openaiAdapter.buildRequest(build(translateMessages(plain))).body)).toMatchObject({
      model: 'up-model',
      max_tokens: 100,
      tool_choice: 'required',
    });
  });

  it("sends an Anthropic-kind endpoint temperature alone when a Messages request sets both it and top_p (Anthropic's current models refuse the two together; an OpenAI-kind one gets both)", () => {
    const req = { model: 'c', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] };
    const sent = (b: Record<string, unknown>) => JSON.parse(anthropicAdapter.buildRequest(build(translateMessages(b))).body) as Record<string, unknown>;
    const both = sent({ ...req, temperature: 0.5, top_p: 0.9 });
    expect(both.temperature).toBe(0.5);
    // It was sent with both: Claude Sonnet 4.5 answers that with a 400, after a route or a fail-over from a model that took it.
    expect(both).not.toHaveProperty('top_p');
    expect(sent({ ...req, top_p: 0.9 })).toMatchObject({ top_p: 0.9 });
    expect(sent({ ...req, temperature: 0, top_p: 0.9 })).not.toHaveProperty('top_p');
    expect(JSON.parse(openaiAdapter.buildRequest(build(translateMessages({ ...req, temperature: 0.5, top_p: 0.9 }))).body)).toMatchObject({
      temperature: 0.5,
      top_p: 0.9,
    });
  });

  it('refuses a 1-hour cache_control anywhere Anthropic reads one (its writes cost 2× input, beyond the priced 5-minute rate), for every endpoint kind', () => {
    const user = (content: unknown) => ({ model: 'c', max_tokens: 10, messages: [{ role: 'user', content }] });
    const long = { type: 'ephemeral', ttl: '1h' };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...user('x'), cache_control: long }, 'cache_control.ttl'],
      [{ ...user('x'), system: [{ type: 'text', text: 's', cache_control: long }] }, 'system[0].cache_control.ttl'],
      [{ ...user([{ type: 'text', text: 'x', cache_control: long }]) }, 'messages[0].content[0].cache_control.ttl'],
      [{ ...user('x'), tools: [{ name: 'f', input_schema: { type: 'object' }, cache_control: long }] }, 'tools[0].cache_control.ttl'],
    ];
    for (const [body, param] of cases) expect(() => translateMessages(body)).toThrow(expect.objectContaining({ status: 400, param }));
    // The 5-minute cache is served as before.
    expect(() => translateMessages({ ...user([{ type: 'text', text: 'x', cache_control: { type: 'ephemeral', ttl: '5m' } }]) })).not.toThrow();
  });

  it("a tool_result of several text blocks (an MCP tool's items) reaches an OpenAI-kind model as lines, not run together", () => {
    const chat = translateMessages({
      model: 'c',
      max_tokens: 10,
      messages: [
        { role: 'user', content: 'list' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'ls', input: {} }] },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 't1',
              content: [
                { type: 'text', text: 'file1.txt' },
                { type: 'text', text: 'file2.txt' },
              ],
            },
          ],
        },
      ],
    });
    expect(chat.messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 't1', content: 'file1.txt\nfile2.txt' });
  });

  it('a tool_result with is_error reaches an OpenAI-kind model saying so (chat has no flag for it)', () => {
    const chat = translateMessages({
      model: 'c',
      max_tokens: 10,
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'ls', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', is_error: true, content: 'boom' }] },
      ],
    });
    expect(chat.messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 't1', content: 'Error: boom' });
  });

  it('is_error and disable_parallel_tool_use are booleans: "true", 1 or "yes" is a 400 naming the field, not read as false (an Anthropic SDK round)', () => {
    const withResult = (is_error: unknown) => ({
      model: 'c',
      max_tokens: 10,
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'ls', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', is_error, content: 'boom' }] },
      ],
    });
    for (const bad of ['true', 1, 'yes']) {
      expect(() => translateMessages(withResult(bad)), String(bad)).toThrow(/messages\[2\]\.content\[0\]\.is_error: expected a boolean/);
      const tools = [{ name: 'ls', input_schema: { type: 'object' } }];
      for (const type of ['auto', 'any', 'none'])
        expect(
          () =>
            translateMessages({
              model: 'c',
              max_tokens: 10,
              tools,
              tool_choice: { type, disable_parallel_tool_use: bad },
              messages: [{ role: 'user', content: 'x' }],
            }),
          `${type} ${String(bad)}`,
        ).toThrow(/tool_choice\.disable_parallel_tool_use: expected a boolean/);
    }
    expect(translateMessages(withResult(false)).messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 't1', content: 'boom' });
    expect(translateMessages(withResult(null)).messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 't1', content: 'boom' });
    const tools = [{ name: 'ls', input_schema: { type: 'object' } }];
    expect(
      translateMessages({
        model: 'c',
        max_tokens: 10,
        tools,
        tool_choice: { type: 'any', disable_parallel_tool_use: true },
        messages: [{ role: 'user', content: 'x' }],
      }).parallel_tool_calls,
    ).toBe(false);
  });

  it("a chat refusal reaches a Messages client with stop_reason refusal (JSON and stream), as Claude's own does", () => {
    const m = messageOfCompletion({ choices: [{ message: { content: null, refusal: "I can't help with that." }, finish_reason: 'stop' }] });
    expect(m).toMatchObject({ stop_reason: 'refusal', content: [{ type: 'text', text: "I can't help with that." }] });
    const events: Array<[string, Record<string, unknown>]> = [];
    const w = new MessagesStreamWriter((n, d) => (events.push([n, d]), true), 'gpt-4.1');
    w.start();
    w.chunk({ choices: [{ delta: { refusal: "I can't" } }] });
    w.chunk({ choices: [{ delta: { refusal: ' help.' }, finish_reason: 'stop' }] });
    w.done();
    expect(events.find(([n]) => n === 'message_delta')?.[1]).toMatchObject({ delta: { stop_reason: 'refusal' } });
  });

  it("an upstream that says which stop sequence matched (vLLM's stop_reason, SGLang's matched_stop, Claude through the adapter) gives stop_reason stop_sequence and the sequence (JSON and stream); OpenAI's bare stop stays end_turn", () => {
    for (const said of [{ stop_reason: 'END' }, { matched_stop: 'END' }]) {
      const m = messageOfCompletion({ choices: [{ message: { content: 'a b' }, finish_reason: 'stop', ...said }] });
      expect([m.stop_reason, m.stop_sequence]).toEqual(['stop_sequence', 'END']);
      const events: Array<[string, Record<string, unknown>]> = [];
      const w = new MessagesStreamWriter((n, d) => (events.push([n, d]), true), 'gpt-4.1');
      w.start();
      w.chunk({ choices: [{ delta: { content: 'a b' } }] });
      w.chunk({ choices: [{ delta: {}, finish_reason: 'stop', ...said }] });
      w.done();
      expect(events.find(([n]) => n === 'message_delta')?.[1]).toMatchObject({ delta: { stop_reason: 'stop_sequence', stop_sequence: 'END' } });
    }
    // A token id (vLLM's stop_token_ids) or a finish other than stop says no stop sequence.
    expect(messageOfCompletion({ choices: [{ message: { content: 'a' }, finish_reason: 'stop', stop_reason: 7 }] })).toMatchObject({
      stop_reason: 'end_turn',
      stop_sequence: null,
    });
    expect(messageOfCompletion({ choices: [{ message: { content: 'a' }, finish_reason: 'length', stop_reason: 'END' }] })).toMatchObject({
      stop_reason: 'max_tokens',
      stop_sequence: null,
    });
    expect(messageOfCompletion({ choices: [{ message: { content: 'a' }, finish_reason: 'stop' }] })).toMatchObject({
      stop_reason: 'end_turn',
      stop_sequence: null,
    });
    const { completion } = anthropicAdapter.parseCompletion({
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude',
      content: [{ type: 'text', text: 'a b' }],
      stop_reason: 'stop_sequence',
      stop_sequence: 'END',
      usage: { input_tokens: 3, output_tokens: 2 },
    });
    expect([messageOfCompletion(completion).stop_reason, messageOfCompletion(completion).stop_sequence]).toEqual(['stop_sequence', 'END']);
  });

  it("a Claude refusal of words alone reaches a chat client as OpenAI's refusal: the words in refusal, content null, finish stop", () => {
    const { completion } = anthropicAdapter.parseCompletion({
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude',
      content: [{ type: 'text', text: 'I cannot help with that.' }],
      stop_reason: 'refusal',
      usage: { input_tokens: 5, output_tokens: 6 },
    });
    expect((completion.choices as Array<Record<string, unknown>>)[0]).toMatchObject({
      message: { content: null, refusal: 'I cannot help with that.' },
      finish_reason: 'stop',
    });
  });

  it('continues a native answer after a cut with the delivered text as an assistant turn', () => {
    const chat = translateMessages({ model: 'c', max_tokens: 10, messages: [{ role: 'user', content: 'go' }] });
    const sent = JSON.parse(anthropicAdapter.buildRequest(build(chat, { prefill: 'Once upon ', stream: true })).body) as {
      messages: unknown[];
      stream: boolean;
    };
    expect(sent.stream).toBe(true);
    expect(sent.messages).toEqual([
      { role: 'user', content: 'go' },
      { role: 'assistant', content: 'Once upon' },
    ]);
  });

  it('refuses what Anthropic refuses in metadata, images and tool names, for every endpoint kind (auto answered or refused by the model it picked)', () => {
    const base = { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] };
    const refused = (b: Record<string, unknown>, param: string) =>
      expect(() => translateMessages({ ...base, ...b })).toThrow(expect.objectContaining({ status: 400, param }));
    refused({ metadata: 'x' }, 'metadata');
    refused({ metadata: { user_id: 5 } }, 'metadata.user_id');
    refused({ metadata: { user_id: 'u', team: 'a' } }, 'metadata.team');
    const image = (media_type: string) => ({
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type, data: 'AAAA' } }] }],
    });
    refused(image('image/bmp'), 'messages[0].content[0].source.media_type');
    refused(image('image/jpg'), 'messages[0].content[0].source.media_type');
    const tool = (name: string) => ({ name, input_schema: { type: 'object' } });
    refused({ tools: [tool('bad name!')] }, 'tools[0].name');
    refused({ tools: [tool('f'), tool('f')] }, 'tools[1].name');
    // What Anthropic takes still goes through.
    const ok = translateMessages({ ...base, ...image('image/webp'), metadata: { user_id: 'u-1' }, tools: [tool('get_weather-2')] });
    expect(ok.user).toBe('u-1');
  });

  it('refuses a tool_choice naming a tool that is not in tools', () => {
    const base = { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] };
    expect(() => translateMessages({ ...base, tool_choice: { type: 'tool', name: 'f' } })).toThrow(
      expect.objectContaining({
        status: 400,
        message: expect.stringMatching(/^tool_choice\.name: tool "f" is not in tools \(the request declares no tools\)/),
      }),
    );
    expect(() => translateMessages({ ...base, tools: [{ name: 'g', input_schema: { type: 'object' } }], tool_choice: { type: 'tool', name: 'f' } })).toThrow(
      /tool "f" is not in tools \(declared: g\)/,
    );
    expect(
      translateMessages({ ...base, tools: [{ name: 'f', input_schema: { type: 'object' } }], tool_choice: { type: 'tool', name: 'f' } }).tool_choice,
    ).toEqual({
      type: 'function',
      function: { name: 'f' },
    });
  });

  it('refuses what Anthropic refuses instead of changing the conversation: an empty turn (not the final assistant one), empty text, a tool without input_schema, a tool_result answering no tool_use, a tool_use left unanswered', () => {
    const turns = (...messages: unknown[]) => ({ model: 'm', max_tokens: 5, messages });
    const refused = (b: Record<string, unknown>, param: string, why: RegExp) =>
      expect(() => translateMessages(b)).toThrow(expect.objectContaining({ status: 400, param, message: expect.stringMatching(why) }));
    const NON_EMPTY = /all messages must have non-empty content except for the optional final assistant message/;
    // The user's last turn was dropped: the upstream got a conversation ending on the assistant.
    refused(turns({ role: 'user', content: 'hi' }, { role: 'assistant', content: 'ok' }, { role: 'user', content: [] }), 'messages[2].content', NON_EMPTY);
    refused(turns({ role: 'user', content: '' }), 'messages[0].content', NON_EMPTY);
    refused(turns({ role: 'user', content: 'a' }, { role: 'assistant', content: [] }, { role: 'user', content: 'b' }), 'messages[1].content', NON_EMPTY);
    refused(turns({ role: 'user', content: [{ type: 'text', text: '' }] }), 'messages[0].content[0].text', /text content blocks must be non-empty/);
    // The optional final assistant turn may be empty: it prefills nothing and the chat form leaves it out.
    expect(translateMessages(turns({ role: 'user', content: 'hi' }, { role: 'assistant', content: '' })).messages).toEqual([{ role: 'user', content: 'hi' }]);
    // A prefill ending with whitespace: Anthropic's 400, for every endpoint kind (a native request got it from upstream after an attempt).
    const TRAILING = /^messages\[1\]\.content: final assistant content cannot end with trailing whitespace$/;
    refused(turns({ role: 'user', content: 'hi' }, { role: 'assistant', content: 'Sure ' }), 'messages[1].content', TRAILING);
    refused(turns({ role: 'user', content: 'hi' }, { role: 'assistant', content: [{ type: 'text', text: 'One,\n' }] }), 'messages[1].content', TRAILING);
    // Not a final turn, or no whitespace at its end: taken.
    expect(
      translateMessages(turns({ role: 'user', content: 'hi' }, { role: 'assistant', content: 'Sure ' }, { role: 'user', content: 'go' })).messages,
    ).toHaveLength(3);
    expect(translateMessages(turns({ role: 'user', content: 'hi' }, { role: 'assistant', content: ' Sure' })).messages).toHaveLength(2);
    refused({ ...turns({ role: 'user', content: 'x' }), tools: [{ name: 'f' }] }, 'tools[0].input_schema', /^tools\[0\]\.input_schema: Field required/);
    refused({ ...turns({ role: 'user', content: 'x' }), tools: [{ name: 'f', input_schema: 'x' }] }, 'tools[0].input_schema', /expected a JSON Schema object/);
    // A schema of another type than object: Anthropic refuses it, and an OpenAI-kind upstream's own error named its function schema.
    refused(
      { ...turns({ role: 'user', content: 'x' }), tools: [{ name: 'f', input_schema: { properties: {} } }] },
      'tools[0].input_schema.type',
      /Field required/,
    );
    refused(
      { ...turns({ role: 'user', content: 'x' }), tools: [{ name: 'f', input_schema: { type: 'string' } }] },
      'tools[0].input_schema.type',
      /Input should be 'object'/,
    );
    const call = { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] };
    const result = (id: string) => ({ role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: 'r' }] });
    refused(turns(result('t1')), 'messages[0].content[0].tool_use_id', /unexpected tool_use_id "t1" in a tool_result block/);
    refused(turns({ role: 'user', content: 'x' }, call, result('t2')), 'messages[2].content[0].tool_use_id', /unexpected tool_use_id "t2"/);
    refused(
      turns({ role: 'user', content: 'x' }, call, { role: 'user', content: 'y' }),
      'messages[2].content',
      /tool_use ids were found without tool_result blocks immediately after: "t1"/,
    );
    refused(
      turns({ role: 'user', content: 'x' }, call, { role: 'assistant', content: 'y' }),
      'messages[1].content',
      /without tool_result blocks immediately after/,
    );
    // A result answers the call just before it, once: an old call's id later is refused.
    refused(
      turns({ role: 'user', content: 'x' }, call, result('t1'), { role: 'assistant', content: 'z' }, result('t1')),
      'messages[4].content[0].tool_use_id',
      /unexpected tool_use_id/,
    );
    expect(translateMessages(turns({ role: 'user', content: 'x' }, call, result('t1'))).messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    // Whitespace-only text, an empty system block, a tool_use id twice, a tool_use answered twice.
    refused(turns({ role: 'user', content: [{ type: 'text', text: '  \n' }] }), 'messages[0].content[0].text', /must contain non-whitespace text/);
    refused({ ...turns({ role: 'user', content: 'x' }), system: [{ type: 'text', text: '' }] }, 'system[0].text', /must be non-empty/);
    const twice = { role: 'assistant', content: [call.content[0], call.content[0]] };
    refused(turns({ role: 'user', content: 'x' }, twice, result('t1')), 'messages[1].content', /tool_use ids must be unique: "t1" appears twice/);
    const answeredTwice = { role: 'user', content: [...result('t1').content, ...result('t1').content] };
    refused(turns({ role: 'user', content: 'x' }, call, answeredTwice), 'messages[2].content[1].tool_use_id', /answered twice/);
    // The results first, as Anthropic requires ("must begin with a matching number of tool_result blocks"): text before one is
    // refused for every endpoint kind (an OpenAI-kind model was sent it reordered, Claude answered 400 after an attempt).
    const textFirst = { role: 'user', content: [{ type: 'text', text: 'Here:' }, ...result('t1').content] };
    refused(turns({ role: 'user', content: 'x' }, call, textFirst), 'messages[2].content[1]', /must begin with a matching number of tool_result blocks/);
    const resultThenText = { role: 'user', content: [...result('t1').content, { type: 'text', text: 'And more.' }] };
    expect(translateMessages(turns({ role: 'user', content: 'x' }, call, resultThenText)).messages.map((m) => m.role)).toEqual([
      'user',
      'assistant',
      'tool',
      'user',
    ]);
    // A block in the wrong turn: refused for every endpoint kind, saying where it belongs (it said
    // "only supported … routed to an Anthropic-kind endpoint", and an Anthropic-kind one was sent it).
    refused(
      turns(
        { role: 'user', content: [{ type: 'tool_use', id: 'x', name: 'a', input: {} }] },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'hi' },
      ),
      'messages[0].content[0].type',
      /a tool_use block belongs in an assistant message/,
    );
    refused(
      turns({ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'r' }] }),
      'messages[1].content[0].type',
      /a tool_result block belongs in a user message/,
    );
  });

  it('refuses a tool_use input that is not a JSON object, naming its path', () => {
    const withInput = (input: unknown) => ({
      model: 'm',
      max_tokens: 5,
      messages: [
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'calling' },
            { type: 'tool_use', id: 't1', name: 'f', input },
          ],
        },
      ],
    });
    for (const input of ['{"a":1}', [1], 5, true, null]) {
      expect(() => translateMessages(withInput(input))).toThrow(
        expect.objectContaining({
          status: 400,
          param: 'messages[1].content[1].input',
          message: expect.stringMatching(/^messages\[1\]\.content\[1\]\.input: Input should be a valid dictionary/),
        }),
      );
    }
    expect(() => translateMessages(withInput(undefined))).toThrow(/^messages\[1\]\.content\[1\]\.input: Field required/);
    expect(translateMessages(withInput({ a: 1 })).messages[1]).toMatchObject({ tool_calls: [{ function: { arguments: '{"a":1}' } }] });
  });

  it("takes Anthropic's client-run tools (bash, text editor, computer, memory) as untranslated, their hidden definitions in the prompt's bound", () => {
    const tools = [
      { type: 'bash_20250124', name: 'bash' },
      { type: 'text_editor_20250728', name: 'str_replace_based_edit_tool' },
      { type: 'computer_20250124', name: 'computer', display_width_px: 1024, display_height_px: 768 },
      { type: 'memory_20250818', name: 'memory' },
    ];
    const chat = translateMessages({ ...body, tools });
    expect(nativeOf(chat)).toMatchObject({
      kind: 'anthropic-messages',
      untranslated: expect.arrayContaining(['tools[0].type', 'tools[1].type', 'tools[2].type', 'tools[3].type']),
    });
    expect((chat.tools as Array<{ function: { name: string } }>).map((t) => t.function.name)).toEqual([
      'bash',
      'str_replace_based_edit_tool',
      'computer',
      'memory',
    ]);
    // What Anthropic adds to the prompt for them (its figures doubled: 245, 700, 735 + ~500; memory 1,024) is reserved for.
    const plain = promptBoundTokens(translateMessages({ ...body, tools: [{ name: 'bash', input_schema: { type: 'object' } }] }));
    expect(promptBoundTokens(translateMessages({ ...body, tools: [tools[0]!] })) - plain).toBeGreaterThanOrEqual(490 - 20);
    expect(promptBoundTokens(chat) - plain).toBeGreaterThanOrEqual(490 + 1400 + 2470 + 2048);
    expect(() => translateMessages({ ...body, tools: [tools[0]!, { type: 'bash_20241022', name: 'bash' }] })).toThrow(
      expect.objectContaining({ param: 'tools[1].name' }),
    );
  });

  it('refuses server tools and a missing max_tokens', () => {
    expect(() => translateMessages({ ...body, tools: [{ type: 'web_search_20250305', name: 'web_search' }] })).toThrow(
      expect.objectContaining({ param: 'tools[0].type' }),
    );
    expect(() => translateMessages({ model: 'm', messages: [{ role: 'user', content: 'x' }] })).toThrow(expect.objectContaining({ param: 'max_tokens' }));
  });

  it("a translated answer's tool call ids reach a Messages client in Anthropic's alphabet (JSON and stream), the same id each time: the client may send them to Claude next", () => {
    const kimi = 'functions.get_weather:0';
    const json = messageOfCompletion({
      choices: [{ message: { tool_calls: [{ id: kimi, type: 'function', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' }],
    });
    const id = (json.content as Array<{ id: string }>)[0]!.id;
    expect(id).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(id).toBe(anthropicToolId(kimi));
    expect(anthropicToolId('functions.get_weather;0')).not.toBe(id);
    expect(anthropicToolId('call_abc-1')).toBe('call_abc-1');
    const events: Array<[string, Record<string, unknown>]> = [];
    const w = new MessagesStreamWriter((n, d) => (events.push([n, d]), true), 'gpt-4.1');
    w.start();
    w.chunk({ choices: [{ delta: { tool_calls: [{ index: 0, id: kimi, function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' }] });
    w.done();
    const block = events.find(([n, d]) => n === 'content_block_start' && (d.content_block as { type: string }).type === 'tool_use')?.[1];
    expect((block?.content_block as { id: string }).id).toBe(id);
  });

  it('renders a completion and a stream in Anthropic form', () => {
    const m = messageOfCompletion({
      id: 'chatcmpl-1',
      model: 'gpt-4.1',
      choices: [{ message: { content: 'yo', tool_calls: [{ id: 'c', function: { name: 'f', arguments: '{"x":2}' } }] }, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: 10, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 4 } },
    });
    expect(m).toMatchObject({
      type: 'message',
      model: 'gpt-4.1',
      stop_reason: 'tool_use',
      content: [
        { type: 'text', text: 'yo' },
        { type: 'tool_use', id: 'c', name: 'f', input: { x: 2 } },
      ],
      usage: { input_tokens: 6, output_tokens: 2, cache_read_input_tokens: 4 },
    });
    expect(String(m.id)).toMatch(/^msg_/);
    const names: string[] = [];
    const w = new MessagesStreamWriter((n) => (names.push(n), true), 'gpt-4.1');
    w.start();
    w.chunk({ choices: [{ delta: { content: 'a' } }] });
    w.chunk({ choices: [{ delta: { tool_calls: [{ index: 0, id: 'c', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' }] });
    w.done();
    expect(names).toEqual([
      'message_start',
      'ping',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });

  it("reports an OpenAI-kind answer's cache writes (prompt_tokens_details.cache_write_tokens) as cache_creation_input_tokens, outside input_tokens, as Anthropic does (JSON and stream)", () => {
    const usage = { prompt_tokens: 1000, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 300, cache_write_tokens: 600 } };
    const want = { input_tokens: 100, output_tokens: 7, cache_read_input_tokens: 300, cache_creation_input_tokens: 600 };
    expect(messageOfCompletion({ choices: [{ message: { content: 'yo' }, finish_reason: 'stop' }], usage }).usage).toEqual(want);
    const events: [string, unknown][] = [];
    const w = new MessagesStreamWriter((n, d) => (events.push([n, d]), true), 'gpt-4.1');
    w.start();
    w.chunk({ choices: [{ delta: { content: 'yo' }, finish_reason: 'stop' }] });
    w.chunk({ choices: [], usage });
    w.done();
    expect(events.find(([n]) => n === 'message_delta')?.[1]).toMatchObject({ usage: want });
    // Without cache figures nothing is taken out of prompt_tokens.
    expect(messageOfCompletion({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 2 } }).usage).toEqual({
      input_tokens: 10,
      output_tokens: 2,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
    });
  });

  it("reads usage as billing does: DeepSeek's prompt_cache_hit_tokens are cache reads, and output beyond completion_tokens in total_tokens is output", () => {
    const deepseek = { prompt_tokens: 500, completion_tokens: 20, total_tokens: 520, prompt_cache_hit_tokens: 200, prompt_cache_miss_tokens: 300 };
    expect(messageOfCompletion({ choices: [], usage: deepseek }).usage).toEqual({
      input_tokens: 300,
      output_tokens: 20,
      cache_read_input_tokens: 200,
      cache_creation_input_tokens: 0,
    });
    // Reasoning billed in total_tokens but not in completion_tokens (as some providers report it).
    const hidden = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 40 };
    expect(messageOfCompletion({ choices: [], usage: hidden }).usage).toMatchObject({ input_tokens: 10, output_tokens: 30 });
  });

  it("a Response's usage reads usage as billing does too: DeepSeek's prompt_cache_hit_tokens are its cached tokens, as in its stream", () => {
    const deepseek = { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30, prompt_cache_hit_tokens: 12, prompt_cache_miss_tokens: 8 };
    expect(responsesUsage(deepseek)).toEqual({
      input_tokens: 20,
      input_tokens_details: { cached_tokens: 12 },
      output_tokens: 10,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 30,
    });
    expect(responsesUsage({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 40 })).toMatchObject({ output_tokens: 30, total_tokens: 40 });
    // Counts billing cannot read (no prompt_tokens): what there is, field by field.
    expect(responsesUsage({ completion_tokens: 3 })).toMatchObject({ input_tokens: 0, output_tokens: 3 });
  });
});

describe('embeddings models in the config', () => {
  const base = DEFAULT_CONFIG as unknown as { providers: Record<string, unknown>; models: Record<string, unknown>; routing: Record<string, unknown> };
  const emb = (provider: string) => ({
    tier: 'fast_cheap',
    price: { inputPerMTok: 0.02, outputPerMTok: 0 },
    contextWindow: 8192,
    capabilities: ['embeddings'],
    endpoints: [{ provider, upstreamModel: 'e' }],
  });

  it('accepts one on an OpenAI-kind provider', () => {
    expect(validateConfig({ ...base, models: { ...base.models, e: emb('openai') } }).ok).toBe(true);
  });

  it('refuses the model keys nothing reads for it (an answer cap, image tokens, stream time limits: accepted and never read)', () => {
    const r = validateConfig({
      ...base,
      models: { ...base.models, e: { ...emb('openai'), maxOutputTokens: 1, imageTokens: 1000, firstTokenTimeoutMs: 100, idleTimeoutMs: 100 } },
    });
    expect(r.ok ? [] : r.errors).toEqual([
      expect.stringMatching(/^models\.e\.maxOutputTokens: an embeddings model writes no output .*: maxOutputTokens is never read for it; remove it/),
      expect.stringMatching(/^models\.e\.imageTokens: an embeddings model takes no image: imageTokens is never read for it/),
      expect.stringMatching(/^models\.e\.firstTokenTimeoutMs: an embeddings model streams nothing/),
      expect.stringMatching(/^models\.e\.idleTimeoutMs: an embeddings model streams nothing/),
    ]);
  });

  it('refuses Anthropic-kind endpoints, routes through it and mixed fallbacks, naming the key', () => {
    const errors = (cfg: unknown): string => {
      const r = validateConfig(cfg);
      return r.ok ? '' : r.errors.join('\n');
    };
    expect(errors({ ...base, models: { ...base.models, e: emb('anthropic') } })).toMatch(
      /models\.e\.endpoints\[0\]\.provider: an embeddings model needs an OpenAI-kind provider/,
    );
    expect(errors({ ...base, models: { ...base.models, e: emb('openai') }, routing: { ...base.routing, routes: { r: ['e'] } } })).toMatch(
      /routing\.routes\.r\[0\]: "e" is an embeddings model/,
    );
    expect(errors({ ...base, models: { ...base.models, e: { ...emb('openai'), fallbacks: ['gpt-4.1'] } } })).toMatch(
      /models\.e\.fallbacks\[0\]: "gpt-4\.1" is a chat model/,
    );
  });
});

describe('Messages errors in Anthropic shape', () => {
  it.each<[ConstructorParameters<typeof SwitchyardError>[0], string]>([
    ['invalid_request', 'invalid_request_error'],
    ['invalid_api_key', 'authentication_error'],
    ['not_found', 'not_found_error'],
    ['body_too_large', 'request_too_large'],
    ['rate_limited', 'rate_limit_error'],
    ['upstream_error', 'api_error'],
    ['no_endpoint_available', 'overloaded_error'],
    // Anthropic's own 504 is timeout_error (the SDK's GatewayTimeoutError).
    ['timeout', 'timeout_error'],
  ])('%s is %s', (code, type) => {
    expect(anthropicError(new SwitchyardError(code, 'x'))).toEqual({ type: 'error', error: { type, message: 'x' } });
  });

  it("an upstream's error.details reaches the client (the SDK reads error_code from it), scrubbed like the message", () => {
    const info = parseAnthropicError(
      404,
      JSON.stringify({
        type: 'error',
        error: { type: 'not_found_error', message: 'thread problem', details: { error_code: 'thread_not_found', key: 'sk-ant-abcdefghijklmnopqrstuvwx' } },
      }),
    );
    expect(info.details).toEqual({ error_code: 'thread_not_found', key: 'sk-ant-abcdefghijklmnopqrstuvwx' });
    const body = anthropicError(upstreamClientError(404, info));
    expect(body).toEqual({
      type: 'error',
      error: { type: 'not_found_error', message: 'thread problem', details: { error_code: 'thread_not_found', key: '[redacted]' } },
    });
  });

  it('a message thread is refused for every model with thread_unsupported_request, before its tool results are read', () => {
    const cont = {
      model: 'gpt-4.1',
      max_tokens: 10,
      thread: { type: 'continue', previous_message_id: 'msg_1' },
      messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] }],
    };
    for (const body of [cont, { ...cont, model: 'claude-sonnet-4.5', thread: { type: 'create' }, messages: [{ role: 'user', content: 'hi' }] }]) {
      const err = (() => {
        try {
          translateMessages(body);
        } catch (e) {
          return e as SwitchyardError;
        }
        return null;
      })();
      expect(err?.status).toBe(400);
      expect(anthropicError(err!).error).toMatchObject({
        type: 'invalid_request_error',
        details: { error_code: 'thread_unsupported_request', unsupported: ['thread'] },
      });
    }
  });
});
