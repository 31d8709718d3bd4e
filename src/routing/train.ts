/**
 * Weighted L2-regularised logistic regression, fitted by Newton's method (exact, no learning
 * rate, no randomness: the same rows give the same weights bit for bit). The penalty pulls each
 * weight towards its prior instead of towards 0, so a feature the data never exercises (tools,
 * JSON output, conversation depth: the public sets are single-turn prompts) keeps its
 * documented prior rather than silently weighing nothing. The bias is not penalised.
 */
export interface TrainRow {
  x: Float64Array;
  /** The target in [0, 1]: 1 = the weak model's answer was clearly worse than the strong one's, 0 = the other way round; values between are soft targets (½ = a tie). */
  y: number;
  /** Sample weight (balances the data sets against each other). */
  w: number;
}

export interface FitOptions {
  /** Penalty strength per unit of total sample weight. */
  lambda: number;
  /** Prior per feature (log-odds); 0 when absent. */
  prior: Float64Array;
  iterations?: number;
  /** Features held at their prior (1 = pinned): how a sign constraint is enforced. */
  pinned?: Uint8Array;
  /** Per-feature multiplier of `lambda` (1 when absent): a stronger pull for many sparse features. */
  penalty?: Float64Array;
}

export interface Fitted {
  bias: number;
  weights: Float64Array;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Solves A·x = b for a symmetric positive definite A (Gaussian elimination, partial pivoting). */
export function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[piv]![col]!)) piv = r;
    [m[col], m[piv]] = [m[piv]!, m[col]!];
    const p = m[col]![col]!;
    if (Math.abs(p) < 1e-12) throw new Error('singular system in logistic fit');
    for (let r = col + 1; r < n; r++) {
      const f = m[r]![col]! / p;
      if (f === 0) continue;
      for (let k = col; k <= n; k++) m[r]![k]! -= f * m[col]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= m[r]![k]! * x[k]!;
    x[r] = s / m[r]![r]!;
  }
  return x;
}

export function fitLogistic(rows: readonly TrainRow[], opts: FitOptions): Fitted {
  const d = opts.prior.length;
  const n = d + 1; // index d = bias
  const theta = [...opts.prior, 0];
  const totalW = rows.reduce((s, r) => s + r.w, 0);
  const lam = opts.lambda * totalW;
  // The non-zero features of each row, in index order, and the bias last: the Hessian costs
  // (non-zeros)² per row, not (features)², and the sums run in the same order as a dense loop.
  const nz = rows.map((r) => {
    const idx: number[] = [];
    for (let k = 0; k < d; k++) if (r.x[k] !== 0) idx.push(k);
    idx.push(d);
    return Int32Array.from(idx);
  });
  for (let it = 0; it < (opts.iterations ?? 25); it++) {
    const g = new Array<number>(n).fill(0);
    const h = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    rows.forEach((r, ri) => {
      const idx = nz[ri]!;
      let z = theta[d]!;
      for (let k = 0; k < d; k++) z += theta[k]! * r.x[k]!;
      const p = sigmoid(z);
      const e = r.w * (p - r.y);
      const v = r.w * p * (1 - p);
      for (let ia = 0; ia < idx.length; ia++) {
        const a = idx[ia]!;
        const xa = a === d ? 1 : r.x[a]!;
        g[a]! += e * xa;
        const ha = h[a]!;
        for (let ib = ia; ib < idx.length; ib++) {
          const b = idx[ib]!;
          ha[b]! += v * xa * (b === d ? 1 : r.x[b]!);
        }
      }
    });
    for (let a = 0; a < n; a++) for (let b = 0; b < a; b++) h[a]![b] = h[b]![a]!;
    for (let k = 0; k < d; k++) {
      const lk = lam * (opts.penalty?.[k] ?? 1);
      g[k]! += lk * (theta[k]! - opts.prior[k]!);
      h[k]![k]! += lk;
      if (opts.pinned?.[k] === 1) {
        // Pinned: no step for this weight (identity row and column, zero gradient).
        g[k] = 0;
        for (let b = 0; b < n; b++) h[k]![b] = h[b]![k] = 0;
        h[k]![k] = 1;
      }
    }
    h[d]![d]! += 1e-9 * totalW;
    const step = solve(h, g);
    let moved = 0;
    for (let a = 0; a < n; a++) {
      theta[a]! -= step[a]!;
      moved = Math.max(moved, Math.abs(step[a]!));
    }
    if (moved < 1e-10) break;
  }
  return { bias: theta[d]!, weights: Float64Array.from(theta.slice(0, d)) };
}

/**
 * The fit with sign constraints: weights listed in `nonNegative` that come out below 0 (or in
 * `nonPositive` above 0) are pinned at 0 and the rest refitted, until none has the wrong sign (an
 * active-set loop; deterministic).
 */
export function fitNonNegative(rows: readonly TrainRow[], opts: FitOptions, nonNegative: readonly number[], nonPositive: readonly number[] = []): Fitted {
  const pinned = Uint8Array.from(opts.pinned ?? new Uint8Array(opts.prior.length));
  const prior = Float64Array.from(opts.prior);
  for (;;) {
    const f = fitLogistic(rows, { ...opts, prior, pinned });
    const bad = [...nonNegative.filter((k) => pinned[k] === 0 && f.weights[k]! < 0), ...nonPositive.filter((k) => pinned[k] === 0 && f.weights[k]! > 0)];
    if (bad.length === 0) return f;
    for (const k of bad) {
      pinned[k] = 1;
      prior[k] = 0;
    }
  }
}
