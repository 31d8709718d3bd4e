/**
 * Anthropic-kind providers (the Messages API): requests are translated from the OpenAI
 * chat-completions format, answers, streams and errors back to it. The pieces live in
 * `anthropic-request.ts` / `anthropic-messages.ts` (request), `anthropic-response.ts`
 * (completion, finish reasons, errors) and `anthropic-stream.ts` (stream decoder).
 */
import { SwitchyardError } from '../../errors.js';
import { nativeOf } from '../../apis/native.js';
import { buildNativeMessagesRequest } from './anthropic-native.js';
import { buildAnthropicRequest } from './anthropic-request.js';
import { parseAnthropicCompletion, parseAnthropicError } from './anthropic-response.js';
import { AnthropicStreamDecoder } from './anthropic-stream.js';
import type { ProviderAdapter } from './types.js';

export const anthropicAdapter: ProviderAdapter = {
  kind: 'anthropic',
  buildRequest(input) {
    const native = nativeOf(input.body);
    if (native?.kind === 'anthropic-messages') return buildNativeMessagesRequest(input, native);
    // The config refuses embeddings models on Anthropic-kind providers; this is the backstop.
    if (native?.kind === 'embeddings') throw new SwitchyardError('invalid_request', 'Anthropic-kind providers have no embeddings API', { param: 'model' });
    return buildAnthropicRequest(input);
  },
  parseCompletion: parseAnthropicCompletion,
  streamDecoder: (relay = false, jsonAnswer = false) => new AnthropicStreamDecoder(relay, jsonAnswer),
  parseError: parseAnthropicError,
};
