/**
 * Experiments for the `auto` scorer (not part of the product): 5-fold cross-validation on the
 * train split with the fixed folds of train-core, plus a leave-MMLU-subjects-out variant (the
 * MMLU rows of a fold are whole subjects), for training targets, set weightings, a topic
 * lexicon and extra features. Prints APGR per set; never reads dev.
 *
 *   node bench/run-ts.js bench/exp-router.ts
 *
 * Sixth round (expected answer length), `node bench/run-ts.js bench/exp-router.ts r5` with
 * `PROTO5=len` and LEN=oracle|pred|zero (LEN_MODEL, LEN_LAMBDA, LEN_FREE, LEN_ONLY_CUES, LEN_LOG,
 * AUX_TARGET=hard|lowmean|spread), or `PROTO5=cues` with LEN_CUES=<letters of l d s c n> and
 * DETAIL_RE; FOLD_SALT=<s> for other folds.
 *
 * Seventh round (cue fixes for application traffic): `dry` prints score, tier and the `kind:*`
 * contributions of the shipped scorer for everyday app prompts, English and German; the CV figures
 * come from `kinds` with KINDS=prior KPEN=300 (FOLD_SALT=a, b for other folds).
 *
 * Eighth round (other languages and scripts): `dry-lang` prints score, tier, word and sentence
 * counts and the largest contributions for one request in ten languages (English, Chinese,
 * Japanese, Korean, Thai, French, Spanish, Italian, Portuguese, Dutch), four requests of rising
 * length; the CV figures again from `kinds`.
 */
import { extractFeatures, FEATURES } from '../src/routing/features.js';
import { emptyCounts, scanText } from '../src/routing/scan.js';
import { DEFAULT_MODEL, scoreRequest, tierForScore } from '../src/routing/scorer.js';
import { apgr, curve } from '../src/routing/metrics.js';
import { fitNonNegative, solve, type TrainRow } from '../src/routing/train.js';
import { fnv1a32, NON_NEGATIVE, PRIORS } from './train-core.js';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BROKEN_SUBJECT, DATA_DIR, loadAll, STRONG, WEAK, type DataRow } from './routing-data.js';

const arenaScores = new Map<string, Record<string, number | null>>();
const arenaTokens = new Map<string, Record<string, number>>();
for (const line of readFileSync(resolve(DATA_DIR, 'arena-bench-v1.jsonl'), 'utf8').split('\n')) {
  if (line.trim() === '') continue;
  const o = JSON.parse(line) as { id: string; scores: Record<string, number | null>; answer_tokens?: Record<string, number> };
  arenaScores.set(o.id, o.scores);
  if (o.answer_tokens) arenaTokens.set(o.id, o.answer_tokens);
}
const all = loadAll().filter((r) => r.split === 'train' && r.subject !== BROKEN_SUBJECT);
const base = all.map((r) => extractFeatures({ messages: [{ role: 'user', content: r.prompt }] }));
// DROP=prefix,prefix zeroes those features (an ablation: e.g. DROP=domain: is the scorer without domains).
const dropped = (process.env.DROP ?? '')
  .split(',')
  .filter((p) => p !== '')
  .flatMap((p) => FEATURES.flatMap((f, k) => (f.startsWith(p) ? [k] : [])));
for (const x of base) for (const k of dropped) x[k] = 0;

// ---- tokens (approximates the scanner: lower case, Unicode letters, no fenced code, no \cmd) ----
const STOP = new Set(
  `answer answers question questions which following option options true false statement statements correct incorrect best describes
   choose select none above both neither all each other than that this these those with from into about what when where who whom whose
   the and for are was were has have had not but its their there then them they been being will would could should may might can must
   does did also only such any some more most less very many much how why your you our his her she him one two three four five
   und der die das den dem des ein eine einer eines einem einen ist sind war nicht mit für auf von bei aus als auch oder aber wie was wer`.split(/\s+/),
);
const WORD = /\p{L}[\p{L}\p{M}\p{N}]*/gu;
function tokens(prompt: string): string[] {
  const text = prompt
    .toLowerCase()
    .replace(/```[\s\S]*?(```|$)/g, ' ')
    .replace(/\\\p{L}+/gu, ' ');
  const out = new Set<string>();
  for (const m of text.matchAll(WORD)) {
    const w = m[0].normalize('NFC');
    if ([...w].length < 4 || STOP.has(w)) continue;
    // identifiers (snake_case, dotted) are code, not topic words
    const next = text[m.index + w.length];
    if (next === '_') continue;
    out.add(w);
  }
  return [...out];
}
const toks = all.map((r) => tokens(r.prompt));

// ---- folds ----
const idFold = (r: DataRow): number => Math.floor(fnv1a32(r.id + (process.env.FOLD_SALT ?? '')) / 5) % 5;
const subjFold = (r: DataRow): number => (r.set === 'mmlu' ? fnv1a32(r.subject!) % 5 : idFold(r));

type Target = 'label' | 'soft' | 'soft-arena-label' | 'label-negw' | 'soft-multi' | 'soft-multi-mix';
type Weighting = 'equal' | 'sqrt' | 'sqrt-arena3' | 'rows';
interface Opts {
  target: Target;
  weighting: Weighting;
  lambda: number;
  lexicon: number; // max words, 0 = none
  lexLambda: number; // multiplier for lexicon words
  minDf: number;
  minSubjects: number;
  extra: boolean;
}

function target(r: DataRow, t: Target): { y: number; w: number } {
  if (t === 'label') return { y: r.label, w: 1 };
  if (t === 'label-negw') return { y: r.label, w: r.strong < r.weak ? 2 : 1 };
  if (r.set === 'arena-bench-v1') {
    if (t === 'soft-arena-label') return { y: r.label, w: 1 };
    if (t === 'soft-multi' || t === 'soft-multi-mix') {
      // gain of the strong model over the mean of the other graded models (not GPT-4): a denoised "needs a strong model"
      const sc = arenaScores.get(r.id)!;
      const others = Object.entries(sc)
        .filter(([m, v]) => v !== null && !m.startsWith('gpt-4') && m !== 'llama-13b')
        .map(([, v]) => v!);
      const mean = others.reduce((a, b) => a + b, 0) / others.length;
      const g = t === 'soft-multi' ? r.strong - mean : (r.strong - r.weak + r.strong - mean) / 2;
      return { y: Math.min(1, Math.max(0, 0.5 + g / 8)), w: 1 };
    }
    return { y: Math.min(1, Math.max(0, 0.5 + (r.strong - r.weak) / 8)), w: 1 };
  }
  return { y: (1 + r.strong - r.weak) / 2, w: 1 };
}

// ---- extra difficulty features for word problems (prototype) ----
const RATE =
  /\b(percent|percentage|per|each|every|rate|ratio|half|third|quarter|twice|double|triple|fraction|discount|interest|average|prozent|pro|jeweils|jede[nrs]?|hälfte|drittel|viertel|doppelt|rabatt|zins\w*|durchschnitt\w*)\b|%/giu;
const STEP =
  /\b(then|after|before|remaining|left|rest|more than|less than|times as|dann|danach|anschließend|übrig|restlich\w*|mehr als|weniger als|mal so)\b/giu;
// Prototype candidates (PROTO=name): counted with regexes here, moved into the scanner if they carry.
const WORDS = (prompt: string): string[] => prompt.toLowerCase().match(/\p{L}+/gu) ?? [];
const UNIT_FAMILIES: Array<[string, RegExp]> = [
  ['time', /^(seconds?|minutes?|hours?|days?|weeks?|months?|years?|sekunden?|minuten?|stunden?|tage?n?|wochen?|monate?n?|jahre?n?)$/],
  ['money', /^(dollars?|cents?|euros?|pounds?|cent)$/],
  ['length', /^(meters?|metres?|kilometers?|km|miles?|feet|foot|inch(es)?|yards?|meter|kilometer|zentimeter|cm|mm)$/],
  ['weight', /^(grams?|kilograms?|kg|ounces?|tons?|gramm|kilogramm|tonnen?)$/],
  ['volume', /^(liters?|litres?|gallons?|cups?|ml|liter|milliliter|tassen?)$/],
  ['percent', /^(percent|prozent)$/],
];
const TIME = UNIT_FAMILIES[0]![1];
const EXHAUSTIVE =
  /^(detailed|comprehensive|thorough|thoroughly|complete|exhaustive|elaborate|extensive|full|ausführlich|ausführliche[nrsm]?|detailliert|detaillierte[nrsm]?|vollständig|vollständige[nrsm]?|umfassend|umfassende[nrsm]?|gründlich|gründliche[nrsm]?)$/;
const JUDGE = /^(true|false|correct|incorrect|valid|invalid|wahr|falsch|richtig|zutreffend|korrekt|gültig|ungültig)$/;
const CONSTRAINT_NUM = /\b\d+\s*(words?|sentences?|paragraphs?|bullet|points?|items?|lines?|wörter|wörtern|sätze|sätzen|absätze|absätzen|punkte|zeilen)\b/giu;
function proto(prompt: string): number[] {
  const w = WORDS(prompt);
  const name = process.env.PROTO!;
  if (name === 'units') {
    const fam = new Set<string>();
    const time = new Set<string>();
    for (const x of w)
      for (const [f, re] of UNIT_FAMILIES)
        if (re.test(x)) {
          fam.add(f);
          if (f === 'time') time.add(x.replace(/s$|en$|n$|e$/, ''));
        }
    return [Math.min(1, fam.size / 3), Math.min(1, Math.max(0, time.size - 1) / 2), 0, 0];
  }
  if (name === 'exhaustive')
    return [Math.min(1, w.filter((x) => EXHAUSTIVE.test(x)).length / 2), Math.min(1, (prompt.match(CONSTRAINT_NUM) ?? []).length / 2), 0, 0];
  if (name === 'judge') return [Math.min(1, w.filter((x) => JUDGE.test(x)).length / 4), 0, 0, 0];
  if (name === 'lines') {
    const lines = prompt.split('\n').filter((l) => l.trim() !== '').length;
    return [Math.min(1, Math.log2(lines) / 5), 0, 0, 0];
  }
  if (name === 'first') return [Math.min(1, w.filter((x) => /^(i|my|me|myself|ich|mein|meine|meinen|meinem|meiner|mich|mir)$/.test(x)).length / 4), 0, 0, 0];
  if (name === 'recall')
    return [
      Math.min(1, w.filter((x) => /^(who|whom|whose|when|where|which|wer|wen|wem|wessen|wann|wo|welche|welcher|welches|welchen|welchem)$/.test(x)).length / 2),
      0,
      0,
      0,
    ];
  if (name === 'wh3') return [Math.min(1, w.filter((x) => /^(who|whom|whose|when|where|wer|wen|wem|wessen|wann|wo)$/.test(x)).length / 2), 0, 0, 0];
  if (name === 'which') return [Math.min(1, w.filter((x) => /^(which|welche|welcher|welches|welchen|welchem)$/.test(x)).length / 2), 0, 0, 0];
  if (name === 'recall1')
    return [
      Math.min(1, w.filter((x) => /^(who|whom|whose|when|where|which|wer|wen|wem|wessen|wann|wo|welche|welcher|welches|welchen|welchem)$/.test(x)).length / 1),
      0,
      0,
      0,
    ];
  if (name === 'recall3')
    return [
      Math.min(1, w.filter((x) => /^(who|whom|whose|when|where|which|wer|wen|wem|wessen|wann|wo|welche|welcher|welches|welchen|welchem)$/.test(x)).length / 3),
      0,
      0,
      0,
    ];
  if (name === 'what')
    return [
      Math.min(1, w.filter((x) => /^(who|whom|whose|when|where|which|wer|wen|wem|wessen|wann|wo|welche|welcher|welches|welchen|welchem)$/.test(x)).length / 2),
      Math.min(1, w.filter((x) => /^(what|was)$/.test(x)).length / 2),
      Math.min(1, w.filter((x) => /^(how|wie)$/.test(x)).length / 2),
      0,
    ];
  const cnt = (re: RegExp): number => w.filter((x) => re.test(x)).length;
  if (name === 'name') return [Math.min(1, cnt(/^(name|list|enumerate|nenne|nennen|liste|aufzählen|zähle)$/) / 2), 0, 0, 0];
  if (name === 'define') return [Math.min(1, cnt(/^(define|definition|meaning|means|definiere|definition|bedeutet|bedeutung)$/) / 2), 0, 0, 0];
  if (name === 'why') return [Math.min(1, cnt(/^(why|warum|wieso|weshalb)$/) / 2), 0, 0, 0];
  if (name === 'superl')
    return [
      Math.min(1, cnt(/^(most|best|least|worst|largest|smallest|greatest|meisten|beste|besten|wenigsten|größte|größten|kleinste|kleinsten)$/) / 2),
      0,
      0,
      0,
    ];
  if (name === 'yesno')
    return [Math.min(1, cnt(/^(is|are|does|do|did|can|could|should|would|will|ist|sind|kann|können|soll|sollte|hat|haben|gibt)$/) / 3), 0, 0, 0];
  if (name === 'choose') return [Math.min(1, cnt(/^(choose|select|pick|decide|wähle|wählen|auswählen|entscheide|entscheiden)$/) / 1), 0, 0, 0];
  if (name === 'numwords')
    return [
      Math.min(
        1,
        cnt(
          /^(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|half|twice|double|triple|dozen|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|hälfte|doppelt|dreifach|dutzend)$/,
        ) / Number(process.env.NW ?? 3),
      ),
      0,
      0,
      0,
    ];
  if (name === 'compar') return [Math.min(1, cnt(/^\p{L}+er$/u) / 8), 0, 0, 0];
  if (name === 'recall2') {
    const c = (re: RegExp): number => w.filter((x) => re.test(x)).length;
    return [
      Math.min(1, c(/^(which|welche|welcher|welches|welchen|welchem)$/) / 2),
      Math.min(1, c(/^(who|whom|whose|wer|wen|wem|wessen)$/) / 2),
      Math.min(1, c(/^(when|wann)$/) / 2),
      Math.min(1, c(/^(where|wo)$/) / 2),
    ];
  }
  if (name === 'time') return [Math.min(1, w.filter((x) => TIME.test(x)).length / 4), 0, 0, 0];
  return [0, 0, 0, 0];
}
function extra(prompt: string): number[] {
  if (process.env.PROTO) return proto(prompt);
  if (process.env.HINGE) {
    const words = (prompt.match(/\p{L}+/gu) ?? []).length;
    const nums = (prompt.match(/\d+/g) ?? []).length;
    const lw = Math.log2(1 + words);
    return [
      Math.max(0, lw - 6) / 4,
      Math.max(0, lw - 8) / 3,
      Math.max(0, Math.log2(1 + nums) - 3) / 3,
      process.env.HINGE === 'mono' ? Math.max(0, lw - 4) / 6 : Math.min(1, Math.max(0, 5 - lw) / 5),
    ];
  }
  const nums = prompt.match(/\d+(?:[.,]\d+)?/g) ?? [];
  const distinct = new Set(nums).size;
  const sentences = prompt.split(/[.!?]\s+|\n+/);
  const withNum = sentences.filter((s) => /\d/.test(s)).length;
  const rate = (prompt.match(process.env.EXTRA_RE ? new RegExp(process.env.EXTRA_RE, 'giu') : RATE) ?? []).length;
  const step = (prompt.match(STEP) ?? []).length;
  const v = [Math.min(1, Math.log2(1 + distinct) / 4), Math.min(1, Math.log2(1 + withNum) / 3), Math.min(1, rate / 4), Math.min(1, step / 4)];
  const keep = (process.env.EXTRA ?? '0123').split('').map(Number);
  return v.map((x, k) => (keep.includes(k) ? x : 0));
}
// ---- fifth round (PROTO5=gam|inter|arena): extra columns, their sign constraints and penalties ----
const EX_NONNEG: number[] = [];
const EX_PEN: number[] = [];
const fx = (i: number, name: string): number =>
  name === 'struct:words' // the word count's shape: its segments add up to the old linear feature
    ? FEATURES.reduce((a, f, k) => a + (f.startsWith('struct:words[') ? base[i]![k]! : 0), 0)
    : base[i]![FEATURES.indexOf(name as (typeof FEATURES)[number])]!;
const clampU = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);
function round5(): number[][] {
  const names = process.env.PROTO5!.split('+');
  const cols: number[][] = all.map(() => []);
  const add = (vals: number[], nonneg: boolean, pen = 1): void => {
    if (nonneg) EX_NONNEG.push(cols[0]!.length);
    EX_PEN.push(pen);
    vals.forEach((v, i) => cols[i]!.push(v));
  };
  if (names.includes('gam')) {
    // Monotone piecewise-linear shapes: each feature split at train quantiles into K segments,
    // seg_k = clamp(x - e_k, 0, e_{k+1} - e_k) (their sum is x: one common slope = the linear model).
    // GAM_KEEP=pen keeps the linear feature and adds the segments with pen x the L2 (a pull towards linear).
    const K = Number(process.env.BINS ?? 4);
    const keep = process.env.GAM_KEEP ? Number(process.env.GAM_KEEP) : 0;
    for (const f of (process.env.GAM ?? 'struct:length').split(',')) {
      const k = FEATURES.indexOf(f as (typeof FEATURES)[number]);
      const vals = all.map((_, i) => base[i]![k]!);
      const sorted = [...vals].sort((a, b) => a - b);
      const edges = [0];
      for (let q = 1; q < K; q++) edges.push(sorted[Math.floor((q / K) * (sorted.length - 1))]!);
      edges.push(1);
      const e = [...new Set(edges)].sort((a, b) => a - b);
      const nonneg = NON_NEGATIVE.includes(f as (typeof FEATURES)[number]);
      for (let s = 0; s + 1 < e.length; s++) {
        if (e[s + 1]! - e[s]! < 1e-9) continue;
        add(
          vals.map((v) => Math.min(Math.max(v - e[s]!, 0), e[s + 1]! - e[s]!)),
          keep ? false : nonneg,
          keep || 1,
        );
      }
      if (!keep) for (const x of base) x[k] = 0;
      if (process.env.GAM_LOG) console.log(`${f} edges ${e.map((v) => v.toFixed(3)).join(' ')}`);
    }
  }
  if (names.includes('inter')) {
    const sel = (process.env.INTER ?? 'abcd').split('');
    const dom = (i: number): number => Math.max(...FEATURES.flatMap((f, k) => (f.startsWith('domain:') ? [base[i]![k]!] : [])));
    if (sel.includes('a'))
      add(
        all.map((_, i) => fx(i, 'math:numbers') * fx(i, 'struct:words')),
        true,
      );
    if (sel.includes('b'))
      add(
        all.map((_, i) => Math.max(fx(i, 'code:fence'), fx(i, 'kind:code')) * fx(i, 'struct:length')),
        true,
      );
    if (sel.includes('c'))
      add(
        all.map((_, i) => fx(i, 'ask:identify') * dom(i)),
        false,
      );
    if (sel.includes('d'))
      add(
        all.map((_, i) => fx(i, 'ask:questions') * fx(i, 'struct:sentences')),
        false,
      );
    if (sel.includes('e'))
      add(
        all.map((_, i) => fx(i, 'kind:multistep') * fx(i, 'math:numbers')),
        true,
      );
    if (sel.includes('f'))
      add(
        all.map((_, i) => fx(i, 'math:number_words') * fx(i, 'struct:sentences')),
        true,
      );
  }
  if (names.includes('arena')) {
    const sel = (process.env.ARENA ?? 'abcd').split('');
    const PROGRAM =
      /\b(complete|full|entire|whole|working|vollständige[nrsm]?|komplette[nrsm]?|ganze[nrsm]?|lauffähige[nrsm]?)\s+(program|programme|code|app|application|script|implementation|game|website|programm|anwendung|skript|implementierung|spiel|webseite)\b|\b(multiple|several|separate|mehrere|getrennte)\s+(files|modules|classes|dateien|module|klassen)\b/giu;
    const API =
      /\b(api|sdk|library|framework|package|module|endpoint|bibliothek|paket|schnittstelle)\b|\b(v|version\s*)\d+(\.\d+)+\b|\b[a-z][a-z0-9]*(\.[a-z_][a-z0-9_]*){1,}\(\)/giu;
    const LIST = /^\s*(\d+[.)]|[-*•])\s+\S/gmu;
    const NITEMS =
      /\b(\d+|three|four|five|six|seven|eight|nine|ten|twenty|drei|vier|fünf|sechs|sieben|acht|neun|zehn|zwanzig)\s+(\w+\s+)?(examples|ideas|items|ways|tips|reasons|questions|names|titles|options|steps|points|sentences|paragraphs|words|lines|beispiele|ideen|möglichkeiten|tipps|gründe|fragen|namen|titel|optionen|schritte|punkte|sätze|absätze|wörter|zeilen)\b/giu;
    const n = (re: RegExp, s: string): number => (s.match(re) ?? []).length;
    if (sel.includes('a'))
      add(
        all.map((r) => clampU(n(PROGRAM, r.prompt) / 1)),
        false,
      );
    if (sel.includes('b'))
      add(
        all.map((r) => clampU(n(API, r.prompt) / 3)),
        false,
      );
    const APIW =
      /^(api|apis|sdk|sdks|library|libraries|framework|frameworks|package|packages|module|modules|endpoint|endpoints|bibliothek|bibliotheken|paket|pakete|paketen|schnittstelle|schnittstellen)$/;
    if (sel.includes('e'))
      add(
        all.map((r) => clampU(WORDS(r.prompt.replace(/```[\s\S]*?(```|$)/g, ' ')).filter((x) => APIW.test(x)).length / Number(process.env.APIFULL ?? 3))),
        false,
      );
    if (sel.includes('c'))
      add(
        all.map((r) => clampU(n(LIST, r.prompt) / 5)),
        false,
      );
    if (sel.includes('d'))
      add(
        all.map((r) => clampU(n(NITEMS, r.prompt) / 1)),
        false,
      );
  }
  if (names.includes('len')) {
    // Sixth round: expected answer length. LEN=oracle puts the arena rows' real mean log answer
    // length in (an upper bound: GSM8K/MMLU rows get 0, so only arena's ranking can use it);
    // LEN=pred (default) puts in an auxiliary ridge model's prediction of it from request-side
    // features, fitted per fold on that fold's arena training rows only (see fit()), for every row.
    LEN_COL = cols[0]!.length;
    add(
      all.map((r) => (process.env.LEN === 'oracle' && r.set === 'arena-bench-v1' ? clampU((answerLogLen(r)! - 3) / 4) : 0)),
      process.env.LEN_FREE ? false : true,
    );
  }
  if (names.includes('cues')) {
    // The length cues themselves as features (LEN_CUES selects them), free in sign.
    for (let k = 0; k < 5; k++)
      add(
        all.map((_, i) => lenCues[i]![k]!),
        false,
      );
  }
  return cols;
}

// ---- sixth round: expected answer length (auxiliary model on arena answer_tokens, stacked) ----
let LEN_COL = -1;
/** Mean over the graded models of log(1 + answer tokens), or one model's (LEN_MODEL). */
function answerLogLen(r: DataRow): number | null {
  const t = arenaTokens.get(r.id);
  if (!t) return null;
  if (process.env.LEN_MODEL) return t[process.env.LEN_MODEL] === undefined ? null : Math.log1p(t[process.env.LEN_MODEL]!);
  const v = Object.values(t);
  return v.length === 0 ? null : v.reduce((a, b) => a + Math.log1p(b), 0) / v.length;
}
/**
 * AUX_TARGET=hard|lowmean|spread: the auxiliary model's target instead of the answer length —
 * a denoised "needs a strong model" from all 15 graded models: GPT-4 Turbo's grade minus the mean of
 * the others (hard), minus the mean grade of all (lowmean), or the standard deviation of the grades (spread).
 */
function auxTarget(r: DataRow): number | null {
  const sc = arenaScores.get(r.id);
  if (!sc) return null;
  const all15 = Object.entries(sc).filter(([, v]) => v !== null) as Array<[string, number]>;
  const others = all15.filter(([m]) => !m.startsWith('gpt-4') && m !== 'llama-13b').map(([, v]) => v);
  const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
  if (process.env.AUX_TARGET === 'hard') return r.strong - mean(others);
  if (process.env.AUX_TARGET === 'lowmean') return -mean(all15.map(([, v]) => v));
  const m = mean(all15.map(([, v]) => v));
  return Math.sqrt(mean(all15.map(([, v]) => (v - m) ** 2)));
}
/** Request-side cues of a long (or short) answer, English and German; counts per prompt. */
const LONGFORM =
  /\b(write|writing|create|generate|compose|draft|implement|build|develop|design|schreibe?n?|erstelle?n?|generiere|verfasse|entwickle|implementiere|programmiere|baue)\b[^.?!\n]{0,40}?\b(programs?|programme?|scripts?|skripte?|apps?|applications?|anwendung(en)?|games?|spiele?|websites?|webseiten?|classes|class|klassen?|essays?|aufsatz|aufsätze|stor(y|ies)|geschichten?|articles?|artikel|reports?|berichte?|blogs?|blogbeitrag|letters?|briefe?|speech(es)?|reden?|chapters?|kapitel|guides?|anleitung(en)?|leitfaden|tutorials?|plans?|pläne|proposals?|konzepte?|poems?|gedichte?|songs?|lieder|emails?|e-mails?|mails?|cover letter|bewerbung(en)?|summary|zusammenfassung)\b/giu;
const DETAIL =
  /\b(detailed|in detail|comprehensive|thorough(ly)?|step[- ]by[- ]step|elaborate|extensive|in depth|in-depth|ausführlich\w*|detailliert\w*|umfassend\w*|gründlich\w*|schritt für schritt|im detail)\b/giu;
const SHORT =
  /\b(brief(ly)?|short|concise(ly)?|one word|single word|one sentence|a sentence|yes or no|tl;dr|kurz\w*|knapp\w*|in einem satz|ein wort|einem wort|ja oder nein|nur mit)\b/giu;
const COUNT = /\b\d+\s*(words?|paragraphs?|sentences?|pages?|lines?|bullet points?|items?|wörter(n)?|absätze(n)?|sätze(n)?|seiten|zeilen|punkte(n)?)\b/giu;
const LISTLINE = /^\s*(\d+[.)]|[-*•])\s+\S/gmu;
const cnt = (re: RegExp, t: string): number => (t.match(re) ?? []).length;
const lenCues = all.map((r) => {
  const t = r.prompt.replace(/```[\s\S]*?(```|$)/g, ' ');
  const sel = process.env.LEN_CUES ?? 'ldscn';
  return [
    sel.includes('l') ? clampU(cnt(LONGFORM, t)) : 0,
    sel.includes('d') ? clampU(cnt(process.env.DETAIL_RE ? new RegExp(process.env.DETAIL_RE, 'giu') : DETAIL, t)) : 0,
    sel.includes('s') ? clampU(cnt(SHORT, t)) : 0,
    sel.includes('c') ? clampU(cnt(COUNT, t)) : 0,
    sel.includes('n') ? clampU(cnt(LISTLINE, r.prompt) / 5) : 0,
  ];
});
/** Per fold: fit the auxiliary length model on the fold's arena training rows, fill the column for every row. */
function fillLength(idx: readonly number[]): void {
  if (LEN_COL < 0 || process.env.LEN === 'oracle' || process.env.LEN === 'zero') return;
  const xOf = (i: number): Float64Array => {
    const x = new Float64Array(FEATURES.length + 5);
    x.set(base[i]!);
    x.set(lenCues[i]!, FEATURES.length);
    if (process.env.LEN_ONLY_CUES) x.fill(0, 0, FEATURES.length);
    return x;
  };
  const rows: TrainRow[] = [];
  for (const i of idx) {
    const r = all[i]!;
    if (r.set !== 'arena-bench-v1') continue;
    const y = process.env.AUX_TARGET ? auxTarget(r) : answerLogLen(r);
    if (y !== null) rows.push({ x: xOf(i), y, w: 1 });
  }
  const d = FEATURES.length + 5;
  const aux = ridge(rows, Number(process.env.LEN_LAMBDA ?? 0.01), new Float64Array(d), new Uint8Array(d));
  const pred = all.map((_, i) => {
    const x = xOf(i);
    let z = aux.bias;
    for (let k = 0; k < d; k++) z += aux.weights[k]! * x[k]!;
    return z;
  });
  // Scale by the arena training rows' prediction range (5th to 95th percentile) to [0, 1].
  const ar = rows.length
    ? idx
        .filter((i) => all[i]!.set === 'arena-bench-v1')
        .map((i) => pred[i]!)
        .sort((a, b) => a - b)
    : [0, 1];
  const lo = ar[Math.floor(0.05 * (ar.length - 1))]!;
  const hi = ar[Math.floor(0.95 * (ar.length - 1))]!;
  all.forEach((_, i) => (ex[i]![LEN_COL] = clampU((pred[i]! - lo) / Math.max(hi - lo, 1e-9))));
  if (process.env.LEN_LOG) {
    const inFold = new Set(idx);
    const held = all.flatMap((r, i) => (r.set === 'arena-bench-v1' && !inFold.has(i) && answerLogLen(r) !== null ? [i] : []));
    const a = held.map((i) => pred[i]!);
    const b = held.map((i) => answerLogLen(all[i]!)!);
    const g = held.map((i) => all[i]!.strong - all[i]!.weak);
    const corr = (u: number[], v: number[]): number => {
      const mu = u.reduce((x, y) => x + y, 0) / u.length;
      const mv = v.reduce((x, y) => x + y, 0) / v.length;
      let c = 0;
      let su = 0;
      let sv = 0;
      u.forEach((x, k) => ((c += (x - mu) * (v[k]! - mv)), (su += (x - mu) ** 2), (sv += (v[k]! - mv) ** 2)));
      return c / Math.sqrt(su * sv);
    };
    console.log(
      `held-out arena: corr(pred, length) ${corr(a, b).toFixed(3)}, corr(pred, gain) ${corr(a, g).toFixed(3)}, corr(length, gain) ${corr(b, g).toFixed(3)}`,
    );
    const names = [...FEATURES, 'cue:longform', 'cue:detail', 'cue:short', 'cue:count', 'cue:list'];
    const top = names.map((n, k) => [n, aux.weights[k]!] as const).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
    console.log(
      `aux length model: ${rows.length} rows, range ${lo.toFixed(2)}..${hi.toFixed(2)}; ${top
        .slice(0, 8)
        .map(([n, w]) => `${n} ${w.toFixed(2)}`)
        .join(', ')}`,
    );
  }
}
const ex = process.env.PROTO5 ? round5() : all.map((r) => extra(r.prompt));
const NEX = ex[0]!.length;

function vocabulary(idx: readonly number[], o: Opts): string[] {
  const df = new Map<string, number>();
  const sets = new Map<string, Set<string>>();
  const subj = new Map<string, Set<string>>();
  for (const i of idx) {
    const r = all[i]!;
    for (const w of toks[i]!) {
      df.set(w, (df.get(w) ?? 0) + 1);
      (sets.get(w) ?? sets.set(w, new Set()).get(w)!).add(r.set);
      if (r.subject) (subj.get(w) ?? subj.set(w, new Set()).get(w)!).add(r.subject);
    }
  }
  const ok = [...df.entries()].filter(([w, n]) => n >= o.minDf && ((sets.get(w)?.size ?? 0) >= 2 || (subj.get(w)?.size ?? 0) >= o.minSubjects));
  ok.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return ok.slice(0, o.lexicon).map(([w]) => w);
}

interface Model {
  bias: number;
  w: Float64Array;
  vocab: Map<string, number>;
}

function vec(i: number, o: Opts, vocab: Map<string, number>): Float64Array {
  const d = FEATURES.length + (o.extra ? NEX : 0) + vocab.size;
  const x = new Float64Array(d);
  x.set(base[i]!);
  if (o.extra) x.set(ex[i]!, FEATURES.length);
  const off = FEATURES.length + (o.extra ? NEX : 0);
  for (const w of toks[i]!) {
    const k = vocab.get(w);
    if (k !== undefined) x[off + k] = 1;
  }
  return x;
}

function fit(idx: readonly number[], o: Opts): Model {
  if (o.extra) fillLength(idx);
  const vocab = new Map(vocabulary(idx, o).map((w, k) => [w, k]));
  const sets = ['gsm8k', 'mmlu', 'arena-bench-v1'];
  const counts = new Map<string, number>();
  for (const i of idx) counts.set(all[i]!.set, (counts.get(all[i]!.set) ?? 0) + 1);
  const dx = FEATURES.length + (o.extra ? NEX : 0) + vocab.size;
  const rows: TrainRow[] = idx.map((i) => {
    const r = all[i]!;
    const x = new Float64Array(dx + 3);
    x.set(vec(i, o, vocab));
    x[dx + sets.indexOf(r.set)] = 1;
    const n = counts.get(r.set)!;
    const t = target(r, o.target);
    return {
      x,
      y: t.y,
      w:
        (t.w *
          (o.weighting === 'equal' ? 1 : o.weighting === 'rows' ? n : Math.sqrt(n) * (o.weighting === 'sqrt-arena3' && r.set === 'arena-bench-v1' ? 3 : 1))) /
        n,
    };
  });
  if (process.env.PAIRS) {
    // Idea 4: a ranking loss — logistic on within-set pairs (x_i − x_j, 1 if i gains more), PAIRS per set,
    // each set the same total weight as the pointwise fit gives it; PAIR_MIX=m keeps the pointwise rows too (pairs × m).
    const P = Number(process.env.PAIRS);
    const mix = process.env.PAIR_MIX ? Number(process.env.PAIR_MIX) : 0;
    let seed = 0;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), seed / 2 ** 32);
    const pairs: TrainRow[] = [];
    for (const set of sets) {
      seed = fnv1a32(set + (process.env.PAIR_SEED ?? ''));
      const mine = rows.filter((_, k) => all[idx[k]!]!.set === set);
      const setW = mine.reduce((a, r) => a + r.w, 0);
      let made = 0;
      for (let tries = 0; made < P && tries < P * 20; tries++) {
        const a = mine[Math.floor(rnd() * mine.length)]!;
        const b = mine[Math.floor(rnd() * mine.length)]!;
        if (a.y === b.y) continue;
        const x = new Float64Array(dx + 3);
        for (let k = 0; k < dx; k++) x[k] = a.x[k]! - b.x[k]!;
        const y = process.env.PAIR_SOFT ? 0.5 + (a.y - b.y) / 2 : a.y > b.y ? 1 : 0;
        pairs.push({ x, y, w: (setW / P) * (mix || 1) });
        made++;
      }
    }
    if (mix) rows.push(...pairs);
    else rows.splice(0, rows.length, ...pairs);
  }
  const prior = new Float64Array(dx + 3);
  const pinned = new Uint8Array(dx + 3);
  FEATURES.forEach((f, k) => {
    prior[k] = PRIORS[f] ?? 0;
    if (f in PRIORS) pinned[k] = 1;
  });
  const penalty = new Float64Array(dx + 3).fill(1);
  for (let k = dx - vocab.size; k < dx; k++) penalty[k] = o.lexLambda;
  if (process.env.PROTO5 && o.extra) EX_PEN.forEach((p, k) => (penalty[FEATURES.length + k] = p));
  const nonneg = [
    ...NON_NEGATIVE.map((n) => FEATURES.indexOf(n)),
    ...(process.env.PROTO5
      ? o.extra
        ? EX_NONNEG.map((k) => FEATURES.length + k)
        : []
      : o.extra && process.env.HINGE !== '1' && !process.env.EXTRA_FREE
        ? [0, 1, 2, 3].map((k) => FEATURES.length + k)
        : []),
  ];
  const f = process.env.RIDGE
    ? ridge(rows, o.lambda * Number(process.env.RIDGE), prior, pinned)
    : fitNonNegative(
        rows,
        { lambda: o.lambda, prior, pinned, penalty },
        process.env.FREE ? [] : nonneg.filter((k) => !(process.env.FREE_SET ?? '').split(',').includes(FEATURES[k] ?? '\0')),
      );
  let bias = f.bias;
  for (let k = 0; k < 3; k++) bias += f.weights[dx + k]! / 3;
  return { bias, w: f.weights.slice(0, dx), vocab };
}

/** Weighted ridge regression of the target on the features (pinned features held at their prior). */
function ridge(rows: readonly TrainRow[], lambda: number, prior: Float64Array, pinned: Uint8Array): { bias: number; weights: Float64Array } {
  const d = prior.length;
  const n = d + 1;
  const a = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const b = new Array<number>(n).fill(0);
  const totalW = rows.reduce((s, r) => s + r.w, 0);
  for (const r of rows) {
    let off = 0;
    for (let k = 0; k < d; k++) if (pinned[k]) off += prior[k]! * r.x[k]!;
    const y = r.y - off;
    for (let i = 0; i < n; i++) {
      const xi = i === d ? 1 : pinned[i] ? 0 : r.x[i]!;
      if (xi === 0) continue;
      b[i]! += r.w * xi * y;
      for (let j = 0; j < n; j++) {
        const xj = j === d ? 1 : pinned[j] ? 0 : r.x[j]!;
        if (xj !== 0) a[i]![j]! += r.w * xi * xj;
      }
    }
  }
  for (let k = 0; k < d; k++) a[k]![k]! += pinned[k] ? 1 : lambda * totalW;
  a[d]![d]! += 1e-9 * totalW;
  const t = solve(a, b);
  const w = Float64Array.from(t.slice(0, d));
  for (let k = 0; k < d; k++) if (pinned[k]) w[k] = prior[k]!;
  return { bias: t[d]!, weights: w };
}

function score(m: Model, i: number, o: Opts): number {
  const x = vec(i, o, m.vocab);
  let z = m.bias;
  for (let k = 0; k < x.length; k++) z += m.w[k]! * x[k]!;
  return z;
}

function cv(o: Opts, foldOf: (r: DataRow) => number): number[] {
  const fold = all.map(foldOf);
  const s = new Array<number>(all.length).fill(0);
  for (let k = 0; k < 5; k++) {
    const m = fit(
      all.flatMap((_, i) => (fold[i] !== k ? [i] : [])),
      o,
    );
    all.forEach((_, i) => {
      if (fold[i] === k) s[i] = score(m, i, o);
    });
  }
  return ['gsm8k', 'mmlu', 'arena-bench-v1'].map((set) =>
    apgr(curve(all.flatMap((r, i) => (r.set === set ? [{ score: s[i]!, strong: r.strong, weak: r.weak }] : [])))),
  );
}

const DEF: Opts = {
  target: 'label',
  weighting: 'sqrt',
  lambda: Number(process.env.LAMBDA ?? 0.0001),
  lexicon: 0,
  lexLambda: 1,
  minDf: 20,
  minSubjects: 8,
  extra: false,
};
export function run(label: string, o: Partial<Opts>, grouped = true): void {
  const opts = { ...DEF, ...o };
  const t0 = performance.now();
  const a = cv(opts, idFold);
  const mean = (a[0]! + a[1]! + a[2]!) / 3;
  let line = `${label.padEnd(44)} id-folds gsm8k ${a[0]!.toFixed(3)} mmlu ${a[1]!.toFixed(3)} arena ${a[2]!.toFixed(3)} mean ${mean.toFixed(4)}`;
  if (grouped) {
    const b = cv(opts, subjFold);
    line += ` | subject-folds mmlu ${b[1]!.toFixed(3)} mean ${((b[0]! + b[1]! + b[2]!) / 3).toFixed(4)}`;
  }
  console.log(`${line}  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

void STRONG;
void WEAK;
const which = process.argv[2] ?? 'targets';
if (which === 'targets') {
  for (const target of ['label', 'soft', 'soft-arena-label', 'label-negw'] as const)
    for (const weighting of ['equal', 'sqrt'] as const) run(`target=${target} weighting=${weighting}`, { target, weighting }, false);
}
if (which === 'extra') {
  run('base', {}, false);
  run('extra', { extra: true }, false);
  run('soft extra', { target: 'soft', extra: true }, false);
}
if (which === 'lex') {
  const target = (process.argv[3] ?? 'label') as Target;
  for (const lexicon of [100, 300])
    for (const lexLambda of [10, 30, 100]) run(`lex=${lexicon} lexLambda=${lexLambda} target=${target}`, { target, lexicon, lexLambda });
}
if (which === 'lex2') {
  run('soft', { target: 'soft' });
  run('soft extra', { target: 'soft', extra: true });
  for (const [lexicon, lexLambda] of [
    [100, 300],
    [300, 300],
    [300, 1000],
    [600, 1000],
  ] as const)
    run(`lex=${lexicon} lexLambda=${lexLambda} soft extra`, { target: 'soft', extra: true, lexicon, lexLambda });
}
if (which === 'lex3') {
  for (const [minSubjects, minDf, lexLambda] of [
    [3, 10, 300],
    [3, 10, 1000],
    [20, 20, 300],
  ] as const)
    run(`lex=300 minSubj=${minSubjects} minDf=${minDf} lexLambda=${lexLambda}`, { target: 'soft', extra: true, lexicon: 300, lexLambda, minSubjects, minDf });
}
if (which === 'multi') {
  for (const target of ['soft', 'soft-multi', 'soft-multi-mix'] as const) run(`target=${target} extra`, { target, extra: true, lambda: 0.0001 }, false);
}
if (which === 'weights') {
  for (const weighting of ['sqrt', 'sqrt-arena3', 'rows'] as const) run(`soft weighting=${weighting}`, { target: 'soft', weighting }, false);
}
if (which === 'hinge') run('soft extra', { target: 'soft', extra: true }, false);
if (which === 'lex4') {
  run('soft (no lexicon)', { target: 'soft' });
  for (const lexLambda of [100, 1000])
    run(`lex=300 only words of >=2 sets lexLambda=${lexLambda}`, { target: 'soft', lexicon: 300, lexLambda, minSubjects: 1000, minDf: 10 });
}
if (which === 'final') {
  for (const target of ['label', 'soft'] as const) run(`target=${target} (with kind:multistep)`, { target });
}
if (which === 'ridge') {
  for (const r of ['0.01', '0.1', '1']) {
    process.env.RIDGE = r;
    run(`ridge on the gain target, lambda x${r}`, { target: 'soft' });
  }
}
if (which === 'free') run('logistic gain target, no sign constraints', { target: 'soft' });
if (which === 'weights-free') {
  const m = fit(
    all.map((_, i) => i),
    { ...DEF, target: 'soft' },
  );
  console.log(FEATURES.map((f, k) => `${f} ${m.w[k]!.toFixed(3)}`).join('\n'));
}
if (which === 'x') run(`extra ${process.env.EXTRA} ${process.env.EXTRA_RE ?? ''}`, { target: 'soft', extra: true });
if (which === 'proto-w') {
  const m = fit(
    all.map((_, i) => i),
    { ...DEF, target: 'soft', extra: true },
  );
  console.log(`extra weights ${[...m.w.slice(FEATURES.length, FEATURES.length + NEX)].map((v) => v.toFixed(3)).join(' ')}`);
}
if (which === 'proto') run(`proto ${process.env.PROTO} ${process.env.EXTRA_FREE ? 'free' : 'non-negative'}`, { target: 'soft', extra: true });
if (which === 'domains') run(`domains DROP=${process.env.DROP ?? ''}`, { target: 'soft' });
if (which === 'lambda') for (const lambda of [0.00001, 0.00003, 0.0001]) run(`lambda=${lambda}`, { target: 'soft', lambda });
if (which === 'r5') {
  run(
    `round5 ${process.env.PROTO5} ${process.env.GAM ?? ''}${process.env.INTER ?? ''}${process.env.ARENA ?? ''} bins=${process.env.BINS ?? ''} keep=${process.env.GAM_KEEP ?? ''}`,
    {
      target: 'soft',
      extra: true,
    },
  );
  if (process.env.SHOW_W) {
    const m = fit(
      all.map((_, i) => i),
      { ...DEF, target: 'soft', extra: true },
    );
    console.log(`extra weights ${[...m.w.slice(FEATURES.length, FEATURES.length + NEX)].map((v) => v.toFixed(3)).join(' ')}`);
  }
}

// ---- sixth round (`kinds`): task-kind weights that rank *between* tasks ----
// Per-set APGR cannot see between-task ranking: each set is ranked on its own. The pooled APGR ranks
// the union of the three sets on one quality scale (GSM8K/MMLU correct 1 / wrong 0, arena grade / 10),
// as on mixed traffic; `pooled-eq` weights every set the same total (the union is mostly MMLU).
// KINDS=prior: kind weights pulled towards a prior (+M for code, math, extraction, multistep; −M for
// writing, roleplay, smalltalk) with KPEN × the L2; KINDS=shared: the kind weights refitted on the
// pooled data with one intercept (all other weights held at the within-set fit), then the rest refitted
// within-set with the kinds held.
const KIND_POS = ['kind:code', 'kind:math', 'kind:extraction', 'kind:multistep'];
const KIND_NEG = ['kind:writing', 'kind:roleplay', 'kind:smalltalk'];
const KIND_ALL = FEATURES.flatMap((f, k) => (f.startsWith('kind:') ? [k] : []));
function pooledApgr(rows: ReadonlyArray<{ score: number; strong: number; weak: number; w: number }>): number {
  const W = rows.reduce((a, r) => a + r.w, 0);
  const strong = rows.reduce((a, r) => a + r.w * r.strong, 0) / W;
  const weak = rows.reduce((a, r) => a + r.w * r.weak, 0) / W;
  const gap = strong - weak;
  const sorted = [...rows].sort((a, b) => b.score - a.score);
  let area = 0;
  let share = 0;
  let pgr = 0;
  let sum = 0;
  let i = 0;
  while (i < sorted.length) {
    const s = sorted[i]!.score;
    let dw = 0;
    while (i < sorted.length && sorted[i]!.score === s) {
      sum += sorted[i]!.w * (sorted[i]!.strong - sorted[i]!.weak);
      dw += sorted[i]!.w;
      i++;
    }
    const nextShare = share + dw / W;
    const nextPgr = sum / W / gap;
    area += ((nextShare - share) * (pgr + nextPgr)) / 2;
    share = nextShare;
    pgr = nextPgr;
  }
  return area;
}
const scale = (r: DataRow, q: number): number => (r.set === 'arena-bench-v1' ? q / 10 : q);
function kindRows(idx: readonly number[], pooled: boolean): TrainRow[] {
  const counts = new Map<string, number>();
  for (const i of idx) counts.set(all[i]!.set, (counts.get(all[i]!.set) ?? 0) + 1);
  const sets = ['gsm8k', 'mmlu', 'arena-bench-v1'];
  const d = FEATURES.length;
  return idx.map((i) => {
    const r = all[i]!;
    const x = new Float64Array(d + 3);
    x.set(base[i]!);
    if (!pooled) x[d + sets.indexOf(r.set)] = 1;
    const n = counts.get(r.set)!;
    return { x, y: target(r, 'soft').y, w: Math.sqrt(n) / n };
  });
}
function fitKinds(idx: readonly number[], lambda: number): { bias: number; w: Float64Array } {
  const d = FEATURES.length;
  const mode = process.env.KINDS ?? 'base';
  const M = Number(process.env.KPRIOR ?? 0.13);
  const prior = new Float64Array(d + 3);
  const pinned = new Uint8Array(d + 3);
  const penalty = new Float64Array(d + 3).fill(1);
  FEATURES.forEach((f, k) => {
    prior[k] = PRIORS[f] ?? 0;
    if (f in PRIORS) pinned[k] = 1;
  });
  if (mode === 'prior')
    FEATURES.forEach((f, k) => {
      if (KIND_POS.includes(f)) prior[k] = M;
      if (KIND_NEG.includes(f)) prior[k] = -M;
      if (KIND_POS.includes(f) || KIND_NEG.includes(f)) penalty[k] = Number(process.env.KPEN ?? 100);
    });
  const nonneg = NON_NEGATIVE.map((n) => FEATURES.indexOf(n));
  const within = kindRows(idx, false);
  let f = fitNonNegative(within, { lambda, prior, pinned, penalty }, nonneg);
  if (mode === 'shared') {
    // Stage 2: kinds + one intercept on pooled rows, everything else held at the within-set fit.
    const p2 = Float64Array.from(prior);
    const pin2 = new Uint8Array(d + 3).fill(1);
    for (let k = 0; k < d; k++) if (!KIND_ALL.includes(k)) p2[k] = f.weights[k]!;
    for (const k of KIND_ALL) pin2[k] = pinned[k]!;
    const pooledFit = fitNonNegative(kindRows(idx, true), { lambda, prior: p2, pinned: pin2 }, nonneg);
    // Stage 3: the rest within-set again, the kinds held at their pooled weights.
    const p3 = Float64Array.from(prior);
    const pin3 = Uint8Array.from(pinned);
    for (const k of KIND_ALL) {
      p3[k] = pooledFit.weights[k]!;
      pin3[k] = 1;
    }
    f = fitNonNegative(within, { lambda, prior: p3, pinned: pin3 }, nonneg);
  }
  let bias = f.bias;
  for (let k = 0; k < 3; k++) bias += f.weights[d + k]! / 3;
  return { bias, w: f.weights.slice(0, d) };
}
function cvKinds(foldOf: (r: DataRow) => number, lambda: number): { per: number[]; pooled: number; pooledEq: number } {
  const fold = all.map(foldOf);
  const s = new Array<number>(all.length).fill(0);
  for (let k = 0; k < 5; k++) {
    const m = fitKinds(
      all.flatMap((_, i) => (fold[i] !== k ? [i] : [])),
      lambda,
    );
    all.forEach((_, i) => {
      if (fold[i] !== k) return;
      let z = m.bias;
      for (let j = 0; j < FEATURES.length; j++) z += m.w[j]! * base[i]![j]!;
      s[i] = z;
    });
  }
  const per = ['gsm8k', 'mmlu', 'arena-bench-v1'].map((set) =>
    apgr(curve(all.flatMap((r, i) => (r.set === set ? [{ score: s[i]!, strong: r.strong, weak: r.weak }] : [])))),
  );
  const counts = new Map<string, number>();
  for (const r of all) counts.set(r.set, (counts.get(r.set) ?? 0) + 1);
  const pooledRows = (eq: boolean) =>
    all.map((r, i) => ({ score: s[i]!, strong: scale(r, r.strong), weak: scale(r, r.weak), w: eq ? 1 / counts.get(r.set)! : 1 }));
  return { per, pooled: pooledApgr(pooledRows(false)), pooledEq: pooledApgr(pooledRows(true)) };
}
if (which === 'kind-stats') {
  // Between-task evidence on train: per set, prompts with each kind (feature > 0) and their mean gain on one scale.
  for (const set of ['gsm8k', 'mmlu', 'arena-bench-v1']) {
    const rows = all.flatMap((r, i) => (r.set === set ? [i] : []));
    const gain = (ix: number[]): string =>
      ix.length === 0 ? '-' : (ix.reduce((a, i) => a + scale(all[i]!, all[i]!.strong - all[i]!.weak), 0) / ix.length).toFixed(3);
    console.log(
      `${set} n=${rows.length} gain ${gain(rows)}: ` +
        KIND_ALL.map((k) => {
          const on = rows.filter((i) => base[i]![k]! > 0);
          return `${FEATURES[k]!.slice(5)} ${on.length} ${gain(on)}`;
        }).join(', '),
    );
  }
}
if (which === 'kinds') {
  const lambda = Number(process.env.LAMBDA ?? 0.0001);
  const label = `KINDS=${process.env.KINDS ?? 'base'} KPRIOR=${process.env.KPRIOR ?? ''} KPEN=${process.env.KPEN ?? ''} salt=${process.env.FOLD_SALT ?? ''}`;
  const t0 = performance.now();
  const a = cvKinds(idFold, lambda);
  const b = cvKinds(subjFold, lambda);
  const mean = (v: number[]): string => ((v[0]! + v[1]! + v[2]!) / 3).toFixed(4);
  console.log(
    `${label.padEnd(44)} id-folds ${a.per.map((v) => v.toFixed(3)).join(' / ')} mean ${mean(a.per)} pooled ${a.pooled.toFixed(4)} pooled-eq ${a.pooledEq.toFixed(4)}` +
      ` | subject-folds mmlu ${b.per[1]!.toFixed(3)} mean ${mean(b.per)} pooled ${b.pooled.toFixed(4)} pooled-eq ${b.pooledEq.toFixed(4)}  (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
  if (process.env.SHOW_W) {
    const m = fitKinds(
      all.map((_, i) => i),
      lambda,
    );
    console.log(KIND_ALL.map((k) => `${FEATURES[k]} ${m.w[k]!.toFixed(3)}`).join(', '));
  }
}

// ---- seventh round (`dry`): the task kinds on everyday application prompts ----
const APP_PROMPTS = [
  'Write a Python function that merges two sorted lists.',
  'Schreibe eine Funktion in JavaScript, die zwei sortierte Listen zusammenführt.',
  'Write a SQL query that returns the top 5 customers by revenue.',
  'Schreibe eine SQL-Abfrage, die alle Bestellungen aus dem letzten Monat zurückgibt.',
  'Write a regex that matches email addresses.',
  'Write unit tests for this class.',
  'Schreib mir ein Bash-Skript, das alle .log Dateien löscht.',
  'Write a program that prints the Fibonacci numbers.',
  'Prove that there are infinitely many primes.',
  'Beweise, dass die Wurzel aus 2 irrational ist.',
  'Solve the equation 3x + 5 = 20.',
  'Löse die Gleichung x^2 - 4 = 0.',
  'What is the derivative of sin(x) * x^2?',
  'Berechne die Ableitung von f(x) = x^3.',
  'What is the probability of rolling two sixes with two dice?',
  'Compute the integral of x^2 from 0 to 1.',
  'A train leaves at 3 pm and travels at 80 km/h. How far has it gone by 5:30 pm?',
  'Anna hat 12 Äpfel und gibt 5 davon ab. Wie viele hat sie noch?',
  'Explain the difference between TCP and UDP.',
  'Erkläre den Unterschied zwischen TCP und UDP.',
  'Why does my React component re-render twice?',
  "My Python script throws KeyError: 'name' when I run it. How do I fix it?",
  'Warum stürzt mein Node-Server mit "ECONNRESET" ab?',
  'Translate "good morning" to French.',
  'Übersetze "Guten Morgen, wie geht es dir?" ins Englische.',
  'Extract all dates and names from the following text: John met Mary on 3 May 2021 in Berlin.',
  'Extrahiere alle E-Mail-Adressen aus diesem Text.',
  'Summarize this article in three sentences.',
  'Fasse den folgenden Text kurz zusammen.',
  'Write an email to my boss asking for a day off next Friday.',
  'Schreibe eine E-Mail an einen Kunden, dass sich die Lieferung verzögert.',
  'Write a catchy slogan for our new coffee brand.',
  'Schreibe einen Werbetext für unsere neue Laufschuh-Kollektion.',
  'Hi! How are you today?',
  'Hallo, wie geht es dir?',
  'Good morning! What should I cook tonight?',
  'You are a pirate captain. Stay in character and greet the new crew.',
  'Du bist ein mittelalterlicher Händler. Spiel die Rolle und verhandle mit mir.',
  'Brainstorm 10 names for a productivity app.',
  'Nenne mir 10 Ideen für einen Kindergeburtstag.',
  'Write a short story about a robot who learns to paint.',
  'Schreibe ein Gedicht über den Herbst.',
  'Convert this JSON to YAML: {"a": 1, "b": [2, 3]}',
  'Classify the sentiment of these reviews as positive or negative.',
  'How do I center a div in CSS?',
  'Wie kann ich in Python eine CSV-Datei einlesen?',
  'Plan a 3-day trip to Rome.',
  'What is the capital of Australia?',
  'Tell me a joke.',
  'Write a test for the login function.',
  'Write a class in Java that represents a bank account.',
  'Schreibe eine Klasse, die ein Bankkonto darstellt.',
  'Find the bug in this code: ```def f(x): return x+1```',
  'What is 15% of 240?',
  'If a shirt costs $25 after a 20% discount, what was the original price?',
  'Show that the sum of two even numbers is even.',
  'Zeige, dass die Summe zweier gerader Zahlen gerade ist.',
  'Thanks, that was helpful!',
  'Write a cover letter for a software engineer job.',
  'Write a function to parse dates in Go.',
  'Schreibe ein Skript, das die Spalten einer CSV-Datei umbenennt.',
  'Write a query to find duplicate rows in a table.',
  'Optimize this SQL query: SELECT * FROM orders WHERE customer_id IN (SELECT id FROM customers)',
  'Guten Morgen! Kannst du mir helfen, eine Bewerbung zu schreiben?',
  'Translate this sentence into German: I will see you tomorrow evening.',
  'Write a LinkedIn post announcing our product launch.',
  'What are the pros and cons of remote work?',
];
if (which === 'dry') {
  for (const p of APP_PROMPTS) {
    const r = scoreRequest({ messages: [{ role: 'user', content: p }] });
    const kinds = r.contributions
      .filter((c) => c.feature.startsWith('kind:'))
      .map((c) => `${c.feature.slice(5)} ${c.value >= 0 ? '+' : ''}${c.value.toFixed(3)}`)
      .join(', ');
    console.log(`${r.score.toFixed(3)} ${tierForScore(r.score, DEFAULT_MODEL.thresholds).padEnd(12)} | ${kinds.padEnd(42)} | ${p}`);
  }
}

// ---- eighth round (`dry-lang`): one request in ten languages ----
/** Parallel prompts: each group is one request in several languages (English first). */
const LANG_GROUPS: Array<Array<[string, string]>> = [
  [
    ['en', 'Hi! How are you today?'],
    ['zh', '你好！你今天怎么样？'],
    ['ja', 'こんにちは！今日はお元気ですか？'],
    ['ko', '안녕하세요! 오늘 기분이 어떠세요?'],
    ['th', 'สวัสดีครับ วันนี้คุณเป็นอย่างไรบ้าง'],
    ['fr', 'Salut ! Comment ça va aujourd’hui ?'],
    ['es', '¡Hola! ¿Cómo estás hoy?'],
    ['it', 'Ciao! Come stai oggi?'],
    ['pt', 'Olá! Como você está hoje?'],
    ['nl', 'Hoi! Hoe gaat het vandaag met je?'],
  ],
  [
    ['en', 'Write a Python function that merges two sorted lists and returns a new sorted list. Explain the time complexity.'],
    ['zh', '写一个Python函数，将两个已排序的列表合并，并返回一个新的有序列表。请解释时间复杂度。'],
    ['ja', '2つのソート済みリストをマージして新しいソート済みリストを返すPython関数を書いてください。時間計算量も説明してください。'],
    ['ko', '정렬된 두 리스트를 병합하여 새로운 정렬된 리스트를 반환하는 Python 함수를 작성하세요. 시간 복잡도도 설명해 주세요.'],
    ['th', 'เขียนฟังก์ชัน Python ที่รวมลิสต์ที่เรียงลำดับแล้วสองลิสต์และคืนค่าลิสต์ใหม่ที่เรียงลำดับแล้ว อธิบายความซับซ้อนของเวลาด้วย'],
    ['fr', 'Écris une fonction Python qui fusionne deux listes triées et renvoie une nouvelle liste triée. Explique la complexité en temps.'],
    ['es', 'Escribe una función en Python que combine dos listas ordenadas y devuelva una nueva lista ordenada. Explica la complejidad temporal.'],
    ['it', 'Scrivi una funzione Python che unisce due liste ordinate e restituisce una nuova lista ordinata. Spiega la complessità temporale.'],
    ['pt', 'Escreva uma função em Python que junte duas listas ordenadas e devolva uma nova lista ordenada. Explique a complexidade de tempo.'],
    ['nl', 'Schrijf een Python-functie die twee gesorteerde lijsten samenvoegt en een nieuwe gesorteerde lijst teruggeeft. Leg de tijdcomplexiteit uit.'],
  ],
  [
    [
      'en',
      "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' market?",
    ],
    [
      'zh',
      '珍妮特的鸭子每天下16个蛋。她每天早上早餐吃三个，每天用四个给朋友烤松饼。剩下的蛋她每天在农贸市场以每个2美元的价格出售。她每天在农贸市场能赚多少美元？',
    ],
    [
      'ja',
      'ジャネットのアヒルは1日に16個の卵を産みます。彼女は毎朝朝食に3個食べ、毎日4個を使って友達のためにマフィンを焼きます。残りは毎日ファーマーズマーケットで新鮮なアヒルの卵1個につき2ドルで売ります。彼女はファーマーズマーケットで毎日何ドル稼ぎますか？',
    ],
    [
      'ko',
      '자넷의 오리들은 하루에 16개의 알을 낳습니다. 그녀는 매일 아침 식사로 세 개를 먹고, 매일 네 개로 친구들을 위해 머핀을 굽습니다. 나머지는 매일 농산물 시장에서 신선한 오리알 한 개당 2달러에 팝니다. 그녀는 매일 농산물 시장에서 몇 달러를 버나요?',
    ],
    [
      'th',
      'เป็ดของเจเน็ตออกไข่วันละ 16 ฟอง เธอกินไข่สามฟองเป็นอาหารเช้าทุกเช้า และใช้สี่ฟองอบมัฟฟินให้เพื่อนทุกวัน เธอขายไข่ที่เหลือที่ตลาดเกษตรกรทุกวันในราคาฟองละ 2 ดอลลาร์ เธอได้เงินวันละกี่ดอลลาร์จากตลาดเกษตรกร',
    ],
    [
      'fr',
      'Les canards de Janet pondent 16 œufs par jour. Elle en mange trois au petit-déjeuner chaque matin et en utilise quatre chaque jour pour faire des muffins pour ses amis. Elle vend le reste au marché fermier chaque jour à 2 $ l’œuf frais. Combien de dollars gagne-t-elle chaque jour au marché ?',
    ],
    [
      'es',
      'Los patos de Janet ponen 16 huevos al día. Ella se come tres en el desayuno cada mañana y usa cuatro cada día para hornear magdalenas para sus amigos. Vende el resto en el mercado de agricultores cada día a 2 $ por huevo fresco. ¿Cuántos dólares gana cada día en el mercado?',
    ],
    [
      'it',
      'Le anatre di Janet depongono 16 uova al giorno. Lei ne mangia tre a colazione ogni mattina e ne usa quattro ogni giorno per preparare dei muffin per i suoi amici. Vende il resto al mercato contadino ogni giorno a 2 $ per uovo fresco. Quanti dollari guadagna ogni giorno al mercato?',
    ],
    [
      'pt',
      'Os patos de Janet põem 16 ovos por dia. Ela come três no café da manhã todas as manhãs e usa quatro todos os dias para fazer muffins para os amigos. Ela vende o restante na feira todos os dias a 2 dólares por ovo fresco. Quantos dólares ela ganha por dia na feira?',
    ],
    [
      'nl',
      'De eenden van Janet leggen 16 eieren per dag. Ze eet er elke ochtend drie als ontbijt en gebruikt er elke dag vier om muffins voor haar vrienden te bakken. De rest verkoopt ze elke dag op de boerenmarkt voor 2 dollar per vers eendenei. Hoeveel dollar verdient ze elke dag op de markt?',
    ],
  ],
  [
    [
      'en',
      'Our online shop has grown from 200 to 5,000 orders a day in the last year. The checkout service is a single Node.js process backed by one PostgreSQL database, and during sales it times out. Analyse the likely bottlenecks, propose an architecture that can handle ten times the load, and describe a step-by-step migration plan that avoids downtime. Also list the risks of each step and how we would detect problems early.',
    ],
    [
      'zh',
      '我们的网店在过去一年里从每天200个订单增长到5000个订单。结账服务是一个单独的Node.js进程，后端只有一个PostgreSQL数据库，在促销期间经常超时。请分析可能的瓶颈，提出一个能够承受十倍负载的架构，并描述一个避免停机的分步迁移计划。同时列出每一步的风险，以及我们如何尽早发现问题。',
    ],
    [
      'ja',
      '私たちのオンラインショップは、この1年で1日200件から5,000件の注文に成長しました。決済サービスは1つのPostgreSQLデータベースを使う単一のNode.jsプロセスで、セール中にタイムアウトします。考えられるボトルネックを分析し、10倍の負荷に耐えられるアーキテクチャを提案し、ダウンタイムを避ける段階的な移行計画を説明してください。また、各段階のリスクと、問題を早期に検出する方法も挙げてください。',
    ],
    [
      'ko',
      '저희 온라인 쇼핑몰은 지난 1년 동안 하루 200건에서 5,000건의 주문으로 성장했습니다. 결제 서비스는 하나의 PostgreSQL 데이터베이스를 사용하는 단일 Node.js 프로세스이며, 세일 기간에는 시간 초과가 발생합니다. 가능한 병목 지점을 분석하고, 10배의 부하를 처리할 수 있는 아키텍처를 제안하고, 다운타임 없이 진행하는 단계별 마이그레이션 계획을 설명해 주세요. 또한 각 단계의 위험과 문제를 조기에 감지하는 방법도 나열해 주세요.',
    ],
    [
      'th',
      'ร้านค้าออนไลน์ของเราเติบโตจากวันละ 200 คำสั่งซื้อเป็น 5,000 คำสั่งซื้อในปีที่ผ่านมา บริการชำระเงินเป็นโปรเซส Node.js ตัวเดียวที่ใช้ฐานข้อมูล PostgreSQL เพียงตัวเดียว และในช่วงลดราคามักหมดเวลา โปรดวิเคราะห์คอขวดที่น่าจะเกิดขึ้น เสนอสถาปัตยกรรมที่รองรับโหลดได้สิบเท่า และอธิบายแผนการย้ายระบบทีละขั้นตอนที่ไม่ทำให้ระบบหยุดทำงาน พร้อมระบุความเสี่ยงของแต่ละขั้นตอนและวิธีตรวจจับปัญหาตั้งแต่เนิ่นๆ',
    ],
    [
      'fr',
      'Notre boutique en ligne est passée de 200 à 5 000 commandes par jour au cours de l’année dernière. Le service de paiement est un seul processus Node.js adossé à une seule base PostgreSQL, et pendant les soldes il expire. Analyse les goulots d’étranglement probables, propose une architecture capable de supporter dix fois la charge et décris un plan de migration étape par étape sans interruption de service. Liste aussi les risques de chaque étape et comment détecter les problèmes tôt.',
    ],
    [
      'es',
      'Nuestra tienda online ha pasado de 200 a 5.000 pedidos al día en el último año. El servicio de pago es un único proceso de Node.js con una sola base de datos PostgreSQL, y durante las rebajas se agota el tiempo de espera. Analiza los cuellos de botella probables, propón una arquitectura que soporte diez veces la carga y describe un plan de migración paso a paso que evite tiempos de inactividad. Enumera también los riesgos de cada paso y cómo detectaríamos los problemas a tiempo.',
    ],
    [
      'it',
      'Il nostro negozio online è passato da 200 a 5.000 ordini al giorno nell’ultimo anno. Il servizio di pagamento è un unico processo Node.js con un solo database PostgreSQL, e durante i saldi va in timeout. Analizza i probabili colli di bottiglia, proponi un’architettura in grado di reggere dieci volte il carico e descrivi un piano di migrazione passo dopo passo che eviti interruzioni. Elenca anche i rischi di ogni passo e come individueremmo presto i problemi.',
    ],
    [
      'pt',
      'Nossa loja online passou de 200 para 5.000 pedidos por dia no último ano. O serviço de pagamento é um único processo Node.js com um só banco de dados PostgreSQL e, durante as promoções, ele expira. Analise os prováveis gargalos, proponha uma arquitetura que aguente dez vezes a carga e descreva um plano de migração passo a passo que evite indisponibilidade. Liste também os riscos de cada passo e como detectaríamos problemas cedo.',
    ],
    [
      'nl',
      'Onze webwinkel is het afgelopen jaar gegroeid van 200 naar 5.000 bestellingen per dag. De betaalservice is één Node.js-proces met één PostgreSQL-database, en tijdens uitverkopen krijgt hij time-outs. Analyseer de waarschijnlijke knelpunten, stel een architectuur voor die tien keer de belasting aankan en beschrijf een stapsgewijs migratieplan zonder downtime. Noem ook de risico’s van elke stap en hoe we problemen vroeg zouden opmerken.',
    ],
  ],
];
if (which === 'dry-lang') {
  for (const group of LANG_GROUPS) {
    for (const [lang, p] of group) {
      const r = scoreRequest({ messages: [{ role: 'user', content: p }] });
      const c = emptyCounts();
      scanText(p, c);
      const top = r.contributions
        .slice(0, 4)
        .map((x) => `${x.feature} ${x.value >= 0 ? '+' : ''}${x.value.toFixed(2)}`)
        .join(', ');
      console.log(
        `${lang} ${r.score.toFixed(3)} ${tierForScore(r.score, DEFAULT_MODEL.thresholds).padEnd(12)} words ${String(c.words).padStart(3)} sentences ${c.sentences} | ${top}`,
      );
    }
    console.log('');
  }
}

// ---- nineteenth round (`pleasantry`): how many arena prompts (train and dev) an added pleasantry moves across a threshold ----
if (which === 'pleasantry') {
  const arena = loadAll().filter((r) => r.set === 'arena-bench-v1');
  const tier = (text: string) => tierForScore(scoreRequest({ messages: [{ role: 'user', content: text }] }).score, DEFAULT_MODEL.thresholds);
  const edits: Array<[string, (p: string) => string]> = [
    ['"Hi! " before', (p) => `Hi! ${p}`],
    ['" Thanks!" after', (p) => `${p} Thanks!`],
    ['"\\n\\nThank you." after', (p) => `${p}\n\nThank you.`],
    ['" Please help." after', (p) => `${p} Please help.`],
  ];
  for (const [name, edit] of edits) {
    const moved = arena.filter((r) => tier(r.prompt) !== tier(edit(r.prompt))).length;
    console.log(`${name.padEnd(24)} ${moved} of ${arena.length} arena prompts change tier`);
  }
}
