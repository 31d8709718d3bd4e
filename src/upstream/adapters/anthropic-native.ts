/**
 * The client's own Messages body (from `POST /v1/messages`) sent to an Anthropic-kind
 * endpoint without a round trip through chat completions: only the model, `max_tokens`
 * (capped to what the budget reserved: the model's `maxOutputTokens`), `stream` and a
 * fail-over continuation's prefill are set per attempt. Everything else — cache_control,
 * thinking, top_k, metadata, document blocks — reaches Anthropic as the client wrote it,
 * with the client's `anthropic-version` and `anthropic-beta` headers (never its key).
 */
import { messagesToolNames, placeholderTools } from '../../apis/tool-history.js';
import type { NativeMessages } from '../../apis/native.js';
import { SwitchyardError } from '../../errors.js';
import type { UpstreamHttpRequest } from '../types.js';
import { isObj, wireTurns, type AnthropicBlock, type AnthropicTurn } from './anthropic-messages.js';
import { anthropicHttpRequest, appendPrefill } from './anthropic-request.js';
import type { BuildInput } from './types.js';

function turnsOf(messages: unknown): AnthropicTurn[] {
  if (!Array.isArray(messages)) return [];
  return messages.map((m: unknown) => {
    const msg = isObj(m) ? m : {};
    const content =
      typeof msg.content === 'string' ? [{ type: 'text', text: msg.content }] : Array.isArray(msg.content) ? (msg.content as AnthropicBlock[]) : [];
    return { role: msg.role === 'assistant' ? 'assistant' : 'user', content };
  });
}

/**
 * An enabled `thinking`'s `budget_tokens` that Anthropic holds to below `max_tokens`, else null.
 * With interleaved thinking (the `interleaved-thinking-…` beta) the budget is the whole turn's and
 * may exceed `max_tokens`.
 */
function thinkingBudget(native: NativeMessages): number | null {
  const t = native.body.thinking;
  if (!isObj(t) || t.type !== 'enabled' || typeof t.budget_tokens !== 'number') return null;
  return native.headers?.beta?.includes('interleaved-thinking') === true ? null : t.budget_tokens;
}

/** Whether a Messages request's thinking budget fits under the `max_tokens` it is sent with. */
export function thinkingFits(native: NativeMessages, maxTokens: number): boolean {
  const budget = thinkingBudget(native);
  return budget === null || budget < maxTokens;
}

/**
 * Anthropic refuses a `thinking.budget_tokens` that is not below `max_tokens`; sent capped at the
 * model's `maxOutputTokens`, a client's 32,000 with a budget of 31,999 (as Claude Code sends) would
 * come back as a 400 about a `max_tokens` the client never sent. Refused here (and at routing:
 * runtime/translatable.ts), saying what to change; null when the budget fits.
 */
export function thinkingError(native: NativeMessages, maxOutputTokens: number, model: string): SwitchyardError | null {
  const budget = thinkingBudget(native);
  const src = native.body;
  if (budget === null || budget < maxOutputTokens) return null;
  const asked = typeof src.max_tokens === 'number' ? src.max_tokens : null;
  const why =
    asked !== null && asked > maxOutputTokens
      ? `switchyard sends max_tokens ${maxOutputTokens}, ${model}'s maxOutputTokens (the request asked ${asked}): raise models.${model}.maxOutputTokens in the config, or lower budget_tokens`
      : `max_tokens is ${maxOutputTokens}: lower budget_tokens or raise max_tokens`;
  return new SwitchyardError('invalid_request', `thinking.budget_tokens (${budget}) must be less than max_tokens; ${why}`, { param: 'thinking.budget_tokens' });
}

export function buildNativeMessagesRequest(input: BuildInput, native: NativeMessages): UpstreamHttpRequest {
  const src = native.body;
  const bad = thinkingError(native, input.maxOutputTokens, input.model ?? input.upstreamModel);
  if (bad !== null) throw bad;
  // maxOutputTokens is the cap the budget reserved for (the client's max_tokens or less); a cache
  // pre-warm's 0 goes as it came (reserved as 1: messages-request.ts).
  const body: Record<string, unknown> = { ...src, model: input.upstreamModel, max_tokens: src.max_tokens === 0 ? 0 : input.maxOutputTokens };
  // Anthropic's current models refuse temperature and top_p together ("cannot both be specified for
  // this model"), which an OpenAI-kind model takes: with both, temperature alone is sent, as the chat
  // translation does (anthropic-request.ts), so auto, a route or a fail-over to Claude does not turn a
  // request another model answered into a 400.
  if (src.temperature !== undefined && src.temperature !== null && src.top_p !== undefined && src.top_p !== null) delete body.top_p;
  if (input.stream) body.stream = true;
  else delete body.stream;
  // A history of tool_use / tool_result blocks with no tools: Anthropic refuses it ("must define
  // tools") where an OpenAI-kind model of the same route or fallback chain answered it. The tools the
  // history names go as placeholders, with tool_choice none, as for chat (tool-history.ts).
  if (!Array.isArray(src.tools) || src.tools.length === 0) {
    const named = messagesToolNames(src.messages);
    if (named.length > 0) {
      body.tools = placeholderTools(named);
      body.tool_choice = { type: 'none' };
    }
  }
  if (input.prefill !== null) {
    // Only a continuation rebuilds the turns; otherwise the client's messages go as they came.
    const turns = turnsOf(src.messages);
    appendPrefill(turns, input.prefill);
    body.messages = wireTurns(turns);
  }
  return anthropicHttpRequest(input, body, native.headers);
}
