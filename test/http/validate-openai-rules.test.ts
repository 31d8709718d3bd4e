/**
 * OpenAI's own 400s on a chat body, given at the edge: sent on, each was an upstream attempt for
 * the client's mistake (OpenAI's 400, another provider's other answer). Both validation paths end
 * in the same rules.
 */
import { describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../src/errors.js';
import { parseChatBody, parseChatBodyZod } from '../../src/http/validate.js';

const base = { model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] };

function refusal(body: Record<string, unknown>): SwitchyardError {
  const errs = [parseChatBody, parseChatBodyZod].map((parse) => {
    try {
      parse(structuredClone(body));
    } catch (err) {
      return err;
    }
    throw new Error(`not refused: ${JSON.stringify(body)}`);
  });
  expect(errs[0]).toBeInstanceOf(SwitchyardError);
  expect((errs[1] as SwitchyardError).message).toBe((errs[0] as SwitchyardError).message);
  return errs[0] as SwitchyardError;
}

describe('edge validation: OpenAI’s required message fields', () => {
  it.each(['user', 'system', 'developer'])('a %s message without content is a 400 naming messages[i].content', (role) => {
    const err = refusal({ ...base, messages: [{ role: 'user', content: 'hi' }, { role }] });
    expect([err.status, err.code, err.param]).toEqual([400, 'invalid_request', 'messages[1].content']);
    expect(err.message).toBe("Missing required parameter: 'messages[1].content'.");
    expect(refusal({ ...base, messages: [{ role, content: null }] }).param).toBe('messages[0].content');
  });

  it('a tool message needs content and tool_call_id; an assistant message may leave content out or null', () => {
    const call = { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] };
    expect(refusal({ ...base, messages: [base.messages[0], call, { role: 'tool', tool_call_id: 'c1' }] }).param).toBe('messages[2].content');
    expect(refusal({ ...base, messages: [base.messages[0], call, { role: 'tool', content: 'ok' }] }).message).toBe(
      "Missing required parameter: 'messages[2].tool_call_id'.",
    );
    expect(() => parseChatBody({ ...base, messages: [base.messages[0], call, { role: 'tool', tool_call_id: 'c1', content: 'ok' }] })).not.toThrow();
    expect(() =>
      parseChatBody({
        ...base,
        messages: [base.messages[0], { role: 'assistant', tool_calls: call.tool_calls }, { role: 'tool', tool_call_id: 'c1', content: null }],
      }),
    ).not.toThrow();
    expect(() => parseChatBody({ ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] })).not.toThrow();
  });
});

describe('edge validation: logprobs and top_logprobs', () => {
  it('top_logprobs above 0 without logprobs: true is a 400 naming top_logprobs', () => {
    for (const logprobs of [undefined, false, null]) {
      const err = refusal({ ...base, top_logprobs: 3, ...(logprobs === undefined ? {} : { logprobs }) });
      expect([err.status, err.code, err.param]).toEqual([400, 'invalid_request', 'top_logprobs']);
      expect(err.message).toMatch(/'logprobs' must be set to true/);
    }
  });

  it('top_logprobs out of 0..20 or not an integer, and logprobs not a boolean, are 400s', () => {
    for (const top of [21, -1, 2.5, '3']) expect(refusal({ ...base, logprobs: true, top_logprobs: top }).param).toBe('top_logprobs');
    expect(refusal({ ...base, logprobs: 'yes' }).param).toBe('logprobs');
  });

  it('passes what OpenAI takes: logprobs with top_logprobs, top_logprobs 0 alone (a client default), logprobs alone', () => {
    for (const extra of [
      { logprobs: true, top_logprobs: 20 },
      { top_logprobs: 0 },
      { logprobs: false, top_logprobs: 0 },
      { logprobs: true },
      { top_logprobs: null },
    ])
      expect(() => parseChatBody({ ...base, ...extra })).not.toThrow();
  });
});

describe('edge validation: parallel_tool_calls', () => {
  it('without tools is a 400 naming it, as OpenAI answers (an OpenAI-kind model refused it, an Anthropic-kind one served it)', () => {
    for (const tools of [undefined, null, []]) {
      const err = refusal({ ...base, parallel_tool_calls: false, ...(tools === undefined ? {} : { tools }) });
      expect([err.status, err.code, err.param]).toEqual([400, 'invalid_request', 'parallel_tool_calls']);
      expect(err.message).toMatch(/^Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified/);
    }
    const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];
    expect(() => parseChatBody({ ...base, tools, parallel_tool_calls: false })).not.toThrow();
    expect(() => parseChatBody({ ...base, parallel_tool_calls: null })).not.toThrow();
  });
});

describe('edge validation: tool turns', () => {
  const call = (id: string) => ({ id, type: 'function', function: { name: 'f', arguments: '{}' } });
  const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];
  const user = { role: 'user', content: 'hi' };
  const asked = (...ids: string[]) => ({ role: 'assistant', content: null, tool_calls: ids.map(call) });
  const answer = (id: string) => ({ role: 'tool', tool_call_id: id, content: 'ok' });

  it('a tool message that answers no call of the assistant message before it is a 400 (every provider refuses it: it was an upstream attempt)', () => {
    const orphan = refusal({ ...base, messages: [user, answer('c1')] });
    expect([orphan.status, orphan.param]).toEqual([400, 'messages[1].role']);
    expect(orphan.message).toBe("Invalid parameter: messages with role 'tool' must be a response to a preceding message with 'tool_calls'.");
    // After the next assistant turn the calls are no longer answerable.
    expect(refusal({ ...base, tools, messages: [user, asked('c1'), answer('c1'), { role: 'assistant', content: 'ok' }, user, answer('c1')] }).param).toBe(
      'messages[5].role',
    );
    const stray = refusal({ ...base, tools, messages: [user, asked('c1'), answer('c2')] });
    expect([stray.param, stray.message]).toEqual([
      'messages[2].tool_call_id',
      "Invalid parameter: 'tool_call_id' of 'c2' not found in 'tool_calls' of previous message.",
    ]);
  });

  it("a call answered twice, or two calls of one message with one id, is OpenAI's 400 (a helper found them sent on: Anthropic refuses both too)", () => {
    const twice = refusal({ ...base, tools, messages: [user, asked('c1', 'c2'), answer('c1'), answer('c1'), answer('c2')] });
    expect([twice.status, twice.param, twice.message]).toEqual([
      400,
      'messages[3].tool_call_id',
      "Invalid parameter: Duplicate value for 'tool_call_id' of 'c1' in messages[2] and messages[3].",
    ]);
    const same = refusal({ ...base, tools, messages: [user, asked('c1', 'c1'), answer('c1')] });
    expect([same.param, same.message]).toEqual([
      'messages[1].tool_calls[1].id',
      "Invalid parameter: Duplicate value for 'id' of 'c1' in messages[1].tool_calls[0] and messages[1].tool_calls[1]: each call needs its own id (its result names it).",
    ]);
    // The same id again in a later turn, answered there, is another call.
    expect(() => parseChatBody({ ...base, tools, messages: [user, asked('c1'), answer('c1'), user, asked('c1'), answer('c1')] })).not.toThrow();
  });

  it('an assistant message whose calls are not all answered before the next assistant message (or the end) is a 400 naming the ids; a call needs an id', () => {
    const open = refusal({ ...base, tools, messages: [user, asked('c1', 'c2'), answer('c1'), user, { role: 'assistant', content: 'ok' }] });
    expect([open.param, open.message]).toEqual([
      'messages[1].tool_calls',
      "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: c2",
    ]);
    expect(refusal({ ...base, tools, messages: [user, asked('c1')] }).param).toBe('messages[1].tool_calls');
    expect(
      refusal({ ...base, tools, messages: [user, { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] }] }).param,
    ).toBe('messages[1].tool_calls[0].id');
  });

  it('passes a well-formed round trip, several calls answered in any order, several rounds, and a user message among the results (Anthropic-kind models take it)', () => {
    const messages = [user, asked('c1', 'c2'), answer('c2'), answer('c1'), { role: 'assistant', content: 'done' }, user, asked('c3'), answer('c3')];
    expect(() => parseChatBody({ ...base, tools, messages })).not.toThrow();
    expect(() => parseChatBody({ ...base, tools, messages: [user, asked('c1', 'c2'), answer('c1'), user, answer('c2')] })).not.toThrow();
  });
});

describe('edge validation: fields passed on as they are', () => {
  it('a seed, user, safety_identifier, prompt_cache_key or store of the wrong type is a 400 naming it, in OpenAI’s words', () => {
    const cases: Array<[string, unknown, string]> = [
      ['seed', 1.5, "Invalid type for 'seed': expected an integer, but got a decimal number instead."],
      ['seed', '42', "Invalid type for 'seed': expected an integer, but got a string instead."],
      ['user', 5, "Invalid type for 'user': expected a string, but got an integer instead."],
      ['safety_identifier', {}, "Invalid type for 'safety_identifier': expected a string, but got an object instead."],
      ['prompt_cache_key', ['k'], "Invalid type for 'prompt_cache_key': expected a string, but got an array instead."],
      ['store', 'true', "Invalid type for 'store': expected a boolean, but got a string instead."],
    ];
    for (const [field, value, message] of cases) {
      const err = refusal({ ...base, [field]: value });
      expect([err.status, err.code, err.param, err.message]).toEqual([400, 'invalid_request', field, message]);
    }
  });

  it('logit_bias: an object of numbers from -100 to 100; metadata: at most 16 string values of at most 512 characters, keys of at most 64', () => {
    expect(refusal({ ...base, logit_bias: [1] }).param).toBe('logit_bias');
    expect(refusal({ ...base, logit_bias: { '50256': 200 } }).message).toMatch(/^Invalid value for 'logit_bias\.50256': expected a number from -100 to 100/);
    expect(refusal({ ...base, logit_bias: { '50256': '5' } }).param).toBe('logit_bias');
    expect(refusal({ ...base, metadata: 'x' }).param).toBe('metadata');
    expect(refusal({ ...base, metadata: { n: 1 } }).message).toMatch(/'n' is an integer/);
    expect(refusal({ ...base, metadata: { v: 'x'.repeat(513) } }).param).toBe('metadata');
    expect(refusal({ ...base, metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }).message).toMatch(/at most 16 properties/);
  });

  it('passes what OpenAI takes', () => {
    const ok = {
      seed: 42,
      user: 'u1',
      safety_identifier: 'sid',
      prompt_cache_key: 'k',
      store: false,
      logit_bias: { '50256': -100, '1': 100, '2': 0.5 },
      metadata: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, 'v'.repeat(512)])),
    };
    expect(() => parseChatBody({ ...base, ...ok })).not.toThrow();
    expect(() => parseChatBody({ ...base, seed: null, user: null, logit_bias: null, metadata: null, store: null })).not.toThrow();
  });
});
