/**
 * `POST /v1/embeddings` (OpenAI format): an embeddings call rides the shared flow as a chat
 * body whose prompt is the input (routing, endpoint actors, fail-over, budget reservation
 * and ledger all read that) with the real request attached for the adapter
 * (apis/native.ts), which sends it to the provider's `/embeddings`.
 */
import { checkFields, present, unsupported } from '../apis/fields.js';
import { mostTextTokens } from '../accounting/tokens.js';
import { SwitchyardError } from '../errors.js';
import { inScope } from '../runtime/request-scope.js';
import { withNative } from '../apis/native.js';
import type { ChatBody } from '../upstream/types.js';
import { readEdge, type ApiRoute } from './edge.js';
import { recordRefused } from './refused.js';
import { sendError } from './server.js';
import { HttpSink } from './sink.js';
import { jsonType } from './validate.js';

const HANDLED = new Set(['model', 'input', 'encoding_format', 'dimensions', 'user']);

/** The largest token id accepted (ids are vocabulary indices; no tokenizer has 2^32 entries). */
const MAX_TOKEN_ID = 0xffffffff;
const isTokenId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_TOKEN_ID;

/**
 * Token-array input (`[1, 2, 3]` or `[[1, 2], [3]]`, as LangChain's OpenAI embeddings send by
 * default): validated, counted, and passed to the provider as sent. Null when the input is not
 * token ids at all.
 */
function tokenInput(input: unknown[]): { input: number[] | number[][]; tokens: number } | null {
  if (typeof input[0] === 'number') {
    input.forEach((id, i) => {
      if (!isTokenId(id)) throw unsupported(`input[${i}]`, `expected a token id (an integer from 0 to ${MAX_TOKEN_ID})`);
    });
    return { input: input as number[], tokens: input.length };
  }
  if (!Array.isArray(input[0])) return null;
  let tokens = 0;
  input.forEach((ids, i) => {
    if (!Array.isArray(ids) || ids.length === 0)
      throw unsupported(`input[${i}]`, i === 0 ? 'expected a non-empty array of token ids' : 'expected a non-empty array of token ids, as the first entry is');
    ids.forEach((id, j) => {
      if (!isTokenId(id)) throw unsupported(`input[${i}][${j}]`, `expected a token id (an integer from 0 to ${MAX_TOKEN_ID})`);
    });
    tokens += ids.length;
  });
  return { input: input as number[][], tokens };
}

/** The request as the flow takes it (exported for tests). */
export function parse(body: Record<string, unknown>): ChatBody {
  checkFields(body, HANDLED, {}, {});
  if (typeof body.model !== 'string' || body.model === '') throw unsupported('model', 'expected a model id');
  const input = body.input;
  const list = typeof input === 'string' ? [input] : Array.isArray(input) ? input : null;
  // One token array may be longer than 2048 (it is one input); a list of inputs may not.
  if (list === null || list.length === 0 || (list.length > 2048 && typeof list[0] !== 'number'))
    throw unsupported('input', 'expected a string, an array of 1 to 2048 strings, or token ids (an array of integers, or 1 to 2048 such arrays)');
  const extra: Record<string, unknown> = {};
  if (present(body.encoding_format)) {
    if (body.encoding_format !== 'float' && body.encoding_format !== 'base64') throw unsupported('encoding_format', 'expected float or base64');
    extra.encoding_format = body.encoding_format;
  }
  if (present(body.dimensions)) {
    if (typeof body.dimensions !== 'number' || !Number.isInteger(body.dimensions) || body.dimensions < 1)
      throw unsupported('dimensions', 'expected a positive integer');
    extra.dimensions = body.dimensions;
  }
  if (present(body.user)) {
    // OpenAI's type, as on chat (a number was passed on as is).
    if (typeof body.user !== 'string')
      throw new SwitchyardError('invalid_request', `Invalid type for 'user': expected a string, but got ${jsonType(body.user)} instead.`, { param: 'user' });
    extra.user = body.user;
  }
  const ids = tokenInput(list);
  if (ids !== null) {
    // The flow's prompt is a placeholder of one byte per token, so the reservation's byte bound
    // is the exact count (plus the usual overhead); the prompt estimates use the count itself.
    const chat: ChatBody = { model: body.model, messages: [{ role: 'user', content: 'x'.repeat(ids.tokens) }], max_tokens: 1 };
    const longest = typeof ids.input[0] === 'number' ? null : longestOf((ids.input as number[][]).map((a) => a.length));
    const longestInput = longest === null ? ids.tokens : longest.n;
    const longestParam = longest === null ? 'input' : `input[${longest.i}]`;
    return withNative(chat, { kind: 'embeddings', input: ids.input, tokens: ids.tokens, extra, longestInput, longestParam });
  }
  list.forEach((s, i) => {
    if (typeof s === 'string' && s !== '') return;
    // Said of the entry as it is: "as the first entry is" only where the first entry is a text.
    if (!Array.isArray(input)) throw unsupported('input', 'expected a non-empty string (an empty text has nothing to embed)');
    throw unsupported(
      `input[${i}]`,
      i === 0 ? 'expected a non-empty string, or token ids' : 'expected a non-empty string, as the first entry is (or send token ids only)',
    );
  });
  const texts = list as string[];
  // The prompt as the flow sees it: counted for the reservation and TPM windows; nothing is generated.
  const chat: ChatBody = { model: body.model, messages: [{ role: 'user', content: texts.join('\n') }], max_tokens: 1 };
  // OpenAI's context limit is per input: a batch may add up to more than the model's window. The
  // longest input's UTF-8 bytes bound its tokens (a token is at least one byte), and that bound
  // decides wherever it fits a window; the inputs are counted only where it does not. Counting them
  // all loaded the tokenizer (~1 s, ~60 MB) on the first embeddings call, for chunks any window holds.
  const paramOf = (i: number): string => (typeof input === 'string' ? 'input' : `input[${i}]`);
  const longest = longestOf(texts.map((t) => Buffer.byteLength(t, 'utf8')));
  let counted: { n: number; param: string } | null = null;
  const longestExact = (): { n: number; param: string } => {
    if (counted === null) {
      const c = mostTextTokens(texts);
      counted = { n: c.n, param: paramOf(c.i) };
    }
    return counted;
  };
  return withNative(chat, {
    kind: 'embeddings',
    input: typeof input === 'string' ? input : texts,
    extra,
    longestInput: longest.n,
    longestParam: paramOf(longest.i),
    longestExact,
  });
}

/** The largest count and its index (the first on a tie). */
function longestOf(counts: number[]): { n: number; i: number } {
  let best = { n: -1, i: 0 };
  counts.forEach((n, i) => {
    if (n > best.n) best = { n, i };
  });
  return best;
}

export const embeddingsRoute: ApiRoute = async (deps, req, res, requestId) => {
  const base = { 'x-request-id': requestId };
  const receivedAt = Date.now();
  let routed = false;
  try {
    const e = await readEdge(deps, req, res, requestId);
    const body = parse(e.body);
    const call = { requestId, body, hints: e.hints, keyId: e.keyId, receivedAt: e.receivedAt, log: e.log };
    routed = true;
    await inScope('embeddings', call, req, () => e.rt.chat(call, new HttpSink(req, res, base)));
  } catch (err) {
    if (!(err instanceof SwitchyardError)) deps.log.error({ err, requestId }, 'error in an embeddings request');
    sendError(res, err, base);
    // A routed request has its own record (and ledger row).
    if (!routed) recordRefused(deps, 'embeddings', req, requestId, receivedAt, err);
  }
};
