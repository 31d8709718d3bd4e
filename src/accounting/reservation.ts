/**
 * The token counts a budget reservation is made for: an upper bound of the prompt that no
 * provider's tokenizer can exceed, and the output cap that every adapter sends upstream.
 * Pure functions; money comes from `worstCaseNano` (cost.ts) over these counts.
 *
 * Why bytes and not a tokenizer: a BPE or SentencePiece token covers at least one byte of
 * UTF-8 text, so the byte count bounds any provider's count, where the o200k count (an
 * estimate for every non-OpenAI model) was beaten by 75 % on a repetitive prompt. The price
 * of the bound is a larger hold while the request runs; settling replaces it by the
 * provider's reported usage.
 *
 * Some parts carry no size the request shows: a PDF (its pages become text and images), a file
 * by id, a document by URL, a video or audio part by URL, an MCP server's tools, a Gemini context
 * cache read by name. Their bound is unbounded (`Infinity`), and a
 * reservation takes the model's context window for the prompt instead ({@link promptWorstTokens}):
 * no provider bills a prompt larger than its window (it refuses it).
 */
import { clientToolPromptTokens } from '../apis/messages-request.js';
import { nativeOf } from '../apis/native.js';
import { historyToolNames, placeholderTools } from '../apis/tool-history.js';

/** Role markers and separators a provider wraps around each message. */
export const MESSAGE_OVERHEAD_TOKENS = 8;
/** Reply priming and request framing. */
export const REQUEST_OVERHEAD_TOKENS = 16;
/**
 * Tool definitions come with a provider-written system prompt (Anthropic publishes 346 tokens
 * for tool use with Claude 4 models) and per-tool framing.
 */
export const TOOLS_OVERHEAD_TOKENS = 1_024;
/**
 * One image part. Providers resize images before counting, so an image costs a bounded number
 * of tokens whatever its size: OpenAI high detail at most 85 + 170 × 8 tiles = 1,445 (patch
 * models up to ~2,500), Anthropic ~1,600 after its resize to 1.15 megapixels, Gemini 258 per
 * 768-px tile. 6,400 covers all of them (24 Gemini tiles) but gpt-4o-mini, which bills 2,833 +
 * 5,667 a tile (48,169 at most): a model's `imageTokens` over it is held instead ({@link promptWorstTokens}).
 */
export const IMAGE_PART_TOKENS_BOUND = 6_400;

interface BodyLike {
  messages: ReadonlyArray<{ content?: unknown } & Record<string, unknown>>;
  tools?: unknown;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
}

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');
/** JSON text is never shorter than the text it encodes (escapes only lengthen it). */
const jsonBytes = (v: unknown): number => {
  const s = JSON.stringify(v);
  return s === undefined ? 0 : utf8(s);
};

const isImagePart = (p: unknown): boolean => {
  if (typeof p !== 'object' || p === null) return false;
  const t = (p as { type?: unknown }).type;
  return t === 'image_url' || t === 'input_image' || t === 'image';
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A chat part whose tokens are not in the request: a `file` part (a PDF as data or by file id),
 * or one of a type chat does not define, which an OpenAI-kind upstream gets as written — a relay's
 * `video_url` (OpenRouter's, Qwen's, vLLM's: a video is billed hundreds of tokens a second) or
 * `audio_url`, whose size is not its URL's. Text, refusals and images are bounded.
 */
const isUnboundedPart = (p: unknown): boolean => isObj(p) && p.type !== 'text' && p.type !== 'refusal' && (!isImagePart(p) || dataOfAnotherType(p));

/**
 * An image part whose data URL holds something else (`data:application/pdf`, `data:video/mp4`):
 * a relay such as LiteLLM sends a PDF or a video given there to the model, billed by its pages or
 * its length, not as one image.
 */
function dataOfAnotherType(p: Record<string, unknown>): boolean {
  const iu = p.image_url;
  const url = typeof iu === 'string' ? iu : isObj(iu) ? iu.url : undefined;
  return typeof url === 'string' && /^data:/i.test(url) && !/^data:image\//i.test(url);
}

function messageBound(m: { content?: unknown } & Record<string, unknown>): number {
  // Text content counts its own bytes (what the model reads), without serialising megabytes again.
  if (typeof m.content === 'string') return MESSAGE_OVERHEAD_TOKENS + utf8(m.content) + jsonBytes({ ...m, content: null });
  if (!Array.isArray(m.content)) return MESSAGE_OVERHEAD_TOKENS + jsonBytes(m);
  if (m.content.some(isUnboundedPart)) return Infinity;
  const images = m.content.filter(isImagePart).length;
  const parts = images === 0 ? m.content : m.content.filter((p) => !isImagePart(p));
  return MESSAGE_OVERHEAD_TOKENS + jsonBytes({ ...m, content: parts }) + images * IMAGE_PART_TOKENS_BOUND;
}

/**
 * Upper bound of the prompt tokens any provider counts for `body`: the UTF-8 bytes of every
 * field the upstream sees (as JSON, which over-counts keys and quotes slightly), overheads per
 * message and for tools, a fixed bound per image, and the text of a continuation (`prefill`).
 */
export function promptBoundTokens(body: BodyLike, prefill: string | null = null): number {
  if (readsCachedContent(body)) return Infinity;
  let total = REQUEST_OVERHEAD_TOKENS;
  for (const m of body.messages) total += messageBound(m);
  const { messages: _messages, ...rest } = body;
  total += jsonBytes(rest);
  if (body.tools !== undefined && body.tools !== null) total += TOOLS_OVERHEAD_TOKENS;
  // Tool calls in the history and no tools offered: an Anthropic-kind endpoint is sent placeholders of them (tool-history.ts).
  if (!Array.isArray(body.tools) || body.tools.length === 0) {
    const named = historyToolNames(body.messages);
    if (named.length > 0) total += (body.tools === undefined || body.tools === null ? TOOLS_OVERHEAD_TOKENS : 0) + jsonBytes(placeholderTools(named));
  }
  if (prefill !== null) total += MESSAGE_OVERHEAD_TOKENS + utf8(prefill);
  // A Messages request goes to an Anthropic-kind endpoint as the client wrote it, with blocks its
  // chat form leaves out (documents, search results, thinking, images inside tool results): what
  // the upstream is sent is bounded too (a 585 KB document was reserved at nothing).
  const native = nativeOf(body);
  if (native?.kind === 'anthropic-messages') {
    const own = messagesBound(native.body) + (prefill !== null ? MESSAGE_OVERHEAD_TOKENS + utf8(prefill) : 0);
    if (own > total) return own;
  }
  return total;
}

/**
 * A Gemini context cache read by name: `extra_body.google.cached_content` on Gemini's
 * OpenAI-compatible API, `cached_content` on a LiteLLM relay. Its tokens are billed as the
 * prompt's (cached ones), none of them in the request.
 */
function readsCachedContent(body: object): boolean {
  const b = body as { cached_content?: unknown; extra_body?: unknown };
  if (b.cached_content !== undefined && b.cached_content !== null) return true;
  const google = isObj(b.extra_body) ? b.extra_body.google : undefined;
  return isObj(google) && google.cached_content !== undefined && google.cached_content !== null;
}

/**
 * The prompt tokens a reservation on a model is made for: the bound, at most the model's context
 * window (a larger prompt is refused, not billed) — but for an embeddings request, whose window
 * holds each input and not the batch (2,048 inputs may each fill it), the bound as it is.
 */
export function promptWorstTokens(bound: number, model: { contextWindow: number; imageTokens?: number }, body: object): number {
  if (nativeOf(body)?.kind === 'embeddings') return bound;
  // A model whose images bill more than the bound holds per image (gpt-4o-mini) holds its own figure for each.
  const per = model.imageTokens;
  const more = per !== undefined && per > IMAGE_PART_TOKENS_BOUND ? imageParts(body) * (per - IMAGE_PART_TOKENS_BOUND) : 0;
  return Math.min(bound + more, model.contextWindow);
}

/** The image parts of a chat body's messages. */
function imageParts(body: object): number {
  const messages = (body as { messages?: unknown }).messages;
  if (!Array.isArray(messages)) return 0;
  let n = 0;
  for (const m of messages) if (isObj(m) && Array.isArray(m.content)) for (const p of m.content) if (isImagePart(p)) n++;
  return n;
}

/** One Anthropic content block: its text's bytes; an image its fixed bound; a document whose text is not in the request unbounded. */
function blockBound(b: unknown): number {
  if (typeof b === 'string') return utf8(b);
  if (!isObj(b)) return jsonBytes(b);
  if (b.type === 'image') return IMAGE_PART_TOKENS_BOUND;
  if (b.type === 'document') {
    const src = isObj(b.source) ? b.source : {};
    if (src.type === 'text' && typeof src.data === 'string') return utf8(src.data) + jsonBytes({ ...b, source: { ...src, data: null } });
    if (src.type === 'content') return jsonBytes({ ...b, source: { ...src, content: null } }) + blocksBound(src.content);
    // A PDF (base64, by URL or by file id): pages become text and images, none of it in the request.
    return Infinity;
  }
  if ((b.type === 'tool_result' || b.type === 'search_result') && Array.isArray(b.content)) return jsonBytes({ ...b, content: null }) + blocksBound(b.content);
  return jsonBytes(b);
}

function blocksBound(content: unknown): number {
  if (typeof content === 'string') return utf8(content);
  if (!Array.isArray(content)) return jsonBytes(content);
  let n = 0;
  for (const b of content) n += blockBound(b);
  return n;
}

/** The prompt tokens Anthropic adds for the client-run tools among `tools` (the reservation holds twice this). */
export function clientToolTokens(tools: unknown): number {
  if (!Array.isArray(tools)) return 0;
  let n = 0;
  for (const t of tools as unknown[]) if (isObj(t)) n += clientToolPromptTokens(t.type) ?? 0;
  return n;
}

/** A Messages body as sent to Anthropic: framing, the other fields, the system prompt, tools, every message's blocks. */
function messagesBound(body: Record<string, unknown>): number {
  const { messages, system, tools, mcp_servers: mcp, ...rest } = body;
  // Tools an MCP server lists are fetched by the provider: their size is not in the request.
  if (Array.isArray(mcp) && mcp.length > 0) return Infinity;
  let total = REQUEST_OVERHEAD_TOKENS + jsonBytes(rest);
  if (system !== undefined && system !== null) total += MESSAGE_OVERHEAD_TOKENS + blocksBound(system);
  if (tools !== undefined && tools !== null) total += TOOLS_OVERHEAD_TOKENS + jsonBytes(tools) + 2 * clientToolTokens(tools);
  if (Array.isArray(messages))
    for (const m of messages) total += MESSAGE_OVERHEAD_TOKENS + (isObj(m) ? jsonBytes({ ...m, content: null }) + blocksBound(m.content) : jsonBytes(m));
  return total;
}

/** The smaller of `max_tokens` / `max_completion_tokens` the client sent (OpenAI's rule), or null. */
export function requestedOutputTokens(body: { max_tokens?: unknown; max_completion_tokens?: unknown }): number | null {
  const a = body.max_tokens;
  const b = body.max_completion_tokens;
  const hasA = typeof a === 'number' && a > 0;
  const hasB = typeof b === 'number' && b > 0;
  if (hasA && hasB) return Math.min(a, b);
  return hasA ? a : hasB ? b : null;
}

/**
 * The output cap reserved for and sent upstream: the client's request, never more than the
 * model's `maxOutputTokens`. A client asking for more gets the model's cap (and an answer
 * with `finish_reason: "length"` if the model reaches it), not a refusal. A client that asked for
 * nothing gets, besides, no more than the room its prompt leaves in the model's context window
 * (`contextWindow - promptTokens`): providers refuse a request whose prompt plus `max_tokens` is
 * over the window, and a prompt that fits must not fail for a cap switchyard chose. (A client's own
 * `max_tokens` that does not fit is the client's: routing passes over such models, see resolve.ts.)
 */
export function outputCap(
  body: Pick<BodyLike, 'max_tokens' | 'max_completion_tokens'>,
  model: { maxOutputTokens: number; contextWindow: number },
  promptTokens: number,
): number {
  const asked = requestedOutputTokens(body);
  if (asked !== null) return Math.min(asked, model.maxOutputTokens);
  return Math.max(1, Math.min(model.maxOutputTokens, model.contextWindow - promptTokens));
}

/**
 * The fewest output tokens a model's window must leave room for, past the prompt, for routing to
 * choose it: the client's own cap (as the model would be sent it), or, when the client set none,
 * {@link MIN_ANSWER_ROOM} (a model with room for a few tokens only would cut the answer short).
 */
export function answerRoom(body: { max_tokens?: unknown; max_completion_tokens?: unknown }, maxOutputTokens: number): number {
  return Math.min(requestedOutputTokens(body) ?? MIN_ANSWER_ROOM, maxOutputTokens);
}

/** See {@link answerRoom}. */
export const MIN_ANSWER_ROOM = 256;
