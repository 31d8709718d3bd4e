/**
 * The usage an answer's body shows, made the counts it was billed at when those were held to the
 * reservation (request-driver's `withinReservation`: an upstream that reported 10^15 tokens, or
 * 100,000 output tokens for `max_tokens: 100`). The client's SDK then reads what its row and its
 * `x-switchyard-cost-usd` say, not a count no request could have used. Only the fields the body
 * already has are written, in its own API's convention.
 */
import type { Usage } from '../accounting/cost.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `body` with its `usage` showing `u` (a copy; the body itself is not changed). A body without one
 * gets one in its API's shape (an Anthropic message must have it: the SDK reads `usage.output_tokens`).
 */
export function withHeldUsage(body: Obj, u: Usage): Obj {
  const was = body.usage;
  if (!isObj(was)) return { ...body, usage: usageFor(body, u) };
  const o: Obj = { ...was };
  const cached = u.cachedTokens ?? 0;
  if ('prompt_tokens' in o) {
    // OpenAI's chat, completions and embeddings: prompt_tokens includes cached tokens.
    o.prompt_tokens = u.promptTokens;
    const output = 'completion_tokens' in o ? u.completionTokens : 0;
    if ('completion_tokens' in o) o.completion_tokens = output;
    o.total_tokens = u.promptTokens + output;
    detail(o, 'prompt_tokens_details', 'cached_tokens', cached);
    detail(o, 'completion_tokens_details', 'reasoning_tokens', u.reasoningTokens ?? 0);
    // A relay's cache-write count (OpenRouter's, LiteLLM's), when the billed counts hold none.
    if ('cache_write_tokens' in o) o.cache_write_tokens = u.cacheCreationTokens ?? 0;
    if (isObj(o.prompt_tokens_details) && 'cache_write_tokens' in o.prompt_tokens_details)
      o.prompt_tokens_details = { ...o.prompt_tokens_details, cache_write_tokens: u.cacheCreationTokens ?? 0 };
  } else if (body.type === 'message') {
    // Anthropic's Messages: input_tokens leaves out cache reads and writes.
    const written = u.cacheCreationTokens ?? 0;
    o.input_tokens = Math.max(0, u.promptTokens - cached - written);
    o.output_tokens = u.completionTokens;
    if ('cache_read_input_tokens' in o) o.cache_read_input_tokens = cached;
    if ('cache_creation_input_tokens' in o) o.cache_creation_input_tokens = written;
    // Its split by cache lifetime: all of the writes under the first lifetime it names.
    const byTtl = o.cache_creation;
    if (isObj(byTtl)) {
      const split: Obj = {};
      let first = true;
      for (const k of Object.keys(byTtl)) {
        if (typeof byTtl[k] !== 'number') split[k] = byTtl[k];
        else {
          split[k] = first ? written : 0;
          first = false;
        }
      }
      o.cache_creation = split;
    }
  } else if ('input_tokens' in o) {
    // OpenAI's Responses: input_tokens includes cached tokens.
    o.input_tokens = u.promptTokens;
    if ('output_tokens' in o) o.output_tokens = u.completionTokens;
    if ('total_tokens' in o) o.total_tokens = u.promptTokens + u.completionTokens;
    detail(o, 'input_tokens_details', 'cached_tokens', cached);
    detail(o, 'output_tokens_details', 'reasoning_tokens', u.reasoningTokens);
  } else return body;
  return { ...body, usage: o };
}

/** A usage object of `body`'s API for counts `u`, for a body that has none. */
function usageFor(body: Obj, u: Usage): Obj {
  if (body.type === 'message') return { input_tokens: u.promptTokens, output_tokens: u.completionTokens };
  if (body.object === 'response') return { input_tokens: u.promptTokens, output_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens };
  if (body.object === 'list') return { prompt_tokens: u.promptTokens, total_tokens: u.promptTokens };
  return { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens };
}

/** `o[key][field] = v` on a copy of `o[key]`, where that object has the field. */
function detail(o: Obj, key: string, field: string, v: number | undefined): void {
  const d = o[key];
  if (v !== undefined && isObj(d) && field in d) o[key] = { ...d, [field]: v };
}

/**
 * Whether an OpenAI-convention body (`prompt_tokens`: chat, completions) shows exactly the counts
 * `u` billed, parts included: an upstream's count that could not be read (a negative cached count,
 * a cache-write count larger than the prompt) is billed as something else, and the body is then
 * rewritten to show that. Bodies of other conventions are taken as they are.
 */
export function showsUsage(body: Obj, u: Usage): boolean {
  const o = body.usage;
  if (!isObj(o) || !('prompt_tokens' in o)) return true;
  if (o.prompt_tokens !== u.promptTokens) return false;
  if ('completion_tokens' in o && o.completion_tokens !== u.completionTokens) return false;
  if ('total_tokens' in o && o.total_tokens !== u.promptTokens + ('completion_tokens' in o ? u.completionTokens : 0)) return false;
  if ('cache_write_tokens' in o && o.cache_write_tokens !== (u.cacheCreationTokens ?? 0)) return false;
  const pd = o.prompt_tokens_details;
  if (isObj(pd)) {
    if ('cached_tokens' in pd && pd.cached_tokens !== (u.cachedTokens ?? 0)) return false;
    if ('cache_write_tokens' in pd && pd.cache_write_tokens !== (u.cacheCreationTokens ?? 0)) return false;
  }
  const cd = o.completion_tokens_details;
  return !(isObj(cd) && 'reasoning_tokens' in cd && cd.reasoning_tokens !== (u.reasoningTokens ?? 0));
}
