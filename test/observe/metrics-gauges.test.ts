/**
 * The live gauges of `/metrics` (endpoint state, in-flight, budget remaining) follow the
 * runtime's current endpoints and budgets: after a reload removes one, its series go, rather
 * than exporting their last value for ever (an alert on a circuit-open endpoint that no longer
 * exists would never clear).
 */
import { describe, expect, it } from 'vitest';
import { noteEscalations } from '../../src/observe/cascade-ops.js';
import { InspectionHub } from '../../src/observe/hub.js';
import { Metrics } from '../../src/observe/metrics.js';
import type { CascadeRecord } from '../../src/runtime/cascade.js';
import type { RequestRecord } from '../../src/runtime/core.js';
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

describe('switchyard_cost_usd_total', () => {
  it("is the exact sum of the requests' nano-USD costs, as the ledger sums them (no float drift)", async () => {
    const m = new Metrics(() => ({ endpoints: [], budgets: [], supervisor: { queueDepth: 0 } }) as unknown as StateView);
    const rec: RequestRecord = {
      model: 'deepseek-v3.2',
      endpoint: 'deepseek-v3.2@deepseek',
      status: 200,
      attempts: 1,
      latencyMs: 20,
      ttftMs: null,
      usage: { promptTokens: 17, completionTokens: 12 },
      costNano: 9800,
      stream: false,
      api: 'chat',
    };
    // 0.0000098 added to itself as a float 37 times is 0.0003626000000000002.
    for (let i = 0; i < 37; i++) m.onRequest(rec);
    expect(await m.text()).toMatch(/^switchyard_cost_usd_total\{model="deepseek-v3\.2"\} 0\.0003626$/m);
  });

  it('puts each part of a request on the model it was charged to, as the budgets and /switchyard/spend do (a fail-over to another model was all on the last)', async () => {
    const m = new Metrics(() => ({ endpoints: [], budgets: [], supervisor: { queueDepth: 0 } }) as unknown as StateView);
    const rec: RequestRecord = {
      model: 'claude-sonnet-4.5',
      endpoint: 'claude-sonnet-4.5@anthropic',
      status: 200,
      attempts: 2,
      latencyMs: 20,
      ttftMs: null,
      usage: { promptTokens: 17, completionTokens: 12 },
      costNano: 1_913_000,
      costByModel: new Map([
        ['gpt-4.1', 368_000],
        ['claude-sonnet-4.5', 1_545_000],
      ]),
      stream: true,
      api: 'chat',
    };
    m.onRequest(rec);
    const text = await m.text();
    expect(text).toMatch(/^switchyard_cost_usd_total\{model="gpt-4\.1"\} 0\.000368$/m);
    expect(text).toMatch(/^switchyard_cost_usd_total\{model="claude-sonnet-4\.5"\} 0\.001545$/m);
  });
});

describe('switchyard_cascade_steps_total and the timeline of a cascade', () => {
  // cheap's answer was cut (truncated), mid's and top's were empty: cheap's answer, the best, was delivered.
  const rec: CascadeRecord = {
    requestId: 'req-1',
    steps: [
      { model: 'cheap', outcome: 'truncated', costNano: 1_000 },
      { model: 'mid', outcome: 'empty', costNano: 20_000 },
      { model: 'top', outcome: 'empty', costNano: 300_000 },
    ],
    delivered: 0,
    holdMs: null,
    costNano: 321_000,
    api: 'chat',
    status: 200,
  };

  it('a step that escalated and was delivered in the end counts both (the escalation from the cheap step was lost)', async () => {
    const m = new Metrics(() => ({ endpoints: [], budgets: [], supervisor: { queueDepth: 0 } }) as unknown as StateView);
    m.onCascade(rec);
    const lines = (await m.text()).split('\n').filter((l) => l.startsWith('switchyard_cascade_steps_total{'));
    expect(lines.sort()).toEqual([
      'switchyard_cascade_steps_total{from="cheap",to="client",reason="truncated"} 1',
      'switchyard_cascade_steps_total{from="cheap",to="mid",reason="truncated"} 1',
      'switchyard_cascade_steps_total{from="mid",to="top",reason="empty"} 1',
      'switchyard_cascade_steps_total{from="top",to="none",reason="empty"} 1',
    ]);
  });

  it("the timeline has every escalation and the delivery, each with its step's own cost", () => {
    const hub = new InspectionHub(50, () => 7);
    noteEscalations(hub, rec);
    const h = hub
      .history()
      .map((r) => [r.from, r.to, (r.context as { costUsd: number; requestCostUsd: number }).costUsd, (r.context as { requestCostUsd: number }).requestCostUsd]);
    expect(h).toEqual([
      ['cheap', 'mid', 0.000001, 0.000321],
      ['cheap', 'delivered', 0.000001, 0.000321],
      ['mid', 'top', 0.00002, 0.000321],
    ]);
  });
});
