/**
 * The supervisor owns the long-lived actors (one endpoint actor per configured endpoint, the
 * budget actor) and counts what the request flow does. Requests themselves are plain async
 * code that sends events to these actors: spawning a child per request costs O(children)
 * per spawn (see shared/design/xstate-notes.md), so it is never done.
 *
 * States: `serving` → `draining` (SIGTERM: stop accepting, let in-flight finish) → `stopped`.
 */
import { assign, setup, spawnChild, stopChild, enqueueActions, assertEvent } from 'xstate';
import { budgetMachine, type BudgetInput } from './budget.machine.js';
import { endpointMachine } from './endpoint.machine.js';
import type { EndpointSpawn, SupervisorEvent } from './events.js';

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

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
  },
  actors: { endpoint: endpointMachine, budget: budgetMachine },
  actions: {
    countRouted: assign(({ context }) => ({ routed: context.routed + 1 })),
    enterQueue: assign(({ context }) => ({ queueDepth: context.queueDepth + 1, queued: context.queued + 1 })),
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
    'request.routed': { actions: 'countRouted' },
    'queue.entered': { actions: 'enterQueue' },
    'queue.left': { actions: 'leaveQueue' },
  },
  states: {
    serving: {
      on: {
        'endpoints.reconfigured': { actions: 'reconfigure' },
        'supervisor.drain': { target: 'draining' },
      },
    },
    draining: {
      on: { 'supervisor.drained': { target: 'stopped' } },
    },
    stopped: { type: 'final' },
  },
});
