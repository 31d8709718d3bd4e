/**
 * What the quality cascade and the apps' feedback teach the router, for `switchyard
 * calibrate`: per tier, how often its answers failed a check (and escalated) and how often
 * apps marked its answers bad. A tier that fails often should get fewer requests; a cheap tier
 * that almost never fails could get more. The function proposes config changes with the
 * figures behind them and changes nothing itself. Pure.
 */
import type { ModelQuality } from '../accounting/ledger.js';
import type { CascadeCheck, Config, Tier } from '../config/schema.js';
import { TIERS } from '../config/schema.js';

export interface TierQuality {
  tier: Tier;
  requests: number;
  checked: number;
  failed: number;
  good: number;
  bad: number;
}

export interface Thresholds {
  /** Below this many checked answers (or verdicts) a rate is not trusted. */
  minSamples: number;
  /** A tier failing more often than this gets fewer requests. */
  maxFailRate: number;
  /** Apps marking more than this share of a tier's answers bad. */
  maxBadRate: number;
  /** A cheapest tier failing less often than this could take more requests. */
  lowFailRate: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { minSamples: 20, maxFailRate: 0.3, maxBadRate: 0.2, lowFailRate: 0.05 };

export interface Proposal {
  tier: Tier;
  action: 'fewer_requests' | 'more_requests' | 'add_check' | 'keep';
  /** The config key to change and its proposed value, when one follows from the figures. */
  change: { key: string; from: unknown; to: unknown } | null;
  reason: string;
}

/** Sums per-model figures into tiers (models not in the catalogue any more are left out). */
export function tierQuality(stats: readonly ModelQuality[], cfg: Pick<Config, 'models'>): TierQuality[] {
  const by = new Map<Tier, TierQuality>();
  for (const s of stats) {
    const tier = cfg.models[s.model]?.tier;
    if (!tier) continue;
    const t = by.get(tier) ?? { tier, requests: 0, checked: 0, failed: 0, good: 0, bad: 0 };
    t.requests += s.requests;
    t.checked += s.checked;
    t.failed += s.failed;
    t.good += s.good;
    t.bad += s.bad;
    by.set(tier, t);
  }
  return TIERS.flatMap((t) => (by.has(t) ? [by.get(t)!] : []));
}

const pct = (x: number): string => `${Math.round(x * 100)}%`;

export function proposeCascadeAdjustments(tiers: readonly TierQuality[], cfg: Pick<Config, 'routing'>, th: Thresholds = DEFAULT_THRESHOLDS): Proposal[] {
  const c = cfg.routing.cascade;
  const lowest = tiers.find((t) => t.requests > 0)?.tier ?? null;
  return tiers.map((t): Proposal => {
    const failRate = t.checked > 0 ? t.failed / t.checked : 0;
    const verdicts = t.good + t.bad;
    const badRate = verdicts > 0 ? t.bad / verdicts : 0;
    const fails = `${pct(failRate)} of ${t.checked} checked answers failed a check`;
    if (t.checked >= th.minSamples && failRate > th.maxFailRate) {
      const startsHere = c.startAt === 'cheapest' && t.tier === lowest;
      return {
        tier: t.tier,
        action: 'fewer_requests',
        change: startsHere ? { key: 'routing.cascade.startAt', from: 'cheapest', to: 'router' } : null,
        reason: `${fails} (> ${pct(th.maxFailRate)}): each escalation paid for two answers; ${startsHere ? "start at the router's tier instead of the cheapest" : `route fewer requests to ${t.tier}`}`,
      };
    }
    if (verdicts >= th.minSamples && badRate > th.maxBadRate) {
      const checks: CascadeCheck[] = c.checks;
      const judged = checks.includes('judge');
      return {
        tier: t.tier,
        action: judged ? 'fewer_requests' : 'add_check',
        change: judged ? null : { key: 'routing.cascade.checks', from: checks, to: [...checks, 'judge'] },
        reason: `apps marked ${pct(badRate)} of ${verdicts} answers bad (> ${pct(th.maxBadRate)}) while ${fails}: ${judged ? `route fewer requests to ${t.tier}` : 'the deterministic checks miss what apps reject; add a judge (routing.cascade.judge)'}`,
      };
    }
    if (t.tier === lowest && c.startAt === 'router' && t.checked >= th.minSamples && failRate < th.lowFailRate && badRate <= th.maxBadRate) {
      return {
        tier: t.tier,
        action: 'more_requests',
        change: { key: 'routing.cascade.startAt', from: 'router', to: 'cheapest' },
        reason: `only ${fails} (< ${pct(th.lowFailRate)}): more requests could start at ${t.tier}`,
      };
    }
    // Each half is "within bounds" only with enough of it: 18 verdicts, all bad, were called so beside enough checked answers.
    const checksOk = t.checked >= th.minSamples;
    const verdictsOk = verdicts >= th.minSamples;
    const tooFew = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}, too few to judge (need ${th.minSamples})`;
    const verdictPart = `${pct(badRate)} of ${verdicts} verdicts bad`;
    let reason: string;
    if (checksOk && verdictsOk) reason = `${fails}, ${verdictPart}: within bounds`;
    else if (checksOk) reason = `${fails}: within bounds; ${tooFew(verdicts, 'verdict')}${verdicts > 0 ? ` (${pct(badRate)} bad)` : ''}`;
    else if (verdictsOk) reason = `${verdictPart}: within bounds; ${tooFew(t.checked, 'checked answer')}`;
    else reason = `not enough data (${t.checked} checked, ${verdicts} verdicts; need ${th.minSamples})`;
    return { tier: t.tier, action: 'keep', change: null, reason };
  });
}

/** One line per tier, for the `switchyard calibrate` printout. */
export function formatProposals(ps: readonly Proposal[]): string {
  return ps
    .map(
      (p) =>
        `${p.tier}: ${p.action.replace('_', ' ')}${p.change ? ` — set ${p.change.key}: ${JSON.stringify(p.change.to)} (now ${JSON.stringify(p.change.from)})` : ''}\n  because ${p.reason}`,
    )
    .join('\n');
}
