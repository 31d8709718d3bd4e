/**
 * Loads the public per-prompt outcome data of `shared/data/routing/` (see its README) into one
 * row shape for training and evaluation. Labels (for the `fast_cheap` threshold): GSM8K and
 * MMLU — 1 when the strong model is correct and the weak one wrong; arena-bench-v1 — 1 when the
 * strong model's grade is at least ARENA_MARGIN above the weak one's (a one-point difference on
 * GPT-4's 1–10 grade is within the judge's noise; two points is a visibly better answer). The
 * fit's target is the gain itself (see `target`): APGR ranks by expected gain, and a prompt the
 * weak model gets right where the strong one fails should pull the other way, not count as a tie.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const STRONG = 'gpt-4-1106-preview';
export const WEAK = 'mistralai/Mixtral-8x7B-Instruct-v0.1';
export const MIDDLE = 'gpt-3.5-turbo';
export const ARENA_MARGIN = 2;
/** arena-bench-v1 target: a grade difference of ±ARENA_SPAN/2 (4 points of 1–10) saturates it. */
export const ARENA_SPAN = 8;
export const SETS = ['gsm8k', 'mmlu', 'arena-bench-v1'] as const;
export type SetName = (typeof SETS)[number];

export interface DataRow {
  id: string;
  set: SetName;
  split: 'train' | 'dev';
  subject: string | null;
  prompt: string;
  strong: number;
  weak: number;
  /** arena-bench-v1 only: gpt-3.5-turbo's grade (the middle model), null elsewhere or when missing. */
  middle: number | null;
  label: 0 | 1;
  /**
   * The training target: the expected gain of the strong model over the weak one, mapped to
   * [0, 1] — GSM8K/MMLU (1 + strong − weak) / 2 (1 = only strong right, ½ = tie, 0 = only weak
   * right); arena-bench-v1 ½ + (strong − weak) / ARENA_SPAN, clamped.
   */
  target: number;
}

export const DATA_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../shared/data/routing');

interface RawRow {
  id: string;
  split: 'train' | 'dev';
  prompt: string;
  subject?: string;
  strong?: boolean;
  weak?: boolean;
  scores?: Record<string, number | null>;
}

function toRow(set: SetName, r: RawRow): DataRow | null {
  if (set === 'arena-bench-v1') {
    const s = r.scores?.[STRONG] ?? null;
    const w = r.scores?.[WEAK] ?? null;
    if (s === null || w === null) return null; // the README: drop prompts where either grade is null
    return {
      id: r.id,
      set,
      split: r.split,
      subject: null,
      prompt: r.prompt,
      strong: s,
      weak: w,
      middle: r.scores?.[MIDDLE] ?? null,
      label: s - w >= ARENA_MARGIN ? 1 : 0,
      target: Math.min(1, Math.max(0, 0.5 + (s - w) / ARENA_SPAN)),
    };
  }
  const s = r.strong === true ? 1 : 0;
  const w = r.weak === true ? 1 : 0;
  return {
    id: r.id,
    set,
    split: r.split,
    subject: r.subject ?? null,
    prompt: r.prompt,
    strong: s,
    weak: w,
    middle: null,
    label: s === 1 && w === 0 ? 1 : 0,
    target: (1 + s - w) / 2,
  };
}

export function loadSet(set: SetName, dir = DATA_DIR): DataRow[] {
  const file = resolve(dir, `${set}.jsonl`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // Said plainly, without a stack: where the data was looked for and how to point elsewhere.
    if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
    console.error(
      `no routing data at ${file}: the router's data (gsm8k, mmlu, arena-bench-v1 .jsonl with a train/dev split) is read from ../shared/data/routing beside the checkout; give another folder with --data DIR`,
    );
    process.exit(2);
  }
  const out: DataRow[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const row = toRow(set, JSON.parse(line) as RawRow);
    if (row) out.push(row);
  }
  return out;
}

export function loadAll(dir = DATA_DIR): DataRow[] {
  return SETS.flatMap((s) => loadSet(s, dir));
}

/** The MMLU subject whose published labels look broken (strong model below chance): see the data README. */
export const BROKEN_SUBJECT = 'high_school_mathematics';
