import { describe, expect, it } from 'vitest';
import { createActor, type SnapshotFrom } from 'xstate';
import type { EndpointSettings } from '../../machines/endpoint.machine.js';
import type { EndpointSpawn, SupervisorEvent } from '../../machines/events.js';
import { BUDGET_SYSTEM_ID, decideInPlace, endpointSystemId, supervisorMachine, type SupervisorInput } from '../../machines/supervisor.machine.js';
import { reportCoverage } from './coverage.js';
import { runShortestPaths, type ModelEvent, type ModelSpec } from './model-harness.js';

type Snap = SnapshotFrom<typeof supervisorMachine>;
const T0 = Date.UTC(2025, 2, 12, 12);
const SETTINGS: EndpointSettings = {
  rpm: 60,
  tpm: null,
  maxConcurrent: 4,
  failureThreshold: 3,
  recoveryMs: 5000,
  halfOpenProbes: 1,
  latencyWindow: 8,
  latencyPriorMs: 800,
};
const endpoint = (id: string, settings: Partial<EndpointSettings> = {}): EndpointSpawn => ({
  id,
  input: { id, model: 'm', provider: 'p', now: T0, settings: { ...SETTINGS, ...settings } },
});
const INPUT: SupervisorInput = { endpoints: [endpoint('a')], budget: { limits: [], now: T0 } };
/** Ids the model adds and removes; `a` is configured at start. */
const IDS = ['a', 'b'];
const MAX_QUEUE = 2;

function events(s: Snap, own: readonly string[]): Array<ModelEvent<typeof supervisorMachine>> {
  const ids = s.context.endpointIds;
  // A done actor takes no events (the graph's pure transition would still apply them).
  if (s.status !== 'active') return [];
  return own.flatMap((type): SupervisorEvent[] => {
    switch (type) {
      case 'request.route':
      case 'request.pick':
        return [{ type, at: T0, requestId: 'r1' }];
      case 'queue.left':
      case 'supervisor.drain':
      case 'supervisor.drained':
        return [{ type, at: T0 }];
      // Only as many as the model bounds; `queue.left` is offered at depth 0 too (it clamps).
      case 'queue.entered':
        return s.context.queueDepth < MAX_QUEUE
          ? [
              { type, at: T0, first: true },
              { type, at: T0, first: false },
            ]
          : [];
      case 'endpoints.reconfigured':
        return IDS.map((id): SupervisorEvent =>
          ids.includes(id) ? { type, at: T0, add: [], remove: [id] } : { type, at: T0, add: [endpoint(id)], remove: [] },
        );
      default:
        return [];
    }
  });
}

/** The ids the `pick` action was run for, in order (the runtime provides the real choice). */
const PICKS: string[] = [];
/** The same for `route`. */
const ROUTES: string[] = [];
const picking = supervisorMachine.provide({
  actions: {
    pick: (_args, params: { requestId: string }) => void PICKS.push(params.requestId),
    route: (_args, params: { requestId: string }) => void ROUTES.push(params.requestId),
  },
});

const spec: ModelSpec<typeof supervisorMachine> = {
  machine: picking,
  input: INPUT,
  spawns: true,
  abstract: (s) => ({
    state: s.value,
    status: s.status,
    endpointIds: [...s.context.endpointIds].sort(),
    children: Object.keys(s.children).sort(),
    queueDepth: s.context.queueDepth,
  }),
  events,
  materialize: (e) => e,
  // Counters outside the key (unbounded) are checked against a reference count, and the
  // children against the system registry.
  // Routing: while serving each `request.route` runs the provided `route` action once; otherwise
  // it is refused (emitted), never both.
  // Picking: while serving or draining each `request.pick` runs the provided `pick` action once
  // (in-flight requests still fail over while draining); stopped, never.
  // In place: what `decideInPlace` says of each route and pick (the rule the runtime applies
  // without the actor while nobody inspects) is what the machine did — the same action, the
  // same context after, no state change, nothing emitted; where it says "send", the machine
  // did more than that (a refusal).
  attach: (actor) => {
    let picksSeen = PICKS.length;
    let routesSeen = ROUTES.length;
    let routed = 0;
    let queued = 0;
    const decisions: string[] = [];
    actor.on('request.refused', (e) => decisions.push(`refused:${e.reason}`));
    return ({ event, before, after }) => {
      if (after.status === 'done') return;
      const picked = PICKS.slice(picksSeen);
      picksSeen = PICKS.length;
      const routes = ROUTES.slice(routesSeen);
      routesSeen = ROUTES.length;
      if (event.type === 'request.route' || event.type === 'request.pick') {
        const d = decideInPlace(before.value, before.context, event as SupervisorEvent);
        if (d === null) expect(decisions).not.toEqual([]);
        else {
          const ran = [...routes.map(() => 'route'), ...picked.map(() => 'pick')];
          expect({ ran, value: after.value, context: after.context, emitted: decisions }).toEqual({
            ran: d.run === null ? [] : [d.run],
            value: before.value,
            context: { ...before.context, ...d.update },
            emitted: [],
          });
        }
      }
      if (event.type === 'request.route') {
        const serving = before.value === 'serving';
        if (serving) routed++;
        expect(decisions.splice(0)).toEqual(serving ? [] : ['refused:draining']);
        expect(routes).toEqual(serving ? ['r1'] : []);
      }
      expect(picked).toEqual(event.type === 'request.pick' && before.value !== 'stopped' ? ['r1'] : []);
      // A request woken that waits again is in the depth again, not another request queued.
      if (event.type === 'queue.entered' && (event as Extract<SupervisorEvent, { type: 'queue.entered' }>).first) queued++;
      expect({ routed: after.context.routed, queued: after.context.queued }).toEqual({ routed, queued });
      expect(actor.system.get(BUDGET_SYSTEM_ID)).toBeDefined();
      for (const id of IDS) {
        const child = actor.system.get(endpointSystemId(id));
        expect(child !== undefined, `endpoint:${id} registered`).toBe(after.context.endpointIds.includes(id));
        if (child) expect(child.getSnapshot().status).toBe('active');
      }
    };
  },
};

describe('supervisor machine: model-based paths', () => {
  it('replays every edge-aware shortest path with 100% state and transition coverage', () => {
    const run = runShortestPaths(spec);
    expect(run.paths).toBeGreaterThan(10);
    const report = reportCoverage('supervisor', supervisorMachine, run.recorder.edges.values(), run.recorder.states);
    expect(report.states.missing).toEqual([]);
    expect(report.transitions.missing).toEqual([]);
  });
});

describe('supervisor machine: examples', () => {
  const start = (input: SupervisorInput = INPUT) => createActor(supervisorMachine, { input }).start();

  it('spawns the configured endpoints and the budget under their system ids', () => {
    const sup = start({ endpoints: [endpoint('a'), endpoint('b', { rpm: 3 })], budget: { limits: [], now: T0 } });
    expect(sup.system.get(endpointSystemId('b'))?.getSnapshot().context.settings.rpm).toBe(3);
    expect(sup.system.get(BUDGET_SYSTEM_ID)?.getSnapshot().value).toBe('restoring');
    expect(Object.keys(sup.getSnapshot().children).sort()).toEqual([BUDGET_SYSTEM_ID, 'endpoint:a', 'endpoint:b']);
    sup.stop();
  });

  it('reconfigure stops removed children and spawns added ones, which then work', () => {
    const sup = start();
    const a = sup.system.get(endpointSystemId('a'));
    sup.send({ type: 'endpoints.reconfigured', at: T0, add: [endpoint('c')], remove: ['a'] });
    expect(sup.getSnapshot().context.endpointIds).toEqual(['c']);
    expect(a?.getSnapshot().status).toBe('stopped');
    expect(sup.system.get(endpointSystemId('a'))).toBeUndefined();
    const c = sup.system.get(endpointSystemId('c'));
    c?.send({ type: 'request.dispatched', at: T0, estTokens: 5 });
    expect(c?.getSnapshot().context.inFlight).toBe(1);
    sup.stop();
  });

  it('an endpoint removed and re-added later gets a fresh actor', () => {
    const sup = start();
    sup.system.get(endpointSystemId('a'))?.send({ type: 'request.dispatched', at: T0, estTokens: 5 });
    sup.send({ type: 'endpoints.reconfigured', at: T0, add: [], remove: ['a'] });
    sup.send({ type: 'endpoints.reconfigured', at: T0, add: [endpoint('a')], remove: [] });
    expect(sup.system.get(endpointSystemId('a'))?.getSnapshot().context.inFlight).toBe(0);
    sup.stop();
  });

  it('routes through the provided route action while serving, and refuses while draining', () => {
    const routed: string[] = [];
    const refused: string[] = [];
    const sup = createActor(supervisorMachine.provide({ actions: { route: (_args, p: { requestId: string }) => routed.push(p.requestId) } }), {
      input: INPUT,
    }).start();
    sup.on('request.refused', (e) => refused.push(e.requestId));
    sup.send({ type: 'request.route', at: T0, requestId: 'r1' });
    sup.send({ type: 'supervisor.drain', at: T0 });
    sup.send({ type: 'request.route', at: T0, requestId: 'r2' });
    expect({ routed, refused, count: sup.getSnapshot().context.routed }).toEqual({ routed: ['r1'], refused: ['r2'], count: 1 });
    sup.stop();
  });

  it('chooses endpoints through the provided pick action while serving and draining (fail-over goes on), not once stopped', () => {
    const picked: string[] = [];
    const sup = createActor(supervisorMachine.provide({ actions: { pick: (_args, p: { requestId: string }) => void picked.push(p.requestId) } }), {
      input: INPUT,
    }).start();
    sup.send({ type: 'request.pick', at: T0, requestId: 'serving' });
    sup.send({ type: 'supervisor.drain', at: T0 });
    sup.send({ type: 'request.pick', at: T0, requestId: 'draining' });
    sup.send({ type: 'supervisor.drained', at: T0 });
    const stopped = sup.getSnapshot();
    sup.send({ type: 'request.pick', at: T0, requestId: 'stopped' });
    sup.send({ type: 'request.route', at: T0, requestId: 'stopped' });
    expect(picked).toEqual(['serving', 'draining']);
    expect(sup.getSnapshot()).toBe(stopped);
    // The in-place rule agrees: stopped, neither event runs or changes anything.
    for (const type of ['request.pick', 'request.route'] as const)
      expect(decideInPlace(stopped.value, stopped.context, { type, at: T0, requestId: 'stopped' })).toEqual({ run: null, update: null });
    sup.stop();
  });

  it('counts the queue (never below 0) and routed requests in every state until stopped', () => {
    const sup = start();
    sup.send({ type: 'queue.left', at: T0 });
    sup.send({ type: 'queue.entered', at: T0, first: true });
    sup.send({ type: 'queue.entered', at: T0, first: true });
    sup.send({ type: 'queue.left', at: T0 });
    // The same request waiting again: in the depth, not counted as queued twice.
    sup.send({ type: 'queue.entered', at: T0, first: false });
    sup.send({ type: 'queue.left', at: T0 });
    sup.send({ type: 'supervisor.drain', at: T0 });
    sup.send({ type: 'request.route', at: T0, requestId: 'late' });
    sup.send({ type: 'endpoints.reconfigured', at: T0, add: [endpoint('z')], remove: [] });
    expect(sup.getSnapshot().value).toBe('draining');
    expect(sup.getSnapshot().context).toMatchObject({ queueDepth: 1, queued: 2, routed: 0, endpointIds: ['a'] });
    sup.send({ type: 'supervisor.drained', at: T0 });
    expect(sup.getSnapshot().status).toBe('done');
    expect(sup.system.get(endpointSystemId('a'))?.getSnapshot().status ?? 'stopped').toBe('stopped');
  });
});
