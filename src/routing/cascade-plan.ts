/**
 * The steps a cascaded request climbs. What was asked for bounds them:
 *
 * - `auto` climbs tiers: the first step is the tier the router chose (its own candidates in
 *   that tier, fallbacks included) or, with `startAt: cheapest`, the lowest tier with an
 *   adequate model (unless a hint chose the tier: then it starts there); each next step is the next tier up that has one. "Adequate" is what the
 *   router itself requires: the capabilities the request needs and a context window that fits
 *   the prompt (`resolve` applies both).
 * - A catalogue model or `route/<name>` stays inside what was named: the candidates a plain
 *   request would try (the model then its own fallbacks; the route's chain), in that order.
 *   Step i starts at the i-th of them and may fail over along the rest, as a plain request
 *   does; the cascade runs the step after the model that answered. `startAt` does not apply:
 *   the client named where to start.
 *
 * `usable` (the runtime's: a model whose endpoints can take the body's fields) leaves out a model
 * that would answer a 400 for a field it has no form for (`seed` on an Anthropic-kind model), as
 * a plain request's route leaves it out: a later step's 400 delivered the failed cheap answer.
 *
 * Pure.
 */
import type { Config, Tier } from '../config/schema.js';
import { TIERS } from '../config/schema.js';
import { hintDecides } from './classify.js';
import { resolve, type ResolveInput, type RoutePlan } from './resolve.js';

export interface CascadeStepPlan {
  tier: Tier;
  plan: RoutePlan;
}

export interface CascadePlan {
  /** `tiers` for `auto`; `chain` for a named model or route (step i starts at the i-th candidate of `plain`). */
  kind: 'tiers' | 'chain';
  steps: CascadeStepPlan[];
  /** What a plain request for the same body would try (a step refused for money falls back along it). */
  plain: RoutePlan;
}

/** The adequate models of one tier, in the strategy's order (resolve's `auto` with the tier forced). */
function tierPlan(cfg: Config, inp: ResolveInput, tier: Tier, usable: (m: string) => boolean): RoutePlan | null {
  let plan: RoutePlan;
  try {
    plan = resolve(cfg, { ...inp, model: 'auto', classify: { ...inp.classify, tier } });
  } catch {
    return null;
  }
  const candidates = plan.candidates.filter((m) => cfg.models[m]?.tier === tier && usable(m));
  return candidates.length > 0 ? { candidates, tier, reason: `cascade: tier ${tier}` } : null;
}

/**
 * `auto`: at most `1 + maxSteps` steps, lowest tier first; the first step keeps the `auto`
 * scorer's score (its ledger row's `route_score`, one per request, which `switchyard
 * calibrate` reads). A named model or route: one step per candidate (the cascade bounds how
 * many run). Throws what `resolve` throws for the request as sent (unknown model, nothing
 * adequate), so the caller answers it as usual.
 */
export function cascadePlan(
  cfg: Config,
  inp: ResolveInput,
  startAt: 'router' | 'cheapest',
  maxSteps: number,
  usable: (m: string) => boolean = () => true,
): CascadePlan {
  const base = resolve(cfg, inp);
  if (inp.model !== 'auto') {
    // A model the client named keeps its place (its attempt answers the 400 that names the field).
    const chain = base.candidates.filter((m, i) => (i === 0 && m === inp.model) || usable(m));
    const steps = chain.map((m, i) => {
      const tier = cfg.models[m]!.tier;
      // The first step's reason is the plain request's (the dry run and a first answer that passes say the same).
      return { tier, plan: { candidates: chain.slice(i), tier, reason: i === 0 ? base.reason : `cascade: ${m}`, score: null } };
    });
    return { kind: 'chain', steps, plain: base };
  }
  const steps: CascadeStepPlan[] = [];
  let from: number;
  // A tier the client asked for (x-switchyard-tier, a task) is where the climb starts, as the
  // router's choice is: `cheapest` starts below the router's judgement, never below the client's.
  if (startAt === 'cheapest' && !hintDecides(inp.classify, cfg.routing.classifier)) {
    from = TIERS.length;
    for (let i = 0; i < TIERS.length && from === TIERS.length; i++) {
      const p = tierPlan(cfg, inp, TIERS[i]!, usable);
      if (p) {
        // The router's notes on the hints it ignored (`unknown task "x" ignored; `) stay: the client learns its hint did nothing.
        const notes = /^(?:unknown task "[^"]*" ignored; )*/.exec(base.reason)![0];
        steps.push({ tier: TIERS[i]!, plan: { ...p, reason: `${notes}cascade: cheapest adequate tier ${TIERS[i]!}`, score: base.score ?? null } });
        from = i;
      }
    }
  } else {
    let tier = base.tier ?? cfg.models[base.candidates[0]!]!.tier;
    const ofTier = (t: Tier) => base.candidates.filter((m) => cfg.models[m]?.tier === t);
    let own = ofTier(tier);
    let ok = own.filter(usable);
    // No model of the router's tier can take the request (none has vision, the prompt is over their
    // windows): the climb starts at the tier of the candidate that would serve it. Held under the
    // router's tier, the first step was every candidate, and the next tier up asked the model that
    // had just answered again (billed twice; with maxSteps 1 the cascade ended there).
    const serving = ok.length === 0 ? base.candidates.find(usable) : undefined;
    if (serving !== undefined) {
      tier = cfg.models[serving]!.tier;
      own = ofTier(tier);
      ok = own.filter(usable);
    }
    steps.push({
      tier,
      plan: { candidates: ok.length > 0 ? ok : own.length > 0 ? own : base.candidates, tier, reason: base.reason, score: base.score ?? null },
    });
    from = TIERS.indexOf(tier);
  }
  for (let i = from + 1; i < TIERS.length && steps.length <= maxSteps; i++) {
    const p = tierPlan(cfg, inp, TIERS[i]!, usable);
    if (p) steps.push({ tier: TIERS[i]!, plan: p });
  }
  return { kind: 'tiers', steps, plain: base };
}
