import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { costOf, usageFromAnthropic, usageFromOpenAI, worstCaseNano, type Price, type Usage } from '../../src/accounting/cost.js';

const GPT41: Price = { inputPerMTok: 2, outputPerMTok: 8, cachedInputPerMTok: 0.5 };
const CLAUDE: Price = { inputPerMTok: 3, outputPerMTok: 15 };
const DEEPSEEK: Price = { inputPerMTok: 0.28, outputPerMTok: 0.42 };

describe('costOf', () => {
  it('bills gpt-4.1 at 2.00 / 8.00: 1000 prompt + 500 completion = 2000 + 4000 µUSD', () => {
    expect(costOf({ promptTokens: 1000, completionTokens: 500 }, GPT41)).toEqual({
      inputNano: 2_000_000,
      cachedNano: 0,
      outputNano: 4_000_000,
      totalNano: 6_000_000,
    });
  });

  it('bills cached prompt tokens at the cached price and the rest at input price', () => {
    // 600 uncached × 2.00 = 1200 µUSD; 400 cached × 0.50 = 200 µUSD; 500 × 8.00 = 4000 µUSD
    expect(costOf({ promptTokens: 1000, completionTokens: 500, cachedTokens: 400 }, GPT41)).toEqual({
      inputNano: 1_200_000,
      cachedNano: 200_000,
      outputNano: 4_000_000,
      totalNano: 5_400_000,
    });
  });

  it('bills cached tokens at the input price when the model has no cached price', () => {
    const c = costOf({ promptTokens: 1000, completionTokens: 0, cachedTokens: 400 }, CLAUDE);
    expect(c).toEqual({ inputNano: 1_800_000, cachedNano: 1_200_000, outputNano: 0, totalNano: 3_000_000 });
  });

  it('does not bill reasoning tokens twice (they are part of completion tokens)', () => {
    const plain = costOf({ promptTokens: 100, completionTokens: 1000 }, GPT41);
    const withReasoning = costOf({ promptTokens: 100, completionTokens: 1000, reasoningTokens: 800 }, GPT41);
    expect(withReasoning).toEqual(plain);
    expect(withReasoning.outputNano).toBe(8_000_000);
  });

  it('bills cache-creation tokens (part of the prompt) at the plain input price when the model has no cache-write price', () => {
    // 2000 prompt of which 1500 written to the cache, 0 read: all 2000 at 3.00 = 6000 µUSD
    const c = costOf({ promptTokens: 2000, completionTokens: 100, cacheCreationTokens: 1500 }, CLAUDE);
    expect(c).toEqual({ inputNano: 6_000_000, cachedNano: 0, outputNano: 1_500_000, totalNano: 7_500_000 });
  });

  it('bills cache-creation tokens at the cache-write price (Anthropic: 1.25× input)', () => {
    const price: Price = { ...CLAUDE, cachedInputPerMTok: 0.3, cacheWritePerMTok: 3.75 };
    // 2000 prompt: 300 read (0.30), 1500 written (3.75), 200 plain (3.00): 90 + 5625 + 600 µUSD
    const c = costOf({ promptTokens: 2000, completionTokens: 100, cachedTokens: 300, cacheCreationTokens: 1500 }, price);
    expect(c).toEqual({ inputNano: 6_225_000, cachedNano: 90_000, outputNano: 1_500_000, totalNano: 7_815_000 });
    // A written count above the uncached prompt is clamped: the prompt is never billed twice.
    expect(costOf({ promptTokens: 100, completionTokens: 0, cachedTokens: 40, cacheCreationTokens: 500 }, price).inputNano).toBe(60 * 3750);
    // The reservation covers a prompt written to the cache whole.
    expect(worstCaseNano(2000, 100, price)).toBe(2000 * 3750 + 100 * 15_000);
  });

  it('computes deepseek figures to the nano (0.28 / 0.42)', () => {
    // 1234 × 280 = 345_520; 567 × 420 = 238_140
    expect(costOf({ promptTokens: 1234, completionTokens: 567 }, DEEPSEEK).totalNano).toBe(583_660);
  });

  it('clamps a cached count above the prompt and sanitises bad counts', () => {
    const c = costOf({ promptTokens: 100, completionTokens: -5, cachedTokens: 250 }, GPT41);
    expect(c).toEqual({ inputNano: 0, cachedNano: 50_000, outputNano: 0, totalNano: 50_000 });
    expect(costOf({ promptTokens: Number.NaN, completionTokens: 0.2 }, GPT41).totalNano).toBe(8_000);
  });

  it('is monotone in every token count (property)', () => {
    const price = fc
      .record({
        inputPerMTok: fc.integer({ min: 0, max: 100_000_000 }).map((m) => m / 1e6),
        outputPerMTok: fc.integer({ min: 0, max: 100_000_000 }).map((m) => m / 1e6),
      })
      .chain((p) =>
        fc.record({
          inputPerMTok: fc.constant(p.inputPerMTok),
          outputPerMTok: fc.constant(p.outputPerMTok),
          cachedInputPerMTok: fc.integer({ min: 0, max: Math.round(p.inputPerMTok * 1e6) }).map((m) => m / 1e6),
        }),
      );
    const count = fc.integer({ min: 0, max: 2_000_000 });
    fc.assert(
      fc.property(price, count, count, count, count, count, (p, prompt, completion, cached, dp, dc) => {
        const base: Usage = { promptTokens: prompt, completionTokens: completion, cachedTokens: Math.min(cached, prompt) };
        const total = costOf(base, p).totalNano;
        expect(costOf({ ...base, promptTokens: prompt + dp }, p).totalNano).toBeGreaterThanOrEqual(total);
        expect(costOf({ ...base, completionTokens: completion + dc }, p).totalNano).toBeGreaterThanOrEqual(total);
        // a cache hit never costs more than a miss (cached price ≤ input price)
        expect(costOf({ ...base, cachedTokens: 0 }, p).totalNano).toBeGreaterThanOrEqual(total - 1);
        const parts = costOf(base, p);
        expect(parts.inputNano + parts.cachedNano + parts.outputNano).toBe(parts.totalNano);
        expect(Number.isSafeInteger(parts.totalNano)).toBe(true);
      }),
    );
  });
});

describe('one rounding', () => {
  it('rounds the exact cost up once, not each part (3 nano-USD was billed 5)', () => {
    const price: Price = { inputPerMTok: 0.0005, outputPerMTok: 0.0015, cachedInputPerMTok: 0.00025, cacheWritePerMTok: 0.00075 };
    // 1 plain × 0.5 + 1 written × 0.75 + 1 cached × 0.25 + 1 output × 1.5 = 3 nano-USD exactly.
    const c = costOf({ promptTokens: 3, cachedTokens: 1, cacheCreationTokens: 1, completionTokens: 1 }, price);
    expect(c.totalNano).toBe(3);
    expect(c.inputNano + c.cachedNano + c.outputNano).toBe(3);
    expect(costOf({ promptTokens: 1, completionTokens: 0 }, price).totalNano).toBe(1);
  });
  it('a cached price above the input price is reserved for (a budget granted 444 and billed 788)', () => {
    const price: Price = { inputPerMTok: 1, outputPerMTok: 2, cachedInputPerMTok: 8, cacheWritePerMTok: 4 };
    const worst = worstCaseNano(86, 50, price);
    expect(costOf({ promptTokens: 86, cachedTokens: 86, completionTokens: 50 }, price).totalNano).toBeLessThanOrEqual(worst);
    expect(worst).toBe(86 * 8000 + 50 * 2000);
  });
});

describe('worstCaseNano', () => {
  it('reserves the whole prompt at input price plus max output at output price', () => {
    expect(worstCaseNano(1000, 500, GPT41)).toBe(6_000_000);
    expect(worstCaseNano(1000, 8192, DEEPSEEK)).toBe(280_000 + 3_440_640);
  });

  it('bounds the actual cost, cache writes and reads included, at any prices (property; it allowed two nano-USD over, and nothing for a cached price above input)', () => {
    const count = fc.integer({ min: 0, max: 1_000_000 });
    const writePrice = fc.option(fc.integer({ min: 0, max: 10_000_000 }).map((m) => m / 1e6));
    const cachedPrice = fc.integer({ min: 0, max: 10_000_000 }).map((m) => m / 1e6);
    fc.assert(
      fc.property(
        count,
        count,
        count,
        count,
        count,
        fc.integer({ min: 0, max: 20_000_000 }),
        writePrice,
        cachedPrice,
        (prompt, maxOut, usedOut, cached, written, micro, write, cachedIn) => {
          const price: Price = {
            inputPerMTok: 3.000001,
            outputPerMTok: micro / 1e6,
            cachedInputPerMTok: cachedIn,
            ...(write === null ? {} : { cacheWritePerMTok: write }),
          };
          const usage = {
            promptTokens: prompt,
            completionTokens: Math.min(usedOut, maxOut),
            cachedTokens: Math.min(cached, prompt),
            cacheCreationTokens: written,
          };
          expect(costOf(usage, price).totalNano).toBeLessThanOrEqual(worstCaseNano(prompt, maxOut, price));
          expect(costOf({ ...usage, cachedTokens: 0 }, price).totalNano).toBeLessThanOrEqual(worstCaseNano(prompt, maxOut, price));
        },
      ),
    );
  });
});

describe('usageFromOpenAI', () => {
  it('reads prompt, completion, cached and reasoning tokens', () => {
    expect(
      usageFromOpenAI({
        prompt_tokens: 1200,
        completion_tokens: 300,
        total_tokens: 1500,
        prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 256 },
      }),
    ).toEqual({ promptTokens: 1200, completionTokens: 300, cachedTokens: 1024, reasoningTokens: 256, promptDetails: { audio_tokens: 0 } });
  });

  it('returns undefined when usage is absent or invalid', () => {
    for (const bad of [
      undefined,
      null,
      'x',
      42,
      [],
      {},
      { prompt_tokens: 3 },
      { prompt_tokens: '3', completion_tokens: 1 },
      { prompt_tokens: -1, completion_tokens: 1 },
      { prompt_tokens: 1.5, completion_tokens: 1 },
      { prompt_tokens: 1, completion_tokens: Number.NaN },
    ]) {
      expect(usageFromOpenAI(bad)).toBeUndefined();
    }
  });

  it('ignores malformed optional details', () => {
    expect(
      usageFromOpenAI({
        prompt_tokens: 10,
        completion_tokens: 2,
        prompt_tokens_details: null,
        completion_tokens_details: { reasoning_tokens: 'many' },
      }),
    ).toEqual({ promptTokens: 10, completionTokens: 2 });
  });

  it("reads DeepSeek's prompt_cache_hit_tokens", () => {
    expect(usageFromOpenAI({ prompt_tokens: 100, completion_tokens: 5, prompt_cache_hit_tokens: 64, prompt_cache_miss_tokens: 36 })).toEqual({
      promptTokens: 100,
      completionTokens: 5,
      cachedTokens: 64,
    });
  });

  it("reads OpenRouter's prompt_tokens_details.cache_write_tokens as cache-creation tokens, billed at cacheWritePerMTok", () => {
    const usage = usageFromOpenAI({
      prompt_tokens: 194,
      completion_tokens: 2,
      total_tokens: 196,
      prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 100, audio_tokens: 0 },
    });
    expect(usage).toEqual({
      promptTokens: 194,
      completionTokens: 2,
      cachedTokens: 0,
      cacheCreationTokens: 100,
      // Cache writes are cacheCreationTokens (shown as billed), not another detail relayed as sent.
      promptDetails: { audio_tokens: 0 },
    });
    const price: Price = { inputPerMTok: 3, outputPerMTok: 15, cachedInputPerMTok: 0.3, cacheWritePerMTok: 3.75 };
    // 94 at input, 100 at the cache-write price, 2 at output
    expect(costOf(usage!, price)).toMatchObject({ inputNano: 94 * 3000 + 100 * 3750, outputNano: 2 * 15000 });
    expect(usageFromOpenAI({ prompt_tokens: 10, completion_tokens: 2, prompt_tokens_details: { cache_write_tokens: 0 } })).toEqual({
      promptTokens: 10,
      completionTokens: 2,
    });
  });

  it('bills tokens that total_tokens counts but completion_tokens leaves out', () => {
    // a thinking model behind an OpenAI-compatible layer: 382 thought tokens only in the total
    expect(
      usageFromOpenAI({
        prompt_tokens: 20,
        completion_tokens: 151,
        total_tokens: 553,
        completion_tokens_details: { reasoning_tokens: 382 },
      }),
    ).toEqual({ promptTokens: 20, completionTokens: 533, reasoningTokens: 382 });
    // a smaller total never lowers the reported completion
    expect(usageFromOpenAI({ prompt_tokens: 20, completion_tokens: 151, total_tokens: 100 })).toEqual({ promptTokens: 20, completionTokens: 151 });
  });
});

describe('usageFromAnthropic', () => {
  it('adds cache reads and writes back into the prompt count', () => {
    expect(
      usageFromAnthropic({
        input_tokens: 50,
        output_tokens: 200,
        cache_read_input_tokens: 1000,
        cache_creation_input_tokens: 300,
      }),
    ).toEqual({ promptTokens: 1350, completionTokens: 200, cachedTokens: 1000, cacheCreationTokens: 300 });
    expect(usageFromAnthropic({ input_tokens: 5, output_tokens: 1 })).toEqual({ promptTokens: 5, completionTokens: 1 });
    expect(usageFromAnthropic({ output_tokens: 1 })).toBeUndefined();
  });

  it('a cache count that cannot be read leaves the whole usage unread (its tokens were billed as none)', () => {
    for (const bad of ['1500', 1500.5, -1, {}])
      for (const key of ['cache_read_input_tokens', 'cache_creation_input_tokens'])
        expect(usageFromAnthropic({ input_tokens: 100, output_tokens: 10, [key]: bad }), `${key}: ${JSON.stringify(bad)}`).toBeUndefined();
    // Absent or null is none.
    expect(usageFromAnthropic({ input_tokens: 100, output_tokens: 10, cache_read_input_tokens: null, cache_creation_input_tokens: null })).toEqual({
      promptTokens: 100,
      completionTokens: 10,
    });
  });

  it('costs an Anthropic cache hit like the same OpenAI usage', () => {
    const usage = usageFromAnthropic({ input_tokens: 50, output_tokens: 200, cache_read_input_tokens: 1000 });
    expect(usage).toBeDefined();
    const price: Price = { inputPerMTok: 3, outputPerMTok: 15, cachedInputPerMTok: 0.3 };
    // 50 × 3 = 150 µUSD; 1000 × 0.3 = 300 µUSD; 200 × 15 = 3000 µUSD
    expect(costOf(usage as Usage, price).totalNano).toBe(3_450_000);
  });
});
