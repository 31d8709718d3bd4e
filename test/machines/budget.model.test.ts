import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock, type SnapshotFrom } from 'xstate';
import { applicableBudgets, budgetMachine, MAX_ROLL_DELAY_MS, type BudgetLimit } from '../../machines/budget.machine.js';
import type { BudgetEmitted, BudgetEvent } from '../../machines/events.js';
import { reportCoverage } from './coverage.js';
import { isAfter, runShortestPaths, type ModelEvent, type ModelSpec } from './model-harness.js';

type Snap = SnapshotFrom<typeof budgetMachine>;
const DAY_MS = 86_400_000;
/** 2025-02-01T00:00Z: a day and a month boundary. */
const MIDNIGHT = Date.UTC(2025, 1, 1);
const limit = (
  id: string,
  period: BudgetLimit['period'],
  amount: number,
  scope: BudgetLimit['scope'] = 'global',
  key: string | null = null,
  model: string | null = null,
): BudgetLimit => ({ id, scope, key, model, period, limit: amount });

function start(limits: BudgetLimit[], now: number) {
  const clock = new SimulatedClock();
  const actor = createActor(budgetMachine, { input: { limits, now }, clock }).start();
  const emitted: BudgetEmitted[] = [];
  actor.on('budget.granted', (e) => emitted.push(e));
  actor.on('budget.refused', (e) => emitted.push(e));
  const at = (): number => now + clock.now();
  const line = (id: string) => actor.getSnapshot().context.lines.find((l) => l.id === id);
  const send = (e: BudgetEvent): void => actor.send(e);
  return { clock, actor, emitted, at, line, send };
}

// ---- model-based paths ------------------------------------------------------------------
const MODEL_LIMITS = [limit('day', 'day', 100), limit('total', 'total', 250)];
const ALL = ['day', 'total'];
const AMOUNT = 60;

function events(s: Snap, own: readonly string[]): Array<ModelEvent<typeof budgetMachine>> {
  const at = s.context.now;
  const outstanding = (s.context.lines.find((l) => l.id === 'total')?.reserved ?? 0) >= AMOUNT;
  const common = { at, requestId: 'r', budgets: ALL };
  return own.flatMap((type): Array<ModelEvent<typeof budgetMachine>> => {
    switch (type) {
      case 'budget.restored':
        return [{ type, at, spent: { day: 20, total: 20 } }];
      case 'budget.reserve':
        return [{ type, ...common, amount: AMOUNT }];
      case 'budget.settle':
        return outstanding ? [60, 90].map((actual) => ({ type, ...common, reserved: AMOUNT, actual })) : [];
      case 'budget.release':
        return outstanding ? [{ type, ...common, reserved: AMOUNT }] : [];
      case 'budget.reconfigured':
        return [{ type, at, limits: MODEL_LIMITS, spent: {} }];
      default:
        return isAfter({ type }) ? [{ type: type as `xstate.after.${string}` }] : [];
    }
  });
}

const spec: ModelSpec<typeof budgetMachine> = {
  machine: budgetMachine,
  input: { limits: MODEL_LIMITS, now: MIDNIGHT - 10 },
  abstract: (s) => ({
    state: s.value,
    lines: s.context.lines.map((l) => [l.spent, l.reserved]),
    rollIn: s.value === 'running' ? s.context.rollAt - s.context.now : null,
  }),
  events,
  materialize: (e, live) => ({ ...e, at: live.context.now }),
  // The next UTC midnight, computed independently of the machine's period helpers.
  expectedDelay: (before) => Math.min(MAX_ROLL_DELAY_MS, (Math.floor(before.context.now / DAY_MS) + 1) * DAY_MS - before.context.now),
  attach: (actor) => {
    const emitted: BudgetEmitted[] = [];
    actor.on('*', (e) => emitted.push(e));
    const spent = (s: Snap, id: string): number | undefined => s.context.lines.find((l) => l.id === id)?.spent;
    return ({ event, before, after }) => {
      const got = emitted.splice(0);
      // Every timer of this model ends at a UTC midnight: the day rolls, the total never.
      if (isAfter(event)) expect([spent(after, 'day'), spent(after, 'total')]).toEqual([0, spent(before, 'total')]);
      if (event.type !== 'budget.reserve') return expect(got).toEqual([]);
      const grew = (after.context.lines[0]?.reserved ?? 0) > (before.context.lines[0]?.reserved ?? 0);
      expect(got.map((e) => e.type)).toEqual([grew ? 'budget.granted' : 'budget.refused']);
    };
  },
};

describe('budget machine: model-based paths', () => {
  it('replays every edge-aware shortest path across period rolls with 100% state and transition coverage', () => {
    const run = runShortestPaths(spec);
    expect(run.paths).toBeGreaterThan(20);
    const report = reportCoverage('budget', budgetMachine, run.recorder.edges.values(), run.recorder.states);
    expect(report.states.missing).toEqual([]);
    expect(report.transitions.missing).toEqual([]);
  });
});

// ---- examples ---------------------------------------------------------------------------
describe('budget machine: examples', () => {
  const NOON = Date.UTC(2025, 2, 12, 12);
  const reserve = (b: ReturnType<typeof start>, requestId: string, amount: number, budgets = ['g']) =>
    b.send({ type: 'budget.reserve', at: b.at(), requestId, budgets, amount });

  it('refuses while restoring, then runs with the restored spend', () => {
    const b = start([limit('g', 'day', 100)], NOON);
    reserve(b, 'early', 1);
    expect(b.emitted).toEqual([{ type: 'budget.refused', requestId: 'early', amount: 1, budget: 'restoring', limit: 0, spent: 0, reserved: 0 }]);
    b.send({ type: 'budget.restored', at: b.at(), spent: { g: 70 } });
    expect(b.actor.getSnapshot().value).toBe('running');
    expect(b.line('g')).toMatchObject({ spent: 70, reserved: 0 });
  });

  it('a reload keeps the live totals of budgets that stay, starts new ones from the ledger, drops removed ones', () => {
    const b = start([limit('g', 'day', 100), limit('old', 'day', 10)], NOON);
    b.send({ type: 'budget.restored', at: b.at(), spent: { g: 30 } });
    reserve(b, 'a', 20);
    b.send({ type: 'budget.reconfigured', at: b.at(), limits: [limit('g', 'day', 40), limit('m', 'month', 500, 'model', null, 'x')], spent: { m: 123 } });
    expect(b.line('g')).toMatchObject({ limit: 40, spent: 30, reserved: 20 });
    expect(b.line('m')).toMatchObject({ spent: 123, reserved: 0 });
    expect(b.line('old')).toBeUndefined();
    reserve(b, 'b', 1);
    expect(b.emitted.at(-1)).toMatchObject({ type: 'budget.refused', budget: 'g', limit: 40 });
    b.send({ type: 'budget.settle', at: b.at(), requestId: 'a', budgets: ['g', 'old'], reserved: 20, actual: 5 });
    expect(b.line('g')).toMatchObject({ spent: 35, reserved: 0 });
  });

  it('a line a reload adds starts holding what requests in flight reserved that it applies to (`reserved`), and gives it back as they settle there: a new limit is not overspent by them', () => {
    const b = start([limit('g', 'day', 100)], NOON);
    b.send({ type: 'budget.restored', at: b.at(), spent: {} });
    reserve(b, 'a', 30);
    b.send({
      type: 'budget.reconfigured',
      at: b.at(),
      limits: [limit('g', 'day', 100), limit('m', 'day', 40, 'model', null, 'x')],
      spent: { m: 5 },
      reserved: { m: 30, g: 999 },
    });
    // A line that stays keeps its own count; the new one holds the 30 in flight.
    expect(b.line('g')).toMatchObject({ spent: 0, reserved: 30 });
    expect(b.line('m')).toMatchObject({ spent: 5, reserved: 30 });
    reserve(b, 'b', 6, ['g', 'm']);
    expect(b.emitted.at(-1)).toMatchObject({ type: 'budget.refused', budget: 'm', limit: 40, spent: 5, reserved: 30 });
    b.send({ type: 'budget.settle', at: b.at(), requestId: 'a', budgets: ['g', 'm'], reserved: 30, actual: 10 });
    expect(b.line('m')).toMatchObject({ spent: 15, reserved: 0 });
  });

  it('grants what fits, refuses naming the overflowing budget, and settles / releases', () => {
    const b = start([limit('g', 'day', 100), limit('k', 'month', 50, 'key', 'k1')], NOON);
    b.send({ type: 'budget.restored', at: b.at(), spent: { g: 10 } });
    reserve(b, 'a', 40, ['g', 'k']);
    reserve(b, 'b', 20, ['g', 'k']);
    reserve(b, 'c', 50, ['g']);
    expect(b.emitted).toEqual([
      { type: 'budget.granted', requestId: 'a', amount: 40 },
      { type: 'budget.refused', requestId: 'b', amount: 20, budget: 'k', limit: 50, spent: 0, reserved: 40 },
      { type: 'budget.granted', requestId: 'c', amount: 50 },
    ]);
    b.send({ type: 'budget.settle', at: b.at(), requestId: 'a', budgets: ['g', 'k'], reserved: 40, actual: 55 });
    b.send({ type: 'budget.release', at: b.at(), requestId: 'c', budgets: ['g'], reserved: 50 });
    expect(b.line('g')).toMatchObject({ spent: 65, reserved: 0 });
    expect(b.line('k')).toMatchObject({ spent: 55, reserved: 0 });
    reserve(b, 'd', 1, ['k']);
    expect(b.emitted.at(-1)).toMatchObject({ type: 'budget.refused', budget: 'k', spent: 55 });
  });

  it('rolls day and month at UTC midnight exactly (checked 1 ms before); total never resets', () => {
    const b = start([limit('d', 'day', 1000), limit('m', 'month', 1000), limit('t', 'total', 1000)], MIDNIGHT - 5);
    b.send({ type: 'budget.restored', at: b.at(), spent: { d: 10, m: 20, t: 30 } });
    reserve(b, 'open', 7, ['d', 'm', 't']);
    b.clock.increment(4);
    expect([b.line('d')?.spent, b.line('m')?.spent, b.line('t')?.spent]).toEqual([10, 20, 30]);
    b.clock.increment(1);
    expect(b.at()).toBe(MIDNIGHT);
    expect(b.line('d')).toMatchObject({ spent: 0, reserved: 7, periodStart: MIDNIGHT, resetsAt: MIDNIGHT + DAY_MS });
    expect(b.line('m')).toMatchObject({ spent: 0, reserved: 7, periodStart: MIDNIGHT, resetsAt: Date.UTC(2025, 2, 1) });
    expect(b.line('t')).toMatchObject({ spent: 30, reserved: 7, resetsAt: null });
    b.send({ type: 'budget.settle', at: b.at(), requestId: 'open', budgets: ['d', 'm', 't'], reserved: 7, actual: 9 });
    b.clock.increment(DAY_MS - 1);
    expect(b.line('d')?.spent).toBe(9);
    b.clock.increment(1);
    expect([b.line('d')?.spent, b.line('m')?.spent, b.line('t')?.spent]).toEqual([0, 9, 39]);
  });

  it("a request that began before midnight and settles after it: its cost is the ended day's (as its ledger row is dated), not the new day's; the total takes it", () => {
    const b = start([limit('d', 'day', 1000), limit('t', 'total', 1000)], MIDNIGHT - 2000);
    b.send({ type: 'budget.restored', at: b.at(), spent: { d: 10, t: 30 } });
    const dated = b.at();
    reserve(b, 'straddles', 7, ['d', 't']);
    b.clock.increment(4000);
    expect(b.line('d')).toMatchObject({ spent: 0, reserved: 7, periodStart: MIDNIGHT });
    b.send({ type: 'budget.settle', at: b.at(), requestId: 'straddles', budgets: ['d', 't'], reserved: 7, actual: 5, dated });
    expect(b.line('d')).toMatchObject({ spent: 0, reserved: 0 });
    expect(b.line('t')).toMatchObject({ spent: 35, reserved: 0 });
    // One dated in the new day counts there.
    reserve(b, 'after', 7, ['d', 't']);
    b.send({ type: 'budget.settle', at: b.at(), requestId: 'after', budgets: ['d', 't'], reserved: 7, actual: 6, dated: b.at() });
    expect([b.line('d')?.spent, b.line('t')?.spent]).toEqual([6, 41]);
  });

  it('month period > 24 h: the timer re-arms every MAX_ROLL_DELAY_MS and rolls at the month boundary', () => {
    const start0 = Date.UTC(2025, 0, 30, 12);
    const b = start([limit('m', 'month', 1000), limit('t', 'total', 1000)], start0);
    b.send({ type: 'budget.restored', at: b.at(), spent: { m: 50, t: 50 } });
    expect(b.actor.getSnapshot().context.rollAt).toBe(start0 + MAX_ROLL_DELAY_MS);
    b.clock.increment(MAX_ROLL_DELAY_MS);
    expect(b.actor.getSnapshot().context.rollAt).toBe(MIDNIGHT);
    expect(b.line('m')?.spent).toBe(50);
    b.clock.increment(MIDNIGHT - b.at() - 1);
    expect(b.line('m')?.spent).toBe(50);
    b.clock.increment(1);
    expect(b.line('m')).toMatchObject({ spent: 0, periodStart: MIDNIGHT, resetsAt: Date.UTC(2025, 2, 1) });
    expect(b.line('t')?.spent).toBe(50);
    expect(b.actor.getSnapshot().context.rollAt).toBe(MIDNIGHT + MAX_ROLL_DELAY_MS);
  });

  it('an event stamped after the boundary sees the new period before the timer fires', () => {
    const b = start([limit('d', 'day', 100)], MIDNIGHT - 1000);
    b.send({ type: 'budget.restored', at: b.at(), spent: { d: 90 } });
    reserve(b, 'x', 50, ['d']);
    b.send({ type: 'budget.reserve', at: MIDNIGHT + 1, requestId: 'y', budgets: ['d'], amount: 50 });
    expect(b.emitted.map((e) => e.type)).toEqual(['budget.refused', 'budget.granted']);
    expect(b.line('d')).toMatchObject({ spent: 0, reserved: 50, periodStart: MIDNIGHT });
  });
});

// ---- property -----------------------------------------------------------------------------
describe('budget machine: property', () => {
  const LIMITS = [limit('g', 'day', 500), limit('k1', 'month', 300, 'key', 'k1'), limit('m1', 'total', 400, 'model', null, 'm1')];
  const command = fc.oneof(
    fc.record({
      kind: fc.constant('reserve' as const),
      amount: fc.integer({ min: 1, max: 120 }),
      key: fc.constantFrom('k1', 'k2'),
      model: fc.constantFrom('m1', 'm2'),
    }),
    fc.record({ kind: fc.constant('finish' as const), pick: fc.nat(), settle: fc.boolean(), actual: fc.integer({ min: 0, max: 200 }) }),
  );

  it('grants only what fits, returns reserved to 0 at quiescence, and spends exactly the settled actual costs', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 40 }), (commands) => {
        const b = start(LIMITS, Date.UTC(2025, 2, 12, 12));
        b.send({ type: 'budget.restored', at: b.at(), spent: {} });
        const open: Array<{ requestId: string; budgets: string[]; amount: number }> = [];
        const settled = new Map<string, number>(LIMITS.map((l) => [l.id, 0]));
        const finish = (i: number, settle: boolean, actual: number): void => {
          const [r] = open.splice(i % open.length, 1);
          if (!r) return;
          if (!settle) return b.send({ type: 'budget.release', at: b.at(), requestId: r.requestId, budgets: r.budgets, reserved: r.amount });
          b.send({ type: 'budget.settle', at: b.at(), requestId: r.requestId, budgets: r.budgets, reserved: r.amount, actual });
          for (const id of r.budgets) settled.set(id, (settled.get(id) ?? 0) + actual);
        };
        commands.forEach((c, n) => {
          if (c.kind === 'finish') return open.length ? finish(c.pick, c.settle, c.actual) : undefined;
          const budgets = applicableBudgets(LIMITS, c.key, c.model);
          const lines = b.actor.getSnapshot().context.lines.filter((l) => budgets.includes(l.id));
          const over = lines.find((l) => l.spent + l.reserved + c.amount > l.limit);
          b.send({ type: 'budget.reserve', at: b.at(), requestId: `r${n}`, budgets, amount: c.amount });
          const decision = b.emitted.at(-1);
          if (!over) {
            expect(decision).toEqual({ type: 'budget.granted', requestId: `r${n}`, amount: c.amount });
            open.push({ requestId: `r${n}`, budgets, amount: c.amount });
          } else {
            expect(decision).toMatchObject({ type: 'budget.refused', requestId: `r${n}`, budget: over.id });
          }
        });
        while (open.length) finish(0, true, 17);
        for (const l of b.actor.getSnapshot().context.lines) {
          expect(l.reserved).toBe(0);
          expect(l.spent).toBe(settled.get(l.id));
        }
        b.actor.stop();
      }),
      { numRuns: 200 },
    );
  });
});
