/**
 * What a request cost, from its token usage and its model's price. Pure functions; amounts in
 * integer nano-USD (see money.ts).
 */
import { termsCostNano, tokensCostNano, tokensCostNanoDown } from './money.js';

/** A model's price in USD per million tokens, as written in the config. */
export interface Price {
  inputPerMTok: number;
  outputPerMTok: number;
  /** Price of prompt tokens served from the provider's prompt cache; input price if absent. */
  cachedInputPerMTok?: number;
  /** Price of prompt tokens written to the provider's prompt cache (Anthropic `cache_creation_input_tokens`: 1.25× input for 5-minute writes); input price if absent. */
  cacheWritePerMTok?: number;
}

/**
 * Token usage in OpenAI's convention: every count below `promptTokens` / `completionTokens`
 * is a **subset** of it, never an addition to it.
 * - `promptTokens`: every prompt token the model read, cached or not. An Anthropic adapter
 *   sets it to `input_tokens + cache_read_input_tokens + cache_creation_input_tokens`, so the
 *   figure the client sees in `usage.prompt_tokens` means the same on every provider.
 * - `cachedTokens` ⊂ promptTokens: read from the prompt cache (OpenAI
 *   `prompt_tokens_details.cached_tokens`, Anthropic `cache_read_input_tokens`).
 * - `cacheCreationTokens` ⊂ promptTokens: written to the cache (Anthropic
 *   `cache_creation_input_tokens`, OpenRouter `prompt_tokens_details.cache_write_tokens`),
 *   billed at the cache-write price.
 * - `completionTokens`: every generated token, visible or not.
 * - `reasoningTokens` ⊂ completionTokens: hidden reasoning (OpenAI
 *   `completion_tokens_details.reasoning_tokens`). Informational.
 */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens?: number;
  reasoningTokens?: number;
  cacheCreationTokens?: number;
  /**
   * Other counts an OpenAI-kind upstream reported in `prompt_tokens_details` /
   * `completion_tokens_details` (audio tokens, accepted and rejected prediction tokens…): numbers
   * only, set only when there are any, relayed in a stream's usage chunk as the upstream sent them.
   */
  promptDetails?: Record<string, number>;
  completionDetails?: Record<string, number>;
}

/**
 * Integer nano-USD; `totalNano` is exactly the sum of the three parts. The total is the exact cost
 * rounded up once; the cached and output parts are rounded down and the input part takes the rest.
 */
export interface CostBreakdown {
  /** Prompt tokens not read from the cache: written to it at the cache-write price, the rest at input price. */
  inputNano: number;
  /** Cached prompt tokens at the cached-input price. */
  cachedNano: number;
  /** Completion tokens (reasoning included) at output price. */
  outputNano: number;
  totalNano: number;
}

/**
 * Cost of one request.
 *
 * - Cached prompt tokens are billed at `cachedInputPerMTok` (input price if absent), the rest
 *   of the prompt at input price. A cached count above the prompt count (an inconsistent
 *   upstream) is clamped to the prompt count: the prompt is never billed twice.
 * - Cache-creation tokens (at most the prompt tokens not read from the cache) are billed at
 *   `cacheWritePerMTok` (Anthropic charges 1.25× input for 5-minute cache writes), at input
 *   price if the model has no such price; they are part of `inputNano`.
 * - Reasoning tokens are part of completionTokens and are billed once, as output.
 * - The exact cost of the terms is rounded up once, to a whole nano-USD (money.ts): `totalNano`
 *   exceeds the exact real-valued cost by less than 1 nano-USD.
 *
 * Counts are sanitised, not rejected (settling must never fail): a negative or NaN count is 0
 * and a fractional one is rounded up. A count beyond 2^53 throws a RangeError.
 */
export function costOf(usage: Usage, price: Price): CostBreakdown {
  const prompt = tokenCount(usage.promptTokens);
  const completion = tokenCount(usage.completionTokens);
  const cached = Math.min(tokenCount(usage.cachedTokens), prompt);
  const cachedPrice = price.cachedInputPerMTok ?? price.inputPerMTok;
  const written = price.cacheWritePerMTok === undefined ? 0 : Math.min(tokenCount(usage.cacheCreationTokens), prompt - cached);
  const totalNano = termsCostNano([
    [prompt - cached - written, price.inputPerMTok],
    [written, price.cacheWritePerMTok ?? price.inputPerMTok],
    [cached, cachedPrice],
    [completion, price.outputPerMTok],
  ]);
  // The parts, for a breakdown: cached and output rounded down, the input part the rest (so they sum to the total).
  const cachedNano = tokensCostNanoDown(cached, cachedPrice);
  const outputNano = tokensCostNanoDown(completion, price.outputPerMTok);
  return { inputNano: totalNano - cachedNano - outputNano, cachedNano, outputNano, totalNano };
}

/**
 * The amount a budget reserves before a request is sent: the whole prompt at the highest
 * price a prompt token can have — input, cache-write or cached-input, whichever is highest (the
 * cache may miss, the whole prompt may be written to it or read from it) — plus
 * `maxOutputTokens` at the output price.
 *
 * It bounds `costOf` for any usage with at most these counts: the cost is its exact sum rounded
 * up once, which is at most the sum of this one's two terms each rounded up. Settling replaces
 * the reservation by the actual cost.
 */
export function worstCaseNano(promptTokens: number, maxOutputTokens: number, price: Price): number {
  const promptPrice = Math.max(price.inputPerMTok, price.cacheWritePerMTok ?? 0, price.cachedInputPerMTok ?? 0);
  const total = tokensCostNano(tokenCount(promptTokens), promptPrice) + tokensCostNano(tokenCount(maxOutputTokens), price.outputPerMTok);
  if (!Number.isSafeInteger(total)) throw new RangeError(`cost ${total} is out of range`);
  return total;
}

/**
 * Reads an OpenAI-style `usage` object (also in the last chunk of a stream with
 * `stream_options.include_usage`). Returns undefined unless `prompt_tokens` and
 * `completion_tokens` are non-negative integers; optional details that are malformed are
 * ignored.
 *
 * - cached tokens: `prompt_tokens_details.cached_tokens`, else DeepSeek's
 *   `prompt_cache_hit_tokens` (DeepSeek speaks the OpenAI format with its own cache fields).
 * - cache-write tokens: `prompt_tokens_details.cache_write_tokens`, which OpenRouter reports
 *   (a subset of `prompt_tokens`, as in Anthropic's convention above) for a model that bills
 *   cache writes, such as Claude behind it; OpenAI, Gemini and DeepSeek send none.
 * - If `total_tokens` is larger than prompt + completion, the difference is generated
 *   tokens the upstream left out of `completion_tokens` (OpenAI-compatible layers over
 *   thinking models have reported `completion_tokens` without the thoughts while counting
 *   them in `total_tokens`, and bill them as output). We then take
 *   `completionTokens = total_tokens − prompt_tokens`: over-billing a hidden count is safer
 *   than losing it. When the figures agree (OpenAI itself), nothing changes.
 */
export function usageFromOpenAI(u: unknown): Usage | undefined {
  if (!isRecord(u)) return undefined;
  const prompt = readCount(u.prompt_tokens);
  const reportedCompletion = readCount(u.completion_tokens);
  if (prompt === undefined || reportedCompletion === undefined) return undefined;
  const total = readCount(u.total_tokens);
  const completion = total !== undefined && total > prompt + reportedCompletion ? total - prompt : reportedCompletion;
  const usage: Usage = { promptTokens: prompt, completionTokens: completion };
  const promptDetails = isRecord(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
  const cached = readCount(promptDetails.cached_tokens) ?? readCount(u.prompt_cache_hit_tokens);
  if (cached !== undefined) usage.cachedTokens = cached;
  const written = readCount(promptDetails.cache_write_tokens);
  if (written !== undefined && written > 0) usage.cacheCreationTokens = written;
  const completionDetails = isRecord(u.completion_tokens_details) ? u.completion_tokens_details : {};
  const reasoning = readCount(completionDetails.reasoning_tokens);
  if (reasoning !== undefined) usage.reasoningTokens = reasoning;
  // Cache writes are `cacheCreationTokens` (shown as billed, held within the prompt), not another count relayed as sent.
  const moreIn = otherCounts(promptDetails, 'cached_tokens', 'cache_write_tokens');
  if (moreIn !== undefined) usage.promptDetails = moreIn;
  const moreOut = otherCounts(completionDetails, 'reasoning_tokens');
  if (moreOut !== undefined) usage.completionDetails = moreOut;
  return usage;
}

/** A details object's counts other than `known` (numbers only; nothing an upstream could hide a string in), or undefined when there are none. */
function otherCounts(details: Record<string, unknown>, ...known: string[]): Record<string, number> | undefined {
  let out: Record<string, number> | undefined;
  for (const k in details) {
    if (known.includes(k) || k === '__proto__' || !Object.hasOwn(details, k)) continue;
    const n = readCount(details[k]);
    if (n !== undefined) (out ??= {})[k] = n;
  }
  return out;
}

/**
 * Reads an Anthropic Messages `usage` object into the OpenAI convention above
 * (`input_tokens` excludes cache reads and writes there, so they are added back). A cache count
 * that is there but cannot be read (`"1500"`, 1500.5, negative) leaves the prompt unknown: the
 * whole usage is unread (estimated, and marked so), as a bad `input_tokens` is. Read as 0, the
 * prompt tokens it counted went unbilled, with nothing to say so.
 */
export function usageFromAnthropic(u: unknown): Usage | undefined {
  if (!isRecord(u)) return undefined;
  const input = readCount(u.input_tokens);
  const output = readCount(u.output_tokens);
  if (input === undefined || output === undefined) return undefined;
  const cacheRead = optionalCount(u.cache_read_input_tokens);
  const cacheCreation = optionalCount(u.cache_creation_input_tokens);
  if (cacheRead === undefined || cacheCreation === undefined) return undefined;
  const usage: Usage = { promptTokens: input + cacheRead + cacheCreation, completionTokens: output };
  if (cacheRead > 0) usage.cachedTokens = cacheRead;
  if (cacheCreation > 0) usage.cacheCreationTokens = cacheCreation;
  return usage;
}

function tokenCount(n: number | undefined): number {
  if (n === undefined || Number.isNaN(n) || n <= 0) return 0;
  return Math.ceil(n);
}

/** The counts of an Anthropic usage object (its other fields, such as `service_tier`, are no counts). */
export const ANTHROPIC_USAGE_COUNTS: ReadonlySet<string> = new Set(['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens']);

/** An optional count: 0 when absent (or null), undefined when there but not a count. */
function optionalCount(v: unknown): number | undefined {
  return v === undefined || v === null ? 0 : readCount(v);
}

/** A token count as an upstream should give it: a whole number, not negative; undefined otherwise. */
export function readCount(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A usage an answer's output is estimated for: none, or a count that is zero (a proxy's placeholder). */
export function missesCount(u: { promptTokens: number; completionTokens: number } | null): boolean {
  return u === null || u.promptTokens === 0 || u.completionTokens === 0;
}
