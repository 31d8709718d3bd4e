/**
 * Training (issue 11): the logistic fit on a tiny fixture — it learns the direction the labels
 * point to, honours sign constraints, and the whole train-and-pick procedure is deterministic
 * (the weights file renders byte for byte the same twice). Plus the RouteLLM metrics.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { BROKEN_SUBJECT, DATA_DIR, loadAll } from '../../bench/routing-data.js';
import { fnv1a32, pickHighQuality, trainAndPick } from '../../bench/train-core.js';
import { apgrInterval, pooled, runEval } from '../../bench/eval-routing.js';
import { featuresOf, render } from '../../bench/train-router.js';
import { apgr, cpt, curve, operatingPoint, oracle } from '../../src/routing/metrics.js';
import { fitLogistic, fitNonNegative } from '../../src/routing/train.js';

const dir = mkdtempSync(join(tmpdir(), 'sy-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fixture where code and long math prompts need the strong model and small talk does not. */
function writeFixture(): void {
  const hard = [
    'Write a Python function that parses this log: ```\nfor line in f: print(line.split(";"))\n```',
    'Solve: 17 * 23 + 4 * 19 = ? Then compute 3^7 - 12 / 4 and explain.',
  ];
  const easy = ['Hello, how are you?', 'Thanks a lot, have a nice evening!'];
  const gsm: string[] = [];
  const mmlu: string[] = [];
  const arena: string[] = [];
  for (let i = 0; i < 40; i++) {
    const isHard = i % 2 === 0;
    const p = `${isHard ? hard[i % 4 === 0 ? 0 : 1] : easy[i % 4 === 1 ? 0 : 1]} (${i})`;
    const split = i % 5 === 0 ? 'dev' : 'train';
    gsm.push(JSON.stringify({ id: `gsm8k-${String(i).padStart(4, '0')}`, split, prompt: p, strong: true, weak: !isHard }));
    mmlu.push(JSON.stringify({ id: `mmlu-x-${String(i).padStart(4, '0')}`, split, subject: 'x', prompt: p, strong: true, weak: !isHard }));
    const scores = { 'gpt-4-1106-preview': 9, 'mistralai/Mixtral-8x7B-Instruct-v0.1': isHard ? 4 : 9, 'gpt-3.5-turbo': 7 };
    arena.push(JSON.stringify({ id: `arena-${String(i).padStart(4, '0')}`, split, prompt: p, scores, answer_tokens: {} }));
  }
  writeFileSync(join(dir, 'gsm8k.jsonl'), gsm.join('\n') + '\n');
  writeFileSync(join(dir, 'mmlu.jsonl'), mmlu.join('\n') + '\n');
  writeFileSync(join(dir, 'arena-bench-v1.jsonl'), arena.join('\n') + '\n');
}

describe('fitLogistic', () => {
  it('learns a positive weight for a feature that predicts the label, a negative one for its opposite', () => {
    const rows = Array.from({ length: 200 }, (_, i) => {
      const a = i % 2;
      const b = 1 - a;
      const y = (i % 10 < 8 ? a : b) as 0 | 1; // 80 % aligned with a
      return { x: Float64Array.from([a, b]), y, w: 1 };
    });
    const f = fitLogistic(rows, { lambda: 0.001, prior: new Float64Array(2) });
    expect(f.weights[0]!).toBeGreaterThan(0.5);
    expect(f.weights[1]!).toBeLessThan(-0.5);
    const g = fitNonNegative(rows, { lambda: 0.001, prior: new Float64Array(2) }, [1]);
    expect(g.weights[1]).toBe(0);
    expect(g.weights[0]!).toBeGreaterThan(0.5);
  });
});

describe('fitLogistic with soft targets', () => {
  it('fits the mean of a soft target (the expected gain), and a per-feature penalty pulls that weight towards its prior', () => {
    // Feature a on: targets 1 and ½ alternate (mean ¾); a off: ½ and 0 (mean ¼).
    const rows = Array.from({ length: 400 }, (_, i) => {
      const a = i % 2;
      const y = a === 1 ? (i % 4 === 1 ? 1 : 0.5) : i % 4 === 0 ? 0.5 : 0;
      return { x: Float64Array.from([a]), y, w: 1 };
    });
    const f = fitLogistic(rows, { lambda: 0, prior: new Float64Array(1) });
    const p = (z: number): number => 1 / (1 + Math.exp(-z));
    expect(p(f.bias + f.weights[0]!)).toBeCloseTo(0.75, 6);
    expect(p(f.bias)).toBeCloseTo(0.25, 6);
    const loose = fitLogistic(rows, { lambda: 0.01, prior: new Float64Array(1) });
    const tight = fitLogistic(rows, { lambda: 0.01, prior: new Float64Array(1), penalty: Float64Array.from([100]) });
    expect(Math.abs(tight.weights[0]!)).toBeLessThan(Math.abs(loose.weights[0]!) / 5);
  });
});

describe('trainAndPick on a tiny fixture', () => {
  writeFixture();
  const rows = loadAll(dir);

  it('loads labels (arena: strong ≥ weak + 2) and gain targets as documented', () => {
    expect(rows).toHaveLength(120);
    expect(rows.filter((r) => r.set === 'arena-bench-v1' && r.label === 1)).toHaveLength(20);
    // The fit's target is the gain mapped to [0, 1]: a tie is ½, only-strong-right 1; arena ½ + (9 − 4)/8 clamps to 1.
    expect(new Set(rows.filter((r) => r.set !== 'arena-bench-v1').map((r) => `${r.strong}${r.weak}:${r.target}`))).toEqual(new Set(['10:1', '11:0.5']));
    expect(new Set(rows.filter((r) => r.set === 'arena-bench-v1').map((r) => r.target))).toEqual(new Set([1, 0.5]));
    expect(fnv1a32('gsm8k-0000')).toBe(4245118026);
  });

  it('is deterministic, ranks the hard prompts higher, and renders the same file twice', () => {
    const a = trainAndPick(rows, featuresOf(rows), 'none');
    const b = trainAndPick(rows, featuresOf(rows), 'none');
    expect(render(a)).toBe(render(b));
    expect(a.weights['kind:code']! + a.weights['code:fence']! + a.weights['math:numbers']!).toBeGreaterThan(0);
    expect(a.thresholds.balanced).toBeLessThanOrEqual(a.thresholds.highQuality);
    expect(render(a)).toContain("'kind:code': ");
  });

  it('eval:routing pools the three sets on one quality scale (arena grade / 10), the broken subject left out', () => {
    const scored = rows.map((r, i) => ({ ...r, score: i / rows.length }));
    const p = pooled([...scored, { ...scored[40]!, subject: BROKEN_SUBJECT }]);
    expect(p).toHaveLength(120);
    const arena = p.filter((_, i) => scored[i]!.set === 'arena-bench-v1');
    expect(new Set(arena.map((o) => o.strong))).toEqual(new Set([0.9]));
    expect(new Set(arena.map((o) => o.weak))).toEqual(new Set([0.4, 0.9]));
    expect(runEval('dev', dir)).toMatch(/\| pooled \(one scale\) \| 24 \|/);
  });
});

describe('the committed weights file', () => {
  it('is what a fresh fit on ../shared/data/routing renders, byte for byte (npm run train:router)', () => {
    const all = loadAll(DATA_DIR);
    const text = render(trainAndPick(all, featuresOf(all), BROKEN_SUBJECT));
    expect(text).toBe(readFileSync(new URL('../../src/routing/weights.generated.ts', import.meta.url), 'utf8'));
  }, 180_000);
});

describe('metrics (RouteLLM §3.2)', () => {
  const rows = [
    { score: 0.9, strong: 1, weak: 0 },
    { score: 0.8, strong: 1, weak: 1 },
    { score: 0.2, strong: 0, weak: 0 },
    { score: 0.1, strong: 1, weak: 0 },
  ];

  it('the curve goes from (0,0) to (1,1); APGR is its trapezoid area; CPT interpolates', () => {
    const pts = curve(rows);
    expect(pts[0]).toEqual({ share: 0, pgr: 0 });
    expect(pts.at(-1)).toEqual({ share: 1, pgr: 1 });
    // gap = 0.75 - 0.25 = 0.5; after the first prompt PGR = 0.25/0.5 = 0.5
    expect(pts[1]).toEqual({ share: 0.25, pgr: 0.5 });
    expect(apgr(pts)).toBeCloseTo(0.25 * 0.25 + 0.25 * 0.5 + 0.25 * 0.5 + 0.25 * 0.75, 12);
    expect(cpt(pts, 0.5)).toBe(0.25);
    expect(cpt(pts, 0.8)).toBeCloseTo(0.75 + 0.25 * 0.6, 12);
    expect(cpt(pts, 1.5)).toBeNull();
  });

  it('ties switch together; a random-like constant score gives APGR 0.5', () => {
    const flat = rows.map((r) => ({ ...r, score: 0.5 }));
    expect(curve(flat)).toHaveLength(2);
    expect(apgr(curve(flat))).toBeCloseTo(0.5, 12);
  });

  it('the bootstrap interval of APGR is reproducible, brackets the point value, and narrows with more prompts', () => {
    // 200 prompts whose score ranks the gain only partly (every 3rd one is mis-ranked).
    const many = Array.from({ length: 200 }, (_, i) => {
      const needs = i % 2 === 0;
      const flip = i % 3 === 0;
      return { score: (needs !== flip ? 0.6 : 0.4) + i / 1e6, strong: 1, weak: needs ? 0 : 1 };
    });
    const point = apgr(curve(many));
    const [lo, hi] = apgrInterval(many);
    expect(apgrInterval(many)).toEqual([lo, hi]);
    expect(lo).toBeLessThan(point);
    expect(hi).toBeGreaterThan(point);
    const [lo4, hi4] = apgrInterval([...many, ...many, ...many, ...many]);
    expect(hi4 - lo4).toBeLessThan(hi - lo);
  });

  it('operating point, oracle, and the default-threshold pick keep ≥ 95 % of strong quality', () => {
    expect(operatingPoint(rows, 0.5)).toEqual({ share: 0.5, quality: 0.5, pgr: 0.5 });
    expect(oracle(rows).share).toBe(0.5);
    expect(oracle(rows).pgr).toBe(1);
    const t = pickHighQuality([rows], 0.95);
    expect(operatingPoint(rows, t).quality).toBeGreaterThanOrEqual(0.95 * 0.75);
  });
});
