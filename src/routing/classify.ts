/**
 * The classifier: deterministic and explainable. From the hints, the prompt's words and size
 * and the body's shape it picks a tier and says why in one line. Pure: no I/O, no clock.
 */
import { nativeOf } from '../apis/native.js';
import { own } from '../config/lookup.js';
import type { AutoConfig, ClassifierConfig, Tier, Capability } from '../config/schema.js';
import { TIERS } from '../config/schema.js';
import { composed, type RouteRequest } from './features.js';
import { DEFAULT_MODEL, explain, scoreRequest, thresholdForShare, tierForScore, type RouterModel, type Thresholds } from './scorer.js';

export interface ClassifyInput {
  /** `x-switchyard-task` */
  task: string | null;
  /** `x-switchyard-tier` */
  tier: string | null;
  /** Text of the last user turn (the keyword rule reads it). */
  text: string;
  promptTokens: number;
  turns: number;
  /** The whole body for the scorer (turns, system prompt, tools, JSON mode, max_tokens); `text` alone when absent. */
  request?: RouteRequest;
  /**
   * The client's API requires `max_tokens` (Anthropic's Messages API): there it says nothing about
   * the answer the client expects, so the scorer does not read it (`struct:max_tokens`), and a
   * request routes as it does on chat completions without one.
   */
  maxTokensRequired?: boolean;
  /**
   * The prompt's exact count, when `promptTokens` is the quick estimate (a third of its bytes,
   * which English runs a third over): asked only when that estimate is over `longPromptTokens`.
   */
  exactPromptTokens?: () => number;
}

export interface Classification {
  tier: Tier;
  reason: string;
  keywordHits: string[];
  /** The scorer's score in [0, 1]; null when a hint or a rule decided. */
  score?: number | null;
}

/** The thresholds in force: explicit ones, else the strong share's, else the trained defaults. */
export function autoThresholds(auto: AutoConfig | undefined, model: RouterModel = DEFAULT_MODEL): Thresholds {
  if (auto?.thresholds) return auto.thresholds;
  if (auto?.strongShare !== undefined) {
    const highQuality = thresholdForShare(auto.strongShare, model.quantiles);
    return { highQuality, balanced: Math.min(model.thresholds.balanced, highQuality) };
  }
  return model.thresholds;
}

/**
 * Score and threshold with two decimals, or as many more (up to six) as it takes to tell them
 * apart: "score 0.538 < 0.540", never "score 0.54 < 0.54". Rounding is monotone, so printed
 * numbers that differ keep the order of the true ones.
 */
function apart(score: number, threshold: number): [string, string] {
  for (let d = 2; d < 6; d++) {
    const a = score.toFixed(d);
    const b = threshold.toFixed(d);
    if (a !== b) return [a, b];
  }
  return [score.toFixed(6), threshold.toFixed(6)];
}

/** The task names of the spec's `x-switchyard-task` (one that no tier list names means `balanced`, as in the seed's rules). */
const SPEC_TASKS: ReadonlySet<string> = new Set(['greeting', 'simple_qa', 'translation', 'chat', 'code', 'explanation', 'longform', 'analysis', 'creative']);

/** A request as the scorer reads it: the Messages API's required max_tokens says nothing (`maxTokensRequired`), so it is left out. */
export function scoredRequest(req: RouteRequest, maxTokensRequired: boolean | undefined): RouteRequest {
  return maxTokensRequired ? { ...req, max_tokens: undefined, max_completion_tokens: undefined } : req;
}

/** The scorer's decision, with its top contributions as the reason. */
function scored(input: ClassifyInput, auto: AutoConfig | undefined, prefix: string, hits: string[]): Classification {
  const r = scoreRequest(scoredRequest(input.request ?? { messages: [{ role: 'user', content: input.text }] }, input.maxTokensRequired));
  const t = autoThresholds(auto);
  const tier = tierForScore(r.score, t);
  let verdict: string;
  if (tier === 'balanced') {
    // Both bounds: "score 0.58 >= 0.54" alone reads as if it had passed high_quality's 0.59 too.
    const [low, b] = apart(r.score, t.balanced);
    const [high, h] = apart(r.score, t.highQuality);
    verdict = `score ${high.length > low.length ? high : low} >= ${b}, < ${h}`;
  } else {
    const [shown, crossed] = apart(r.score, tier === 'high_quality' ? t.highQuality : t.balanced);
    verdict = `score ${shown} ${tier === 'fast_cheap' ? '<' : '>='} ${crossed}`;
  }
  return { tier, reason: `${prefix}${verdict} → ${tier}: ${explain(r, 3, tier === 'fast_cheap' ? 'down' : 'up')}`, keywordHits: hits, score: r.score };
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A keyword in a script written without spaces between words: Han, kana, Thai, Lao, Khmer, Myanmar. */
const UNSPACED = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}ー]+$/u;

/** Whole-word, case-insensitive, Unicode-aware matcher for a keyword list (cached per list). */
const matchers = new WeakMap<readonly string[], RegExp>();
function keywordRegex(words: readonly string[]): RegExp {
  let re = matchers.get(words);
  if (!re) {
    const sorted = [...words].sort((a, b) => b.length - a.length).map((w) => w.normalize('NFC'));
    // \p{L}\p{N} boundaries instead of \b, which only knows ASCII word characters; a keyword in a
    // script written without spaces (证明, 証明して, พิสูจน์) has no word boundary to look for.
    const bounded = sorted.filter((w) => !UNSPACED.test(w)).map(escape);
    const free = sorted.filter((w) => UNSPACED.test(w)).map(escape);
    const parts = [
      ...(bounded.length > 0 ? [`(?<![\\p{L}\\p{N}_])(?:${bounded.join('|')})(?![\\p{L}\\p{N}_])`] : []),
      ...(free.length > 0 ? [`(?:${free.join('|')})`] : []),
    ];
    re = new RegExp(parts.join('|'), 'giu');
    matchers.set(words, re);
  }
  re.lastIndex = 0;
  return re;
}

export function keywordHits(text: string, words: readonly string[]): string[] {
  if (words.length === 0 || text.length === 0) return [];
  const hits: string[] = [];
  for (const m of composed(text).matchAll(keywordRegex(words))) hits.push(m[0].toLowerCase());
  return hits;
}

export function isTier(s: string): s is Tier {
  return (TIERS as readonly string[]).includes(s);
}

/** Keywords are looked for in the first this-many characters of user text: bounded work on any prompt. */
export const CLASSIFY_CHARS = 256 * 1024;

/**
 * A short, printable excerpt of a header value for the reason header (never the whole of it).
 * A header's bytes reach us one character each (latin1): every byte outside printable ASCII, and
 * `%` and `"`, is percent-encoded, so a UTF-8 value (`übersetzen` from curl) reads back with
 * `decodeURIComponent` (`%C3%BCbersetzen`); it was `??bersetzen`.
 */
export function excerpt(s: string): string {
  // Cut at 32 bytes, but not inside a UTF-8 sequence (a continuation byte is 10xxxxxx): the part shown still decodes.
  let end = Math.min(32, s.length);
  while (end > 0 && end < s.length && (s.charCodeAt(end) & 0xc0) === 0x80) end--;
  const clean = s.slice(0, end).replace(/[^\x20-\x21\x23\x24\x26-\x7e]/g, (c) => {
    const b = c.charCodeAt(0);
    return b < 256 ? `%${b.toString(16).toUpperCase().padStart(2, '0')}` : encodeURIComponent(c);
  });
  return end < s.length ? `${clean}...` : clean;
}

/**
 * The text of the last user turn, for the keyword rule: a string content, or the text parts of a
 * content array (what the Vercel AI SDK, LangChain and image requests send), joined by newlines.
 * Earlier turns are not read: a "thanks!" after a proof is not a proof.
 */
export function userText(messages: ReadonlyArray<{ role?: unknown; content?: unknown }>): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (!Array.isArray(m.content)) return '';
    const texts: string[] = [];
    for (const p of m.content as unknown[]) {
      const t = typeof p === 'object' && p !== null ? (p as { text?: unknown }).text : undefined;
      if (typeof t === 'string') texts.push(t);
    }
    return texts.join('\n');
  }
  return '';
}

/**
 * Whether the client's hint decides the tier (as {@link classify} reads it: a valid
 * `x-switchyard-tier`, or a task a tier list or the spec's task list names), not the router.
 */
export function hintDecides(input: Pick<ClassifyInput, 'tier' | 'task'>, cfg: ClassifierConfig): boolean {
  if (input.tier !== null && isTier(input.tier)) return true;
  const task = input.task?.trim().toLowerCase() || null;
  if (task === null) return false;
  return own(cfg.tasks, task) !== undefined || cfg.simpleTasks.includes(task) || cfg.complexTasks.includes(task) || SPEC_TASKS.has(task);
}

export function classify(input: ClassifyInput, cfg: ClassifierConfig, auto?: AutoConfig): Classification {
  if (input.tier !== null && isTier(input.tier)) {
    // A task hint sent beside it does not decide: said, as an unknown task is.
    const task = input.task?.trim() || null;
    const ignored = task === null ? '' : `; task "${excerpt(task)}" ignored (x-switchyard-tier decides)`;
    return { tier: input.tier, reason: `tier forced by x-switchyard-tier: ${input.tier}${ignored}`, keywordHits: [] };
  }
  const task = input.task?.trim().toLowerCase() || null;
  if (task !== null) {
    const mapped = own(cfg.tasks, task);
    if (mapped) return { tier: mapped, reason: `task "${task}" → ${mapped} (config)`, keywordHits: [] };
    if (cfg.simpleTasks.includes(task)) return { tier: 'fast_cheap', reason: `task "${task}" is simple → fast_cheap`, keywordHits: [] };
    if (cfg.complexTasks.includes(task)) return { tier: 'high_quality', reason: `task "${task}" is complex → high_quality`, keywordHits: [] };
  }
  const hits = keywordHits(input.text.length > CLASSIFY_CHARS ? input.text.slice(0, CLASSIFY_CHARS) : input.text, cfg.complexityKeywords);
  // Distinct keywords: "design design design" is one keyword said three times, not three.
  const distinct = hits.length > 1 ? [...new Set(hits)] : hits;
  if (distinct.length >= cfg.complexityThreshold) {
    return {
      tier: 'high_quality',
      reason: `${distinct.length} complexity keywords (${distinct.slice(0, 4).join(', ')}) ≥ ${cfg.complexityThreshold} → high_quality`,
      keywordHits: hits,
      score: null,
    };
  }
  const long = input.promptTokens > cfg.longPromptTokens ? (input.exactPromptTokens?.() ?? input.promptTokens) : 0;
  if (long > cfg.longPromptTokens) {
    return {
      tier: 'high_quality',
      reason: `long prompt (${long} tokens > ${cfg.longPromptTokens}) → high_quality`,
      keywordHits: hits,
      score: null,
    };
  }
  // A task of the spec's list that no tier list names keeps the seed's meaning: balanced. The
  // scorer decides when there is no hint or the hint is unknown.
  if (task !== null && SPEC_TASKS.has(task))
    return { tier: 'balanced', reason: `task "${task}" → balanced (no tier list names it)`, keywordHits: hits, score: null };
  const notes: string[] = [];
  // The hint as sent (not lowercased: that would change a UTF-8 value's bytes).
  if (task !== null) notes.push(`unknown task "${excerpt(input.task?.trim() ?? task)}" ignored`);
  if (distinct.length > 0) notes.push(`${distinct.length} complexity keyword(s) < ${cfg.complexityThreshold}`);
  return scored(input, auto, notes.length > 0 ? `${notes.join('; ')}; ` : '', hits);
}

/**
 * Capabilities a request needs, read from its body. A Messages request whose last turn is the
 * assistant's (Anthropic's prefill: "start the answer with this") needs `prefill`: a model without
 * it answers afresh instead of continuing the text, which the client did not ask for.
 */
export function requiredCapabilities(body: {
  messages: Array<{ role?: unknown; content?: unknown }>;
  tools?: unknown;
  response_format?: unknown;
}): Capability[] {
  const caps: Capability[] = [];
  if (nativeOf(body)?.kind === 'anthropic-messages' && endsWithAssistantText(body.messages)) caps.push('prefill');
  if (body.messages.some((m) => Array.isArray(m.content) && m.content.some(seenPart))) caps.push('vision');
  if (Array.isArray(body.tools) && body.tools.length > 0) caps.push('tools');
  const rf = body.response_format as { type?: unknown } | null | undefined;
  if (rf && (rf.type === 'json_object' || rf.type === 'json_schema')) caps.push('json');
  return caps;
}

/**
 * A part a model must see: an image, or a file (a PDF's pages are read as images by every provider
 * that takes one); a file whose data is plain text is only read.
 */
function seenPart(p: unknown): boolean {
  if (typeof p !== 'object' || p === null) return false;
  const { type, file } = p as { type?: unknown; file?: unknown };
  if (type === 'image_url') return true;
  if (type !== 'file') return false;
  const data = typeof file === 'object' && file !== null ? (file as { file_data?: unknown }).file_data : undefined;
  return !(typeof data === 'string' && /^data:text\/plain[;,]/i.test(data));
}

/** Whether the last message is the assistant's, with text in it (a prefill). */
function endsWithAssistantText(messages: ReadonlyArray<{ role?: unknown; content?: unknown }>): boolean {
  const last = messages[messages.length - 1];
  if (last?.role !== 'assistant') return false;
  const c = last.content;
  if (typeof c === 'string') return c.length > 0;
  return (
    Array.isArray(c) &&
    c.some((p: unknown) => typeof p === 'object' && p !== null && typeof (p as { text?: unknown }).text === 'string' && (p as { text: string }).text.length > 0)
  );
}
