/**
 * Money is bounded by construction: 500 concurrent requests whose max_tokens is 100× the
 * model's cap, against a tight daily limit, through the real sidecar in front of the real
 * simulator (whose answers are 3× longer than the cap, so an uncapped upstream overspends).
 * Before the fix the ledger ended at many times the limit.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from '../integration/harness.js';

const LIMIT_USD = 0.044;
const MODEL_CAP = 1000;

let sim: SimHandle;
let sc: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 1, tokenGapMs: 0, outputTokens: 3 * MODEL_CAP } });
  const cfg = testConfig(sim.url);
  const models = cfg.models as Record<string, Record<string, unknown>>;
  models['deepseek-v3.2'] = { ...models['deepseek-v3.2'], maxOutputTokens: MODEL_CAP, fallbacks: [] };
  // Served as gpt-4o-mini, whose images OpenAI bills at 2,833 + 5,667 tokens a tile (up to 48,169).
  models['mini'] = {
    tier: 'fast_cheap',
    price: { inputPerMTok: 0.15, outputPerMTok: 0.6 },
    contextWindow: 128_000,
    capabilities: ['chat', 'vision'],
    maxOutputTokens: 1000,
    endpoints: [{ provider: 'openai', upstreamModel: 'gpt-4o-mini' }],
  };
  cfg.budget = { limits: [{ scope: 'global', period: 'day', usd: LIMIT_USD }] };
  cfg.logging = { level: 'warn' };
  // Generous per-attempt limits: this machine is loaded, and this test is about money, not timeouts.
  cfg.resilience = { requestTimeoutMs: 40_000, headersTimeoutMs: 20_000, firstTokenTimeoutMs: 20_000, idleTimeoutMs: 10_000 };
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

it("an image on gpt-4o-mini is reserved at what OpenAI may bill for it (48,169 tokens), not the 6,400 other models' images are held at", async () => {
  const r = await fetch(`${sc.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-switchyard-max-cost-usd': '0.005' },
    body: JSON.stringify({
      model: 'mini',
      max_tokens: 10,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is in this picture?' },
            { type: 'image_url', image_url: { url: 'https://example.com/a-tall-one.png', detail: 'high' } },
          ],
        },
      ],
    }),
  });
  expect(r.status).toBe(429);
  const body = (await r.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe('budget_exceeded');
  // 48,169 tokens for the image alone at $0.15/MTok: $0.00722535 (at 6,400 the request fit under $0.005).
  expect(body.error.message).toMatch(/worst-case cost of this request on mini \(\$0\.0072\d+\) exceeds x-switchyard-max-cost-usd/);
});

it('500 concurrent over-cap requests never spend more than the limit', async () => {
  const one = async (i: number): Promise<number> => {
    const r = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'deepseek-v3.2',
        max_tokens: 100 * MODEL_CAP,
        stream: i % 2 === 0,
        messages: [{ role: 'user', content: `request ${i}: write at length` }],
      }),
    });
    await r.arrayBuffer();
    return r.status;
  };
  const statuses = await Promise.all(Array.from({ length: 500 }, (_, i) => one(i)));
  // Every request is either served or refused by the budget; nothing else.
  expect(
    statuses.filter((s) => s !== 200 && s !== 429),
    JSON.stringify([...new Set(statuses)]),
  ).toEqual([]);
  expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(10);
  const spend = (await (await fetch(`${sc.url}/switchyard/spend`)).json()) as { total: { usd: number } };
  expect(spend.total.usd).toBeGreaterThan(0);
  expect(spend.total.usd).toBeLessThanOrEqual(LIMIT_USD);
  const state = await sc.state();
  expect(state.budgets[0]!.spentUsd).toBeLessThanOrEqual(LIMIT_USD);
  expect(state.budgets[0]!.reservedUsd).toBe(0);
}, 60_000);
