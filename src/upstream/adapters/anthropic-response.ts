/**
 * Anthropic Messages answers → OpenAI: the non-streamed `chat.completion`, `stop_reason` →
 * `finish_reason`, and error bodies.
 */
import { missesCount, usageFromAnthropic, type Usage } from '../../accounting/cost.js';
import { cutText, unstructuredKind, type UpstreamErrorInfo } from '../types.js';
import { isObj } from './anthropic-messages.js';
import type { ParsedCompletion } from './types.js';

const FINISH: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

/** Anthropic `stop_reason` → OpenAI `finish_reason` (an unknown reason counts as a normal stop). */
export function finishReason(stopReason: unknown): string {
  return typeof stopReason === 'string' ? (FINISH[stopReason] ?? 'stop') : 'stop';
}

/**
 * The stop sequence Claude stopped at (`stop_reason: stop_sequence`), for the chat form's choice
 * under vLLM's `stop_reason` (the matched stop string): `finish_reason` alone says `stop`, and a
 * Messages client served in the chat form (a stream continued on Claude) was told `end_turn`.
 */
export function stopSequenceOf(m: Record<string, unknown>): string | null {
  return m.stop_reason === 'stop_sequence' && typeof m.stop_sequence === 'string' && m.stop_sequence !== '' ? m.stop_sequence : null;
}

/** A `Usage` in the OpenAI wire shape (prompt_tokens includes cache reads and writes). */
export function openaiUsage(u: Usage): Record<string, unknown> {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    // Cache writes, where there are any (part of prompt_tokens, billed at the cache-write price), as OpenRouter shows them.
    prompt_tokens_details: { cached_tokens: u.cachedTokens ?? 0, ...(u.cacheCreationTokens ? { cache_write_tokens: u.cacheCreationTokens } : {}) },
    // As OpenAI's answers and this model's streamed usage chunk have it (Anthropic counts no reasoning apart: thinking is output).
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
  };
}

export function parseAnthropicCompletion(json: unknown): ParsedCompletion {
  if (!isObj(json) || json.type !== 'message' || !Array.isArray(json.content)) {
    throw new Error('upstream answer is not an Anthropic Messages response');
  }
  let text = '';
  let hasText = false;
  // Output besides the text (tool calls, thinking), for estimates when the usage misses a count.
  let other = '';
  // Thinking text (an Anthropic-wire upstream that thinks unasked), shown as DeepSeek's `reasoning_content`, as the stream shows it.
  let thinking = '';
  const toolCalls: Array<Record<string, unknown>> = [];
  for (const block of json.content as unknown[]) {
    if (!isObj(block)) continue;
    if (block.type === 'text' && typeof block.text === 'string') {
      text += block.text;
      hasText = true;
    } else if (block.type === 'tool_use') {
      const args = JSON.stringify(block.input ?? {});
      toolCalls.push({
        id: block.id,
        type: 'function',
        function: { name: block.name, arguments: args },
      });
      other += (typeof block.name === 'string' ? block.name : '') + args;
    } else if (block.type === 'thinking' && typeof block.thinking === 'string') {
      other += block.thinking;
      thinking += block.thinking;
    } else if (block.type === 'server_tool_use') other += JSON.stringify(block.input ?? {});
    // redacted_thinking and server-side tool blocks have no OpenAI form.
  }
  // A Claude refusal of words alone is OpenAI's refusal: the words in `refusal`, `content` null,
  // finish `stop` (the SDK's parse helpers give `parsed: null` for it; `content_filter` made them throw).
  const refused = json.stop_reason === 'refusal' && hasText && toolCalls.length === 0;
  const message: Record<string, unknown> = { role: 'assistant', content: hasText && !refused ? text : null, refusal: refused ? text : null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (thinking !== '') message.reasoning_content = thinking;
  const usage = usageFromAnthropic(json.usage) ?? null;
  const completion: Record<string, unknown> = {
    id: json.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: json.model,
    choices: [{ index: 0, message, finish_reason: refused ? 'stop' : finishReason(json.stop_reason), logprobs: null }],
  };
  const matched = stopSequenceOf(json);
  if (matched !== null) (completion.choices as Array<Record<string, unknown>>)[0]!.stop_reason = matched;
  if (usage) completion.usage = openaiUsage(usage);
  return { completion, usage, text, other: missesCount(usage) ? other : '' };
}

const CONTEXT = /prompt is too long|too many tokens|context (window|length|limit)|exceeds? (the )?(model'?s? )?context/i;

/** An Anthropic error object (`{type, message}`) → the normalised info. */
export function errorInfo(e: Record<string, unknown>, fallback: string): UpstreamErrorInfo {
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : fallback;
  const type = typeof e.type === 'string' ? e.type : null;
  const code = type === 'invalid_request_error' && CONTEXT.test(message) ? 'context_length_exceeded' : type;
  const info: UpstreamErrorInfo = { message, type, code, param: null };
  if (isObj(e.details)) info.details = e.details;
  return info;
}

export function parseAnthropicError(status: number, bodyText: string): UpstreamErrorInfo {
  const fallback = `upstream status ${status}`;
  try {
    const j: unknown = JSON.parse(bodyText);
    if (isObj(j) && isObj(j.error)) return errorInfo(j.error, fallback);
  } catch {
    // Not JSON: the raw text below.
  }
  return { message: cutText(bodyText, 300) || fallback, type: null, code: null, param: null, unstructured: unstructuredKind(bodyText) };
}
