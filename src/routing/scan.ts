/**
 * One pass over a text: the raw counts the scorer's features are made of. Unicode-aware without
 * a per-character regex (which would cost ~50 ns a character): a letter is an ASCII letter or any
 * code point from U+00C0 up that is not in the punctuation/symbol blocks, so German umlauts,
 * Cyrillic or CJK all form words. Nothing here knows English: words are looked up in the
 * multilingual cue table, and the other counts are punctuation, digits and scripts.
 */
import { CUE_TABLE, GERMAN_MARKERS, KINDS, kindOfWord, type Kind } from './cues.js';

export interface TextCounts {
  chars: number;
  words: number;
  kindHits: Record<Kind, number>;
  germanWords: number;
  letters: number;
  nonLatinLetters: number;
  numbers: number;
  mathSymbols: number;
  latex: number;
  codePunct: number;
  fences: number;
  identifiers: number;
  questions: number;
}

const KIND_INDEX = new Map<Kind, number>(KINDS.map((k, i) => [k, i]));

export function emptyCounts(): TextCounts {
  const kindHits = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  return { chars: 0, words: 0, kindHits, germanWords: 0, letters: 0, nonLatinLetters: 0, numbers: 0, mathSymbols: 0, latex: 0, codePunct: 0, fences: 0, identifiers: 0, questions: 0 };
}

function isLetter(c: number): boolean {
  if (c < 0x80) return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
  if (c < 0xc0 || c === 0xd7 || c === 0xf7) return false;
  if (c >= 0x2000 && c <= 0x2bff) return false; // punctuation, arrows, math operators, box drawing
  if (c >= 0x3000 && c <= 0x303f) return false; // CJK punctuation
  if (c >= 0xff00 && c <= 0xff20) return false; // full-width punctuation
  return true;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
/** { } ; < > [ ] ( ) = _ ` | & — frequent in code, rare in prose. */
const CODE_PUNCT = new Set([123, 125, 59, 60, 62, 91, 93, 40, 41, 61, 95, 96, 124, 38]);
/** = + * / ^ and the Unicode math operators block. */
const isMathSymbol = (c: number): boolean => c === 61 || c === 43 || c === 42 || c === 47 || c === 94 || (c >= 0x2200 && c <= 0x22ff) || c === 0xd7 || c === 0xf7 || c === 0xb1;
const isQuestion = (c: number): boolean => c === 63 || c === 0xff1f || c === 0xbf || c === 0x37e || c === 0x61f;

/** Adds the counts of `text` to `into` (so several turns can share one record). */
export function scanText(text: string, into: TextCounts): void {
  const s = text.toLowerCase();
  const n = s.length;
  into.chars += n;
  let prev = '';
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (isLetter(c)) {
      const start = i;
      let inner = false;
      while (i < n) {
        const d = s.charCodeAt(i);
        if (isLetter(d) || isDigit(d) || (d >= 0x300 && d <= 0x36f)) {
          if (d >= 0x370) into.nonLatinLetters++;
          into.letters++;
          i++;
        } else if ((d === 95 || d === 46) && i + 1 < n && isLetter(s.charCodeAt(i + 1))) {
          inner = true; // snake_case or dotted.name: an identifier
          if (d === 95) into.codePunct++;
          i++;
        } else break;
      }
      const w = s.slice(start, i);
      if (inner) into.identifiers++;
      else word(w, prev, into);
      prev = w;
      continue;
    }
    i++;
    if (isDigit(c)) {
      into.numbers++;
      while (i < n && (isDigit(s.charCodeAt(i)) || ((s.charCodeAt(i) === 46 || s.charCodeAt(i) === 44) && i + 1 < n && isDigit(s.charCodeAt(i + 1))))) i++;
      continue;
    }
    if (c === 96 && s.startsWith('``', i)) {
      into.fences++;
      i += 2;
      continue;
    }
    if (c === 92 && i < n && isLetter(s.charCodeAt(i))) into.latex++; // \frac, \sum, \int …
    if (CODE_PUNCT.has(c)) into.codePunct++;
    if (isMathSymbol(c)) into.mathSymbols++;
    if (isQuestion(c)) into.questions++;
    if (c === 32 || c === 10) continue;
    prev = '';
  }
}

function word(w: string, prev: string, into: TextCounts): void {
  into.words++;
  if (GERMAN_MARKERS.has(w)) into.germanWords++;
  const kind = kindOfWord(w) ?? (prev === '' ? undefined : CUE_TABLE.bigrams.get(`${prev} ${w}`));
  if (kind !== undefined && KIND_INDEX.has(kind)) into.kindHits[kind]++;
}
