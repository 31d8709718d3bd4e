/**
 * `POST /switchyard/route`: the routing decision for a chat-completions body, without an
 * upstream call, a budget reservation or a ledger row. Same resolution as a real request
 * (hints, scorer, capability and context-window filters, strategy, latency wish), then the
 * first endpoint that could take it now, as a real request would pick it. A model whose
 * worst-case cost is over `x-switchyard-max-cost-usd` is passed over, as the request machine
 * passes it over (the budget's own limits are not looked at: no reservation). When the quality
 * cascade will run, the decision is its first step's, and `cascade` lists the steps.
 */
import { worstCaseNano } from '../accounting/cost.js';
import { usdToNano } from '../accounting/money.js';
import { outputCap, promptBoundTokens, promptWorstTokens, requestedOutputTokens } from '../accounting/reservation.js';
import { scoredRequest, userText } from '../routing/classify.js';
import { DEFAULT_MODEL, scoreRequest } from '../routing/scorer.js';
import { cascadePlan } from '../routing/cascade-plan.js';
import { resolve, type ResolveInput, type RoutePlan } from '../routing/resolve.js';
import type { ChatBody } from '../upstream/types.js';
import type { Hints } from './api.js';
import { nativeOf } from '../apis/native.js';
import { cascadeOn } from './cascade.js';
import type { RuntimeCore } from './core.js';
import { availability, pickLoad, tooSlow, withinWish } from './endpoints.js';
import { asciiReason, countPrompt, estTokens, exactPromptCount } from './request-prep.js';
import { translatableCandidates, translationError, untakeableEndpoints, untranslatableBy, untranslatableNote, usableFor } from './translatable.js';

export interface DryRoute {
  model: string;
  endpoint: string | null;
  tier: string;
  /** The `auto` scorer's score; null when a hint, a rule, a route or a model name decided. */
  score: number | null;
  reason: string;
  /**
   * When the quality cascade will run: the candidates of each step it may take, in order (the
   * first is the step `model` was picked from; later steps run only when an answer fails its
   * checks). Null when the request is served without a cascade.
   */
  cascade: string[][] | null;
  /**
   * When the `auto` scorer decided: every term of its score, in log-odds, largest first —
   * `(bias)` (the fitted intercept) and each feature's weight × value — so that the score is
   * 1 / (1 + e^−(sum of them)); the reason header shows only the three largest. Null otherwise.
   */
  terms: Record<string, number> | null;
  /** The scorer read the last turn as going on with an earlier one (the follow-up rule; the reason says so too). */
  followsUp?: true;
}

/** `api`: the API of the body (a Messages body's required max_tokens is not read by the scorer, as on its route). */
export function dryRoute(rt: RuntimeCore, body: ChatBody, hints: Hints, api: 'chat' | 'messages' | 'responses' = 'chat'): DryRoute {
  const d = decide(rt, body, hints, api);
  if (d.score === null) return { ...d, terms: null };
  const r = scoreRequest(scoredRequest(body, api === 'messages'));
  const terms: Record<string, number> = { '(bias)': round4(DEFAULT_MODEL.bias) };
  for (const c of r.contributions) terms[c.feature] = round4(c.value);
  return { ...d, terms, ...(r.followsUp === true ? { followsUp: true as const } : {}) };
}

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

function decide(rt: RuntimeCore, body: ChatBody, hints: Hints, api: 'chat' | 'messages' | 'responses'): Omit<DryRoute, 'terms' | 'followsUp'> {
  const promptTokens = countPrompt({ body });
  const maxOut = requestedOutputTokens(body);
  const inp: ResolveInput = {
    model: body.model,
    body,
    classify: {
      task: hints.task,
      tier: hints.tier,
      text: userText(body.messages),
      promptTokens,
      turns: body.messages.length,
      maxTokensRequired: api === 'messages',
    },
    promptTokens,
    exactContextTokens: exactPromptCount(body),
    boundContextTokens: () => promptBoundTokens(body),
    expectedOutputTokens: Math.min(maxOut ?? 512, 4096),
    liveStats: (m) => rt.modelStats(m),
    rng: () => rt.rng(),
  };
  // What a model's attempt can cost at most (as the request driver bounds it), for x-switchyard-max-cost-usd.
  const worst = (m: string): number => {
    const mc = rt.cfg.models[m]!;
    return worstCaseNano(promptWorstTokens(promptBoundTokens(body), mc, body), outputCap(body, mc, promptTokens), mc.price);
  };
  let plan: RoutePlan;
  /** The cascade's later steps (tiers), tried in turn when no endpoint of a step can take it and no latency wish was given. */
  let ladder: Array<{ tier: string; plan: RoutePlan }> = [];
  let cascade: string[][] | null = null;
  /** `auto` under the cascade: the plain request's candidates (where a step refused for money or unreached goes on to). */
  let plain: RoutePlan | null = null;
  if (cascadeOn(rt.cfg, { hints })) {
    const c = rt.cfg.routing.cascade;
    const cp = cascadePlan(rt.cfg, inp, c.startAt, c.maxSteps, usableFor(rt, body));
    // One step (nothing to escalate to): served as a plain request, as runtime/cascade.ts serves it.
    if (cp.steps.length > 1) {
      plan = { ...cp.steps[0]!.plan };
      cascade = cp.kind === 'tiers' ? cp.steps.map((s) => [...s.plan.candidates]) : cp.steps.slice(0, 1 + c.maxSteps).map((s) => [s.plan.candidates[0]!]);
      if (cp.kind === 'tiers') {
        ladder = cp.steps.slice(1, 1 + c.maxSteps).map((st) => ({ tier: st.tier, plan: { ...st.plan } }));
        plain = cp.plain;
      }
      // A step every model of which is over x-switchyard-max-cost-usd is refused for it, and a refusal
      // for money ends the cascade (after the first step, with the cheaper fallback): none after it runs.
      if (hints.maxCostUsd !== null) {
        const cap = usdToNano(hints.maxCostUsd);
        // A named chain's step fails over along the rest of its chain: refused only when all of that is over.
        const refused = cp.steps.slice(0, cascade.length).findIndex((st) => st.plan.candidates.every((m) => worst(m) > cap));
        if (refused >= 0) cascade = cascade.slice(0, refused + 1);
      }
    } else plan = cp.plain;
  } else plan = resolve(rt.cfg, inp);
  const firstReason = plan.reason;
  const first = choose(rt, body, hints, plan, promptTokens);
  if ('model' in first) return { ...first, cascade };
  if (plain === null) return { ...first.none, cascade };
  // The cascade's steps as runtime/cascade.ts runs them when none can serve: a step no endpoint can
  // take goes on to the next (with a latency wish, or from the last, to the plain order's other
  // candidates once); a step refused for money falls back once to the plain order's candidates
  // cheaper than its nearest refusal, an unreached earlier step's included. The score is the
  // request's (its ledger row's route_score), whichever step serves it.
  const ran = new Set<string>();
  const unreached = new Set<string>();
  let step = plan;
  let outcome: Choice = first;
  for (let i = 0; ; i++) {
    for (const m of step.candidates) ran.add(m);
    if ('model' in outcome) return { ...outcome, cascade };
    if (outcome.allOverCost) {
      const nearest = step.candidates.reduce((a, m) => (worst(m) < worst(a) ? m : a), step.candidates[0]!);
      const ceiling = worst(nearest);
      const candidates = plain.candidates.filter((m) => (!ran.has(m) || unreached.has(m)) && worst(m) < ceiling);
      if (candidates.length === 0) return { ...outcome.none, cascade };
      const cheaper = {
        candidates,
        tier: plain.tier,
        reason: `cascade: ${nearest} over x-switchyard-max-cost-usd → cheaper models; ${firstReason}`,
        score: plan.score ?? null,
      };
      const next = choose(rt, body, hints, cheaper, promptTokens);
      return 'model' in next ? { ...next, cascade: withStep(cascade, i, candidates) } : { ...next.none, cascade };
    }
    for (const m of step.candidates) if (!tooSlow(rt.byModel.get(m), hints.maxLatencyMs)) unreached.add(m);
    if (hints.maxLatencyMs === null && i < ladder.length) {
      const to = ladder[i]!;
      step = { ...to.plan, reason: `cascade: ${step.candidates[0]!} no_endpoint_available → ${to.tier}; ${firstReason}`, score: plan.score ?? null };
      outcome = choose(rt, body, hints, step, promptTokens);
      continue;
    }
    const rest = plain.candidates.filter((m) => !ran.has(m) || unreached.has(m));
    if (rest.length === 0) return { ...outcome.none, cascade };
    const others = {
      candidates: rest,
      tier: plain.tier,
      reason: `cascade: ${step.candidates[0]!} no_endpoint_available → other models; ${firstReason}`,
      score: plan.score ?? null,
    };
    const next = choose(rt, body, hints, others, promptTokens);
    return 'model' in next ? { ...next, cascade: withStep(cascade, i, rest) } : { ...next.none, cascade };
  }
}

/**
 * The cascade's steps as a request that falls back after step `i` takes them: those up to it,
 * then the fallback's candidates (the step that serves it, which the list left out).
 */
function withStep(cascade: string[][] | null, i: number, fallback: string[]): string[][] | null {
  return cascade === null ? null : [...cascade.slice(0, i + 1), [...fallback]];
}

type Choice = Omit<DryRoute, 'cascade' | 'terms' | 'followsUp'> | { allOverCost: boolean; none: Omit<DryRoute, 'cascade' | 'terms' | 'followsUp'> };

/** The first candidate of `plan` a real request would be sent to now, or why none (`none`: what the dry run answers then). */
function choose(rt: RuntimeCore, body: ChatBody, hints: Hints, plan: RoutePlan, promptTokens: number): Choice {
  // The same candidates a real request tries: those whose endpoints cannot take this body are left out.
  const candidates = translatableCandidates(rt, body, plan.candidates);
  if (candidates !== plan.candidates) plan.reason += untranslatableNote(rt, body, plan.candidates, candidates);
  plan.candidates = candidates;
  // A Messages body no candidate (or the model named) can take: the real request's 400, answered at
  // routing (a thinking budget none fits names the budget, not the first OpenAI-kind model's field).
  const refused = nativeOf(body) === undefined ? null : untranslatableBy(rt, body, candidates);
  if (refused !== null) throw refused;
  const untakeable = untakeableEndpoints(rt, body, candidates);
  const now = rt.now();
  const est = estTokens({ body }, promptTokens);
  const maxCostNano = hints.maxCostUsd === null ? null : usdToNano(hints.maxCostUsd);
  const promptBound = maxCostNano === null ? 0 : promptBoundTokens(body);
  const overCost: string[] = [];
  /** The candidate over the cap nearest to fitting (the smallest worst case): the one a real request's 429 names. */
  let nearest: { model: string; amount: number } | null = null;
  const costNote = () => (overCost.length > 0 ? `; ${overCost.join(', ')} over x-switchyard-max-cost-usd` : '');
  let slowSkipped = false;
  /** Models whose every endpoint the latency hint passed over (named as a real request names them). */
  const slow: string[] = [];
  const slowNote = () => (slow.length > 0 ? `; ${slow.join(', ')} over x-switchyard-max-latency-ms ${hints.maxLatencyMs} ms` : '');
  /** Models none of whose endpoints could take it now (`X circuit-open`), named as a real request's reason names them. */
  const passed: string[] = [];
  for (const model of plan.candidates) {
    const mc = rt.cfg.models[model]!;
    const worst = maxCostNano === null ? 0 : worstCaseNano(promptWorstTokens(promptBound, mc, body), outputCap(body, mc, promptTokens), mc.price);
    if (maxCostNano !== null && worst > maxCostNano) {
      overCost.push(model);
      if (nearest === null || worst < nearest.amount) nearest = { model, amount: worst };
      continue;
    }
    const all = (rt.byModel.get(model) ?? []).filter((h) => !untakeable.includes(h.id));
    const eps = all.filter((h) => hints.maxLatencyMs === null || withinWish(h, hints.maxLatencyMs));
    if (eps.length < all.length) slowSkipped = true;
    if (all.length > 0 && eps.length === 0) slow.push(model);
    const h = eps.filter((e) => availability(e, now, est).ok).sort((a, b) => pickLoad(a) - pickLoad(b))[0];
    if (h) {
      // A body this endpoint cannot take (a model named with a field it has no form for): the real attempt's 400.
      const bad = translationError(h, body);
      if (bad) throw bad;
      const passedNote = passed.length > 0 ? `; ${passed.join('; ')}: served by ${model}` : '';
      return { model, endpoint: h.id, tier: mc.tier, score: plan.score ?? null, reason: asciiReason(`${plan.reason}${costNote()}${slowNote()}${passedNote}`) };
    }
    if (eps.length > 0) {
      // The first endpoint's reason, as the request driver's passedOver gives it.
      let why: string | null = null;
      for (const e of all) {
        const a = availability(e, now, est);
        if (a.ok) {
          why = null;
          break;
        }
        why ??= a.why;
      }
      if (why !== null) passed.push(`${model} ${why}`);
    }
  }
  const allOverCost = overCost.length === plan.candidates.length;
  // Refused for money, a real request names the candidate nearest to fitting; else its first.
  const first = allOverCost && nearest !== null ? nearest.model : plan.candidates[0]!;
  // Each candidate's state, as a real request's reason names them (`X throttled (upstream 429)`…).
  const passedNote = passed.length > 0 ? `; ${passed.join('; ')}` : '';
  const why = allOverCost
    ? `${costNote()}; every candidate's worst-case cost is over x-switchyard-max-cost-usd (a real request gets 429 budget_exceeded)`
    : `${costNote()}${slowNote()}${passedNote}: nothing served now (a real request ${slowSkipped && hints.maxLatencyMs !== null && passed.length === 0 ? 'gets' : 'waits for capacity within its deadline, or gets'} 503 no_endpoint_available)`;
  // The reason as the x-switchyard-reason header writes it (ASCII: -> and >=), so the two compare equal.
  return {
    allOverCost,
    none: { model: first, endpoint: null, tier: rt.cfg.models[first]!.tier, score: plan.score ?? null, reason: asciiReason(`${plan.reason}${why}`) },
  };
}
