import { describe, expect, it } from 'vitest';
import type { SnapshotFrom } from 'xstate';
import {
  commandOf,
  isFinal,
  requestMachine,
  startRequest,
  shortfall,
  stepRequest,
  type ReqEvent,
  type ReqInput,
  type ReqSnapshot,
  type NextStep,
} from '../../machines/request.machine.js';
import { reportCoverage } from './coverage.js';
import { runShortestPaths, type ModelEvent, type ModelSpec } from './model-harness.js';

type Snap = SnapshotFrom<typeof requestMachine>;
const T0 = Date.UTC(2025, 2, 14, 12);
const DEADLINE_MS = 10_000;
/** Two attempts at most (the attempt limit is reached on short paths); a cost cap between the two prices. */
const INPUT: ReqInput = { receivedAt: T0, deadlineAt: T0 + DEADLINE_MS, maxTotalAttempts: 3, maxCostNano: 500 };
/** Endpoints the model picks: a1 and b1 within the cap (b cheaper), x1 of model a over it. */
const PICKS = [
  { endpoint: 'a1', model: 'a', amount: 100 },
  { endpoint: 'b1', model: 'b', amount: 50 },
  { endpoint: 'x1', model: 'a', amount: 1000 },
];
const fault = (status: number | null) => ({ kind: status === null ? 'stream_cut' : 'http_status', status });

function failures(at: number): ReqEvent[] {
  const f = (next: NextStep, status: number | null, extra: Partial<Extract<ReqEvent, { type: 'attempt.failed' }>> = {}): ReqEvent => ({
    type: 'attempt.failed',
    at,
    fault: fault(status),
    next,
    delayMs: 100,
    partialCostNano: 0,
    smallerModels: [],
    ...extra,
  });
  return [
    f('stop', null, { fault: { kind: 'deadline', status: null } }),
    f('retry_same', 500, { partialCostNano: 7 }),
    f('retry_same', 429),
    f('failover', null),
    f('larger_context', 400, { smallerModels: ['a'] }),
    f('larger_context', 400, { smallerModels: ['a', 'b'] }),
    f('propagate', 400),
  ];
}

/** Events the driver can produce in each state, with the payload variants that reach every guard branch. */
function events(s: Snap, own: readonly string[]): Array<ModelEvent<typeof requestMachine>> {
  if (s.status !== 'active') return [];
  const at = T0 + 1;
  return own.flatMap((type): ReqEvent[] => {
    switch (type) {
      case 'request.routed':
        return [{ type, at, candidates: ['a', 'b'] }];
      case 'route.refused':
      case 'capacity.freed':
      case 'capacity.refused':
      case 'timer.fired':
      case 'attempt.committed':
      case 'budget.settled':
        return [{ type, at }];
      case 'request.aborted':
        return [
          { type, at, reason: 'deadline' },
          { type, at, reason: 'client_gone' },
        ];
      // The driver picks only endpoints and models not excluded.
      case 'endpoint.picked':
        return PICKS.filter((p) => !s.context.excluded.includes(p.endpoint) && !s.context.excludedModels.includes(p.model)).map((p) => ({ type, at, ...p }));
      case 'endpoint.none':
        return [
          { type, at, waitable: false, earliest: null, unknown: false },
          { type, at: T0 + DEADLINE_MS, waitable: true, earliest: null, unknown: true },
          { type, at, waitable: true, earliest: T0 + DEADLINE_MS + 1, unknown: false },
          { type, at, waitable: true, earliest: T0 + 50, unknown: false },
        ];
      case 'budget.granted':
        return [
          { type, at, budgets: ['global:daily'], slotGone: false },
          { type, at, budgets: ['global:daily'], slotGone: true },
        ];
      case 'budget.refused':
        return [
          { type, at, budget: 'global:daily', limit: 1000, spent: 950, reserved: 0, everyModel: true },
          { type, at, budget: 'model:a:daily', limit: 1000, spent: 950, reserved: 0, everyModel: false },
        ];
      case 'attempt.succeeded':
        return [{ type, at, costNano: 40 }];
      case 'attempt.failed':
        return failures(at);
      default:
        return [];
    }
  });
}

/** Everything the guards read (all bounded here), plus what the step produced. */
const abstract = (s: Snap | ReqSnapshot) => {
  const c = s.context;
  return {
    state: s.value,
    attempts: c.attempts,
    excluded: [...c.excluded].sort(),
    excludedModels: [...c.excludedModels].sort(),
    pinned: c.pinned?.endpoint ?? null,
    ceiling: c.ceiling,
    committed: c.committed,
    current: c.current && [c.current.endpoint, c.current.budgets.length],
    failure: c.failure?.kind ?? null,
    refusal: c.refusal?.kind ?? null,
    lastFault: c.lastFault?.status ?? c.lastFault?.kind ?? null,
    outbox: c.outbox.map((o) => o.type),
  };
};

const spec: ModelSpec<typeof requestMachine> = {
  machine: requestMachine,
  input: INPUT,
  abstract,
  events,
  materialize: (e) => e,
  // The reducer the runtime runs must agree with the XState machine on every step: same state,
  // same context (outbox included). And the invariants the driver relies on hold after each step.
  attach: () => {
    let mirror: ReqSnapshot = startRequest(INPUT);
    return ({ event, before, after }) => {
      const next = stepRequest(mirror, event as ReqEvent);
      expect(next.value).toBe(after.value as unknown);
      expect(next.context).toEqual(after.context);
      mirror = next;
      const c = after.context;
      expect(c.attempts).toBeLessThanOrEqual(INPUT.maxTotalAttempts);
      // A reservation is returned (released or settled) only by the step that ends its attempt, and only once.
      if (c.outbox.length > 0) expect(before.context.current, 'a reservation to return').not.toBeNull();
      expect(c.outbox.length).toBeLessThanOrEqual(1);
      // Final: `failed` says why, `done` does not; a final state's one command is `finish`.
      if (isFinal(next)) expect([next.value, c.failure === null]).toEqual([next.value, next.value === 'done']);
      if (isFinal(next)) expect(commandOf(next)).toEqual({ type: 'finish' });
      expect(commandOf(next) === null).toBe(next.value === 'streaming');
      expect(new Set(c.excluded).size).toBe(c.excluded.length);
    };
  },
};

describe('request machine: model-based paths', () => {
  it('replays every edge-aware shortest path through the machine and the reducer, 100% state and transition coverage', { timeout: 120_000 }, () => {
    const run = runShortestPaths(spec);
    expect(run.paths).toBeGreaterThan(20);
    const report = reportCoverage('request', requestMachine, run.recorder.edges.values(), run.recorder.states);
    expect(report.states.missing).toEqual([]);
    expect(report.transitions.missing).toEqual([]);
  });
});

describe('request machine: examples (the reducer the runtime runs)', () => {
  const at = T0 + 1;
  const run = (...evs: ReqEvent[]): ReqSnapshot => evs.reduce((s, e) => stepRequest(s, e), startRequest(INPUT));
  const routed: ReqEvent = { type: 'request.routed', at, candidates: ['a', 'b'] };
  const pickA: ReqEvent = { type: 'endpoint.picked', at, endpoint: 'a1', model: 'a', amount: 100 };
  const pickB: ReqEvent = { type: 'endpoint.picked', at, endpoint: 'b1', model: 'b', amount: 50 };
  const granted: ReqEvent = { type: 'budget.granted', at, budgets: ['g'], slotGone: false };
  const failed = (next: NextStep, status: number | null, partialCostNano = 0): ReqEvent => ({
    type: 'attempt.failed',
    at,
    fault: fault(status),
    next,
    delayMs: 250,
    partialCostNano,
    smallerModels: [],
  });

  it('a quick retry pins the endpoint until the backoff ends, returns the reservation, then picks it first', () => {
    const s = run(routed, pickA, granted, failed('retry_same', 500));
    expect(s.value).toBe('backoff');
    expect(commandOf(s)).toEqual({ type: 'sleep', until: at + 250 });
    expect(s.context.outbox).toEqual([{ type: 'release', budgets: ['g'], reserved: 100 }]);
    expect(s.context.per.a1).toEqual({ attempts: 1, transientRetryUsed: true });
    const after = stepRequest(s, { type: 'timer.fired', at: at + 250 });
    expect(commandOf(after)).toMatchObject({ type: 'pick', pinned: 'a1', excluded: [] });
  });

  it('no backoff after the last attempt allowed: the request fails at once instead of sleeping first', () => {
    const fire: ReqEvent = { type: 'timer.fired', at: at + 250 };
    const third = run(
      routed,
      pickA,
      granted,
      failed('retry_same', 429),
      fire,
      pickA,
      granted,
      failed('retry_same', 429),
      fire,
      pickA,
      granted,
      failed('retry_same', 429),
    );
    expect(third.context.attempts).toBe(INPUT.maxTotalAttempts);
    expect(third.value).toBe('failed');
    expect(third.context.failure).toEqual({ kind: 'exhausted' });
    // One attempt earlier the same verdict still backs off.
    expect(run(routed, pickA, granted, failed('retry_same', 429), fire, pickA, granted, failed('retry_same', 429)).value).toBe('backoff');
  });

  it('tokens already billed are settled, not released', () => {
    expect(run(routed, pickA, granted, failed('failover', null, 30)).context.outbox).toEqual([{ type: 'settle', budgets: ['g'], reserved: 100, actual: 30 }]);
  });

  it('a budget refusal excludes the model and lets only cheaper candidates reserve', () => {
    const refused = run(routed, pickA, { type: 'budget.refused', at, budget: 'g', limit: 1, spent: 1, reserved: 0, everyModel: true });
    expect(refused.value).toBe('routed');
    expect(refused.context).toMatchObject({ ceiling: 100, excludedModels: ['a'], refusal: { kind: 'budget', model: 'a', amount: 100 } });
    expect(stepRequest(refused, { ...pickB, amount: 100 }).value).toBe('routed');
    expect(stepRequest(refused, pickB).value).toBe('reserving');
  });

  it("a model's own budget refusing excludes that model only: a dearer one may still reserve", () => {
    const refused = run(routed, pickA, { type: 'budget.refused', at, budget: 'model:a:day', limit: 1, spent: 1, reserved: 0, everyModel: false });
    expect(refused.value).toBe('routed');
    expect(refused.context).toMatchObject({ ceiling: null, excludedModels: ['a'], refusal: { kind: 'budget', model: 'a', amount: 100 } });
    expect(stepRequest(refused, { ...pickB, amount: 400 }).value).toBe('reserving');
  });

  it('refused for money by two budget lines: the refusal named is the one nearest to fitting, not the smallest worst case', () => {
    // a (100) is refused by its own budget with 1 of room: 99 short; b (400) by a wider one with 390 of room: 10 short.
    const routedAB: ReqEvent = { type: 'request.routed', at, candidates: ['a', 'b'] };
    const s1 = run(routedAB, pickA, { type: 'budget.refused', at, budget: 'model:a:day', limit: 1, spent: 0, reserved: 0, everyModel: false });
    const s2 = stepRequest(stepRequest(s1, { ...pickB, amount: 400 }), {
      type: 'budget.refused',
      at,
      budget: 'global:day',
      limit: 1000,
      spent: 600,
      reserved: 10,
      everyModel: true,
    });
    expect(s2.context.refusal).toMatchObject({ kind: 'budget', model: 'b', budget: 'global:day', amount: 400 });
    // Of one line, the smaller worst case is the nearer.
    expect(shortfall({ amount: 100, limit: 50, spent: 0, reserved: 0 }, null)).toBeLessThan(shortfall({ amount: 200, limit: 50, spent: 0, reserved: 0 }, null));
  });

  it('the cost cap excludes a model whose worst case exceeds it', () => {
    const s = run(routed, { type: 'endpoint.picked', at, endpoint: 'x1', model: 'a', amount: 501 });
    expect(s.value).toBe('routed');
    expect(s.context).toMatchObject({ excludedModels: ['a'], refusal: { kind: 'max_cost', amount: 501 } });
  });

  it('a slot that frees too close to the deadline for an attempt is not waited for: failed (503) at once', () => {
    const room = Math.min(1000, Math.floor(DEADLINE_MS / 10));
    const none = (earliest: number) => stepRequest(run(routed), { type: 'endpoint.none', at, waitable: true, earliest, unknown: false });
    expect(none(INPUT.deadlineAt - room).value).toBe('failed');
    expect(none(INPUT.deadlineAt - 3).value).toBe('failed');
    expect(none(INPUT.deadlineAt - room - 1).value).toBe('waiting');
  });

  it('a request refused for money names the refusal of the smallest worst case (the cheapest model refused), not the first', () => {
    const first = run(routed, { type: 'endpoint.picked', at, endpoint: 'x1', model: 'a', amount: 900 });
    const second = stepRequest(first, { type: 'endpoint.picked', at, endpoint: 'b1', model: 'b', amount: 600 });
    expect(second.context.refusal).toMatchObject({ kind: 'max_cost', model: 'b', amount: 600 });
    const dearer = stepRequest(second, { type: 'endpoint.picked', at, endpoint: 'c1', model: 'c', amount: 700 });
    expect(dearer.context.refusal).toMatchObject({ kind: 'max_cost', model: 'b', amount: 600 });
  });

  it("the cost cap is the request's: what earlier attempts cost counts, so a retry that would fit alone is refused", () => {
    // 30 billed by a failed attempt; the cap is 500: a next attempt of worst case 480 would make 510.
    const afterCut = run(routed, pickA, granted, failed('failover', null, 30));
    expect(afterCut.context.spentNano).toBe(30);
    const over = stepRequest(afterCut, { type: 'endpoint.picked', at, endpoint: 'b1', model: 'b', amount: 480 });
    expect(over.value).toBe('routed');
    expect(over.context).toMatchObject({ excludedModels: ['b'], refusal: { kind: 'max_cost', model: 'b', amount: 510 } });
    expect(stepRequest(afterCut, { type: 'endpoint.picked', at, endpoint: 'b1', model: 'b', amount: 470 }).value).toBe('reserving');
  });

  it('after a commit the next attempt is a continuation; a refused prefill fails over and keeps the fault that cut the stream', () => {
    const cut = run(routed, pickA, granted, { type: 'attempt.committed', at }, failed('failover', null));
    expect(cut.context).toMatchObject({ committed: true, excluded: ['a1'], lastFault: { kind: 'stream_cut' } });
    expect(commandOf(cut)).toMatchObject({ type: 'pick', committed: true });
    const cont = run(routed, pickA, granted, { type: 'attempt.committed', at }, failed('failover', null), pickB, granted);
    expect(cont.value).toBe('continuing');
    expect(commandOf(cont)).toEqual({ type: 'send', endpoint: 'b1', continuation: true });
    const refused = stepRequest(cont, failed('propagate', 400));
    expect(refused.value).toBe('routed'); // failed over to the next endpoint, the cut still the last fault
    expect(refused.context).toMatchObject({ excluded: ['a1', 'b1'], lastFault: { kind: 'stream_cut' } });
    const none = stepRequest(refused, { type: 'endpoint.none', at, waitable: false, earliest: null, unknown: false });
    expect(none.value).toBe('failed'); // nothing left: exhausted, with the cut as the last fault
    expect(none.context).toMatchObject({ failure: { kind: 'exhausted' }, lastFault: { kind: 'stream_cut' } });
  });

  it('a 400 before any commit reaches the client as it was', () => {
    expect(run(routed, pickA, granted, failed('propagate', 400)).context.failure).toEqual({ kind: 'propagate', fault: fault(400) });
  });

  it('waits for capacity until the earliest free time, and gives up at once when that is past the deadline', () => {
    const waiting = run(routed, { type: 'endpoint.none', at, waitable: true, earliest: at + 40, unknown: false });
    expect(commandOf(waiting)).toEqual({ type: 'wait', until: at + 40 });
    expect(run(routed, { type: 'endpoint.none', at, waitable: true, earliest: INPUT.deadlineAt, unknown: false }).context.failure).toEqual({
      kind: 'exhausted',
    });
    expect(run(routed, { type: 'endpoint.none', at, waitable: true, earliest: INPUT.deadlineAt, unknown: true }).value).toBe('waiting');
  });

  it('a success settles the actual cost of the reservation, then is done', () => {
    const s = run(routed, pickA, granted, { type: 'attempt.succeeded', at, costNano: 42 });
    expect(commandOf(s)).toEqual({ type: 'settle', budgets: ['g'], reserved: 100, actual: 42 });
    expect(stepRequest(s, { type: 'budget.settled', at }).value).toBe('done');
  });

  it('ignores an event its state does not take (the same snapshot back)', () => {
    const s = run(routed);
    expect(stepRequest(s, { type: 'budget.settled', at })).toBe(s);
  });
});
