/**
 * The quality cascade refused for money while its cheapest candidate cannot be reached, through
 * the real sidecar and simulator: a request that fits once that candidate is back is the 503 with
 * retry-after a plain request answers (it was a 429 the SDKs never retry), and one that fits
 * nowhere is a 429 naming the candidate nearest to fitting (it named a dearer one).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoint, waitFor } from './fault-helpers.js';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';

let sim: SimHandle;
let sc: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 6 } });
  const cfg = testConfig(sim.url);
  cfg.routing = { ...(cfg.routing as Record<string, unknown>), cascade: { enabled: true } };
  // One model a tier at the bottom: fast_cheap deepseek, then balanced gemini and gpt-4.1, then claude.
  (cfg.models as Record<string, Record<string, unknown>>)['gemini-2.5-flash']!.tier = 'balanced';
  (cfg.resilience as Record<string, unknown>).failureThreshold = 1;
  (cfg.resilience as Record<string, unknown>).recoveryMs = 600_000;
  sc = await startSidecar(cfg);
  // deepseek (the cheapest) circuit-open for the rest of the file.
  await sim.setFault('deepseek-chat', { kind: 'http_error', status: 500, times: 1000 });
  await waitFor(
    "deepseek's circuit to open",
    async () => {
      await sc.client.chat.completions.create(
        { model: 'deepseek-v3.2', messages: [{ role: 'user', content: 'hi' }] },
        { headers: { 'x-switchyard-cascade': 'off' } },
      );
      return (await endpoint(sc, 'deepseek-v3.2@deepseek')).state;
    },
    (s) => s === 'circuit-open',
    15_000,
    0,
  );
  await sim.clearFaults();
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

/** fast_cheap: deepseek (worst case ~$0.00005 at max_tokens 100); then balanced: gemini (~$0.00025) and gpt-4.1; claude above. */
const ask = (cap: string) =>
  sc.client.chat.completions
    .create(
      { model: 'auto', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'x-switchyard-tier': 'fast_cheap', 'x-switchyard-max-cost-usd': cap }, maxRetries: 0 },
    )
    .withResponse()
    .then(
      () => null,
      (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
    );

describe('the cascade refused for money while the cheapest candidate is circuit-open', () => {
  it('fits once deepseek is back: 503 no_endpoint_available with retry-after, as without the cascade (it was a 429)', async () => {
    for (const cascade of ['off', 'on']) {
      const err = await sc.client.chat.completions
        .create(
          { model: 'auto', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] },
          { headers: { 'x-switchyard-tier': 'fast_cheap', 'x-switchyard-max-cost-usd': '0.0001', 'x-switchyard-cascade': cascade }, maxRetries: 0 },
        )
        .catch((e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      const e = err as InstanceType<typeof OpenAI.APIError>;
      expect([cascade, e.status, e.code]).toEqual([cascade, 503, 'no_endpoint_available']);
      expect(Number(e.headers?.get('retry-after'))).toBeGreaterThan(0);
      expect(e.message).toContain('deepseek-v3.2 circuit-open');
    }
  });

  it('fits once deepseek is back, with a latency wish too: 503 with retry-after (the other models step left deepseek out: a 429)', async () => {
    const headers = { 'x-switchyard-tier': 'fast_cheap', 'x-switchyard-max-cost-usd': '0.0001', 'x-switchyard-max-latency-ms': '450' };
    for (const cascade of ['off', 'on']) {
      const err = await sc.client.chat.completions
        .create(
          { model: 'auto', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] },
          { headers: { ...headers, 'x-switchyard-cascade': cascade }, maxRetries: 0 },
        )
        .catch((e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
      const e = err as InstanceType<typeof OpenAI.APIError>;
      expect([cascade, e.status, e.code]).toEqual([cascade, 503, 'no_endpoint_available']);
      // When deepseek's circuit recovers (minutes), not the 1 s of the models passed over for latency and over the cap.
      expect(Number(e.headers?.get('retry-after')), cascade).toBeGreaterThan(60);
    }
  });

  it('fits nowhere: 429 budget_exceeded naming deepseek, the nearest to fitting (it named a dearer model)', async () => {
    const e = await ask('0.00001');
    expect(e).toBeInstanceOf(OpenAI.APIError);
    expect([e!.status, e!.code, e!.headers?.get('x-should-retry')]).toEqual([429, 'budget_exceeded', 'false']);
    expect(e!.headers?.get('x-switchyard-model')).toBe('deepseek-v3.2');
    expect(e!.message).toMatch(/on deepseek-v3\.2 \(\$[0-9.]+\) exceeds/);
  });

  it("the dry run names the model and tier the real request's answer names, whatever the cascade did (it named the first step's)", async () => {
    const cases: Array<Record<string, string>> = [
      { 'x-switchyard-tier': 'fast_cheap', 'x-switchyard-max-cost-usd': '0.0001' },
      { 'x-switchyard-tier': 'fast_cheap', 'x-switchyard-max-cost-usd': '0.00001' },
      { 'x-switchyard-max-cost-usd': '0.00003' },
      { 'x-switchyard-max-latency-ms': '1' },
    ];
    const body = { model: 'auto', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Prove that sqrt 2 is irrational, step by step.' }] };
    for (const headers of cases) {
      const dry = (await (
        await fetch(`${sc.url}/switchyard/route`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
      ).json()) as { model: string; tier: string };
      const real = await fetch(`${sc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      expect(real.status, JSON.stringify(headers)).not.toBe(200);
      expect([dry.model, dry.tier], JSON.stringify(headers)).toEqual([real.headers.get('x-switchyard-model'), real.headers.get('x-switchyard-tier')]);
      await real.text();
    }
  });

  it('a route whose first model is circuit-open and whose next is over the cap: 503 with retry-after, as without the cascade (it was a 429)', async () => {
    for (const cascade of ['off', 'on']) {
      const err = await sc.client.chat.completions
        .create(
          { model: 'route/chatbot', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] },
          { headers: { 'x-switchyard-max-cost-usd': '0.0001', 'x-switchyard-cascade': cascade }, maxRetries: 0 },
        )
        .catch((e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
      const e = err as InstanceType<typeof OpenAI.APIError>;
      expect([cascade, e.status, e.code]).toEqual([cascade, 503, 'no_endpoint_available']);
    }
  });
});
