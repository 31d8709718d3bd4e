import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerTokens } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { continuation } from '../../src/simulator/text.js';
import { ANTHROPIC_HEADERS, openAiStreamText, parseSse, post, startFast } from './helpers.js';

describe('continuation (pure)', () => {
  const full = ['Alpha', ' beta', ' gamma', ' delta'];
  it('returns the remainder after a token-aligned prefix', () => {
    expect(continuation(full, 'Alpha beta')).toEqual([' gamma', ' delta']);
  });
  it('continues a token cut in half with the rest of that token', () => {
    expect(continuation(full, 'Alpha be')).toEqual(['ta', ' gamma', ' delta']);
    expect(continuation(full, 'Alpha beta ')).toEqual(['gamma', ' delta']);
  });
  it('skips as many tokens as the prefill has words when it is not a prefix', () => {
    expect(continuation(full, 'something else')).toEqual([' gamma', ' delta']);
  });
  it('returns nothing when the prefill covers the whole answer', () => {
    expect(continuation(full, 'Alpha beta gamma delta')).toEqual([]);
  });
});

let sim: Simulator;
let openai: OpenAI;
const QUESTION = 'explain fail-over in one paragraph';
const FULL = answerTokens(QUESTION, 12);

beforeAll(async () => {
  sim = await startFast({ defaults: { outputTokens: 12 }, models: { 'no-prefill': { prefill: false } } });
  openai = new OpenAI({ baseURL: `${sim.url}/deepseek/v1`, apiKey: 'k', maxRetries: 0 });
});
afterAll(async () => {
  await sim.close();
});

describe('prefill continuation over the wire', () => {
  it('OpenAI: a stream cut after 5 tokens continues with exactly the rest, on another model', async () => {
    const delivered = FULL.slice(0, 5).join('');
    const res = await openai.chat.completions.create({
      model: 'other-model',
      messages: [
        { role: 'user', content: QUESTION },
        { role: 'assistant', content: delivered },
      ],
    });
    expect(res.choices[0]?.message.content).toBe(FULL.slice(5).join(''));
    expect(delivered + (res.choices[0]?.message.content ?? '')).toBe(FULL.join(''));
    expect(res.usage?.completion_tokens).toBe(7);
    expect(sim.log().at(-1)).toMatchObject({ prefill: true, provider: 'deepseek' });
  });

  it('OpenAI stream: a prefill ending mid-token continues that token', async () => {
    const delivered = FULL.join('').slice(0, FULL[0]!.length + 3);
    const raw = await post(`${sim.url}/openai/v1/chat/completions`, {
      model: 'gpt-test',
      stream: true,
      messages: [
        { role: 'user', content: QUESTION },
        { role: 'assistant', content: delivered },
      ],
    });
    expect(delivered + openAiStreamText(parseSse(raw.text))).toBe(FULL.join(''));
  });

  it('Anthropic: continues a prefill made on the OpenAI wire with the rest of the same answer', async () => {
    const delivered = FULL.slice(0, 4).join('');
    const raw = await post(
      `${sim.url}/anthropic/v1/messages`,
      {
        model: 'claude-test',
        max_tokens: 100,
        messages: [
          { role: 'user', content: QUESTION },
          { role: 'assistant', content: delivered },
        ],
      },
      { headers: ANTHROPIC_HEADERS },
    );
    const msg = JSON.parse(raw.text) as { content: { type: string; text: string }[]; usage: { output_tokens: number } };
    expect(msg.content).toEqual([{ type: 'text', text: FULL.slice(4).join('') }]);
    expect(msg.usage.output_tokens).toBe(8);
  });

  it('Anthropic: rejects an assistant prefill ending in whitespace, like the real API', async () => {
    const raw = await post(
      `${sim.url}/anthropic/v1/messages`,
      {
        model: 'claude-test',
        max_tokens: 100,
        messages: [
          { role: 'user', content: QUESTION },
          { role: 'assistant', content: `${FULL[0]} ` },
        ],
      },
      { headers: ANTHROPIC_HEADERS },
    );
    expect(raw.status).toBe(400);
    expect(raw.text).toContain('trailing whitespace');
  });

  it('a model with prefill: false rejects a trailing assistant message with 400 on both wires', async () => {
    const messages = [
      { role: 'user', content: QUESTION },
      { role: 'assistant', content: FULL[0] },
    ];
    const a = await post(`${sim.url}/openai/v1/chat/completions`, { model: 'no-prefill', messages });
    expect(a.status).toBe(400);
    const body = JSON.parse(a.text) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain('prefill');
    const b = await post(`${sim.url}/anthropic/v1/messages`, { model: 'no-prefill', max_tokens: 10, messages }, { headers: ANTHROPIC_HEADERS });
    expect(b.status).toBe(400);
    expect(JSON.parse(b.text)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('prefill') } });
    const ok = await post(`${sim.url}/openai/v1/chat/completions`, { model: 'no-prefill', messages: messages.slice(0, 1) });
    expect(ok.status).toBe(200);
  });

  it('max_tokens limits the continuation, not the full answer', async () => {
    const res = await openai.chat.completions.create({
      model: 'gpt-test',
      max_tokens: 2,
      messages: [
        { role: 'user', content: QUESTION },
        { role: 'assistant', content: FULL.slice(0, 3).join('') },
      ],
    });
    expect(res.choices[0]?.message.content).toBe(FULL.slice(3, 5).join(''));
    expect(res.choices[0]?.finish_reason).toBe('length');
  });
});
