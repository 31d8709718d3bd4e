/**
 * `/metrics` (prom-client, its own registry): requests by model, endpoint and status;
 * attempts and fail-overs; latency and time-to-first-token histograms; tokens; cost; budget
 * remaining; each endpoint's state as a gauge; queue depth; transitions counted.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { PUBLIC_STATE, type EndpointStateValue } from '../../machines/endpoint.machine.js';
import { nanoToUsd } from '../accounting/money.js';
import type { CascadeRecord } from '../runtime/cascade.js';
import type { RequestRecord } from '../runtime/core.js';
import type { StateView } from '../runtime/state-view.js';
import type { HubRecord } from './hub.js';

const STATES = ['healthy', 'throttled', 'circuit-open', 'half-open'] as const;
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'switchyard_requests_total',
    help: 'Requests answered, by model, endpoint and HTTP status',
    labelNames: ['model', 'endpoint', 'status'],
    registers: [this.registry],
  });
  private readonly attempts = new Counter({
    name: 'switchyard_attempts_total',
    help: 'Upstream attempts, by endpoint and outcome (succeeded, or failed:<fault kind>)',
    labelNames: ['endpoint', 'outcome'],
    registers: [this.registry],
  });
  private readonly failovers = new Counter({
    name: 'switchyard_failovers_total',
    help: 'Requests whose next attempt went to another endpoint, by the endpoint they left (a retry on the same endpoint is not counted)',
    labelNames: ['endpoint'],
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'switchyard_request_duration_seconds',
    help: 'Whole-request latency',
    labelNames: ['model'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly ttft = new Histogram({
    name: 'switchyard_time_to_first_token_seconds',
    help: 'Time to the first streamed content token',
    labelNames: ['model'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly tokens = new Counter({
    name: 'switchyard_tokens_total',
    help: 'Tokens billed, by model and kind',
    labelNames: ['model', 'kind'],
    registers: [this.registry],
  });
  private readonly cost = new Counter({ name: 'switchyard_cost_usd_total', help: 'Cost in USD, by model', labelNames: ['model'], registers: [this.registry] });
  private readonly transitions = new Counter({
    name: 'switchyard_transitions_total',
    help: 'Actor state transitions',
    labelNames: ['actor', 'from', 'to'],
    registers: [this.registry],
  });
  private readonly cascadeSteps = new Counter({
    name: 'switchyard_cascade_steps_total',
    help: 'Quality cascade steps: from the model that answered to the next one (or "client" when delivered), by check outcome',
    labelNames: ['from', 'to', 'reason'],
    registers: [this.registry],
  });
  private readonly cascadeHold = new Histogram({
    name: 'switchyard_cascade_hold_seconds',
    help: 'Time a cascaded stream was held back by the checks before its first byte',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly budgetDecisions = new Counter({
    name: 'switchyard_budget_decisions_total',
    help: 'Budget reservations, by decision',
    labelNames: ['decision'],
    registers: [this.registry],
  });

  constructor(state: () => StateView) {
    const reg = [this.registry];
    new Gauge({
      name: 'switchyard_endpoint_state',
      help: 'Current state of each endpoint actor (1 for the state it is in)',
      labelNames: ['endpoint', 'state'],
      registers: reg,
      collect() {
        for (const e of state().endpoints) for (const s of STATES) this.set({ endpoint: e.id, state: s }, e.state === s ? 1 : 0);
      },
    });
    new Gauge({
      name: 'switchyard_endpoint_in_flight',
      help: 'Requests in flight per endpoint',
      labelNames: ['endpoint'],
      registers: reg,
      collect() {
        for (const e of state().endpoints) this.set({ endpoint: e.id }, e.inFlight);
      },
    });
    new Gauge({
      name: 'switchyard_budget_remaining_usd',
      help: 'Budget left in the current period (limit - spent - reserved)',
      labelNames: ['budget'],
      registers: reg,
      collect() {
        for (const b of state().budgets) this.set({ budget: b.id }, b.remainingUsd);
      },
    });
    new Gauge({
      name: 'switchyard_shared_state_up',
      help: 'Shared state (Redis) reachable: 1 up, 0 down (503 shared_state_unavailable); absent with the in-process store',
      labelNames: ['replica'],
      registers: reg,
      collect() {
        const sh = state().shared;
        this.reset();
        if (sh && sh.health !== 'local') this.set({ replica: sh.replica }, sh.health === 'up' ? 1 : 0);
      },
    });
    new Counter({
      name: 'switchyard_shared_state_events_total',
      help: 'Shared-state events since start, by kind (unavailable: requests refused with 503; outages; rebuilds; seeded; reclaimed)',
      labelNames: ['kind'],
      registers: reg,
      collect() {
        // The shared store keeps the counts; a scrape copies them (they only grow).
        const c = state().shared?.counters;
        this.reset();
        if (c) for (const k of ['unavailable', 'outages', 'rebuilds', 'seeded', 'reclaimed'] as const) this.inc({ kind: k }, c[k]);
      },
    });
    new Gauge({
      name: 'switchyard_queue_depth',
      help: 'Requests waiting for a throttled endpoint',
      registers: reg,
      collect() {
        this.set(state().supervisor.queueDepth);
      },
    });
  }

  onRequest(r: RequestRecord): void {
    const model = r.model ?? 'none';
    this.requests.inc({ model, endpoint: r.endpoint ?? 'none', status: String(r.status) });
    this.latency.observe({ model }, r.latencyMs / 1000);
    if (r.ttftMs !== null) this.ttft.observe({ model }, r.ttftMs / 1000);
    if (r.usage.promptTokens) this.tokens.inc({ model, kind: 'prompt' }, r.usage.promptTokens);
    if (r.usage.completionTokens) this.tokens.inc({ model, kind: 'completion' }, r.usage.completionTokens);
    if (r.costNano) this.cost.inc({ model }, nanoToUsd(r.costNano));
  }

  onCascade(r: CascadeRecord): void {
    r.steps.forEach((s, i) => {
      const delivered = i === r.delivered;
      const to = delivered ? 'client' : (r.steps[i + 1]?.model ?? 'none');
      this.cascadeSteps.inc({ from: s.model ?? 'none', to, reason: s.outcome });
    });
    if (r.holdMs !== null) this.cascadeHold.observe(r.holdMs / 1000);
  }

  onAttempt(endpoint: string, outcome: string): void {
    this.attempts.inc({ endpoint, outcome });
  }

  /** One per request that moved on from `endpoint` to another one (a retry on the same endpoint is not one). */
  onFailover(endpoint: string): void {
    this.failovers.inc({ endpoint });
  }

  onRecord(r: HubRecord): void {
    if (r.kind === 'transition' && r.from !== null) {
      const actor = r.actor.replace(/#\d+$/, '');
      // Endpoint states by the contract's names (the machine's own since they were renamed; kept as the one mapping point).
      const name = actor.startsWith('endpoint:') ? (s: string) => PUBLIC_STATE[s as EndpointStateValue] ?? s : (s: string) => s;
      this.transitions.inc({ actor, from: name(r.from), to: name(r.to ?? '') });
    } else if (r.kind === 'budget') this.budgetDecisions.inc({ decision: r.to ?? '' });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
