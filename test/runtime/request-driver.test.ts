/**
 * The request driver on a simulated clock, against the real provider simulator in process:
 * the wire is real (undici, the adapters, the simulator's faults), every wait of the request
 * (a retry-after, a backoff, the deadline, capacity) is a timer on the injected scheduler.
 * Each test checks where the request stands just before a wait ends and just after, so no
 * verdict depends on how fast this machine is.
 */
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openLedger } from '../../src/accounting/ledger.js';
import { configSchema } from '../../src/config/schema.js';
import type { SwitchyardError } from '../../src/errors.js';
import type { ChatCall, ChatSink } from '../../src/runtime/api.js';
import { Runtime } from '../../src/runtime/runtime.js';
import type { Scheduler } from '../../src/runtime/scheduler.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';

const T0 = Date.UTC(2025, 2, 14, 12);

/** Timers fire only when the test advances the clock. */
class SimScheduler implements Scheduler {
  private t = T0;
  private timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  now = (): number => this.t;
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + Math.max(0, ms), fn, live: true };
    this.timers.push(timer);
    return () => (timer.live = false);
  }
  /** The pending timers as delays from now, soonest first. */
  pending(): number[] {
    return this.timers.filter((x) => x.live).map((x) => x.at - this.t).sort((a, b) => a - b);
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

class TestSink implements ChatSink {
  private readonly ac = new AbortController();
  readonly signal = this.ac.signal;
  started = false;
  status: number | null = null;
  headers: Record<string, string> = {};
  body = '';
  error: SwitchyardError | null = null;
  json(status: number, headers: Record<string, string>, body: string): void {
    [this.status, this.headers, this.body] = [status, headers, body];
  }
  startStream(headers: Record<string, string>): void {
    [this.started, this.status, this.headers] = [true, 200, headers];
  }
  write(data: string): boolean {
    this.body += `${data}\n`;
    return true;
  }
  drain(): Promise<void> {
    return Promise.resolve();
  }
  end(): void {}
  fail(err: SwitchyardError, headers: Record<string, string> = {}): void {
    [this.error, this.status, this.headers] = [err, err.status, headers];
  }
  gone(): void {
    this.ac.abort();
  }
}

let sim: Simulator;
let rt: Runtime | null = null;
let clock: SimScheduler;
beforeAll(async () => {
  sim = await startSimulator({ profile: { defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 5 } } });
});
afterAll(() => sim.close());
afterEach(async () => {
  sim.clearFaults();
  sim.resetLog();
  await rt?.close();
  rt = null;
});

async function runtime(resilience: Record<string, unknown> = {}, endpoint: Record<string, unknown> = {}): Promise<Runtime> {
  const model = (up: string) => ({ tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100_000, endpoints: [{ provider: 'p', upstreamModel: up, ...endpoint }] });
  const cfg = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: `${sim.url}/openai/v1` } },
    models: { a: { ...model('up-a'), fallbacks: ['b'] }, b: model('up-b') },
    resilience: { requestTimeoutMs: 30_000, maxRetryAfterMs: 10_000, retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 800 }, ...resilience },
  });
  clock = new SimScheduler();
  rt = new Runtime({ cfg, ledger: await openLedger('memory'), log: pino({ level: 'silent' }), scheduler: clock, rng: () => 0 });
  await rt.restoreBudgets();
  return rt;
}

let n = 0;
function start(r: Runtime, body: Record<string, unknown> = {}): { sink: TestSink; done: Promise<void> } {
  const sink = new TestSink();
  const call: ChatCall = {
    requestId: `req-${++n}`,
    body: { model: 'a', messages: [{ role: 'user', content: 'hello there' }], ...body } as ChatCall['body'],
    hints: { task: null, tier: null, maxLatencyMs: null, maxCostUsd: null, timeoutMs: null },
    keyId: null,
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
    expect([sink.status, sink.headers['x-switchyard-model'], sink.headers['x-switchyard-attempts'], upstreamCalls('up-a'), upstreamCalls('up-b')]).toEqual([200, 'b', '4', 3, 1]);
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

  it('a hung upstream: the deadline on the simulated clock ends it with 504, the attempt aborted', async () => {
    const r = await runtime({ requestTimeoutMs: 20_000, headersTimeoutMs: 600_000 });
    sim.setFault('*', { kind: 'hang' });
    const { sink, done } = start(r);
    const t0 = Date.now();
    while (upstreamCalls('up-a') === 0 && Date.now() - t0 < 10_000) await new Promise((res) => setTimeout(res, 2));
    clock.advance(19_999);
    expect(sink.status).toBeNull();
    clock.advance(1);
    await done;
    expect([sink.status, sink.error?.code]).toEqual([504, 'timeout']);
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

  it('capacity: when the window frees only after the deadline, 503 at once instead of a 504 later', async () => {
    const r = await runtime({ requestTimeoutMs: 30_000 }, { rpm: 1 });
    await start(r, { model: 'b' }).done;
    const second = start(r, { model: 'b' });
    await second.done;
    expect([second.sink.status, second.sink.error?.code, second.sink.error?.headers['retry-after']]).toEqual([503, 'no_endpoint_available', '60']);
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
