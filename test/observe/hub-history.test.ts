/**
 * The inspection hub's history: the last `size` records in the order they happened, budget grants
 * (one per request) only among the latest GRANT_HISTORY of them, so load does not push state
 * changes and refusals out; live subscribers still get every record.
 */
import { describe, expect, it } from 'vitest';
import { createActor, createMachine, setup, spawnChild, stopChild } from 'xstate';
import { GRANT_HISTORY, InspectionHub, type HubRecord } from '../../src/observe/hub.js';
import { Metrics } from '../../src/observe/metrics.js';
import type { StateView } from '../../src/runtime/state-view.js';

const ctx = (granted: number, refused: number) => ({ now: 0, rollAt: 0, lines: [], granted, refused });

function decide(hub: InspectionHub, counts: { granted: number; refused: number }, grant: boolean, n: number): void {
  for (let i = 0; i < n; i++) {
    if (grant) counts.granted++;
    else counts.refused++;
    hub.budgetApplied(
      'budget',
      { type: 'budget.reserve', at: 0, requestId: `r${counts.granted + counts.refused}`, budgets: ['g'], amount: 1 },
      ctx(counts.granted, counts.refused),
    );
  }
}

function setUp(size: number) {
  const hub = new InspectionHub(size, () => 7);
  const live: HubRecord[] = [];
  hub.subscribe((r) => live.push(r));
  const counts = { granted: 0, refused: 0 };
  hub.budgetApplied('budget', { type: 'budget.restored', at: 0, spent: {} }, ctx(0, 0)); // the first snapshot: no record
  return { hub, live, counts };
}

const note = (hub: InspectionHub, to: string) => hub.note({ kind: 'transition', actor: 'openai/gpt-4.1', from: 'healthy', to, event: null, context: null });

describe('inspection hub history', () => {
  it('keeps state changes and refusals when grants outnumber the history; grants only the latest GRANT_HISTORY', () => {
    const { hub, live, counts } = setUp(500);
    note(hub, 'circuit_open');
    decide(hub, counts, false, 1);
    decide(hub, counts, true, 1000);
    note(hub, 'half_open');
    const h = hub.history();
    expect(h.filter((r) => r.kind === 'transition').map((r) => r.to)).toEqual(['circuit_open', 'half_open']);
    expect(h.filter((r) => r.to === 'refused')).toHaveLength(1);
    const grants = h.filter((r) => r.to === 'granted');
    expect(grants).toHaveLength(GRANT_HISTORY);
    expect((grants.at(-1)!.event as { requestId: string }).requestId).toBe('r1001');
    // In the order they happened.
    expect(h.map((r) => r.seq)).toEqual([...h.map((r) => r.seq)].sort((a, b) => a - b));
    // Live subscribers got every record.
    expect(live.filter((r) => r.to === 'granted')).toHaveLength(1000);
    expect(live).toHaveLength(1003);
  });

  it('returns the last `size` records across both, in order', () => {
    const { hub, counts } = setUp(5);
    decide(hub, counts, true, 2); // seq 1, 2
    note(hub, 'throttled'); // 3
    decide(hub, counts, true, 3); // 4, 5, 6
    note(hub, 'healthy'); // 7
    const h = hub.history();
    expect(h.map((r) => r.seq)).toEqual([3, 4, 5, 6, 7]);
    // A history smaller than GRANT_HISTORY bounds the grants too.
    decide(hub, counts, true, 20);
    expect(hub.history().map((r) => r.to)).toEqual(['granted', 'granted', 'granted', 'granted', 'granted']);
  });

  it('since(id): the kept records after it, missed only when a record after it is gone from either ring', () => {
    const { hub, counts } = setUp(5);
    decide(hub, counts, true, 2); // seq 1, 2
    note(hub, 'throttled'); // 3
    decide(hub, counts, true, 3); // 4, 5, 6
    note(hub, 'healthy'); // 7: the history is 3..7, records 1 and 2 are gone
    expect(hub.since(1)).toMatchObject({ missed: true, unknown: false });
    expect(hub.since(2).missed).toBe(false);
    expect(hub.since(2).records.map((r) => r.seq)).toEqual([3, 4, 5, 6, 7]);
    expect(hub.since(5).records.map((r) => r.seq)).toEqual([6, 7]);
    expect(hub.since(7).records).toEqual([]);
    expect(hub.since(8)).toMatchObject({ unknown: true });
    expect(hub.since(8).records.map((r) => r.seq)).toEqual([3, 4, 5, 6, 7]);
  });

  it('is the plain ring when there are no grants', () => {
    const { hub } = setUp(3);
    for (const to of ['a', 'b', 'c', 'd']) note(hub, to);
    expect(hub.history().map((r) => r.to)).toEqual(['b', 'c', 'd']);
  });

  it("a budget record gives each budget line in nano-USD (the actor's unit) and in USD (the state's)", () => {
    const hub = new InspectionHub(10, () => 7);
    const line = {
      id: 'global:day',
      scope: 'global',
      key: null,
      model: null,
      period: 'day',
      limit: 2_000_000_000,
      spent: 500_000_000,
      reserved: 250_000_000,
      periodStart: 0,
      resetsAt: null,
    };
    hub.budgetApplied('budget', { type: 'budget.restored', at: 0, spent: {} }, { lines: [line], granted: 0, refused: 0 });
    hub.budgetApplied(
      'budget',
      { type: 'budget.reserve', at: 0, requestId: 'r1', budgets: ['global:day'], amount: 250_000_000 },
      { lines: [line], granted: 1, refused: 0 },
    );
    const rec = JSON.parse(JSON.stringify(hub.history().at(-1))) as { context: { budgets: unknown[] } };
    expect(rec.context.budgets).toEqual([
      { id: 'global:day', limit: 2_000_000_000, spent: 500_000_000, reserved: 250_000_000, limitUsd: 2, spentUsd: 0.5, reservedUsd: 0.25, resetsAt: null },
    ]);
  });
});

describe("a replaced endpoint's records", () => {
  it("name the endpoint as every other surface does (no reload's #N), each actor's states kept apart", () => {
    const hub = new InspectionHub(50, () => 7);
    const snap = (id: string, value: string) =>
      hub.observe({ type: '@xstate.snapshot', actorRef: { id }, event: { type: 'x' }, snapshot: { value, context: {} } } as unknown as Parameters<
        InspectionHub['observe']
      >[0]);
    snap('endpoint:a@p', 'healthy');
    snap('endpoint:a@p#3', 'healthy'); // the reload's replacement starts
    snap('endpoint:a@p#3', 'circuitOpen');
    snap('endpoint:a@p', 'healthy'); // the draining predecessor: no change of its own
    const h = hub.history().filter((r) => r.kind === 'transition');
    expect(h.map((r) => [r.actor, r.from, r.to])).toEqual([
      ['endpoint:a@p', null, 'healthy'],
      ['endpoint:a@p', null, 'healthy'],
      ['endpoint:a@p', 'healthy', 'circuitOpen'],
    ]);
  });
});

describe("a replaced endpoint's draining actor", () => {
  it('has its records marked replaced (its circuit opening is not the endpoint the state shows), and metrics do not count them', async () => {
    const hub = new InspectionHub(50, () => 7);
    hub.replacedActor = (id) => id === 'endpoint:a@p';
    const snap = (id: string, value: string) =>
      hub.observe({ type: '@xstate.snapshot', actorRef: { id }, event: { type: 'x' }, snapshot: { value, context: {} } } as unknown as Parameters<
        InspectionHub['observe']
      >[0]);
    const metrics = new Metrics(() => ({ endpoints: [], budgets: [], supervisor: { queueDepth: 0 } }) as unknown as StateView);
    hub.subscribe((r) => metrics.onRecord(r));
    snap('endpoint:a@p', 'healthy');
    snap('endpoint:a@p#1', 'healthy');
    snap('endpoint:a@p', 'circuitOpen'); // the old actor's attempts in flight failed
    snap('endpoint:a@p#1', 'throttled'); // the current one
    const h = hub.history().filter((r) => r.kind === 'transition');
    expect(h.map((r) => [r.actor, r.to, r.replaced ?? false])).toEqual([
      ['endpoint:a@p', 'healthy', true],
      ['endpoint:a@p', 'healthy', false],
      ['endpoint:a@p', 'circuitOpen', true],
      ['endpoint:a@p', 'throttled', false],
    ]);
    const text = await metrics.text();
    expect(text).toMatch(/switchyard_transitions_total\{actor="endpoint:a@p",from="healthy",to="throttled"\} 1/);
    expect(text).not.toMatch(/to="circuit-open"|to="circuitOpen"/);
  });
});

describe('a stopped actor', () => {
  it('is forgotten: an actor spawned later under its id starts afresh (from null), and nothing is kept for it', () => {
    const child = createMachine({ initial: 'healthy', states: { healthy: { on: { GO: 'throttled' } }, throttled: {} } });
    const parent = setup({ actors: { child } }).createMachine({
      initial: 'run',
      states: {
        run: {
          entry: spawnChild('child', { id: 'endpoint:a@x' }),
          on: { KILL: { actions: stopChild('endpoint:a@x') }, AGAIN: { actions: spawnChild('child', { id: 'endpoint:a@x' }) } },
        },
      },
    });
    const hub = new InspectionHub(50, () => 7);
    const root = createActor(parent, { inspect: hub.observe }).start();
    root.send({ type: 'KILL' });
    root.send({ type: 'AGAIN' });
    const mine = hub.history().filter((r) => r.kind === 'transition' && r.actor === 'endpoint:a@x');
    // Spawned twice: two records from null (the second was none: the stopped actor's state was kept under its id).
    expect(mine.map((r) => [r.from, r.to])).toEqual([
      [null, 'healthy'],
      [null, 'healthy'],
    ]);
    root.stop();
  });
});
