/**
 * The supervisor owns the long-lived actors (one endpoint actor per configured endpoint, the
 * budget actor) and is where a request is routed: one `request.route` event in, one decision
 * out. While `serving` it runs the `route` action — classifier and candidate order, an
 * implementation the runtime provides from src/routing (`supervisorMachine.provide`), since
 * machines do no I/O and hold no config — and counts it; while `draining` it emits
 * `request.refused` instead. Each attempt's endpoint is chosen here too:
 * `request.pick` in, the `pick` action (provided from src/runtime/pick.ts) reads the candidates'
 * live endpoint state at that moment, so a retry or fail-over sees what changed since routing;
 * while draining, picks go on (in-flight requests may still fail over) but routes are refused.
 * Each request's own life is the request chart
 * (request.machine.ts), run as a reducer: spawning a child per request costs O(children) per
 * spawn (see shared/design/xstate-notes.md), so it is never done.
 *
 * States: `serving` → `draining` (SIGTERM: refuse new requests, let in-flight finish) → `stopped`.
 */
import { assign, emit, setup, spawnChild, stopChild, enqueueActions, assertEvent } from 'xstate';
import { budgetMachine, type BudgetInput } from './budget.machine.js';
import { endpointMachine } from './endpoint.machine.js';
import type { EndpointSpawn, RouteRefused, SupervisorEvent } from './events.js';

export interface SupervisorInput {
  endpoints: EndpointSpawn[];
  budget: BudgetInput;
}

export interface SupervisorContext {
  endpointIds: string[];
  queueDepth: number;
  routed: number;
  /** Requests that entered the queue since start. */
  queued: number;
}

/** The system id of an endpoint actor, for `system.get()`. */
export const endpointSystemId = (id: string): string => `endpoint:${id}`;
export const BUDGET_SYSTEM_ID = 'budget';

export type SupervisorStateValue = 'serving' | 'draining' | 'stopped';

/** `countRouted`'s update: one more request routed. */
const routedOne = (ctx: SupervisorContext): Partial<SupervisorContext> => ({ routed: ctx.routed + 1 });

/** What the machine does with a `request.route` or `request.pick` that it takes without crossing an edge. */
export interface InPlaceDecision {
  /** The provided action it runs (`route` or `pick`), or null: it takes the event and does nothing. */
  run: 'route' | 'pick' | null;
  /** Then the context update its `countRouted` makes (null: none). */
  update: Partial<SupervisorContext> | null;
}

/**
 * The machine's own rule for a request's `request.route` and `request.pick` (issue 14: state
 * edges are actor events, per-request decisions need not be). In `state` this returns exactly
 * what the transition below does — the action it runs and the context update after it — so the
 * runtime can run the action and apply the update to the live context in place while nobody
 * inspects every event. Serving, a route runs `route` then `countRouted`; serving or draining, a
 * pick runs `pick`; stopped (final) takes neither. `null`: the event has effects beyond that (a
 * route while draining emits `request.refused`), send it.
 * (test/machines/supervisor.in-place.test.ts checks it against the machine, state by state.)
 */
export function decideInPlace(state: SupervisorStateValue, ctx: SupervisorContext, ev: SupervisorEvent): InPlaceDecision | null {
  if (ev.type === 'request.route') {
    if (state === 'serving') return { run: 'route', update: routedOne(ctx) };
    return state === 'stopped' ? { run: null, update: null } : null;
  }
  if (ev.type === 'request.pick') return { run: state === 'stopped' ? null : 'pick', update: null };
  return null;
}

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
    emitted: {} as RouteRefused,
  },
  actors: { endpoint: endpointMachine, budget: budgetMachine },
  actions: {
    countRouted: assign(({ context }) => routedOne(context)),
    /** Routing proper; the runtime provides it (src/routing). Here: a no-op, so the machine runs alone in tests. */
    route: (_args, _params: { requestId: string }) => {},
    /** Endpoint choice for one attempt; the runtime provides it (src/runtime/pick.ts). A no-op here. */
    pick: (_args, _params: { requestId: string }) => {},
    refuse: emit(({ event }) => {
      assertEvent(event, 'request.route');
      return { type: 'request.refused' as const, requestId: event.requestId, reason: 'draining' as const };
    }),
    enterQueue: assign(({ context, event }) => {
      assertEvent(event, 'queue.entered');
      return { queueDepth: context.queueDepth + 1, queued: context.queued + (event.first ? 1 : 0) };
    }),
    leaveQueue: assign(({ context }) => ({ queueDepth: Math.max(0, context.queueDepth - 1) })),
    reconfigure: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'endpoints.reconfigured');
      const ev = event;
      for (const id of ev.remove) enqueue(stopChild(endpointSystemId(id)));
      for (const spec of ev.add) {
        enqueue(spawnChild('endpoint', { id: endpointSystemId(spec.id), systemId: endpointSystemId(spec.id), input: spec.input }));
      }
      const kept = context.endpointIds.filter((id) => !ev.remove.includes(id));
      enqueue.assign({ endpointIds: [...kept, ...ev.add.map((s) => s.id)] });
    }),
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input, spawn }) => {
    spawn('budget', { id: BUDGET_SYSTEM_ID, systemId: BUDGET_SYSTEM_ID, input: input.budget });
    for (const spec of input.endpoints) {
      spawn('endpoint', { id: endpointSystemId(spec.id), systemId: endpointSystemId(spec.id), input: spec.input });
    }
    return { endpointIds: input.endpoints.map((e) => e.id), queueDepth: 0, routed: 0, queued: 0 };
  },
  initial: 'serving',
  on: {
    'request.route': { actions: 'refuse' },
    'queue.entered': { actions: 'enterQueue' },
    'queue.left': { actions: 'leaveQueue' },
  },
  states: {
    serving: {
      on: {
        'request.route': { actions: [{ type: 'route', params: ({ event }) => ({ requestId: event.requestId }) }, 'countRouted'] },
        'request.pick': { actions: { type: 'pick', params: ({ event }) => ({ requestId: event.requestId }) } },
        'endpoints.reconfigured': { actions: 'reconfigure' },
        'supervisor.drain': { target: 'draining' },
      },
    },
    draining: {
      on: {
        // In-flight requests finish while draining, fail-over included.
        'request.pick': { actions: { type: 'pick', params: ({ event }) => ({ requestId: event.requestId }) } },
        'supervisor.drained': { target: 'stopped' },
      },
    },
    stopped: { type: 'final' },
  },
});
