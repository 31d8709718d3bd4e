/**
 * `struct:max_tokens` on the Messages API (twelfth round): Anthropic's Messages API requires
 * `max_tokens`, so there it says nothing about the answer the client expects. The scorer does
 * not read it for a request that came in through `/v1/messages`, and the same prompt routes to
 * the same tier as on chat completions without one.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { openLedger } from '../../src/accounting/ledger.js';
import { configSchema } from '../../src/config/schema.js';
import { classify } from '../../src/routing/classify.js';
import type { ChatCall } from '../../src/runtime/api.js';
import { Runtime } from '../../src/runtime/runtime.js';

/** A short question: a turn of small talk ("thanks!") reads no max_tokens at all (features.ts, small talk). */
const ASK = 'What is the capital of Australia?';
const classifier = { simpleTasks: [], complexTasks: [], complexityKeywords: [], complexityThreshold: 3, tasks: {}, longPromptTokens: 8000 };
const body = (maxTokens?: number) => ({
  model: 'auto',
  messages: [{ role: 'user', content: ASK }],
  ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }),
});

describe('classify: a max_tokens SDKs send by default is no evidence', () => {
  it('"thanks!" and a short question score the same with max_tokens 1024, 2048 or 4096 as without it (4096 put them a tier higher)', () => {
    for (const text of ['thanks!', 'What is the capital of Australia?', 'Translate "good night" into Spanish.']) {
      const at = (max_tokens?: number) =>
        classify(
          {
            task: null,
            tier: null,
            text,
            promptTokens: 8,
            turns: 1,
            request: { messages: [{ role: 'user', content: text }], ...(max_tokens === undefined ? {} : { max_tokens }) },
          },
          classifier,
        );
      const bare = at();
      for (const mt of [1024, 2048, 4096]) {
        expect(at(mt).score, `${text} ${mt}`).toBe(bare.score);
        expect(at(mt).tier, `${text} ${mt}`).toBe(bare.tier);
      }
      // Beyond the defaults it is evidence, except for a turn of small talk: "thanks!" takes no more with 32,000 tokens allowed.
      if (text === 'thanks!') expect(at(32_000).score).toBe(bare.score);
      else expect(at(32_000).score!).toBeGreaterThan(bare.score!);
    }
  });
});

describe('classify: maxTokensRequired', () => {
  const input = (maxTokens: number | undefined, maxTokensRequired?: boolean) => ({
    task: null,
    tier: null,
    text: ASK,
    promptTokens: 8,
    turns: 1,
    request: body(maxTokens),
    ...(maxTokensRequired === undefined ? {} : { maxTokensRequired }),
  });

  it('does not read max_tokens when the API requires it', () => {
    const without = classify(input(undefined), classifier);
    const chat = classify(input(16384), classifier);
    const messages = classify(input(16384, true), classifier);
    expect(chat.score!).toBeGreaterThan(without.score!); // on chat completions a large max_tokens is evidence
    expect(chat.reason).toContain('struct:max_tokens');
    expect(messages.score).toBe(without.score);
    expect(messages.tier).toBe(without.tier);
    expect(messages.reason).not.toContain('struct:max_tokens');
  });
});

describe('the runtime routes a Messages request as its chat twin without max_tokens', () => {
  let rt: Runtime | null = null;
  afterEach(async () => {
    await rt?.close();
    rt = null;
  });
  const model = (tier: string) => ({
    tier,
    price: { inputPerMTok: 1, outputPerMTok: 1 },
    contextWindow: 100000,
    endpoints: [{ provider: 'p', upstreamModel: tier }],
  });

  it('a short question with max_tokens 16384: the same tier and score through /v1/messages as on chat without it', async () => {
    const cfg = configSchema.parse({
      providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1' } },
      models: { cheap: model('fast_cheap'), mid: model('balanced'), top: model('high_quality') },
    });
    rt = new Runtime({ cfg, ledger: await openLedger('memory'), log: pino({ level: 'silent' }) });
    let n = 0;
    const call = (api: ChatCall['api'], maxTokens?: number): ChatCall =>
      ({
        requestId: `r${++n}`,
        body: body(maxTokens),
        hints: { task: null, tier: null, maxLatencyMs: null, maxCostUsd: null, timeoutMs: null },
        keyId: null,
        receivedAt: Date.now(),
        api,
      }) as unknown as ChatCall;
    const plan = (c: ChatCall) => rt!.route(c, 8, {});
    const chatBare = plan(call('chat'));
    const chatMax = plan(call('chat', 16384));
    const messages = plan(call('messages', 16384));
    expect(chatMax.score!).toBeGreaterThan(chatBare.score!);
    expect(messages.score).toBe(chatBare.score);
    expect(messages.tier).toBe(chatBare.tier);
    expect(messages.reason).not.toContain('struct:max_tokens');
  });
});
