/**
 * The cascade near its deadline: a later step is not started when the time left is shorter than
 * what its quickest endpoint usually takes (latency EWMA, `latencyPriorMs` until measured). Such a
 * step was started anyway, cut by the deadline and billed what it reserved (a JSON answer's prompt
 * and whole output cap) for nothing; the best answer so far is delivered instead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';

let sim: SimHandle;
let sc: SidecarHandle;

beforeAll(async () => {
  // gpt-4.1 (balanced, the first step) answers after 2.3 s; claude-sonnet-4.5 (high_quality, prior 900 ms) is the next step.
  sim = await startSimulatorProc({ defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 6 }, models: { 'gpt-4.1': { ttftMs: 2300 } } });
  sc = await startSidecar(testConfig(sim.url, { routing: { cascade: { enabled: true } } }));
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

describe('the cascade near its deadline', () => {
  it('a failed answer with less time left than the next step usually takes is delivered as it is, the next step never sent', async () => {
    await sim.setFault('gpt-4.1', { kind: 'empty', times: 1 });
    const res = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchyard-tier': 'balanced', 'x-switchyard-timeout-ms': '3000' },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 20 }),
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(res.headers.get('x-switchyard-cascade')).toBe('gpt-4.1:empty');
    // The reason says why the next step was not taken (it said only the first step's tier).
    expect(res.headers.get('x-switchyard-reason')).toMatch(/; claude-sonnet-4\.5 not tried \(too little time left: \d+ ms, it usually takes 900 ms\)$/);
    expect((await sim.log()).filter((e) => e.model === 'claude-sonnet-4-5')).toHaveLength(0);
  });

  it('a request whose deadline passes before its first step is answered (504) and recorded, not left hanging (it was, on every API)', async () => {
    // Reading and routing it take longer than the 1 ms the client allows.
    const prompt = 'hello there, how are you today?';
    const before = ((await (await fetch(`${sc.url}/switchyard/spend`)).json()) as { total: { requests: number } }).total.requests;
    for (const stream of [false, true]) {
      const res = await fetch(`${sc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-switchyard-timeout-ms': '1' },
        body: JSON.stringify({ model: 'auto', stream, messages: [{ role: 'user', content: prompt }] }),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      expect(res.status, text).toBe(504);
      expect(res.headers.get('x-switchyard-error-code')).toBe('timeout');
    }
    for (const [path, body] of [
      ['/v1/messages', { model: 'auto', max_tokens: 20, messages: [{ role: 'user', content: prompt }] }],
      ['/v1/responses', { model: 'auto', input: prompt }],
    ] as const) {
      const res = await fetch(`${sc.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-switchyard-timeout-ms': '1', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      expect(res.status, `${path}: ${text}`).toBe(504);
    }
    const after = ((await (await fetch(`${sc.url}/switchyard/spend`)).json()) as { total: { requests: number } }).total.requests;
    expect(after - before).toBe(4);
  });
});
