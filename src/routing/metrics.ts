/**
 * RouteLLM's router metrics (arXiv 2406.18665 §3.2; definitions in
 * shared/data/routing/README.md): PGR at an operating point, the call–performance curve with a
 * threshold at every distinct score (ties switch together, points joined by straight lines),
 * APGR as its area (trapezoids from (0,0) to (1,1)), and CPT(p) as the first strong share where
 * the curve reaches PGR p. Pure.
 */
export interface Outcome {
  score: number;
  /** Quality of the strong model's answer (1/0 correctness or a 1–10 grade). */
  strong: number;
  weak: number;
}

export interface CurvePoint {
  share: number;
  pgr: number;
}

const mean = (xs: readonly number[]): number => (xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length);

export function qualities(rows: readonly Outcome[]): { strong: number; weak: number; gap: number } {
  const strong = mean(rows.map((r) => r.strong));
  const weak = mean(rows.map((r) => r.weak));
  return { strong, weak, gap: strong - weak };
}

export function pgrOf(quality: number, rows: readonly Outcome[]): number {
  const q = qualities(rows);
  return q.gap === 0 ? 0 : (quality - q.weak) / q.gap;
}

/** The call–performance curve: strong share against PGR, from all-weak to all-strong. */
export function curve(rows: readonly Outcome[]): CurvePoint[] {
  const q = qualities(rows);
  const sorted = [...rows].sort((a, b) => b.score - a.score);
  const n = sorted.length;
  const pts: CurvePoint[] = [{ share: 0, pgr: 0 }];
  let sum = q.weak * n;
  let i = 0;
  while (i < n) {
    const s = sorted[i]!.score;
    while (i < n && sorted[i]!.score === s) {
      sum += sorted[i]!.strong - sorted[i]!.weak;
      i++;
    }
    pts.push({ share: i / n, pgr: q.gap === 0 ? 0 : (sum / n - q.weak) / q.gap });
  }
  return pts;
}

export function apgr(pts: readonly CurvePoint[]): number {
  let area = 0;
  for (let i = 1; i < pts.length; i++) area += ((pts[i]!.share - pts[i - 1]!.share) * (pts[i]!.pgr + pts[i - 1]!.pgr)) / 2;
  return area;
}

/** The smallest strong share at which the curve reaches `target` PGR, or null if it never does. */
export function cpt(pts: readonly CurvePoint[], target: number): number | null {
  if (pts[0]!.pgr >= target) return pts[0]!.share;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]!;
    const b = pts[i]!;
    if (b.pgr >= target) return b.pgr === a.pgr ? b.share : a.share + ((target - a.pgr) / (b.pgr - a.pgr)) * (b.share - a.share);
  }
  return null;
}

/** Strong share and quality when prompts scoring ≥ `threshold` go strong. */
export function operatingPoint(rows: readonly Outcome[], threshold: number): { share: number; quality: number; pgr: number } {
  let strong = 0;
  let sum = 0;
  for (const r of rows) {
    if (r.score >= threshold) {
      strong++;
      sum += r.strong;
    } else sum += r.weak;
  }
  const quality = rows.length === 0 ? 0 : sum / rows.length;
  return { share: rows.length === 0 ? 0 : strong / rows.length, quality, pgr: pgrOf(quality, rows) };
}

/** The oracle: strong exactly where the strong answer is better. */
export function oracle(rows: readonly Outcome[]): { share: number; pgr: number; apgr: number } {
  const asScored = rows.map((r) => ({ ...r, score: r.strong - r.weak }));
  const op = operatingPoint(asScored, Number.MIN_VALUE);
  return { share: op.share, pgr: op.pgr, apgr: apgr(curve(asScored)) };
}
