/**
 * The cascade and a latency wish, through the real sidecar and simulator with the official
 * OpenAI SDK: when no endpoint of a step's tier is within `x-switchyard-max-latency-ms`, the
 * cascade goes on to the plain request's other candidates (as a plain request does), instead of
 * climbing only to slower tiers and answering 503 while a fast model fits. Its own sidecar: the
 * latencies are the config's priors (nothing here is measured but deepseek's). The same when the
 * first tier is throttled: the cascade does not wait it out while other models could answer.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';

let sim: SimHandle;
let sc: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 6 } });
  // Priors: gpt-4.1 600 ms (balanced), claude-sonnet-4.5 900 ms (high_quality), gemini-2.5-flash 400 ms, deepseek-v3.2 35 ms.
  // The wish (300 ms) leaves deepseek room for a slow first answer on a busy machine (150 ms did not, under a parallel suite).
  sc = await startSidecar(testConfig(sim.url, { routing: { strategy: 'cost', cascade: { enabled: true } } }));
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

const wish = { 'x-switchyard-tier': 'balanced', 'x-switchyard-max-latency-ms': '300' };

describe('the cascade under a latency wish', () => {
  for (const stream of [false, true]) {
    it(`no endpoint of the first tier within it (${stream ? 'stream' : 'JSON'}): the fast model of another tier answers, as without the cascade; the dry run says the same`, async () => {
      const body = { model: 'auto', messages: [{ role: 'user' as const, content: `how far is the moon (${String(stream)})` }] };
      const { data, response } = await sc.client.chat.completions.create({ ...body, stream: false }, { headers: wish }).withResponse();
      if (stream) {
        const s = await sc.client.chat.completions.create({ ...body, stream: true }, { headers: wish });
        let text = '';
        for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
        expect(text.split(' ')).toHaveLength(6);
      }
      expect(data.model).toBe('deepseek-v3.2');
      expect(response.headers.get('x-switchyard-cascade')).toBe('gpt-4.1:no_endpoint_available>deepseek-v3.2:pass');
      const reason = response.headers.get('x-switchyard-reason');
      expect(reason).toMatch(
        /^cascade: gpt-4\.1 no_endpoint_available -> other models; tier forced by x-switchyard-tier: balanced; .*over x-switchyard-max-latency-ms 300 ms/,
      );
      const dry = (await (
        await fetch(`${sc.url}/switchyard/route`, { method: 'POST', headers: { 'content-type': 'application/json', ...wish }, body: JSON.stringify(body) })
      ).json()) as { model: string; reason: string; cascade: string[][] };
      expect(dry).toMatchObject({ model: 'deepseek-v3.2', reason });
      // Its steps include the one that serves (they listed gpt-4.1's step only).
      expect(dry.cascade[0]).toContain('gpt-4.1');
      expect(dry.cascade.at(-1)).toContain('deepseek-v3.2');
    });
  }

  it("the dry run keeps the scorer's score when the first step is passed over (it said null, as if a hint had decided)", async () => {
    // Scored below the top tier (a top-tier plan is one step, served plain: no cascade reason).
    const body = { model: 'auto', messages: [{ role: 'user' as const, content: 'Give me three synonyms for happy.' }] };
    const dry = async (headers: Record<string, string>) =>
      (await (
        await fetch(`${sc.url}/switchyard/route`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
      ).json()) as { model: string; reason: string; score: number | null };
    const fast = { 'x-switchyard-max-latency-ms': '300' };
    const cascaded = await dry(fast);
    expect(cascaded.reason).toMatch(/^cascade: \S+ no_endpoint_available -> /);
    const plain = await dry({ ...fast, 'x-switchyard-cascade': 'off' });
    expect(plain.score).not.toBeNull();
    expect(cascaded.score).toBe(plain.score);
  });

  it('nothing within it anywhere: 503 no_endpoint_available, as without the cascade', async () => {
    const err = await sc.client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }, { headers: { ...wish, 'x-switchyard-max-latency-ms': '1' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect([(err as InstanceType<typeof OpenAI.APIError>).status, (err as InstanceType<typeof OpenAI.APIError>).code]).toEqual([503, 'no_endpoint_available']);
    // The step after the first goes to models not yet asked: one the wish passed over is not asked again
    // (it was: `gpt-4.1:no_endpoint_available>gpt-4.1:no_endpoint_available`, two rows for one model).
    const steps = (err as InstanceType<typeof OpenAI.APIError>).headers!.get('x-switchyard-cascade')!.split('>');
    expect(steps[0]).toBe('gpt-4.1:no_endpoint_available');
    expect(new Set(steps.map((st) => st.split(':')[0])).size).toBe(steps.length);
  });

  it('the only model fast enough is throttled for a moment: the first step waits for it (nothing else is within the wish), one step, named once', async () => {
    // deepseek-v3.2 (the only model within 300 ms: gemini-2.5-flash's prior is 400 ms, and nothing here
    // sends it anything) throttled 3 s by a 429 that a plain request with the same wish met and gave up on.
    const fast = { 'x-switchyard-max-latency-ms': '300' };
    await sim.setFault('deepseek-chat', { kind: 'rate_limit', retryAfterSec: 3, times: 1 });
    await sc.client.chat.completions
      .create(
        { model: 'deepseek-v3.2', messages: [{ role: 'user', content: 'warm' }] },
        { headers: { ...fast, 'x-switchyard-cascade': 'off', 'x-switchyard-timeout-ms': '300' }, maxRetries: 0 },
      )
      .catch(() => null);
    const deepseek = async () => (await sc.state()).endpoints.find((e) => e.model === 'deepseek-v3.2')!.state;
    expect(await deepseek()).toBe('throttled');
    const { data, response } = await sc.client.chat.completions
      .create(
        { model: 'auto', messages: [{ role: 'user', content: 'how far is mars' }] },
        { headers: { ...fast, 'x-switchyard-tier': 'fast_cheap', 'x-switchyard-timeout-ms': '30000' } },
      )
      .withResponse();
    expect(data.model).toBe('deepseek-v3.2');
    // It was deepseek-v3.2:no_endpoint_available>deepseek-v3.2:pass: the first step gave up on it, the next came back to it and waited.
    expect(response.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:pass');
  });

  // Last: it leaves gpt-4.1 throttled for 20 s.
  it("the first tier throttled (a 429 with retry-after 20 s, well within the deadline): the cascade goes on to the plain order's other models at once, as a plain request does, instead of waiting the throttle out", async () => {
    await sim.setFault('gpt-4.1', { kind: 'rate_limit', retryAfterSec: 20, times: 1 });
    const { data, response } = await sc.client.chat.completions
      .create(
        { model: 'auto', messages: [{ role: 'user', content: 'how far is the sun' }] },
        { headers: { 'x-switchyard-tier': 'balanced', 'x-switchyard-timeout-ms': '60000' } },
      )
      .withResponse();
    // The plain order after balanced: the tier above (gpt-4.1's fallback), then below.
    expect(data.model).toBe('claude-sonnet-4.5');
    expect(response.headers.get('x-switchyard-cascade')).toBe('gpt-4.1:no_endpoint_available>claude-sonnet-4.5:pass');
  });
});
