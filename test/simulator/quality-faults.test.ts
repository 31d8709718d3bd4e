/**
 * The simulator's quality faults (a 200 answer that is not good enough), read with the
 * official OpenAI SDK, whole and streamed, each run through the cascade's own answer reader.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/simulator/index.js';
import { answerFromCompletion, StreamAnswer, type Answer } from '../../src/quality/answer.js';
import { startFast } from './helpers.js';

let sim: Simulator;
let client: OpenAI;

beforeAll(async () => {
  sim = await startFast();
  client = new OpenAI({ baseURL: `${sim.url}/openai/v1`, apiKey: 'sk-test', maxRetries: 0 });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => sim.clearFaults());

const TOOLS: OpenAI.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { input: { type: 'string' } } } } },
];
type Extra = Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>;

async function both(extra: Extra = {}): Promise<{ whole: Answer; streamed: Answer; usage: number | undefined }> {
  const base = { model: 'm', messages: [{ role: 'user' as const, content: 'hello there' }], ...extra };
  const whole = await client.chat.completions.create({ ...base, stream: false });
  const s = await client.chat.completions.create({ ...base, stream: true });
  const acc = new StreamAnswer();
  for await (const c of s) acc.add(c);
  return { whole: answerFromCompletion(whole as unknown as Record<string, unknown>), streamed: acc.answer(), usage: whole.usage?.completion_tokens };
}

describe('quality faults', () => {
  it('without a fault: JSON mode answers a JSON object, logprobs come when asked', async () => {
    const r = await both({ response_format: { type: 'json_object' }, logprobs: true });
    for (const a of [r.whole, r.streamed]) {
      expect(JSON.parse(a.content)).toEqual({ answer: expect.any(String) });
      expect(a.logprobs?.every((l) => l === -0.05)).toBe(true);
    }
  });
  it('a shaped answer never reports more output than max_tokens (invalid_json on a 16-token cap reported 18): cut there, finishing length', async () => {
    for (const kind of ['invalid_json', 'json_mismatch', 'refusal']) {
      sim.setFault('m', { kind, times: 2 } as Parameters<Simulator['setFault']>[1]);
      const r = await both({ max_tokens: 4, response_format: { type: 'json_object' } });
      expect(r.usage, kind).toBeLessThanOrEqual(4);
      // Longer than the cap (invalid_json's text), it ends as a cut answer.
      if (kind === 'invalid_json') expect([r.usage, r.whole.finishReason, r.streamed.finishReason]).toEqual([4, 'length', 'length']);
    }
  });

  it('a tool call never reports more output than max_tokens (10 for a cap of 3; here a cap of 1): its arguments cut there, finishing length', async () => {
    const r = await both({ max_tokens: 1, tools: TOOLS, tool_choice: 'required' });
    expect(r.usage).toBe(1);
    expect([r.whole.finishReason, r.streamed.finishReason]).toEqual(['length', 'length']);
  });

  it('invalid_json, json_mismatch, refusal, empty, length_stop, low_logprob, invalid_tool_args', async () => {
    const cases: Array<[Record<string, unknown>, Extra, (a: Answer) => void]> = [
      [{ kind: 'invalid_json' }, { response_format: { type: 'json_object' } }, (a) => expect(() => JSON.parse(a.content)).toThrow()],
      [{ kind: 'json_mismatch' }, { response_format: { type: 'json_object' } }, (a) => expect(JSON.parse(a.content)).toEqual({ unexpected: true })],
      [{ kind: 'refusal' }, {}, (a) => expect(a).toMatchObject({ content: '', refusal: "I'm sorry, but I can't help with that." })],
      [{ kind: 'empty' }, {}, (a) => expect(a).toMatchObject({ content: '', refusal: null, toolCalls: [], finishReason: 'stop' })],
      [{ kind: 'length_stop' }, {}, (a) => expect(a.finishReason).toBe('length')],
      [{ kind: 'low_logprob', logprob: -2.5 }, { logprobs: true }, (a) => expect(a.logprobs?.every((l) => l === -2.5)).toBe(true)],
      [{ kind: 'invalid_tool_args' }, { tools: TOOLS }, (a) => expect(() => JSON.parse(a.toolCalls[0]!.arguments)).toThrow()],
    ];
    for (const [fault, extra, expectation] of cases) {
      sim.setFault('m', { ...fault, times: 2 } as Parameters<Simulator['setFault']>[1]);
      const r = await both(extra);
      expectation(r.whole);
      expectation(r.streamed);
      expect(r.streamed).toEqual(r.whole);
    }
  });
  it('length_stop reports the tokens it really sent', async () => {
    const clean = await both();
    sim.setFault('m', { kind: 'length_stop', times: 1 });
    const cut = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hello there' }] });
    expect(cut.usage?.completion_tokens).toBe(Math.floor((clean.usage ?? 0) / 2));
  });
});
