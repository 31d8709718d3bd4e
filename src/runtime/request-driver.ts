/**
 * The thin driver of one request's statechart (machines/request.machine.ts). The machine
 * decides — routing outcome, budget guards, retry, fail-over, continuation, when to give up;
 * the driver performs the one command of each state (route, pick, wait, sleep, reserve, send,
 * settle, finish) and the fire-and-forget ones a step leaves in the outbox (release, settle),
 * and turns each result into the next event. All waiting goes through the runtime's injected
 * scheduler. One request is a loop over a plain snapshot: no actor is spawned for it.
 */
import { costOf, worstCaseNano, type Usage } from '../accounting/cost.js';
import { countTextTokens } from '../accounting/tokens.js';
import { formatUsd, usdToNano } from '../accounting/money.js';
import { outputCap, promptBoundTokens, promptWorstTokens, requestedOutputTokens } from '../accounting/reservation.js';
import { own } from '../config/lookup.js';
import { SwitchyardError, loggedMessage } from '../errors.js';
import type { RoutePlan } from '../routing/resolve.js';
import { nativeOf } from '../apis/native.js';
import { OversizeFault, UpstreamFault } from '../upstream/types.js';
import {
  attemptRoom,
  commandOf,
  isFinal,
  shortfall,
  startRequest,
  stepRequest,
  type Command,
  type ReqEvent,
  type ReqSnapshot,
} from '../../machines/request.machine.js';
import type { ChatCall, ChatSink } from './api.js';
import { refusesEveryModel, type ReserveResult } from './budget.js';
import { AttemptFailure, continuationCap, requestOwnFault, runAttempt, type AttemptSuccess, type NativeBody } from './attempt.js';
import { availability, heldForOverload, latencyOf, probeRound, tooSlow, withinWish, type EndpointHandle } from './endpoints.js';
import { decide, type EndpointVerdict } from './retry-policy.js';
import { StreamSession } from './stream-session.js';
import type { RuntimeCore } from './core.js';
import type { Ticket } from './queue.js';
import { showsUsage, withHeldUsage } from './held-usage.js';
import { finalizeRequest, type Outcome } from './finalize.js';
import { translatableCandidates, untakeableEndpoints, untranslatableBy, untranslatableNote } from './translatable.js';
import { countPrompt, estTokens, shownPromptTokens, switchyardHeaders } from './request-prep.js';
import { failureOutcome, MAX_SDK_RETRY_AFTER_S } from './request-outcome.js';
import { sleepUntil } from './scheduler.js';
import { Cancel } from './cancel.js';
import { asksJson } from '../quality/checks.js';

/** No notes (shared: a reason is built for every request). */
const NONE: readonly string[] = Object.freeze([]);

/** What a layer above (the quality cascade, src/runtime/cascade-step.ts) fixes for one request: its candidates, instead of the router's. */
export interface RequestOptions {
  plan?: RoutePlan;
}

export class RequestDriver {
  private snap: ReqSnapshot;
  private readonly ac = new Cancel();
  private plan: RoutePlan | null = null;
  private promptTokens = 0;
  /** The prompt's byte bound (promptBoundTokens), and its exact count once roomPrompt needed it. */
  private promptBound: number | null = null;
  private exactPrompt: number | null = null;
  /** Estimated tokens for TPM windows (prompt and the output asked for), fixed once routed. */
  private est = 0;
  private session: StreamSession | null = null;
  private picked: EndpointHandle | null = null;
  private lastEndpoint: EndpointHandle | null = null;
  /** The model the latest reservation was made for (its settle charges that model's budget lines). */
  private budgetModel: string | null = null;
  /** Models an attempt of this request failed on before another model's endpoint was tried (named in the reason). */
  private failedFrom: string[] | null = null;
  private routeError: SwitchyardError | null = null;
  private completion: Record<string, unknown> | null = null;
  private completionText: string | null = null;
  private native: NativeBody | null = null;
  private ticket: Ticket | undefined;
  /** The endpoints its last pick found full: claimed while it waits (CapacityQueue.claimedBefore). */
  private claims: readonly string[] = [];
  /** The client's max_tokens when a stream cut after delivering all of it ended the request (not continued): the error says so. */
  private capCut: number | null = null;
  /** The half-open round the current attempt is a probe of (`probeRound`), told back on the event that ends it. */
  private probe: number | undefined;
  /** `resilience.queue.maxDepth` when this request found the capacity queue full (its 503 says so). */
  private queueFull: number | null = null;
  /** Woken by a freed slot with less than an attempt's room left before the deadline (ms left), else null. */
  private lateLeftMs: number | null = null;
  /** The running attempt's end, as the event it becomes (`streaming` waits on it). */
  private attemptEnd: Promise<ReqEvent> | null = null;
  private costNano = 0;
  /** `costNano` by the model whose budgets each attempt's cost was charged to (the row's shares of other models). */
  private costByModel: Map<string, number> | null = null;
  private estimated = false;
  private usage: Usage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0 };
  /**
   * The tokens of the answer the client gets: the attempt that served it and, for a continued
   * stream, the parts before it (the stream's usage chunk says these, as the JSON answer's body
   * does; `usage`, all billed attempts, is the row's). A fresh attempt starts it again.
   */
  private answerUsage: Usage = NO_USAGE;
  private ttftMs: number | null = null;
  /** When the attempt in flight was sent: its time to first token is counted from the request's arrival (requestTtft). */
  private attemptAt = 0;
  /** When the JSON attempt in flight went out (a connection took it), else null. */
  private sentAt: number | null = null;
  /**
   * The client left while a JSON attempt it had sent was being answered, and the answer is read
   * on to its end (readOnForGone): billed what the provider reports, not the attempt's whole
   * reservation. Nothing is tried after it; the row says 499 client_closed_request.
   */
  private gone = false;
  /** Models passed over because their worst case is above x-switchyard-max-cost-usd (named in the reason). */
  private readonly overCost: string[] = [];
  /** `model over budget <id>` for each reservation a budget refused (named in the reason). */
  private readonly overBudget: string[] = [];
  /** The budget that refused the latest reservation (the machine then tries only cheaper candidates). */
  private refusedBy: string | null = null;
  /** The budget every model shares whose refusal set the machine's ceiling (the models it passes over untried). */
  private ceilingBy: string | null = null;
  /** The endpoint of the last reservation a budget refused: a request refused for money names the model it was refused for. */
  private refusedFor: EndpointHandle | null = null;
  /** When the capacity the last `endpoint.none` waits for frees, if known (every candidate throttled until then). */
  private freesAt: number | null = null;
  /** Endpoints of the candidates that cannot take this body (untakeableEndpoints): the pick passes them over. */
  private untakeable: readonly string[] = [];
  /**
   * When the client's SDK gives up on the answer's beginning (`x-stainless-timeout`; Infinity when
   * not sent): its JSON answer, a stream's first content (the SDKs' timeouts end with the response
   * headers, which go out with the first content). Not the request's deadline (a 504 at it would
   * come before a client whose timeout the header truncates to whole seconds, 1.5 s as "1", gave
   * up), only the time the deadline's share plans in (`deadlineShare`).
   */
  private readonly sdkDeadlineAt: number;
  /** The refusal the request ended with, unreached candidates over the cap included (set by `outcome`). */
  private finalRefusal: ReqSnapshot['context']['refusal'] = null;
  /** How far `refusedFor`'s worst case was from fitting (the request machine's `shortfall`): the refusal named is the nearest. */
  private refusedShortfall = Infinity;

  constructor(
    private readonly rt: RuntimeCore,
    private readonly call: ChatCall,
    private readonly sink: ChatSink,
    private readonly opts: RequestOptions = {},
  ) {
    const timeout = call.hints.timeoutMs ?? rt.cfg.resilience.requestTimeoutMs;
    const sdk = call.hints.sdkTimeoutMs;
    this.sdkDeadlineAt = sdk == null ? Infinity : call.receivedAt + sdk;
    const maxCost = call.hints.maxCostUsd;
    this.snap = startRequest({
      receivedAt: call.receivedAt,
      deadlineAt: call.receivedAt + timeout,
      maxTotalAttempts: rt.cfg.resilience.retry.maxTotalAttempts,
      maxCostNano: maxCost === null ? null : usdToNano(maxCost),
    });
  }

  /** The machine's current snapshot (for tests and inspection). */
  get snapshot(): ReqSnapshot {
    return this.snap;
  }

  /** The refusal for money the request ended with: the machine's, or an unreached candidate's nearer one (downOverMoney). */
  get refusal(): ReqSnapshot['context']['refusal'] {
    return this.finalRefusal ?? this.snap.context.refusal;
  }

  /** The reason's notes on models passed over for money (`X over x-switchyard-max-cost-usd`, `X over budget B`…), in its order. */
  get moneyNotes(): string[] {
    return [...this.costNote(), ...this.overBudget];
  }

  /** `X, Y over x-switchyard-max-cost-usd` when the cap passed models over, else nothing. */
  private costNote(): string[] {
    return this.overCost.length > 0 ? [`${this.overCost.join(', ')} over x-switchyard-max-cost-usd`] : [];
  }

  /** Drives the machine to its end (one loop in this frame), then finalizes: the ledger row, then the answer. */
  async run(): Promise<void> {
    const cutForGone = () => this.ac.abort(new UpstreamFault('client_gone', 'the client went away'));
    let cancelGoneCut = null as (() => void) | null;
    const onGone = () => {
      const left = this.readOnForGone();
      if (left === null) return cutForGone();
      // Read on, at most until the attempt is overdue: then cut as if the client had left then.
      this.gone = true;
      cancelGoneCut = this.rt.scheduler.after(left, cutForGone);
    };
    this.sink.signal.addEventListener('abort', onGone, { once: true });
    const onStop = () => this.ac.abort(this.rt.stopping.reason);
    if (this.rt.stopping.aborted) onStop();
    else this.rt.stopping.addEventListener('abort', onStop, { once: true });
    const cancelDeadline = this.rt.scheduler.after(this.snap.context.deadlineAt - this.rt.now(), () =>
      this.ac.abort(new UpstreamFault('deadline', 'the request deadline passed')),
    );
    let outcome: Outcome;
    try {
      // Commands that complete synchronously give their event back at once: only a pending one is awaited (a JSON request awaits its attempt and the ledger, not every step).
      for (;;) {
        for (const c of this.snap.context.outbox) {
          const done = this.perform(c);
          if (done instanceof Promise) await done;
        }
        if (isFinal(this.snap)) break;
        let ev = this.perform(commandOf(this.snap));
        if (ev instanceof Promise) ev = await ev;
        if (!ev) throw new Error(`the request machine's ${this.snap.value} state produced no event`);
        const next = stepRequest(this.snap, ev);
        if (next === this.snap) throw new Error(`the request machine ignored ${ev.type} in ${this.snap.value}`);
        this.snap = next;
      }
      outcome = this.outcome();
    } catch (err) {
      outcome = { ok: false, error: err instanceof SwitchyardError ? err : this.internal(err) };
    } finally {
      cancelDeadline();
      cancelGoneCut?.();
      this.sink.signal.removeEventListener('abort', onGone);
      this.rt.stopping.removeEventListener('abort', onStop);
    }
    const attempts = this.snap.context.attempts;
    // No endpoint was ever picked (all circuit-open, throttled, over the latency wish, busy): the row,
    // the log and the headers name the model it was for, its first candidate (the row's model was NULL).
    // Looked up only for a failure: a served request has its endpoint.
    const first = outcome.ok ? undefined : this.plan?.candidates[0];
    const firstCfg = first !== undefined ? own(this.rt.cfg.models, first) : undefined;
    const unreached = first !== undefined && firstCfg ? { model: first, tier: firstCfg.tier } : null;
    await finalizeRequest(this.rt, this.call, this.sink, this.session, outcome, {
      attempts,
      costNano: this.costNano,
      costByModel: this.costByModel ?? undefined,
      estimated: this.estimated,
      usage: this.usage,
      answerUsage: this.answerUsage,
      ttftMs: this.ttftMs,
      plan: this.plan,
      // Never sent anywhere and refused for money: the row and headers name the model refused (it was NULL).
      endpoint: this.session?.committedTo ?? this.lastEndpoint ?? (!outcome.ok && outcome.error.code === 'budget_exceeded' ? this.refusedFor : null),
      model: unreached?.model ?? null,
      // Refused before any attempt (for money): the model it was for, not an endpoint it never reached.
      headers: (h) =>
        h !== null && attempts === 0 && !outcome.ok
          ? switchyardHeaders(0, null, this.reason(h, false), { model: h.model, tier: h.modelCfg.tier })
          : switchyardHeaders(attempts, h, this.reason(h, outcome.ok), unreached),
    });
  }

  /** `answered`: `served` answered the request (else it is the last candidate of one that failed or was refused). */
  private reason(served: EndpointHandle | null = null, answered = true): string | null {
    const r = this.plan?.reason ?? null;
    const slow = this.slowAhead(served);
    const passed = this.passedOver(served, slow, answered);
    if (r === null || (this.overCost.length === 0 && this.overBudget.length === 0 && slow.length === 0 && passed.length === 0)) return r;
    const notes = [
      ...this.costNote(),
      ...(slow.length > 0 ? [`${slow.join(', ')} over x-switchyard-max-latency-ms ${this.call.hints.maxLatencyMs} ms`] : []),
      ...this.overBudget,
      ...passed,
    ];
    return `${r}; ${notes.join('; ')}`;
  }

  /**
   * Why the candidates ahead of the served model did not serve, when the notes above do not say:
   * an attempt on it failed (`failed over from X`), or none of its endpoints could take the
   * request (`X circuit-open`, `X throttled (429)`…). The reason said only `requested X` when Y served.
   */
  private passedOver(served: EndpointHandle | null, slow: readonly string[], answered: boolean): readonly string[] {
    if (!this.plan || (served === null && answered)) return NONE;
    // No endpoint was reached (every candidate circuit-open, throttled…): each one says why.
    if (served === null) {
      const out = this.unavailable(this.plan.candidates, slow, this.rt.now());
      if (out.length > 0) out[out.length - 1] += ': nothing served';
      return out;
    }
    // A failed request, even on its first candidate, says that nothing served it.
    if (this.plan.candidates[0] === served.model) return answered ? NONE : [`nothing served (last candidate ${served.model})`];
    const at = this.plan.candidates.indexOf(served.model);
    const ahead = at < 0 ? this.plan.candidates : this.plan.candidates.slice(0, at);
    const out = this.unavailable(ahead, slow, this.rt.now());
    // A request that failed, or was refused for money, was served by nobody: the header names its last candidate.
    if (out.length > 0) out[out.length - 1] += answered ? `: served by ${served.model}` : `: nothing served (last candidate ${served.model})`;
    // The candidates ahead were passed over for money or latency (named by the other notes).
    else if (!answered) out.push(`nothing served (last candidate ${served.model})`);
    return out;
  }

  /** Why each of these candidates did not serve, where the other notes (money, latency) do not say. */
  private unavailable(candidates: readonly string[], slow: readonly string[], now: number): string[] {
    const out: string[] = [];
    for (const m of candidates) {
      if (slow.includes(m) || this.refusedForMoney(m)) continue;
      if (this.failedFrom?.includes(m)) {
        out.push(`failed over from ${m}`);
        continue;
      }
      // Named only when none of its endpoints within the latency wish could take the request (the
      // first one's reason); those over the wish are counted (an endpoint free but over the wish
      // left the answer saying only "every candidate endpoint is busy, circuit-open or throttled").
      let why: string | null = null;
      let slowEndpoints = 0;
      const takes = this.takes();
      for (const h of this.rt.byModel.get(m) ?? []) {
        if (takes !== undefined && !takes(h)) {
          slowEndpoints++;
          continue;
        }
        const a = availability(h, now, this.est);
        if (a.ok) {
          why = null;
          break;
        }
        why ??= a.why;
      }
      const over = slowEndpoints === 0 ? '' : ` (${slowEndpoints} more endpoint${slowEndpoints === 1 ? '' : 's'} over x-switchyard-max-latency-ms)`;
      if (why !== null) out.push(`${m} ${why}${over}`);
    }
    return out;
  }

  /**
   * The candidates ahead of the served model that the latency hint passed over (every endpoint's
   * observed latency, the prior until measured, above it): why a request scored high_quality is
   * served by a faster, lower tier.
   */
  private slowAhead(served: EndpointHandle | null): string[] {
    const max = this.call.hints.maxLatencyMs;
    // With nothing served, every candidate is ahead of it: the reason names each one too slow.
    if (max === null || !this.plan) return [];
    const out: string[] = [];
    for (const m of this.plan.candidates) {
      if (m === served?.model) break;
      const eps = this.rt.byModel.get(m) ?? [];
      if (eps.length > 0 && !this.overCost.includes(m) && eps.every((h) => !withinWish(h, max))) out.push(m);
    }
    return out;
  }

  /**
   * How long the client leaving lets the attempt in flight go on (ms), or null to cut it now: a
   * JSON attempt that went out (the provider has it and bills it whole) is read on until it is
   * overdue (twice its endpoint's usual time since it was sent; a cut then counts the endpoint's
   * stall: see `overdue`), within its own limits and the request's deadline, and billed what the
   * provider reports. Cut at once, it was billed its whole reservation, and an SDK that retries a
   * call it timed out paid three of them for answers of a fraction of that. A stream is cut at
   * once (it is billed what it delivered, and a provider stops a stream whose reader left).
   */
  private readOnForGone(): number | null {
    if (this.session !== null || this.snap.value !== 'attempting' || this.sentAt === null || this.lastEndpoint === null) return null;
    const left = this.sentAt + 2 * latencyOf(this.lastEndpoint) - this.rt.now();
    return left > 0 ? left : null;
  }

  private outcome(): Outcome {
    if (this.gone) return { ok: false, error: new SwitchyardError('client_closed_request', 'client closed the request'), clientGone: true };
    if (this.snap.value === 'done' && this.picked)
      return { ok: true, endpoint: this.picked, completion: this.completion, completionText: this.completionText, native: this.native };
    const reason: unknown = this.ac.signal.aborted ? this.ac.signal.reason : undefined;
    const ctx = this.downOverMoney(this.snap.context);
    this.finalRefusal = ctx.refusal;
    const out = failureOutcome({
      ctx,
      abortReason: reason,
      routeError: this.routeError,
      model: this.call.body.model,
      maxCostUsd: this.call.hints.maxCostUsd,
      tooSlow: this.tooSlow(),
      queueFull: this.queueFull,
      lateLeftMs: this.lateLeftMs,
      removed: this.removedCandidates(),
      api: nativeOf(this.call.body)?.kind === 'embeddings' ? 'embeddings' : (this.call.api ?? 'chat'),
      keyed: this.call.keyId !== null,
      capCut: this.capCut,
      formattedCut: this.session?.freshAnswer !== true && this.session?.unprefillable !== true && this.formatted(),
      unboundedPrompt: ctx.refusal !== null && this.bound(null) === Infinity,
      clientDeadline: this.call.hints.timeoutMs != null,
      retryAfterSeconds: () => this.rt.retryAfterSeconds(this.waitedFor(), this.takes(), this.est),
      allOpenSeconds: () => this.allOpenSeconds(),
      unavailable: () => (this.plan ? this.unavailable(this.plan.candidates, [], this.rt.now()) : []),
      heldForOverload: () => (this.plan?.candidates ?? []).some((m) => (this.rt.byModel.get(m) ?? []).some((h) => heldForOverload(h, this.rt.now()))),
    });
    return out.ok ? out : this.downNotBroke(out);
  }

  /**
   * What the cap (x-switchyard-max-cost-usd) or a budget that refuses every model makes of a
   * candidate: 'cap' when its worst case, earlier attempts included, is over the cap, 'ceiling'
   * when it is at or over the worst case such a budget refused (the machine passes both over once
   * picked), else null.
   */
  private moneyBar(m: string, ctx: ReqSnapshot['context']): { bar: 'cap' | 'ceiling'; amount: number } | null {
    const h = (this.rt.byModel.get(m) ?? [])[0];
    if (!h) return null;
    const mc = h.modelCfg;
    const prefill = ctx.committed && this.session ? this.session.delivered : null;
    const amount = worstCaseNano(promptWorstTokens(this.bound(prefill), mc, this.call.body), outputCap(this.call.body, mc, this.roomPrompt(mc)), mc.price);
    if (ctx.maxCostNano !== null && ctx.spentNano + amount > ctx.maxCostNano) return { bar: 'cap', amount: ctx.spentNano + amount };
    if (ctx.ceiling !== null && amount >= ctx.ceiling) return { bar: 'ceiling', amount };
    return null;
  }

  /**
   * Candidates never reached (circuit-open, throttled) that would be refused for money once
   * reached: passed over for it as a reached one is (the reason says so, the refusal names the
   * nearest to fitting), so a request no candidate can fit is the 429 it will be whenever they are
   * back, not a 503 telling the SDKs to wait and send it again.
   */
  private downOverMoney(ctx: ReqSnapshot['context']): ReqSnapshot['context'] {
    if (!this.plan || (ctx.maxCostNano === null && ctx.ceiling === null)) return ctx;
    let refusal = ctx.refusal;
    const now = this.rt.now();
    for (const m of this.plan.candidates) {
      if (this.refusedForMoney(m) || ctx.excludedModels.includes(m)) continue;
      // Only one that could not be reached: a candidate left untried for another cause (a client error ended the request) is not named.
      if ((this.rt.byModel.get(m) ?? []).some((h) => availability(h, now, this.est).ok)) continue;
      const money = this.moneyBar(m, ctx);
      if (money === null) continue;
      if (money.bar === 'ceiling') {
        this.overBudget.push(`${m} not tried (worst case >= $${formatUsd(ctx.ceiling ?? 0)} refused by budget ${this.ceilingBy ?? '?'})`);
        continue;
      }
      this.overCost.push(m);
      const next = { kind: 'max_cost' as const, model: m, amount: money.amount };
      const short = shortfall(next, ctx.maxCostNano);
      if (refusal === null || short < shortfall(refusal, ctx.maxCostNano)) {
        refusal = next;
        this.refusedFor = (this.rt.byModel.get(m) ?? [])[0] ?? this.refusedFor;
        this.refusedShortfall = short;
      }
    }
    return refusal === ctx.refusal ? ctx : { ...ctx, refusal };
  }

  /**
   * A refusal for money while a candidate the budget did not refuse (one no dearer than the
   * refused worst case) could not be reached (circuit-open, throttled): the request may well fit
   * once it is back, so it is a 503 with `retry-after`, not a 429 `budget_exceeded` the SDKs are
   * told never to retry (an app that turns a key off on it did so for a minute's outage).
   */
  private downNotBroke(out: Extract<Outcome, { ok: false }>): Outcome {
    if (out.error.code !== 'budget_exceeded' || !this.plan) return out;
    const down = this.unavailable(this.plan.candidates, this.slowAhead(null), this.rt.now());
    if (down.length === 0) return out;
    const after = this.rt.retryAfterSeconds(this.waitedFor(), this.takes(), this.est);
    const headers: Record<string, string> =
      after > MAX_SDK_RETRY_AFTER_S ? { 'retry-after': String(after), 'x-should-retry': 'false' } : { 'retry-after': String(after) };
    return {
      ...out,
      error: new SwitchyardError(
        'no_endpoint_available',
        `no endpoint available for ${this.call.body.model}: ${down.join(', ')}; the rest was refused for money (${out.error.message})`,
        { headers },
      ),
    };
  }

  /** Seconds until a candidate endpoint's circuit lets a request through, when every candidate endpoint is circuit-open; else null. */
  private allOpenSeconds(): number | null {
    const now = this.rt.now();
    let earliest = Infinity;
    for (const m of this.plan?.candidates ?? [])
      for (const h of this.rt.byModel.get(m) ?? []) {
        const s = h.actor.getSnapshot();
        if (s.value !== 'circuit-open') return null;
        earliest = Math.min(earliest, s.context.retryAt ?? now);
      }
    return Number.isFinite(earliest) ? Math.max(1, Math.ceil((earliest - now) / 1000)) : null;
  }

  /** The endpoints this request could go to at all: within its latency wish (all without one). */
  private takes(): ((h: EndpointHandle) => boolean) | undefined {
    const max = this.call.hints.maxLatencyMs;
    return max === null ? undefined : (h) => withinWish(h, max);
  }

  /**
   * The candidates a retry would wait for: not those refused for money (their endpoints may be
   * free now, and a `retry-after: 1` from them hid a 120 s throttle on the others); all of them
   * when every one was.
   */
  private waitedFor(): string[] {
    const all = this.plan?.candidates ?? [];
    // Nor those the cap would refuse once reached (passed over for latency first, never picked: a
    // `retry-after: 1` of theirs hid the throttle of the one model that fits).
    const ctx = this.snap.context;
    // Nor those the latency wish passes over (a `retry-after: 1` of theirs hid the throttle of the one fast enough).
    const max = this.call.hints.maxLatencyMs;
    const rest = all.filter((m) => !this.refusedForMoney(m) && this.moneyBar(m, ctx) === null && !tooSlow(this.rt.byModel.get(m), max));
    return rest.length > 0 ? rest : [...all];
  }

  /** Passed over for money: over `x-switchyard-max-cost-usd`, refused by a budget, or not tried after a shared budget's refusal. */
  private refusedForMoney(m: string): boolean {
    return this.overCost.includes(m) || this.overBudget.some((n) => n.startsWith(`${m} over budget `) || n.startsWith(`${m} not tried `));
  }

  /**
   * The candidate endpoints besides `current` this request has not tried and could still try: not
   * excluded, not circuit-open, able to take its body, within its latency wish, and (once its stream
   * committed) able to continue it. Each needs one of the attempts `retry.maxTotalAttempts` leaves.
   */
  private untried(current: EndpointHandle): { untried: number; untriedSiblings: number } {
    let n = 0;
    let siblings = 0;
    this.eachUntried(current, (o) => {
      n++;
      if (o.model === current.model) siblings++;
    });
    return { untried: n, untriedSiblings: siblings };
  }

  /**
   * Whether model `m` can continue this request's committed stream: a `prefill` model, no tool call
   * or refusal delivered (it could not be taken up again), nor relayed content other than text.
   * A stream whose answer is still to come (only reasoning shown: `freshAnswer`) any model can give.
   */
  private continuesOn(m: string): boolean {
    if (this.session?.unprefillable === true) return false;
    if (this.session?.freshAnswer === true) return own(this.rt.cfg.models, m) !== undefined;
    if (this.formatted()) return false;
    return own(this.rt.cfg.models, m)?.capabilities.includes('prefill') === true;
  }

  /**
   * The answer is held to a format (`response_format` json_schema or json_object; the Responses
   * API's `text.format`, the Messages API's `output_config.format`): a continuation goes on from the
   * JSON delivered as a prefill, which no provider holds to a schema, so a cut such stream is not
   * continued but ends with its error. A Responses round found one continued on Claude without the
   * schema and ended `completed` with JSON that did not close.
   */
  private formatted(): boolean {
    return asksJson((this.call.body as { response_format?: unknown }).response_format);
  }

  /** Whether a committed stream that broke on `h` could be continued there (see RetryState.sameCanContinue). */
  private sameCanContinue(h: EndpointHandle): boolean {
    return this.snap.context.committed && this.continuesOn(h.model);
  }

  /** Calls `fn` with each endpoint {@link untried} counts. */
  private eachUntried(current: EndpointHandle, fn: (h: EndpointHandle) => void): void {
    const ctx = this.snap.context;
    const max = this.call.hints.maxLatencyMs;
    const continuing = ctx.committed;
    for (const m of this.plan?.candidates ?? []) {
      if (ctx.excludedModels.includes(m) || this.refusedForMoney(m) || this.moneyBar(m, ctx) !== null) continue;
      if (continuing && !this.continuesOn(m)) continue;
      for (const h of this.rt.byModel.get(m) ?? []) {
        if (h === current || ctx.per[h.id] !== undefined || ctx.excluded.includes(h.id) || this.untakeable.includes(h.id)) continue;
        if ((max !== null && !withinWish(h, max)) || h.actor.getSnapshot().value === 'circuit-open') continue;
        fn(h);
      }
    }
  }

  /**
   * How long an endpoint usually takes to what the attempt's limit waits for: a JSON answer's
   * headers (its whole answer: the peak EWMA of its latency), a stream's first content (the EWMA of
   * its time to first token); the model's `latencyPriorMs` before it has answered.
   */
  private usualMs(h: EndpointHandle): number {
    if (this.session === null) return latencyOf(h);
    const c = h.actor.getSnapshot().context;
    return c.ttftEwma ?? c.settings.latencyPriorMs;
  }

  /**
   * The attempt's share of a deadline shorter than its own limit (`headersTimeoutMs` for a JSON
   * answer, `firstTokenTimeoutMs` for a stream's first content), or null. Without it, an endpoint
   * that stalls holds the request until its deadline and no other is ever tried. With another
   * endpoint left to try and attempts to spare, the attempt is cut as a time-out when only twice
   * the usual time of the endpoint tried next remains (the quickest untried one of the first
   * candidate model that has one, as the pick goes) — if by then it has had at least twice its
   * own endpoint's usual time (the rule by which a stop at the deadline counts against it,
   * `overdue`); else it has the whole deadline. Patient with the endpoint asked (an answer longer
   * than usual still comes), it leaves the next one room to answer.
   */
  private deadlineShare(h: EndpointHandle): number | null {
    const ctx = this.snap.context;
    const r = resilienceOf(this.rt.cfg.resilience, h.modelCfg);
    // Until the answer begins, the client's SDK gives up at its own timeout whatever the deadline.
    const until = ctx.committed ? ctx.deadlineAt : Math.min(ctx.deadlineAt, this.sdkDeadlineAt);
    const left = until - this.rt.now();
    if (left >= (this.session === null ? r.headersTimeoutMs : r.firstTokenTimeoutMs) || ctx.attempts >= ctx.maxTotalAttempts) return null;
    // Planned for the endpoint the next attempt goes to: the first candidate model with an untried
    // endpoint (the model's own siblings first), its quickest — the quickest of all (a fallback
    // never reached) cut a hung endpoint with 197 ms left for a sibling that takes 213.
    let next = Infinity;
    let nextModel: string | null = null;
    this.eachUntried(h, (o) => {
      nextModel ??= o.model;
      if (o.model === nextModel) next = Math.min(next, this.usualMs(o));
    });
    const share = left - 2 * next;
    return share >= 2 * this.usualMs(h) ? Math.round(share) : null;
  }

  /** The candidates, when a reload has removed every one of them since the request was routed (else null). */
  private removedCandidates(): string[] | null {
    const c = this.plan?.candidates ?? [];
    return c.length > 0 && c.every((m) => (this.rt.byModel.get(m) ?? []).length === 0) ? c : null;
  }

  /** The latency wish when it leaves no endpoint of any candidate (then no endpoint was ever tried for it). */
  private tooSlow(): number | null {
    const max = this.call.hints.maxLatencyMs;
    if (max === null) return null;
    const fast = (this.plan?.candidates ?? []).some((m) => (this.rt.byModel.get(m) ?? []).some((h) => withinWish(h, max)));
    return fast ? null : max;
  }

  private internal(err: unknown): SwitchyardError {
    this.call.log.error({ err }, 'request failed inside switchyard');
    return new SwitchyardError('internal_error', 'internal error in switchyard');
  }

  /** The request's own deadline aborted it (not its client leaving, nor a shutdown). */
  private deadlinePassed(): boolean {
    const r: unknown = this.ac.signal.aborted ? this.ac.signal.reason : undefined;
    return r instanceof UpstreamFault && r.kind === 'deadline';
  }

  private aborted(): ReqEvent | null {
    if (!this.ac.signal.aborted) return null;
    const r: unknown = this.ac.signal.reason;
    return { type: 'request.aborted', at: this.rt.now(), reason: r instanceof UpstreamFault && r.kind === 'client_gone' ? 'client_gone' : 'deadline' };
  }

  /** The command's event: at once when it completes synchronously, else a promise of it. */
  private perform(cmd: Command | null): ReqEvent | null | Promise<ReqEvent | null> {
    const at = this.rt.now();
    switch (cmd?.type) {
      case undefined:
        return this.attemptEnd;
      case 'route':
        return this.route(at);
      case 'pick':
        return this.aborted() ?? this.pick(cmd, at);
      case 'wait': {
        this.ticket ??= this.rt.queue.ticket();
        if (this.rt.queue.depth >= this.rt.cfg.resilience.queue.maxDepth) this.queueFull = this.rt.cfg.resilience.queue.maxDepth;
        return this.rt.queue.wait(cmd.until, this.ac.signal, this.ticket, at, this.freesAt, this.claims).then((admitted) => {
          if (admitted === 'shed') this.ac.abort(new UpstreamFault('shutting_down', 'the sidecar is shutting down and no candidate frees before it stops'));
          const now = this.rt.now();
          // Woken so near the deadline that an attempt would have less than its room (a probe after a
          // 429 that hung until then): 503 now, as a wait known to end there is, not a doomed attempt billed.
          const late = admitted === true && this.snap.context.deadlineAt - now < attemptRoom(this.snap.context);
          if (late) this.lateLeftMs = Math.max(0, this.snap.context.deadlineAt - now);
          // The deadline passed while it waited (every candidate busy, a half-open probe out, throttled):
          // no endpoint could take it in its time, a 503 naming why, as a wait known to end too late is,
          // not a 504 that blames an upstream it never reached.
          if (this.deadlinePassed()) return { type: 'capacity.refused', at: now };
          return this.aborted() ?? { type: admitted === true && !late ? 'capacity.freed' : 'capacity.refused', at: now };
        });
      }
      case 'sleep': {
        const shed = () =>
          this.ac.abort(new UpstreamFault('shutting_down', 'the sidecar is shutting down, and the wait before asking the endpoint again ends after it stops'));
        const woke = this.rt.queue.sleeping(cmd.until, shed);
        return sleepUntil(this.rt.scheduler, cmd.until, this.ac.signal).then(() => {
          woke();
          return this.aborted() ?? { type: 'timer.fired', at: this.rt.now() };
        });
      }
      case 'reserve':
        return this.reserve(cmd);
      case 'send':
        return this.send(cmd.continuation);
      case 'settle': {
        // The in-process store settles before it returns: its event is due at once; a shared store's when it answers.
        const scope = { keyId: this.call.keyId, model: this.budgetModel ?? this.picked?.model ?? this.call.body.model, dated: this.call.receivedAt };
        const settled = this.rt.budget.settle(this.call.requestId, cmd.budgets, cmd.reserved, cmd.actual, at, scope);
        const ev: ReqEvent = { type: 'budget.settled', at };
        return settled instanceof Promise ? settled.then(() => ev) : ev;
      }
      case 'release': {
        const released = this.rt.budget.release(this.call.requestId, cmd.budgets, cmd.reserved, at);
        return released instanceof Promise ? released.then(() => null) : null;
      }
      case 'finish':
        return null;
    }
  }

  private route(at: number): ReqEvent {
    this.promptTokens = countPrompt(this.call);
    this.est = estTokens(this.call, this.promptTokens);
    try {
      this.plan = this.rt.route(this.call, this.promptTokens, this.opts, () => this.bound(null));
    } catch (err) {
      if (!(err instanceof SwitchyardError)) throw err;
      this.routeError = err;
      return { type: 'route.refused', at };
    }
    if (this.call.body.stream === true) {
      const wantUsage = this.call.body.stream_options?.include_usage === true;
      this.session = new StreamSession(this.sink, `chatcmpl-${this.call.requestId}`, wantUsage, (h) =>
        switchyardHeaders(this.snap.context.attempts, h, this.reason(h)),
      );
    }
    const candidates = translatableCandidates(this.rt, this.call.body, this.plan.candidates);
    if (candidates !== this.plan.candidates)
      this.plan = { ...this.plan, candidates, reason: this.plan.reason + untranslatableNote(this.rt, this.call.body, this.plan.candidates, candidates) };
    // No candidate can take the body at all (a chat field with no Messages form, for Anthropic-kind
    // models only): the 400 is answered here, before an endpoint is picked. Answered by the attempt,
    // it took a slot of the endpoint's rpm window and counted as an attempt that never went out.
    const refused = untranslatableBy(this.rt, this.call.body, candidates);
    if (refused !== null) {
      this.routeError = refused;
      return { type: 'route.refused', at };
    }
    this.untakeable = untakeableEndpoints(this.rt, this.call.body, candidates);
    return { type: 'request.routed', at, candidates };
  }

  private pick(cmd: Extract<Command, { type: 'pick' }>, at: number): ReqEvent {
    // A relayed stream that showed more than text (the upstream's own blocks): no other attempt can continue it.
    if (cmd.committed && this.session?.relayed === true && this.session.unprefillable)
      return { type: 'endpoint.none', at, waitable: false, earliest: null, unknown: false };
    // Its place in line from its first look on (a request that never waits holds a ticket it never uses).
    this.ticket ??= this.rt.queue.ticket();
    const pc = {
      order: this.ticket.n,
      candidates: this.plan?.candidates ?? [],
      skip: this.untakeable,
      toolCallsSent: this.session?.unprefillable === true || (cmd.committed && this.formatted()),
      freshAnswer: this.session?.freshAnswer === true,
      maxLatencyMs: this.call.hints.maxLatencyMs,
      estTokens: this.est,
      now: at,
    };
    // A fail-over goes to an endpoint this request has not tried when one can take it now, before
    // one it tried whose throttle has ended: two siblings answering 503s with a short retry-after
    // took turns (each a retry) until retry.maxTotalAttempts ran out, and the healthy fallback was
    // never asked. Only when none of those can, one it tried (a throttle waited for).
    const tried = cmd.pinned === null && this.snap.context.attempts > 0 ? Object.keys(this.snap.context.per) : NONE;
    const untriedFirst = tried.length > 0 ? this.rt.pick(this.call.requestId, cmd, { ...pc, skip: [...pc.skip, ...tried] }) : null;
    const r = untriedFirst?.type === 'picked' ? untriedFirst : this.rt.pick(this.call.requestId, cmd, pc);
    if (r.type !== 'picked') {
      this.freesAt = r.unknown ? null : r.earliest;
      this.claims = r.claims ?? [];
      // It left an endpoint with room to a waiter ahead of it: wake the line, so that one takes it.
      if (r.yielded === true) this.rt.queue.notify();
      // What it would wait for would be refused for money anyway (the cap, or a budget that refuses every model): no wait.
      const ctx = this.snap.context;
      const futile =
        (ctx.maxCostNano !== null || ctx.ceiling !== null) &&
        (this.plan?.candidates ?? []).every((m) => ctx.excludedModels.includes(m) || this.refusedForMoney(m) || this.moneyBar(m, ctx) !== null);
      return { type: 'endpoint.none', at, waitable: r.waitable && this.call.noWait !== true && !futile, earliest: r.earliest, unknown: r.unknown };
    }
    const h = r.handle;
    this.picked = h;
    const mc = h.modelCfg;
    const prefill = cmd.committed && this.session ? this.session.delivered : null;
    // The bound of what this attempt can cost: prompt bytes (no tokenizer counts more) and the cap sent upstream.
    const amount = worstCaseNano(promptWorstTokens(this.bound(prefill), mc, this.call.body), outputCap(this.call.body, mc, this.roomPrompt(mc)), mc.price);
    const maxCost = this.call.hints.maxCostUsd;
    if (maxCost !== null && amount > usdToNano(maxCost)) {
      if (!this.overCost.includes(h.model)) this.overCost.push(h.model);
      // A request the cap refuses in the end names the model refused with the smallest worst case
      // (its row, its headers), the one its 429 names, as a budget refusal names the last (cheapest) one.
      // As the request machine measures it (its spent and cap), so the model named is the refusal's.
      const short = shortfall({ amount: this.snap.context.spentNano + amount }, this.snap.context.maxCostNano);
      if (this.refusedFor === null || short < this.refusedShortfall) {
        this.refusedFor = h;
        this.refusedShortfall = short;
      }
    }
    // After a budget refused a smaller worst case, the machine passes over this one untried: the reason says so.
    const ceiling = this.snap.context.ceiling;
    if (ceiling !== null && amount >= ceiling && !this.overCost.includes(h.model))
      this.overBudget.push(`${h.model} not tried (worst case >= $${formatUsd(ceiling)} refused by budget ${this.ceilingBy ?? '?'})`);
    return { type: 'endpoint.picked', at, endpoint: h.id, model: h.model, amount };
  }

  /** The store's answer as the event: at once when it decided in process, when it answers for a shared store. */
  private reserve(cmd: Extract<Command, { type: 'reserve' }>): ReqEvent | Promise<ReqEvent> {
    // A shared store decides the picked endpoint's windows, cooldown and probe slot in the same step (the gate).
    const gate = this.picked ? { endpoint: this.picked, estTokens: this.est } : undefined;
    // Every attempt is charged to its own model, a continuation on another model than the one the
    // stream committed to as well: the row names the committed model, and its share of each other
    // model (LedgerRow.shares) is what a rebuild from the ledger counts for that model.
    const model = cmd.model;
    this.budgetModel = model;
    const earlier = this.costNano + (this.call.priorNano ?? 0);
    const grant = this.rt.budget.reserve(this.call.requestId, this.call.keyId, model, cmd.amount, this.rt.now(), gate, earlier, this.earlierByModel());
    return grant instanceof Promise ? this.awaitGrant(cmd, grant) : this.granted(cmd, grant);
  }

  /**
   * A shared store's answer, or the request's end if that comes first: a stalled Redis held the
   * request for its 5 s command timeout past a 1.5 s deadline. A grant that comes after the end is
   * released at once (its reservation and the endpoint slot it took).
   */
  private awaitGrant(cmd: Extract<Command, { type: 'reserve' }>, grant: Promise<ReserveResult>): Promise<ReqEvent> {
    const signal = this.ac.signal;
    return new Promise<ReqEvent>((resolve, reject) => {
      let over = false;
      const onEnd = (): void => {
        if (over) return;
        over = true;
        resolve(this.aborted()!);
        grant.then(
          (g) => {
            if (g.ok) void Promise.resolve(this.rt.budget.release(this.call.requestId, g.budgets, cmd.amount, this.rt.now())).catch(() => undefined);
          },
          () => undefined,
        );
      };
      if (signal.aborted) return onEnd();
      signal.addEventListener('abort', onEnd, { once: true });
      grant.then(
        (g) => {
          if (over) return;
          over = true;
          signal.removeEventListener('abort', onEnd);
          resolve(this.granted(cmd, g));
        },
        (err: unknown) => {
          if (over) return;
          over = true;
          signal.removeEventListener('abort', onEnd);
          reject(err);
        },
      );
    });
  }

  private granted(cmd: Extract<Command, { type: 'reserve' }>, grant: ReserveResult): ReqEvent {
    const at = this.rt.now();
    if (!grant.ok) {
      const note = `${cmd.model} over budget ${grant.budget}`;
      this.refusedBy = grant.budget;
      // The cheapest model refused (by the cap or a budget) is the one the 429, its headers and its row name.
      const short = shortfall({ amount: cmd.amount, limit: grant.limit, spent: grant.spent, reserved: grant.reserved }, null);
      if (this.refusedFor === null || short < this.refusedShortfall) {
        this.refusedFor = this.picked;
        this.refusedShortfall = short;
      }
      if (!this.overBudget.includes(note)) this.overBudget.push(note);
      const everyModel = refusesEveryModel(grant.budget);
      if (everyModel) this.ceilingBy = grant.budget;
      return { type: 'budget.refused', at, budget: grant.budget, limit: grant.limit, spent: grant.spent, reserved: grant.reserved, everyModel };
    }
    // A closed gate (a shared store's answer) reserved nothing: pick again even if the endpoint looks open by now.
    const slotGone = grant.closed === true || this.picked === null || !availability(this.picked, at, this.est).ok;
    return { type: 'budget.granted', at, budgets: grant.budgets, slotGone };
  }

  /** Starts the attempt; resolves at its end, or earlier with `attempt.committed` when a stream commits. */
  private send(continuation: boolean): Promise<ReqEvent> {
    const h = this.picked;
    if (!h) throw new Error('send without a picked endpoint');
    const est = this.est;
    if (this.lastEndpoint !== null && this.lastEndpoint !== h) {
      this.rt.recordFailover?.(this.lastEndpoint, h);
      const from = this.lastEndpoint.model;
      this.failedFrom ??= [];
      if (from !== h.model && !this.failedFrom.includes(from)) this.failedFrom.push(from);
    }
    this.lastEndpoint = h;
    // Before anything is sent: if this process dies now, the ledger still counts what this request may cost.
    const rowOf = this.session?.committedTo ?? h;
    const held = this.rt.holdInFlight?.({
      requestId: this.call.requestId,
      at: this.call.receivedAt,
      keyId: this.call.keyId,
      model: rowOf.model,
      endpoint: rowOf.id,
      amountNano: this.costNano + (this.snap.context.current?.amount ?? 0),
    });
    // The endpoint's slot is taken now, in the same step as the pick: another request woken in
    // this turn must not see it free while this one's journal line is being written.
    this.probe = probeRound(h);
    this.rt.endpointEvent(h, { type: 'request.dispatched', at: this.rt.now(), estTokens: est });
    // A journal that groups its writes: the attempt goes once its line is written (an abort
    // meanwhile ends it as it starts); a failed write releases the slot and the reservation and
    // fails the request as a throw from the journal would.
    if (held instanceof Promise)
      return held.then(
        () => this.dispatch(h, est, continuation),
        (err: unknown) => this.failed(h, err, est, null),
      );
    return this.dispatch(h, est, continuation);
  }

  /** The attempt itself, its hold written and its slot taken: sent upstream; resolves as `send` says. */
  private dispatch(h: EndpointHandle, est: number, continuation: boolean): Promise<ReqEvent> {
    const session = this.session;
    const relay = this.relays(h);
    // A relay is never a continuation: its bounds are the fresh attempt's (what withinReservation holds its row to).
    session?.beginAttempt(
      relay,
      relay
        ? {
            prompt: promptWorstTokens(this.bound(null), h.modelCfg, this.call.body),
            cap: this.sentCap(h, null),
            promptEstimate: () => this.estimate(h, null, '').promptTokens,
          }
        : null,
    );
    const prefill = continuation && session ? session.delivered : null;
    if (!continuation) this.answerUsage = NO_USAGE;
    this.attemptAt = this.rt.now();
    this.sentAt = null;
    const attempt = runAttempt(
      {
        h,
        body: this.call.body,
        stream: session !== null,
        prefill,
        outputCap: this.sentCap(h, prefill),
        relay,
        resilience: resilienceOf(this.rt.cfg.resilience, h.modelCfg),
        shareMs: this.deadlineShare(h),
        scheduler: this.rt.scheduler,
        toolArgsObjects: this.call.api === 'messages' && !relay,
        // Every API but a Messages relay (Anthropic's own stop reasons): a chat client was given the half answer with its finish reason.
        brokenOffIsCut: !relay,
        signal: this.ac.signal,
        now: this.rt.now,
        onSent: session === null ? () => (this.sentAt = this.rt.now()) : undefined,
      },
      session,
    );
    this.attemptEnd = attempt.then(
      (ok) => this.succeeded(h, ok, est, prefill),
      (err: unknown) => this.failed(h, err, est, prefill),
    );
    // A held stream's commit is not the client's: the machine is not told, so a failure after it is an uncommitted one's.
    if (!session || session.committed || this.sink.restart !== undefined) return this.attemptEnd;
    return new Promise<ReqEvent>((resolve, reject) => {
      session.onCommit = () => {
        // The probe after a 429's throttle is answered: the requests that waited for it go now, not at its end.
        if (this.probe !== undefined) this.rt.endpointEvent(h, { type: 'upstream.answering', at: this.rt.now(), probe: this.probe });
        resolve({ type: 'attempt.committed', at: this.rt.now() });
      };
      this.attemptEnd?.then(resolve, reject);
    }).finally(() => (session.onCommit = null));
  }

  /**
   * A Messages request to an Anthropic-kind endpoint is answered with that endpoint's own body
   * or events — unless a stream already committed in the translated form (a continuation).
   */
  private relays(h: EndpointHandle): boolean {
    if (this.sink.native === undefined || h.adapter.kind !== 'anthropic') return false;
    if (nativeOf(this.call.body)?.kind !== 'anthropic-messages') return false;
    return !(this.session?.committed ?? false);
  }

  /**
   * The request's time to first token: from its arrival to the first content the client got, an
   * attempt's own (`ttftMs`, from when it was sent) plus what came before it — the queue, earlier
   * attempts, backoffs. The ledger's `ttft_ms` and the time-to-first-token metric are the client's
   * wait: a migrant round found a stream failed over after a 3 s first-token timeout recorded at 24 ms.
   * (The endpoint's own statistics keep the attempt's.)
   */
  private requestTtft(attemptTtft: number | null): number | null {
    return attemptTtft === null ? null : Math.max(0, this.attemptAt - this.call.receivedAt) + attemptTtft;
  }

  /** The output cap an attempt on `h` is sent (and reserved for): outputCap, less a continuation's prefill. */
  private sentCap(h: EndpointHandle, prefill: string | null): number {
    return continuationCap(outputCap(this.call.body, h.modelCfg, this.roomPrompt(h.modelCfg)), prefill);
  }

  /**
   * The prompt count the room left in a model's window is taken from (outputCap, when the client
   * set no max_tokens). The routing count of a short prompt is an estimate (a third of its bytes)
   * that text such as lists of digits exceeds threefold; where the prompt's byte bound could
   * collide with the window, the prompt is counted exactly (once a request), so a prompt that fits
   * is not sent a cap that overflows the window.
   */
  private roomPrompt(mc: { contextWindow: number; maxOutputTokens: number }): number {
    if (this.exactPrompt !== null) return this.exactPrompt;
    if (mc.contextWindow - this.bound(null) >= mc.maxOutputTokens) return this.promptTokens;
    if (requestedOutputTokens(this.call.body) !== null) return this.promptTokens;
    // The exact count, above or below the estimate: a third of the bytes over-counts English 1.5×
    // (a 4k window's answer was sent a cap of 1 token) and under-counts lists of digits.
    return (this.exactPrompt = shownPromptTokens(this.call));
  }

  /** The prompt's byte bound (promptBoundTokens), with a continuation's prefill; without one it is made once a request. */
  private bound(prefill: string | null): number {
    return prefill === null ? (this.promptBound ??= promptBoundTokens(this.call.body)) : promptBoundTokens(this.call.body, prefill);
  }

  /**
   * Our own count of an attempt's tokens, where the upstream gave none: never more than the attempt
   * was reserved for (the prompt's bound and the cap it was sent), so an estimate can never settle
   * above the reservation (o200k may count more than the provider's tokenizer did).
   */
  private estimate(h: EndpointHandle, prefill: string | null, output: string): Usage {
    // A continuation's prompt is the request's and the answer so far it was sent to continue.
    const prompt = shownPromptTokens(this.call) + (prefill === null || prefill === '' ? 0 : countTextTokens(prefill));
    return {
      promptTokens: Math.min(prompt, this.bound(prefill)),
      completionTokens: Math.min(output === '' ? 0 : countTextTokens(output), this.sentCap(h, prefill)),
    };
  }

  /**
   * The upstream's counts, held to what the attempt was reserved for: the prompt's bound and the
   * output cap it was sent. An upstream that reports more (a bug, a proxy's arithmetic: 10^15
   * tokens, 100,000 for max_tokens 100) is billed at that bound and the row marked estimated, so
   * what an attempt costs never exceeds its reservation and a budget is never overrun by a count
   * no request could have used. Cache-written tokens stay within the prompt (a cached count above
   * it is taken as none: the row estimated, the prompt at the input price), reasoning within the output.
   */
  private withinReservation(h: EndpointHandle, prefill: string | null, u: Usage): Usage {
    const prompt = promptWorstTokens(this.bound(prefill), h.modelCfg, this.call.body);
    const cap = this.sentCap(h, prefill);
    if (u.promptTokens <= prompt && u.completionTokens <= cap) {
      // Within bounds: as reported, but a part never above its whole (the row's cached count within the prompt).
      const cached = u.cachedTokens ?? 0;
      if (cached <= u.promptTokens && cached + (u.cacheCreationTokens ?? 0) <= u.promptTokens && (u.reasoningTokens ?? 0) <= u.completionTokens) return u;
      // More cache reads than prompt tokens says nothing of the split: the prompt is billed at the
      // input price (as counts past the bounds are below), not all at the cheapest, cached price.
      const broken = cached > u.promptTokens;
      if (broken) {
        this.call.log.warn(
          { endpoint: h.id, reportedPrompt: u.promptTokens, reportedCached: cached },
          `endpoint ${h.id} reported more cached tokens than prompt tokens: its prompt billed at the input price`,
        );
        this.estimated = true;
      }
      const out: Usage = { ...u, cachedTokens: broken ? 0 : cached, reasoningTokens: Math.min(u.reasoningTokens ?? 0, u.completionTokens) };
      if (u.cacheCreationTokens !== undefined) out.cacheCreationTokens = Math.min(u.cacheCreationTokens, u.promptTokens - out.cachedTokens!);
      return out;
    }
    this.call.log.warn(
      { endpoint: h.id, reportedPrompt: u.promptTokens, reportedCompletion: u.completionTokens, prompt, cap },
      `endpoint ${h.id} reported more tokens than the request could use (prompt bound ${prompt}, output cap ${cap}): billed at that bound`,
    );
    this.estimated = true;
    const promptTokens = Math.min(u.promptTokens, prompt);
    const completionTokens = Math.min(u.completionTokens, cap);
    // Counts this far off say nothing of how the prompt split into cache reads and writes: the held
    // prompt is billed at the input price (the reservation's), never as the cheapest split (all cache reads).
    const out: Usage = { ...u, promptTokens, completionTokens, cachedTokens: 0 };
    delete out.cacheCreationTokens;
    if (u.reasoningTokens !== undefined) out.reasoningTokens = Math.min(u.reasoningTokens, completionTokens);
    return out;
  }

  /** A cut JSON attempt's tokens (see `failed`): the prompt as counted, and the output cap it was sent (none for embeddings). */
  private cutUsage(h: EndpointHandle, prefill: string | null): Usage {
    const { promptTokens } = this.estimate(h, prefill, '');
    return { promptTokens, completionTokens: nativeOf(this.call.body)?.kind === 'embeddings' ? 0 : this.sentCap(h, prefill) };
  }

  /**
   * What an attempt that went out and delivered nothing is billed at, estimated; null for $0.
   *
   * JSON, cut by our side (its client left, a second SIGTERM, the request's deadline, the headers
   * timeout: a provider sends a JSON answer's headers only once it has written the answer), or its
   * body lost after the upstream's 2xx (a reset, a stall): the provider has the request, may go on to
   * answer it whole (had, for a 2xx) and bill that, and nothing says how much. It is billed at what
   * it was reserved for (the prompt and the cap it was sent): at $0, a client that leaves (or sets a
   * short deadline) before every answer spent past its budgets unseen, and a retry after a cut body
   * doubled the spend with none of it recorded. A whole body that is not an answer (`bad_response`)
   * is not taken as billed.
   *
   * A stream, cut by our side before its first content (the first-token timeout too): the provider
   * has read the prompt (a long one is most of the cost) and stops writing when the connection
   * closes, so the prompt is billed and the output it had not begun is not. At $0, a client that
   * drops every stream just before its first token spent past its budgets unseen.
   */
  private cutAttemptUsage(h: EndpointHandle, err: AttemptFailure, prefill: string | null): Usage | null {
    if (!err.sent) return null;
    const kind = err.fault.kind;
    // A 2xx that is a web page (an `http_status` fault: a portal or a site at the baseUrl) was never the API: nothing made, nothing billed.
    if (this.session === null)
      return CUT_BY_US.has(kind) || (err.answered && kind !== 'bad_response' && kind !== 'http_status') ? this.cutUsage(h, prefill) : null;
    return CUT_BY_US.has(kind) || kind === 'first_token_timeout' ? { promptTokens: this.estimate(h, prefill, '').promptTokens, completionTokens: 0 } : null;
  }

  private succeeded(h: EndpointHandle, ok: AttemptSuccess, est: number, prefill: string | null): ReqEvent {
    let usage = ok.usage;
    let held = false;
    if (!usage) {
      usage = this.estimate(h, prefill, ok.text + ok.other);
      this.estimated = true;
      // None reported, or one that cannot be read (negative counts, strings): the body shows the estimate billed.
      held = true;
    } else {
      // No prompt tokens for a request that had one, or no output tokens for an answer that has
      // some, is no count (a proxy's placeholder zeros): that part is estimated, never billed as $0.
      if (usage.promptTokens === 0 || (usage.completionTokens === 0 && (ok.text !== '' || ok.other !== ''))) {
        const guess = this.estimate(h, prefill, ok.text + ok.other);
        usage = { ...usage, promptTokens: usage.promptTokens || guess.promptTokens, completionTokens: usage.completionTokens || guess.completionTokens };
        this.estimated = true;
      }
      const within = this.withinReservation(h, prefill, usage);
      usage = within;
      // The body shows the counts billed (held to the reservation, estimated, or parts that could not be read).
      held = (ok.completion !== null && !showsUsage(ok.completion, usage)) || (ok.native !== null && !showsUsage(ok.native.json, usage));
    }
    const cost = costOf(usage, h.modelCfg.price).totalNano;
    this.bill(h, cost);
    this.addUsage(usage);
    this.ttftMs ??= this.requestTtft(ok.ttftMs);
    this.completion = ok.completion;
    this.completionText = ok.completionText;
    this.native = ok.native;
    if (held) this.showHeld(ok, usage);
    const now = this.rt.now();
    this.rt.endpointEvent(h, {
      type: 'upstream.succeeded',
      at: now,
      latencyMs: ok.latencyMs,
      ttftMs: ok.ttftMs,
      tokens: usage.promptTokens + usage.completionTokens,
      estTokens: est,
      probe: this.probe,
    });
    if (ok.exhaustedUntil !== null)
      this.rt.endpointEvent(h, { type: 'window.exhausted', at: now, retryAt: ok.exhaustedUntil, reason: 'x-ratelimit-remaining 0' });
    if (ok.malformed > 0) this.call.log.warn({ endpoint: h.id, malformed: ok.malformed }, 'dropped malformed upstream chunks');
    return { type: 'attempt.succeeded', at: now, costNano: cost };
  }

  /** The answer's body shows the counts it was billed at, not the ones the upstream reported over its reservation (held-usage.ts). */
  private showHeld(ok: AttemptSuccess, usage: Usage): void {
    if (ok.completion) {
      this.completion = withHeldUsage(ok.completion, usage);
      this.completionText = null;
    }
    if (ok.native) {
      const json = withHeldUsage(ok.native.json, usage);
      this.native = { text: JSON.stringify(json), json };
    }
  }

  /** What this request (and a cascade's earlier steps) settled so far, by the model each part was charged to; undefined: nothing. */
  private earlierByModel(): ReadonlyMap<string, number> | undefined {
    const prior = this.call.priorByModel;
    if (prior === undefined || prior.size === 0) return this.costByModel ?? undefined;
    if (this.costByModel === null) return prior;
    const all = new Map(prior);
    for (const [m, c] of this.costByModel) all.set(m, (all.get(m) ?? 0) + c);
    return all;
  }

  /** An attempt's cost, on the request and on the model its reservation charges (`budgetModel`: the attempt's own). */
  private bill(h: EndpointHandle, cost: number): void {
    this.costNano += cost;
    if (cost === 0) return;
    const model = this.budgetModel ?? h.model;
    this.costByModel ??= new Map();
    this.costByModel.set(model, (this.costByModel.get(model) ?? 0) + cost);
  }

  /**
   * Every attempt billed adds its tokens, as it adds its cost: after a continuation the row's
   * tokens are both parts' (the prompt was sent, and billed, twice), so tokens × price is the cost.
   */
  private addUsage(u: Usage): void {
    this.usage = sumUsage(this.usage, u);
    this.answerUsage = sumUsage(this.answerUsage, u);
  }

  /** Whether a committed text stream's delivered answer has reached the client's own output cap. */
  private capReached(fault: string): boolean {
    const s = this.session;
    // A cut or stall only: an answer running far over its cap (bad_response) is the upstream ignoring max_tokens, an error.
    if (s === null || !s.committed || s.relayed || s.toolCallsSent || this.sink.restart !== undefined || !CUT_MID_STREAM.has(fault)) return false;
    const cap = requestedOutputTokens(this.call.body);
    return cap !== null && countTextTokens(s.delivered) >= cap;
  }

  /** The retry policy classifies the fault with this request's counts; the machine decides what follows. */
  private failed(h: EndpointHandle, err: unknown, est: number, prefill: string | null): ReqEvent {
    const ev = this.failedAttempt(h, err, est, prefill);
    // Its client left (readOnForGone): nothing is tried after the attempt it left, whatever failed it.
    return this.gone && ev.type === 'attempt.failed' ? { ...ev, next: 'stop', delayMs: 0, smallerModels: [], retryLater: false } : ev;
  }

  private failedAttempt(h: EndpointHandle, err: unknown, est: number, prefill: string | null): ReqEvent {
    const wasContinuation = prefill !== null;
    const now = this.rt.now();
    if (!(err instanceof AttemptFailure)) {
      this.rt.endpointEvent(h, { type: 'upstream.released', at: now, estTokens: est, tokens: 0, probe: this.probe });
      const cur = this.snap.context.current;
      if (cur) void this.rt.budget.release(this.call.requestId, cur.budgets, cur.amount, now);
      throw err;
    }
    const fault = err.fault;
    // A held (cascade step's) stream that this attempt began: nobody saw it, so the next attempt
    // answers afresh on any candidate, its reservation and row its own (not a continuation, which
    // only a `prefill` model can take, its prompt the whole answer so far, charged to this model).
    if (this.session?.committed === true && this.sink.restart !== undefined) this.session.restart();
    // Tokens already delivered were billed by the provider: settle them. By the counts the upstream
    // reported before the failure where it did (its prompt count is exact; its output count so far may
    // lag what was delivered, so the larger of it and our estimate), else estimated.
    const delivered = err.deliveredText + err.otherText;
    let partialTokens = 0;
    let partialCostNano = 0;
    // An answer larger than switchyard reads is billed at its reservation, whatever reached the client.
    const oversize = fault instanceof OversizeFault && err.sent;
    if (!oversize && (delivered !== '' || err.usage !== null)) {
      const guess = this.estimate(h, prefill, delivered);
      // Final counts (a whole body's, a stream's after its finish: a bad answer) are billed as they are;
      // a zero output count for words delivered is a placeholder (estimated, as for an answer served).
      const final = err.usageFinal && err.usage !== null && (err.usage.completionTokens > 0 || delivered === '');
      const usage: Usage = err.usage
        ? this.withinReservation(h, prefill, {
            ...err.usage,
            completionTokens: final ? err.usage.completionTokens : Math.max(err.usage.completionTokens, guess.completionTokens),
          })
        : guess;
      partialTokens = usage.completionTokens;
      // Counts the upstream reported are billed even without output where the provider billed them:
      // a whole 2xx body that is no answer (no choices, an error object) and reports its prompt, or
      // an attempt this side cut (as an unreported one is estimated, cutAttemptUsage). It was $0.
      const cost = costOf(usage, h.modelCfg.price).totalNano;
      const billedBare = err.usage !== null && cost > 0 && (fault.kind === 'bad_response' || this.cutAttemptUsage(h, err, prefill) !== null);
      if (partialTokens > 0 || billedBare) {
        partialCostNano = cost;
        this.bill(h, partialCostNano);
        if (!err.usage || (!final && guess.completionTokens > err.usage.completionTokens)) this.estimated = true;
        this.addUsage(usage);
        this.ttftMs ??= this.requestTtft(err.ttftMs);
      }
    } else {
      // A bad answer in an answer's shape that reported no usable counts: its prompt, estimated (it was $0; reported counts are billed above).
      const usage = oversize
        ? this.cutUsage(h, prefill)
        : err.promptBilled && err.sent
          ? { promptTokens: this.estimate(h, prefill, '').promptTokens, completionTokens: 0 }
          : this.cutAttemptUsage(h, err, prefill);
      if (usage) {
        partialTokens = usage.completionTokens;
        partialCostNano = costOf(usage, h.modelCfg.price).totalNano;
        this.bill(h, partialCostNano);
        this.estimated = true;
        this.addUsage(usage);
      }
    }
    const ctx = this.snap.context;
    const per = ctx.per[h.id] ?? { attempts: 1, transientRetryUsed: false };
    const retryState = {
      attemptsOnEndpoint: per.attempts,
      transientRetryUsed: per.transientRetryUsed,
      now,
      remainingMs: ctx.deadlineAt - now,
      minAttemptMs: attemptRoom(ctx),
      overdue: (fault.kind === 'deadline' || fault.kind === 'client_gone') && overdue(h, err, delivered),
      attemptsLeft: ctx.maxTotalAttempts - ctx.attempts,
      ...this.untried(h),
      sameCanContinue: this.sameCanContinue(h),
      // Nothing written to the client: no commit, and no stream that began (a relayed one commits by its own events).
      uncommitted: !ctx.committed && this.session?.committed !== true,
      rng: this.rt.rng,
    };
    let d = decide(fault, retryState, this.rt.cfg.resilience);
    // An error event of the client's kind (`invalid_request_error`: some servers put a 400 in the
    // stream of a 200; Claude's "prompt is too long" after its message_start, a content filter's
    // block part way) is about this request, not the endpoint's health: never counted against it
    // (five tripped the breaker for every client). As the stream's first word, before any output,
    // it is the 400 it is, not tried on every endpoint and then called a 502 upstream_error. Output
    // tokens, not words, were the test: Claude's message_start reports 1 (a placeholder).
    const clientKind = fault.kind === 'stream_error' && fault.error?.type === 'invalid_request_error';
    if (clientKind && delivered === '' && !wasContinuation) d = { verdict: { event: 'released' }, next: { step: 'propagate' }, loud: false };
    else if (clientKind && d.verdict.event === 'failed') d = { ...d, verdict: { event: 'released' } };
    // Anthropic's `overloaded_error` before any content reached the client is its 529, sent as the
    // first event of a 200 stream (as it does under load): the 529's one quick retry on the
    // endpoint, not a fail-over at once (a lone Claude endpoint answered it with a 502).
    else if (fault.kind === 'stream_error' && !ctx.committed && !wasContinuation && fault.error?.type === 'overloaded_error')
      d = decide(new UpstreamFault('http_status', fault.message, 529, fault.error), retryState, this.rt.cfg.resilience);
    // An answer bad for this request only (BadAnswerFault.requestOwn): failed over as decided, not counted against the endpoint.
    if (d.verdict.event === 'failed' && requestOwnFault(fault)) d = { ...d, verdict: { event: 'released' } };
    const v = d.verdict;
    const probe = this.probe;
    if (v.event === 'failed')
      this.rt.endpointEvent(h, {
        type: 'upstream.failed',
        at: now,
        fault: v.fault,
        countsAsFailure: true,
        estTokens: est,
        tokens: partialTokens,
        probe,
        ...(v.retryAt !== undefined ? { retryAt: v.retryAt } : {}),
      });
    else if (v.event === 'rateLimited') this.rt.endpointEvent(h, { type: 'upstream.rateLimited', at: now, retryAt: v.retryAt, estTokens: est, probe });
    else this.rt.endpointEvent(h, { type: 'upstream.released', at: now, estTokens: est, tokens: partialTokens, probe });
    // The failure opened the endpoint's circuit (its threshold crossed, or its half-open probe failed):
    // no retry there. It waited out a retry-after, found the circuit open and only then failed over.
    const opened = v.event === 'failed' && h.actor.getSnapshot().value === 'circuit-open';
    if (opened && d.next.step === 'retry_same') d = { ...d, next: { step: 'failover' } };
    const logLine = { endpoint: h.id, fault: fault.kind, status: fault.status, next: d.next.step, attempt: ctx.attempts, continuation: wasContinuation };
    if (d.loud)
      this.call.log.error(
        { ...logLine, baseUrl: shownUrl(h.provider.baseUrl) },
        loudMessage(h, v, fault.status, fault.message, fault.error !== undefined && fault.error !== null && fault.error.unstructured === undefined),
      );
    else this.call.log.info(logLine, `attempt failed: ${loggedMessage(fault.message, fault.error?.message, this.call.log.isLevelEnabled('debug'))}`);
    // A stream cut once it had delivered (by our count) all the tokens the client's max_tokens
    // allows is not continued: a continuation would be asked for a token more than the cap, and
    // billed the prompt again. Nor is it called finished (the upstream may count its tokens
    // otherwise, and the answer may be short of its cap): it ends with the cut's error, as a stream
    // no candidate can continue does.
    if (this.capReached(fault.kind)) {
      this.capCut = requestedOutputTokens(this.call.body);
      return { type: 'attempt.failed', at: now, fault, next: 'propagate', delayMs: 0, partialCostNano, smallerModels: [], retryLater: false };
    }
    const window = h.modelCfg.contextWindow;
    const smallerModels =
      d.next.step === 'larger_context' ? (this.plan?.candidates ?? []).filter((m) => (own(this.rt.cfg.models, m)?.contextWindow ?? 0) <= window) : [];
    return {
      type: 'attempt.failed',
      at: now,
      fault,
      next: d.next.step,
      delayMs: d.next.step === 'retry_same' ? d.next.delayMs : 0,
      partialCostNano,
      smallerModels,
      // A 429, or a 503/529 overload that said when to ask again (its endpoint is held back until then
      // as a 429's is): a new request would wait for that endpoint, so this one does too when nothing else takes it.
      retryLater:
        !opened &&
        (v.event === 'rateLimited' || (v.event === 'failed' && v.retryAt !== undefined)) &&
        d.next.step === 'failover' &&
        per.attempts < this.rt.cfg.resilience.retry.maxAttempts &&
        (v.retryAt ?? Infinity) < ctx.deadlineAt,
    };
  }
}

/**
 * The time limits an attempt on a model runs under: `resilience`'s, with the model's own
 * (`models.<id>.headersTimeoutMs`, `firstTokenTimeoutMs`, `idleTimeoutMs`) where it sets them.
 */
export function resilienceOf<R extends { headersTimeoutMs: number; firstTokenTimeoutMs: number; idleTimeoutMs: number }>(
  r: R,
  m: { headersTimeoutMs?: number | undefined; firstTokenTimeoutMs?: number | undefined; idleTimeoutMs?: number | undefined },
): R {
  if (m.headersTimeoutMs === undefined && m.firstTokenTimeoutMs === undefined && m.idleTimeoutMs === undefined) return r;
  return {
    ...r,
    headersTimeoutMs: m.headersTimeoutMs ?? r.headersTimeoutMs,
    firstTokenTimeoutMs: m.firstTokenTimeoutMs ?? r.firstTokenTimeoutMs,
    idleTimeoutMs: m.idleTimeoutMs ?? r.idleTimeoutMs,
  };
}

/**
 * The deadline (or the client leaving) cut an attempt that went out and had begun no answer (no 2xx headers of a JSON
 * answer, no first content of a stream) after at least twice the endpoint's observed latency (its
 * peak EWMA, the model's prior until measured): the endpoint stalled (retry-policy's `overdue`).
 */
function overdue(h: EndpointHandle, err: AttemptFailure, delivered: string): boolean {
  return err.sent && !err.answered && err.ttftMs === null && delivered === '' && err.latencyMs >= 2 * latencyOf(h);
}

/** No tokens (never changed: usages are summed into new objects). */
const NO_USAGE: Usage = Object.freeze({ promptTokens: 0, completionTokens: 0, cachedTokens: 0 });

/** Faults that end a stream part way through its answer (a cut, a stall, an error event, a reset). */
const CUT_MID_STREAM: ReadonlySet<string> = new Set(['stream_cut', 'stream_error', 'idle_timeout', 'reset']);

/** Faults by which switchyard itself ends an attempt that went out (the provider was not at fault and may bill it). */
const CUT_BY_US: ReadonlySet<string> = new Set(['client_gone', 'shutting_down', 'deadline', 'headers_timeout']);

/** The error-level line for a misconfigured endpoint (a `loud` decision): what to check. */
function loudMessage(h: EndpointHandle, v: EndpointVerdict, status: number | null, message: string, json: boolean): string {
  if (v.event === 'failed' && v.fault === 'auth' && status === 402)
    return `endpoint ${h.id} refused our account for payment (${message}): check the provider account's balance or credits; failing over`;
  if (v.event === 'failed' && v.fault === 'auth') return `endpoint ${h.id} rejected our credentials (${status}): check its apiKeyEnv; failing over`;
  const where = `its provider's baseUrl (${shownUrl(h.provider.baseUrl)})`;
  if (status !== null && status < 400) return `endpoint ${h.id}: ${message.replace("the provider's baseUrl", where)}; failing over`;
  if (status === 404 && json)
    return `endpoint ${h.id} answered 404 in its API's shape: the provider does not serve its upstreamModel "${h.endpoint.upstreamModel}" (retired, misspelt, or not on this account): check models.${h.model}.endpoints[].upstreamModel; failing over`;
  if (status === 404) return `endpoint ${h.id} answered 404 with a body that is not the provider's API error: check ${where}; failing over`;
  if (status === 413)
    return (
      `endpoint ${h.id} answered 413 with a body that is not the provider's API error: a gateway or proxy in front of ${where} limits the request's size ` +
      `(raise its limit to what server.maxBodyBytes lets in); not counted against the endpoint; failing over`
    );
  if (status === 403)
    return (
      `endpoint ${h.id} answered 403 with a page that is not the provider's API error: a WAF or proxy in front of ${where} refused the request ` +
      `(its content, or this host); not counted against the endpoint; failing over`
    );
  return (
    `endpoint ${h.id} answered ${status} with a page that is not the provider's API error, so the request never reached its API: ` +
    `check ${where} and any reverse proxy, CDN or WAF in front of it; failing over`
  );
}

/** A base URL for a log line, without any user:password it may carry. */
function shownUrl(baseUrl: string): string {
  try {
    const u = new URL(baseUrl);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return baseUrl;
  }
}

/** Two sets of named counts added key by key. */
function addCounts(a: Record<string, number> | undefined, b: Record<string, number> | undefined): Record<string, number> {
  const out: Record<string, number> = { ...a };
  if (b) for (const k of Object.keys(b)) out[k] = (out[k] ?? 0) + b[k]!;
  return out;
}

/** Two usages added count by count (the upstream's other counts too, as they came). */
function sumUsage(was: Usage, u: Usage): Usage {
  const sum: Usage = {
    promptTokens: was.promptTokens + u.promptTokens,
    completionTokens: was.completionTokens + u.completionTokens,
    cachedTokens: (was.cachedTokens ?? 0) + (u.cachedTokens ?? 0),
    reasoningTokens: (was.reasoningTokens ?? 0) + (u.reasoningTokens ?? 0),
  };
  // The upstream's other counts (audio, prediction tokens…) reach a stream's usage chunk as they came.
  if (was.cacheCreationTokens !== undefined || u.cacheCreationTokens !== undefined)
    sum.cacheCreationTokens = (was.cacheCreationTokens ?? 0) + (u.cacheCreationTokens ?? 0);
  if (was.promptDetails !== undefined || u.promptDetails !== undefined) sum.promptDetails = addCounts(was.promptDetails, u.promptDetails);
  if (was.completionDetails !== undefined || u.completionDetails !== undefined) sum.completionDetails = addCounts(was.completionDetails, u.completionDetails);
  return sum;
}
