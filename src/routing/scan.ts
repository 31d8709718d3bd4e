/**
 * One pass over a text: the raw counts the scorer's features are made of. Unicode-aware without
 * a per-character regex (which would cost ~50 ns a character): a letter is an ASCII letter or any
 * code point from U+00C0 up that is not in the punctuation/symbol blocks, so German umlauts,
 * Cyrillic or CJK all form words. Nothing here knows English: words are looked up in the
 * multilingual cue table, and the other counts are punctuation, digits and scripts.
 */
import {
  BIGRAM_FIRST_FLAG,
  CUE_TABLE,
  DOMAIN_MASK,
  DOMAIN_SHIFT,
  DOMAINS,
  GERMAN_FLAG,
  IDENTIFY_FLAG,
  API_FLAG,
  NUMBER_WORD_FLAG,
  KIND_MASK,
  KINDS,
  stemCode,
  wordFlags,
  hashStep,
  type Kind,
} from './cues.js';

export interface TextCounts {
  chars: number;
  words: number;
  kindHits: Record<Kind, number>;
  /** Words cueing each domain, in the order of DOMAINS. */
  domainHits: number[];
  germanWords: number;
  /** Question words asking for a specific person, time, place or choice (who, when, where, which; wer, wann, wo, welche). */
  identifyWords: number;
  /** Quantities written as words (three, half, twice; drei, Hälfte, doppelt), outside code fences. */
  numberWords: number;
  /** Words naming a programming interface or library (API, SDK, package; Bibliothek, Schnittstelle), outside code fences. */
  apiWords: number;
  letters: number;
  nonLatinLetters: number;
  numbers: number;
  mathSymbols: number;
  latex: number;
  codePunct: number;
  fences: number;
  identifiers: number;
  questions: number;
  /** Sentence ends (. ! ? and their CJK forms followed by a space or the end), outside code fences. */
  sentences: number;
  /**
   * Decimal quantities in prose: numbers written with a decimal (or thousands) separator that
   * stand next to a currency sign or are followed by a space and a word ("$12.50", "1,20 €",
   * "3.5 hours"), outside code fences. A derivation's numbers ("1.5 * 2 = 3.0") stand between
   * operators and do not count.
   */
  decimals: number;
  /** The largest integer part of a number (capped at 1e15). */
  maxNumber: number;
}

/** All kinds at 0: copied per record (a spread of a small literal costs ~20 ns; Object.fromEntries ~400 ns, twice per request). */
const ZERO_KINDS = Object.freeze(Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>);

const ZERO_DOMAINS: readonly number[] = DOMAINS.map(() => 0);

export function emptyCounts(): TextCounts {
  const kindHits: Record<Kind, number> = { ...ZERO_KINDS };
  return {
    chars: 0,
    words: 0,
    kindHits,
    domainHits: ZERO_DOMAINS.slice(),
    germanWords: 0,
    identifyWords: 0,
    numberWords: 0,
    apiWords: 0,
    letters: 0,
    nonLatinLetters: 0,
    numbers: 0,
    mathSymbols: 0,
    latex: 0,
    codePunct: 0,
    fences: 0,
    identifiers: 0,
    questions: 0,
    sentences: 0,
    decimals: 0,
    maxNumber: 0,
  };
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
/** $ £ ¥ € ₹ */
const isCurrency = (c: number): boolean => c === 36 || c === 0xa3 || c === 0xa5 || c === 0x20ac || c === 0x20b9;
/** { } ; < > [ ] ( ) = _ ` | & — frequent in code, rare in prose (a table: this runs per character). */
const CODE_PUNCT = new Uint8Array(128);
for (const c of '{};<>[]()=_`|&') CODE_PUNCT[c.charCodeAt(0)] = 1;
/** = + * / ^ and the Unicode math operators block. */
const isMathSymbol = (c: number): boolean =>
  c === 61 || c === 43 || c === 42 || c === 47 || c === 94 || (c >= 0x2200 && c <= 0x22ff) || c === 0xd7 || c === 0xf7 || c === 0xb1;
const isQuestion = (c: number): boolean => c === 63 || c === 0xff1f || c === 0xbf || c === 0x37e || c === 0x61f;

const isSentenceEnd = (c: number): boolean => c === 46 || c === 33 || c === 63 || c === 0x3002 || c === 0xff01 || c === 0xff1f;
const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 9 || c === 13;

/** ASCII classes: 1 letter, 2 digit, 0 other (a table: this runs per character). */
const ASCII = new Uint8Array(128);
for (let c = 0; c < 128; c++) ASCII[c] = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) ? 1 : c >= 48 && c <= 57 ? 2 : 0;
/** Letter or digit or combining mark: continues a word. */
const wordChar = (d: number): boolean => (d < 128 ? ASCII[d]! !== 0 : isLetter(d) || (d >= 0x300 && d <= 0x36f));

/** Adds the counts of `text` to `into` (so several turns can share one record). */
export function scanText(text: string, into: TextCounts): void {
  const s = text.toLowerCase();
  const n = s.length;
  into.chars += n;
  let prevStart = 0;
  let prevEnd = 0;
  let prevFlags = 0;
  let letters = 0;
  let nonLatin = 0;
  let codePunct = 0;
  // Inside a ``` fence words are code, not cues: a code block can only add code evidence (and
  // never, say, a small-talk cue from `print("hello")`), which keeps the score monotone in it.
  let inFence = false;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c < 128 ? ASCII[c] === 1 : isLetter(c)) {
      const start = i;
      let inner = false;
      let h = 0;
      let h4 = 0;
      while (i < n) {
        const d = s.charCodeAt(i);
        if (wordChar(d)) {
          if (d >= 0x370) nonLatin++;
          h = hashStep(h, d);
          i++;
          if (i - start === 4) h4 = h;
        } else if ((d === 95 || d === 46) && i + 1 < n && isLetter(s.charCodeAt(i + 1))) {
          inner = true; // snake_case or dotted.name: an identifier
          if (d === 95) codePunct++;
          i++;
        } else break;
      }
      letters += i - start;
      if (inner) {
        into.identifiers++;
        prevFlags = 0;
        continue;
      }
      // A LaTeX command (\sum, \frac) is math notation, not a word.
      if (inFence || (start > 0 && s.charCodeAt(start - 1) === 92)) {
        prevFlags = 0;
        continue;
      }
      into.words++;
      let f = wordFlags(s, start, i, h);
      if ((f & KIND_MASK) === 0 || (f & DOMAIN_MASK) === 0) {
        const sc = stemCode(s, start, i, h4);
        if (sc !== 0) {
          if ((f & KIND_MASK) === 0) f |= sc & KIND_MASK;
          if ((f & DOMAIN_MASK) === 0) f |= sc & DOMAIN_MASK;
        }
      }
      let kind: Kind | undefined;
      if (f !== 0) {
        // Most words cue nothing: one test, then on.
        if (f & GERMAN_FLAG) into.germanWords++;
        if (f & IDENTIFY_FLAG) into.identifyWords++;
        if (f & NUMBER_WORD_FLAG) into.numberWords++;
        if (f & API_FLAG) into.apiWords++;
        const d = (f & DOMAIN_MASK) >> DOMAIN_SHIFT;
        if (d > 0) into.domainHits[d - 1]!++;
        const k = f & KIND_MASK;
        if (k > 0) kind = KINDS[k - 1];
      }
      if (kind === undefined && prevFlags & BIGRAM_FIRST_FLAG) kind = CUE_TABLE.bigrams.get(`${s.slice(prevStart, prevEnd)} ${s.slice(start, i)}`);
      if (kind !== undefined) into.kindHits[kind]++;
      prevFlags = f;
      prevStart = start;
      prevEnd = i;
      continue;
    }
    i++;
    if (c < 128) {
      if (c === 32 || c === 10) continue;
      if (ASCII[c] === 2) {
        into.numbers++;
        // The integer part's value (capped) and whether a decimal separator follows: big and
        // fractional quantities are where a weak model's arithmetic slips.
        const start0 = i - 1;
        let v = c - 48;
        let sep = false;
        while (i < n) {
          const d = s.charCodeAt(i);
          if (isDigit(d)) {
            if (!sep && v < 1e15) v = v * 10 + d - 48;
          } else if ((d === 46 || d === 44) && i + 1 < n && isDigit(s.charCodeAt(i + 1))) sep = true;
          else break;
          i++;
        }
        if (sep && !inFence) {
          const before = start0 > 0 ? s.charCodeAt(start0 - 1) : 0;
          const after = i < n ? s.charCodeAt(i) : 0;
          const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
          if (isCurrency(before) || isCurrency(after) || (after === 32 && (isLetter(next) || isCurrency(next)))) into.decimals++;
        }
        if (v > into.maxNumber) into.maxNumber = v;
        continue;
      }
      if (c === 96 && s.startsWith('``', i)) {
        into.fences++;
        inFence = !inFence;
        i += 2;
      } else if (c === 92 && i < n && isLetter(s.charCodeAt(i))) into.latex++; // \frac, \sum, \int …
      codePunct += CODE_PUNCT[c]!;
    }
    if (isMathSymbol(c)) into.mathSymbols++;
    if (isQuestion(c) && !inFence) into.questions++;
    // CJK writes no space after 。！？, so those end a sentence by themselves.
    if (isSentenceEnd(c) && !inFence && (c > 127 || i >= n || isSpace(s.charCodeAt(i)))) into.sentences++;
    prevFlags = 0;
  }
  into.letters += letters;
  into.nonLatinLetters += nonLatin;
  into.codePunct += codePunct;
}
