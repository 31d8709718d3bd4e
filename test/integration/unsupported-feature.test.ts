/**
 * A provider that does not take a feature the request uses answers its own 400 (DeepSeek's chat
 * API and a `json_schema` response_format: "This response_format type is unavailable now"). The
 * request fails over to a candidate that takes it, through the real sidecar and simulator with the
 * official OpenAI SDK's `parse` helper; a request no candidate can take still gets the 400.
 */
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';

let sim: SimHandle;
let sc: SidecarHandle;
/** The cascade on, deepseek-v3.2 alone in fast_cheap (gemini balanced, as in the built-in catalogue). */
let cascaded: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 0, tokenGapMs: 0 }, models: { 'deepseek-chat': { jsonSchema: false } } });
  const cfg = testConfig(sim.url);
  // A route with DeepSeek alone: nothing to fail over to.
  Object.assign((cfg.routing as { routes: Record<string, string[]> }).routes, { deepseek: ['deepseek-v3.2'] });
  const models = cfg.models as Record<string, { fallbacks?: string[] }>;
  models['deepseek-v3.2']!.fallbacks = ['gemini-2.5-flash'];
  sc = await startSidecar(cfg);
  const ccfg = testConfig(sim.url, { routing: { strategy: 'cost', cascade: { enabled: true } } });
  (ccfg.models as Record<string, { tier: string }>)['gemini-2.5-flash']!.tier = 'balanced';
  cascaded = await startSidecar(ccfg);
}, 60_000);
afterAll(async () => {
  await Promise.all([sc?.stop(), cascaded?.stop()]);
  await sim?.stop();
});

const City = z.object({ city: z.string() });

describe("a model that does not take the request's response_format", () => {
  it('json_schema to deepseek-v3.2 fails over to its fallback (the 400 was given to the client); json_object stays on deepseek', async () => {
    await sim.clearLog();
    const { data, response } = await sc.client.chat.completions
      .parse({ model: 'deepseek-v3.2', messages: [{ role: 'user', content: 'Where is the Louvre?' }], response_format: zodResponseFormat(City, 'c') })
      .withResponse();
    expect(response.headers.get('x-switchyard-model')).toBe('gemini-2.5-flash');
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
    expect(data.choices[0]!.message.parsed).toEqual({ city: expect.any(String) });
    expect((await sim.log()).map((e) => [e.model, e.status])).toEqual([
      ['deepseek-chat', 400],
      ['gemini-2.5-flash', 200],
    ]);
    const obj = await sc.client.chat.completions
      .create({ model: 'deepseek-v3.2', messages: [{ role: 'user', content: 'JSON please' }], response_format: { type: 'json_object' } })
      .withResponse();
    expect(obj.response.headers.get('x-switchyard-model')).toBe('deepseek-v3.2');
  });

  it('with no other candidate the client gets the provider 400 as it was', async () => {
    const err = await sc.client.chat.completions
      .parse({ model: 'route/deepseek', messages: [{ role: 'user', content: 'x' }], response_format: zodResponseFormat(City, 'c') })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toMatch(/response_format type is unavailable/);
  });
});

describe('the same under the cascade', () => {
  it("a step whose only model does not take json_schema is passed like a failed step: the next step answers (it was the client's 400)", async () => {
    for (const stream of [false, true]) {
      const body = {
        model: 'auto',
        messages: [{ role: 'user' as const, content: 'Where is the Louvre?' }],
        response_format: zodResponseFormat(City, 'c'),
      };
      const opts = { headers: { 'x-switchyard-tier': 'fast_cheap' } };
      const { response } = stream
        ? await cascaded.client.chat.completions.create({ ...body, stream: true }, opts).withResponse()
        : await cascaded.client.chat.completions.create(body, opts).withResponse();
      expect(response.status).toBe(200);
      expect(response.headers.get('x-switchyard-cascade')).toMatch(/^deepseek-v3\.2:invalid_request>[a-z0-9.-]+:pass$/);
    }
  });
});
