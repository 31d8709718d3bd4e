/**
 * One pass over a text: the raw counts the scorer's features are made of. Unicode-aware without
 * a per-character regex (which would cost ~50 ns a character): a letter is an ASCII letter or any
 * code point from U+00C0 up that is not in the punctuation/symbol blocks, so German umlauts,
 * Cyrillic or CJK all form words. Nothing here knows English: words are looked up in the
 * multilingual cue table, and the other counts are punctuation, digits and scripts.
 */
import {
  BIGRAM_FIRST_FLAG,
  BIGRAM_SECOND_FLAG,
  CUE_TABLE,
  DOMAIN_MASK,
  DOMAIN_SHIFT,
  DOMAINS,
  GERMAN_FLAG,
  IDENTIFY_FLAG,
  API_FLAG,
  NUMBER_WORD_FLAG,
  WRITE_FLAG,
  KIND_MASK,
  KINDS,
  stemCode,
  wordFlags,
  hashStep,
} from './cues.js';

export interface TextCounts {
  chars: number;
  words: number;
  /** Words (and two-word cues) cueing each kind, in the order of KINDS. */
  kindHits: number[];
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

const ZERO_KINDS: readonly number[] = KINDS.map(() => 0);
const CODE = KINDS.indexOf('code');
const WRITING = KINDS.indexOf('writing');
const SMALLTALK = KINDS.indexOf('smalltalk');
const TRANSLATION = KINDS.indexOf('translation');
const ZERO_DOMAINS: readonly number[] = DOMAINS.map(() => 0);

export function emptyCounts(): TextCounts {
  return {
    chars: 0,
    words: 0,
    kindHits: ZERO_KINDS.slice(),
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
/** Math symbols beyond ASCII: the Unicode math operators block, × ÷ ±. */
const isMathSymbol = (c: number): boolean => (c >= 0x2200 && c <= 0x22ff) || c === 0xd7 || c === 0xf7 || c === 0xb1;
/** Question marks beyond ASCII ? (Greek ; and Arabic ؟ count as letters, so they never get here). */
const isQuestion = (c: number): boolean => c === 0xff1f || c === 0xbf || c === 0x37e || c === 0x61f;
/** Sentence ends beyond ASCII . ! ?: CJK 。！？. */
const isSentenceEnd = (c: number): boolean => c === 0x3002 || c === 0xff01 || c === 0xff1f;
const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 9 || c === 13;

/**
 * ASCII character classes (a table: this runs per character): LETTER or DIGIT, or bits of
 * PUNCT (code punctuation `{ } ; < > [ ] ( ) = _ ` | &`, frequent in code, rare in prose), MATH
 * (`= + * / ^`) and SENTENCE_END (`. ! ?`).
 */
const LETTER = 1;
const DIGIT = 2;
const WORD = LETTER | DIGIT;
const PUNCT = 4;
const MATH = 8;
const SENTENCE_END = 16;
const ASCII = new Uint8Array(128);
for (let c = 0; c < 128; c++) ASCII[c] = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) ? LETTER : c >= 48 && c <= 57 ? DIGIT : 0;
for (const c of '{};<>[]()=_`|&') ASCII[c.charCodeAt(0)]! |= PUNCT;
for (const c of '=+*/^') ASCII[c.charCodeAt(0)]! |= MATH;
for (const c of '.!?') ASCII[c.charCodeAt(0)]! |= SENTENCE_END;

/**
 * The lower-cased text's UTF-16 code units, copied by one native call (`Buffer#write`, about
 * 0.1 ns a character): reading a typed array is about 3x cheaper than `charCodeAt` per
 * character. Reused across calls (the scan is synchronous); texts longer than SCRATCH_MAX get
 * their own array, so one huge prompt does not pin memory. PAD spare units after the text keep
 * the four-character stem key of a short last word inside the array.
 */
const SCRATCH_MAX = 1 << 16;
const PAD = 4;
/** UTF-16LE bytes are the array's code units only on a little-endian machine (all common ones). */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
let scratch = new Uint16Array(4096);
let scratchBytes = Buffer.from(scratch.buffer);
function codeUnits(s: string): Uint16Array {
  let u = scratch;
  let b = scratchBytes;
  if (s.length + PAD > u.length) {
    u = new Uint16Array(Math.max(s.length + PAD, 2 * u.length));
    b = Buffer.from(u.buffer);
    if (u.length <= SCRATCH_MAX) {
      scratch = u;
      scratchBytes = b;
    }
  }
  if (LITTLE_ENDIAN) b.write(s, 0, 'utf16le');
  else for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
  return u;
}

/** Adds the counts of `text` to `into` (so several turns can share one record). */
export function scanText(text: string, into: TextCounts): void {
  const s = text.toLowerCase();
  const n = s.length;
  // Every read below is guarded by `< n`: past n the array holds an earlier text.
  const u = codeUnits(s);
  const { wordBits, stemBits } = CUE_TABLE;
  // Counts in locals, added to `into` once at the end.
  let words = 0;
  let identifiers = 0;
  let germanWords = 0;
  let identifyWords = 0;
  let numberWords = 0;
  let apiWords = 0;
  let letters = 0;
  let nonLatin = 0;
  let numbers = 0;
  let mathSymbols = 0;
  let latex = 0;
  let codePunct = 0;
  let fences = 0;
  let questions = 0;
  let sentences = 0;
  let decimals = 0;
  let writeVerbs = 0;
  let maxNumber = into.maxNumber;
  const kinds = into.kindHits;
  const codeBefore = kinds[CODE]!;
  const smalltalkBefore = kinds[SMALLTALK]!;
  const translationBefore = kinds[TRANSLATION]!;
  let prevStart = 0;
  let prevEnd = 0;
  let prevFlags = 0;
  // Inside a ``` fence words are code, not cues: a code block can only add code evidence (and
  // never, say, a small-talk cue from `print("hello")`), which keeps the score monotone in it.
  let inFence = false;
  let i = 0;
  while (i < n) {
    const c = u[i]!;
    const cls = c < 128 ? ASCII[c]! : isLetter(c) ? LETTER : 0;
    if (cls === LETTER) {
      // A word: letters, digits and combining marks, hashed as it is read (no substring).
      const start = i;
      let inner = false;
      let h = c; // hashStep(0, c)
      if (c >= 0x370) nonLatin++;
      i++;
      while (i < n) {
        const d = u[i]!;
        if (d < 128) {
          if ((ASCII[d]! & WORD) === 0) {
            if ((d === 95 || d === 46) && i + 1 < n && isLetter(u[i + 1]!)) {
              inner = true; // snake_case or dotted.name: an identifier
              if (d === 95) codePunct++;
              i++;
              continue;
            }
            break;
          }
        } else if (isLetter(d)) {
          // isLetter covers the combining marks U+0300–U+036F too.
          if (d >= 0x370) nonLatin++;
        } else break;
        h = hashStep(h, d);
        i++;
      }
      letters += i - start;
      if (inner) {
        identifiers++;
        prevFlags = 0;
        continue;
      }
      // A LaTeX command (\sum, \frac) is math notation, not a word.
      if (inFence || (start > 0 && u[start - 1] === 92)) {
        prevFlags = 0;
        continue;
      }
      words++;
      // Stems are keyed by the hash of the first four characters, and only words of 5+ match
      // one. Both presence bits are read without a branch (past a short word's end the array
      // holds other characters, PAD at most past the text; that bit is masked out): most words
      // cue nothing and take one test.
      const h4 = (u[start]! * 29791 + u[start + 1]! * 961 + u[start + 2]! * 31 + u[start + 3]!) & 0x3fffffff; // = hashOf(word, 4), unrolled
      const stemHit = stemBits[h4 & 0xffff]! & ((4 - (i - start)) >>> 31);
      let f = 0;
      if ((wordBits[h & 0xffff]! | stemHit) !== 0) {
        f = wordFlags(s, start, i, h);
        if (stemHit !== 0 && ((f & KIND_MASK) === 0 || (f & DOMAIN_MASK) === 0)) {
          const sc = stemCode(s, start, i, h4);
          if ((f & KIND_MASK) === 0) f |= sc & KIND_MASK;
          if ((f & DOMAIN_MASK) === 0) f |= sc & DOMAIN_MASK;
        }
      }
      if (f !== 0) {
        // Most words cue nothing: one test, then on.
        if (f & GERMAN_FLAG) germanWords++;
        if (f & IDENTIFY_FLAG) identifyWords++;
        if (f & NUMBER_WORD_FLAG) numberWords++;
        if (f & API_FLAG) apiWords++;
        if (f & WRITE_FLAG) writeVerbs++;
        const d = (f & DOMAIN_MASK) >> DOMAIN_SHIFT;
        if (d > 0) into.domainHits[d - 1]!++;
        const k = f & KIND_MASK;
        if (k > 0) into.kindHits[k - 1]!++;
        // A two-word cue ("step by", "wie viele"): both words are in the table with a flag.
        else if (prevFlags & BIGRAM_FIRST_FLAG && f & BIGRAM_SECOND_FLAG) {
          const kind = CUE_TABLE.bigrams.get(`${s.slice(prevStart, prevEnd)} ${s.slice(start, i)}`);
          if (kind === null) {
            if (prevFlags & KIND_MASK) into.kindHits[(prevFlags & KIND_MASK) - 1]!--;
          } else if (kind !== undefined) into.kindHits[KINDS.indexOf(kind)]!++;
        }
      }
      prevFlags = f;
      prevStart = start;
      prevEnd = i;
      continue;
    }
    i++;
    if (cls === DIGIT) {
      numbers++;
      // The integer part's value (capped) and whether a decimal separator follows: big and
      // fractional quantities are where a weak model's arithmetic slips.
      const start0 = i - 1;
      let v = c - 48;
      let sep = false;
      while (i < n) {
        const d = u[i]!;
        if (isDigit(d)) {
          if (!sep && v < 1e15) v = v * 10 + d - 48;
        } else if ((d === 46 || d === 44) && i + 1 < n && isDigit(u[i + 1]!)) sep = true;
        else break;
        i++;
      }
      if (sep && !inFence) {
        const before = start0 > 0 ? u[start0 - 1]! : 0;
        const after = i < n ? u[i]! : 0;
        const next = i + 1 < n ? u[i + 1]! : 0;
        if (isCurrency(before) || isCurrency(after) || (after === 32 && (isLetter(next) || isCurrency(next)))) decimals++;
      }
      if (v > maxNumber) maxNumber = v;
      continue; // a number between two words keeps them a bigram ("how 2 many" as before)
    }
    // So does a space, a newline or a hyphen ("E-Mail-Adresse", "step-by-step"; a tab does not).
    if (c === 32 || c === 10 || c === 45) continue;
    if (c < 128) {
      if (c === 96) {
        if (i + 1 < n && u[i] === 96 && u[i + 1] === 96) {
          fences++;
          inFence = !inFence;
          i += 2;
        }
      } else if (c === 92 && i < n && isLetter(u[i]!)) latex++; // \frac, \sum, \int …
      const k = ASCII[c]!;
      if (k !== 0) {
        if (k & PUNCT) codePunct++;
        if (k & MATH) mathSymbols++;
        if (!inFence) {
          if (c === 63) questions++;
          if (k & SENTENCE_END && (i >= n || isSpace(u[i]!))) sentences++;
        }
      }
    } else {
      if (isMathSymbol(c)) mathSymbols++;
      if (!inFence) {
        if (isQuestion(c)) questions++;
        // CJK writes no space after 。！？, so those end a sentence by themselves.
        if (isSentenceEnd(c)) sentences++;
      }
    }
    prevFlags = 0;
  }
  // "Write a function" is code, "write an email" writing: write verbs count only without a code cue.
  if (kinds[CODE] === codeBefore) kinds[WRITING]! += writeVerbs;
  // A translation request is not small talk ("translate 'good morning' into French").
  if (kinds[TRANSLATION]! > translationBefore) kinds[SMALLTALK] = smalltalkBefore;
  into.chars += n;
  into.words += words;
  into.identifiers += identifiers;
  into.germanWords += germanWords;
  into.identifyWords += identifyWords;
  into.numberWords += numberWords;
  into.apiWords += apiWords;
  into.letters += letters;
  into.nonLatinLetters += nonLatin;
  into.numbers += numbers;
  into.mathSymbols += mathSymbols;
  into.latex += latex;
  into.codePunct += codePunct;
  into.fences += fences;
  into.questions += questions;
  into.sentences += sentences;
  into.decimals += decimals;
  into.maxNumber = maxNumber;
}
