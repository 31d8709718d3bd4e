/**
 * The request driver on a simulated clock, against the real provider simulator in process:
 * the wire is real (undici, the adapters, the simulator's faults), every wait of the request
 * (a retry-after, a backoff, the deadline, capacity) is a timer on the injected scheduler.
 * Each test checks where the request stands just before a wait ends and just after, so no
 * verdict depends on how fast this machine is.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { openLedger, type InFlight } from '../../src/accounting/ledger.js';
import { configSchema } from '../../src/config/schema.js';
import type { ChatCall } from '../../src/runtime/api.js';
import type { BudgetStore } from '../../src/runtime/budget.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { LATENCY_HALF_LIFE_MS, LATENCY_STALE_MS } from '../../machines/endpoint.machine.js';
import type { Scheduler } from '../../src/runtime/scheduler.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import type { AttemptInput } from '../../src/runtime/attempt.js';
import { expectedAnswer } from '../integration/fault-helpers.js';
import { TestSink } from './recording-sink.js';

// Each attempt as it is sent (the in-flight journal tests look at the journal then); the real attempt runs.
const probe = vi.hoisted(() => ({ atDispatch: null as ((inp: AttemptInput) => void) | null }));
vi.mock('../../src/runtime/attempt.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../src/runtime/attempt.js')>();
  return {
    ...m,
    runAttempt: (...args: Parameters<typeof m.runAttempt>) => {
      probe.atDispatch?.(args[0]);
      return m.runAttempt(...args);
    },
  };
});

const T0 = Date.UTC(2025, 2, 14, 12);

/** Timers fire only when the test advances the clock. */
class SimScheduler implements Scheduler {
  private t = T0;
  private timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  /** A timer armed for `ms` fires `by` ms before it is due by `now()`, as node's can (it times them on another clock, in whole ms). */
  early: { ms: number; by: number } | null = null;
  /** A timer armed for `ms` fires `by` ms after it is due, as node's do on a busy event loop. */
  late: { ms: number; by: number } | null = null;
  now = (): number => this.t;
  after(ms: number, fn: () => void): () => void {
    const by = this.early?.ms === ms ? this.early.by : 0;
    const late = this.late?.ms === ms ? this.late.by : 0;
    const timer = { at: this.t + Math.max(0, ms - by) + late, fn, live: true };
    this.timers.push(timer);
    return () => (timer.live = false);
  }
  /** The pending timers as delays from now, soonest first. */
  pending(): number[] {
    return this.timers
      .filter((x) => x.live)
      .map((x) => x.at - this.t)
      .sort((a, b) => a - b);
  }
  advance(ms: number): void {
    const until = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.t = due.at;
      due.live = false;
      due.fn();
    }
    this.t = until;
  }
}

let sim: Simulator;
let rt: Runtime | null = null;
let clock: SimScheduler;
let ledger: Awaited<ReturnType<typeof openLedger>>;
beforeAll(async () => {
  sim = await startSimulator({ profile: { defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 5 } } });
});
afterAll(() => sim.close());
afterEach(async () => {
  probe.atDispatch = null;
  sim.clearFaults();
  sim.resetLog();
  await rt?.close();
  rt = null;
});

async function runtime(
  resilience: Record<string, unknown> = {},
  endpoint: Record<string, unknown> = {},
  models: Record<string, Record<string, unknown>> = {},
  ledgerUrl = 'memory',
  actorsOnScheduler = false,
  budget: Record<string, unknown> | undefined = undefined,
  extra: Record<string, unknown> = {},
): Promise<Runtime> {
  const model = (up: string) => ({
    tier: 'balanced',
    price: { inputPerMTok: 1, outputPerMTok: 1 },
    contextWindow: 100_000,
    endpoints: [{ provider: 'p', upstreamModel: up, ...endpoint }],
  });
  const cfg = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: `${sim.url}/openai/v1` } },
    models: {
      a: { ...model('up-a'), fallbacks: ['b'], ...models['a'] },
      b: { ...model('up-b'), ...models['b'] },
      ...Object.fromEntries(Object.entries(models).filter(([k]) => k !== 'a' && k !== 'b')),
    },
    resilience: { requestTimeoutMs: 30_000, maxRetryAfterMs: 10_000, retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 800 }, ...resilience },
    ...(budget ? { budget } : {}),
    ...extra,
  });
  clock = new SimScheduler();
  ledger = await openLedger(ledgerUrl);
  rt = new Runtime({ cfg, ledger, log: pino({ level: 'silent' }), scheduler: clock, rng: () => 0, actorsOnScheduler });
  await rt.restoreBudgets();
  return rt;
}

let n = 0;
function start(
  r: Runtime,
  body: Record<string, unknown> = {},
  keyId: string | null = null,
  hints: Partial<ChatCall['hints']> = {},
): { sink: TestSink; done: Promise<void> } {
  const sink = new TestSink();
  const call: ChatCall = {
    requestId: `req-${++n}`,
    body: { model: 'a', messages: [{ role: 'user', content: 'hello there' }], ...body } as ChatCall['body'],
    hints: { task: null, tier: null, maxLatencyMs: null, maxCostUsd: null, timeoutMs: null, ...hints },
    keyId,
    receivedAt: clock.now(),
    log: pino({ level: 'silent' }),
  };
  return { sink, done: r.chat(call, sink) };
}

/** Lets real I/O run until the request waits on a timer of `ms` besides the deadline (bounded by a generous real-time limit). */
async function waitsFor(ms: number): Promise<void> {
  const t0 = Date.now();
  while (!clock.pending().includes(ms)) {
    if (Date.now() - t0 > 10_000) throw new Error(`no ${ms} ms timer; pending: ${clock.pending().join(', ')}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
const upstreamCalls = (model: string) => sim.log().filter((e) => e.model === model).length;
/** Lets real I/O run until upstream `model` has had `n` calls (bounded by a generous real-time limit). */
async function untilCalls(model: string, n: number): Promise<void> {
  const t0 = Date.now();
  while (upstreamCalls(model) < n && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 2));
}
/** Status, the model and attempt count it names, and the calls each upstream model saw. */
const served = (sink: TestSink) => [
  sink.status,
  sink.headers['x-switchyard-model'],
  sink.headers['x-switchyard-attempts'],
  upstreamCalls('up-a'),
  upstreamCalls('up-b'),
];

describe('request driver on a simulated clock', () => {
  it('a 429 with retry-after 5 s (streaming): the same endpoint is asked again exactly then, not before', async () => {
    const r = await runtime();
    sim.setFault('up-a', { kind: 'rate_limit', retryAfterSec: 5, times: 1 });
    const { sink, done } = start(r, { stream: true });
    await waitsFor(5000);
    clock.advance(4999);
    expect(upstreamCalls('up-a')).toBe(1);
    clock.advance(1);
    await done;
    expect(upstreamCalls('up-a')).toBe(2);
    expect(sink.status).toBe(200);
    expect(sink.headers['x-switchyard-attempts']).toBe('2');
    expect(sink.headers['x-switchyard-endpoint']).toBe('a@p');
  });

  it('a retry-after timer that fires early (node times timers on its own clock): the retry still waits for the throttle to end and asks the same endpoint', async () => {
    const r = await runtime();
    sim.setFault('up-a', { kind: 'rate_limit', retryAfterSec: 5, times: 1 });
    clock.early = { ms: 5000, by: 3 };
    const { sink, done } = start(r);
    await waitsFor(4997);
    clock.advance(4997);
    // Still throttled until 5 s: the driver sleeps for what is left instead of failing over.
    await waitsFor(3);
    expect([upstreamCalls('up-a'), upstreamCalls('up-b')]).toEqual([1, 0]);
    clock.advance(3);
    await done;
    expect(served(sink)).toEqual([200, 'a', '2', 2, 0]);
  });

  it('a 429 with a short retry-after every time: maxAttempts on the endpoint, each exactly that far apart, then fail-over', async () => {
    const r = await runtime();
    sim.setFault('up-a', { kind: 'rate_limit', retryAfterSec: 1 });
    const { sink, done } = start(r);
    for (let i = 1; i < 3; i++) {
      await waitsFor(1000);
      clock.advance(999);
      expect(upstreamCalls('up-a')).toBe(i);
      clock.advance(1);
    }
    await done;
    expect(served(sink)).toEqual([200, 'b', '4', 3, 1]);
  });

  it('a 503 with a short retry-after: the quick retry waits for it (2 s), not just the backoff (100 ms)', async () => {
    const r = await runtime();
    sim.setFault('up-a', { kind: 'http_error', status: 503, retryAfterSec: 2, times: 1 });
    const { sink, done } = start(r);
    await waitsFor(2000);
    clock.advance(1999);
    expect(upstreamCalls('up-a')).toBe(1);
    clock.advance(1);
    await done;
    expect([sink.status, sink.headers['x-switchyard-attempts'], upstreamCalls('up-a')]).toEqual([200, '2', 2]);
  });

  it("a stream's time to first token is the client's wait from its arrival: a 503's 2 s before the retry's first content counts (ledger ttft_ms; it was the last attempt's alone)", async () => {
    const r = await runtime();
    sim.setFault('up-a', { kind: 'http_error', status: 503, retryAfterSec: 2, times: 1 });
    const { sink, done } = start(r, { stream: true, max_tokens: 20 });
    await waitsFor(2000);
    clock.advance(2000);
    await done;
    expect([sink.status, upstreamCalls('up-a')]).toEqual([200, 2]);
    const [row] = await ledger.rows({ requestId: `req-${n}` });
    expect(row?.ttftMs).toBeGreaterThanOrEqual(2000);
    expect(row!.ttftMs!).toBeLessThanOrEqual(row!.latencyMs);
  });

  it("a shared store's closed gate reserved nothing: the request picks again and is sent only on a real grant, even though the endpoint looks open", async () => {
    const r = await runtime();
    const budget = r.budget;
    const answers: string[] = [];
    let first = true;
    // As a shared store answers when Redis said "wait" (or undid a grant): nothing reserved, no window slot.
    (r as { budget: BudgetStore }).budget = {
      ...budget,
      lines: () => budget.lines(),
      settle: (...a: Parameters<BudgetStore['settle']>) => budget.settle(...a),
      release: (...a: Parameters<BudgetStore['release']>) => budget.release(...a),
      reserve: (...a: Parameters<BudgetStore['reserve']>) => {
        if (first) {
          first = false;
          answers.push('closed');
          return { ok: true, budgets: [], closed: true };
        }
        answers.push('granted');
        return budget.reserve(...a);
      },
    };
    const { sink, done } = start(r);
    await done;
    expect([sink.status, answers, upstreamCalls('up-a')]).toEqual([200, ['closed', 'granted'], 1]);
  });

  it('a 500 once: one quick retry after the jittered backoff (half of base with rng 0)', async () => {
    const r = await runtime();
    sim.setFault('up-a', { kind: 'http_error', status: 500, times: 1 });
    const { sink, done } = start(r, { stream: true });
    await waitsFor(100);
    expect(upstreamCalls('up-a')).toBe(1);
    clock.advance(100);
    await done;
    expect([sink.status, sink.headers['x-switchyard-attempts'], upstreamCalls('up-a')]).toEqual([200, '2', 2]);
    expect(sink.body).toContain('[DONE]');
  });

  it('a long retry-after: immediate fail-over to the fallback, no timer but the deadline', async () => {
    const r = await runtime({ maxRetryAfterMs: 1000 });
    sim.setFault('up-a', { kind: 'rate_limit', retryAfterSec: 30 });
    const { sink, done } = start(r);
    await done;
    expect([sink.status, sink.headers['x-switchyard-model'], upstreamCalls('up-a'), upstreamCalls('up-b')]).toEqual([200, 'b', 1, 1]);
  });

  it("a 503 while the one model fast enough is throttled: its retry-after is the throttle's end, not 1 s from the model the latency wish passes over", async () => {
    const r = await runtime({ maxRetryAfterMs: 1000 }, {}, { b: { latencyPriorMs: 5000 } });
    sim.setFault('up-a', { kind: 'rate_limit', retryAfterSec: 30, times: 1 });
    const { sink, done } = start(r, {}, null, { maxLatencyMs: 1000, timeoutMs: 1500 });
    await done;
    expect([sink.status, sink.error?.code, upstreamCalls('up-b')]).toEqual([503, 'no_endpoint_available', 0]);
    expect(Number(sink.error?.headers['retry-after'])).toBeGreaterThanOrEqual(29);
  });

  it('a long retry-after on the only candidate: the request waits for the throttle to end (as a new request would), then asks it again', async () => {
    const r = await runtime({ maxRetryAfterMs: 1000, requestTimeoutMs: 30_000 });
    sim.setFault('up-b', { kind: 'rate_limit', retryAfterSec: 5, times: 1 });
    const { sink, done } = start(r, { model: 'b' });
    await waitsFor(5000);
    expect(r.queue.depth).toBe(1);
    clock.advance(4999);
    expect([sink.status, upstreamCalls('up-b')]).toEqual([null, 1]);
    clock.advance(1);
    await done;
    expect([sink.status, sink.headers['x-switchyard-model'], sink.headers['x-switchyard-attempts'], upstreamCalls('up-b')]).toEqual([200, 'b', '2', 2]);
  });

  it("after a 429's throttle ends one request probes first: its second 429 keeps the other waiters from being sent, its answer lets them all go", async () => {
    const r = await runtime({ maxRetryAfterMs: 1000, requestTimeoutMs: 60_000 });
    sim.setFault('up-b', { kind: 'rate_limit', retryAfterSec: 5, times: 2 });
    const all = [start(r, { model: 'b' })];
    await waitsFor(5000);
    all.push(start(r, { model: 'b' }), start(r, { model: 'b' }), start(r, { model: 'b' }));
    const t0 = Date.now();
    while (r.queue.depth < 4 && Date.now() - t0 < 10_000) await new Promise((res) => setTimeout(res, 2));
    expect(r.queue.depth).toBe(4);
    clock.advance(5000);
    // The probe (the first in line) got its second 429: nobody else was sent, all wait again.
    await waitsFor(5000);
    while (r.queue.depth < 4 && Date.now() - t0 < 10_000) await new Promise((res) => setTimeout(res, 2));
    expect([upstreamCalls('up-b'), r.queue.depth]).toEqual([2, 4]);
    clock.advance(5000);
    await Promise.all(all.map((x) => x.done));
    expect(all.map((x) => x.sink.status)).toEqual([200, 200, 200, 200]);
    expect(upstreamCalls('up-b')).toBe(6);
  });

  it('a probe after a 429 that hangs until the deadline: the requests that waited for it are answered 503, not sent with no time left (and billed)', async () => {
    const r = await runtime({ maxRetryAfterMs: 1000, requestTimeoutMs: 10_000 });
    sim.setFault('up-b', { kind: 'rate_limit', retryAfterSec: 5, times: 1 });
    const probe = start(r, { model: 'b' });
    await waitsFor(5000);
    sim.setFault('up-b', { kind: 'hang', times: 1 });
    clock.advance(500);
    const waiters = [start(r, { model: 'b' }), start(r, { model: 'b' })];
    const t0 = Date.now();
    while (r.queue.depth < 3 && Date.now() - t0 < 10_000) await new Promise((res) => setTimeout(res, 2));
    clock.advance(4500);
    while (upstreamCalls('up-b') < 2 && Date.now() - t0 < 10_000) await new Promise((res) => setTimeout(res, 2));
    // The probe hangs until its deadline (10 s): the waiters, woken then, have 500 ms of their 10 s left (room: 1 s).
    clock.advance(5000);
    await Promise.all([probe.done, ...waiters.map((w) => w.done)]);
    expect([probe.sink.status, ...waiters.map((w) => w.sink.status)]).toEqual([504, 503, 503]);
    expect(upstreamCalls('up-b')).toBe(2);
  });

  /** A request for `a` whose ledger rows commit 5 s later on the simulated clock (behind another process's write lock): its answer and the latencies its metrics were told. */
  async function behindLockedLedger(r: Runtime): Promise<{ sink: TestSink; seen: number[] }> {
    const seen: number[] = [];
    (r as unknown as { onRequest: (x: { latencyMs: number }) => void }).onRequest = (x) => seen.push(x.latencyMs);
    const insert = ledger.insert.bind(ledger);
    ledger.insert = (row) => new Promise((res, rej) => void clock.after(5000, () => insert(row).then(res, rej)));
    const req = start(r, { model: 'a' });
    await waitsFor(5000);
    clock.advance(5000);
    await req.done;
    return { sink: req.sink, seen };
  }

  it("the request's latency in its metric and log line counts its wait for the ledger row (a locked file: it said 0 while the client waited 5 s)", async () => {
    const { sink, seen } = await behindLockedLedger(await runtime());
    expect(sink.status).toBe(200);
    expect(seen).toEqual([5000]);
    const row = (await ledger.rows({ limit: 1 }))[0];
    expect(row?.latencyMs).toBe(0);
  });

  it("a cascaded request's latency in its metric counts its wait for the ledger rows too (it said the last step's end)", async () => {
    // a (with b behind it) is a chain the cascade climbs: one step, served by a.
    const { sink, seen } = await behindLockedLedger(await runtime({}, {}, {}, 'memory', false, undefined, { routing: { cascade: { enabled: true } } }));
    expect(sink.status).toBe(200);
    expect(sink.headers['x-switchyard-cascade']).toBe('a:pass');
    expect(seen).toEqual([5000]);
  });

  it('a cascaded request whose deadline has passed when the cascade starts gets its 504 and its row (no step ran: it was answered nothing, its connection left open)', async () => {
    const r = await runtime({}, {}, {}, 'memory', false, undefined, { routing: { cascade: { enabled: true } } });
    const sink = new TestSink();
    const call: ChatCall = {
      requestId: `req-${++n}`,
      body: { model: 'a', messages: [{ role: 'user', content: 'hello there' }] } as ChatCall['body'],
      hints: { task: null, tier: null, maxLatencyMs: null, maxCostUsd: null, timeoutMs: 2 },
      keyId: null,
      // Arrived 3 ms ago with a 2 ms timeout: past its deadline before the cascade's first step.
      receivedAt: clock.now() - 3,
      log: pino({ level: 'silent' }),
    };
    const done = r.chat(call, sink);
    // The deadline's timer, due now (node runs it at once; the simulated clock when told).
    await waitsFor(0);
    clock.advance(0);
    await done;
    expect([sink.status, sink.error?.code]).toEqual([504, 'timeout']);
    expect([upstreamCalls('up-a'), upstreamCalls('up-b')]).toEqual([0, 0]);
    const [row] = await ledger.rows({ requestId: `req-${n}` });
    expect([row?.status, row?.costNano]).toEqual([504, 0]);
  });

  it('a cost cap refusal while the other candidate is circuit-open and over the cap too is a 429 naming the nearest, not a 503 to retry (it was 503 no_endpoint_available, retry-after)', async () => {
    // a's worst case at 1,000 output tokens: ~$0.002; b (a's fallback) costs a tenth: ~$0.0002. The cap, $0.0001, fits neither.
    const r = await runtime(
      { failureThreshold: 1, recoveryMs: 30_000, retry: { maxAttempts: 1 } },
      {},
      { b: { price: { inputPerMTok: 0.1, outputPerMTok: 0.1 } } },
    );
    sim.setFault('up-b', { kind: 'http_error', status: 500, times: 1 });
    const opened = start(r, { model: 'b' });
    await opened.done;
    expect(r.state().endpoints.find((e) => e.id === 'b@p')?.state).toBe('circuit-open');
    const capped = start(r, { model: 'a', max_tokens: 1000 }, null, { maxCostUsd: 0.0001 });
    await capped.done;
    expect([capped.sink.status, capped.sink.error?.code, capped.sink.error?.headers['x-should-retry'], capped.sink.error?.headers['retry-after']]).toEqual([
      429,
      'budget_exceeded',
      'false',
      undefined,
    ]);
    // The nearest to fitting is b, the cheaper: named as a reached candidate would be.
    expect(capped.sink.error?.message).toMatch(/on b \(\$[0-9.]+\) exceeds/);
    expect(capped.sink.headers['x-switchyard-model']).toBe('b');
    expect(capped.sink.headers['x-switchyard-reason']).toMatch(/a, b over x-switchyard-max-cost-usd|b, a over x-switchyard-max-cost-usd/);
    // Under the cap b would fit once back: the 503 to retry stays.
    const roomy = start(r, { model: 'a', max_tokens: 1000 }, null, { maxCostUsd: 0.001 });
    await roomy.done;
    expect([roomy.sink.status, roomy.sink.error?.code]).toEqual([503, 'no_endpoint_available']);
    expect(roomy.sink.error?.message).toContain('b circuit-open; the rest was refused for money');
  });

  it("a half-open probe's stream closes the circuit at its first content: a request waiting for the endpoint is served while the probe's stream is still open", async () => {
    // The circuit's recovery on the simulated clock too.
    const r = await runtime(
      // The stream's idle limit runs on real timers (the stream reader's): 3 s, not 20 s of this test's time.
      { failureThreshold: 1, recoveryMs: 1000, idleTimeoutMs: 3_000, requestTimeoutMs: 60_000, retry: { maxAttempts: 1 } },
      {},
      {},
      'memory',
      true,
    );
    sim.setFault('up-b', { kind: 'http_error', status: 500, times: 1 });
    const first = start(r, { model: 'b' });
    await first.done;
    expect([first.sink.status, r.state().endpoints.find((e) => e.id === 'b@p')?.state]).toEqual([502, 'circuit-open']);
    clock.advance(1000);
    // The probe's stream sends its first tokens, then stalls (on the simulated clock, until the idle limit).
    sim.setFault('up-b', { kind: 'stall', afterTokens: 2, times: 1 });
    const probe = start(r, { model: 'b', stream: true });
    const until = async (ok: () => boolean): Promise<void> => {
      const t0 = Date.now();
      while (!ok() && Date.now() - t0 < 5_000) await new Promise((res) => setTimeout(res, 2));
    };
    await until(() => probe.sink.body.includes('"content"'));
    expect(r.state().endpoints.find((e) => e.id === 'b@p')?.state).toBe('healthy');
    const waiter = start(r, { model: 'b' });
    await until(() => waiter.sink.status !== null);
    expect([waiter.sink.status, probe.sink.body.includes('[DONE]')]).toEqual([200, false]);
    // The stall ends the probe's stream at the idle limit: an ordinary request's failure, counted as one.
    clock.advance(20_000);
    await Promise.all([probe.done, waiter.done]);
    expect(upstreamCalls('up-b')).toBe(3);
  });

  it("a stream that began before UTC midnight and ends after it: its cost is the ended day's, as its ledger row is dated (it was charged to the new day's budget)", async () => {
    // The stream's idle limit runs on real timers (the stream reader's): 3 s, while the simulated clock is moved 20 s.
    const r = await runtime({ idleTimeoutMs: 3_000, requestTimeoutMs: 60_000 }, {}, {}, 'memory', false, {
      limits: [{ scope: 'global', period: 'day', usd: 10 }],
    });
    const midnight = Date.UTC(2025, 2, 15);
    clock.advance(midnight - 5_000 - clock.now());
    sim.setFault('up-b', { kind: 'stall', afterTokens: 2, times: 1 });
    const { sink, done } = start(r, { model: 'b', stream: true });
    const t0 = Date.now();
    while (!sink.body.includes('"content"') && Date.now() - t0 < 5_000) await new Promise((res) => setTimeout(res, 2));
    // The stall ends the stream at the idle limit, 15 s into the new day; what was delivered is billed.
    clock.advance(20_000);
    await done;
    const [row] = await ledger.rows({ requestId: `req-${n}` });
    expect(row!.costNano).toBeGreaterThan(0);
    expect(row!.at).toBeLessThan(midnight);
    expect(r.state().budgets[0]).toMatchObject({ spentUsd: 0, reservedUsd: 0, periodStart: new Date(midnight).toISOString() });
  });

  it("a client key refused by a budget it shares with the other keys is not shown that budget's spend (it was: the other tenants' spend); without keys it is", async () => {
    const r = await runtime({}, {}, {}, 'memory', false, {
      limits: [{ scope: 'global', period: 'day', usd: 0.000001 }],
    });
    const keyed = start(r, { model: 'b' }, 'k1');
    await keyed.done;
    expect(keyed.sink.status).toBe(429);
    expect(keyed.sink.error?.message).toMatch(/^budget global:day would be exceeded: limit \$0\.000001, this request needs up to .*not shown to a client/);
    expect(keyed.sink.error?.message).not.toContain('spent');
    const open = start(r, { model: 'b' });
    await open.done;
    expect(open.sink.error?.message).toMatch(/^budget global:day would be exceeded: limit \$0\.000001, spent \$0\.000000, reserved/);
  });

  it.each([503, 529] as const)(
    'a %s with a long retry-after on the only candidate: the request waits for the endpoint to be asked again, as for a 429 (it was a 502 at once)',
    async (status) => {
      const r = await runtime({ maxRetryAfterMs: 1000, requestTimeoutMs: 30_000 });
      sim.setFault('up-b', { kind: 'http_error', status, retryAfterSec: 5, times: 1 });
      const { sink, done } = start(r, { model: 'b' });
      await waitsFor(5000);
      clock.advance(4999);
      expect([sink.status, upstreamCalls('up-b')]).toEqual([null, 1]);
      clock.advance(1);
      await done;
      expect([sink.status, sink.headers['x-switchyard-model'], sink.headers['x-switchyard-attempts'], upstreamCalls('up-b')]).toEqual([200, 'b', '2', 2]);
    },
  );

  /** Model `a` on two endpoints, `up-a` (a@p) and `up-c` (a@c, idle): siblings of one model. */
  const twoEndpoints = {
    a: {
      endpoints: [
        { provider: 'p', upstreamModel: 'up-a' },
        { id: 'a@c', provider: 'p', upstreamModel: 'up-c' },
      ],
      latencyPriorMs: 100,
    },
  };

  it.each([
    ['a 429', { kind: 'rate_limit', retryAfterSec: 3, times: 1 }],
    ['a 503', { kind: 'http_error', status: 503, retryAfterSec: 3, times: 1 }],
  ] as const)(
    '%s with a short retry-after while an endpoint of the same model is idle: fail over to it at once (it waited 3 s for the throttled one)',
    async (_name, fault) => {
      const r = await runtime({}, {}, twoEndpoints);
      sim.setFault('up-a', fault);
      const { sink, done } = start(r);
      await done;
      expect([sink.status, sink.headers['x-switchyard-endpoint'], sink.headers['x-switchyard-attempts'], upstreamCalls('up-a'), upstreamCalls('up-c')]).toEqual(
        [200, 'a@c', '2', 1, 1],
      );
      expect(clock.now()).toBe(T0);
    },
  );

  /**
   * Model `a` alone (no fallback) on a@p and a@c, a@c measured at 745 ms once (at T0), a@p's next
   * answer a 500 that opens its circuit (failureThreshold 1) for `recoveryMs`.
   */
  async function slowSibling(recoveryMs: number): Promise<Runtime> {
    const r = await runtime({ failureThreshold: 1, recoveryMs }, {}, { a: { ...twoEndpoints.a, fallbacks: [] } });
    const slow = r.byModel.get('a')!.find((h) => h.id === 'a@c')!;
    slow.actor.send({ type: 'request.dispatched', at: clock.now(), estTokens: 10 });
    slow.actor.send({ type: 'upstream.succeeded', at: clock.now(), latencyMs: 745, ttftMs: null, tokens: 5, estTokens: 10 });
    sim.setFault('up-a', { kind: 'http_error', status: 500, times: 1 });
    return r;
  }

  it('an endpoint passed over for one slow answer is asked again once time has forgiven its peak (it was never asked again: 0 of 40 after 40 s)', async () => {
    const r = await runtime({}, {}, { a: { ...twoEndpoints.a, fallbacks: [] } });
    const measure = (id: string, latencyMs: number) => {
      const h = r.byModel.get('a')!.find((x) => x.id === id)!;
      h.actor.send({ type: 'request.dispatched', at: clock.now(), estTokens: 10 });
      h.actor.send({ type: 'upstream.succeeded', at: clock.now(), latencyMs, ttftMs: null, tokens: 5, estTokens: 10 });
    };
    measure('a@p', 72);
    measure('a@c', 212);
    measure('a@p', 672);
    const served = async () => {
      const x = start(r);
      await x.done;
      return x.sink.headers['x-switchyard-endpoint'];
    };
    expect(await served()).toBe('a@c');
    // Two half-lives later a@p's 672 counts as 168, under a@c's figure (which its own answer just renewed).
    clock.advance(2 * LATENCY_HALF_LIFE_MS);
    measure('a@c', 212);
    expect(await served()).toBe('a@p');
  });

  it("a latency wish's endpoint measured slow over LATENCY_STALE_MS ago is asked again while the fast one is down, and measured afresh (a slow spell long over kept it out of the wish: 502 and 503 while it was idle)", async () => {
    const r = await slowSibling(600_000);
    const wish = { maxLatencyMs: 400 };
    // Within the stale time its figure counts: a@p's failure opens its circuit and nothing within the wish is left.
    const early = start(r, {}, null, wish);
    await early.done;
    expect([early.sink.status, upstreamCalls('up-c')]).toEqual([502, 0]);
    clock.advance(LATENCY_STALE_MS + 1);
    const later = start(r, {}, null, wish);
    await later.done;
    expect([later.sink.status, later.sink.headers['x-switchyard-endpoint'], upstreamCalls('up-c')]).toEqual([200, 'a@c', 1]);
    // Measured afresh (0 ms on this clock), not averaged into the old 745.
    expect(r.state().endpoints.find((e) => e.id === 'a@c')?.latency.peakEwma).toBe(0);
  });

  it("the 503 of a latency wish whose one fast endpoint is circuit-open names it and the endpoints over the wish, with that circuit's retry-after (it said 'every candidate endpoint is busy, circuit-open or throttled', retry-after 1)", async () => {
    const r = await slowSibling(8_000);
    const first = start(r, {}, null, { maxLatencyMs: 400 });
    await first.done;
    expect(first.sink.status).toBe(502);
    const next = start(r, {}, null, { maxLatencyMs: 400 });
    await next.done;
    expect([next.sink.status, next.sink.error?.code, next.sink.error?.headers['retry-after']]).toEqual([503, 'no_endpoint_available', '8']);
    expect(next.sink.error?.message).toContain('a circuit-open (1 more endpoint over x-switchyard-max-latency-ms)');
    expect(upstreamCalls('up-c')).toBe(0);
  });

  it('two siblings answering 503s with a short retry-after: the fallback model is asked before the attempts run out (they took turns until maxTotalAttempts and the fallback was never asked)', async () => {
    const r = await runtime({ retry: { maxAttempts: 3, maxTotalAttempts: 6, baseDelayMs: 200, maxDelayMs: 800 } }, {}, twoEndpoints);
    sim.setFault('up-a', { kind: 'http_error', status: 503, retryAfterSec: 1 });
    sim.setFault('up-c', { kind: 'http_error', status: 503, retryAfterSec: 1 });
    const { sink, done } = start(r);
    await runToEnd(done);
    expect([sink.status, sink.headers['x-switchyard-model'], upstreamCalls('up-b')]).toEqual([200, 'b', 1]);
    expect(upstreamCalls('up-a') + upstreamCalls('up-c')).toBeLessThanOrEqual(3);
  });

  it("a 502 whose failures opened every candidate's circuit says when one lets a request through again (it said the upstream's 3 s, or nothing, while the circuit held 8)", async () => {
    const r = await runtime({ failureThreshold: 1, recoveryMs: 8_000 });
    sim.setFault('up-b', { kind: 'http_error', status: 503, retryAfterSec: 3, times: 1 });
    const first = start(r, { model: 'b' });
    await first.done;
    expect([first.sink.status, first.sink.error?.code, first.sink.error?.headers['retry-after']]).toEqual([502, 'upstream_error', '8']);
    await r.close();
    // A 5xx that leaves the circuit closed keeps the upstream's own wait.
    const r2 = await runtime({ failureThreshold: 5, recoveryMs: 8_000, retry: { maxAttempts: 1 } });
    sim.setFault('up-b', { kind: 'http_error', status: 503, retryAfterSec: 3, times: 1 });
    const second = start(r2, { model: 'b' });
    await runToEnd(second.done);
    expect([second.sink.status, second.sink.error?.headers['retry-after']]).toEqual([502, '3']);
  });

  it('a 500 without retry-after keeps its quick retry on the same endpoint beside an idle sibling (a transient fault, a backoff of 100 ms)', async () => {
    const r = await runtime({}, {}, twoEndpoints);
    sim.setFault('up-a', { kind: 'http_error', status: 500, times: 1 });
    const { sink, done } = start(r);
    await waitsFor(100);
    clock.advance(100);
    await done;
    expect([sink.status, sink.headers['x-switchyard-endpoint'], upstreamCalls('up-a'), upstreamCalls('up-c')]).toEqual([200, 'a@p', 2, 0]);
  });

  it("a failure that opens the endpoint's circuit is not retried there: fail over at once (it waited out the 503's retry-after, found the circuit open, then failed over)", async () => {
    const r = await runtime({ failureThreshold: 1, recoveryMs: 30_000 });
    sim.setFault('up-a', { kind: 'http_error', status: 503, retryAfterSec: 3, times: 1 });
    const { sink, done } = start(r);
    await done;
    expect(served(sink)).toEqual([200, 'b', '2', 1, 1]);
    expect(clock.now()).toBe(T0);
    expect(r.state().endpoints.find((e) => e.id === 'a@p')?.state).toBe('circuit-open');
  });

  it('a 503 whose retry-after ends after the deadline on the only candidate: the 502 at once, with that retry-after', async () => {
    const r = await runtime({ maxRetryAfterMs: 1000, requestTimeoutMs: 30_000 });
    sim.setFault('up-b', { kind: 'http_error', status: 503, retryAfterSec: 40 });
    const { sink, done } = start(r, { model: 'b' });
    await done;
    expect([sink.status, sink.error?.code, sink.error?.headers['retry-after'], upstreamCalls('up-b')]).toEqual([502, 'upstream_error', '40', 1]);
  });

  it('a long retry-after: after the fallback failed too, the throttled primary is waited for within the deadline', async () => {
    const r = await runtime({ maxRetryAfterMs: 1000, requestTimeoutMs: 30_000 });
    sim.setFault('up-a', { kind: 'rate_limit', retryAfterSec: 5, times: 1 });
    sim.setFault('up-b', { kind: 'http_error', status: 500 });
    const { sink, done } = start(r);
    // b's 500: one quick retry after the backoff (100 ms with rng 0), a 500 again; then the rest of a's 5 s.
    await waitsFor(100);
    clock.advance(100);
    await waitsFor(4900);
    expect([sink.status, upstreamCalls('up-a'), upstreamCalls('up-b')]).toEqual([null, 1, 2]);
    clock.advance(4900);
    await done;
    expect(served(sink)).toEqual([200, 'a', '4', 2, 2]);
  });

  it('a retry-after that ends after the deadline on the only candidate: 503 no_endpoint_available at once', async () => {
    const r = await runtime({ maxRetryAfterMs: 1000, requestTimeoutMs: 30_000 });
    sim.setFault('up-b', { kind: 'rate_limit', retryAfterSec: 40 });
    const { sink, done } = start(r, { model: 'b' });
    await done;
    expect([sink.status, sink.error?.code, sink.error?.headers['retry-after'], upstreamCalls('up-b')]).toEqual([503, 'no_endpoint_available', '40', 1]);
  });

  it('a long retry-after every time on the only candidate: retry.maxAttempts on it, then 503, never more', async () => {
    const r = await runtime({ maxRetryAfterMs: 1000, requestTimeoutMs: 60_000 });
    sim.setFault('up-b', { kind: 'rate_limit', retryAfterSec: 5 });
    const { sink, done } = start(r, { model: 'b' });
    for (let i = 0; i < 2; i++) {
      await waitsFor(5000);
      clock.advance(5000);
    }
    await done;
    expect([sink.status, sink.error?.code, upstreamCalls('up-b')]).toEqual([503, 'no_endpoint_available', 3]);
  });

  it('a hung upstream: the deadline on the simulated clock ends it with 504, the attempt aborted', async () => {
    const r = await runtime({ requestTimeoutMs: 20_000, headersTimeoutMs: 600_000 });
    sim.setFault('*', { kind: 'hang' });
    const { sink, done } = start(r);
    await untilCalls('up-a', 1);
    clock.advance(19_999);
    expect(sink.status).toBeNull();
    clock.advance(1);
    await done;
    expect([sink.status, sink.error?.code]).toEqual([504, 'timeout']);
  });

  it('a request cut by the shutdown (second signal, grace over) before anything was sent: 503 shutting_down with retry-after, as the contract says', async () => {
    const r = await runtime({ requestTimeoutMs: 20_000, headersTimeoutMs: 600_000 });
    sim.setFault('*', { kind: 'hang' });
    const { sink, done } = start(r);
    await untilCalls('up-a', 1);
    r.cutInFlight();
    await done;
    expect([sink.status, sink.error?.code]).toEqual([503, 'shutting_down']);
    expect({ ...sink.error?.headers, ...sink.headers }).toMatchObject({ 'retry-after': '1' });
  });

  it('capacity: with rpm 1 a second request waits in the queue until the window frees, then is served', async () => {
    const r = await runtime({ requestTimeoutMs: 120_000 }, { rpm: 1 });
    const first = start(r, { model: 'b' });
    await first.done;
    const second = start(r, { model: 'b' });
    await waitsFor(60_000);
    expect(r.queue.depth).toBe(1);
    clock.advance(59_999);
    expect(upstreamCalls('up-b')).toBe(1);
    clock.advance(1);
    await second.done;
    expect([second.sink.status, upstreamCalls('up-b'), r.queue.depth]).toEqual([200, 2, 0]);
  });

  it('a quick retry on the same endpoint is not taken when it would leave a candidate endpoint untried within retry.maxTotalAttempts: the fallback answers (it was a 502 with the fallback never asked)', async () => {
    const r = await runtime({ retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 800, maxTotalAttempts: 2 } });
    sim.setFault('up-a', { kind: 'http_error', status: 500 });
    const { sink, done } = start(r);
    // A quick retry's backoff (100 ms here) would be a timer besides the deadline: let it run out.
    const t0 = Date.now();
    while (sink.status === null && Date.now() - t0 < 10_000) {
      if (clock.pending().includes(100)) clock.advance(100);
      await new Promise((res) => setTimeout(res, 2));
    }
    await done;
    expect(served(sink)).toEqual([200, 'b', '2', 1, 1]);
  });

  it('a candidate the cost cap would refuse is not one the quick retry leaves room for: the retry is still taken', async () => {
    const r = await runtime(
      { retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 800, maxTotalAttempts: 2 } },
      {},
      { b: { price: { inputPerMTok: 100, outputPerMTok: 100 } } },
    );
    sim.setFault('up-a', { kind: 'http_error', status: 500 });
    const { sink, done } = start(r, { max_tokens: 5 }, null, { maxCostUsd: 0.0001 });
    const t0 = Date.now();
    while (sink.status === null && Date.now() - t0 < 10_000) {
      if (clock.pending().includes(100)) clock.advance(100);
      await new Promise((res) => setTimeout(res, 2));
    }
    await done;
    expect([sink.status, upstreamCalls('up-a'), upstreamCalls('up-b')]).toEqual([502, 2, 0]);
  });

  it('with attempts to spare, the quick retry on the same endpoint still comes first (then the fail-over)', async () => {
    const r = await runtime({ retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 800, maxTotalAttempts: 3 } });
    sim.setFault('up-a', { kind: 'http_error', status: 500 });
    const { sink, done } = start(r);
    await waitsFor(100);
    clock.advance(100);
    await done;
    expect(served(sink)).toEqual([200, 'b', '3', 2, 1]);
  });

  it('a hung endpoint whose requests all end at their own deadline (shorter than headersTimeoutMs) counts those time-outs: its circuit opens and the fallback serves (it stayed healthy and every request went there, 504)', async () => {
    // The fallback usually takes 5 s: a 2 s deadline leaves it no room, so the attempt on a is not cut short for it (see the next test).
    const r = await runtime({ failureThreshold: 2, requestTimeoutMs: 30_000, headersTimeoutMs: 600_000 }, {}, { b: { latencyPriorMs: 5000 } });
    sim.setFault('up-a', { kind: 'hang' });
    const cut = async (): Promise<TestSink> => {
      const before = upstreamCalls('up-a');
      const x = start(r, { max_tokens: 5 }, null, { timeoutMs: 2000 });
      await untilCalls('up-a', before + 1);
      clock.advance(2000);
      await x.done;
      return x.sink;
    };
    const first = await cut();
    // The endpoint's prior is 500 ms: 2 s with no answer is a time-out of the endpoint's, not a short client deadline.
    expect([first.status, first.error?.code, r.state().endpoints.find((e) => e.id === 'a@p')?.consecutiveFailures]).toEqual([504, 'timeout', 1]);
    await cut();
    expect(r.state().endpoints.find((e) => e.id === 'a@p')?.state).toBe('circuit-open');
    const next = start(r, { max_tokens: 5 }, null, { timeoutMs: 2000 });
    await next.done;
    expect(served(next.sink)).toEqual([200, 'b', '1', 2, 1]);
  });

  /** A hung first endpoint under `hints`: the attempt is cut at 4000 - 2 x 500 ms (both priors 500 ms) and the fallback answers. */
  async function cutForFallback(stream: boolean, hints: Record<string, number>) {
    const r = await runtime({ requestTimeoutMs: 30_000, headersTimeoutMs: 600_000, firstTokenTimeoutMs: 600_000 });
    sim.setFault('up-a', { kind: 'hang' });
    const { sink, done } = start(r, { max_tokens: 5, stream }, null, hints);
    await waitsFor(3000);
    while (upstreamCalls('up-a') === 0) await new Promise((res) => setTimeout(res, 2));
    clock.advance(2999);
    expect([sink.status, upstreamCalls('up-b')]).toEqual([null, 0]);
    clock.advance(1);
    await done;
    expect(served(sink)).toEqual([200, 'b', '2', 1, 1]);
    return r;
  }

  for (const stream of [false, true])
    it(`a deadline shorter than the attempt's limit, a fallback left (${stream ? 'stream' : 'JSON'}): the hung attempt is cut once only twice the fallback's usual time is left, and the fallback answers in time (it was a 504 at the deadline)`, async () => {
      const r = await cutForFallback(stream, { timeoutMs: 4000 });
      const e = r.state().endpoints.find((ep) => ep.id === 'a@p');
      // 3 s is six times its usual time: a time-out of the endpoint's, as at the deadline.
      expect(e?.consecutiveFailures).toBe(1);
    });

  for (const stream of [false, true])
    it(`the SDK's own timeout (x-stainless-timeout) is planned in as a deadline is (${stream ? "a stream's first content" : 'a JSON answer'}): the hung attempt is cut once only twice the fallback's usual time is left of it, and the fallback answers before the SDK gives up (it waited for the attempt past the SDK's timeout, each of the SDK's tries)`, async () => {
      await cutForFallback(stream, { sdkTimeoutMs: 4000 });
    });

  it("the SDK's timeout is no deadline: with no other candidate the attempt keeps the request's own (a header truncated to whole seconds, 1.5 s sent as 1, would have cut a client still waiting)", async () => {
    const r = await runtime({ requestTimeoutMs: 30_000, headersTimeoutMs: 600_000 });
    sim.setFault('up-b', { kind: 'hang', times: 1 });
    const { sink, done } = start(r, { model: 'b', max_tokens: 5 }, null, { sdkTimeoutMs: 1000 });
    while (upstreamCalls('up-b') === 0) await new Promise((res) => setTimeout(res, 2));
    expect(clock.pending()).toEqual([30_000]);
    clock.advance(30_000);
    await done;
    expect([sink.status, sink.error?.code]).toEqual([504, 'timeout']);
  });

  it("the cut waits for at least twice the attempt's own usual time: a 1.5 s deadline (1 s would be left at the cut's moment, 0.5 s in) keeps the attempt to the end, a 504", async () => {
    const r = await runtime({ requestTimeoutMs: 30_000, headersTimeoutMs: 600_000 });
    sim.setFault('up-a', { kind: 'hang' });
    const { sink, done } = start(r, { max_tokens: 5 }, null, { timeoutMs: 1500 });
    while (upstreamCalls('up-a') === 0) await new Promise((res) => setTimeout(res, 2));
    expect(clock.pending()).toEqual([1500]);
    clock.advance(1500);
    await done;
    expect([sink.status, sink.error?.code, upstreamCalls('up-b')]).toEqual([504, 'timeout', 0]);
  });

  it("a client that gives up on a hung endpoint (its SDK's timeout) after twice the endpoint's latency with no answer counts a time-out against it; one that leaves sooner is read on until then, and counts then", async () => {
    const r = await runtime({ failureThreshold: 2, requestTimeoutMs: 30_000, headersTimeoutMs: 600_000 });
    sim.setFault('up-a', { kind: 'hang' });
    const leaveAfter = async (ms: number): Promise<TestSink> => {
      const before = upstreamCalls('up-a');
      const x = start(r, { max_tokens: 5 });
      await untilCalls('up-a', before + 1);
      clock.advance(ms);
      x.sink.gone();
      // The prior is 500 ms: a client that left sooner than twice it leaves its attempt read on until then.
      if (ms < 1000) {
        expect(clock.pending()).toContain(1000 - ms);
        clock.advance(1000 - ms);
      }
      await x.done;
      return x.sink;
    };
    const failures = () => r.state().endpoints.find((e) => e.id === 'a@p')?.consecutiveFailures;
    await leaveAfter(400);
    expect(failures()).toBe(1);
    await leaveAfter(2000);
    expect(r.state().endpoints.find((e) => e.id === 'a@p')?.state).toBe('circuit-open');
    const next = start(r, { max_tokens: 5 });
    await next.done;
    expect(next.sink.status).toBe(200);
    expect(next.sink.headers['x-switchyard-model']).toBe('b');
  });

  it('a deadline shorter than what the endpoint usually takes does not count against it (the client asked for less time than it needs)', async () => {
    const r = await runtime({ failureThreshold: 1, requestTimeoutMs: 30_000, headersTimeoutMs: 600_000 }, {}, { a: { latencyPriorMs: 5000 } });
    sim.setFault('up-a', { kind: 'hang' });
    const x = start(r, { max_tokens: 5 }, null, { timeoutMs: 2000 });
    await untilCalls('up-a', 1);
    clock.advance(2000);
    await x.done;
    const e = r.state().endpoints.find((ep) => ep.id === 'a@p');
    expect([x.sink.status, e?.state, e?.consecutiveFailures]).toEqual([504, 'healthy', 0]);
  });

  it("capacity, first come first served: a request that arrives as an rpm window frees, before the waiter's timer has fired, leaves the slot to the waiter (it took it, and the waiter waited a whole window more)", async () => {
    const r = await runtime({ requestTimeoutMs: 300_000 }, { rpm: 1 });
    const first = start(r, { model: 'b' });
    await first.done;
    expect(first.sink.status).toBe(200);
    // The window holds one request a minute: the next one waits for it, its timer firing 5 ms late.
    clock.late = { ms: 60_000, by: 5 };
    const waiter = start(r, { model: 'b' });
    await waitsFor(60_005);
    expect(r.queue.depth).toBe(1);
    clock.advance(60_000);
    const later = start(r, { model: 'b' });
    const t0 = Date.now();
    while (waiter.sink.status === null && later.sink.status === null && Date.now() - t0 < 10_000) await new Promise((res) => setTimeout(res, 2));
    await new Promise((res) => setTimeout(res, 20));
    expect([waiter.sink.status, later.sink.status, r.queue.depth]).toEqual([200, null, 1]);
    // It waits for the next window (its timer armed before `late` was reset: 5 ms late as well).
    clock.late = null;
    clock.advance(60_005);
    await later.done;
    expect([later.sink.status, upstreamCalls('up-b')]).toEqual([200, 3]);
    await waiter.done;
  });

  it('capacity: a request whose deadline passes while it waits for a busy endpoint (maxConcurrent) is a 503 no_endpoint_available naming why, not a 504 after 0 attempts', async () => {
    const r = await runtime({ requestTimeoutMs: 30_000, headersTimeoutMs: 600_000 }, { maxConcurrent: 1 });
    sim.setFault('up-b', { kind: 'hang', times: 1 });
    const busy = start(r, { model: 'b', max_tokens: 5 });
    await untilCalls('up-b', 1);
    const waiter = start(r, { model: 'b' }, null, { timeoutMs: 2000 });
    const t0 = Date.now();
    while (r.queue.depth === 0 && Date.now() - t0 < 10_000) await new Promise((res) => setTimeout(res, 2));
    clock.advance(1999);
    expect([waiter.sink.status, r.queue.depth]).toEqual([null, 1]);
    clock.advance(1);
    await waiter.done;
    expect([waiter.sink.status, waiter.sink.error?.code, waiter.sink.error?.headers['retry-after'], upstreamCalls('up-b')]).toEqual([
      503,
      'no_endpoint_available',
      '1',
      1,
    ]);
    expect(waiter.sink.error?.message).toContain('b max concurrent (1) reached');
    const [row] = await ledger.rows({ requestId: `req-${n}` });
    expect([row?.status, row?.errorCode, row?.costNano]).toEqual([503, 'no_endpoint_available', 0]);
    clock.advance(30_000);
    await busy.done;
  });

  it("capacity: a request whose deadline passes while it waits for a half-open endpoint's hung probe is a 503 no_endpoint_available, not a 504", async () => {
    const r = await runtime(
      { failureThreshold: 1, recoveryMs: 1000, requestTimeoutMs: 30_000, headersTimeoutMs: 600_000, retry: { maxAttempts: 1 } },
      {},
      {},
      'memory',
      true,
    );
    sim.setFault('up-b', { kind: 'http_error', status: 500, times: 1 });
    await start(r, { model: 'b' }).done;
    clock.advance(1000);
    expect(r.state().endpoints.find((e) => e.id === 'b@p')?.state).toBe('half-open');
    sim.setFault('up-b', { kind: 'hang', times: 1 });
    const probe = start(r, { model: 'b', max_tokens: 5 });
    await untilCalls('up-b', 2);
    const waiter = start(r, { model: 'b' }, null, { timeoutMs: 2000 });
    const t0 = Date.now();
    while (r.queue.depth === 0 && Date.now() - t0 < 10_000) await new Promise((res) => setTimeout(res, 2));
    clock.advance(2000);
    await waiter.done;
    expect([waiter.sink.status, waiter.sink.error?.code, upstreamCalls('up-b')]).toEqual([503, 'no_endpoint_available', 2]);
    expect(waiter.sink.error?.message).toContain('b half-open, probe in flight');
    clock.advance(30_000);
    await probe.done;
  });

  it('capacity: when the window frees only after the deadline, 503 at once instead of a 504 later', async () => {
    const r = await runtime({ requestTimeoutMs: 30_000 }, { rpm: 1 });
    await start(r, { model: 'b' }).done;
    const second = start(r, { model: 'b' });
    await second.done;
    expect([second.sink.status, second.sink.error?.code, second.sink.error?.headers['retry-after']]).toEqual([503, 'no_endpoint_available', '60']);
  });

  it('capacity: a tpm window with room left, too little for the request, answers retry-after for when it has room (a migrant round: it said 1 for a 5 s wait)', async () => {
    // The window frees after the deadline, so the 503 comes at once (it waited otherwise).
    const r = await runtime({ requestTimeoutMs: 1_000 }, { tpm: 150 });
    await start(r, { model: 'b', max_tokens: 100 }).done;
    const second = start(r, { model: 'b', max_tokens: 130 });
    await second.done;
    expect([second.sink.status, second.sink.error?.code]).toEqual([503, 'no_endpoint_available']);
    const m = /tpm window has (\d+) of 150 tokens free, this request needs ~(\d+)/.exec(second.sink.error?.message ?? '');
    expect(m).not.toBeNull();
    const [free, needs] = [Number(m![1]), Number(m![2])];
    // GCRA: the window refills at 150 tokens a minute, so what is missing comes back in (needs − free) / 150 min.
    const wait = Math.ceil(((needs - free) * 60) / 150);
    expect(wait).toBeGreaterThan(1);
    expect(Number(second.sink.error?.headers['retry-after'])).toBe(wait);
  });

  it('a JSON attempt its client leaves once it is overdue (twice its endpoint’s usual time) settles at what it was reserved for (estimated), not at $0', async () => {
    const r = await runtime();
    sim.setFault('up-a', { kind: 'hang' });
    const { sink, done } = start(r, { max_tokens: 50 });
    await untilCalls('up-a', 1);
    // latencyPriorMs (500) until measured: twice it passed, the endpoint stalled; the attempt is cut.
    clock.advance(1_000);
    sink.gone();
    await done;
    const [row] = await ledger.rows({ requestId: `req-${n}` });
    // Price 1 $/MTok in and out: 1,000 nano-USD a token; the provider may answer it whole (50 tokens) and bill it.
    expect([row?.status, row?.errorCode, row?.completionTokens, row?.estimated, upstreamCalls('up-b')]).toEqual([499, 'client_closed_request', 50, true, 0]);
    expect(row?.promptTokens).toBeGreaterThan(0);
    expect(row?.costNano).toBe((row!.promptTokens + 50) * 1000);
    // The budget's reservation is settled, not left held.
    expect(r.modelStats('a').inFlight).toBe(0);
  });

  it('a JSON attempt its client leaves before it is overdue is read to its end and billed what the provider reported, not its reservation; nothing else is tried', async () => {
    const r = await runtime();
    sim.setFault('up-a', { kind: 'slow_first_token', delayMs: 300 });
    const { sink, done } = start(r, { max_tokens: 5_000 });
    await untilCalls('up-a', 1);
    sink.gone();
    await done;
    const [row] = await ledger.rows({ requestId: `req-${n}` });
    expect([row?.status, row?.errorCode, row?.estimated, row?.model, upstreamCalls('up-b')]).toEqual([499, 'client_closed_request', false, 'a', 0]);
    // The counts the simulator reported (not estimated), far below the 5,000-token cap the attempt reserved.
    expect(row!.completionTokens).toBeGreaterThan(0);
    expect(row!.completionTokens).toBeLessThan(5_000);
    expect(row?.costNano).toBe((row!.promptTokens + row!.completionTokens) * 1000);
    expect([sink.status, r.modelStats('a').inFlight]).toEqual([null, 0]);
  });

  it('a JSON attempt its client left that then fails is not failed over (nobody waits for the answer) and settles as cut', async () => {
    // Real time (the transport's timer): the hang ends at the headers timeout.
    const r = await runtime({ headersTimeoutMs: 300 });
    sim.setFault('up-a', { kind: 'hang' });
    const { sink, done } = start(r, { max_tokens: 50 });
    await untilCalls('up-a', 1);
    sink.gone();
    await done;
    const [row] = await ledger.rows({ requestId: `req-${n}` });
    expect([row?.status, row?.errorCode, row?.attempts, upstreamCalls('up-b')]).toEqual([499, 'client_closed_request', 1, 0]);
    // Cut by switchyard's own limit while the provider may still write it: its reservation.
    expect([row?.estimated, row?.completionTokens]).toEqual([true, 50]);
    expect(r.modelStats('a').inFlight).toBe(0);
  });

  it('a JSON attempt the request deadline cuts once the upstream has it settles at its reservation (a client cannot spend unseen by setting a short deadline)', async () => {
    const r = await runtime({ requestTimeoutMs: 20_000, headersTimeoutMs: 600_000 });
    sim.setFault('up-a', { kind: 'hang' });
    const { sink, done } = start(r, { max_tokens: 50 });
    await untilCalls('up-a', 1);
    clock.advance(20_000);
    await done;
    expect([sink.status, sink.error?.code]).toEqual([504, 'timeout']);
    const [row] = await ledger.rows({ requestId: `req-${n}` });
    expect([row?.status, row?.completionTokens, row?.estimated]).toEqual([504, 50, true]);
    expect(row?.promptTokens).toBeGreaterThan(0);
    expect(row?.costNano).toBe((row!.promptTokens + 50) * 1000);
    // The error answer says what it cost, as the row does.
    expect(Number(sink.headers['x-switchyard-cost-usd'])).toBeCloseTo(row!.costNano / 1e9, 12);
  });

  it('a JSON attempt cut by the headers timeout (the provider is still writing it) is billed at its reservation, then the fallback answers', async () => {
    // Real time (the transport's timer): long enough for the fallback's answer on a loaded machine.
    const r = await runtime({ headersTimeoutMs: 300 });
    sim.setFault('up-a', { kind: 'hang' });
    const { sink, done } = start(r, { max_tokens: 50 });
    await done;
    expect(served(sink)).toEqual([200, 'b', '2', 1, 1]);
    const [row] = await ledger.rows({ requestId: `req-${n}` });
    const answer = JSON.parse(sink.body) as { usage: { completion_tokens: number } };
    expect([row?.estimated, row?.completionTokens]).toEqual([true, 50 + answer.usage.completion_tokens]);
    expect(row?.costNano).toBe((row!.promptTokens + row!.completionTokens) * 1000);
  });

  it('a stream its client leaves after it went out, before its first token, bills the prompt the provider read (estimated), not $0', async () => {
    const r = await runtime();
    sim.setFault('up-a', { kind: 'hang' });
    const { sink, done } = start(r, { max_tokens: 50, stream: true });
    await untilCalls('up-a', 1);
    sink.gone();
    await done;
    const [row] = await ledger.rows({ requestId: `req-${n}` });
    expect([row?.status, row?.errorCode, row?.completionTokens, row?.estimated, row?.stream]).toEqual([499, 'client_closed_request', 0, true, true]);
    expect(row?.promptTokens).toBeGreaterThan(0);
    expect(row?.costNano).toBe(row!.promptTokens * 1000);
  });

  it('a continuation cut too (no usage reported) bills its prompt with the answer it was sent to continue, not the request alone', async () => {
    const r = await runtime({}, {}, { b: { capabilities: ['chat', 'prefill'] } });
    // The prompt alone, estimated: a stream whose client leaves before its first token.
    sim.setFault('up-a', { kind: 'hang', times: 1 });
    const lone = start(r, { max_tokens: 50, stream: true });
    await untilCalls('up-a', 1);
    lone.sink.gone();
    await lone.done;
    const [alone] = await ledger.rows({ requestId: `req-${n}` });
    sim.setFault('up-a', { kind: 'cut', afterTokens: 3, times: 1 });
    sim.setFault('up-b', { kind: 'cut', afterTokens: 1, times: 1 });
    const { done } = start(r, { max_tokens: 50, stream: true });
    // b, the last candidate, is cut too: its one quick retry continues the stream there (100 ms).
    expect(await runToEnd(done)).toEqual([100]);
    const [row] = await ledger.rows({ requestId: `req-${n}` });
    expect([row?.attempts, row?.estimated, upstreamCalls('up-b')]).toEqual([3, true, 2]);
    // Two prompts, the second with the three words it continued (at least a token each).
    expect(row!.promptTokens).toBeGreaterThanOrEqual(2 * alone!.promptTokens + 3);
  });

  it("a stream cut by the first-token timeout bills the first attempt's prompt, then the fallback's answer", async () => {
    const r = await runtime({ firstTokenTimeoutMs: 30 });
    sim.setFault('up-a', { kind: 'hang' });
    const { sink, done } = start(r, { max_tokens: 50, stream: true });
    await done;
    expect(served(sink)).toEqual([200, 'b', '2', 1, 1]);
    const [row] = await ledger.rows({ requestId: `req-${n}` });
    // Both attempts read the prompt (the first's estimated); only the second wrote an answer (5 words).
    expect([row?.estimated, row?.completionTokens]).toEqual([true, 5]);
    expect(row?.costNano).toBe((row!.promptTokens + 5) * 1000);
  });

  it("a JSON answer whose body is cut after the upstream's 200 is billed at its reservation (the answer was made), then the retry's own cost", async () => {
    const r = await runtime();
    sim.setFault('up-a', { kind: 'cut', afterTokens: 1, times: 1 });
    const { sink, done } = start(r, { max_tokens: 50 });
    await runToEnd(done);
    expect(sink.status).toBe(200);
    const [row] = await ledger.rows({ requestId: `req-${n}` });
    const answer = JSON.parse(sink.body) as { usage: { prompt_tokens: number; completion_tokens: number } };
    // 1,000 nano-USD a token in and out: the cut attempt's prompt (as counted) and its cap of 50, then what the second answer used.
    expect([row?.attempts, row?.estimated, row?.completionTokens]).toEqual([2, true, 50 + answer.usage.completion_tokens]);
    expect(row?.costNano).toBe((row!.promptTokens + row!.completionTokens) * 1000);
    expect(row!.promptTokens).toBeGreaterThan(answer.usage.prompt_tokens);
  });

  it('capacity: when the window frees too close to the deadline for an attempt (2 ms before it), 503 at once instead of a wait and a 504', async () => {
    const r = await runtime({ requestTimeoutMs: 60_002 }, { rpm: 1 });
    await start(r, { model: 'b' }).done;
    const second = start(r, { model: 'b' });
    await second.done;
    expect([second.sink.status, second.sink.error?.code, upstreamCalls('up-b'), r.queue.depth]).toEqual([503, 'no_endpoint_available', 1, 0]);
    // With the room an attempt needs (a tenth of the request's time, at most 1 s), it waits.
    const r2 = await runtime({ requestTimeoutMs: 61_001 }, { rpm: 1 });
    await start(r2, { model: 'b' }).done;
    const third = start(r2, { model: 'b' });
    await waitsFor(60_000);
    clock.advance(60_000);
    await third.done;
    expect(third.sink.status).toBe(200);
  });

  it("a continuation's reservation carries what the cut attempt settled (a shared store's reclaimed row counts it)", async () => {
    const r = await runtime({}, {}, { b: { capabilities: ['chat', 'prefill'] } });
    const earlier: Array<number | undefined> = [];
    const real = r.budget.reserve.bind(r.budget);
    r.budget.reserve = (...args: Parameters<typeof real>) => {
      earlier.push(args[6]);
      return real(...args);
    };
    sim.setFault('up-a', { kind: 'stream_error_event', afterTokens: 2 });
    const { sink, done } = start(r, { stream: true });
    await runToEnd(done);
    expect(sink.status).toBe(200);
    const [row] = await ledger.rows({ requestId: `req-${n}` });
    expect(earlier).toHaveLength(2);
    expect(earlier[0]).toBe(0);
    // The cut attempt's settled cost: the row's total less what the continuation used.
    expect(earlier[1]).toBeGreaterThan(0);
    expect(earlier[1]).toBeLessThan(row!.costNano);
  });

  it('the client going away while a backoff waits ends the request at once, nothing more sent', async () => {
    const r = await runtime();
    sim.setFault('up-a', { kind: 'rate_limit', retryAfterSec: 5 });
    const { sink, done } = start(r);
    await waitsFor(5000);
    sink.gone();
    await done;
    expect([sink.status, upstreamCalls('up-a')]).toEqual([null, 1]);
    expect(clock.pending()).toEqual([]);
  });
});

/** The answer text a sink received: the message of a JSON answer, or the deltas of a stream. */
function textOf(sink: TestSink): string {
  if (!sink.started) return (JSON.parse(sink.body) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content;
  let text = '';
  for (const line of sink.body.split('\n')) {
    if (!line.startsWith('{')) continue;
    const chunk = JSON.parse(line) as { choices?: Array<{ delta?: { content?: string } }> };
    text += chunk.choices?.[0]?.delta?.content ?? '';
  }
  return text;
}

/**
 * Runs a request to its end, advancing the simulated clock past each wait but the deadline
 * (the longest pending timer) once real I/O has settled; returns the waits, in order.
 */
async function runToEnd(done: Promise<void>): Promise<number[]> {
  let finished = false;
  void done.then(() => (finished = true));
  const waits: number[] = [];
  const t0 = Date.now();
  let quiet = 0;
  while (!finished) {
    if (Date.now() - t0 > 10_000) throw new Error(`the request did not finish; pending: ${clock.pending().join(', ')}`);
    await new Promise((r) => setTimeout(r, 2));
    const pending = clock.pending();
    // A wait besides the deadline, unchanged over several real-time polls: the request sleeps on it.
    // Three polls (6 ms) were too few on a loaded machine: an attempt's own time limit, pending while
    // the in-process upstream answered, was taken for a sleep and the clock moved past it (CI, once).
    if (pending.length >= 2 && ++quiet >= 10) {
      waits.push(pending[0]!);
      clock.advance(pending[0]!);
      quiet = 0;
    } else if (pending.length < 2) quiet = 0;
  }
  await done;
  return waits;
}

const PROMPT = 'hello there';
const OUT = 5;

/**
 * One row per fault variant that needs no timing of the wire (the real-process table in
 * test/integration/faults.test.ts keeps one test per fault class): what the client gets, which
 * upstreams were asked how often, and which waits the request slept (backoffs with rng 0 are
 * half the exponential delay: 100 ms for the first quick retry, base 200 ms).
 */
describe('fault table, in process on a simulated clock', () => {
  interface Row {
    name: string;
    faults: Array<[string, Record<string, unknown>]>;
    stream: boolean;
    resilience?: Record<string, unknown>;
    models?: Record<string, Record<string, unknown>>;
    expect: { status: number; model?: string; attempts?: string; calls: Record<string, number>; waits: number[]; code?: string; prefill?: boolean };
  }
  const ok = (model: string, calls: Record<string, number>, waits: number[] = [], attempts?: string) => ({ status: 200, model, calls, waits, attempts });
  const rows: Row[] = [
    {
      name: '503 persistent: one quick retry, then the fallback',
      faults: [['up-a', { kind: 'http_error', status: 503 }]],
      stream: false,
      expect: ok('b', { 'up-a': 2, 'up-b': 1 }, [100], '3'),
    },
    {
      name: '529 persistent (streaming): one quick retry, then the fallback',
      faults: [['up-a', { kind: 'http_error', status: 529 }]],
      stream: true,
      expect: ok('b', { 'up-a': 2, 'up-b': 1 }, [100], '3'),
    },
    {
      name: '503 with a retry-after over maxRetryAfterMs: straight to the fallback',
      faults: [['up-a', { kind: 'http_error', status: 503, retryAfterSec: 30 }]],
      stream: true,
      expect: ok('b', { 'up-a': 1, 'up-b': 1 }),
    },
    {
      name: 'every candidate failing: a bounded 502 upstream_error after one quick retry each',
      faults: [
        ['up-a', { kind: 'http_error', status: 503 }],
        ['up-b', { kind: 'http_error', status: 500 }],
      ],
      stream: true,
      expect: { status: 502, code: 'upstream_error', calls: { 'up-a': 2, 'up-b': 2 }, waits: [100, 100] },
    },
    {
      name: 'a long chain of failing candidates: at most maxTotalAttempts in all, and no quick retry that would leave a candidate unasked',
      faults: [['*', { kind: 'http_error', status: 500 }]],
      stream: false,
      resilience: { retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 800, maxTotalAttempts: 5 } },
      models: {
        a: { fallbacks: ['b', 'c', 'd'] },
        c: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100_000, endpoints: [{ provider: 'p', upstreamModel: 'up-c' }] },
        d: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100_000, endpoints: [{ provider: 'p', upstreamModel: 'up-d' }] },
      },
      expect: { status: 502, code: 'upstream_error', attempts: '5', calls: { 'up-a': 2, 'up-b': 1, 'up-c': 1, 'up-d': 1 }, waits: [100] },
    },
    {
      name: 'a 429 without retry-after: immediate fail-over, no wait',
      faults: [['up-a', { kind: 'rate_limit' }]],
      stream: false,
      expect: ok('b', { 'up-a': 1, 'up-b': 1 }, [], '2'),
    },
    {
      name: 'a 429 with a short retry-after (streaming): the same endpoint after exactly that wait',
      faults: [['up-a', { kind: 'rate_limit', retryAfterSec: 1, times: 1 }]],
      stream: true,
      expect: ok('a', { 'up-a': 2, 'up-b': 0 }, [1000], '2'),
    },
    {
      name: 'reset before headers (non-streaming): one quick retry on the same endpoint',
      faults: [['up-a', { kind: 'reset', times: 1 }]],
      stream: false,
      expect: ok('a', { 'up-a': 2, 'up-b': 0 }, [100], '2'),
    },
    {
      name: 'a JSON body cut short: failed over, the whole answer',
      faults: [['up-a', { kind: 'cut', afterTokens: 2 }]],
      stream: false,
      expect: ok('b', { 'up-a': 1, 'up-b': 1 }),
    },
    {
      name: 'a stream cut before its first token: invisible fail-over, no prefill',
      faults: [['up-a', { kind: 'cut', afterTokens: 0 }]],
      stream: true,
      expect: { ...ok('b', { 'up-a': 1, 'up-b': 1 }), prefill: false },
    },
    {
      name: 'a stream error event before the first token: invisible fail-over',
      faults: [['up-a', { kind: 'stream_error_event', afterTokens: 0 }]],
      stream: true,
      expect: { ...ok('b', { 'up-a': 1, 'up-b': 1 }), prefill: false },
    },
    {
      name: 'a stream error event after the first token: continued on a prefill-capable fallback',
      faults: [['up-a', { kind: 'stream_error_event', afterTokens: 2 }]],
      stream: true,
      models: { b: { capabilities: ['chat', 'prefill'] } },
      expect: { ...ok('a', { 'up-a': 1, 'up-b': 1 }), prefill: true },
    },
    {
      name: 'a stream cut after its first tokens with no other endpoint left: one quick retry on the same prefill-capable endpoint continues it (it ended with the cut)',
      faults: [['up-a', { kind: 'cut', afterTokens: 2, times: 1 }]],
      stream: true,
      models: { a: { fallbacks: [], capabilities: ['chat', 'prefill'] } },
      // x-switchyard-attempts is 1: the stream's headers went with its first content.
      expect: ok('a', { 'up-a': 2, 'up-b': 0 }, [100]),
    },
    {
      name: 'a stream stalled after its first tokens with no other endpoint left: the same quick retry continues it',
      faults: [['up-a', { kind: 'stall', afterTokens: 2, times: 1 }]],
      stream: true,
      resilience: { idleTimeoutMs: 50 },
      models: { a: { fallbacks: [], capabilities: ['chat', 'prefill'] } },
      // x-switchyard-attempts is 1: the stream's headers went with its first content.
      expect: ok('a', { 'up-a': 2, 'up-b': 0 }, [100]),
    },
    {
      name: 'a stream cut after its first tokens with no other endpoint left that cannot continue it (no prefill): it ends with the cut, no retry',
      faults: [['up-a', { kind: 'cut', afterTokens: 2, times: 1 }]],
      stream: true,
      models: { a: { fallbacks: [] } },
      expect: { status: 502, calls: { 'up-a': 1, 'up-b': 0 }, waits: [] },
    },
    {
      name: "a stream cut before its first token on a model's only endpoint (no prefill): the one quick retry there, invisible (it was a 502 after one attempt)",
      faults: [['up-a', { kind: 'cut', afterTokens: 0, times: 1 }]],
      stream: true,
      models: { a: { fallbacks: [] } },
      expect: ok('a', { 'up-a': 2, 'up-b': 0 }, [100], '2'),
    },
    {
      name: "a stream error event before its first token on a model's only endpoint: no retry there (the upstream chose to send it), the 502",
      faults: [['up-a', { kind: 'stream_error_event', afterTokens: 0, times: 1 }]],
      stream: true,
      models: { a: { fallbacks: [] } },
      expect: { status: 502, calls: { 'up-a': 1, 'up-b': 0 }, waits: [] },
    },
    {
      name: 'malformed_chunk does not apply to a JSON answer',
      faults: [['up-a', { kind: 'malformed_chunk', afterTokens: 2 }]],
      stream: false,
      expect: ok('a', { 'up-a': 1, 'up-b': 0 }),
    },
    { name: 'no_done does not apply to a JSON answer', faults: [['up-a', { kind: 'no_done' }]], stream: false, expect: ok('a', { 'up-a': 1, 'up-b': 0 }) },
    {
      name: 'stream_error_event does not apply to a JSON answer',
      faults: [['up-a', { kind: 'stream_error_event', afterTokens: 2 }]],
      stream: false,
      expect: ok('a', { 'up-a': 1, 'up-b': 0 }),
    },
    {
      name: 'no_usage (non-streaming): the answer is fine',
      faults: [['up-a', { kind: 'no_usage' }]],
      stream: false,
      expect: ok('a', { 'up-a': 1, 'up-b': 0 }),
    },
    {
      name: 'context_length_exceeded with no larger model: the provider 400, no fail-over',
      faults: [['up-a', { kind: 'context_length_exceeded' }]],
      stream: false,
      expect: { status: 400, code: 'context_length_exceeded', calls: { 'up-a': 1, 'up-b': 0 }, waits: [] },
    },
    {
      name: 'content_policy_violation (non-streaming): no retry, no fail-over',
      faults: [['up-a', { kind: 'content_policy_violation' }]],
      stream: false,
      expect: { status: 400, code: 'content_policy_violation', calls: { 'up-a': 1, 'up-b': 0 }, waits: [] },
    },
  ];

  for (const row of rows) {
    it(row.name, async () => {
      const r = await runtime(row.resilience, {}, row.models);
      for (const [up, fault] of row.faults) sim.setFault(up, fault as Parameters<Simulator['setFault']>[1]);
      const { sink, done } = start(r, { stream: row.stream });
      const waits = await runToEnd(done);
      const e = row.expect;
      expect(waits).toEqual(e.waits);
      expect(sink.status).toBe(e.status);
      for (const [up, n] of Object.entries(e.calls)) expect(upstreamCalls(up), up).toBe(n);
      if (e.attempts) expect(sink.headers['x-switchyard-attempts'] ?? sink.error?.headers['x-switchyard-attempts']).toBe(e.attempts);
      if (e.code) expect(sink.error?.code).toBe(e.code);
      if (e.model) {
        expect(sink.headers['x-switchyard-model']).toBe(e.model);
        expect(textOf(sink)).toBe(expectedAnswer(PROMPT, OUT));
      }
      if (e.prefill !== undefined)
        expect(
          sim
            .log()
            .filter((x) => x.model === 'up-b')
            .map((x) => x.prefill),
        ).toEqual([e.prefill]);
      // Every wait ended: nothing but what the runtime keeps for itself is left on the clock.
      expect(clock.pending().filter((ms) => ms < 1000)).toEqual([]);
    });
  }

  it('a stream without [DONE] and without usage: finalised with [DONE], the ledger row estimated', async () => {
    const r = await runtime();
    sim.setFault('up-a', { kind: 'no_done', omitUsage: true });
    const { sink, done } = start(r, { stream: true });
    await runToEnd(done);
    expect(textOf(sink)).toBe(expectedAnswer(PROMPT, OUT));
    expect(sink.body.trimEnd().endsWith('[DONE]')).toBe(true);
    const [row] = await ledger.rows({ requestId: sink.headers['x-request-id'] ?? `req-${n}` });
    expect(row?.estimated).toBe(true);
  });
});

/**
 * A lone process on a SQLite file writes each attempt's hold line to the in-flight journal
 * before the attempt is sent; the holds of one turn of the event loop share one write, and each
 * attempt waits for the write that carries its line.
 */
describe('the in-flight journal and the attempt', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-driver-journal-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  let journalOf = '';
  const fileLedger = (): string => {
    journalOf = join(dir, `l${++files}.db`);
    return `sqlite:${journalOf}`;
  };
  const journal = (): string => readFileSync(`${journalOf}-inflight-0`, 'utf8') + readFileSync(`${journalOf}-inflight-1`, 'utf8');
  const ask = (r: Runtime, text: string) => start(r, { messages: [{ role: 'user', content: text }] });

  it('sends each attempt only once its line is in the journal: 16 requests in one turn, one batch', async () => {
    const r = await runtime({}, {}, {}, fileLedger());
    const real = ledger.hold!.bind(ledger);
    const batches = new Set<unknown>();
    ledger.hold = (h: InFlight) => {
      const p = real(h);
      batches.add(p);
      return p;
    };
    const ids = new Map<string, string>();
    const found: string[] = [];
    probe.atDispatch = (inp) => {
      const id = ids.get(String(inp.body.messages[0]?.content))!;
      if (journal().includes(`"id":${JSON.stringify(id)}`)) found.push(id);
    };
    const reqs = Array.from({ length: 16 }, (_, k) => {
      const q = ask(r, `hello ${k}`);
      ids.set(`hello ${k}`, `req-${n}`);
      return q;
    });
    await Promise.all(reqs.map((q) => q.done));
    expect(reqs.map((q) => q.sink.status)).toEqual(Array(16).fill(200));
    expect(found.sort()).toEqual([...ids.values()].sort());
    expect(batches.size).toBe(1);
    // Every row written: the journal is empty again.
    expect(journal()).toBe('');
  });

  /** A request whose hold write is held back until `open`, or fails with `fail`. */
  async function gated(): Promise<{ sink: TestSink; done: Promise<void>; held: () => number; open: () => void; fail: (e: Error) => void }> {
    const r = await runtime({}, {}, {}, fileLedger());
    const real = ledger.hold!.bind(ledger);
    let held = 0;
    let open!: () => void;
    let fail!: (e: Error) => void;
    const gate = new Promise<void>((res, rej) => {
      open = res;
      fail = rej;
    });
    ledger.hold = (h: InFlight) => {
      held++;
      return Promise.all([real(h), gate]).then(() => undefined);
    };
    const { sink, done } = ask(r, 'waiting for its hold');
    const t0 = Date.now();
    while (held === 0 && Date.now() - t0 < 10_000) await new Promise((res) => setTimeout(res, 2));
    return { sink, done, held: () => held, open, fail };
  }

  it('the client going away while the hold is written: the request ends as an aborted attempt, nothing reaches the upstream', async () => {
    const g = await gated();
    const sent: unknown[] = [];
    probe.atDispatch = (inp) => sent.push(inp.signal.aborted);
    g.sink.gone();
    g.open();
    await g.done;
    expect([g.sink.status, upstreamCalls('up-a'), upstreamCalls('up-b'), sent]).toEqual([null, 0, 0, [true]]);
    const [row] = await ledger.rows({ requestId: `req-${n}` });
    // As a client gone mid-attempt is recorded (request-outcome.ts abortedOutcome: 499 client_closed_request); the endpoint's slot given back.
    expect([row?.errorCode, row?.status, row?.costNano, rt!.modelStats('a').inFlight]).toEqual(['client_closed_request', 499, 0, 0]);
    expect(journal()).toBe('');
  });

  it('the deadline passing while the hold is written: 504, nothing reaches the upstream', async () => {
    const g = await gated();
    clock.advance(30_000);
    g.open();
    await g.done;
    expect([g.sink.status, g.sink.error?.code, upstreamCalls('up-a'), upstreamCalls('up-b'), rt!.modelStats('a').inFlight]).toEqual([504, 'timeout', 0, 0, 0]);
  });

  it('the slot is taken at the pick, not when the line is written: with rpm 1 a request of the same turn waits for the window', async () => {
    const r = await runtime({ requestTimeoutMs: 120_000 }, { rpm: 1 }, {}, fileLedger());
    const real = ledger.hold!.bind(ledger);
    let held = 0;
    let open!: () => void;
    const gate = new Promise<void>((res) => (open = res));
    ledger.hold = (h: InFlight) => {
      held++;
      return Promise.all([real(h), gate]).then(() => undefined);
    };
    const first = start(r, { model: 'b' });
    const second = start(r, { model: 'b' });
    // Had the slot been taken only once the first line was written, the second would be on its way too.
    await waitsFor(60_000);
    expect([held, r.queue.depth, upstreamCalls('up-b')]).toEqual([1, 1, 0]);
    open();
    await first.done;
    expect(upstreamCalls('up-b')).toBe(1);
    clock.advance(60_000);
    await second.done;
    expect([first.sink.status, second.sink.status, upstreamCalls('up-b'), r.queue.depth]).toEqual([200, 200, 2, 0]);
  });

  it('a failed hold write fails the request as a hold that threw at once does (500, not sent)', async () => {
    const outcome = async (sink: TestSink) => {
      const [row] = await ledger.rows({ requestId: `req-${n}` });
      return {
        status: sink.status,
        code: sink.error?.code,
        calls: upstreamCalls('up-a') + upstreamCalls('up-b'),
        errorCode: row?.errorCode,
        costNano: row?.costNano,
      };
    };
    const g = await gated();
    g.fail(new Error('EIO: i/o error, write'));
    await g.done;
    const later = await outcome(g.sink);
    // The slot the attempt took at its pick is given back.
    expect(rt!.modelStats('a').inFlight).toBe(0);
    await rt?.close();
    const r = await runtime({}, {}, {}, fileLedger());
    ledger.hold = () => {
      throw new Error('EIO: i/o error, write');
    };
    const now = ask(r, 'its hold throws');
    await now.done;
    expect(later).toEqual(await outcome(now.sink));
    expect(later.status).toBe(500);
    expect(later.calls).toBe(0);
  });
});
