/**
 * The client's own Messages body (from `POST /v1/messages`) sent to an Anthropic-kind
 * endpoint without a round trip through chat completions: only the model, `max_tokens`
 * (capped to what the budget reserved: the model's `maxOutputTokens`), `stream` and a
 * fail-over continuation's prefill are set per attempt. Everything else — cache_control,
 * thinking, top_k, metadata, document blocks — reaches Anthropic as the client wrote it,
 * with the client's `anthropic-version` and `anthropic-beta` headers (never its key).
 */
import type { NativeMessages } from '../../apis/native.js';
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

export function buildNativeMessagesRequest(input: BuildInput, native: NativeMessages): UpstreamHttpRequest {
  const src = native.body;
  // maxOutputTokens is the cap the budget reserved for (the client's max_tokens or less).
  const body: Record<string, unknown> = { ...src, model: input.upstreamModel, max_tokens: input.maxOutputTokens };
  if (input.stream) body.stream = true;
  else delete body.stream;
  if (input.prefill !== null) {
    // Only a continuation rebuilds the turns; otherwise the client's messages go as they came.
    const turns = turnsOf(src.messages);
    appendPrefill(turns, input.prefill);
    body.messages = wireTurns(turns);
  }
  return anthropicHttpRequest(input, body, native.headers);
}
