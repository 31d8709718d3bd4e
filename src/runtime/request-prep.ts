/**
 * What a request's driver works out before it routes: the prompt's token count (exact only
 * where it decides something) and the headers that tell the client what happened.
 */
import { countPromptTokens, countTextsTokens, IMAGE_PART_TOKENS } from '../accounting/tokens.js';
import { requestedOutputTokens } from '../accounting/reservation.js';
import { leftOutContent } from '../apis/messages-request.js';
import { nativeOf } from '../apis/native.js';
import type { ChatCall } from './api.js';
import type { EndpointHandle } from './endpoints.js';

/** An embeddings call sent as token ids: the ids are its exact prompt count. */
function embeddingTokens(body: object): number | undefined {
  const native = nativeOf(body);
  return native?.kind === 'embeddings' ? native.tokens : undefined;
}

/** Above this many bytes of prompt text (UTF-8) the exact tokenizer always runs. */
const EXACT_COUNT_BYTES = 16_000;

/**
 * The prompt's text in UTF-8 bytes (an image part counts 340). Bytes, not characters: English
 * runs about 4 characters a token, but a Chinese or Japanese character is about one token and
 * three bytes, so a third of the bytes bounds both where a third of the characters would count
 * a Japanese prompt of 12,400 tokens as 4,800 (under the long-prompt rule and a small context
 * window). `Buffer.byteLength` is native: no per-character loop.
 */
function promptBytes(messages: ReadonlyArray<{ content?: unknown }>): number {
  let n = 0;
  for (const m of messages) {
    if (typeof m.content === 'string') n += Buffer.byteLength(m.content, 'utf8');
    else if (Array.isArray(m.content))
      for (const p of m.content)
        n +=
          typeof p === 'object' && p !== null && typeof (p as { text?: unknown }).text === 'string'
            ? Buffer.byteLength((p as { text: string }).text, 'utf8')
            : 340;
  }
  return n;
}

/**
 * The tool definitions' bytes as sent (JSON, UTF-8): they count toward the prompt like its text. A
 * `JSON.stringify` of a few KB costs microseconds; the exact tokenizer ~100 µs per 2 KB, and its
 * tables 60 MB of memory the first time.
 */
function toolBytes(tools: unknown): number {
  if (!Array.isArray(tools) || tools.length === 0) return 0;
  return Buffer.byteLength(JSON.stringify(tools) ?? '', 'utf8');
}

/** What a Messages request's left-out blocks hold, read once a request (its native part is shared by the body's copies). */
interface LeftOut {
  texts: string[];
  images: number;
  bytes: number;
  tokens?: number;
}
const LEFT_OUT = new WeakMap<object, LeftOut>();

/**
 * The blocks of a Messages request that its chat form leaves out (a document, a search result, an
 * image in a tool result): the model reads them, so the prompt's counts add them (a 2,000-token
 * document was counted as nothing: count_tokens answered the question's 10 tokens, and a ledger row
 * estimated without usage billed no more).
 */
function leftOutOf(body: object): LeftOut | null {
  const native = nativeOf(body);
  if (native?.kind !== 'anthropic-messages' || native.leftOut === undefined || native.leftOut.length === 0) return null;
  let l = LEFT_OUT.get(native);
  if (l === undefined) {
    const { texts, images } = leftOutContent(native.leftOut);
    // An image as promptBytes counts one (340 bytes).
    l = { texts, images, bytes: texts.reduce((n, t) => n + Buffer.byteLength(t, 'utf8'), 0) + 340 * images };
    LEFT_OUT.set(native, l);
  }
  return l;
}

/** o200k tokens of the blocks a Messages request's chat form leaves out (0 for any other request). */
export function leftOutTokens(body: object): number {
  const l = leftOutOf(body);
  if (l === null) return 0;
  return (l.tokens ??= countTextsTokens(l.texts) + l.images * IMAGE_PART_TOKENS);
}

/**
 * Prompt tokens, an estimate for routing, TPM windows and what people see (reservations use
 * `promptBoundTokens`). The real tokenizer costs ~100 µs per 2 KB, so it runs only where the
 * count decides something: the prompt is long enough for context windows and the long-prompt
 * rule to matter (tool definitions included). Otherwise a byte estimate serves (corrected by the upstream's usage). The
 * dry run (`POST /switchyard/route`) counts with this too, so it decides as a real request does.
 */
export function countPrompt(call: Pick<ChatCall, 'body'>): number {
  const body = call.body;
  const ids = embeddingTokens(body);
  if (ids !== undefined) return ids;
  const bytes = promptBytes(body.messages) + toolBytes(body.tools) + (leftOutOf(body)?.bytes ?? 0);
  const exact = bytes > EXACT_COUNT_BYTES;
  return exact ? countPromptTokens(body.messages, body.tools ?? undefined) + leftOutTokens(body) : Math.ceil(bytes / 3) + 3 * body.messages.length + 3;
}

/**
 * The prompt's exact count, as a function, when {@link countPrompt} gave the quick bound (a prompt
 * of at most 16,000 bytes, not embeddings); undefined when its count is exact already. Routing
 * asks for it only where a model's window is near: the quick count leaves it no room, or the
 * prompt's byte bound does (digits, CJK and emoji run more tokens than a third of their bytes).
 */
export function exactPromptCount(body: ChatCall['body']): (() => number) | undefined {
  if (embeddingTokens(body) !== undefined || nativeOf(body)?.kind === 'embeddings') return undefined;
  if (promptBytes(body.messages) + toolBytes(body.tools) + (leftOutOf(body)?.bytes ?? 0) > EXACT_COUNT_BYTES) return undefined;
  return () => countPromptTokens(body.messages, body.tools ?? undefined) + leftOutTokens(body);
}

/** Estimated tokens for TPM windows: prompt plus the output asked for. */
export function estTokens(call: Pick<ChatCall, 'body'>, promptTokens: number): number {
  return promptTokens + Math.min(requestedOutputTokens(call.body) ?? 256, 4096);
}

/** The o200k count for a ledger row the upstream gave no usage for (a number people read). */
export function shownPromptTokens(call: ChatCall): number {
  const native = nativeOf(call.body);
  if (native?.kind === 'embeddings') {
    // The inputs' own tokens, as an embeddings API counts them: no chat message framing (it billed 12 for 4).
    if (native.tokens !== undefined) return native.tokens;
    const input = native.input as unknown;
    const texts = typeof input === 'string' ? [input] : Array.isArray(input) ? input.filter((t): t is string => typeof t === 'string') : [];
    return countTextsTokens(texts);
  }
  return countPromptTokens(call.body.messages, call.body.tools ?? undefined) + leftOutTokens(call.body);
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Header values must be visible ASCII: arrows and symbols of the reason are spelled out. */
export function asciiReason(reason: string): string {
  // Already printable ASCII (the usual reason): every replace below would leave it as it is.
  return PRINTABLE_ASCII.test(reason) ? reason : asciiReasonSlow(reason);
}

/** The most of a reason the `x-switchyard-reason` header carries (characters). */
export const REASON_HEADER_MAX = 1_000;

/**
 * A reason as the `x-switchyard-reason` header carries it: ASCII, and at most REASON_HEADER_MAX
 * characters. On a large catalogue a reason naming every model passed over ran to 3 KB and grew with
 * it, past what a proxy in front takes (nginx reads an upstream's headers into 4 KB by default and
 * answers 502 beyond). The dry run (`POST /switchyard/route`) gives the whole reason.
 */
export function headerReason(reason: string): string {
  const r = asciiReason(reason);
  if (r.length <= REASON_HEADER_MAX) return r;
  const more = ` ... (${r.length} characters; the dry run POST /switchyard/route gives it whole)`;
  return r.slice(0, REASON_HEADER_MAX - more.length) + more;
}

/** asciiReason without its shortcut (exported for the test that holds the two equal). */
export function asciiReasonSlow(reason: string): string {
  return reason
    .replace(/→/g, '->')
    .replace(/≥/g, '>=')
    .replace(/≤/g, '<=')
    .replace(/×/g, 'x')
    .normalize('NFKD')
    .replace(/([A-Za-z])[\u0300-\u036f]+/g, '$1') // accents on Latin letters: é is e
    .normalize('NFC') // other scripts keep theirs: "рассчитай" is encoded as itself, not as "рассчитаи"
    .replace(/\p{Cc}/gu, '') // control characters go
    .replace(/[^\x20-\x7e]+/g, percentEncoded); // a word with no ASCII form (Cyrillic, CJK) is percent-encoded UTF-8, not dropped
}

/** `сравни` as `%D1%81%D1%80%D0%B0%D0%B2%D0%BD%D0%B8`: decodable, where stripping left `(, , )` of three configured keywords. */
function percentEncoded(run: string): string {
  let out = '';
  for (const b of Buffer.from(run, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** `unreached`: with no endpoint, the model the request was for and its tier (no endpoint header: none was picked). */
export function switchyardHeaders(
  attempts: number,
  h: EndpointHandle | null,
  reason: string | null,
  unreached: { model: string; tier: string } | null = null,
): Record<string, string> {
  const out: Record<string, string> = { 'x-switchyard-attempts': String(attempts) };
  if (h) {
    out['x-switchyard-model'] = h.model;
    out['x-switchyard-endpoint'] = h.id;
    out['x-switchyard-tier'] = h.modelCfg.tier;
  } else if (unreached) {
    out['x-switchyard-model'] = unreached.model;
    out['x-switchyard-tier'] = unreached.tier;
  }
  if (reason !== null) out['x-switchyard-reason'] = headerReason(reason);
  return out;
}
