/**
 * Anthropic-kind providers (the Messages API): requests are translated from the OpenAI
 * chat-completions format, answers, streams and errors back to it. The pieces live in
 * `anthropic-request.ts` / `anthropic-messages.ts` (request), `anthropic-response.ts`
 * (completion, finish reasons, errors) and `anthropic-stream.ts` (stream decoder).
 */
import { buildAnthropicRequest } from './anthropic-request.js';
import { parseAnthropicCompletion, parseAnthropicError } from './anthropic-response.js';
import { AnthropicStreamDecoder } from './anthropic-stream.js';
import type { ProviderAdapter } from './types.js';

export const anthropicAdapter: ProviderAdapter = {
  kind: 'anthropic',
  buildRequest: buildAnthropicRequest,
  parseCompletion: parseAnthropicCompletion,
  streamDecoder: () => new AnthropicStreamDecoder(),
  parseError: parseAnthropicError,
};
