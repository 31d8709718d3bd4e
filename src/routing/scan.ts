/**
 * One pass over a text: the raw counts the scorer's features are made of. Unicode-aware without
 * a per-character regex (which would cost ~50 ns a character): a table classes every UTF-16 code
 * unit, so German umlauts, Cyrillic, Hangul or Arabic form words, one script family to a word.
 * Scripts written without spaces (Han, kana, Thai, Lao, Khmer, Myanmar) count as the words
 * their characters make on average, so a Chinese prompt is about as many "words" long as its
 * English translation. Nothing here knows English: words are looked up in the multilingual cue
 * table, and the other counts are punctuation, digits and scripts.
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
  ID_FLAG,
  ID_DOT_FLAG,
  ID_LINK_FLAG,
  ID_VERB_FLAG,
  NOT_CODE_BEFORE_FLAG,
  CODE_NOUN_FLAG,
  ACK_FLAG,
  GO_ON_FLAG,
  WHY_BEFORE_FLAG,
  ABBREV_FLAG,
  ABBREV_END_FLAG,
  ORDINAL_FLAG,
  GERMAN_MONTHS,
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
  /** Question words asking for a specific thing (what, who, when, where, which; wer, wann, wo, welche), in sentences ending with "?". */
  identifyWords: number;
  /** Quantities written as words (three, half, twice; drei, Hälfte, doppelt), outside code fences. */
  numberWords: number;
  /** Words naming a programming interface or library (API, SDK, package; Bibliothek, Schnittstelle), outside code fences. */
  apiWords: number;
  /** Of those, the ones that are code cues themselves (api, sdk, endpoint): no evidence of programming on their own. */
  apiCodeCues: number;
  letters: number;
  nonLatinLetters: number;
  /** Numbers that are quantities (see maxNumber), outside code. */
  numbers: number;
  mathSymbols: number;
  latex: number;
  codePunct: number;
  fences: number;
  identifiers: number;
  questions: number;
  /**
   * Sentence ends, outside code fences: . ! ? followed by a space or the end; the marks that end
   * a sentence by themselves (CJK 。！？, Devanagari ।, Arabic ؟, Khmer ។, Myanmar ။…); a space
   * between two Thai or Lao letters.
   */
  sentences: number;
  /** The sentences of {@link MIN_SENTENCE_WORDS} words or more (what `struct:sentences` counts). */
  fullSentences: number;
  /** Of those, the ones without a small-talk cue, an unfinished last one included: a request beside a "Hi!" ("Hi! List the planets."). */
  plainSentences: number;
  /**
   * Decimal quantities in prose: numbers written with a decimal (or thousands) separator that
   * stand next to a currency sign or are followed by a space and a word ("$12.50", "1,20 €",
   * "3.5 hours"), outside code fences. A derivation's numbers ("1.5 * 2 = 3.0") stand between
   * operators and do not count.
   */
  decimals: number;
  /**
   * The largest integer part of a number that is a quantity (capped at 1e15). Identifiers are
   * not quantities: digits in code (a fence or `inline code`); a number after "#", "№" or an id
   * word (order, user, ticket, Nr., Bestellung, Kunde, a "-nummer" compound; at least three
   * digits after a word) and what follows it after "-" or "/" ("Rechnung 2023-0815"); a phone
   * number ("+49 30 1234567", every group); an unseparated run of seven or more digits that does
   * not end in 000 ("user 1234567", "ID 99887766"); a run with a leading zero ("030", "007");
   * a number after two capitals and a dash ("INV-2024-00017", "SN-2024", "HIV-1"), an ISO date
   * ("2025-12-24"), a version or a dotted date ("v2.0.1", "2.0.1", "24.12.2025": no decimal either).
   * Years stay quantities (a year rule cost train CV: docs/routing.md, tenth round).
   */
  maxNumber: number;
  /** Words of one letter ("x", "a", "I"): a derivation's variables, which make no turn longer in prose (features.ts, follow-ups). */
  singles: number;
  /** Words asking the answer to go on (cues.ts GO_ON_FLAG). */
  goOn: number;
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
    apiCodeCues: 0,
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
    fullSentences: 0,
    plainSentences: 0,
    decimals: 0,
    maxNumber: 0,
    singles: 0,
    goOn: 0,
  };
}

/**
 * Letter classes of the UTF-16 code units (a table: this runs per character). 0: no letter;
 * LATIN: an ASCII letter, a Latin-1/Extended or Vietnamese letter, a combining mark; OTHER: a
 * letter of another script (Greek, Cyrillic, Hangul, Arabic, Devanagari…). A word is a run of
 * one family: "python으로" is two words, "Python函数" too. Scripts written without spaces
 * between words (Han, kana, Thai, Lao, Khmer, Myanmar) are OTHER with a weight in the high bits:
 * the words one of their characters makes on average, in tenths — so a run of them counts as
 * about as many words as its translation has (Chinese about 1.6 characters per English word:
 * 6; Japanese kana, particles and endings and long loanwords, 3; Thai and its neighbours, whose
 * vowels and tone marks are code units of their own, about 5 code units: 2). Beside the letter
 * bits, punctuation that asks a question (QUESTION) or ends a sentence by itself (END: CJK
 * 。！？, the Devanagari danda, Arabic ؟ and ۔, Khmer ។, Myanmar ။, Ethiopic ።).
 */
const U_LATIN = 1;
const U_OTHER = 2;
const U_QUESTION = 4;
const U_END = 8;
const DENSE_SHIFT = 4;
const UNI = new Uint8Array(65536);
{
  const fill = (from: number, to: number, v: number): void => void UNI.fill(v, from, to + 1);
  for (let c = 0; c < 128; c++) if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) UNI[c] = U_LATIN;
  fill(0xc0, 0xffff, U_OTHER);
  // The Latin family (and the combining marks U+0300–U+036F, which Greek and Cyrillic use too).
  fill(0xc0, 0x36f, U_LATIN);
  UNI[0xd7] = UNI[0xf7] = 0;
  for (const [a, b] of [
    [0x1e00, 0x1eff], // Latin Extended Additional (Vietnamese)
    [0x2c60, 0x2c7f],
    [0xa720, 0xa7ff],
    [0xab30, 0xab6f],
    [0xff21, 0xff3a], // full-width Latin
    [0xff41, 0xff5a],
  ] as const)
    fill(a, b, U_LATIN);
  // Punctuation, symbols and separators beyond ASCII.
  for (const [a, b] of [
    [0x2000, 0x2bff], // punctuation, arrows, math operators, box drawing
    [0x2e00, 0x2e7f],
    [0x3000, 0x303f], // CJK punctuation
    [0x30a0, 0x30a0],
    [0x30fb, 0x30fb], // katakana middle dot
    [0xfe00, 0xfe0f], // variation selectors
    [0xfe10, 0xfe1f],
    [0xfe30, 0xfe6f],
    [0xfeff, 0xfeff],
    [0xff00, 0xff20], // full-width punctuation and digits
    [0xff3b, 0xff40],
    [0xff5b, 0xff65],
    [0xfff0, 0xffff],
    [0xd83c, 0xd83e], // emoji (high surrogates; the scanner skips the low one)
    [0x37e, 0x37e],
    [0x387, 0x387],
    [0x55c, 0x55f],
    [0x589, 0x589],
    [0x5c0, 0x5c0],
    [0x5c3, 0x5c3],
    [0x5f3, 0x5f4],
    [0x60c, 0x60d],
    [0x61b, 0x61b],
    [0x61e, 0x61f],
    [0x66a, 0x66d],
    [0x6d4, 0x6d4],
    [0x964, 0x965],
    [0x970, 0x970],
    [0xe4f, 0xe4f],
    [0xe5a, 0xe5b],
    [0xf04, 0xf12], // Tibetan marks (tsheg, shad)
    [0x104a, 0x104f],
    [0x10fb, 0x10fb],
    [0x1360, 0x1368],
    [0x166d, 0x166e],
    [0x17d4, 0x17d6],
    [0x17d8, 0x17da],
    [0x1800, 0x180a],
  ] as const)
    fill(a, b, 0);
  // Scripts without spaces between words: a word's worth of characters, in tenths.
  const dense = (w: number): number => (w << DENSE_SHIFT) | U_OTHER;
  for (const [a, b, w] of [
    [0x3400, 0x4dbf, 6], // Han
    [0x4e00, 0x9fff, 6],
    [0xf900, 0xfaff, 6],
    [0x3005, 0x3007, 6], // 々 〆 〇
    [0x303b, 0x303c, 6],
    [0x3100, 0x312f, 6], // Bopomofo
    [0x3041, 0x309f, 3], // Hiragana
    [0x30a1, 0x30fa, 3], // Katakana
    [0x30fc, 0x30ff, 3],
    [0x31f0, 0x31ff, 3],
    [0xff66, 0xff9f, 3], // half-width Katakana
    [0xe01, 0xe4e, 2], // Thai
    [0xe50, 0xe59, 2],
    [0xe80, 0xeff, 2], // Lao
    [0x1000, 0x1049, 2], // Myanmar
    [0x1050, 0x109f, 2],
    [0x1780, 0x17d3, 2], // Khmer
    [0x17dc, 0x17dd, 2],
    [0x17e0, 0x17e9, 2],
  ] as const)
    fill(a, b, dense(w));
  for (const c of [0xff1f, 0x37e, 0x61f, 0x1367]) UNI[c]! |= U_QUESTION; // ？ ; ؟ ፧
  for (const c of [0x3002, 0xff01, 0xff1f, 0xff0e, 0xff61, 0x964, 0x965, 0x61f, 0x6d4, 0x37e, 0x589, 0x1362, 0x1367, 0x17d4, 0x17d5, 0x104b, 0xf0d, 0xf0e])
    UNI[c]! |= U_END;
}

/**
 * A sentence counts for `struct:sentences` only with three words or more: "Thanks!", "Hi!",
 * "Thank you." or a list's "A. 5" are no sentence of a task (an added "Thanks!" moved about a
 * quarter of prompts across a threshold). Train 5-fold CV on three fold assignments, mean APGR
 * 0.6197 / 0.6107 / 0.6125 → 0.6215 / 0.6125 / 0.6147, pooled 0.604 / 0.598 / 0.605 → 0.619 /
 * 0.613 / 0.620 (docs/routing.md, nineteenth round; 2 and 4 words did less).
 */
const MIN_SENTENCE_WORDS = 3;

/**
 * Unseparated digit runs this long are identifiers (customer, account, phone numbers), not
 * quantities — unless they end in three zeros (1000000). Train: no GSM8K prompt has one; MMLU
 * 8 of 11,011 train prompts (binary numbers, 1000000), arena 1 of 237.
 */
const ID_DIGITS = 7;
/** A number after an id word is an identifier from this many digits on ("order 48213"; a group "of order 42" and "order 7 pizzas" are quantities). */
const ID_WORD_DIGITS = 3;

const isLetter = (c: number): boolean => (UNI[c]! & (U_LATIN | U_OTHER)) !== 0;
/**
 * The `?` just read (at i − 1) is code's, not a question's: optional chaining (`?.` before a name,
 * `?.(`, `?.[`) or the nullish operator written ` ?? `.
 */
function codeQuestionMark(u: Uint16Array, i: number, n: number): boolean {
  if (i + 1 < n && u[i] === 46) {
    const d = u[i + 1]!;
    return isLetter(d) || d === 95 || d === 36 || d === 40 || d === 91;
  }
  if (i < n && u[i] === 63) return i >= 2 && u[i - 2] === 32 && i + 1 < n && u[i + 1] === 32;
  return u[i - 2] === 63 && i >= 3 && u[i - 3] === 32 && i < n && u[i] === 32;
}
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
/** What may stand between an id marker and its number: space : . # - № º ("Nr. 48213", "order #48213", "Kunden-ID: 4711", "nº 12"). */
const isIdGap = (c: number): boolean => c === 32 || c === 58 || c === 46 || c === 35 || c === 45 || c === 0x2116 || c === 0xba;
/** What may stand between the groups of a phone number: space - . / ( ). */
const isPhoneGap = (c: number): boolean => c === 32 || c === 45 || c === 46 || c === 47 || c === 40 || c === 41;
/** Whether u[from, to) holds only id gap characters (and a "." when `dot`). */
function idGap(u: Uint16Array, from: number, to: number, dot: boolean): boolean {
  let sawDot = !dot;
  for (let k = from; k < to; k++) {
    const c = u[k]!;
    if (c === 46) sawDot = true;
    else if (!isIdGap(c)) return false;
  }
  return sawDot;
}
/** Whether u[from, to) holds only phone gap characters. */
function phoneGap(u: Uint16Array, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (!isPhoneGap(u[k]!)) return false;
  return true;
}
/** Exactly `len` digits at u[from…], not followed by another digit. */
function digitGroup(u: Uint16Array, from: number, n: number, len: number): boolean {
  if (from + len > n) return false;
  for (let k = from; k < from + len; k++) if (!isDigit(u[k]!)) return false;
  return from + len === n || !isDigit(u[from + len]!);
}
/** A letter, a digit or ")" before a "+": "3+4", "x+1", "(a)+2" add; a "+" after a space or "(" may start a phone number. */
const isWordOrClose = (c: number): boolean => isLetter(c) || isDigit(c) || c === 41;
/** $ £ ¥ € ₹ */
const isCurrency = (c: number): boolean => c === 36 || c === 0xa3 || c === 0xa5 || c === 0x20ac || c === 0x20b9;
/** Math symbols beyond ASCII: the Unicode math operators block, × ÷ ±. */
const isMathSymbol = (c: number): boolean => (c >= 0x2200 && c <= 0x22ff) || c === 0xd7 || c === 0xf7 || c === 0xb1;
/** Thai and Lao end a sentence with a space: a space between two of their letters counts as a sentence end. */
const isThaiLao = (c: number): boolean => c >= 0xe00 && c <= 0xeff;
const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 9 || c === 13;

/**
 * What a dot right after a word means for the sentence: it ends one (DOT_END, an ordinary word);
 * none (DOT_NONE: "Dr.", "vs.", "bzw."); none before a digit ("No. 5"; else "No." is the
 * answer); one before a capital letter, the end of the text or of a line only (an abbreviation
 * that ends lists and names too: "etc.", "Inc."). Dotted acronyms ("e.g.", "U.S.") and initials
 * ("J. Smith") end sentences as before: taking them out cost train CV (docs/routing.md, twelfth
 * round).
 */
const DOT_END = 0;
const DOT_NONE = 1;
const DOT_BEFORE_DIGIT = 2;
const DOT_BEFORE_CAPITAL = 3;
/** An initial ("J." in "J. R. R. Tolkien"): its dot ends none before another initial. */
const DOT_INITIAL = 4;
/** An initial after an initial ("R." in "J. R. R. Tolkien"): its dot ends none before a capitalised word either. */
const DOT_INITIAL_AFTER = 5;
/** The word of letters at u[k] (after spaces), lower-cased: for rare look-aheads only. */
function wordAt(s: string, u: Uint16Array, k: number, n: number): string {
  while (k < n && u[k] === 32) k++;
  let e = k;
  while (e < n && isLetter(u[e]!)) e++;
  return s.slice(k, e);
}
/** Whether the letter at k of the original text is a capital (A–Z, À–Þ); false when the text is unknown. */
function isUpper(cased: string | null, k: number): boolean {
  if (cased === null) return false;
  const c = cased.charCodeAt(k);
  return (c >= 65 && c <= 90) || (c >= 0xc0 && c <= 0xde && c !== 0xd7);
}
/** Whether the dot before u[i], right after a word whose dot means `dot`, ends a sentence. */
function dotEnds(u: Uint16Array, cased: string | null, i: number, n: number, dot: number): boolean {
  if (dot === DOT_END) return true;
  if (dot === DOT_NONE) return false;
  while (i < n && (u[i] === 32 || u[i] === 9)) i++;
  if (dot === DOT_BEFORE_DIGIT) return !(i < n && isDigit(u[i]!));
  if (dot === DOT_INITIAL || dot === DOT_INITIAL_AFTER) {
    // Another initial ("J. R."), or after one a name ("R. Tolkien"): no end.
    if (!(i < n && isUpper(cased, i))) return true;
    if (i + 1 < n && u[i + 1] === 46) return false;
    return dot !== DOT_INITIAL_AFTER || !(i + 1 < n && isLetter(u[i + 1]!));
  }
  return i >= n || u[i] === 10 || u[i] === 13 || isUpper(cased, i);
}

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
/** The same for a word of another script: an ASCII letter ends it ("api를" is "api" and "를"), a digit does not. */
const ASCII_OTHER = ASCII.map((k) => (k === LETTER ? 0 : k));

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
/** Adds `from`'s counts into `into`, as scanning its text into `into` after `into`'s own would have (counts add, the largest number is the larger). */
export function addCounts(into: TextCounts, from: TextCounts): void {
  into.chars += from.chars;
  into.words += from.words;
  for (let k = 0; k < into.kindHits.length; k++) into.kindHits[k]! += from.kindHits[k]!;
  for (let d = 0; d < into.domainHits.length; d++) into.domainHits[d]! += from.domainHits[d]!;
  into.germanWords += from.germanWords;
  into.identifyWords += from.identifyWords;
  into.numberWords += from.numberWords;
  into.apiWords += from.apiWords;
  into.apiCodeCues += from.apiCodeCues;
  into.letters += from.letters;
  into.nonLatinLetters += from.nonLatinLetters;
  into.numbers += from.numbers;
  into.mathSymbols += from.mathSymbols;
  into.latex += from.latex;
  into.codePunct += from.codePunct;
  into.fences += from.fences;
  into.identifiers += from.identifiers;
  into.questions += from.questions;
  into.sentences += from.sentences;
  into.fullSentences += from.fullSentences;
  into.plainSentences += from.plainSentences;
  into.decimals += from.decimals;
  if (from.maxNumber > into.maxNumber) into.maxNumber = from.maxNumber;
  into.singles += from.singles;
  into.goOn += from.goOn;
}

/**
 * A sentence that asks something without small talk: three words or more besides the
 * acknowledgments that open it ("ok now add type hints"), and no other small-talk cue.
 */
const plainSentence = (words: number, smalltalkCues: number, acks: number): boolean => smalltalkCues === acks && words - acks >= MIN_SENTENCE_WORDS;

export function scanText(text: string, into: TextCounts): void {
  const s = text.toLowerCase();
  const n = s.length;
  // Every read below is guarded by `< n`: past n the array holds an earlier text.
  const u = codeUnits(s);
  const { wordBits, stemBits, runFirst } = CUE_TABLE;
  // Counts in locals, added to `into` once at the end.
  let words = 0;
  let singles = 0;
  let goOn = 0;
  let identifiers = 0;
  let germanWords = 0;
  let identifyWords = 0;
  // Question words of the sentence being read: they count at its "?" (a question), not at any
  // other sentence end ("My app crashes when I click the button." asks nothing).
  let askPending = 0;
  let numberWords = 0;
  let apiWords = 0;
  let apiCodeCues = 0;
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
  let sentSmall = smalltalkBefore; // small-talk cues at the last sentence end
  let sentAck = 0; // acknowledgments ("ok", "cool") opening the current sentence, each a small-talk cue (cues.ts ACK_FLAG)
  const translationBefore = kinds[TRANSLATION]!;
  let prevStart = 0;
  let prevEnd = 0;
  let prevFlags = 0;
  // Inside a ``` fence words are code, not cues: a code block can only add code evidence (and
  // never, say, a small-talk cue from `print("hello")`), which keeps the score monotone in it.
  let inFence = false;
  // Inline code (`…`, within a line): its digits are code, not quantities.
  let inTick = false;
  // Where the last id marker (an id word, "#", "№") ended, and whether its number needs a dot
  // ("No. 10"); where the last group of a phone number ended. -1: none.
  let idEnd = -1;
  let idDot = false;
  let idMin = 1;
  let idLinks = 0;
  /** The id marker says "number" (a "-nummer" compound, "order number"): a verb may follow it ("ist", "is"). */
  let idNumbered = false;
  let phoneEnd = -1;
  // Where the last identifier number ended: "2023-0815", "12345/67" go on with it.
  let idRunEnd = -1;
  // Sentence ends: whether a word or a number came since the last one (a lone "." ends nothing),
  // where the last word ended and what a dot right after it means (DOT_*). The case of a letter
  // is read in `text` (the lower-cased copy has the same length but for a few letters, e.g. "İ").
  const cased = text.length === n ? text : null;
  let open = false;
  let fullSentences = 0;
  let plainSentences = 0;
  let sentWords = 0; // `words` at the last sentence end
  let initialDot = -2;
  let noEndDot = -1;
  let wordEnd = -1;
  let wordDot = DOT_END;
  let i = 0;
  while (i < n) {
    const c = u[i]!;
    const uc = c < 128 ? 0 : UNI[c]!;
    const cls = c < 128 ? ASCII[c]! : (uc & (U_LATIN | U_OTHER)) !== 0 ? LETTER : 0;
    if (cls === LETTER) {
      const start = i;
      i++;
      if (uc >= 1 << DENSE_SHIFT) {
        // A script without spaces: the run counts as the words its characters make on average
        // (a digit, a Latin word or punctuation ends it). A whole run can be a cue ("谢谢！",
        // "ありがとう。"): it is looked up when a cue starts with its first character and is as
        // long; a phrase inside a longer run is not found.
        let tenths = uc >> DENSE_SHIFT;
        while (i < n) {
          const w = UNI[u[i]!]! >> DENSE_SHIFT;
          if (w === 0) break;
          tenths += w;
          i++;
        }
        letters += i - start;
        nonLatin += i - start;
        if (!inFence) {
          if (open && start >= 2 && u[start - 1] === 32 && isThaiLao(c) && isThaiLao(u[start - 2]!)) {
            sentences++;
            if (words - sentWords >= MIN_SENTENCE_WORDS) fullSentences++;
            sentWords = words;
            sentSmall = kinds[SMALLTALK]!; // no plain sentence: cues are looked up for a whole run only
            sentAck = 0;
          }
          words += ((tenths + 9) / 10) | 0;
          if (i - start <= runFirst[c]!) {
            let h = c;
            for (let k = start + 1; k < i; k++) h = hashStep(h, u[k]!);
            const k = wordFlags(s, start, i, h) & KIND_MASK;
            if (k > 0) kinds[k - 1]!++;
          }
        }
        open = true;
        wordEnd = -1;
        prevFlags = 0;
        continue;
      }
      // A word: letters, digits and combining marks of one script family, hashed as it is read
      // (no substring).
      const latin = c < 128 || uc === U_LATIN;
      const at = latin ? ASCII : ASCII_OTHER;
      let inner = false;
      let seg = 1;
      let single = true;
      let h = c; // hashStep(0, c)
      if (!latin) nonLatin++;
      while (i < n) {
        const d = u[i]!;
        if (d < 128) {
          if ((at[d]! & WORD) === 0) {
            if ((d === 95 || d === 46) && i + 1 < n && isLetter(u[i + 1]!)) {
              inner = true; // snake_case or dotted.name: an identifier
              if (d === 95) {
                codePunct++;
                single = false;
              } else if (seg !== 1) single = false;
              seg = 0;
              i++;
              continue;
            }
            break;
          }
        } else {
          const k = UNI[d]!;
          if (k !== U_LATIN) {
            // A Latin word ends at another script; another script's word at a script without spaces.
            if (latin || (k & U_OTHER) === 0 || k >= 1 << DENSE_SHIFT) break;
            nonLatin++;
          }
        }
        h = hashStep(h, d);
        i++;
        seg++;
      }
      letters += i - start;
      open = true;
      wordEnd = i;
      wordDot = DOT_END;
      if (inner) {
        // A dotted acronym ("e.g.", "i.e.", "U.S.", "z.B.", "d.h.": letters one by one, each with
        // its dot) is a word of prose, no identifier of code.
        if (!(single && seg === 1 && i < n && u[i] === 46)) {
          identifiers++;
          prevFlags = 0;
          continue;
        }
      }
      // A LaTeX command (\sum, \frac) is math notation, not a word.
      if (inFence || (start > 0 && u[start - 1] === 92)) {
        prevFlags = 0;
        continue;
      }
      words++;
      if (i - start === 1) singles++;
      if (i - start === 1 && latin && i + 1 < n && u[i] === 46 && u[i + 1] === 32 && isUpper(cased, start)) {
        // A capital letter and a dot: an initial if another follows or one came right before.
        wordDot = start >= 2 && u[start - 1] === 32 && start - 2 === initialDot ? DOT_INITIAL_AFTER : DOT_INITIAL;
      }
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
      if (f & GO_ON_FLAG) goOn++;
      // Only acknowledgments so far in this sentence: this one opens it too ("ok cool, now …").
      if (f & ACK_FLAG && words - 1 - sentWords === sentAck) sentAck++;
      if (f & ID_FLAG) {
        idEnd = i;
        idDot = (f & ID_DOT_FLAG) !== 0;
        idMin = ID_WORD_DIGITS;
        idLinks = 0;
        idNumbered = false;
      } else if (
        f & (ID_LINK_FLAG | ID_VERB_FLAG) &&
        (f & ID_LINK_FLAG || idNumbered) &&
        idLinks < 2 &&
        idEnd >= 0 &&
        start - idEnd <= 3 &&
        idGap(u, idEnd, start, false)
      ) {
        // "order number is 448213": the marker carries over a number word, and after one a verb.
        idEnd = i;
        idLinks++;
        if (f & ID_LINK_FLAG) idNumbered = true;
      } else if (u[i - 1] === 114 && i - start > 6 && u[i - 2] === 101 && u[i - 3] === 109 && u[i - 4] === 109 && u[i - 5] === 117 && u[i - 6] === 110) {
        // A compound on "-nummer" (Kundennummer, Telefonnummer; Dutch klantnummer).
        idEnd = i;
        idDot = false;
        idMin = ID_WORD_DIGITS;
        idLinks = 0;
        idNumbered = true;
      }
      if (f !== 0) {
        // Most words cue nothing: one test, then on.
        if (f & (ABBREV_FLAG | ABBREV_END_FLAG)) {
          // Written in capitals ("MR.", "CA.") it is an acronym, not the abbreviation.
          if (!isUpper(cased, i - 1)) wordDot = f & ABBREV_FLAG ? DOT_NONE : DOT_BEFORE_CAPITAL;
        } else if (f & ID_DOT_FLAG) wordDot = DOT_BEFORE_DIGIT;
        if (f & GERMAN_FLAG) germanWords++;
        // "por qué" (why) asks for an explanation: its "qué" identifies nothing.
        if (f & IDENTIFY_FLAG && !(prevFlags & WHY_BEFORE_FLAG && prevEnd === start - 1)) askPending++;
        if (f & NUMBER_WORD_FLAG) numberWords++;
        // Not a path segment ("/api/users", fetch('/api/u/')) nor Python's `<module>` in a traceback.
        if (f & API_FLAG && !(start > 0 && (u[start - 1] === 47 || (u[start - 1] === 60 && i < n && u[i] === 62)))) {
          apiWords++;
          if ((f & KIND_MASK) === CODE + 1) apiCodeCues++;
        }
        if (f & WRITE_FLAG) writeVerbs++;
        const d = (f & DOMAIN_MASK) >> DOMAIN_SHIFT;
        if (d > 0) into.domainHits[d - 1]!++;
        const k = f & KIND_MASK;
        // "zip code", "promo code", "penal code": no program.
        if (k > 0) {
          if (!(f & CODE_NOUN_FLAG && prevFlags & NOT_CODE_BEFORE_FLAG && prevEnd === start - 1)) into.kindHits[k - 1]!++;
        }
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
      // The integer part's value (capped), its digits and trailing zeros, and whether a decimal
      // separator follows: big and fractional quantities are where a weak model's arithmetic slips.
      const start0 = i - 1;
      let v = c - 48;
      let digits = 1;
      let zeros = c === 48 ? 1 : 0;
      let sep = false;
      // Dots between digits, and whether every group after one has three digits (1.000.000).
      let dots = 0;
      let group = 0;
      let thousands = true;
      // Thousands groups: the first separator's character, whether the other one came after it (a
      // decimal part: "1,234.56", "48.000,50") and how many separators followed that, whether every
      // group before it had three digits, and the value of the digits before it.
      let firstSep = 0;
      let switched = false;
      let afterSwitch = 0;
      let threes = true;
      let whole = v;
      while (i < n) {
        const d = u[i]!;
        if (isDigit(d)) {
          if (!switched && whole < 1e15) whole = whole * 10 + d - 48;
          if (!sep) {
            if (v < 1e15) v = v * 10 + d - 48;
            digits++;
            zeros = d === 48 ? zeros + 1 : 0;
          } else group++;
        } else if ((d === 46 || d === 44) && i + 1 < n && isDigit(u[i + 1]!)) {
          if (sep && group !== 3) thousands = false;
          if (switched) afterSwitch++;
          else if (firstSep === 0) firstSep = d;
          else if (d !== firstSep) switched = true;
          if (sep && !switched && group !== 3) threes = false;
          if (sep && switched && afterSwitch === 0 && group !== 3) threes = false;
          if (d === 46) dots++;
          sep = true;
          group = 0;
        } else break;
        i++;
      }
      // Thousands separators, not (only) a decimal: one to three digits, then groups of three by one
      // character — commas ("$5,000", "1,200,000"), or dots twice or more ("1.000.000"), or either
      // before a decimal part written with the other ("1,234.56", "48.000,50"): the quantity's size is
      // the whole integer (it was its first group: "$5,000" had the size of 5, "5000" of 5000). One dot
      // and three digits ("1.200") stays ambiguous (a decimal in English), and so its integer part —
      // unless a currency sign stands beside it ("10.000 €", "€ 1.500"): a price has two decimals, so
      // that is German thousands ("10.000 € Startkapital" was a decimal quantity, sending a tax
      // question to the cheapest tier; no train prompt has one: CV unchanged).
      const before = start0 > 0 ? u[start0 - 1]! : 0;
      const after = i < n ? u[i]! : 0;
      const next = i + 1 < n ? u[i + 1]! : 0;
      const money =
        isCurrency(before) || isCurrency(after) || (after === 32 && isCurrency(next)) || (before === 32 && start0 >= 2 && isCurrency(u[start0 - 2]!));
      const grouped = sep && digits <= 3 && threes && (switched ? afterSwitch === 0 : group === 3 && (firstSep === 44 || dots >= 2 || money));
      if (grouped) v = whole;
      // A version or a date, not a quantity or a decimal: one or two digits, then two dots or
      // more that are no thousands separators ("2.0.1", "24.12.2025"; 1.000.000 is a quantity),
      // or after a dot that ends a word ending in a digit ("v2.0.1": "0.1" after "v2."). Three
      // digits first ("562.903.9010", "192.168.1.1") stay as they were: that cost train CV.
      const dotted = !grouped && digits <= 2 && ((dots >= 2 && !(thousands && group === 3)) || (before === 46 && start0 >= 2 && isDigit(u[start0 - 2]!)));
      // A number grouped by thousands separators alone ("1,500 words", "$5,000") is a whole number,
      // as "1500" is: no decimal quantity (it counted as one, and the feature's negative weight sent
      // a 1,500-word novel and a mortgage question in euros to the cheapest tier). "1,234.56" still is.
      if (sep && !inFence && !dotted && !(grouped && !switched)) {
        if (isCurrency(before) || isCurrency(after) || (after === 32 && (isLetter(next) || isCurrency(next)))) decimals++;
      }
      let quantity = !inFence && !inTick;
      if (quantity) {
        if (phoneEnd >= 0 && start0 - phoneEnd <= 2 && phoneGap(u, phoneEnd, start0)) {
          quantity = false; // the next group of a phone number
          phoneEnd = i;
        } else if (
          before === 43 &&
          (start0 < 2 || !isWordOrClose(u[start0 - 2]!)) &&
          !sep &&
          (digits >= 6 || (digits <= 4 && isPhoneGap(after) && (isDigit(next) || next === 40)))
        ) {
          quantity = false; // "+49 30 1234567", "+1 (555) 123-4567": a phone number, not "+50 mV" or "3+4"
          phoneEnd = i;
        } else if (
          !sep &&
          digits === 3 &&
          (((after === 45 || after === 46) && digitGroup(u, i + 1, n, 3) && u[i + 4] === after && digitGroup(u, i + 5, n, 4)) ||
            (before === 40 && after === 41 && next === 32 && digitGroup(u, i + 2, n, 3)))
        ) {
          quantity = false; // "503-555-2817", "503.555.2817", "(503) 555-2817": a phone number written without its "+1" (a re-test round: +0.13)
          phoneEnd = i;
        } else if (
          // A long run of digits ("user 1234567") or one with a leading zero ("030", "007"), a
          // number after an id marker ("order #48213", "Bestellung Nr. 48213"), or one joined to
          // an identifier by "-" or "/" ("2023-0815").
          (!sep && ((digits >= ID_DIGITS && zeros < 3) || (c === 48 && digits >= 2))) ||
          dotted ||
          // Two capitals and a dash before it ("INV-2024-00017", "SN-2024"; not "mid-1990s",
          // "uranium-238"), or an ISO date ("2025-12-24").
          (before === 45 && start0 >= 3 && isUpper(cased, start0 - 2) && isUpper(cased, start0 - 3)) ||
          // One capital alone before the dash, at a word's start ("A-448213", "order B-7731"; not "T-shirt", which has no digits).
          (before === 45 && start0 >= 2 && isUpper(cased, start0 - 2) && (start0 === 2 || !isLetter(u[start0 - 3]!)) && digits >= 3) ||
          (digits === 4 && !sep && after === 45 && isDigit(next) && i + 3 < n && isDigit(u[i + 2]!) && u[i + 3] === 45) ||
          (idEnd >= 0 && start0 - idEnd <= 3 && digits >= idMin && idGap(u, idEnd, start0, idDot)) ||
          (start0 === idRunEnd + 1 && (before === 45 || before === 47))
        ) {
          quantity = false;
          idRunEnd = i;
          // A leading zero and four digits or more starts a phone number too ("07700 900123", "030 1234567"): its next group is none.
          if (c === 48 && !sep && digits >= 4) phoneEnd = i;
        }
      }
      // A German ordinal ("der 2. Weltkrieg", "im 19. Jahrhundert", "am 3. Oktober"): its dot ends no sentence.
      if (!sep && digits <= 3 && after === 46 && next === 32 && !inFence) {
        const adj = before === 32 && prevEnd === start0 - 1;
        if ((adj && prevFlags & ORDINAL_FLAG) || (digits <= 2 && GERMAN_MONTHS.has(wordAt(s, u, i + 1, n)))) noEndDot = i;
      }
      open = true;
      wordEnd = -1;
      if (quantity) numbers++;
      if (quantity && v > maxNumber) maxNumber = v;
      continue; // a number between two words keeps them a bigram ("how 2 many" as before)
    }
    // So does a space, a newline or a hyphen ("E-Mail-Adresse", "step-by-step"; a tab does not).
    if (c === 32 || c === 45) continue;
    if (c === 10) {
      inTick = false;
      continue;
    }
    if (c < 128) {
      if (c === 96) {
        if (i + 1 < n && u[i] === 96 && u[i + 1] === 96) {
          fences++;
          inFence = !inFence;
          i += 2;
        } else if (!inFence) inTick = !inTick;
      } else if (c === 35) {
        idEnd = i; // #48213
        idDot = false;
        idMin = 1;
        idLinks = 2;
      } else if (c === 92 && i < n && isLetter(u[i]!)) latex++; // \frac, \sum, \int …
      const k = ASCII[c]!;
      if (k !== 0) {
        if (k & PUNCT) codePunct++;
        if (k & MATH) mathSymbols++;
        if (!inFence) {
          // JavaScript's optional chaining (`user?.name`, `f?.(x)`) and ` ?? ` in pasted code ask nothing.
          if (c === 63 && !codeQuestionMark(u, i, n)) {
            questions++;
            identifyWords += askPending;
            askPending = 0;
          }
          if (k & SENTENCE_END && open && (i >= n || isSpace(u[i]!))) {
            if (c !== 46 || (wordEnd !== i - 1 ? noEndDot !== i - 1 : dotEnds(u, cased, i, n, wordDot))) {
              sentences++;
              if (words - sentWords >= MIN_SENTENCE_WORDS) {
                fullSentences++;
                if (plainSentence(words - sentWords, kinds[SMALLTALK]! - sentSmall, sentAck)) plainSentences++;
              }
              sentWords = words;
              sentSmall = kinds[SMALLTALK]!;
              sentAck = 0;
              open = false;
              askPending = 0;
            } else if (wordDot === DOT_INITIAL || wordDot === DOT_INITIAL_AFTER) initialDot = i - 1;
          }
        }
      }
    } else {
      if (c === 0x2116 || c === 0xba) {
        idEnd = i; // № 5, nº 5
        idDot = false;
        idMin = 1;
        idLinks = 2;
      }
      if (isMathSymbol(c)) mathSymbols++;
      if (!inFence) {
        if (uc & U_QUESTION) {
          questions++;
          identifyWords += askPending;
          askPending = 0;
        }
        // CJK writes no space after 。！？, so those end a sentence by themselves (and the others alike).
        if (uc & U_END && open) {
          sentences++;
          if (words - sentWords >= MIN_SENTENCE_WORDS) fullSentences++;
          // No plain sentence here: in a script without spaces a cue is looked up for a whole run only
          // ("你好！你今天怎么样？" is small talk as "Hi! How are you today?" is, its second run no cue).
          sentWords = words;
          sentSmall = kinds[SMALLTALK]!;
          sentAck = 0;
          open = false;
          askPending = 0;
        }
      }
      // An emoji (a surrogate pair): no letter, no word.
      if ((c & 0xfc00) === 0xd800 && i < n && (u[i]! & 0xfc00) === 0xdc00) i++;
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
  into.apiCodeCues += apiCodeCues;
  into.letters += letters;
  into.nonLatinLetters += nonLatin;
  into.numbers += numbers;
  into.mathSymbols += mathSymbols;
  into.latex += latex;
  into.codePunct += codePunct;
  into.fences += fences;
  into.questions += questions;
  into.sentences += sentences;
  // An unfinished last sentence ("Hi! what is the capital of France") is a request too.
  if (open && !inFence && words - sentWords >= MIN_SENTENCE_WORDS && plainSentence(words - sentWords, kinds[SMALLTALK]! - sentSmall, sentAck)) plainSentences++;
  into.fullSentences += fullSentences;
  into.plainSentences += plainSentences;
  into.decimals += decimals;
  into.maxNumber = maxNumber;
  into.singles += singles;
  into.goOn += goOn;
}
