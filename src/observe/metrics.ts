/**
 * `/metrics` (prom-client, its own registry): requests by model, endpoint and status;
 * attempts and fail-overs; latency and time-to-first-token histograms; tokens; cost; budget
 * remaining; each endpoint's state as a gauge; queue depth; transitions counted.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { PUBLIC_STATE, type EndpointStateValue } from '../../machines/endpoint.machine.js';
import { NANO_PER_USD } from '../accounting/money.js';
import type { CascadeRecord } from '../runtime/cascade.js';
import type { RequestRecord } from '../runtime/core.js';
import type { StateView } from '../runtime/state-view.js';
import type { HubRecord } from './hub.js';

const STATES = ['healthy', 'throttled', 'circuit-open', 'half-open'] as const;

/**
 * The `outcome` label of `switchyard_attempts_total` for an endpoint actor's event that ends an
 * attempt (null for one that does not): `succeeded`, `released`, or `failed:<fault kind>`; an
 * upstream 429 is `failed:rate_limited` (it was counted as the event's own name, `rateLimited`,
 * which no documented outcome is, so `outcome=~"failed:.*"` missed every 429).
 */
export function attemptOutcome(e: { type: string; fault?: string }): string | null {
  switch (e.type) {
    case 'upstream.succeeded':
      return 'succeeded';
    case 'upstream.released':
      return 'released';
    case 'upstream.failed':
      return `failed:${e.fault ?? 'other'}`;
    case 'upstream.rateLimited':
      return 'failed:rate_limited';
    default:
      // `upstream.answering` (a probe's answer began) and anything else is no attempt's end.
      return null;
  }
}

/**
 * The per-request counters' totals, kept here by label values and handed to prom-client when
 * it collects (a scrape): prom-client builds and hashes a label string on every `inc` (~1.3 KB
 * of strings per request, a heap sampling profile of the JSON path). Cells are found through
 * one Map per label, in the counter's label order; the output is the same series and values.
 */
export class Tally {
  private readonly root = new Map<string, unknown>();
  private readonly cells: Array<{ labels: Record<string, string>; value: number }> = [];
  /**
   * The label values of {@link inc1}..{@link inc3} (the one matching the label count), filled in
   * place: `inc` reads them synchronously and copies what it keeps.
   */
  private readonly buf: string[];

  constructor(
    private readonly counter: Counter<string>,
    private readonly names: readonly string[],
    /** Totals are exported divided by this: integers (nano-USD) summed exactly, converted once per scrape. */
    private readonly divisor = 1,
  ) {
    this.buf = names.map(() => '');
  }

  /** `inc([a], by)` without the array (one label). */
  inc1(a: string, by = 1): void {
    const v = this.buf;
    v[0] = a;
    this.inc(v, by);
  }

  /** `inc([a, b], by)` without the array (two labels). */
  inc2(a: string, b: string, by = 1): void {
    const v = this.buf;
    v[0] = a;
    v[1] = b;
    this.inc(v, by);
  }

  /** `inc([a, b, c], by)` without the array (three labels). */
  inc3(a: string, b: string, c: string, by = 1): void {
    const v = this.buf;
    v[0] = a;
    v[1] = b;
    v[2] = c;
    this.inc(v, by);
  }

  /** Add `by` to the series of these label values (in `names` order). */
  inc(values: readonly string[], by = 1): void {
    let node = this.root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(values[i]!) as Map<string, unknown> | undefined;
      if (next === undefined) node.set(values[i]!, (next = new Map()));
      node = next;
    }
    let cell = node.get(values[last]!) as { labels: Record<string, string>; value: number } | undefined;
    if (cell === undefined) {
      cell = { labels: Object.fromEntries(this.names.map((n, i) => [n, values[i]!])), value: 0 };
      node.set(values[last]!, cell);
      this.cells.push(cell);
    }
    cell.value += by;
  }

  /** prom-client's `collect`: the counter is set to the totals kept here. */
  collect(): void {
    this.counter.reset();
    for (const c of this.cells) this.counter.inc(c.labels, this.divisor === 1 ? c.value : c.value / this.divisor);
  }
}

/** A counter whose per-request increments go through a {@link Tally}. */
export function tallied(registry: Registry, name: string, help: string, labelNames: readonly string[], divisor = 1): Tally {
  let tally: Tally | null = null;
  const counter: Counter<string> = new Counter({ name, help, labelNames, registers: [registry], collect: () => tally?.collect() });
  tally = new Tally(counter, labelNames, divisor);
  return tally;
}
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

interface Series {
  labels: Record<string, string>;
  /** Observations per bucket (not cumulative); values above the last bound are only in `count`. */
  counts: number[];
  sum: number;
  count: number;
}

/** One exported sample, as prom-client's Histogram hands it to the registry. */
interface Sample {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

/**
 * A histogram by one label whose observations are counted here, by label value, and exported in
 * exactly the form prom-client's Histogram exports (the registry formats both alike): its
 * `observe` builds, validates and hashes a label object on every call (~0.5 µs). The series, the
 * sums (added in the same order), the buckets and their order are the same;
 * test/observe/latency-histogram.test.ts holds the two equal.
 */
export class LabelledHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly label: string,
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  observe(labelValue: string, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${String(value)}`);
    let s = this.series.get(labelValue);
    if (s === undefined) {
      s = { labels: { [this.label]: labelValue }, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(labelValue, s);
    }
    s.sum += value;
    s.count += 1;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        s.counts[i]! += 1;
        break;
      }
    }
  }

  reset(): void {
    this.series.clear();
  }

  /** What the registry reads for the text format. */
  getForPromString(): { name: string; help: string; type: string; values: Sample[]; aggregator: string } {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le }, sharedLabels: s.labels, value: acc, metricName: bucket, exemplar: null });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucket, exemplar: null });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum`, exemplar: undefined });
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count`, exemplar: undefined });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** The JSON form (getMetricsAsJSON): each sample's shared labels merged into its own, as prom-client does. */
  get(): Promise<{ name: string; help: string; type: string; values: Array<Omit<Sample, 'sharedLabels'>>; aggregator: string }> {
    const data = this.getForPromString();
    return Promise.resolve({
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: Object.assign({ ...labels }, sharedLabels) })),
    });
  }
}

const STATUS_TEXT = new Map<number, string>();
/** `String(status)`, one string per status. */
function statusText(status: number): string {
  let t = STATUS_TEXT.get(status);
  if (t === undefined) STATUS_TEXT.set(status, (t = String(status)));
  return t;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests = tallied(this.registry, 'switchyard_requests_total', 'Requests answered, by model, endpoint and HTTP status', [
    'model',
    'endpoint',
    'status',
  ]);
  private readonly attempts = tallied(
    this.registry,
    'switchyard_attempts_total',
    'Upstream attempts, by endpoint and outcome (succeeded; failed:<fault kind>, failed:rate_limited for an upstream 429; released: ended without counting against the endpoint, such as a client gone or a request error of the client)',
    ['endpoint', 'outcome'],
  );
  private readonly failovers = new Counter({
    name: 'switchyard_failovers_total',
    help: 'Requests whose next attempt went to another endpoint, by the endpoint they left (a retry on the same endpoint is not counted)',
    labelNames: ['endpoint'],
    registers: [this.registry],
  });
  private readonly latency = new LabelledHistogram('switchyard_request_duration_seconds', 'Whole-request latency', 'model', LATENCY_BUCKETS, this.registry);
  private readonly ttft = new LabelledHistogram(
    'switchyard_time_to_first_token_seconds',
    'Time to the first streamed content token',
    'model',
    LATENCY_BUCKETS,
    this.registry,
  );
  private readonly tokens = tallied(this.registry, 'switchyard_tokens_total', 'Tokens billed, by model and kind', ['model', 'kind']);
  /** Kept in integer nano-USD, as the ledger keeps it, so the total is the ledger's sum and not a float sum's drift. */
  private readonly cost = tallied(this.registry, 'switchyard_cost_usd_total', 'Cost in USD, by model', ['model'], NANO_PER_USD);
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
  private readonly budgetDecisions = tallied(this.registry, 'switchyard_budget_decisions_total', 'Budget reservations, by decision', ['decision']);

  constructor(state: () => StateView) {
    const reg = [this.registry];
    new Gauge({
      name: 'switchyard_endpoint_state',
      help: 'Current state of each endpoint actor (1 for the state it is in)',
      labelNames: ['endpoint', 'state'],
      registers: reg,
      collect() {
        // Reset first: an endpoint a reload removed must not go on exporting its last state.
        this.reset();
        for (const e of state().endpoints) for (const s of STATES) this.set({ endpoint: e.id, state: s }, e.state === s ? 1 : 0);
      },
    });
    new Gauge({
      name: 'switchyard_endpoint_in_flight',
      help: 'Requests in flight per endpoint',
      labelNames: ['endpoint'],
      registers: reg,
      collect() {
        this.reset();
        for (const e of state().endpoints) this.set({ endpoint: e.id }, e.inFlight);
      },
    });
    new Gauge({
      name: 'switchyard_budget_remaining_usd',
      help: 'Budget left in the current period (limit - spent - reserved)',
      labelNames: ['budget'],
      registers: reg,
      collect() {
        this.reset();
        for (const b of state().budgets) this.set({ budget: b.id }, b.remainingUsd);
      },
    });
    new Gauge({
      name: 'switchyard_shared_state_up',
      help: 'Shared state (Redis) usable by this replica: 1 up, 0 down or not admitting (503 shared_state_unavailable: Redis unreachable, counters not rebuilt, or another ledger than the other replicas); absent with the in-process store',
      labelNames: ['replica'],
      registers: reg,
      collect() {
        const sh = state().shared;
        this.reset();
        if (sh && sh.health !== 'local') this.set({ replica: sh.replica }, sh.health === 'up' && sh.admitting ? 1 : 0);
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
    this.requests.inc3(model, r.endpoint ?? 'none', statusText(r.status));
    this.latency.observe(model, r.latencyMs / 1000);
    if (r.ttftMs !== null) this.ttft.observe(model, r.ttftMs / 1000);
    if (r.usage.promptTokens) this.tokens.inc2(model, 'prompt', r.usage.promptTokens);
    if (r.usage.completionTokens) this.tokens.inc2(model, 'completion', r.usage.completionTokens);
    if (r.costNano) this.addCost(model, r.costNano, r.costByModel);
  }

  /**
   * A request's cost on the model each part was charged to, as its budgets and `/switchyard/spend`
   * count it: the parts billed on other models (an attempt that failed over, a stream continued
   * elsewhere) on theirs, the rest on the request's own (it was all on the request's model).
   */
  private addCost(model: string, costNano: number, byModel: ReadonlyMap<string, number> | undefined): void {
    let own = costNano;
    if (byModel !== undefined)
      for (const [m, c] of byModel) {
        if (m === model || c <= 0) continue;
        this.cost.inc1(m, c);
        own -= c;
      }
    if (own > 0) this.cost.inc1(model, own);
  }

  onCascade(r: CascadeRecord): void {
    // A step that escalated counts towards the next step's model, and also towards `client` when its
    // answer was the one delivered in the end (a later step's was no better); `none`: the last step,
    // its answer not delivered (none was, or an earlier step's was).
    r.steps.forEach((s, i) => {
      const from = s.model ?? 'none';
      const next = r.steps[i + 1];
      if (next) this.cascadeSteps.inc({ from, to: next.model ?? 'none', reason: s.outcome });
      if (i === r.delivered) this.cascadeSteps.inc({ from, to: 'client', reason: s.outcome });
      else if (!next) this.cascadeSteps.inc({ from, to: 'none', reason: s.outcome });
    });
    if (r.holdMs !== null) this.cascadeHold.observe(r.holdMs / 1000);
  }

  onAttempt(endpoint: string, outcome: string): void {
    this.attempts.inc2(endpoint, outcome);
  }

  /** One per request that moved on from `endpoint` to another one (a retry on the same endpoint is not one). */
  onFailover(endpoint: string): void {
    this.failovers.inc({ endpoint });
  }

  onRecord(r: HubRecord): void {
    // A replaced endpoint's draining actor is not the endpoint the state and these series show.
    if (r.kind === 'transition' && r.from !== null && r.replaced !== true) {
      const actor = r.actor; // the endpoint's public id (hub.ts publicId), not a replaced actor's `#N`
      // Endpoint states by the contract's names (the machine's own since they were renamed; kept as the one mapping point).
      const name = actor.startsWith('endpoint:') ? (s: string) => PUBLIC_STATE[s as EndpointStateValue] ?? s : (s: string) => s;
      this.transitions.inc({ actor, from: name(r.from), to: name(r.to ?? '') });
    } else if (r.kind === 'budget') this.budgetDecisions.inc1(r.to ?? '');
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
