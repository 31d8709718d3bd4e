/**
 * The tiers a cascaded request climbs: the first step is the tier the router chose (its own
 * candidates in that tier, fallbacks included) or, with `startAt: cheapest`, the lowest tier
 * with an adequate model; each next step is the next tier up that has one. "Adequate" is what
 * the router itself requires: the capabilities the request needs and a context window that
 * fits the prompt (`resolve` applies both). Pure.
 */
import type { Config, Tier } from '../config/schema.js';
import { TIERS } from '../config/schema.js';
import { resolve, type ResolveInput, type RoutePlan } from './resolve.js';

export interface CascadeStepPlan {
  tier: Tier;
  plan: RoutePlan;
}

/** The adequate models of one tier, in the strategy's order (resolve's `auto` with the tier forced). */
function tierPlan(cfg: Config, inp: ResolveInput, tier: Tier): RoutePlan | null {
  let plan: RoutePlan;
  try {
    plan = resolve(cfg, { ...inp, model: 'auto', classify: { ...inp.classify, tier } });
  } catch {
    return null;
  }
  const candidates = plan.candidates.filter((m) => cfg.models[m]?.tier === tier);
  return candidates.length > 0 ? { candidates, tier, reason: `cascade: tier ${tier}` } : null;
}

/**
 * At most `1 + maxSteps` steps, lowest tier first. The first step keeps the `auto` scorer's
 * score (its ledger row's `route_score`, one per request, which `switchyard calibrate` reads). Throws what `resolve` throws for the
 * request as sent (unknown model, nothing adequate), so the caller answers it as usual.
 */
export function cascadeLadder(cfg: Config, inp: ResolveInput, startAt: 'router' | 'cheapest', maxSteps: number): CascadeStepPlan[] {
  const base = resolve(cfg, inp);
  const steps: CascadeStepPlan[] = [];
  let from: number;
  if (startAt === 'cheapest') {
    from = TIERS.length;
    for (let i = 0; i < TIERS.length && from === TIERS.length; i++) {
      const p = tierPlan(cfg, inp, TIERS[i]!);
      if (p) {
        steps.push({ tier: TIERS[i]!, plan: { ...p, reason: `cascade: cheapest adequate tier ${TIERS[i]!}`, score: base.score ?? null } });
        from = i;
      }
    }
  } else {
    const tier = base.tier ?? cfg.models[base.candidates[0]!]!.tier;
    const own = base.candidates.filter((m) => cfg.models[m]?.tier === tier);
    steps.push({ tier, plan: { candidates: own.length > 0 ? own : base.candidates, tier, reason: base.reason, score: base.score ?? null } });
    from = TIERS.indexOf(tier);
  }
  for (let i = from + 1; i < TIERS.length && steps.length <= maxSteps; i++) {
    const p = tierPlan(cfg, inp, TIERS[i]!);
    if (p) steps.push({ tier: TIERS[i]!, plan: p });
  }
  return steps;
}
