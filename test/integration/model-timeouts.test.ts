/**
 * A model's own time limits (`models.<id>.headersTimeoutMs`, `firstTokenTimeoutMs`,
 * `idleTimeoutMs`) over `resilience`'s, against the real sidecar and simulator processes. OpenAI's
 * reasoning models (o3, GPT-5) send nothing on a chat stream while they reason, and a JSON answer
 * only once it is whole: under the global first-token limit, tuned for models that answer at once,
 * every such request that reasoned longer was cut and failed over (its prompt billed), and the
 * only cure was raising the limit for every model, which slows every other fail-over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';

// The upstream takes 2.5 s to its first token (a JSON answer comes whole after it): past the global limits of 1 s.
const SLOW = 'o3-sim';
let sim: SimHandle;
let sc: SidecarHandle;

const model = (over: Record<string, unknown> = {}) => ({
  tier: 'high_quality',
  price: { inputPerMTok: 2, outputPerMTok: 8 },
  contextWindow: 200_000,
  capabilities: ['chat', 'reasoning'],
  maxOutputTokens: 1000,
  endpoints: [{ provider: 'openai', upstreamModel: SLOW }],
  ...over,
});

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 1, tokenGapMs: 0, outputTokens: 5 }, models: { [SLOW]: { ttftMs: 2500 } } });
  const base = testConfig(sim.url);
  sc = await startSidecar({
    ...base,
    models: {
      thinker: model({ headersTimeoutMs: 30_000, firstTokenTimeoutMs: 30_000, idleTimeoutMs: 30_000 }),
      hasty: model(),
    },
    routing: { strategy: 'cost', routes: {} },
    resilience: {
      ...(base.resilience as object),
      requestTimeoutMs: 40_000,
      headersTimeoutMs: 1000,
      firstTokenTimeoutMs: 1000,
      idleTimeoutMs: 1000,
      retry: { maxAttempts: 1, baseDelayMs: 50, maxDelayMs: 50 },
    },
  });
});
afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

describe("a model's own time limits", () => {
  it('a model that takes longer to its first token than resilience.firstTokenTimeoutMs is served, streamed and as JSON, when its own limits allow it', async () => {
    const stream = await sc.client.chat.completions.create({ model: 'thinker', messages: [{ role: 'user', content: 'Think, then say hello.' }], stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    const json = await sc.client.chat.completions.create({ model: 'thinker', messages: [{ role: 'user', content: 'Think, then say hello.' }] });
    expect(json.choices[0]!.message.content!.length).toBeGreaterThan(0);
  });

  it("every other model keeps resilience's limits: the same upstream is cut there", async () => {
    const err = await sc.client.chat.completions.create({ model: 'hasty', messages: [{ role: 'user', content: 'Think, then say hello.' }], stream: true }).then(
      () => null,
      (e: { status?: number; message?: string }) => e,
    );
    expect(err?.status).toBe(502);
    expect(err?.message).toMatch(/within 1000 ms/);
  });
});
