/**
 * The runtime: the only place where the machines meet real actors. It starts the supervisor
 * (which spawns one endpoint actor per endpoint and the budget actor), builds the handles the
 * request driver uses, rebuilds budgets from the ledger, and reloads config without dropping
 * requests.
 */
import type { Logger } from 'pino';
import { createActor, type ActorRefFrom, type InspectionEvent } from 'xstate';
import { after429, ownWindowThrottle, PUBLIC_STATE, type EndpointStateValue } from '../../machines/endpoint.machine.js';
import type { BudgetEvent, EndpointEvent, EndpointSpawn, SupervisorEvent } from '../../machines/events.js';
import { BUDGET_SYSTEM_ID, decideInPlace, endpointSystemId, supervisorMachine, type InPlaceDecision } from '../../machines/supervisor.machine.js';
import type { budgetMachine, BudgetContext } from '../../machines/budget.machine.js';
import type { InFlight, LedgerStore } from '../accounting/ledger.js';
import type { Config } from '../config/schema.js';
import { endpointId } from '../config/schema.js';
import { adapterFor } from '../upstream/adapters/index.js';
import { UpstreamPools } from '../upstream/pools.js';
import type { ChatCall, ChatSink } from './api.js';
import { SwitchyardError } from '../errors.js';
import { ActorBudgetStore, budgetLimits, periodStarts, type BudgetStore } from './budget.js';
import type { RequestRecord, RuntimeCore } from './core.js';
import {
  availability,
  endpointSettings,
  fingerprint,
  providerHeaders,
  pickLatencyOf,
  poolFor,
  recordOn,
  type EndpointActor,
  type EndpointHandle,
} from './endpoints.js';
import { CapacityQueue } from './queue.js';
import { exactPromptCount } from './request-prep.js';
import { pickEndpoint, type PickContext, type PickRequest, type PickResult } from './pick.js';
import { RequestDriver, type RequestOptions } from './request-driver.js';
import { realScheduler, type Scheduler } from './scheduler.js';
import { keyAllowance, resolve, type ResolveInput, type RoutePlan } from '../routing/resolve.js';
import { userText } from '../routing/classify.js';
import { promptBoundTokens, requestedOutputTokens } from '../accounting/reservation.js';
import { nativeOf } from '../apis/native.js';
import { cascadeOn, runCascade, type CascadeRecord } from './cascade.js';
import { buildState, type StateView } from './state-view.js';
import { replicaId, type SharedState } from '../shared-state/index.js';
import { Cancel, type CancelSignal } from './cancel.js';
import { UpstreamFault } from '../upstream/types.js';

/** A stopped supervisor takes no events: nothing runs, nothing changes. */
const NOTHING: InPlaceDecision = { run: null, update: null };

interface PendingRoute {
  call: ChatCall;
  promptTokens: number;
  opts: RequestOptions;
  /** The prompt's byte bound (promptBoundTokens), as the request's driver keeps it. */
  bound: () => number;
  plan: RoutePlan | null;
  error: unknown;
}

interface PendingPick {
  requestId: string;
  req: PickRequest;
  pc: PickContext;
  result: PickResult | null;
}

export interface RuntimeOptions {
  cfg: Config;
  ledger: LedgerStore;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  /** Timers for waits, backoffs and deadlines (a simulated clock in tests). */
  scheduler?: Scheduler;
  /**
   * The actors' delays (a throttle's end, a circuit's recovery, a budget period's rollover) on
   * `scheduler` too, not on XState's own timers: for tests that drive a circuit's recovery on a
   * simulated clock. In production both are real time, so it changes nothing there.
   */
  actorsOnScheduler?: boolean;
  rng?: () => number;
  inspect?: (ev: InspectionEvent) => void;
  onRequest?: (r: RequestRecord) => void;
  /** Shared state on Redis (`storage.shared: redis://…`); absent: everything in process. */
  shared?: SharedState;
  onCascade?: (r: CascadeRecord) => void;
  /** A request's next attempt went to another endpoint (`switchyard_failovers_total`). */
  onFailover?: (from: string, to: string) => void;
  /** Every event about an endpoint's requests (attempt metrics), whether or not it went through the actor. */
  /** An event of an endpoint's actor, by the endpoint's id (`model@provider`, as the contract names it; not the actor's key). */
  onEndpointEvent?: (endpointId: string, ev: EndpointEvent) => void;
  /**
   * Someone inspects every event (a Stately inspector, `/switchyard/events?all=1`): then
   * per-request bookkeeping goes through the actors as events too. Absent: nobody does.
   */
  watched?: () => boolean;
  /** A reservation the budget store granted in place (the inspection hub records it as it records the actor's grants). */
  onBudgetGranted?: (actorId: string, ev: BudgetEvent, ctx: BudgetContext) => void;
}

export class Runtime implements RuntimeCore {
  cfg: Config;
  readonly handles = new Map<string, EndpointHandle>();
  readonly byModel = new Map<string, EndpointHandle[]>();
  readonly budget: BudgetStore;
  readonly ledger: LedgerStore;
  readonly supervisor: ActorRefFrom<typeof supervisorMachine>;
  readonly queue: CapacityQueue;
  readonly log: Logger;
  readonly now: () => number;
  readonly scheduler: Scheduler;
  readonly rng: () => number;
  readonly startedAt: number;
  private readonly pools = new UpstreamPools();
  private readonly env: NodeJS.ProcessEnv;
  private inFlight = 0;
  private readonly stopCancel = new Cancel();
  private idle: Array<() => void> = [];
  private generation = 0;
  private readonly onRequest: ((r: RequestRecord) => void) | undefined;
  readonly shared: SharedState | null;
  readonly replica: string;
  /** The request the supervisor is routing right now (its `route` action runs inside `send`). */
  private pendingRoute: PendingRoute | null = null;
  /** The attempt whose endpoint the supervisor is choosing right now (its `pick` action runs inside `send`). */
  private pendingPick: PendingPick | null = null;
  private readonly onCascade: ((r: CascadeRecord) => void) | undefined;
  private readonly onFailover: ((from: string, to: string) => void) | undefined;
  private readonly onEndpointEvent: ((endpointId: string, ev: EndpointEvent) => void) | undefined;
  private readonly watched: () => boolean;

  constructor(opts: RuntimeOptions) {
    this.cfg = opts.cfg;
    this.ledger = opts.ledger;
    this.log = opts.log;
    this.env = opts.env ?? process.env;
    this.scheduler = opts.scheduler ?? realScheduler;
    this.now = opts.now ?? this.scheduler.now;
    this.rng = opts.rng ?? Math.random;
    this.onRequest = opts.onRequest;
    this.onCascade = opts.onCascade;
    this.onFailover = opts.onFailover;
    this.onEndpointEvent = opts.onEndpointEvent;
    this.watched = opts.watched ?? (() => false);
    this.startedAt = this.now();
    this.queue = new CapacityQueue(
      () => this.cfg.resilience.queue.maxDepth,
      (d, first) => this.supervisor.send(d === 1 ? { type: 'queue.entered', at: this.now(), first } : { type: 'queue.left', at: this.now() }),
      this.scheduler,
    );
    const spawns = this.endpointSpawns(opts.cfg);
    const routing = supervisorMachine.provide({
      actions: {
        route: (_args, params: { requestId: string }) => this.decideRoute(params.requestId),
        pick: (_args, params: { requestId: string }) => this.decidePick(params.requestId),
      },
    });
    this.supervisor = createActor(routing, {
      // Named as the contract names it in /switchyard/events, switchyard_transitions_total and the inspector (else "x:0").
      id: 'supervisor',
      ...(opts.actorsOnScheduler
        ? { clock: { setTimeout: (fn: () => void, ms: number) => this.scheduler.after(ms, fn), clearTimeout: (cancel: () => void) => cancel() } }
        : {}),
      input: { endpoints: spawns.map((s) => s.spawn), budget: { limits: budgetLimits(opts.cfg), now: this.now() } },
      ...(opts.inspect ? { inspect: opts.inspect } : {}),
    });
    this.supervisor.start();
    for (const s of spawns) this.handles.set(s.spawn.input.id, s.handle(this.endpointActor(s.spawn.id, s.spawn.input.id)));
    for (const h of this.handles.values()) this.indexByModel(h);
    this.shared = opts.shared ?? null;
    this.replica = this.shared?.replica ?? replicaId(this.env);
    this.budget =
      this.shared?.store ??
      new ActorBudgetStore(this.budgetActor(), { quiet: () => !this.watched(), ...(opts.onBudgetGranted ? { onGranted: opts.onBudgetGranted } : {}) });
  }

  /** Rebuild spent totals of the current periods from the ledger, then start taking reservations. */
  async restoreBudgets(): Promise<void> {
    // Shared budgets are rebuilt by the shared store, per period, from the ledger.
    if (this.shared) return this.shared.start();
    // Requests a previous process died in the middle of count at what they held (a lone process's journal).
    const recovered = (await this.ledger.recoverInFlight?.()) ?? 0;
    if (recovered > 0)
      this.log.warn(
        { requests: recovered },
        'the ledger held requests in flight when the last process stopped; counted at their reserved amount (reservation_reclaimed)',
      );
    const invalid = this.ledger.invalidJournalLines ?? 0;
    if (invalid > 0)
      this.log.warn(
        { lines: invalid },
        'skipped in-flight journal lines that are not what switchyard writes (edited or damaged: a negative or fractional amount, no request id, a line that is not JSON before the last); no request is counted from them',
      );
    const spent = await this.spentFromLedger(budgetLimits(this.cfg));
    this.budgetActor().send({ type: 'budget.restored', at: this.now(), spent });
  }

  /** After a reload: new limits; budgets that stay keep their live totals, new ones are rebuilt from the ledger. */
  async reloadBudgets(next: Config): Promise<void> {
    (await this.prepareBudgets(next))();
  }

  /**
   * A reload's budgets in two steps: the ledger is read first (what the lines it adds have spent),
   * and the step returned applies them. A ledger that cannot be read throws before anything changed,
   * so a reload can be refused whole (its prices and routes were in force, its budget lines not).
   */
  async prepareBudgets(next: Config): Promise<() => void> {
    if (this.shared) return () => undefined;
    const limits = budgetLimits(next);
    const known = new Set(this.budget.lines().map((l) => l.id));
    const added = limits.filter((l) => !known.has(l.id));
    const spent = await this.spentFromLedger(added);
    // The ledger has no row yet of what requests in flight settled (a cascade writes its steps' rows
    // at its end): counted now, as it will be once their rows are written.
    return () => {
      const now = this.now();
      for (const l of periodStarts(added, now)) spent[l.id] = (spent[l.id] ?? 0) + (this.budget.unwrittenSpend?.(l, l.from) ?? 0);
      // What they hold reserved, too: a limit added while requests are in flight admits no new one beside them past it.
      const reserved: Record<string, number> = {};
      for (const l of added) reserved[l.id] = this.budget.inFlightReserved?.(l) ?? 0;
      this.budgetActor().send({ type: 'budget.reconfigured', at: now, limits, spent, reserved });
    };
  }

  private async spentFromLedger(limits: ReturnType<typeof budgetLimits>): Promise<Record<string, number>> {
    const spent: Record<string, number> = {};
    for (const l of periodStarts(limits, this.now())) {
      spent[l.id] = await this.ledger.spentSince({ ...(l.key ? { keyId: l.key } : {}), ...(l.model ? { model: l.model } : {}) }, l.from);
    }
    return spent;
  }

  private budgetActor(): ActorRefFrom<typeof budgetMachine> {
    return this.supervisor.system.get(BUDGET_SYSTEM_ID) as ActorRefFrom<typeof budgetMachine>;
  }

  recordRequest(r: RequestRecord): void {
    this.onRequest?.(r);
  }

  endpointEvent(h: EndpointHandle, ev: EndpointEvent): void {
    // In place, the actor's subscribers (the capacity queue) are not told: tell them here.
    if (recordOn(h.actor, ev, !this.watched())) this.queue.notify();
    // The shared TPM window was charged the estimate at the reserve: the real count replaces it there too.
    if (this.shared && (ev.type === 'upstream.succeeded' || ev.type === 'upstream.failed' || ev.type === 'upstream.released')) {
      const tpm = h.actor.getSnapshot().context.settings.tpm;
      if (tpm !== null) this.shared.store.correctTokens(h.id, tpm, ev.estTokens, ev.tokens);
    }
    this.onEndpointEvent?.(h.id, ev);
  }

  recordCascade(r: CascadeRecord): void {
    this.onCascade?.(r);
  }

  recordFailover(from: EndpointHandle, to: EndpointHandle): void {
    this.onFailover?.(from.id, to.id);
  }

  /** One request: the quality cascade when it applies, else the request statechart's driver. `opts.plan` fixes the candidates. */
  chat(call: ChatCall, sink: ChatSink, opts: RequestOptions = {}): Promise<void> {
    this.inFlight++;
    let done: Promise<void>;
    try {
      // Rows would go into a file nothing finds again: no request is served on it.
      if (this.ledger.lost)
        throw new SwitchyardError(
          'storage_unavailable',
          "switchyard's ledger file was removed or replaced while it served (its log says where the rows are): it takes no request until restarted; retry on another instance",
          { headers: { 'retry-after': '5' } },
        );
      done = !opts.plan && cascadeOn(this.cfg, call) ? runCascade(this, call, sink) : new RequestDriver(this, call, sink, opts).run();
    } catch (err) {
      done = Promise.reject(err);
    }
    // One continuation of the request's own promise (not an async frame awaiting it): counted out, then settled as it settled.
    return done.then(
      () => this.chatEnded(call.requestId),
      (err: unknown) => {
        this.chatEnded(call.requestId);
        throw err;
      },
    );
  }

  /** The ledger row of `requestId` was committed (or failed): what it settled is the ledger's now. */
  rowWritten(requestId: string): void {
    this.budget.rowWritten?.(requestId);
  }

  private chatEnded(requestId: string): void {
    this.budget.requestEnded?.(requestId);
    this.inFlight--;
    if (this.inFlight === 0) for (const f of this.idle.splice(0)) f();
  }

  /**
   * The supervisor routes: `request.route` goes in, and its `route` action (provided below)
   * decides here, synchronously; while draining it refuses instead. The request itself stays
   * out of the event (only its id), so no prompt text reaches inspection. While nobody inspects
   * every event, the machine's own rule (`decideInPlace`) is applied without the actor: the same
   * action, the same count, no XState macrostep (a route while serving crosses no edge, so the
   * hub would record nothing from it either).
   */
  route(call: ChatCall, promptTokens: number, opts: RequestOptions, bound = (): number => promptBoundTokens(call.body)): RoutePlan {
    const pending: PendingRoute = { call, promptTokens, opts, bound, plan: null, error: null };
    this.pendingRoute = pending;
    try {
      this.toSupervisor({ type: 'request.route', at: this.now(), requestId: call.requestId });
    } finally {
      this.pendingRoute = null;
    }
    if (pending.error) throw pending.error;
    if (pending.plan) return pending.plan;
    throw new SwitchyardError('shutting_down', 'switchyard is shutting down; retry on another instance', { headers: { 'retry-after': '1' } });
  }

  /**
   * The supervisor chooses each attempt's endpoint: `request.pick` goes in, its `pick` action
   * (provided above) reads the candidates' live state now. Serving or draining the event is
   * targetless, so it is applied in place like a route while nobody inspects every event; a
   * stopped supervisor picks nothing.
   */
  pick(requestId: string, req: PickRequest, pc: PickContext): PickResult {
    const pending: PendingPick = { requestId, req, pc, result: null };
    this.pendingPick = pending;
    try {
      this.toSupervisor({ type: 'request.pick', at: pc.now, requestId });
    } finally {
      this.pendingPick = null;
    }
    return pending.result ?? { type: 'none', waitable: false, earliest: null, unknown: false };
  }

  /**
   * A request's `request.route` / `request.pick`: through the actor while someone inspects every
   * event (or when the machine's rule says it must), else the machine's rule applied in place —
   * its action run here, its context update applied to the live context.
   */
  private toSupervisor(ev: Extract<SupervisorEvent, { type: 'request.route' | 'request.pick' }>): void {
    const snap = this.supervisor.getSnapshot();
    const d = this.watched() ? null : snap.status === 'active' ? decideInPlace(snap.value, snap.context, ev) : NOTHING;
    if (d === null) return this.supervisor.send(ev);
    if (d.run === 'route') this.decideRoute(ev.requestId);
    else if (d.run === 'pick') this.decidePick(ev.requestId);
    if (d.update !== null) Object.assign(snap.context, d.update);
  }

  /** The supervisor's `pick` action (src/runtime/pick.ts). */
  private decidePick(requestId: string): void {
    const p = this.pendingPick;
    if (!p || p.requestId !== requestId) return;
    p.result = pickEndpoint(this, p.req, p.pc);
  }

  /** The supervisor's `route` action: classifier and candidate order (src/routing). */
  private decideRoute(requestId: string): void {
    const p = this.pendingRoute;
    if (!p || p.call.requestId !== requestId) return;
    try {
      p.plan = this.plan(p.call, p.promptTokens, p.opts, p.bound);
    } catch (err) {
      p.error = err;
    }
  }

  private plan(call: ChatCall, promptTokens: number, opts: RequestOptions, bound: () => number): RoutePlan {
    if (opts.plan) return opts.plan;
    const body = call.body;
    return resolve(this.cfg, {
      model: body.model,
      body,
      classify: {
        task: call.hints.task,
        tier: call.hints.tier,
        text: userText(body.messages),
        promptTokens,
        turns: body.messages.length,
        // The Messages API requires max_tokens: the scorer does not read it there.
        maxTokensRequired: call.api === 'messages',
      },
      promptTokens,
      exactContextTokens: exactPromptCount(body),
      boundContextTokens: bound,
      ...embeddingsLongestInput(body),
      expectedOutputTokens: Math.min(requestedOutputTokens(body) ?? 512, 4096),
      liveStats: (m) => this.modelStats(m),
      allowed: keyAllowance(this.cfg, call.keyId),
    });
  }

  /** A lone process journals each attempt before sending it; replicas on Redis reclaim dead replicas' reservations instead. */
  holdInFlight(h: InFlight): Promise<void> | void {
    if (this.shared === null) return this.ledger.hold?.(h);
  }

  /** SIGTERM: the supervisor stops routing (new requests are refused), in-flight ones go on. */
  drain(): void {
    if (this.supervisor.getSnapshot().value !== 'serving') return;
    this.supervisor.send({ type: 'supervisor.drain', at: this.now() });
    // Requests waiting for a throttle that ends after the grace period are answered now, not at its end.
    this.queue.shed(this.now() + this.cfg.server.shutdownGraceMs);
  }

  get draining(): boolean {
    return this.supervisor.getSnapshot().value !== 'serving';
  }

  modelStats(model: string): { latencyMs: number; inFlight: number } {
    const hs = this.byModel.get(model) ?? [];
    let best = { latencyMs: this.cfg.models[model]?.latencyPriorMs ?? 1000, inFlight: 0 };
    let first = true;
    for (const h of hs) {
      const s = { latencyMs: pickLatencyOf(h), inFlight: h.actor.getSnapshot().context.inFlight };
      if (first || s.latencyMs * (s.inFlight + 1) < best.latencyMs * (best.inFlight + 1)) best = s;
      first = false;
    }
    return best;
  }

  retryAfterSeconds(models: string[], takes?: (h: EndpointHandle) => boolean, estTokens = 0): number {
    const now = this.now();
    let earliest = Infinity;
    for (const m of models) {
      for (const h of this.byModel.get(m) ?? []) {
        // An endpoint that could not take the request anyway (over its latency wish) frees nothing for it.
        if (takes !== undefined && !takes(h)) continue;
        // When its rpm or tpm window has room for this request (a tpm window with room left, too
        // little for it, sets no retryAt: a migrant round got retry-after 1 for a 5 s wait).
        const a = availability(h, now, estTokens);
        const at = (a.ok ? null : a.freeAt) ?? h.actor.getSnapshot().context.retryAt;
        earliest = Math.min(earliest, at ?? now + 1000);
      }
    }
    return Number.isFinite(earliest) ? Math.max(1, Math.ceil((earliest - now) / 1000)) : 1;
  }

  /** Whether an actor (its system id, `endpoint:<key>`) is an endpoint actor no longer current: a reload replaced or removed it. */
  replacedActor(actorId: string): boolean {
    return actorId.startsWith('endpoint:') && this.retiredKeys.has(actorId.slice('endpoint:'.length));
  }

  /** The actor keys of endpoints a reload replaced or removed (the latest 10,000). */
  private readonly retiredKeys = new Set<string>();

  /** `/readyz`: config loaded, the ledger taking rows, and at least one endpoint not circuit-open. */
  ready(): boolean {
    return this.unready() === null;
  }

  /** Why `/readyz` is 503 (said in its body, so an operator need not search the logs), or null when ready. */
  unready(): string | null {
    // No error text: /readyz needs no token (the cause is in /switchyard/state's shared.lastError and the log).
    if (this.shared && !this.shared.ready()) return 'shared state (Redis) not ready: see /switchyard/state (shared.lastError) or the log';
    if (this.ledger.lost) return 'the ledger file was removed or replaced while serving: restart switchyard (the log says where its rows are)';
    // Rows waiting for a lock or disk space hold their answers: send traffic elsewhere meanwhile.
    const blocked = this.ledger.writeBlocked;
    if (blocked)
      return blocked.shown !== undefined
        ? `the ledger cannot write its rows now: ${blocked.shown}`
        : 'the ledger cannot write its rows now (a lock, a full disk, or PostgreSQL unreachable)';
    for (const h of this.handles.values()) if ((h.actor.getSnapshot().value as EndpointStateValue) !== 'circuit-open') return null;
    return this.handles.size === 0 ? 'no endpoint is configured' : 'every endpoint is circuit-open';
  }

  state(): StateView {
    return buildState(this);
  }

  publicState(h: EndpointHandle): string {
    return PUBLIC_STATE[h.actor.getSnapshot().value as EndpointStateValue];
  }

  /**
   * Apply a new, already validated config. Endpoint actors whose settings did not change keep
   * their state and counters; a changed one gets a fresh actor at once (on the same upstream, the
   * old one's attempts in flight count against its maxConcurrent: `draining`), and changed or
   * removed ones are stopped once their in-flight requests finished (requests already running
   * keep the handle they hold).
   */
  reload(next: Config): { kept: string[]; added: string[]; replaced: string[]; removed: string[] } {
    const spawns = this.endpointSpawns(next);
    const nextIds = new Set(spawns.map((s) => s.spawn.input.id));
    const kept: string[] = [];
    const keptHandles: EndpointHandle[] = [];
    const fresh: typeof spawns = [];
    for (const s of spawns) {
      const id = s.spawn.input.id;
      const old = this.handles.get(id);
      if (old && old.fingerprint === s.fingerprint && old.model === s.spawn.input.model) {
        kept.push(id);
        // Same actor (state and counters), but the handle carries the new model config
        // (price, tier, capabilities, maxOutputTokens, fallbacks are not in the fingerprint).
        keptHandles.push(s.handle(old.actor));
        continue;
      }
      // A changed endpoint gets a new actor under a new generation key; the old one drains.
      // So does one re-added while the actor of its earlier removal is still draining
      // (the supervisor's system ids must be unique, a duplicate kills the supervisor).
      if (old || this.supervisor.system.get(endpointSystemId(id)) !== undefined) s.spawn.id = `${id}#${++this.generation}`;
      fresh.push(s);
    }
    const retired = [...this.handles.values()].filter((h) => !nextIds.has(h.id) || fresh.some((f) => f.spawn.input.id === h.id));
    this.cfg = next;
    // An endpoint removed once and added again after its actor stopped gets its old key back: current again, not replaced.
    for (const f of fresh) this.retiredKeys.delete(f.spawn.id);
    this.supervisor.send({ type: 'endpoints.reconfigured', at: this.now(), add: fresh.map((f) => f.spawn), remove: [] });
    for (const h of retired) {
      this.handles.delete(h.id);
      this.retiredKeys.add(h.actorKey);
      // Bounded: the oldest (long drained) go first.
      if (this.retiredKeys.size > 10_000) this.retiredKeys.delete(this.retiredKeys.values().next().value!);
    }
    for (const h of keptHandles) this.handles.set(h.id, h);
    const now = this.now();
    for (const f of fresh) {
      const h = f.handle(this.endpointActor(f.spawn.id, f.spawn.input.id));
      this.handles.set(f.spawn.input.id, h);
      // A provider's 429 wait is the provider's, not the settings': a fresh actor for the same
      // upstream (an rpm added after 429s) keeps it, so the requests waiting for it are not all sent.
      const old = retired.find((r) => r.id === h.id);
      const oc = old?.actor.getSnapshot().context;
      // Its attempts still in flight on the same upstream count against the fresh actor's maxConcurrent until they end.
      if (old && old.provider.baseUrl === h.provider.baseUrl && old.endpoint.upstreamModel === h.endpoint.upstreamModel) {
        const draining = [old, ...(old.draining ?? [])].filter((d) => d.actor.getSnapshot().context.inFlight > 0);
        if (draining.length > 0) h.draining = draining;
      }
      if (
        old &&
        oc?.reason != null &&
        after429(oc.reason) &&
        oc.retryAt !== null &&
        oc.retryAt > now &&
        old.provider.baseUrl === h.provider.baseUrl &&
        old.endpoint.upstreamModel === h.endpoint.upstreamModel
      )
        // Its reason as it was (a 429, an overload's retry-after, a shared cooldown), without counting a 429 on the fresh actor.
        h.actor.send({ type: 'window.exhausted', at: now, retryAt: oc.retryAt, reason: oc.reason });
    }
    this.byModel.clear();
    for (const h of this.handles.values()) this.indexByModel(h);
    this.pools.retain(new Set([...this.handles.values()].map((h) => h.pool)));
    this.drainThenStop(retired, () => {
      // Drained: they no longer count against the endpoints that replaced them.
      for (const h of this.handles.values())
        if (h.draining !== undefined) {
          const left = h.draining.filter((d) => !retired.includes(d));
          h.draining = left.length > 0 ? left : undefined;
        }
      this.supervisor.send({ type: 'endpoints.reconfigured', at: this.now(), add: [], remove: retired.map((h) => h.actorKey) });
    });
    // Requests waiting for capacity pick again now: a new or replaced endpoint may be free, and
    // one whose candidates are all gone fails at once, saying so (it waited for the removed
    // endpoint's window, then blamed a circuit that was not open).
    this.queue.notify();
    const before = new Set(retired.map((h) => h.id));
    return {
      kept,
      // New ids; `replaced`: ids that were running and got a fresh actor (their settings, endpoint entry or provider changed).
      added: fresh.filter((f) => !before.has(f.spawn.input.id)).map((f) => f.spawn.input.id),
      replaced: fresh.filter((f) => before.has(f.spawn.input.id)).map((f) => f.spawn.input.id),
      removed: retired.filter((h) => !nextIds.has(h.id)).map((h) => h.id),
    };
  }

  private drainThenStop(old: EndpointHandle[], then: () => void): void {
    if (old.length === 0) return;
    const busy = () => old.some((h) => h.actor.getSnapshot().context.inFlight > 0);
    if (!busy()) return then();
    const timer = setInterval(() => {
      if (busy()) return;
      clearInterval(timer);
      then();
    }, 50);
    timer.unref();
  }

  /**
   * The shutdown stops waiting (a second signal, the grace over): every request in flight ends
   * as `shutting_down` - a JSON answer a 503, a started stream an error event - with what was
   * delivered billed and its row written, before the connections close.
   */
  cutInFlight(): void {
    this.stopCancel.abort(new UpstreamFault('shutting_down', 'the sidecar is shutting down'));
  }

  get stopping(): CancelSignal {
    return this.stopCancel;
  }

  /** Resolves when no request is in flight (SIGTERM drain). */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  async close(): Promise<void> {
    this.drain();
    this.supervisor.send({ type: 'supervisor.drained', at: this.now() });
    this.supervisor.stop();
    await this.shared?.close();
    await this.pools.close();
  }

  /** `key`: the actor's key under the supervisor (`id#generation` after a reload replaced it); `id`: the endpoint's own, as logs name it. */
  private endpointActor(key: string, id: string): EndpointActor {
    const a = this.supervisor.system.get(endpointSystemId(key)) as EndpointActor | undefined;
    if (!a) throw new Error(`endpoint actor ${key} was not spawned`);
    let last = a.getSnapshot().value as EndpointStateValue;
    a.subscribe({
      next: (snap) => {
        this.queue.notify();
        const now = snap.value as EndpointStateValue;
        if (now === last) return;
        const from = last;
        last = now;
        this.logEdge(id, from, now, snap.context);
      },
      error: () => undefined,
    });
    return a;
  }

  /**
   * A state edge of an endpoint, in the log (the events stream and metrics have them all): a
   * circuit that opens is a warning (an operator alerting on warn sees an outage), its half-open
   * probe and its closing are info, as is a provider's own throttle (a 429, x-ratelimit); the
   * endpoint's own rpm/tpm window filling and emptying is not logged (it happens every window
   * under load).
   */
  private logEdge(id: string, from: EndpointStateValue, to: EndpointStateValue, c: { failures: number; reason: string | null; retryAt: number | null }): void {
    const at = c.retryAt === null ? null : new Date(c.retryAt).toISOString();
    if (to === 'circuit-open')
      this.log.warn({ endpoint: id, from, failures: c.failures, reason: c.reason, retryAt: at }, `endpoint ${id}: circuit opened (${c.reason ?? 'failures'})`);
    else if (to === 'half-open') this.log.info({ endpoint: id, from }, `endpoint ${id}: circuit half-open, one request probes`);
    else if (to === 'healthy' && (from === 'half-open' || from === 'circuit-open')) this.log.info({ endpoint: id, from }, `endpoint ${id}: circuit closed`);
    else if (to === 'throttled' && !ownWindowThrottle(c.reason))
      this.log.info(
        { endpoint: id, from, reason: c.reason, retryAt: at },
        `endpoint ${id}: throttled (${c.reason ?? 'provider limit'}) until ${at ?? 'further notice'}`,
      );
  }

  private indexByModel(h: EndpointHandle): void {
    const list = this.byModel.get(h.model) ?? [];
    list.push(h);
    this.byModel.set(h.model, list);
  }

  private endpointSpawns(cfg: Config): Array<{ spawn: EndpointSpawn; fingerprint: string; handle: (actor: EndpointActor) => EndpointHandle }> {
    const out = [];
    for (const [model, mc] of Object.entries(cfg.models)) {
      for (const ep of mc.endpoints) {
        const id = endpointId(model, ep);
        const provider = cfg.providers[ep.provider]!;
        const settings = endpointSettings(cfg, mc, ep);
        const fp = fingerprint(provider, ep, settings);
        const { pool, basePath } = poolFor(this.pools, cfg, ep.provider);
        const apiKey = provider.apiKeyEnv ? this.env[provider.apiKeyEnv] : undefined;
        const headers = providerHeaders(provider, this.env);
        out.push({
          spawn: { id, input: { id, model, provider: ep.provider, settings, now: this.now() } },
          fingerprint: fp,
          handle: (actor: EndpointActor): EndpointHandle => ({
            id,
            actorKey: actor.id.replace(/^endpoint:/, ''),
            model,
            providerName: ep.provider,
            endpoint: ep,
            modelCfg: mc,
            provider,
            adapter: adapterFor(provider.kind),
            pool,
            basePath,
            apiKey,
            headers,
            actor,
            clock: this.now,
            fingerprint: fp,
          }),
        });
      }
    }
    return out;
  }
}

/** An embeddings call's longest single input (what a context window must hold), else undefined: the whole prompt. */
function embeddingsLongestInput(body: object): Pick<ResolveInput, 'contextTokens' | 'contextParam' | 'contextBound' | 'exactContextTokens'> {
  const native = nativeOf(body);
  if (native?.kind !== 'embeddings') return {};
  const exact = native.longestExact;
  if (exact !== undefined && native.longestInput !== undefined) {
    // Texts: the byte bound decides where it fits; the count, where it does not (and names its input).
    let counted = false;
    const bound = native.longestParam ?? 'input';
    return {
      contextTokens: native.longestInput,
      contextBound: true,
      exactContextTokens: () => {
        counted = true;
        return exact().n;
      },
      contextParam: () => (counted ? exact().param : bound),
    };
  }
  return {
    ...(native.longestInput !== undefined ? { contextTokens: native.longestInput } : {}),
    ...(native.longestParam ? { contextParam: native.longestParam } : {}),
  };
}
