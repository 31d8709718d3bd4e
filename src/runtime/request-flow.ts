/**
 * One request's life, as plain async code that talks to the long-lived actors: resolve the
 * candidates, pick an endpoint, reserve the budget, attempt, and on a fault ask the retry
 * policy what next. This is the one retry authority of switchyard.
 */
import { costOf, worstCaseNano, type Usage } from '../accounting/cost.js';
import { countPromptTokens, countTextTokens } from '../accounting/tokens.js';
import { outputCap, promptBoundTokens, requestedOutputTokens } from '../accounting/reservation.js';
import { nanoToUsd, usdToNano } from '../accounting/money.js';
import { own } from '../config/lookup.js';
import { SwitchyardError, upstreamClientError } from '../errors.js';
import { resolve, type RoutePlan } from '../routing/resolve.js';
import { UpstreamFault } from '../upstream/types.js';
import type { ChatCall, ChatSink } from './api.js';
import { AttemptFailure, runAttempt, type AttemptSuccess } from './attempt.js';
import { availability, latencyOf, type EndpointHandle } from './endpoints.js';
import { decide } from './retry-policy.js';
import { StreamSession } from './stream-session.js';
import type { RuntimeCore } from './core.js';
import { finalizeRequest, type Outcome } from './finalize.js';

/** Above this many characters of prompt text the exact tokenizer always runs. */
const EXACT_COUNT_CHARS = 16_000;

function promptChars(messages: ReadonlyArray<{ content?: unknown }>): number {
  let n = 0;
  for (const m of messages) {
    if (typeof m.content === 'string') n += m.content.length;
    else if (Array.isArray(m.content)) for (const p of m.content) n += typeof p === 'object' && p !== null && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text.length : 340;
  }
  return n;
}

/** Header values must be visible ASCII: arrows and symbols of the reason are spelled out. */
function asciiReason(reason: string): string {
  return reason.replace(/→/g, '->').replace(/≥/g, '>=').replace(/≤/g, '<=').replace(/×/g, 'x').normalize('NFKD').replace(/[^\x20-\x7e]/g, '');
}

interface Pinned {
  id: string;
  notBefore: number;
}

interface PerEndpoint {
  attempts: number;
  transientRetryUsed: boolean;
}

export class RequestFlow {
  private readonly deadlineAt: number;
  private readonly ac = new AbortController();
  private plan!: RoutePlan;
  private promptTokens = 0;
  private attempts = 0;
  private readonly per = new Map<string, PerEndpoint>();
  private readonly excluded = new Set<string>();
  private readonly excludedModels = new Set<string>();
  private pinned: Pinned | null = null;
  private lastFault: UpstreamFault | null = null;
  private lastEndpoint: EndpointHandle | null = null;
  private budgetRefusal: SwitchyardError | null = null;
  /** Worst case of the last refused reservation: later candidates must be cheaper. */
  private budgetCeiling: number | null = null;
  private costNano = 0;
  private estimated = false;
  private usageTotal: Usage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0 };
  private session: StreamSession | null = null;
  private ttftMs: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private ticket: number | undefined;

  constructor(
    private readonly rt: RuntimeCore,
    private readonly call: ChatCall,
    private readonly sink: ChatSink,
    /** A quality-cascade step: these candidates instead of the router's (src/runtime/cascade.ts). */
    private readonly planOverride: RoutePlan | null = null,
  ) {
    const timeout = call.hints.timeoutMs ?? rt.cfg.resilience.requestTimeoutMs;
    this.deadlineAt = call.receivedAt + timeout;
  }

  private get stream(): boolean {
    return this.call.body.stream === true;
  }

  async run(): Promise<void> {
    const onGone = () => this.ac.abort(new UpstreamFault('client_gone', 'the client went away'));
    this.sink.signal.addEventListener('abort', onGone, { once: true });
    this.timer = setTimeout(() => this.ac.abort(new UpstreamFault('deadline', 'the request deadline passed')), Math.max(0, this.deadlineAt - this.rt.now()));
    let outcome: Outcome;
    try {
      outcome = await this.execute();
    } catch (err) {
      outcome = { ok: false, error: err instanceof SwitchyardError ? err : this.internal(err) };
    } finally {
      clearTimeout(this.timer);
      this.sink.signal.removeEventListener('abort', onGone);
    }
    await finalizeRequest(this.rt, this.call, this.sink, this.session, outcome, {
      attempts: this.attempts,
      costNano: this.costNano,
      estimated: this.estimated,
      usage: this.usageTotal,
      ttftMs: this.ttftMs,
      plan: this.plan ?? null,
      endpoint: this.session?.committedTo ?? this.lastEndpoint,
      headers: (h) => this.headers(h),
    });
  }

  private internal(err: unknown): SwitchyardError {
    this.call.log.error({ err }, 'request failed inside switchyard');
    return new SwitchyardError('internal_error', 'internal error in switchyard');
  }

  headers(h: EndpointHandle | null): Record<string, string> {
    const out: Record<string, string> = { 'x-switchyard-attempts': String(this.attempts) };
    if (h) {
      out['x-switchyard-model'] = h.model;
      out['x-switchyard-endpoint'] = h.id;
      out['x-switchyard-tier'] = h.modelCfg.tier;
    }
    if (this.plan) out['x-switchyard-reason'] = asciiReason(this.plan.reason);
    return out;
  }

  private async execute(): Promise<Outcome> {
    const body = this.call.body;
    this.promptTokens = this.countPrompt();
    const userText = body.messages.filter((m) => m.role === 'user').map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n');
    this.plan = this.planOverride ?? resolve(this.rt.cfg, {
      model: body.model,
      body,
      classify: { task: this.call.hints.task, tier: this.call.hints.tier, text: userText, promptTokens: this.promptTokens, turns: body.messages.length },
      promptTokens: this.promptTokens,
      expectedOutputTokens: Math.min(requestedOutputTokens(body) ?? 512, 4096),
      liveStats: (m) => this.rt.modelStats(m),
    });
    this.rt.supervisor.send({ type: 'request.routed', at: this.rt.now() });
    if (this.stream) {
      const wantUsage = body.stream_options?.include_usage === true;
      this.session = new StreamSession(this.sink, `chatcmpl-${this.call.requestId}`, wantUsage, (h) => this.headers(h));
    }
    for (;;) {
      if (this.ac.signal.aborted) return this.abortedOutcome();
      if (this.attempts >= this.rt.cfg.resilience.retry.maxTotalAttempts) return this.exhausted();
      const h = await this.pick();
      if (!h) return this.exhausted();
      const result = await this.attemptOn(h);
      if (result === 'continue') continue;
      return result;
    }
  }

  /**
   * Prompt tokens, an estimate for routing, TPM windows and what people see (reservations use
   * `promptBoundTokens`). The real tokenizer costs ~100 µs per 2 KB, so it runs only where the
   * count decides something: the prompt is long enough for context windows and the long-prompt
   * rule to matter. Otherwise a character estimate serves (corrected by the upstream's usage).
   */
  private countPrompt(): number {
    const body = this.call.body;
    const chars = promptChars(body.messages);
    const exact = chars > EXACT_COUNT_CHARS || Array.isArray(body.tools);
    return exact ? countPromptTokens(body.messages, body.tools ?? undefined) : Math.ceil(chars / 3) + 3 * body.messages.length + 3;
  }

  /** The o200k count for a ledger row the upstream gave no usage for (a number people read). */
  private shownPromptTokens(): number {
    return countPromptTokens(this.call.body.messages, this.call.body.tools ?? undefined);
  }

  /** Estimated tokens for TPM windows: prompt plus the output asked for. */
  private estTokens(): number {
    return this.promptTokens + Math.min(requestedOutputTokens(this.call.body) ?? 256, 4096);
  }

  /** The next endpoint to try, waiting (bounded) when every candidate is throttled. */
  private async pick(): Promise<EndpointHandle | null> {
    for (;;) {
      const now = this.rt.now();
      if (this.pinned) {
        const h = this.rt.handles.get(this.pinned.id);
        const wait = this.pinned.notBefore - now;
        if (h && wait > 0) await this.rt.sleep(wait, this.ac.signal);
        this.pinned = null;
        if (this.ac.signal.aborted) return null;
        if (h && availability(h, this.rt.now(), this.estTokens()).ok) return h;
      }
      let earliest: number | null = null;
      let waitable = false;
      let freeAtUnknown = false;
      for (const h of this.candidates()) {
        const a = availability(h, now, this.estTokens());
        if (a.ok) return h;
        if (a.why.startsWith('circuit-open')) continue;
        waitable = true;
        if (a.freeAt !== null) earliest = earliest === null ? a.freeAt : Math.min(earliest, a.freeAt);
        else freeAtUnknown = true;
      }
      if (!waitable || now >= this.deadlineAt) return null;
      // Every candidate is throttled until after the deadline: waiting cannot help (503 at once, not 504 later).
      if (!freeAtUnknown && earliest !== null && earliest >= this.deadlineAt) return null;
      const until = Math.min(this.deadlineAt, earliest ?? this.deadlineAt);
      this.ticket ??= this.rt.queue.ticket();
      const admitted = await this.rt.queue.wait(until, this.ac.signal, this.ticket, now);
      if (!admitted) return null;
    }
  }

  /** Endpoints in candidate order, without the excluded ones. After a commit only models that accept a prefill. */
  private *candidates(): Generator<EndpointHandle> {
    const committed = this.session?.committed === true;
    for (const model of this.plan.candidates) {
      if (this.excludedModels.has(model)) continue;
      const mc = own(this.rt.cfg.models, model);
      if (!mc) continue;
      if (committed && (!mc.capabilities.includes('prefill') || this.session?.toolCallsSent)) continue;
      const maxLatency = this.call.hints.maxLatencyMs;
      const eps = (this.rt.byModel.get(model) ?? []).filter((h) => !this.excluded.has(h.id) && (maxLatency === null || latencyOf(h) <= maxLatency));
      eps.sort((a, b) => latencyOf(a) * (a.actor.getSnapshot().context.inFlight + 1) - latencyOf(b) * (b.actor.getSnapshot().context.inFlight + 1));
      yield* eps;
    }
  }

  private async attemptOn(h: EndpointHandle): Promise<Outcome | 'continue'> {
    const mc = h.modelCfg;
    const prefill = this.session?.committed ? this.session.delivered : null;
    // The bound of what this attempt can cost: prompt bytes (no tokenizer counts more) and the cap sent upstream.
    const reserveNano = worstCaseNano(promptBoundTokens(this.call.body, prefill), outputCap(this.call.body, mc.maxOutputTokens), mc.price);
    const maxCost = this.call.hints.maxCostUsd;
    if (maxCost !== null && reserveNano > usdToNano(maxCost)) {
      this.excludedModels.add(h.model);
      this.budgetRefusal ??= new SwitchyardError('budget_exceeded', `worst-case cost of ${h.model} ($${nanoToUsd(reserveNano)}) exceeds x-switchyard-max-cost-usd ($${maxCost})`, { headers: { 'x-should-retry': 'false' } });
      return 'continue';
    }
    // After a budget refusal only cheaper candidates are tried (spec §5: "the next cheaper candidate").
    if (this.budgetCeiling !== null && reserveNano >= this.budgetCeiling) {
      this.excludedModels.add(h.model);
      return 'continue';
    }
    const grant = await this.rt.budget.reserve(this.call.requestId, this.call.keyId, h.model, reserveNano, this.rt.now(), { endpoint: h, estTokens: this.estTokens() });
    if (grant.ok && !availability(h, this.rt.now(), this.estTokens()).ok) {
      // The reservation is asynchronous (a shared store answers later): the slot picked before it may be gone.
      await this.rt.budget.release(this.call.requestId, grant.budgets, reserveNano, this.rt.now());
      return 'continue';
    }
    if (!grant.ok) {
      this.budgetCeiling = reserveNano;
      this.excludedModels.add(h.model);
      this.budgetRefusal ??= new SwitchyardError('budget_exceeded', `budget ${grant.budget} would be exceeded: limit $${nanoToUsd(grant.limit)}, spent $${nanoToUsd(grant.spent)}, reserved $${nanoToUsd(grant.reserved)}, this request needs up to $${nanoToUsd(reserveNano)}`, { headers: { 'x-should-retry': 'false' } });
      return 'continue';
    }
    const est = this.estTokens();
    const per = this.per.get(h.id) ?? { attempts: 0, transientRetryUsed: false };
    per.attempts++;
    this.per.set(h.id, per);
    this.attempts++;
    this.lastEndpoint = h;
    h.actor.send({ type: 'request.dispatched', at: this.rt.now(), estTokens: est });
    this.session?.beginAttempt();
    try {
      const ok = await runAttempt({ h, body: this.call.body, stream: this.stream, prefill, resilience: this.rt.cfg.resilience, signal: this.ac.signal, now: this.rt.now }, this.session);
      return await this.succeeded(h, ok, est, grant.budgets, reserveNano);
    } catch (err) {
      if (!(err instanceof AttemptFailure)) {
        h.actor.send({ type: 'upstream.released', at: this.rt.now(), estTokens: est, tokens: 0 });
        await this.rt.budget.release(this.call.requestId, grant.budgets, reserveNano, this.rt.now());
        throw err;
      }
      return this.failed(h, err, est, grant.budgets, reserveNano, per, prefill !== null);
    }
  }

  private async succeeded(h: EndpointHandle, ok: AttemptSuccess, est: number, budgets: string[], reserved: number): Promise<Outcome> {
    let usage = ok.usage;
    if (!usage) {
      usage = { promptTokens: this.shownPromptTokens(), completionTokens: countTextTokens(ok.text) };
      this.estimated = true;
    }
    const cost = costOf(usage, h.modelCfg.price).totalNano;
    this.costNano += cost;
    this.addUsage(usage);
    this.ttftMs ??= ok.ttftMs;
    const now = this.rt.now();
    h.actor.send({ type: 'upstream.succeeded', at: now, latencyMs: ok.latencyMs, ttftMs: ok.ttftMs, tokens: usage.promptTokens + usage.completionTokens, estTokens: est });
    if (ok.exhaustedUntil !== null) h.actor.send({ type: 'window.exhausted', at: now, retryAt: ok.exhaustedUntil, reason: 'x-ratelimit-remaining 0' });
    await this.rt.budget.settle(this.call.requestId, budgets, reserved, cost, now);
    if (ok.malformed > 0) this.call.log.warn({ endpoint: h.id, malformed: ok.malformed }, 'dropped malformed upstream chunks');
    return { ok: true, endpoint: h, completion: ok.completion };
  }

  private addUsage(u: Usage): void {
    this.usageTotal = {
      promptTokens: u.promptTokens,
      completionTokens: this.usageTotal.completionTokens + u.completionTokens,
      cachedTokens: u.cachedTokens ?? 0,
      reasoningTokens: (this.usageTotal.reasoningTokens ?? 0) + (u.reasoningTokens ?? 0),
    };
  }

  private async failed(h: EndpointHandle, f: AttemptFailure, est: number, budgets: string[], reserved: number, per: PerEndpoint, wasContinuation: boolean): Promise<Outcome | 'continue'> {
    const now = this.rt.now();
    const fault = f.fault;
    // Tokens already delivered were billed by the provider: settle them (estimated), else release.
    const partialTokens = f.deliveredText ? countTextTokens(f.deliveredText) : 0;
    if (partialTokens > 0) {
      const usage = { promptTokens: this.shownPromptTokens(), completionTokens: partialTokens };
      const cost = costOf(usage, h.modelCfg.price).totalNano;
      this.costNano += cost;
      this.estimated = true;
      this.addUsage(usage);
      await this.rt.budget.settle(this.call.requestId, budgets, reserved, cost, now);
    } else {
      await this.rt.budget.release(this.call.requestId, budgets, reserved, now);
    }
    const d = decide(fault, { attemptsOnEndpoint: per.attempts, transientRetryUsed: per.transientRetryUsed, now, remainingMs: this.deadlineAt - now, rng: this.rt.rng }, this.rt.cfg.resilience);
    const v = d.verdict;
    if (v.event === 'failed') h.actor.send({ type: 'upstream.failed', at: now, fault: v.fault, countsAsFailure: true, estTokens: est, tokens: partialTokens });
    else if (v.event === 'rateLimited') h.actor.send({ type: 'upstream.rateLimited', at: now, retryAt: v.retryAt, estTokens: est });
    else h.actor.send({ type: 'upstream.released', at: now, estTokens: est, tokens: partialTokens });
    const logLine = { endpoint: h.id, fault: fault.kind, status: fault.status, next: d.next.step, attempt: this.attempts };
    if (d.loud) this.call.log.error(logLine, `endpoint ${h.id} rejected our credentials (${fault.status}): check its apiKeyEnv; failing over`);
    else this.call.log.info(logLine, `attempt failed: ${fault.message}`);
    // A continuation whose prefill the fallback refused must not replace the real fault.
    if (!(wasContinuation && fault.kind === 'http_status' && fault.status !== null && fault.status < 500 && fault.status !== 429)) this.lastFault = fault;
    switch (d.next.step) {
      case 'stop':
        return this.abortedOutcome();
      case 'retry_same':
        per.transientRetryUsed = per.transientRetryUsed || fault.status !== 429;
        this.pinned = { id: h.id, notBefore: now + d.next.delayMs };
        return 'continue';
      case 'failover':
        this.excluded.add(h.id);
        return 'continue';
      case 'larger_context': {
        const window = h.modelCfg.contextWindow;
        for (const m of this.plan.candidates) if ((this.rt.cfg.models[m]?.contextWindow ?? 0) <= window) this.excludedModels.add(m);
        if (this.plan.candidates.some((m) => !this.excludedModels.has(m))) return 'continue';
        return { ok: false, error: upstreamClientError(fault.status ?? 400, fault.error ?? { message: fault.message }) };
      }
      case 'propagate':
        if (wasContinuation) {
          this.excluded.add(h.id);
          return 'continue';
        }
        return { ok: false, error: upstreamClientError(fault.status ?? 400, fault.error ?? { message: fault.message }) };
    }
  }

  private abortedOutcome(): Outcome {
    const reason: unknown = this.ac.signal.reason;
    if (reason instanceof UpstreamFault && reason.kind === 'client_gone') return { ok: false, error: new SwitchyardError('invalid_request', 'client closed the request', { status: 499 }), clientGone: true };
    return { ok: false, error: new SwitchyardError('timeout', `request deadline of ${this.deadlineAt - this.call.receivedAt} ms passed after ${this.attempts} attempt(s)`) };
  }

  private exhausted(): Outcome {
    if (this.ac.signal.aborted) return this.abortedOutcome();
    if (this.lastFault === null && this.budgetRefusal) return { ok: false, error: this.budgetRefusal };
    const f = this.lastFault;
    if (f === null || (f.status === 429 && this.attempts > 0) || this.attempts === 0) {
      const retryAfter = this.rt.retryAfterSeconds(this.plan.candidates);
      const why = f ? `last upstream answer: ${f.message}` : 'every candidate endpoint is circuit-open or throttled';
      return { ok: false, error: new SwitchyardError('no_endpoint_available', `no endpoint available for ${this.call.body.model}: ${why}`, { headers: { 'retry-after': String(retryAfter) } }) };
    }
    const status = f.status !== null ? `status ${f.status}` : f.kind;
    return { ok: false, error: new SwitchyardError('upstream_error', `upstream failed on every attempt (${this.attempts}); last: ${status}: ${f.message}`) };
  }
}
