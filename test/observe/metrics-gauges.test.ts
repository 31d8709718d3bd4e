/**
 * The live gauges of `/metrics` (endpoint state, in-flight, budget remaining) follow the
 * runtime's current endpoints and budgets: after a reload removes one, its series go, rather
 * than exporting their last value for ever (an alert on a circuit-open endpoint that no longer
 * exists would never clear).
 */
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observe/metrics.js';
import type { StateView } from '../../src/runtime/state-view.js';

const endpoint = (id: string, state: string) => ({ id, state, inFlight: 2 });
const budget = (id: string) => ({ id, remainingUsd: 7 });

describe('Metrics gauges', () => {
  it('drop the series of endpoints and budgets that are gone', async () => {
    let view = {
      endpoints: [endpoint('a@x', 'circuit-open'), endpoint('b@x', 'healthy')],
      budgets: [budget('global:day'), budget('model:a:day')],
      supervisor: { queueDepth: 0 },
    };
    const m = new Metrics(() => view as unknown as StateView);
    const before = await m.text();
    expect(before).toContain('switchyard_endpoint_state{endpoint="a@x",state="circuit-open"} 1');
    expect(before).toContain('switchyard_endpoint_in_flight{endpoint="a@x"} 2');
    expect(before).toContain('switchyard_budget_remaining_usd{budget="model:a:day"} 7');

    view = { ...view, endpoints: [endpoint('b@x', 'healthy'), endpoint('c@x', 'half-open')], budgets: [budget('global:day')] };
    const after = await m.text();
    expect(after).not.toContain('a@x');
    expect(after).not.toContain('model:a:day');
    expect(after).toContain('switchyard_endpoint_state{endpoint="c@x",state="half-open"} 1');
    expect(after).toContain('switchyard_endpoint_state{endpoint="b@x",state="healthy"} 1');
    expect(after).toContain('switchyard_budget_remaining_usd{budget="global:day"} 7');
  });
});
