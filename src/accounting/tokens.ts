/**
 * Prompt token counts before a request is sent: for budget reservations (worst-case cost),
 * the context-window filter, the classifier's size signal, and ledger rows marked
 * `estimated` when an upstream returns no usage.
 *
 * Encoding: **o200k_base**, the tokenizer of the OpenAI models switchyard routes to (gpt-4o,
 * gpt-4.1, o-series, gpt-5). cl100k_base is older (gpt-4, gpt-3.5) and spends noticeably
 * more tokens on non-English text. For Claude, Gemini and DeepSeek, which use their own
 * tokenizers, o200k is an estimate either way; the upstream's reported usage is what gets
 * billed whenever there is one.
 */
import { createRequire } from 'node:module';

type O200k = typeof import('gpt-tokenizer/encoding/o200k_base');
let o200k: O200k | null = null;

/**
 * The o200k tables take about a second of CPU and 60-70 MB to load, so they are loaded on the
 * first exact count, not at import: commands that never count never pay, and an idle sidecar
 * stays small. The sidecar counts exactly only for long prompts, tools, and answers that came
 * without usage (reservations use a byte bound), so the first such request pays the load once.
 */
export function loadTokenizer(): O200k {
  o200k ??= createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as O200k;
  return o200k;
}

/** Whether the o200k tables are loaded (a replica on Redis loads them before it takes its lease). */
export const tokenizerLoaded = (): boolean => o200k !== null;
import { countInPieces } from './token-pieces.js';

/** The part of an OpenAI chat message that counts toward the prompt. */
export type ChatMessageLike = { role: string; content?: unknown; name?: string; tool_calls?: unknown };

/** OpenAI chat format: every message is wrapped in `<|start|>{role}<|message|>…<|end|>`. */
const TOKENS_PER_MESSAGE = 3;
/** A `name` field costs its own tokens plus one separator. */
const TOKENS_PER_NAME = 1;
/** Every reply is primed with `<|start|>assistant<|message|>`. */
const REPLY_PRIMING_TOKENS = 3;
/**
 * An image part, counted as OpenAI's low-detail image (a flat 85 tokens). High-detail images
 * cost 85 + 170 per 512-px tile, which needs the image's size: a request-time count cannot
 * download images, so vision prompts are under-estimated here and billed from usage later.
 */
export const IMAGE_PART_TOKENS = 85;

/**
 * User text may contain strings like `<|endoftext|>`. The API treats them as plain text; so do
 * we (gpt-tokenizer's default would throw on them).
 */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/**
 * Beyond this many characters a text is not counted whole: {@link SAMPLE_WINDOWS} windows spread
 * evenly over it, EXACT_TEXT_CHARS in all, are counted and the count scaled to its length. The
 * count stays an estimate either way (reservations hold the prompt's byte bound, not this), and
 * the work per text stays small: 256 Ki characters counted whole held the event loop 0.3 s for
 * random letters and 1 s for CJK text; 8 Ki in pieces of 256 (token-pieces.ts) take 20-40 ms and
 * 40-80 ms. Windows over the whole text, not its head: a prompt of
 * English then CJK was estimated at English's rate.
 */
export const EXACT_TEXT_CHARS = 8 * 1024;
export const SAMPLE_WINDOWS = 16;

/** Tokens of a plain string in o200k_base, counted in bounded pieces (linear time, see token-pieces.ts). */
export function countTextTokens(text: string): number {
  if (text.length === 0) return 0;
  const count = (piece: string): number => loadTokenizer().countTokens(piece, PLAIN_TEXT);
  if (text.length <= EXACT_TEXT_CHARS) return countInPieces(text, count);
  const window = EXACT_TEXT_CHARS / SAMPLE_WINDOWS;
  const stride = (text.length - window) / (SAMPLE_WINDOWS - 1);
  let tokens = 0;
  let chars = 0;
  for (let i = 0; i < SAMPLE_WINDOWS; i++) {
    const { start, end } = windowOf(text, Math.floor(i * stride), window);
    const w = text.slice(start, end);
    tokens += countInPieces(w, count);
    chars += w.length;
  }
  return Math.ceil((tokens * text.length) / chars);
}

const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/**
 * At most `width` characters of `t` from `from`: each end at a whitespace where one is near (a
 * word cut in two counts a token more), never half a surrogate pair.
 */
function windowOf(t: string, from: number, width: number): { start: number; end: number } {
  let start = from > 0 ? nearSpace(t, from, 1) : 0;
  if (isLowSurrogate(t.charCodeAt(start))) start++;
  let end = Math.min(t.length, start + width);
  if (end < t.length) {
    const snapped = nearSpace(t, end, -1);
    if (snapped > start) end = snapped;
    if (end < t.length && isLowSurrogate(t.charCodeAt(end))) end--;
  }
  return { start, end };
}

/** The index of the first whitespace within 64 characters of `at` in direction `dir` (a window starts or ends there), else `at`. */
function nearSpace(text: string, at: number, dir: 1 | -1): number {
  for (let i = at, n = 0; n < 64 && i > 0 && i < text.length; i += dir, n++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d) return i;
  }
  return at;
}

/**
 * Prompt tokens of a chat request, after OpenAI's published counting recipe: 3 per message,
 * its role, its content, 1 + its name when present, and 3 to prime the reply.
 *
 * - Content: a string counts as text; an array counts its `text` parts as text and each
 *   `image_url` / `input_image` part as {@link IMAGE_PART_TOKENS}; any other part (audio,
 *   file) and any other content shape counts its JSON text.
 * - `tool_calls` of assistant messages and the request's `tools` definitions count as their
 *   JSON text. OpenAI renders tools in a terser internal syntax, so this over-estimates
 *   slightly, which is the safe side for a reservation.
 */
export function countPromptTokens(messages: readonly ChatMessageLike[], tools?: unknown): number {
  const c = new PromptCounter();
  let total = REPLY_PRIMING_TOKENS;
  for (const message of messages) {
    total += TOKENS_PER_MESSAGE + c.text(message.role) + contentTokens(c, message.content);
    if (typeof message.name === 'string' && message.name.length > 0) {
      total += TOKENS_PER_NAME + c.text(message.name);
    }
    if (message.tool_calls !== undefined && message.tool_calls !== null) {
      total += jsonTokens(c, message.tool_calls);
    }
  }
  if (tools !== undefined && tools !== null) total += jsonTokens(c, tools);
  // Scaled counts are fractions, summed before rounding (a ceiling per text would add ~1 a message).
  return Math.ceil(total + c.textTokens());
}

/**
 * Tokens of several plain texts together (a Messages request's blocks that its chat form leaves
 * out, an embeddings batch): exact up to {@link EXACT_PROMPT_CHARS} in all, else windows over all
 * of them, as a prompt's texts are counted. Each counted on its own was exact up to 8 Ki
 * characters apiece: 3.2 MB of 4 KB documents held the event loop 6 s, of embeddings inputs 12 s.
 */
export function countTextsTokens(texts: readonly string[]): number {
  const c = new PromptCounter();
  for (const t of texts) c.text(t);
  return Math.ceil(c.textTokens());
}

/**
 * The most tokens any one of `texts` holds, and the first text holding them (an embeddings batch:
 * a model's window must hold its longest input). Counting every input held the event loop 12 s for
 * 3.2 MB of inputs; this counts a few times {@link EXACT_TEXT_CHARS} characters (and 100 a text of
 * a batch's 2,048 at most):
 *
 * 1. Longest first by UTF-8 bytes, counted, until that many characters are spent. A token is at
 *    least a byte, so a text of fewer bytes than the best count cannot beat it: the count stops.
 * 2. Texts still in the running get three windows counted (that many characters shared among
 *    them, 33 at least each) and scaled to their length: an estimate of each.
 * 3. The one estimated highest is counted, and beats the best if it holds more.
 */
export function mostTextTokens(texts: readonly string[]): { n: number; i: number } {
  const bytes = texts.map((t) => Buffer.byteLength(t, 'utf8'));
  const order = texts.map((_, i) => i).sort((a, b) => bytes[b]! - bytes[a]! || a - b);
  let best = { n: -1, i: 0 };
  const consider = (n: number, i: number): void => {
    if (n > best.n || (n === best.n && i < best.i)) best = { n, i };
  };
  let spent = 0;
  let k = 0;
  for (; k < order.length && spent < EXACT_TEXT_CHARS; k++) {
    const i = order[k]!;
    if (bytes[i]! < best.n) return best;
    consider(countTextTokens(texts[i]!), i);
    spent += Math.min(texts[i]!.length, EXACT_TEXT_CHARS);
  }
  const rest = order.slice(k).filter((i) => bytes[i]! >= best.n);
  if (rest.length === 0) return best;
  const width = Math.max(33, Math.floor(EXACT_TEXT_CHARS / rest.length));
  let top = { est: -1, i: rest[0]! };
  for (const i of rest) {
    const est = sampledRate(texts[i]!, width) * texts[i]!.length;
    if (est > top.est) top = { est, i };
  }
  consider(countTextTokens(texts[top.i]!), top.i);
  return best;
}

/**
 * Tokens a character of `text`, from `width` characters of it in three windows (at a sixth, the
 * middle and five sixths of it): one window from the middle was fooled by a text of punctuation
 * with plain words in its middle (9,301 tokens estimated as a few hundred).
 */
function sampledRate(text: string, width: number): number {
  const w = Math.max(11, Math.floor(width / 3));
  let tokens = 0;
  let chars = 0;
  for (const at of [1 / 6, 1 / 2, 5 / 6]) {
    const { start, end } = windowOf(text, Math.max(0, Math.floor(text.length * at - w / 2)), w);
    if (end <= start) continue;
    tokens += countInPieces(text.slice(start, end), (piece) => loadTokenizer().countTokens(piece, PLAIN_TEXT));
    chars += end - start;
  }
  return chars === 0 ? 0 : tokens / chars;
}

/**
 * Past this many characters of text in one prompt, its texts are not counted whole: windows
 * spread evenly over all of them, 8 Ki characters in all, are counted and the count scaled to the
 * prompt's length. The count stays an estimate either way, and a prompt of 100,000 short
 * messages does not run the tokenizer 200,000 times (2 s of a held event loop). Windows over the
 * whole prompt, not its head: a long English system prompt before a CJK document, counted at
 * English's rate, was estimated at a third of its tokens (and routed to a window it overflowed).
 */
export const EXACT_PROMPT_CHARS = 16 * 1024;
/** Past it, the characters counted: in {@link PROMPT_WINDOWS} windows (as much work as one long text's 16 windows). */
const SAMPLE_PROMPT_CHARS = 8 * 1024;
const PROMPT_WINDOWS = 32;

/** A prompt's texts (roles, contents, names, JSON of tool calls and tools), gathered, then counted: whole, or in windows over all of them. */
class PromptCounter {
  private readonly texts: string[] = [];
  private chars = 0;

  /** Gathers a text; its tokens are in {@link textTokens}. */
  text(t: string): number {
    if (t.length > 0) {
      this.texts.push(t);
      this.chars += t.length;
    }
    return 0;
  }

  /** The gathered texts' tokens: exact up to EXACT_PROMPT_CHARS, else windows over the whole (a fraction). */
  textTokens(): number {
    if (this.chars <= EXACT_PROMPT_CHARS) {
      let n = 0;
      for (const t of this.texts) n += countTextTokens(t);
      return n;
    }
    const count = (piece: string): number => loadTokenizer().countTokens(piece, PLAIN_TEXT);
    const width = SAMPLE_PROMPT_CHARS / PROMPT_WINDOWS;
    const stride = (this.chars - width) / (PROMPT_WINDOWS - 1);
    let tokens = 0;
    let sampled = 0;
    // The text a window starts in, and where that text starts in the whole (windows only move forward).
    let ti = 0;
    let base = 0;
    for (let w = 0; w < PROMPT_WINDOWS; w++) {
      const at = Math.floor(w * stride);
      while (ti < this.texts.length - 1 && base + this.texts[ti]!.length <= at) base += this.texts[ti++]!.length;
      let left = width;
      let i = ti;
      let from = at - base;
      while (left > 0 && i < this.texts.length) {
        const t = this.texts[i]!;
        const { start, end } = windowOf(t, from, left);
        if (end > start) {
          tokens += countInPieces(t.slice(start, end), count);
          sampled += end - start;
        }
        left -= Math.max(1, end - from);
        from = 0;
        i++;
      }
    }
    return sampled === 0 ? 0 : (tokens * this.chars) / sampled;
  }
}

function contentTokens(c: PromptCounter, content: unknown): number {
  if (content === undefined || content === null) return 0;
  if (typeof content === 'string') return c.text(content);
  if (!Array.isArray(content)) return jsonTokens(c, content);
  let total = 0;
  for (const part of content) total += partTokens(c, part);
  return total;
}

function partTokens(c: PromptCounter, part: unknown): number {
  if (typeof part === 'string') return c.text(part);
  if (typeof part !== 'object' || part === null) return 0;
  const { type, text } = part as { type?: unknown; text?: unknown };
  if (type === 'text' && typeof text === 'string') return c.text(text);
  if (type === 'image_url' || type === 'input_image') return IMAGE_PART_TOKENS;
  // A file (a PDF by its bytes or by id): its pages become text and images the request does not
  // show, so they are not counted (as count_tokens leaves a PDF out); its name is. Its base64 was
  // counted as text, ~0.7 token a character: a 600 KB PDF was "541,835 tokens", over every Claude
  // window, and refused. Its money is bounded apart: a file part is reserved at the model's context window.
  if (type === 'file') {
    const name = (part as { file?: { filename?: unknown } }).file?.filename;
    return typeof name === 'string' ? c.text(name) : 0;
  }
  return jsonTokens(c, part);
}

function jsonTokens(c: PromptCounter, value: unknown): number {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    return 0; // a cyclic or BigInt value cannot have come from a JSON body
  }
  return json === undefined ? 0 : c.text(json);
}
