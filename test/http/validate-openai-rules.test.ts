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
    expect(() => parseChatBody({ ...base, messages: [base.messages[0], { role: 'assistant', tool_calls: call.tool_calls }] })).not.toThrow();
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
