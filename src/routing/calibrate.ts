/**
 * `switchyard calibrate`, the arithmetic: thresholds from the scores of a deployment's own
 * recent `auto` traffic (the ledger's `route_score`), so that the wished share of it goes to
 * `high_quality` — as RouteLLM calibrates its threshold on a sample of real queries. The
 * `balanced` threshold stays the trained one (below the new `high_quality` one): it says where a
 * request gains nothing from a stronger model, which is a score, not a share — the reference
 * prompts hold no greetings, and keeping their share under it moved every "thanks!" of a
 * deployment's traffic up to `balanced`. Pure.
 */
import { DEFAULT_MODEL, type RouterModel, type Thresholds } from './scorer.js';

/** Fewer scored requests than this say little about a deployment's traffic. */
export const MIN_SCORES = 50;

export interface Calibration {
  thresholds: Thresholds;
  scores: number;
  /** The shares these thresholds give on the scores they were computed from. */
  shares: { fast_cheap: number; balanced: number; high_quality: number };
  strongShare: number;
}

/** Share of the reference prompts scoring at or above `t` (linear between the stored quantiles). */
export function referenceShareAbove(t: number, quantiles: readonly number[]): number {
  const n = quantiles.length - 1;
  if (t <= quantiles[0]!) return 1;
  if (t > quantiles[n]!) return 0;
  for (let i = 1; i <= n; i++) {
    const lo = quantiles[i - 1]!;
    const hi = quantiles[i]!;
    if (t <= hi) return 1 - (i - 1 + (hi === lo ? 1 : (t - lo) / (hi - lo))) / n;
  }
  return 0;
}

/**
 * The threshold at which about `share` of the sorted scores are at or above it: of the scores
 * seen, the one whose share at or above it is nearest the wish, written short (see
 * {@link shortThreshold}) as long as no lower score reaches it. Equal scores go to the same
 * side: with 20 identical greetings, a wish of 75 % fell inside their run and sent them all up
 * (93.9 %) where the next score gave 73.5 %.
 */
function thresholdAt(sorted: readonly number[], share: number): number {
  const n = sorted.length;
  const want = Math.min(1, Math.max(0, share)) * n; // how many should go above
  if (Math.round(want) <= 0) return 1;
  // Every request: 0, not the lowest score seen (a lower one later would go to a cheaper tier).
  if (share >= 1) return 0;
  let best = 0;
  let bestGap = Infinity;
  for (let i = 0; i < n; i++) {
    if (i > 0 && sorted[i] === sorted[i - 1]) continue; // the first of a run of equal scores: the whole run goes above
    const gap = Math.abs(n - i - want);
    if (gap < bestGap) {
      bestGap = gap;
      best = i;
    }
  }
  // None above is nearer than any run (the top run is larger than the wish by more than the wish).
  if (want < bestGap) return 1;
  return shortThreshold(sorted[best]!, best > 0 ? sorted[best - 1]! : -Infinity);
}

/**
 * `t` rounded down to the fewest decimals (4 at least) that keep it above `below`, the highest
 * score meant to stay under it. The config block is printed with these decimals: cut to a fixed
 * 4, a score within 1e-4 under the threshold crossed it, and the pasted thresholds gave other
 * shares than the ones printed beside them.
 */
function shortThreshold(t: number, below: number): number {
  for (let d = 4; d <= 15; d++) {
    const f = Math.floor(t * 10 ** d) / 10 ** d;
    if (f > below && f <= t) return f;
  }
  return t;
}

/** A threshold as printed in the config block: 4 decimals, more when it needs them (see {@link shortThreshold}). */
export function formatThreshold(t: number): string {
  for (let d = 4; d < 17; d++) if (Number(t.toFixed(d)) === t) return t.toFixed(d);
  return String(t);
}

export function calibrate(scores: readonly number[], opts: { strongShare?: number; model?: RouterModel } = {}): Calibration {
  const model = opts.model ?? DEFAULT_MODEL;
  const valid = scores.filter((s) => Number.isFinite(s) && s >= 0 && s <= 1);
  if (valid.length < MIN_SCORES)
    throw new RangeError(
      `only ${valid.length} request${valid.length === 1 ? '' : 's'} with a route score in the ledger; calibrate needs at least ${MIN_SCORES} (send model "auto" requests through the sidecar first)`,
    );
  const sorted = [...valid].sort((a, b) => a - b);
  const strongShare = opts.strongShare ?? referenceShareAbove(model.thresholds.highQuality, model.quantiles);
  const highQuality = thresholdAt(sorted, strongShare);
  const balanced = Math.min(highQuality, model.thresholds.balanced);
  const share = (pred: (s: number) => boolean): number => sorted.filter(pred).length / sorted.length;
  return {
    thresholds: { balanced, highQuality },
    scores: sorted.length,
    strongShare,
    shares: {
      fast_cheap: share((s) => s < balanced),
      balanced: share((s) => s >= balanced && s < highQuality),
      high_quality: share((s) => s >= highQuality),
    },
  };
}
