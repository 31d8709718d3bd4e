import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { formatSse } from '../upstream/sse.js';
import { formatZodError } from './profile.js';
import type { Answer, ChatRequest, RateInfo, SimError, StreamEndOptions, Wire } from './types.js';

const TextBlock = z.looseObject({ type: z.string(), text: z.string().optional() });
/** Anthropic's own rule for tool use ids (its 400 names this pattern). */
const ToolId = z.string().regex(/^[a-zA-Z0-9_-]+$/, "String should match pattern '^[a-zA-Z0-9_-]+$'");
const Block = z.looseObject({
  type: z.string(),
  id: ToolId.optional(),
  tool_use_id: ToolId.optional(),
  text: z.string().optional(),
  name: z.string().optional(),
  input: z.unknown().optional(),
  content: z.union([z.string(), z.array(TextBlock)]).optional(),
});
const Message = z.looseObject({
  role: z.enum(['user', 'assistant']),
  content: z.union([z.string(), z.array(Block)]),
});
const Body = z.looseObject({
  model: z.string().min(1),
  messages: z.array(Message).min(1),
  // 0 is Anthropic's prompt cache pre-warm: the prompt processed (and cached), nothing generated.
  max_tokens: z.number().int().min(0),
  system: z.union([z.string(), z.array(TextBlock)]).optional(),
  stream: z.boolean().optional(),
  tools: z.array(z.looseObject({ name: z.string(), input_schema: z.unknown().optional() })).optional(),
  tool_choice: z.looseObject({ type: z.string(), name: z.string().optional() }).optional(),
  stop_sequences: z.array(z.string()).optional(),
  thinking: z
    .union([
      z.looseObject({ type: z.literal('enabled'), budget_tokens: z.number().int().min(1) }),
      z.looseObject({ type: z.literal('disabled') }),
      z.looseObject({ type: z.literal('adaptive') }),
    ])
    .optional(),
  // Structured outputs: the answer is JSON of the schema's shape.
  output_config: z.looseObject({ format: z.looseObject({ type: z.literal('json_schema'), schema: z.looseObject({}) }).nullish() }).optional(),
});
type AnthropicMessage = z.infer<typeof Message>;
type AnthropicBlock = z.infer<typeof Block>;

function blockText(b: AnthropicBlock): string {
  if (b.type === 'text') return b.text ?? '';
  if (b.type === 'tool_use') return `${b.name ?? ''}\n${JSON.stringify(b.input ?? {})}`;
  if (b.type === 'tool_result') {
    if (typeof b.content === 'string') return b.content;
    return (b.content ?? []).map((t) => t.text ?? '').join('\n');
  }
  // The text a document or search result gives the model is prompt, as Anthropic counts it (a PDF's is not simulated).
  const strings = (...v: unknown[]): string => v.filter((x): x is string => typeof x === 'string' && x !== '').join('\n');
  if (b.type === 'document') {
    const src = (b.source ?? {}) as { type?: unknown; data?: unknown };
    return strings(b.title, b.context, src.type === 'text' ? src.data : undefined);
  }
  if (b.type === 'search_result') {
    const inner = Array.isArray(b.content) ? b.content.map((t) => t.text) : [b.content];
    return strings(b.title, b.source, ...inner);
  }
  return '';
}

function messageText(m: AnthropicMessage): string {
  return typeof m.content === 'string' ? m.content : m.content.map(blockText).join('\n');
}

function isToolResult(m: AnthropicMessage): boolean {
  return m.role === 'user' && Array.isArray(m.content) && m.content.some((b) => b.type === 'tool_result');
}

function chooseTool(body: z.infer<typeof Body>, last: AnthropicMessage): string | null {
  const first = body.tools?.[0];
  if (first === undefined || body.tool_choice?.type === 'none' || isToolResult(last)) return null;
  if (body.tool_choice?.type === 'tool' && body.tool_choice.name !== undefined) return body.tool_choice.name;
  return first.name;
}

function parse(raw: unknown): ChatRequest | SimError {
  const result = Body.safeParse(raw);
  if (!result.success) return { status: 400, category: 'invalid_request', message: formatZodError(result.error) };
  const body = result.data;
  // Anthropic's rules for a pre-warm: not streamed, no extended thinking, no structured output.
  if (body.max_tokens === 0) {
    const bad =
      body.stream === true
        ? 'streaming'
        : body.thinking?.type === 'enabled'
          ? 'extended thinking'
          : body.output_config?.format != null
            ? 'structured outputs'
            : null;
    if (bad !== null) return { status: 400, category: 'invalid_request', message: `max_tokens: 0 is not compatible with ${bad}` };
  }
  // As Anthropic answers a history with tool calls or results and no tools defined.
  if (
    (body.tools ?? []).length === 0 &&
    body.messages.some((m) => Array.isArray(m.content) && m.content.some((b) => b.type === 'tool_use' || b.type === 'tool_result'))
  )
    return { status: 400, category: 'invalid_request', message: 'Requests which include `tool_use` or `tool_result` blocks must define tools.' };
  const texts = body.messages.map(messageText);
  if (body.system !== undefined) {
    texts.unshift(typeof body.system === 'string' ? body.system : body.system.map((b) => b.text ?? '').join('\n'));
  }
  const last = body.messages[body.messages.length - 1]!;
  const trailingAssistant = last.role === 'assistant';
  const lastUser = [...body.messages].reverse().find((m) => m.role === 'user' && !isToolResult(m));
  const toolName = chooseTool(body, last);
  return {
    model: body.model,
    stream: body.stream === true,
    includeUsage: true,
    maxTokens: body.max_tokens,
    messageTexts: texts,
    seedText: (trailingAssistant ? texts.slice(0, -1) : texts).join('\n'),
    prefill: trailingAssistant ? texts[texts.length - 1]! : null,
    toolName,
    toolCustom: false,
    toolSchema: toolName === null ? undefined : body.tools?.find((t) => t.name === toolName)?.input_schema,
    lastUserText: lastUser === undefined ? '' : messageText(lastUser),
    json: body.output_config?.format != null,
    ...(body.output_config?.format != null ? { jsonSchema: body.output_config.format.schema } : {}),
    logprobs: false,
    thinkingBudget: body.thinking?.type === 'enabled' ? (body.thinking as { budget_tokens: number }).budget_tokens : null,
    stopSequences: body.stop_sequences ?? [],
  };
}

const TYPES: Record<SimError['category'], string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  rate_limit: 'rate_limit_error',
  server: 'api_error',
  overloaded: 'overloaded_error',
  not_found: 'not_found_error',
};

const STOP: Record<Answer['finish'], string> = { stop: 'end_turn', length: 'max_tokens', tool: 'tool_use' };

/** A tool call's input: its arguments, or {} when they were cut at max_tokens (or broken by a fault) and are not JSON. */
function toolInput(args: string): unknown {
  try {
    return JSON.parse(args) as unknown;
  } catch {
    return {};
  }
}

// A refusal is Claude's own stop reason (`refusal`, its words as the text), as the real API ends one.
const stopReason = (a: Answer): string => (a.stopSequence !== null ? 'stop_sequence' : a.kind === 'refusal' ? 'refusal' : STOP[a.finish]);

/** Output tokens: the answer's and its thinking's (Anthropic bills thinking as output). */
const outputTokens = (a: Answer): number => a.completionTokens + (a.thinking?.pieces.length ?? 0);

function usageOf(a: Answer): Record<string, number> {
  const cached = Math.min(a.cachedTokens, a.promptTokens);
  const written = Math.min(a.cacheWriteTokens, a.promptTokens - cached);
  // Anthropic's input_tokens exclude the tokens read from and written to the cache.
  return {
    input_tokens: a.promptTokens - cached - written,
    output_tokens: outputTokens(a),
    cache_read_input_tokens: cached,
    cache_creation_input_tokens: written,
  };
}

/** The opening events of a thinking block (index 0), whole: its text, then its signature. */
function thinkingEvents(a: Answer): string {
  if (a.thinking === null) return '';
  let out = event('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } });
  for (const p of a.thinking.pieces) out += event('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: p } });
  out += event('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: a.thinking.signature } });
  return out + event('content_block_stop', { index: 0 });
}

/** Index of the answer's own block: after the thinking block when there is one. */
const answerIndex = (a: Answer): number => (a.thinking === null ? 0 : 1);

function event(type: string, data: Record<string, unknown>): string {
  return formatSse(JSON.stringify({ type, ...data }), type);
}

function resetDate(ms: number): string {
  return new Date(Date.now() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export const anthropicWire: Wire = {
  name: 'anthropic',
  ids: (seq) => ({ id: `msg_sim${seq}`, toolId: `toolu_sim${seq}` }),
  authPresent: (headers: IncomingHttpHeaders) => headers['x-api-key'] !== undefined,
  checkHeaders: (headers) =>
    headers['anthropic-version'] === undefined ? { status: 400, category: 'invalid_request', message: 'anthropic-version: header is required' } : null,
  parse,
  checkPrefill: (prefill) =>
    /\s$/.test(prefill) ? { status: 400, category: 'invalid_request', message: 'messages: final assistant content cannot end with trailing whitespace' } : null,
  errorBody: (err) => ({ type: 'error', error: { type: TYPES[err.category], message: err.message } }),
  authError: () => ({ status: 401, category: 'authentication', message: 'x-api-key header is required' }),
  rateLimitError: () => ({
    status: 429,
    category: 'rate_limit',
    message: 'This request would exceed the rate limit for your organization of requests per minute.',
  }),
  contextLengthError: (promptTokens, maxContext) => ({
    status: 400,
    category: 'invalid_request',
    message: `prompt is too long: ${promptTokens} tokens > ${maxContext} maximum`,
  }),
  contentPolicyError: () => ({
    status: 400,
    category: 'invalid_request',
    message: 'This request was flagged as potentially violating our Usage Policy.',
  }),
  modelNotFoundError: (model) => ({ status: 404, category: 'not_found', message: `model: ${model}` }),
  httpError: (status, message) => ({
    status,
    category: status === 529 ? 'overloaded' : 'server',
    message: message ?? (status === 529 ? 'Overloaded' : 'Internal server error'),
  }),
  rateHeaders: (requests: RateInfo, tokens: RateInfo | null) => {
    const h: Record<string, string> = {
      'anthropic-ratelimit-requests-limit': String(requests.limit),
      'anthropic-ratelimit-requests-remaining': String(requests.remaining),
      'anthropic-ratelimit-requests-reset': resetDate(requests.resetMs),
    };
    if (tokens !== null) {
      h['anthropic-ratelimit-tokens-limit'] = String(tokens.limit);
      h['anthropic-ratelimit-tokens-remaining'] = String(tokens.remaining);
      h['anthropic-ratelimit-tokens-reset'] = resetDate(tokens.resetMs);
    }
    return h;
  },
  json: (a, usage) => ({
    id: a.id,
    type: 'message',
    role: 'assistant',
    model: a.model,
    // A pre-warm (max_tokens 0) generated nothing: no block at all.
    content:
      a.finish === 'length' && a.completionTokens === 0 && a.thinking === null
        ? []
        : [
            ...(a.thinking === null ? [] : [{ type: 'thinking', thinking: a.thinking.pieces.join(''), signature: a.thinking.signature }]),
            a.kind === 'tool'
              ? { type: 'tool_use', id: a.toolId, name: a.toolName, input: toolInput(a.pieces.join('')) }
              : { type: 'text', text: a.pieces.join('') },
          ],
    stop_reason: stopReason(a),
    stop_sequence: a.stopSequence,
    ...(usage ? { usage: usageOf(a) } : {}),
  }),
  streamStart: (a, usage) => {
    const message = {
      id: a.id,
      type: 'message',
      role: 'assistant',
      model: a.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      ...(usage ? { usage: { ...usageOf(a), output_tokens: 1 } } : {}),
    };
    const block = a.kind === 'tool' ? { type: 'tool_use', id: a.toolId, name: a.toolName, input: {} } : { type: 'text', text: '' };
    return (
      event('message_start', { message }) +
      thinkingEvents(a) +
      event('content_block_start', { index: answerIndex(a), content_block: block }) +
      event('ping', {})
    );
  },
  streamPiece: (a, piece) =>
    event('content_block_delta', {
      index: answerIndex(a),
      delta: a.kind === 'tool' ? { type: 'input_json_delta', partial_json: piece } : { type: 'text_delta', text: piece },
    }),
  streamEnd: (a, opts: StreamEndOptions) => {
    let out =
      event('content_block_stop', { index: answerIndex(a) }) +
      event('message_delta', {
        delta: { stop_reason: stopReason(a), stop_sequence: a.stopSequence },
        ...(opts.usage ? { usage: { output_tokens: outputTokens(a) } } : {}),
      });
    if (opts.terminator) out += event('message_stop', {});
    return out;
  },
  streamError: () => event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }),
};
