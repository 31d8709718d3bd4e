/**
 * The opt-in `language` check through the real sidecar and simulator, with the official OpenAI SDK:
 * a cheap model answering a Chinese question in English escalates to the next tier, whose
 * Chinese answer is delivered; an English question, or a Chinese one asking for English, stays
 * on the cheap step.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';

const EN = 'Machine learning is a branch of artificial intelligence; deep learning is a part of it that uses neural networks with many layers.';
const ZH = '机器学习是人工智能的一个分支，深度学习是其中使用多层神经网络的方法。';
const ZH_Q = '请解释一下机器学习和深度学习之间的主要区别是什么？';

let sim: SimHandle;
let sy: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulatorProc({
    defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 10 },
    models: { 'deepseek-chat': { fixedAnswer: EN }, 'gemini-2.5-flash': { fixedAnswer: EN }, 'gpt-4.1': { fixedAnswer: ZH } },
  });
  sy = await startSidecar(
    testConfig(sim.url, { routing: { strategy: 'cost', cascade: { enabled: true, startAt: 'cheapest', checks: ['empty', 'refusal', 'language'] } } }),
  );
}, 60_000);
afterAll(async () => {
  await sy?.stop();
  await sim?.stop();
});

describe('language check', () => {
  it('a Chinese question answered in English escalates; the Chinese answer is delivered (chat, JSON and stream)', async () => {
    const body = { model: 'auto', messages: [{ role: 'user' as const, content: ZH_Q }] };
    const { data, response } = await sy.client.chat.completions.create(body).withResponse();
    expect(response.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:language>gpt-4.1:pass');
    expect(data.choices[0]!.message.content).toBe(ZH);
    const stream = await sy.client.chat.completions.create({ ...body, stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    expect(text).toBe(ZH);
  });

  it('an English question, or a Chinese one whose system prompt asks for English, stays on the cheap step', async () => {
    const en = await sy.client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: 'What is the main difference between machine learning and deep learning?' }] })
      .withResponse();
    expect(en.response.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:pass');
    const asked = await sy.client.chat.completions
      .create({
        model: 'auto',
        messages: [
          { role: 'system', content: 'Always answer in English.' },
          { role: 'user', content: ZH_Q },
        ],
      })
      .withResponse();
    expect(asked.response.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:pass');
    expect(asked.data.choices[0]!.message.content).toBe(EN);
  });
});
