/**
 * The in-process budget store decides in one step in place while nobody inspects every event
 * (`ActorBudgetStore` with `quiet`). It must decide, count and record exactly what the budget
 * actor decides when every reserve, settle and release is sent to it: same answers, same
 * lines (integer nano-USD), same inspection-hub records — across period rolls — and never
 * more reserved and spent than a limit.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { budgetMachine, type BudgetLimit } from '../../machines/budget.machine.js';
import { InspectionHub, sanitize, type HubRecord } from '../../src/observe/hub.js';
import { ActorBudgetStore, type ReserveResult } from '../../src/runtime/budget.js';

const LIMITS: BudgetLimit[] = [
  { id: 'g', scope: 'global', key: null, model: null, period: 'day', limit: 500 },
  { id: 'k1', scope: 'key', key: 'k1', model: null, period: 'month', limit: 300 },
  { id: 'm1', scope: 'model', key: null, model: 'm1', period: 'total', limit: 400 },
];
/** An hour before a UTC midnight that is also a month's end: waits roll the day and the month. */
const START = Date.UTC(2025, 2, 31, 23);

function side(quiet: boolean, clock: SimulatedClock) {
  const hub = new InspectionHub(10_000, () => 0);
  const actor = createActor(budgetMachine, { id: 'budget', input: { limits: LIMITS, now: START }, clock, inspect: hub.observe }).start();
  const store = new ActorBudgetStore(actor, { quiet: () => quiet, onGranted: hub.budgetApplied });
  return { hub, actor, store };
}

const strip = (r: HubRecord) => ({ ...(JSON.parse(JSON.stringify(r)) as HubRecord), seq: 0 });

const command = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      amount: fc.integer({ min: 1, max: 120 }),
      key: fc.constantFrom('k1', 'k2', null),
      model: fc.constantFrom('m1', 'm2'),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('finish' as const), pick: fc.nat(), settle: fc.boolean(), actual: fc.integer({ min: 0, max: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.constantFrom(1_000, 600_000, 3_600_000) }) },
);

describe('budget store: in place vs through the actor', () => {
  it('decides, counts and records the same on any sequence, and never reserves past a limit', async () => {
    let inPlaceGrants = 0;
    let refusals = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 50 }), async (commands) => {
        const clock = new SimulatedClock();
        const sent = side(false, clock);
        const quiet = side(true, clock);
        const at = (): number => START + clock.now();
        for (const s of [sent, quiet]) s.actor.send({ type: 'budget.restored', at: at(), spent: { g: 100 } });
        const open: Array<{ id: string; budgets: string[]; amount: number }> = [];
        let n = 0;
        for (const c of commands) {
          if (c.kind === 'wait') {
            clock.increment(c.ms);
          } else if (c.kind === 'finish') {
            const [r] = open.splice(c.pick % Math.max(1, open.length), 1);
            if (!r) continue;
            for (const s of [sent, quiet]) {
              if (c.settle) await s.store.settle(r.id, r.budgets, r.amount, c.actual, at());
              else await s.store.release(r.id, r.budgets, r.amount, at());
            }
          } else {
            const id = `r${n++}`;
            const a: ReserveResult = await sent.store.reserve(id, c.key, c.model, c.amount, at());
            const before = quiet.actor.getSnapshot();
            const b: ReserveResult = await quiet.store.reserve(id, c.key, c.model, c.amount, at());
            expect(b).toEqual(a);
            if (b.ok) {
              open.push({ id, budgets: b.budgets, amount: c.amount });
              // Bounded: right after a grant, every budget it reserved on holds spent + reserved within its limit.
              for (const l of quiet.actor.getSnapshot().context.lines) if (b.budgets.includes(l.id)) expect(l.spent + l.reserved).toBeLessThanOrEqual(l.limit);
              // Granted in place: the actor took no event (its snapshot object is the same).
              if (quiet.actor.getSnapshot() === before) inPlaceGrants++;
            } else refusals++;
          }
          expect(quiet.actor.getSnapshot().value).toBe(sent.actor.getSnapshot().value);
          expect(quiet.actor.getSnapshot().context).toEqual(sent.actor.getSnapshot().context);
        }
        expect(quiet.hub.history().map(strip)).toEqual(sent.hub.history().map(strip));
        sent.actor.stop();
        quiet.actor.stop();
      }),
      { numRuns: 200, seed: 14 },
    );
    expect(inPlaceGrants).toBeGreaterThan(500);
    expect(refusals).toBeGreaterThan(20);
  });

  it('a grant in place never takes a budget past its limit: what fits is granted, the rest refused by the actor', async () => {
    const clock = new SimulatedClock();
    const q = side(true, clock);
    q.actor.send({ type: 'budget.restored', at: START, spent: {} });
    const grants: boolean[] = [];
    for (let i = 0; i < 6; i++) grants.push((await q.store.reserve(`r${i}`, null, 'm2', 120, START)).ok);
    // 500 global: four of 120 fit (480), the fifth would make 600.
    expect(grants).toEqual([true, true, true, true, false, false]);
    const g = q.actor.getSnapshot().context.lines.find((l) => l.id === 'g');
    expect(g).toMatchObject({ reserved: 480, spent: 0 });
    expect(q.actor.getSnapshot().context).toMatchObject({ granted: 4, refused: 2 });
    expect(
      q.hub
        .history()
        .filter((r) => r.kind === 'budget')
        .map((r) => r.to),
    ).toEqual(['granted', 'granted', 'granted', 'granted', 'refused', 'refused']);
    // Each record's context (built only when read, after all six decisions) is the budget as that decision left it.
    const reservedAfter = q.hub
      .history()
      .filter((r) => r.kind === 'budget' && r.to === 'granted')
      .map((r) => (r.context?.budgets as Array<{ id: string; reserved: number }>).find((l) => l.id === 'g')?.reserved);
    expect(reservedAfter).toEqual([120, 240, 360, 480]);
    q.actor.stop();
  });

  it("a grant's hub record serialises to the sanitised event, read lazily", () => {
    const hub = new InspectionHub(10, () => 5);
    const ctx = { now: 1, rollAt: 1, lines: [], granted: 1, refused: 0 };
    hub.budgetApplied('budget', { type: 'budget.restored', at: 0, spent: {} }, { ...ctx, granted: 0 });
    const ev = { type: 'budget.reserve', at: 1, requestId: 'req Bearer abcdefghijklmnop', budgets: ['g'], amount: 3, apiKey: 'sk-xxxxxxxxxxxxxxxxxxxxxxxx' };
    hub.budgetApplied('budget', ev, ctx);
    const [rec] = hub.history();
    expect(JSON.parse(JSON.stringify(rec))).toEqual({
      kind: 'budget',
      actor: 'budget',
      from: null,
      to: 'granted',
      event: sanitize(ev),
      context: { budgets: [], granted: 1, refused: 0 },
      seq: 1,
      at: 5,
    });
    expect(rec?.event).not.toHaveProperty('apiKey');
    expect(JSON.stringify(rec)).not.toContain('abcdefghijklmnop');
  });

  it('a budget line a reload added while a request was in flight is charged its actual cost at settle (its rebuild from the ledger came before the row); lines it reserved on are charged once', async () => {
    for (const quiet of [true, false]) {
      const clock = new SimulatedClock();
      const s = side(quiet, clock);
      s.actor.send({ type: 'budget.restored', at: START, spent: {} });
      // Reserved while only `g` existed.
      const r = await s.store.reserve('req-1', 'k1', 'm1', 100, START);
      expect(r).toEqual({ ok: true, budgets: ['g', 'k1', 'm1'] });
      const added: BudgetLimit[] = [
        ...LIMITS,
        { id: 'g-month', scope: 'global', key: null, model: null, period: 'month', limit: 10_000 },
        { id: 'm1-day', scope: 'model', key: null, model: 'm1', period: 'day', limit: 10_000 },
        { id: 'm2-day', scope: 'model', key: null, model: 'm2', period: 'day', limit: 10_000 },
      ];
      // The reload rebuilt the new lines from the ledger: 7 nano of earlier rows, none of this request's.
      s.actor.send({ type: 'budget.reconfigured', at: START, limits: added, spent: { 'g-month': 7, 'm1-day': 7, 'm2-day': 7 } });
      s.store.settle('req-1', ['g', 'k1', 'm1'], 100, 60, START, { keyId: 'k1', model: 'm1' });
      const spent = Object.fromEntries(s.store.lines().map((l) => [l.id, [l.spent, l.reserved]]));
      expect(spent).toEqual({ g: [60, 0], k1: [60, 0], m1: [60, 0], 'g-month': [67, 0], 'm1-day': [67, 0], 'm2-day': [7, 0] });
      s.actor.stop();
    }
  });
});
