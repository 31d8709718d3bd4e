/**
 * A client deadline shorter than an attempt's own limit still leaves room to fail over: an
 * endpoint that never answers is cut once only twice the next candidate's usual time is left
 * (claude-sonnet-4.5's latencyPriorMs here, 900 ms: at ~2.2 s of 4) and that candidate answers
 * within the deadline.
 * Before, the stalled attempt held the request until the deadline and the client got a 504
 * though a healthy fallback was idle (the attempt limits here are 60 s and 20 s, the deadline 4 s).
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';

const DEADLINE_MS = 4000;

let sim: SimHandle;
let sc: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 2, outputTokens: 10 } });
  sc = await startSidecar(
    testConfig(sim.url, {
      resilience: { failureThreshold: 1000, headersTimeoutMs: 60_000, firstTokenTimeoutMs: 20_000, idleTimeoutMs: 20_000 },
    }),
  );
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

describe('a short deadline is shared between the attempts', () => {
  it("the cut leaves room for the endpoint tried next, the model's slower other endpoint, not for a quicker fallback it never reaches (a 504 with two attempts charged)", async () => {
    const sim2 = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 2, outputTokens: 10 }, models: { 'dual-b': { ttftMs: 600 } } });
    const base = testConfig(sim2.url);
    const models = base.models as Record<string, Record<string, unknown>>;
    const price = { inputPerMTok: 1, outputPerMTok: 2 };
    const sc2 = await startSidecar(
      testConfig(sim2.url, {
        models: {
          ...models,
          dual: {
            tier: 'balanced',
            price,
            contextWindow: 100_000,
            latencyPriorMs: 700,
            fallbacks: ['quick'],
            endpoints: [
              { provider: 'openai', upstreamModel: 'dual-a' },
              { provider: 'deepseek', upstreamModel: 'dual-b' },
            ],
          },
          quick: { tier: 'balanced', price, contextWindow: 100_000, latencyPriorMs: 50, endpoints: [{ provider: 'gemini', upstreamModel: 'quick-up' }] },
        },
        resilience: { failureThreshold: 1000, headersTimeoutMs: 60_000, firstTokenTimeoutMs: 20_000, idleTimeoutMs: 20_000 },
      }),
    );
    try {
      await sim2.setFault('dual-a', { kind: 'hang', times: 1 });
      const res = await fetch(`${sc2.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-switchyard-timeout-ms': String(DEADLINE_MS) },
        body: JSON.stringify({ model: 'dual', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 10 }),
      });
      const text = await res.text();
      // Planned for quick (2 × 50 ms left), dual-a was cut at ~3.9 s and dual-b (~0.6 s) met the deadline: 504.
      expect(res.status, text).toBe(200);
      expect(res.headers.get('x-switchyard-endpoint')).toBe('dual@deepseek');
      expect(res.headers.get('x-switchyard-attempts')).toBe('2');
    } finally {
      await sc2.stop();
      await sim2.stop();
    }
  });

  for (const stream of [false, true]) {
    it(`${stream ? 'a stream' : 'a JSON answer'}: gpt-4.1's endpoint hangs, claude-sonnet-4.5 answers within the deadline`, async () => {
      await sim.setFault('gpt-4.1', { kind: 'hang', times: 1 });
      const hangsBefore = (await sim.log()).filter((e) => e.fault === 'hang').length;
      const res = await fetch(`${sc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-switchyard-timeout-ms': String(DEADLINE_MS) },
        body: JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 10, stream }),
      });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      expect(res.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
      expect(res.headers.get('x-switchyard-attempts')).toBe('2');
      expect(text).toContain(stream ? 'data: [DONE]' : '"chat.completion"');
      const hung = (await sim.log()).filter((e) => e.fault === 'hang');
      expect(hung.slice(hangsBefore).map((e) => e.model)).toEqual(['gpt-4.1']);
    });
  }

  it("the OpenAI SDK's own timeout (x-stainless-timeout, sent for a call's own timeout) is planned in as a deadline: a hung endpoint is cut in time for the fallback to answer before the SDK gives up (it held the call until the SDK gave up, every try)", async () => {
    await sim.setFault('gpt-4.1', { kind: 'hang', times: 1 });
    const client = new OpenAI({ baseURL: `${sc.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 10 }, { timeout: DEADLINE_MS })
      .withResponse();
    expect(data.model).toBe('claude-sonnet-4.5');
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
  });

  it("the Anthropic SDK's own timeout likewise, on /v1/messages (it sends the client's timeout with every call)", async () => {
    await sim.setFault('gpt-4.1', { kind: 'hang', times: 1 });
    const client = new Anthropic({ baseURL: sc.url, apiKey: 'x', maxRetries: 0, timeout: DEADLINE_MS });
    const msg = await client.messages.create({ model: 'gpt-4.1', max_tokens: 10, messages: [{ role: 'user', content: 'hello there' }] });
    expect(msg.model).toBe('claude-sonnet-4.5');
  });

  it('the last candidate has the rest of the deadline (a 504 at the deadline, not a cut)', async () => {
    await sim.setFault('gpt-4.1', { kind: 'hang', times: 1 });
    await sim.setFault('claude-sonnet-4-5', { kind: 'hang', times: 1 });
    const client = new OpenAI({ baseURL: `${sc.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const err = await client.chat.completions
      .create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }, { headers: { 'x-switchyard-timeout-ms': String(DEADLINE_MS) } })
      .catch((e: unknown) => e);
    // The first was cut at its share and the second, the last candidate, waited out the rest: the deadline's 504.
    expect([(err as InstanceType<typeof OpenAI.APIError>).status, (err as InstanceType<typeof OpenAI.APIError>).code]).toEqual([504, 'timeout']);
    expect((err as Error).message).toContain('request deadline of 4000 ms passed after 2 attempt(s)');
    const hung = (await sim.log()).filter((e) => e.fault === 'hang').map((e) => e.model);
    expect(hung.slice(-2)).toEqual(['gpt-4.1', 'claude-sonnet-4-5']);
  });

  it("the client's deadline includes the SDK's retries: its 504 says x-should-retry: false, so an SDK with maxRetries 2 makes one request (it made three, three deadlines long, each cut attempt billed)", async () => {
    await sim.setFault('gpt-4.1', { kind: 'hang', times: 10 });
    await sim.setFault('claude-sonnet-4-5', { kind: 'hang', times: 10 });
    try {
      const client = new OpenAI({ baseURL: `${sc.url}/v1`, apiKey: 'x', maxRetries: 2 });
      const before = (await sim.log()).filter((e) => e.fault === 'hang').length;
      const err = (await client.chat.completions
        .create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }, { headers: { 'x-switchyard-timeout-ms': '1000' } })
        .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect([err.status, err.code]).toEqual([504, 'timeout']);
      expect(err.headers?.get('x-should-retry')).toBe('false');
      // One request: gpt-4.1 cut at its share, claude-sonnet-4.5 waited out the rest.
      expect((await sim.log()).filter((e) => e.fault === 'hang').length - before).toBeLessThanOrEqual(2);
    } finally {
      await sim.clearFaults();
    }
  });

  it('a 504 at the configured requestTimeoutMs (no x-switchyard-timeout-ms) leaves the SDKs their own retries', async () => {
    const quick = await startSidecar(testConfig(sim.url, { resilience: { requestTimeoutMs: 600, failureThreshold: 1000, headersTimeoutMs: 60_000 } }));
    await sim.setFault('gpt-4.1', { kind: 'hang', times: 10 });
    await sim.setFault('claude-sonnet-4-5', { kind: 'hang', times: 10 });
    try {
      const r = await fetch(`${quick.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
      });
      expect(r.status).toBe(504);
      expect(r.headers.get('x-should-retry')).toBeNull();
    } finally {
      await sim.clearFaults();
      await quick.stop();
    }
  });
});
