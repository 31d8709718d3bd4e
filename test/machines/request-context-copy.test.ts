/**
 * The reducer copies the context field by field (machines/request.machine.ts `copy`): every step
 * keeps exactly initialContext's keys, in its order, whatever the events (the model tests check
 * the values against the XState machine).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialContext, startRequest, stepRequest, type ReqEvent, type ReqInput } from '../../machines/request.machine.js';

const input: ReqInput = { receivedAt: 0, deadlineAt: 60_000, maxTotalAttempts: 3, maxCostNano: 500 };
const fault = { kind: 'http_status', status: 503 };
const event = fc.constantFrom<ReqEvent>(
  { type: 'request.routed', at: 1, candidates: ['a', 'b'] },
  { type: 'route.refused', at: 1 },
  { type: 'endpoint.picked', at: 1, endpoint: 'a@x', model: 'a', amount: 100 },
  { type: 'endpoint.picked', at: 1, endpoint: 'b@x', model: 'b', amount: 900 },
  { type: 'endpoint.none', at: 1, waitable: true, earliest: 50, unknown: false },
  { type: 'capacity.freed', at: 2 },
  { type: 'timer.fired', at: 2 },
  { type: 'budget.granted', at: 1, budgets: ['g'], slotGone: false },
  { type: 'budget.granted', at: 1, budgets: ['g'], slotGone: true },
  { type: 'budget.refused', at: 1, budget: 'g', limit: 1, spent: 1, reserved: 0, everyModel: true },
  { type: 'budget.refused', at: 1, budget: 'model:a:day', limit: 1, spent: 1, reserved: 0, everyModel: false },
  { type: 'attempt.committed', at: 2 },
  { type: 'attempt.succeeded', at: 3, costNano: 50 },
  { type: 'attempt.failed', at: 3, fault, next: 'retry_same', delayMs: 10, partialCostNano: 0, smallerModels: [] },
  { type: 'attempt.failed', at: 3, fault, next: 'failover', delayMs: 0, partialCostNano: 7, smallerModels: [] },
  { type: 'budget.settled', at: 3 },
);

describe('the request reducer', () => {
  it("keeps initialContext's keys in their order on every step (property)", () => {
    const keys = Object.keys(initialContext(input));
    fc.assert(
      fc.property(fc.array(event, { maxLength: 30 }), (events) => {
        let s = startRequest(input);
        for (const e of events) {
          s = stepRequest(s, e);
          expect(Object.keys(s.context)).toEqual(keys);
        }
      }),
      { numRuns: 500 },
    );
  });
});
