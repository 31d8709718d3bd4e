/**
 * The scorer's named features, each a number in about [0, 1], from a chat-completions body.
 * The last user turn weighs most: task kinds found only in earlier turns or the system prompt
 * count half (small talk not at all). Pure: no I/O, no clock.
 */
import { CLOSING_PARTS, DOMAINS, KINDS, NOT_CLOSING, PLEASANTRY, SMALLTALK_CUES } from './cues.js';
import { addCounts, emptyCounts, scanText, type TextCounts } from './scan.js';

export const FEATURES = [
  ...KINDS.map((k) => `kind:${k}` as const),
  ...DOMAINS.map((d) => `domain:${d}` as const),
  'code:fence',
  'code:syntax',
  'code:identifiers',
  'math:numbers',
  'math:symbols',
  'math:latex',
  'math:decimals',
  'math:magnitude',
  'math:number_words',
  'ask:questions',
  'ask:identify',
  'ask:identify_domain',
  'ask:api',
  'struct:length',
  'struct:words[0-30]',
  'struct:words[30-50]',
  'struct:words[50-80]',
  'struct:words[80+]',
  'struct:sentences',
  'struct:context',
  'struct:turns',
  'struct:system',
  'struct:tools',
  'struct:json',
  'struct:max_tokens',
  'lang:de',
  'lang:non_latin',
] as const;
export type Feature = (typeof FEATURES)[number];

export interface RouteMessage {
  role?: unknown;
  content?: unknown;
}

export interface RouteRequest {
  messages: readonly RouteMessage[];
  tools?: unknown;
  response_format?: unknown;
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
}

/** The text of a message's content: a string, or the text parts of an array. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const p of content as unknown[]) {
    if (typeof p === 'object' && p !== null && typeof (p as { text?: unknown }).text === 'string') out += (out ? '\n' : '') + (p as { text: string }).text;
  }
  return out;
}

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);
const sat = (hits: number, full: number): number => clamp01(hits / full);
const log2 = Math.log2;
/** Domain words at which a domain feature saturates (train 5-fold CV: 1, 3 or 4 no better). */
const DOMAIN_FULL = 2;
/**
 * The word count's shape: log2(1 + words) / 10 cut at 30, 50 and 80 words (train quartiles) into
 * four segments, each its own weight ≥ 0 (a monotone piecewise-linear shape, a GAM term; one common
 * weight is the old linear feature). Train 5-fold CV: the gain stops at about 50 words.
 */
const WORD_EDGES = [0, Math.log2(31) / 10, Math.log2(51) / 10, Math.log2(81) / 10, 1] as const;

/** Combining marks (accents typed apart, as macOS input often sends them: "u" + U+0301) composed, so "número" is the cue it is. */
const COMBINING = /[\u0300-\u036f]/;
/**
 * Runs of more than this many combining marks are cut to it before composing: ICU reorders a run by
 * its marks' classes in time quadratic in its length ("e" and 64,000 marks of two classes: 2.3 s).
 * No letter of any script carries so many.
 */
const MAX_MARKS = 8;
const MARK_RUN = /\p{M}{9,}/gu;
/** `t` in NFC, its runs of combining marks cut to MAX_MARKS first (bounded work on any text). */
export const composed = (t: string): string => t.replace(MARK_RUN, (run) => run.slice(0, MAX_MARKS)).normalize('NFC');
const nfc = (t: string): string => (COMBINING.test(t) ? composed(t) : t);

/**
 * A short follow-up goes on with the conversation's task: a last user turn of at most
 * FOLLOW_UP_WORDS words of prose (one-letter words, a derivation's variables, and code in fences do
 * not count) that is no small talk, or asks to go on ("why?", "ok, continue", "can you finish it?",
 * "how do I fix it?"; not "thanks!", "lol", "good night"), is also scored as each of the
 * FOLLOW_UP_LOOKBACK user turns before it that set a task (a task cue, a fence, an identifier or
 * LaTeX; that turn read most, the rest its context), and the highest score counts (scorer.ts). A
 * proof's "why?" was scored as a short question of its own and sent to the cheapest tier, where the
 * proof had gone to the strong one. The last turn's reading sees the whole conversation, an earlier
 * turn's sees the turns up to it (as when it was asked), and adding a code block or a derivation to
 * the last turn adds no prose word and can only end its small talk, so it never lowers the score.
 * A first version read every multi-turn request so, and kept chit-chat and thanks on the strong
 * tier for three turns after any hard one.
 */
const FOLLOW_UP_WORDS = 12;
const FOLLOW_UP_LOOKBACK = 3;

/** Each message's counts, scanned once; the user turns' indices (oldest first); whether a system prompt is there. */
interface Turns {
  counts: TextCounts[];
  users: number[];
  system: boolean;
  /** Each message's text (read again only for a turn of small talk: `pleasantryOnly`). */
  texts: string[];
  /** Whether each message is a system or developer prompt (`instructions`): its cues and length are no turn's context. */
  instructions: boolean[];
  /** A user turn's pasted text, read apart from its ask (splitMaterial); null for most turns. */
  material: (TextCounts | null)[];
}

/** Letters and digits (with ' as in "what's"): a turn's words, or its runs in a script without spaces. */
const WORD_RUNS = /[\p{L}\p{N}']+/gu;

/**
 * A turn of small talk made of nothing else (cues.ts PLEASANTRY), with a greeting, thanks, farewell
 * or laugh among it: "haha thanks, bye!", "thank you so much for your help", "你好！". One with a
 * word besides ("thanks, but it fails", "hi, my card was charged twice", "ok, and how?") asks
 * something, however short, and "ok", "okay, sure" may consent to what the assistant offered: their
 * context goes on weighing.
 */
function pleasantryOnly(text: string): boolean {
  let closing = false;
  for (const m of text.toLowerCase().matchAll(WORD_RUNS)) {
    if (!PLEASANTRY.has(m[0])) return false;
    if ((SMALLTALK_CUES.has(m[0]) && !NOT_CLOSING.has(m[0])) || CLOSING_PARTS.has(m[0])) closing = true;
  }
  return closing;
}

function scanTurns(req: RouteRequest): Turns {
  const counts: TextCounts[] = [];
  const users: number[] = [];
  const texts: string[] = [];
  const marks: boolean[] = [];
  const material: (TextCounts | null)[] = [];
  let system = false;
  req.messages.forEach((m, i) => {
    if (m.role === 'user') users.push(i);
    const instructions = m.role === 'system' || m.role === 'developer';
    if (instructions) system = true;
    marks.push(instructions);
    let t = emptyCounts();
    const text = nfc(contentText(m.content));
    texts.push(text);
    const parts = m.role === 'user' ? splitMaterial(text) : null;
    let pasted: TextCounts | null = null;
    if (parts !== null) {
      scanText(parts.ask, t);
      if (ownTask(t, parts.ask)) {
        pasted = emptyCounts();
        scanText(parts.material, pasted);
      }
      // Read apart only when the ask is a task of its own on prose: pasted code, a stack trace, a
      // table or LaTeX is the task's substance, and so is pasted text the ask only hands over ("Can
      // you do this?", "How should we fix the problem described in this document?", "Is the claim
      // in the passage below true? Prove it."): a re-test round found a calculus problem in tags and a
      // system design in a document sent to fast_cheap. Inline `code` marks in a Markdown document
      // are prose's (a reference with them was read whole: ask:api +0.45).
      if (pasted !== null && (pasted.fences > 0 || (pasted.codePunct - backticks(parts.material)) * PROSE_PUNCT > pasted.words || pasted.latex > 0))
        pasted = null;
      if (pasted === null) t = emptyCounts();
      else t.identifiers += pasted.identifiers;
    }
    if (pasted === null) scanText(text, t);
    material.push(pasted);
    // A system prompt's "You are a …" gives the assistant its part; it asks for no role-play (nearly every production prompt begins so).
    if (instructions) t.kindHits[ROLEPLAY_KIND] = 0;
    counts.push(t);
  });
  return { counts, users, system, texts, instructions: marks, material };
}

const EXTRACTION_KIND = KINDS.indexOf('extraction');
const MATH_KIND = KINDS.indexOf('math');
const REASONING_KIND = KINDS.indexOf('reasoning');
const TRANSLATION_KIND = KINDS.indexOf('translation');
const WRITING_KIND = KINDS.indexOf('writing');
const EXPLAIN_KIND = KINDS.indexOf('explain');
/** "How many bicycles…?", "How long is the term?": a lookup the question words (`what`, `which`…) do not name. */
const HOW_MUCH = /\bhow\s+(?:many|much|long|old|often|far|big|large)\b|\bwie\s+(?:viele?|lange|oft|alt|gro(?:ß|ss))\b/i;

/**
 * An ask beside pasted text that is a task of its own: it asks to identify something in it (a
 * what/which/who/when/where/how-many question), or to summarise, extract, label, translate,
 * rewrite or explain it. Else it only hands the pasted text over, and that text is the task.
 */
function ownTask(ask: TextCounts, text: string): boolean {
  const k = ask.kindHits;
  // An ask that works the pasted text out ("What is the maximum? Prove it.", "Solve it", "estimate …,
  // show your working") makes it the task: a re-test round found such a problem read as context (balanced).
  if (k[MATH_KIND]! > 0 || k[MULTISTEP_KIND]! > 0 || k[REASONING_KIND]! > 0) return false;
  return ask.identifyWords > 0 || k[EXTRACTION_KIND]! > 0 || k[TRANSLATION_KIND]! > 0 || k[WRITING_KIND]! > 0 || k[EXPLAIN_KIND]! > 0 || HOW_MUCH.test(text);
}

function backticks(s: string): number {
  let n = 0;
  for (let i = s.indexOf('`'); i !== -1; i = s.indexOf('`', i + 1)) n++;
  return n;
}

/** Pasted prose has at most one code punctuation mark ({}();=_ …) per this many words. */
const PROSE_PUNCT = 8;
/** A turn's ask beside pasted text: at most this many words at its start or end… */
const ASK_MAX_WORDS = 40;
/** …and the pasted text at least this many words, and twice the ask's. */
const MATERIAL_MIN_WORDS = 50;
const OPEN_TAG = /<([A-Za-z][\w-]*)(?:\s[^<>]*)?>/g;
const CLOSE_TAG = /<\/([A-Za-z][\w-]*)\s*>/g;
/** A paragraph longer than this is no short ask (POINTS_AT is tried on asks only: bounded work on any input). */
const ASK_MAX_CHARS = 2000;
const PARAGRAPHS = /\n[ \t]*\n/;
const WORDS = /\S+/g;
/**
 * Pasted text named by what it is, next to a word that points at it (English, German, French,
 * Spanish): "the article", "this review", "the following text", "the document below", "the
 * contract:". An instruction so worded points at text to work on, where "implement a program
 * that:", "This task has two parts" or "In an epidemiological context, what is…" go on with the
 * task itself.
 */
const MATERIAL_NOUNS =
  '(?:article|articles|document|documents|documentation|docs|doc|text|texts|passage|excerpt|note|notice|policy|faq|announcement|snippet|thread|information|records|data|review|reviews|e-?mails?|message|messages|transcript|notes|contract|report|letter|ticket|tickets|story|essay|paragraph|context|abstract|post|tweet|comments?|conversation|chat|dialogue|minutes|memo|webpage|page|chapter|speech|lyrics|poem|artikel|dokument|abschnitt|bewertung|vertrag|bericht|brief|nachricht|protokoll|kontext|texte|documento|texto|art\u00edculo|rese\u00f1a|correo)';
const POINTS_AT = new RegExp(
  `\\b(?:this|these|that|the|following|below|above|attached|provided|given|dies\\w*|de[nmrs]|die|das|folgende\\w*|obige\\w*|ce|cet|cette|ces|le|la|les|este|esta|estos|el)\\s+(?:[\\p{L}-]+\\s+){0,2}?${MATERIAL_NOUNS}\\b|\\b${MATERIAL_NOUNS}\\s*(?:below|above|here|attached|provided|unten|oben|ci-dessous|abajo)?\\s*:\\s*$|\\b${MATERIAL_NOUNS}\\s+(?:below|above|here|attached|provided|unten|oben|ci-dessous|abajo)\\b`,
  'iu',
);
/** A last paragraph that asks about what came before: "Question: …", "Q: …", "Frage: …". */
const QUESTION_LABEL = /^\s*(?:question|q|frage|pregunta|aufgabe)\s*:/i;
const pointsAt = (p: string): boolean => p.length <= ASK_MAX_CHARS && POINTS_AT.test(p);

/**
 * The text's blocks in tags (`<document>…</document>`: each open tag to the first close of its
 * name after it, not nested) taken out of it, in one pass: a lazy regex over the whole text tried
 * every open tag against the rest of it (120 KB of "<a>" and one "</b>" took 1.8 s). Null when there is none.
 */
function taggedBlocks(text: string): { ask: string; material: string } | null {
  const closes = new Map<string, Array<{ at: number; end: number }>>();
  for (const m of text.matchAll(CLOSE_TAG)) {
    const name = m[1]!.toLowerCase();
    let list = closes.get(name);
    if (list === undefined) closes.set(name, (list = []));
    list.push({ at: m.index, end: m.index + m[0].length });
  }
  if (closes.size === 0) return null;
  const next = new Map<string, number>();
  let ask = '';
  let material = '';
  let from = 0;
  for (const m of text.matchAll(OPEN_TAG)) {
    if (m.index < from) continue;
    const name = m[1]!.toLowerCase();
    const list = closes.get(name);
    if (list === undefined) continue;
    const open = m.index + m[0].length;
    // Each name's closes are passed once: the blocks taken do not overlap, so its pointer only moves on.
    let i = next.get(name) ?? 0;
    while (i < list.length && list[i]!.at < open) i++;
    next.set(name, i);
    if (i === list.length) continue;
    const close = list[i]!;
    ask += `${text.slice(from, m.index)}\n\n`;
    material += `${text.slice(open, close.at)}\n\n`;
    from = close.end;
  }
  return from === 0 ? null : { ask: ask + text.slice(from), material };
}
const wordCount = (s: string): number => {
  let n = 0;
  WORDS.lastIndex = 0;
  while (WORDS.exec(s) !== null) n++;
  return n;
};

/**
 * A user turn that pastes text to work on (a retrieved document, an article, a review, a contract)
 * beside a short ask, split into the two: the ask is read as the turn, the pasted text as its
 * context (its length `struct:context`, its task words at half weight, as an earlier turn's).
 * The pasted text is a block in tags (`<document>…</document>`), or the paragraphs between a
 * first paragraph that points at it ("Summarise this article in three sentences.", "Extract the
 * invoice number:") and/or a last one ("Question: What is the annual fee?"), each at most
 * ASK_MAX_WORDS words, the pasted text at least MATERIAL_MIN_WORDS and twice the ask. An app
 * round found every question over an API reference on high_quality (0.86: the document's "API",
 * its sentences and its "1000" read as the task) and a one-word sentiment label of a review at
 * 0.65. Null when the turn has no such shape (most turns; the scan is then one pass, as before).
 */
export function splitMaterial(text: string): { ask: string; material: string } | null {
  if (text.length < 300) return null;
  const tagged = text.includes('</') ? taggedBlocks(text) : null;
  if (tagged !== null) {
    const { ask, material } = tagged;
    const askWords = wordCount(ask);
    if (askWords > 0 && askWords <= 2 * ASK_MAX_WORDS) {
      const pasted = wordCount(material);
      if (pasted >= MATERIAL_MIN_WORDS && pasted >= 2 * askWords) return { ask, material };
    }
  }
  const paras = text.split(PARAGRAPHS);
  if (paras.length < 2) return null;
  const first = paras[0]!;
  const last = paras[paras.length - 1]!;
  const fw = wordCount(first);
  const lw = wordCount(last);
  const head = fw > 0 && fw <= ASK_MAX_WORDS && pointsAt(first);
  const tail = paras.length > 2 || !head ? lw > 0 && lw <= ASK_MAX_WORDS && (QUESTION_LABEL.test(last) || pointsAt(last)) : false;
  if (!head && !tail) return null;
  const from = head ? 1 : 0;
  const to = tail ? paras.length - 1 : paras.length;
  if (to <= from) return null;
  const material = paras.slice(from, to).join('\n\n');
  const askWords = (head ? fw : 0) + (tail ? lw : 0);
  const pasted = wordCount(material);
  if (pasted < MATERIAL_MIN_WORDS || pasted < 2 * askWords) return null;
  return { ask: head && tail ? `${first}\n\n${last}` : head ? first : last, material };
}

/**
 * The turn read as the request (`scored`, a message index) and the messages before `upto` (all of
 * them, or an earlier turn's own past: featureCandidates) as its context. A system or developer
 * prompt is no context: it is the app's, the same on every turn, so its task words and its length
 * say nothing of what this turn asks (`struct:system` says it is there). An app round found every
 * turn to a support bot with a 560-word persona on high_quality ("What is my balance?", "thanks,
 * that sorted it. bye!"): the persona's "details", "steps" and "after" read as extraction and
 * multi-step work (+0.06 each) and its length as a long conversation (+0.08).
 */
function splitTurns(
  t: Turns,
  scored: number,
  upto = t.counts.length,
): { last: TextCounts; context: TextCounts; userTurns: number; system: boolean; pleasantry: boolean } {
  const context = emptyCounts();
  for (let i = 0; i < upto; i++) {
    if (t.instructions[i]) continue;
    if (i !== scored) addCounts(context, t.counts[i]!);
    const pasted = t.material[i];
    if (pasted) addCounts(context, pasted);
  }
  const last = t.counts[scored] ?? emptyCounts();
  // Read only for a turn of small talk (rare): the others never pay for it.
  const pleasantry = smalltalk(last) > 0 && pleasantryOnly(t.texts[scored] ?? '');
  let userTurns = t.users.length;
  if (upto < t.counts.length) for (const u of t.users) if (u >= upto) userTurns--;
  return { last, context, userTurns, system: t.system, pleasantry };
}

/** The message a request is read as: its last user turn (else its last message). */
const lastTurn = (t: Turns): number => (t.users.length > 0 ? t.users[t.users.length - 1]! : t.counts.length - 1);

/** The largest max_tokens clients commonly send for every request; only beyond it is it evidence (`struct:max_tokens`). */
const MAX_TOKENS_DEFAULTS = 4096;

function maxTokens(req: RouteRequest): number | null {
  const v = typeof req.max_completion_tokens === 'number' ? req.max_completion_tokens : req.max_tokens;
  return typeof v === 'number' && v > 0 ? v : null;
}

function jsonOutput(rf: unknown): boolean {
  const t = typeof rf === 'object' && rf !== null ? (rf as { type?: unknown }).type : undefined;
  return t === 'json_object' || t === 'json_schema';
}

const CODE_KIND = KINDS.indexOf('code');
const SMALLTALK_KIND = KINDS.indexOf('smalltalk');
const MULTISTEP_KIND = KINDS.indexOf('multistep');
const ROLEPLAY_KIND = KINDS.indexOf('roleplay');
/** A last turn this short with a small-talk cue is small talk whole. */
const SHORT_TURN_WORDS = 6;
/** A last turn longer than this is no small talk, whatever cue it has (the first word-count segment, WORD_EDGES). */
const SMALLTALK_MAX_WORDS = 30;

/**
 * A task in the last turn: a cue of another task kind (code, math, extraction, reasoning, explain,
 * writing, roleplay, translation; not the connectives of `multistep` — then, after, left —, which
 * chat has as often), a code fence, an identifier or LaTeX. A turn with one is a request, not small
 * talk, whatever "ok", "cool" or "weather" it has ("ok so why does my Rust closure…", "a Python
 * script that fetches the weather API").
 */
function taskCue(l: TextCounts): boolean {
  for (let k = 0; k < KINDS.length; k++) if (k !== SMALLTALK_KIND && k !== MULTISTEP_KIND && l.kindHits[k]! > 0) return true;
  return l.fences > 0 || l.identifiers > 0 || l.latex > 0;
}

/**
 * `kind:smalltalk`: the last turn IS small talk — it has a small-talk cue, no task cue, and is
 * short (SMALLTALK_MAX_WORDS). Full in a turn of six words at most ("Good morning!", "Thank you so
 * much!"), as two cues make it; else half a cue's worth per cue.
 */
function smalltalk(l: TextCounts): number {
  const hits = l.kindHits[SMALLTALK_KIND]!;
  // A sentence of three words or more without a small-talk cue is a request beside the pleasantry:
  // "Hi! List the planets of the solar system." is no small talk (it had −0.06), nor is "Hi! can you
  // give an example?" after a code question (it lost the follow-up rule: high_quality → fast_cheap).
  if (hits === 0 || l.words > SMALLTALK_MAX_WORDS || taskCue(l) || l.plainSentences > 0) return 0;
  return l.words <= SHORT_TURN_WORDS ? 1 : sat(hits, 2);
}

/**
 * Programming evidence in the last turn or its context: a code cue word other than an API word
 * ("What is an API?" has none), an API word beside another ("Which API of the requests library"),
 * an identifier (`snake_case`, `dotted.name`) or a code fence.
 */
function programming(l: TextCounts, c: TextCounts): boolean {
  const cues = (t: TextCounts): boolean => t.kindHits[CODE_KIND]! > t.apiCodeCues || (t.apiCodeCues > 0 && t.apiWords > 1) || t.fences > 0;
  return cues(l) || l.identifiers > 0 || cues(c);
}

/** The feature vector, in the order of FEATURES. */
export function extractFeatures(req: RouteRequest): Float64Array {
  const t = scanTurns(req);
  return featuresOf(req, splitTurns(t, lastTurn(t)));
}

/**
 * The request's feature vectors: read as its last user turn, then, when that turn is a short
 * follow-up (FOLLOW_UP_WORDS), as each of the FOLLOW_UP_LOOKBACK user turns before it that set a
 * task. The scorer takes the highest score.
 */
export function featureCandidates(req: RouteRequest): Float64Array[] {
  const t = scanTurns(req);
  const last = lastTurn(t);
  const out = [featuresOf(req, splitTurns(t, last))];
  const l = t.counts[last];
  if (t.users.length < 2 || l === undefined || l.words - l.singles > FOLLOW_UP_WORDS || (smalltalk(l) > 0 && l.goOn === 0)) return out;
  for (let k = t.users.length - 2; k >= 0 && k >= t.users.length - 1 - FOLLOW_UP_LOOKBACK; k--) {
    const at = t.users[k]!;
    // Only a turn that set a task (code, math, an explanation…, a fence, an identifier, LaTeX) is gone on with:
    // "what is the capital of France?" in a chit-chat kept the next turns on the strong tier.
    // Read as it was when it was asked (the turns before it its context): a follow-up asks no more
    // than its task did ("and in Italian?" after a translation was a tier above the translation
    // itself, as the conversation's turns and the answer since counted on top of it).
    if (taskCue(t.counts[at]!)) out.push(featuresOf(req, splitTurns(t, at, at + 1)));
  }
  return out;
}

function featuresOf(req: RouteRequest, turns: ReturnType<typeof splitTurns>): Float64Array {
  const { last: l, context: c, userTurns, system, pleasantry } = turns;
  const x = new Float64Array(FEATURES.length);
  let j = 0;
  // Small talk counts in the last turn only, and only when that turn is small talk (smalltalk()):
  // a "hi" before a hard question, an "ok" or a "weather" inside one, does not make it easy.
  // A turn of small talk through and through is small talk whole, however many of its words
  // ("Thank you so much for your help!" was half of it, and balanced).
  const chat = pleasantry ? 1 : smalltalk(l);
  // What surrounds a turn of small talk through and through (pleasantryOnly) says nothing of what
  // answering it takes: the conversation's depth and length, the system prompt and its cues, the
  // tools and JSON mode an app sends with every turn weigh nothing. A conversations round
  // found "haha thanks, bye!" on high_quality after eleven turns (struct:turns +0.16 over
  // kind:smalltalk −0.13) and "hi" to a support bot with a long system prompt on balanced. A turn
  // with any other word ("thanks, but it fails", "hi, my card was charged twice": a re-test round
  // found them lose their context and go a tier down) keeps all of it, as does any task cue, fence,
  // identifier or sentence of a request (they end the small talk): adding a code block or a derivation
  // to a turn still never lowers its score.
  const around = pleasantry ? 0 : 1;
  for (let k = 0; k < KINDS.length; k++) x[j++] = k === SMALLTALK_KIND ? chat : Math.max(sat(l.kindHits[k]!, 2), around * 0.5 * sat(c.kindHits[k]!, 2));
  for (let d = 0; d < DOMAINS.length; d++) x[j++] = Math.max(sat(l.domainHits[d]!, DOMAIN_FULL), around * 0.5 * sat(c.domainHits[d]!, DOMAIN_FULL));
  const chars = Math.max(l.chars, 1);
  x[j++] = l.fences > 0 ? 1 : c.fences > 0 ? 0.5 * around : 0;
  // Counts, not densities: adding text can only add evidence (the score stays monotone in it).
  x[j++] = sat(l.codePunct, 40);
  x[j++] = sat(l.identifiers, 4);
  x[j++] = clamp01(log2(1 + l.numbers) / 4);
  x[j++] = clamp01(l.mathSymbols / 6);
  x[j++] = sat(l.latex, 3);
  // Size and kind of the quantities (language-neutral): 5-fold CV on train, GSM8K APGR
  // 0.561 -> 0.603, mean over the sets 0.567 -> 0.585.
  x[j++] = sat(l.decimals, 3);
  x[j++] = (l.numbers >= 2 || l.numberWords > 0 ? 1 : 0.5) * clamp01(log2(1 + l.maxNumber) / 20);
  x[j++] = sat(l.numberWords, 3);
  x[j++] = sat(l.questions, 3);
  // By the question's length: none at 8 words or fewer, all from 20 (docs/routing.md, twentieth round).
  // The weight was learned from exam questions with their options; it sent every short lookup
  // ("What is the capital of France?") just over high_quality, where the data says nothing of them.
  const identify = sat(l.identifyWords, 2) * clamp01((l.words - 8) / 12);
  x[j++] = identify;
  // A who/when/which question on a subject (history, medicine…) is recall both tiers share: the
  // product, free in sign, comes out negative (train 5-fold CV, see README "fifth round").
  let domain = 0;
  for (let d = 0; d < DOMAINS.length; d++) domain = Math.max(domain, x[KINDS.length + d]!);
  x[j++] = identify * domain;
  // An API word counts beside programming evidence only: "package", "library", "module",
  // "framework" (Paket, Bibliothek…) name parcels, public libraries, course modules and legal
  // frameworks in support and business traffic, where the weak tier does as well.
  x[j++] = programming(l, c) ? sat(l.apiWords, 1) : 0;
  x[j++] = clamp01(log2(chars / 64) / 6);
  // Words and sentences beside characters: a multi-step problem is many short sentences, a
  // pasted table or code is many characters and few words (5-fold CV on train: +0.005 mean APGR).
  const words = clamp01(log2(1 + l.words) / 10);
  for (let k = 0; k < 4; k++) x[j++] = Math.min(Math.max(words - WORD_EDGES[k]!, 0), WORD_EDGES[k + 1]! - WORD_EDGES[k]!);
  // A pleasantry's sentence is no sentence of a task ("Thank you so much for your help!" had +0.08).
  x[j++] = pleasantry ? 0 : clamp01(log2(1 + l.fullSentences) / 5);
  x[j++] = around * clamp01(log2(1 + c.chars / 256) / 6);
  x[j++] = around * clamp01(log2(Math.max(userTurns, 1)) / 3);
  x[j++] = system ? around : 0;
  x[j++] = Array.isArray(req.tools) && req.tools.length > 0 ? around : 0;
  x[j++] = jsonOutput(req.response_format) ? around : 0;
  const mt = maxTokens(req);
  // Only beyond what SDKs and frameworks send by default (1,024–4,096, set once for every
  // request): a fixed max_tokens of 4,096 put "thanks" a tier higher than the same prompt
  // without one. 8 Ki 1/3, 16 Ki 2/3, 32 Ki and more 1.
  x[j++] = mt === null ? 0 : around * clamp01(log2(mt / MAX_TOKENS_DEFAULTS) / 3);
  x[j++] = sat(l.germanWords + c.germanWords, 4);
  x[j++] = sat(l.nonLatinLetters + c.nonLatinLetters, 40);
  return x;
}
