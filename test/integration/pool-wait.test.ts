/**
 * A wait for a free upstream connection is switchyard's, not the upstream's: the time limits
 * (`headersTimeoutMs`, `firstTokenTimeoutMs`) start when a connection takes the request. With
 * a pool smaller than the concurrency allowed, queued requests timed out in the pool, failed
 * over and opened a healthy provider's circuit. The real sidecar and simulator, the OpenAI SDK.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { validateConfig } from '../../src/config/load.js';
import { poolConnections, undersizedPools } from '../../src/config/pool-size.js';

let sim: SimHandle;
let sc: SidecarHandle;

beforeAll(async () => {
  // Each answer takes ~480 ms (8 pieces 60 ms apart); a stream's first content comes at once.
  sim = await startSimulatorProc({ defaults: { ttftMs: 0, tokenGapMs: 60, outputTokens: 8 } });
  const base = testConfig(sim.url);
  const providers = base.providers as Record<string, Record<string, unknown>>;
  sc = await startSidecar({
    ...base,
    // One connection to deepseek's origin, so requests queue in switchyard's pool one behind another.
    providers: { ...providers, deepseek: { ...providers.deepseek, connections: 1 } },
    resilience: { ...(base.resilience as object), headersTimeoutMs: 1500, firstTokenTimeoutMs: 300, failureThreshold: 2 },
  });
}, 60_000);

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

describe('waiting for a connection in the pool', () => {
  it('five requests behind one connection are each answered by their model, on the first attempt, and the endpoint is not blamed', async () => {
    const messages = [{ role: 'user' as const, content: 'hello' }];
    for (const stream of [false, true]) {
      const answers = await Promise.all(
        Array.from({ length: 5 }, async () => {
          if (!stream) {
            const { data, response } = await sc.client.chat.completions.create({ model: 'deepseek-v3.2', messages }).withResponse();
            return { model: data.model, attempts: response.headers.get('x-switchyard-attempts') };
          }
          const { data, response } = await sc.client.chat.completions.create({ model: 'deepseek-v3.2', messages, stream: true }).withResponse();
          let model = '';
          for await (const c of data) model = c.model;
          return { model, attempts: response.headers.get('x-switchyard-attempts') };
        }),
      );
      // Before: the later ones timed out waiting (headers_timeout, first_token_timeout) and failed over to gemini-2.5-flash.
      expect(answers).toEqual(Array.from({ length: 5 }, () => ({ model: 'deepseek-v3.2', attempts: '1' })));
    }
    const ep = (await sc.state()).endpoints.find((e) => e.model === 'deepseek-v3.2')!;
    expect({ state: ep.state, failures: ep.consecutiveFailures }).toEqual({ state: 'healthy', failures: 0 });
    expect((await sim.log()).filter((e) => e.model !== 'deepseek-chat')).toEqual([]);
    // The operator is told the pool is smaller than the concurrency allowed.
    await sc.waitForOutput(/providers\.deepseek\.connections is 1, but its endpoints' maxConcurrent add up to 64/);
    // A reload to another size too small says so as well.
    const cfg = parse(readFileSync(sc.configFile, 'utf8')) as { providers: Record<string, Record<string, unknown>> };
    cfg.providers.deepseek!.connections = 2;
    writeFileSync(sc.configFile, stringify(cfg));
    expect((await fetch(`${sc.url}/switchyard/reload`, { method: 'POST' })).status).toBe(200);
    await sc.waitForOutput(/providers\.deepseek\.connections is 2, but its endpoints' maxConcurrent add up to 64/);
  });
});

describe('pool size', () => {
  it("is the provider's connections when set, else the sum of its endpoints' maxConcurrent", () => {
    const res = validateConfig({
      providers: { a: { kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1' }, b: { kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1', connections: 8 } },
      models: {
        m1: {
          tier: 'balanced',
          price: { inputPerMTok: 1, outputPerMTok: 1 },
          contextWindow: 1000,
          endpoints: [{ provider: 'a', upstreamModel: 'x', maxConcurrent: 10 }],
        },
        m2: {
          tier: 'balanced',
          price: { inputPerMTok: 1, outputPerMTok: 1 },
          contextWindow: 1000,
          endpoints: [
            { provider: 'a', upstreamModel: 'y' },
            { provider: 'b', upstreamModel: 'y', maxConcurrent: 4 },
          ],
        },
      },
    });
    if (!res.ok) throw new Error(res.errors.join('\n'));
    expect(poolConnections(res.config, 'a')).toBe(74); // 10 + the default 64
    expect(poolConnections(res.config, 'b')).toBe(8);
    expect(undersizedPools(res.config)).toEqual([]);
    const small = { ...res.config, providers: { ...res.config.providers, a: { ...res.config.providers.a!, connections: 20 } } };
    expect(undersizedPools(small)).toEqual([expect.stringMatching(/^providers\.a\.connections is 20, but its endpoints' maxConcurrent add up to 74/)]);
  });
});

describe('time limits too short to be meant', () => {
  it('are warned of at start, as check-config notes them (a timeout written in seconds made every request time out, with nothing said)', async () => {
    const base = testConfig(sim.url);
    const short = await startSidecar({ ...base, resilience: { ...(base.resilience as object), requestTimeoutMs: 30 } });
    try {
      await short.waitForOutput(/resilience\.requestTimeoutMs is 30 ms: switchyard's times are in milliseconds \(30 s would be 30000\)/);
    } finally {
      await short.stop();
    }
  });
});
