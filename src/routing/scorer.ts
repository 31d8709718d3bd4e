/**
 * The `auto` scorer: a logistic model over named features. Its score says how much the request
 * needs the strong tier: fitted to the gain of the strong model over the weak one mapped to
 * [0, 1], it estimates ½ + ½·(P(strong clearly better) − P(weak clearly better)) — ½ when the
 * two tiers would do equally well, towards 1 the more likely only the strong tier does it. It is
 * the sigmoid of a sum of named contributions (weight × feature value), and the largest of
 * those are what `x-switchyard-reason` shows. Two thresholds turn it into a tier. Pure.
 */
import type { Tier } from '../config/schema.js';
import { featureCandidates, FEATURES, type Feature, type RouteRequest } from './features.js';
import { ROUTER_MODEL } from './weights.generated.js';

export interface RouterModel {
  bias: number;
  weights: Readonly<Record<string, number>>;
  thresholds: Readonly<Thresholds>;
  /** Score quantiles (0 %, 5 %, … 100 %) of the reference prompts, for `strongShare`. */
  quantiles: readonly number[];
}

export interface Thresholds {
  /** Scores at or above this go to `balanced` (below: `fast_cheap`). */
  balanced: number;
  /** Scores at or above this go to `high_quality`. */
  highQuality: number;
}

export interface Contribution {
  feature: Feature;
  value: number;
}

export interface ScoreResult {
  score: number;
  /** Non-zero contributions, largest magnitude first. */
  contributions: Contribution[];
  /** Scored as an earlier user turn of the conversation (features.ts featureCandidates): the reason says so. */
  followsUp?: true;
}

interface Compiled {
  bias: number;
  w: Float64Array;
}

const compiled = new WeakMap<RouterModel, Compiled>();
function compile(m: RouterModel): Compiled {
  let c = compiled.get(m);
  if (!c) {
    c = { bias: m.bias, w: Float64Array.from(FEATURES, (f) => m.weights[f] ?? 0) };
    compiled.set(m, c);
  }
  return c;
}

export const DEFAULT_MODEL: RouterModel = ROUTER_MODEL;

export function scoreFeatures(x: Float64Array, model: RouterModel = DEFAULT_MODEL): ScoreResult {
  const { bias, w } = compile(model);
  let z = bias;
  const contributions: Contribution[] = [];
  for (let i = 0; i < x.length; i++) {
    const v = w[i]! * x[i]!;
    if (v === 0) continue;
    z += v;
    // Insertion by magnitude, after the equal ones (stable, like sort; a dozen items, no comparator calls).
    const c: Contribution = { feature: FEATURES[i]!, value: v };
    const a = Math.abs(v);
    let k = contributions.length;
    contributions.push(c);
    while (k > 0 && Math.abs(contributions[k - 1]!.value) < a) {
      contributions[k] = contributions[k - 1]!;
      k--;
    }
    contributions[k] = c;
  }
  return { score: 1 / (1 + Math.exp(-z)), contributions };
}

export function scoreRequest(req: RouteRequest, model: RouterModel = DEFAULT_MODEL): ScoreResult {
  // A conversation goes on with its task: read as each of its recent user turns, the highest score counts (features.ts).
  const [own, ...earlier] = featureCandidates(req);
  let best = scoreFeatures(own!, model);
  for (const x of earlier) {
    const r = scoreFeatures(x, model);
    if (r.score > best.score) best = { ...r, followsUp: true };
  }
  return best;
}

export function tierForScore(score: number, t: Thresholds): Tier {
  if (score >= t.highQuality) return 'high_quality';
  if (score >= t.balanced) return 'balanced';
  return 'fast_cheap';
}

const signed = (v: number): string => `${v >= 0 ? '+' : '-'}${Math.abs(v).toFixed(2)}`;

const said = (c: Contribution): string => `${c.feature} ${signed(c.value)}`;
const shows = (c: Contribution): boolean => Math.abs(c.value) >= 0.005;

/**
 * `kind:code +1.20, code:fence +0.80, struct:length -0.31` — the top `n` contributions; one that
 * rounds to 0.00 is left out (`struct:context +0.00` told a reader nothing). With `toward` (the
 * decision's side: `up` for a tier above the cheapest, `down` for it) the top `n` that pushed that
 * way, then the largest that pushed against it when it outweighs the last of them: `struct:sentences
 * +0.14, ask:identify +0.12, struct:context +0.07; against: ask:questions -0.13`. An app round found
 * `high_quality` decisions explained by three terms that netted to about nothing, a −0.13 first.
 */
export function explain(r: ScoreResult, n = 3, toward?: 'up' | 'down'): string {
  let text: string;
  if (toward === undefined) {
    const shown = r.contributions.slice(0, n).filter(shows);
    text = shown.length === 0 ? 'no features' : shown.map(said).join(', ');
  } else {
    const sign = toward === 'up' ? 1 : -1;
    const pro = r.contributions.filter((c) => c.value * sign > 0 && shows(c)).slice(0, n);
    const con = r.contributions.find((c) => c.value * sign < 0 && shows(c));
    const last = pro[pro.length - 1];
    text = pro.length === 0 ? (con === undefined ? 'no features' : 'no features for it') : pro.map(said).join(', ');
    if (con !== undefined && (last === undefined || Math.abs(con.value) > Math.abs(last.value))) text += `; against: ${said(con)}`;
  }
  return r.followsUp === true ? `as an earlier turn it goes on with: ${text}` : text;
}

/**
 * The score above which `share` of the reference prompts fall (linear between the stored
 * quantiles): the `high_quality` threshold for a wished strong share. The ends mean what they say
 * for any traffic, not only for prompts like the reference ones: 1 is every request (threshold 0),
 * 0 none (threshold 1, which no score reaches).
 */
export function thresholdForShare(share: number, quantiles: readonly number[]): number {
  if (share >= 1) return 0;
  if (share <= 0) return 1;
  const q = Math.min(1, Math.max(0, 1 - share)) * (quantiles.length - 1);
  const lo = Math.floor(q);
  const hi = Math.min(quantiles.length - 1, lo + 1);
  return quantiles[lo]! + (q - lo) * (quantiles[hi]! - quantiles[lo]!);
}
