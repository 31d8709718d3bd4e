/**
 * `/switchyard/state` (spec §3) against the real processes: every endpoint's live state and
 * counters, the budgets and the supervisor; and circuit breaking end to end as that view and
 * the simulator's request log show it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, TEST_KEYS, type SidecarHandle, type SimHandle } from './harness.js';
import { apiError, ask, endpoint, expectedAnswer, expectNoHammering, hits, stateOf, waitFor, type EndpointView } from './fault-helpers.js';

const OUTPUT_TOKENS = 12;
const RETRY = { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 200, maxTotalAttempts: 6 };
const RESILIENCE = {
  failureThreshold: 3,
  recoveryMs: 2000,
  halfOpenProbes: 1,
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 800,
  firstTokenTimeoutMs: 800,
  idleTimeoutMs: 600,
  maxRetryAfterMs: 1000,
  retry: RETRY,
};

const GPT = 'gpt-4.1';
const GPT_EP = 'gpt-4.1@openai';
const CLAUDE = 'claude-sonnet-4.5';
const CLAUDE_UP = 'claude-sonnet-4-5';

let sim: SimHandle;
let sc: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: OUTPUT_TOKENS } });
  const cfg = testConfig(sim.url, {
    resilience: RESILIENCE,
    budget: {
      limits: [
        { scope: 'global', period: 'day', usd: 100 },
        { scope: 'model', model: CLAUDE, period: 'month', usd: 10 },
      ],
    },
  });
  const models = cfg.models as Record<string, Record<string, unknown>>;
  models[GPT]!.endpoints = [{ provider: 'openai', upstreamModel: GPT, rpm: 1000, tpm: 2_000_000 }];
  const small = { tier: 'fast_cheap', price: { inputPerMTok: 0.1, outputPerMTok: 0.2 }, contextWindow: 100_000, latencyPriorMs: 50 };
  // One request at a time: a second one waits in the supervisor's queue.
  models.single = { ...small, endpoints: [{ provider: 'deepseek', upstreamModel: 'single-up', maxConcurrent: 1 }] };
  // Two requests a minute (and 1000 tokens): the third finds it throttled for ~30 s.
  models.capped = { ...small, endpoints: [{ provider: 'deepseek', upstreamModel: 'capped-up', rpm: 2, tpm: 1000 }] };
  // 1000 tokens a minute.
  models.tokcap = { ...small, maxOutputTokens: 4000, endpoints: [{ provider: 'deepseek', upstreamModel: 'tokcap-up', tpm: 1000 }] };
  // One endpoint, no fallback: its circuit is opened by an overload that asks for longer than recoveryMs.
  models.overload = { ...small, endpoints: [{ provider: 'deepseek', upstreamModel: 'overload-up' }] };
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

beforeEach(async () => {
  await sim.clearFaults();
  await sim.clearLog();
});

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function expectEndpointShape(e: EndpointView): void {
  expect(typeof e.id).toBe('string');
  expect(typeof e.model).toBe('string');
  expect(typeof e.provider).toBe('string');
  expect(['healthy', 'throttled', 'circuit-open', 'half-open']).toContain(e.state);
  expect(typeof e.rpm.used).toBe('number');
  expect(e.rpm.limit === null || typeof e.rpm.limit === 'number').toBe(true);
  expect(typeof e.tpm.used).toBe('number');
  expect(e.tpm.limit === null || typeof e.tpm.limit === 'number').toBe(true);
  expect(typeof e.inFlight).toBe('number');
  expect(e.latency).toHaveProperty('p50');
  expect(e.latency).toHaveProperty('ewma');
  expect(typeof e.consecutiveFailures).toBe('number');
  expect(e).toHaveProperty('retryAt');
  if (e.retryAt !== null) expect(e.retryAt).toMatch(ISO);
}

describe('/switchyard/state', () => {
  it('shows every endpoint, the budgets and the supervisor, with live counters', async () => {
    const before = await stateOf(sc);
    expect(before.endpoints.map((e) => e.id).sort()).toEqual(
      [
        'capped@deepseek',
        'claude-sonnet-4.5@anthropic',
        'deepseek-v3.2@deepseek',
        'gemini-2.5-flash@gemini',
        'gpt-4.1@openai',
        'overload@deepseek',
        'single@deepseek',
        'tokcap@deepseek',
      ].sort(),
    );
    for (const e of before.endpoints) expectEndpointShape(e);
    const routedBefore = before.supervisor.requestsRouted;

    for (const stream of [false, true]) {
      const p = `state counters ${stream}`;
      const r = await ask(sc, GPT, p, { stream });
      expect(r.text).toBe(expectedAnswer(p, OUTPUT_TOKENS));
    }
    const s = await stateOf(sc);
    const gpt = s.endpoints.find((e) => e.id === GPT_EP)!;
    expect(gpt).toMatchObject({ id: GPT_EP, model: GPT, provider: 'openai', state: 'healthy', inFlight: 0, consecutiveFailures: 0, retryAt: null });
    // GCRA windows: what is "used" drains continuously (1000 rpm: one request per 60 ms), so
    // only the limits are exact here; the capped endpoint below shows a window that holds.
    expect(gpt.rpm.limit).toBe(1000);
    expect(gpt.rpm.used).toBeGreaterThanOrEqual(0);
    expect(gpt.rpm.used).toBeLessThanOrEqual(2);
    expect(gpt.tpm.limit).toBe(2_000_000);
    expect(gpt.tpm.used).toBeGreaterThanOrEqual(0);
    expect(gpt.latency.p50).toBeGreaterThan(0);
    expect(gpt.latency.ewma).toBeGreaterThan(0);
    expect(gpt.requests).toBe(2);
    expect(gpt.successes).toBe(2);
    // Unlimited windows say so.
    const claude = s.endpoints.find((e) => e.model === CLAUDE)!;
    expect(claude.rpm.limit).toBeNull();
    expect(claude.latency.p50).toBeNull();

    expect(s.supervisor.requestsRouted).toBe(routedBefore + 2);
    expect(s.supervisor.queueDepth).toBe(0);

    expect(s.budgets).toHaveLength(2);
    const global = s.budgets.find((b) => b.scope === 'global')!;
    expect(global).toMatchObject({ period: 'day', limitUsd: 100, reservedUsd: 0 });
    expect(global.spentUsd).toBeGreaterThan(0);
    expect(global.resetsAt).toMatch(ISO);
    expect(Date.parse(global.resetsAt!)).toBeGreaterThan(Date.now());
    const perModel = s.budgets.find((b) => b.scope === 'model')!;
    expect(perModel).toMatchObject({ period: 'month', limitUsd: 10, spentUsd: 0, reservedUsd: 0 });
  });

  it('shows a request in flight and one waiting in the queue', async () => {
    await sim.setFault('single-up', { kind: 'slow_first_token', delayMs: 500, times: 1 });
    const first = ask(sc, 'single', 'queue first', { stream: false });
    await waitFor(
      'the first request at the upstream',
      () => sim.log(),
      (l) => l.length === 1,
      3000,
      10,
    );
    const second = ask(sc, 'single', 'queue second', { stream: false });
    const s = await waitFor(
      'a request in the queue',
      () => stateOf(sc),
      (v) => v.supervisor.queueDepth === 1,
      3000,
      10,
    );
    const single = s.endpoints.find((e) => e.id === 'single@deepseek')!;
    expect(single.inFlight).toBe(1);
    expect(single.state).toBe('healthy');
    const [a, b] = await Promise.all([first, second]);
    expect(a.text).toBe(expectedAnswer('queue first', OUTPUT_TOKENS));
    expect(b.text).toBe(expectedAnswer('queue second', OUTPUT_TOKENS));
    const after = await stateOf(sc);
    expect(after.supervisor.queueDepth).toBe(0);
    expect(after.endpoints.find((e) => e.id === 'single@deepseek')!.inFlight).toBe(0);
    // The waiting request reached the upstream only after the first had finished.
    const log = hits(await sim.log(), 'single-up');
    expect(log).toHaveLength(2);
    expect(log[1]!.at - log[0]!.at).toBeGreaterThanOrEqual(500);
  });

  it('a request that reserved more of the tpm window than it used frees it when it ends: healthy at once, not throttled for the estimate', async () => {
    // max_tokens 2000: twice the window is counted while it runs (a cost over the limit fits an empty window).
    const first = await sc.client.chat.completions.create({ model: 'tokcap', max_tokens: 2000, messages: [{ role: 'user', content: 'tokcap 1' }] });
    expect(first.choices[0]?.message.content).toBe(expectedAnswer('tokcap 1', OUTPUT_TOKENS));
    const e = await endpoint(sc, 'tokcap@deepseek');
    expect(e).toMatchObject({ state: 'healthy', retryAt: null, reason: null });
    expect(e.tpm.used).toBeLessThan(100);
    // The next one finds room for its estimate at once.
    const second = await ask(sc, 'tokcap', 'tokcap 2', { stream: true, headers: { 'x-switchyard-timeout-ms': '8000' } });
    expect(second.error, String(second.error)).toBeNull();
    expect(second.text).toBe(expectedAnswer('tokcap 2', OUTPUT_TOKENS));
    expect(hits(await sim.log(), 'tokcap-up')).toHaveLength(2);
  });

  it('shows an endpoint whose rpm window is full as throttled with retryAt; a request then gets 503 with retry-after', async () => {
    for (let i = 0; i < 2; i++) expect((await ask(sc, 'capped', `capped ${i}`, { stream: false })).ok).toBe(true);
    const e = await endpoint(sc, 'capped@deepseek');
    expect(e.state).toBe('throttled');
    expect(e.reason).toBe('rpm window full');
    expect(e.rpm.limit).toBe(2);
    expect(e.rpm.used).toBeGreaterThan(1.9);
    expect(e.rpm.used).toBeLessThanOrEqual(2);
    // Two answers of OUTPUT_TOKENS and their prompts, draining at 1000 tokens a minute.
    expect(e.tpm.limit).toBe(1000);
    expect(e.tpm.used).toBeGreaterThan(2 * OUTPUT_TOKENS);
    expect(e.tpm.used).toBeLessThan(200);
    expect(e.requests).toBe(2);
    expect(e.retryAt).toMatch(ISO);
    expect(Date.parse(e.retryAt!)).toBeGreaterThan(Date.now() + 20_000);
    // Throttled past the request's deadline: no endpoint available (not a wait for the deadline).
    const r = await ask(sc, 'capped', 'capped 3', { stream: false, headers: { 'x-switchyard-timeout-ms': '2000' } });
    const err = apiError(r.error);
    expect(err.status).toBe(503);
    expect(err.code).toBe('no_endpoint_available');
    expect(Number(err.headers?.get('retry-after'))).toBeGreaterThanOrEqual(20);
    // A minute's rpm window frees within 60 s: the SDK may wait that out and retry by itself.
    expect(Number(err.headers?.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(err.headers?.get('x-should-retry')).toBeNull();
    expect(hits(await sim.log(), 'capped-up')).toHaveLength(2);
  });
});

describe(`circuit breaking end to end (failureThreshold ${RESILIENCE.failureThreshold}, recoveryMs ${RESILIENCE.recoveryMs}, halfOpenProbes ${RESILIENCE.halfOpenProbes})`, () => {
  it('400-class faults never open the circuit', async () => {
    await sim.setFault(GPT, { kind: 'content_policy_violation' });
    for (let i = 0; i < RESILIENCE.failureThreshold + 1; i++) {
      const r = await ask(sc, GPT, `policy ${i}`, { stream: i % 2 === 1 });
      expect(apiError(r.error).status).toBe(400);
    }
    await sim.setFault(GPT, { kind: 'context_length_exceeded' });
    for (let i = 0; i < RESILIENCE.failureThreshold + 1; i++) {
      const r = await ask(sc, GPT, `context ${i}`, { stream: false });
      expect(apiError(r.error).code).toBe('context_length_exceeded');
    }
    const e = await endpoint(sc, GPT_EP);
    expect(e.state).toBe('healthy');
    expect(e.consecutiveFailures).toBe(0);
    expect(hits(await sim.log(), GPT)).toHaveLength(2 * (RESILIENCE.failureThreshold + 1));
  });

  it('opens after failureThreshold consecutive failures, skips the open endpoint, probes once when half-open, closes on success', async () => {
    await sim.setFault(GPT, { kind: 'http_error', status: 500 });
    // 1st request: 500, one quick retry, 500 → 2 consecutive failures, answered by the fallback.
    const r1 = await ask(sc, GPT, 'circuit 1', { stream: false });
    expect(r1.models).toEqual([CLAUDE]);
    expectNoHammering(await sim.log(), RETRY, RETRY.baseDelayMs / 2);
    let e = await endpoint(sc, GPT_EP);
    expect(e.state).toBe('healthy');
    expect(e.consecutiveFailures).toBe(2);

    // 2nd request: the 3rd failure opens the circuit; the quick retry does not go to an open endpoint.
    await sim.clearLog();
    const r2 = await ask(sc, GPT, 'circuit 2', { stream: true });
    expect(r2.text).toBe(expectedAnswer('circuit 2', OUTPUT_TOKENS));
    expect(r2.headers?.get('x-switchyard-model')).toBe(CLAUDE);
    expect(hits(await sim.log(), GPT)).toHaveLength(1);
    e = await endpoint(sc, GPT_EP);
    expect(e.state).toBe('circuit-open');
    expect(e.consecutiveFailures).toBe(3);
    expect(e.retryAt).toMatch(ISO);
    const openUntil = Date.parse(e.retryAt!);
    expect(openUntil).toBeGreaterThan(Date.now());
    expect((await fetch(`${sc.url}/readyz`)).status).toBe(200);

    // While open: straight to the fallback, the open endpoint is not touched.
    await sim.clearLog();
    for (const stream of [false, true]) {
      const r = await ask(sc, GPT, `circuit open ${stream}`, { stream });
      expect(r.text).toBe(expectedAnswer(`circuit open ${stream}`, OUTPUT_TOKENS));
      expect(r.headers?.get('x-switchyard-model')).toBe(CLAUDE);
      expect(r.headers?.get('x-switchyard-attempts')).toBe('1');
    }
    expect(hits(await sim.log(), GPT)).toHaveLength(0);

    // After recoveryMs: half-open. A failing probe opens it again (one upstream request only).
    e = await waitFor(
      'half-open',
      () => endpoint(sc, GPT_EP),
      (v) => v.state === 'half-open',
      4000,
      25,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(openUntil);
    expect(e.retryAt).toBeNull();
    await sim.clearLog();
    const r3 = await ask(sc, GPT, 'circuit probe fails', { stream: false });
    expect(r3.models).toEqual([CLAUDE]);
    expect(hits(await sim.log(), GPT).map((x) => x.status)).toEqual([500]);
    e = await endpoint(sc, GPT_EP);
    expect(e.state).toBe('circuit-open');
    expect(Date.parse(e.retryAt!)).toBeGreaterThan(openUntil);

    // Half-open again, the upstream recovered (slowly): of four requests at once exactly one
    // probe reaches it, the others go to the fallback; the probe's success closes the circuit.
    await waitFor(
      'half-open again',
      () => endpoint(sc, GPT_EP),
      (v) => v.state === 'half-open',
      4000,
      25,
    );
    await sim.setFault(GPT, { kind: 'slow_first_token', delayMs: 500, times: 1 });
    await sim.clearLog();
    const burst = await Promise.all([0, 1, 2, 3].map((i) => ask(sc, GPT, `circuit burst ${i}`, { stream: i % 2 === 1 })));
    burst.forEach((b, i) => expect(b.text).toBe(expectedAnswer(`circuit burst ${i}`, OUTPUT_TOKENS)));
    expect(burst.filter((b) => b.headers?.get('x-switchyard-model') === GPT)).toHaveLength(RESILIENCE.halfOpenProbes);
    let log = await sim.log();
    expect(hits(log, GPT)).toHaveLength(RESILIENCE.halfOpenProbes);
    expect(hits(log, CLAUDE_UP)).toHaveLength(3);
    await sim.clearLog();
    await waitFor(
      'healthy after the probe',
      () => endpoint(sc, GPT_EP),
      (v) => v.state === 'healthy',
      3000,
      25,
    );
    e = await endpoint(sc, GPT_EP);
    expect(e).toMatchObject({ state: 'healthy', consecutiveFailures: 0, retryAt: null });

    // Closed: traffic is back on the primary.
    const back = await ask(sc, GPT, 'circuit closed', { stream: true });
    expect(back.headers?.get('x-switchyard-model')).toBe(GPT);
    log = await sim.log();
    expect(hits(log, GPT)).toHaveLength(1);
    expect(hits(log, CLAUDE_UP)).toHaveLength(0);
  });

  it('every candidate circuit-open: 503 no_endpoint_available with retry-after, the upstream untouched', async () => {
    await sim.setFault('*', { kind: 'http_error', status: 503 });
    for (let i = 0; i < 2; i++) await ask(sc, 'single', `all down ${i}`, { stream: false });
    const single = await endpoint(sc, 'single@deepseek');
    expect(single.state).toBe('circuit-open');
    await sim.clearLog();
    const r = await ask(sc, 'single', 'all down after', { stream: false });
    const err = apiError(r.error);
    expect(err.status).toBe(503);
    expect(err.code).toBe('no_endpoint_available');
    expect(Number(err.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await sim.log()).toHaveLength(0);
  });
});

describe('a circuit opened by an overload that asked for longer than recoveryMs', () => {
  it("stays open that long, and switchyard's 503 says the upstream's retry-after, not the time to half-open", async () => {
    // Two plain 503s (the attempt and its quick retry), then one asking for 30 s: the third failure opens the circuit.
    await sim.setFault('overload-up', { kind: 'http_error', status: 503, times: 2 });
    expect(apiError((await ask(sc, 'overload', 'overload 1', { stream: false })).error).status).toBe(502);
    await sim.setFault('overload-up', { kind: 'http_error', status: 503, retryAfterSec: 30 });
    const sent = Date.now();
    const second = apiError((await ask(sc, 'overload', 'overload 2', { stream: false })).error);
    expect(second.status).toBe(502);
    const e = await endpoint(sc, 'overload@deepseek');
    expect(e.state).toBe('circuit-open');
    expect(Date.parse(e.retryAt!)).toBeGreaterThanOrEqual(sent + 30_000);
    await sim.clearLog();
    const r = apiError((await ask(sc, 'overload', 'overload 3', { stream: false })).error);
    expect(r.status).toBe(503);
    expect(r.code).toBe('no_endpoint_available');
    // It said 2 (recoveryMs), and the SDKs' retry met the overloaded upstream again.
    expect(Number(r.headers?.get('retry-after'))).toBeGreaterThanOrEqual(29);
    expect(r.headers?.get('x-should-retry')).toBeNull();
    expect(await sim.log()).toHaveLength(0);
  });
});

describe('secrets', () => {
  it('the state never contains an API key', async () => {
    const text = await (await fetch(`${sc.url}/switchyard/state`)).text();
    for (const v of Object.values(TEST_KEYS)) expect(text).not.toContain(v);
    expect(text).not.toMatch(/apiKey|SY_TEST_/);
  });
});
