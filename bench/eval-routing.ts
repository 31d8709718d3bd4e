/**
 * `npm run eval:routing`: the `auto` scorer on the dev split of shared/data/routing, per data
 * set — strong share and quality at the default thresholds, the random router at the same
 * share, PGR, APGR / CPT(50 %) / CPT(80 %) over a threshold sweep, and the oracle. Tiers:
 * `high_quality` = strong (gpt-4-1106-preview), `balanced` and `fast_cheap` = weak (Mixtral
 * 8x7B); on arena-bench-v1 also `balanced` = gpt-3.5-turbo as a middle model. A last row pools
 * the three sets on one quality scale (mixed traffic: the ranking between tasks counts too).
 *
 *   node bench/run-ts.js bench/eval-routing.ts [--split dev|train] [--data DIR]
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { apgr, cpt, curve, operatingPoint, oracle, qualities, type Outcome } from '../src/routing/metrics.js';
import { DEFAULT_MODEL, scoreRequest, tierForScore, type RouterModel } from '../src/routing/scorer.js';
import { seededRng } from '../src/routing/strategy.js';
import { BROKEN_SUBJECT, DATA_DIR, loadAll, type DataRow } from './routing-data.js';

export interface EvalLine {
  name: string;
  n: number;
  share: number;
  quality: number;
  ofStrong: number;
  randomQuality: number;
  pgr: number;
  apgr: number;
  cpt50: number | null;
  cpt80: number | null;
  oracleShare: number;
  oracleApgr: number;
}

export function evaluate(name: string, rows: readonly Outcome[], threshold: number): EvalLine {
  const q = qualities(rows);
  const op = operatingPoint(rows, threshold);
  const pts = curve(rows);
  const o = oracle(rows);
  return {
    name,
    n: rows.length,
    share: op.share,
    quality: op.quality,
    ofStrong: op.quality / q.strong,
    randomQuality: q.weak + op.share * q.gap,
    pgr: op.pgr,
    apgr: apgr(pts),
    cpt50: cpt(pts, 0.5),
    cpt80: cpt(pts, 0.8),
    oracleShare: o.share,
    oracleApgr: o.apgr,
  };
}

/** arena-bench-v1 with three tiers: high_quality = strong, balanced = gpt-3.5-turbo, fast_cheap = weak. */
export function threeTier(rows: ReadonlyArray<DataRow & { score: number }>, model: RouterModel): string {
  const usable = rows.filter((r) => r.middle !== null);
  let sum = 0;
  const count = { fast_cheap: 0, balanced: 0, high_quality: 0 };
  for (const r of usable) {
    const t = tierForScore(r.score, model.thresholds);
    count[t]++;
    sum += t === 'high_quality' ? r.strong : t === 'balanced' ? r.middle! : r.weak;
  }
  const q = qualities(usable.map((r) => ({ score: r.score, strong: r.strong, weak: r.weak })));
  const quality = sum / usable.length;
  const pct = (k: keyof typeof count): string => `${((100 * count[k]) / usable.length).toFixed(0)} %`;
  return `arena-bench-v1, balanced = gpt-3.5-turbo (n=${usable.length}): high_quality ${pct('high_quality')}, balanced ${pct('balanced')}, fast_cheap ${pct('fast_cheap')}; quality ${quality.toFixed(2)} (${((100 * quality) / q.strong).toFixed(1)} % of strong), PGR ${((quality - q.weak) / q.gap).toFixed(2)}`;
}

/** 90 % bootstrap interval of APGR (resample prompts with replacement, recompute; 1,000 rounds). */
export function apgrInterval(rows: readonly Outcome[], rounds = 1000, seed = 11): [number, number] {
  const next = seededRng(seed); // fixed seed: the bootstrap prints the same interval every run
  const out: number[] = [];
  for (let b = 0; b < rounds; b++) {
    const sample = Array.from({ length: rows.length }, () => rows[Math.floor(next() * rows.length)]!);
    out.push(apgr(curve(sample)));
  }
  out.sort((x, y) => x - y);
  return [out[Math.floor(0.05 * rounds)]!, out[Math.floor(0.95 * rounds) - 1]!];
}

const pc = (x: number | null): string => (x === null ? 'not reached' : `${(100 * x).toFixed(1)} %`);

export function table(lines: readonly EvalLine[]): string {
  const head = '| set | n | strong share | quality (of strong) | random at same share | PGR | APGR | CPT(50 %) | CPT(80 %) | oracle share / APGR |';
  const sep = '|---|---|---|---|---|---|---|---|---|---|';
  const body = lines.map(
    (l) =>
      `| ${l.name} | ${l.n} | ${pc(l.share)} | ${l.quality.toFixed(3)} (${pc(l.ofStrong)}) | ${l.randomQuality.toFixed(3)} | ${l.pgr.toFixed(2)} | ${l.apgr.toFixed(3)} | ${pc(l.cpt50)} | ${pc(l.cpt80)} | ${pc(l.oracleShare)} / ${l.oracleApgr.toFixed(3)} |`,
  );
  return [head, sep, ...body].join('\n');
}

/**
 * The three sets as one stream of mixed traffic (MMLU without the broken subject), every prompt's
 * quality on one scale — GSM8K/MMLU correct 1 / wrong 0, arena-bench-v1 grade / 10 — so the
 * ranking *between* tasks counts, which the per-set rows cannot see.
 */
export function pooled(rows: ReadonlyArray<DataRow & { score: number }>): Outcome[] {
  const scale = (r: DataRow, q: number): number => (r.set === 'arena-bench-v1' ? q / 10 : q);
  return rows.filter((r) => r.subject !== BROKEN_SUBJECT).map((r) => ({ score: r.score, strong: scale(r, r.strong), weak: scale(r, r.weak) }));
}

export function runEval(split: 'dev' | 'train', dir = DATA_DIR, model: RouterModel = DEFAULT_MODEL): string {
  const rows = loadAll(dir).filter((r) => r.split === split);
  // The scorer as it runs in the sidecar (lexicon included), on the prompt as a single user turn.
  const scored = rows.map((r) => ({ ...r, score: scoreRequest({ messages: [{ role: 'user', content: r.prompt }] }, model).score }));
  const t = model.thresholds.highQuality;
  const of = (pred: (r: DataRow) => boolean): Outcome[] => scored.filter(pred).map((r) => ({ score: r.score, strong: r.strong, weak: r.weak }));
  const sets: Array<[string, Outcome[]]> = [
    ['gsm8k', of((r) => r.set === 'gsm8k')],
    ['mmlu', of((r) => r.set === 'mmlu')],
    [`mmlu without ${BROKEN_SUBJECT}`, of((r) => r.set === 'mmlu' && r.subject !== BROKEN_SUBJECT)],
    ['arena-bench-v1', of((r) => r.set === 'arena-bench-v1')],
    [`pooled (one scale)`, pooled(scored)],
  ];
  const lines = sets.map(([name, rows]) => evaluate(name, rows, t));
  const intervals = sets.map(([name, rows]) => {
    const [lo, hi] = apgrInterval(rows);
    return `${name} ${lo.toFixed(3)}–${hi.toFixed(3)}`;
  });
  return [
    `auto scorer on the ${split} split; thresholds balanced ${model.thresholds.balanced}, high_quality ${t}; high_quality = strong, balanced/fast_cheap = weak`,
    table(lines),
    threeTier(
      scored.filter((r) => r.set === 'arena-bench-v1'),
      model,
    ),
    `APGR, 90 % bootstrap interval (prompts resampled, 1,000 rounds): ${intervals.join('; ')}`,
  ].join('\n');
}

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) console.log(runEval(arg('--split') === 'train' ? 'train' : 'dev', arg('--data') ?? DATA_DIR));
