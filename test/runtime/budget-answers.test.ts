/**
 * The in-process budget store answers reserve, settle and release at once (a plain value); a
 * shared store answers with a promise. The request driver takes a plain answer as it is and
 * waits only on a promise: a run against the in-process store must serve, refuse, bill and
 * record exactly what the same run does when every answer of that store comes as a promise.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { openLedger, type LedgerRow } from '../../src/accounting/ledger.js';
import { configSchema } from '../../src/config/schema.js';
import type { SwitchyardError } from '../../src/errors.js';
import type { ChatCall, ChatSink } from '../../src/runtime/api.js';
import type { BudgetStore } from '../../src/runtime/budget.js';
import { Runtime } from '../../src/runtime/runtime.js';

const BODY = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-up1',
    object: 'chat.completion',
    created: 1_764_000_000,
    model: 'up-a',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there.' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 },
  }),
);

interface Handler {
  onRequestStart(c: unknown, ctx: unknown): void;
  onResponseStart(c: unknown, s: number, h: unknown, m: string): void;
  onResponseData(c: unknown, b: Buffer): void;
  onResponseEnd(c: unknown, t: unknown): void;
}
/** A stand-in for undici's Pool: answers the canned completion a turn later, no socket. */
const pool = {
  dispatch(_opts: unknown, h: Handler): boolean {
    const c = { paused: false, aborted: false, reason: null, pause() {}, resume() {}, abort() {} };
    setImmediate(() => {
      h.onRequestStart(c, {});
      h.onResponseStart(c, 200, { 'content-type': 'application/json', 'content-length': String(BODY.length) }, 'OK');
      h.onResponseData(c, BODY.subarray(0));
      h.onResponseEnd(c, {});
    });
    return true;
  },
  close: () => Promise.resolve(),
  destroy: () => Promise.resolve(),
};

class Sink implements ChatSink {
  readonly signal = new AbortController().signal;
  started = false;
  status = 0;
  headers: Record<string, string> = {};
  body = '';
  error: string | null = null;
  json(status: number, headers: Record<string, string>, body: string): void {
    [this.status, this.headers, this.body] = [status, headers, body];
  }
  startStream(): void {}
  write(): boolean {
    return true;
  }
  drain(): Promise<void> {
    return Promise.resolve();
  }
  end(): void {}
  fail(err: SwitchyardError, headers: Record<string, string> = {}): void {
    [this.status, this.headers, this.error] = [err.status, headers, `${err.code}: ${err.message}`];
  }
}

/** Every answer of `inner`, as a promise (what a shared store gives). */
function promising(inner: BudgetStore): BudgetStore {
  return {
    reserve: (...a) => Promise.resolve(inner.reserve(...a)),
    settle: (...a) => Promise.resolve(inner.settle(...a)),
    release: (...a) => Promise.resolve(inner.release(...a)),
    lines: () => inner.lines(),
  };
}

/** Three requests one after another, then four at once, against a budget that refuses some of them. */
async function scenario(asPromises: boolean): Promise<{ answers: unknown[]; rows: unknown[]; lines: unknown; plain: boolean }> {
  const cfg = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: {
      a: {
        tier: 'balanced',
        price: { inputPerMTok: 1000, outputPerMTok: 1000 },
        contextWindow: 100_000,
        endpoints: [{ provider: 'p', upstreamModel: 'up-a' }],
      },
    },
    budget: { limits: [{ scope: 'global', period: 'day', usd: 0.3 }] },
  });
  const ledger = await openLedger('memory');
  const log = pino({ level: 'silent' });
  const rt = new Runtime({ cfg, ledger, log, env: {} });
  await rt.restoreBudgets();
  for (const hs of rt.byModel.values()) for (const h of hs) (h as { pool: unknown }).pool = pool;
  const own = rt.budget;
  const plain = !(own.reserve('probe', null, 'a', 0, Date.now()) instanceof Promise);
  own.release(
    'probe',
    own.lines().map((l) => l.id),
    0,
    Date.now(),
  );
  if (asPromises) (rt as { budget: BudgetStore }).budget = promising(own);
  let n = 0;
  const one = async (): Promise<Sink> => {
    const sink = new Sink();
    const call: ChatCall = {
      requestId: `req-${++n}`,
      body: { model: 'a', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 64 } as ChatCall['body'],
      hints: { task: null, tier: null, maxLatencyMs: null, maxCostUsd: null, timeoutMs: null },
      keyId: null,
      receivedAt: Date.now(),
      log,
    };
    await rt.chat(call, sink);
    return sink;
  };
  const sinks: Sink[] = [];
  for (let i = 0; i < 3; i++) sinks.push(await one());
  sinks.push(...(await Promise.all([one(), one(), one(), one()])));
  const rows = (await ledger.rows()).map(({ latencyMs: _l, at: _a, ...r }: LedgerRow) => r).sort((x, y) => x.requestId.localeCompare(y.requestId));
  const lines = rt.budget.lines().map(({ periodStart: _p, resetsAt: _r, ...l }) => l);
  await rt.close();
  return { answers: sinks.map((s) => [s.status, s.headers, s.body, s.error]), rows, lines, plain };
}

describe('budget answers at once or as promises', () => {
  it('serve, refuse, bill and record alike', async () => {
    const sync = await scenario(false);
    const async_ = await scenario(true);
    expect(sync.plain).toBe(true);
    expect(sync.answers).toEqual(async_.answers);
    expect(sync.rows).toEqual(async_.rows);
    expect(sync.lines).toEqual(async_.lines);
    // The budget did refuse some and serve others (else the comparison says little).
    const statuses = sync.answers.map((a) => (a as number[])[0]);
    expect(statuses).toContain(200);
    expect(statuses.some((s) => s !== 200)).toBe(true);
  });
});
