/** The 503 a request gets when no candidate could take it and no upstream fault explains why. */
import { describe, expect, it } from 'vitest';
import type { ReqContext } from '../../machines/request.machine.js';
import { abortedOutcome, failureOutcome } from '../../src/runtime/request-outcome.js';
import { SidecarBusyFault, UpstreamFault } from '../../src/upstream/types.js';
import { decide } from '../../src/runtime/retry-policy.js';
import { configSchema } from '../../src/config/schema.js';
import { heldOverMessage } from '../../src/upstream/held-bytes.js';
import { classifyError } from '../../src/upstream/transport.js';
import { Cancel } from '../../src/runtime/cancel.js';

const ctx = { failure: null, lastFault: null, refusal: null, attempts: 0 } as unknown as ReqContext;
const base = { ctx, abortReason: undefined, routeError: null, model: 'slow', maxCostUsd: null, retryAfterSeconds: () => 1 };

describe('no endpoint available, no fault', () => {
  it("names each candidate's own reason: a busy endpoint is said busy (it was 'circuit-open or throttled' of a healthy one)", () => {
    const out = failureOutcome({ ...base, unavailable: () => ['slow max concurrent (4) reached'] });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.error.status).toBe(503);
    expect(out.error.message).toBe('no endpoint available for slow: slow max concurrent (4) reached');
  });

  it('refused for its time, with nothing holding it back now, says so: a slot freed too late, or the deadline passed in the wait (it read as if every endpoint were down)', () => {
    const timed = { ...ctx, receivedAt: 1_000, deadlineAt: 4_000 } as unknown as ReqContext;
    const late = failureOutcome({ ...base, ctx: timed, lateLeftMs: 120, unavailable: () => [] });
    expect(!late.ok && late.error.message).toBe(
      "no endpoint available for slow: it waited 2880 ms for a candidate endpoint (busy, circuit-open or throttled), and one freed only 120 ms before the request's deadline, too little for an attempt",
    );
    const deadline = failureOutcome({
      ...base,
      ctx: timed,
      abortReason: new UpstreamFault('deadline', 'the request deadline passed'),
      unavailable: () => [],
    });
    expect(!deadline.ok && [deadline.error.status, deadline.error.message]).toEqual([
      503,
      "no endpoint available for slow: it waited 3000 ms for a candidate endpoint (busy, circuit-open or throttled), until the request's deadline of 3000 ms",
    ]);
  });

  it('a model a reload removed while the request waited: named by the client, told not to retry (asking again is a 400); routed, told to send it again', () => {
    const named = failureOutcome({ ...base, model: 'gone', removed: ['gone'], unavailable: () => [] });
    expect(!named.ok && [named.error.status, named.error.headers['x-should-retry'], named.error.headers['retry-after']]).toEqual([503, 'false', undefined]);
    expect(!named.ok && named.error.message).toContain('name another model');
    const routed = failureOutcome({ ...base, model: 'route/chat', removed: ['gone'], unavailable: () => [] });
    expect(!routed.ok && [routed.error.status, routed.error.headers['x-should-retry'], routed.error.headers['retry-after']]).toEqual([503, undefined, '1']);
    expect(!routed.ok && routed.error.message).toContain('send it again (it is routed among the models left)');
  });

  it('without a reason to name (the candidates freed meanwhile), says all three ways it can be', () => {
    const out = failureOutcome({ ...base, unavailable: () => [] });
    expect(!out.ok && out.error.message).toBe('no endpoint available for slow: every candidate endpoint is busy, circuit-open or throttled');
  });
});

describe('upstream failed on every attempt', () => {
  const failed = (status: number) =>
    failureOutcome({
      ...base,
      ctx: { ...ctx, attempts: 1, lastFault: new UpstreamFault('http_status', `upstream answered ${status}: no`, status) } as ReqContext,
    });

  it.each([301, 400, 401, 402, 403, 404])(
    'a last answer that asking again gets the same (%i) tells the SDKs not to retry the 502 (they retried it twice, each retry failing the same way upstream)',
    (status) => {
      const out = failed(status);
      expect(!out.ok && out.error.status).toBe(502);
      expect(!out.ok && out.error.headers['x-should-retry']).toBe('false');
    },
  );

  it('names resilience.retry.maxTotalAttempts when its cap ended the attempts (a fallback may not have been tried), not otherwise', () => {
    const fault = new UpstreamFault('http_status', 'upstream answered 503: busy', 503);
    const ended = (attempts: number, maxTotalAttempts: number) => {
      const out = failureOutcome({ ...base, ctx: { ...ctx, attempts, maxTotalAttempts, lastFault: fault } as unknown as ReqContext });
      return out.ok ? '' : out.error.message;
    };
    expect(ended(1, 1)).toBe(
      'upstream failed on every attempt (1); last: status 503: upstream answered 503: busy; resilience.retry.maxTotalAttempts (1) reached',
    );
    expect(ended(2, 6)).toBe('upstream failed on every attempt (2); last: status 503: upstream answered 503: busy');
  });

  it.each([408, 500, 502, 503, 529])('a last answer that may pass (%i) leaves the SDKs their own retries', (status) => {
    const out = failed(status);
    expect(!out.ok && out.error.status).toBe(502);
    expect(!out.ok && out.error.headers['x-should-retry']).toBeUndefined();
  });
});

describe('an overload as the last failure, on the Messages API', () => {
  const last = (fault: UpstreamFault, committed = false) =>
    failureOutcome({ ...base, api: 'messages', ctx: { ...ctx, attempts: 2, maxTotalAttempts: 6, committed, lastFault: fault } as unknown as ReqContext });

  it("is Anthropic's 529 overloaded_error when a stream's first event was an overloaded_error (it was a 502 whose body said overloaded), as a 529 answer is", () => {
    const event = new UpstreamFault('stream_error', 'upstream error in stream: Overloaded', null, {
      type: 'overloaded_error',
      message: 'Overloaded',
      code: null,
      param: null,
    });
    const status = new UpstreamFault('http_status', 'upstream answered 529: Overloaded', 529, {
      type: 'overloaded_error',
      message: 'Overloaded',
      code: null,
      param: null,
    });
    for (const f of [event, status]) {
      const out = last(f);
      expect(!out.ok && [out.error.status, out.error.upstreamType]).toEqual([529, 'overloaded_error']);
    }
    // Another error event is no overload: a 502.
    const other = last(
      new UpstreamFault('stream_error', 'upstream error in stream: boom', null, { type: 'api_error', message: 'boom', code: null, param: null }),
    );
    expect(!other.ok && [other.error.status, other.error.upstreamType]).toEqual([502, 'api_error']);
  });
});

describe("switchyard's own bound on the upstream answers it holds", () => {
  it('is no fault of the endpoint (released, not failed over) and answers 503 server_busy with retry-after, not 502 upstream_error', () => {
    const fault = new SidecarBusyFault(heldOverMessage(2_000_000));
    const r = configSchema.parse({ providers: {}, models: {} }).resilience;
    const state = { attemptsOnEndpoint: 1, transientRetryUsed: false, now: 0, remainingMs: 60_000, rng: () => 0.5 };
    expect(decide(fault, state, r)).toEqual({ verdict: { event: 'released' }, next: { step: 'stop' }, loud: false });
    // The request machine ends a `stop` as it ends a deadline's (request.chart.ts onFailure): with no
    // abort behind it, the fault says what it was (it was answered 504 "request deadline … passed").
    for (const failure of [undefined, { kind: 'aborted', reason: 'deadline' }]) {
      const out = failureOutcome({ ...base, ctx: { ...ctx, failure, attempts: 1, lastFault: fault } as ReqContext });
      expect(!out.ok && [out.error.status, out.error.code, out.error.headers['retry-after']]).toEqual([503, 'server_busy', '1']);
      expect(!out.ok && out.error.message).toMatch(/^switchyard is holding 128 MiB of upstream answers being read: .*send it again shortly/);
    }
    // Out of file descriptors: the same (the red-team re-test got a 504 for it).
    const fds = classifyError(Object.assign(new Error('connect EMFILE 127.0.0.1:443'), { code: 'EMFILE' }), new Cancel());
    const out = failureOutcome({ ...base, ctx: { ...ctx, failure: { kind: 'aborted', reason: 'deadline' }, attempts: 1, lastFault: fds } as ReqContext });
    expect(!out.ok && [out.error.status, out.error.code, out.error.headers['retry-after']]).toEqual([503, 'server_busy', '1']);
    expect(!out.ok && out.error.message).toMatch(/^switchyard is out of file descriptors \(EMFILE\)/);
  });
});

describe('the deadline passed', () => {
  const timedOut = (clientDeadline: boolean) =>
    failureOutcome({
      ...base,
      ctx: { ...ctx, failure: { kind: 'aborted' }, attempts: 1, receivedAt: 0, deadlineAt: 800 } as unknown as ReqContext,
      abortReason: new UpstreamFault('deadline', 'the deadline passed'),
      clientDeadline,
    });

  it("the client's own x-switchyard-timeout-ms (retries included) tells the SDKs not to retry the 504", () => {
    const out = timedOut(true);
    expect(!out.ok && [out.error.status, out.error.code, out.error.headers['x-should-retry']]).toEqual([504, 'timeout', 'false']);
  });

  it('the configured requestTimeoutMs leaves the SDKs their own retries', () => {
    const out = timedOut(false);
    expect(!out.ok && [out.error.status, out.error.headers['x-should-retry']]).toEqual([504, undefined]);
  });
});

describe('cut by the shutdown', () => {
  const cut = (attempts: number) => {
    const out = abortedOutcome(new UpstreamFault('shutting_down', 'shutting down'), { ...ctx, attempts } as ReqContext);
    return out.ok ? null : out.error.message;
  };
  it("says a request cut in the queue sent nothing (it said 'after 0 attempt(s)'), and counts attempts in words", () => {
    expect(cut(0)).toBe('switchyard is shutting down: the request was cut before any attempt was sent; send it again (to another instance)');
    expect(cut(1)).toContain('cut after 1 attempt;');
    expect(cut(2)).toContain('cut after 2 attempts;');
  });
});

describe('a budget refusal', () => {
  const refused = (refusal: Record<string, unknown>, keyed = false) => {
    const out = failureOutcome({ ...base, keyed, ctx: { ...ctx, refusal } as unknown as ReqContext });
    if (out.ok) throw new Error('not refused');
    return out.error;
  };
  const budget = { kind: 'budget', model: 'slow', budget: 'global:total', limit: 10_000_000, amount: 2_000_000 };

  it('refused only for what requests in flight hold says this request may fit once they settle, not "raise its limit"', () => {
    const e = refused({ ...budget, spent: 7_000_000, reserved: 2_500_000 });
    expect([e.status, e.code]).toEqual([429, 'budget_exceeded']);
    expect(e.message).toContain('; requests in flight hold $0.002500 of it as their worst case: once they settle, at what they cost, this request may fit');
    expect(e.message).not.toContain('raise its limit');
    // A key is not shown the amount of a budget it shares with other keys.
    expect(refused({ ...budget, spent: 7_000_000, reserved: 2_500_000 }, true).message).toContain('; requests in flight hold part of it as their worst case');
  });

  it('over the limit by what is spent alone, the budget is spent: its reset, or raising the limit, is what helps', () => {
    const e = refused({ ...budget, spent: 9_000_000, reserved: 500_000 });
    expect(e.message).toContain('a total budget does not reset (raise its limit in budget.limits)');
    expect(e.message).not.toContain('in flight');
  });
});
