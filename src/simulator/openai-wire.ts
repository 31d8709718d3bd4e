import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { formatSse } from '../upstream/sse.js';
import { formatZodError } from './profile.js';
import { formatGoDuration } from './rate-limit.js';
import type { Answer, ChatRequest, RateInfo, SimError, StreamEndOptions, Wire } from './types.js';

/** Only the fields the simulator reads; everything else passes unchecked, as upstreams do. */
const Part = z.looseObject({ type: z.string(), text: z.string().optional() });
const Message = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(Part), z.null()]).optional(),
  tool_calls: z
    .array(
      z.looseObject({
        function: z.looseObject({ name: z.string(), arguments: z.string().optional() }).optional(),
        custom: z.looseObject({ name: z.string(), input: z.string().optional() }).optional(),
      }),
    )
    .optional(),
});
/** A function tool (`function.name`) or a custom one (`type: "custom"`, `custom.name`: it takes free-form text). */
const Tool = z
  .looseObject({
    type: z.string().optional(),
    function: z.looseObject({ name: z.string(), parameters: z.unknown().optional() }).optional(),
    custom: z.looseObject({ name: z.string() }).optional(),
  })
  .superRefine((t, ctx) => {
    const key = t.type === 'custom' ? 'custom' : 'function';
    if (t[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'expected object, received undefined' });
  });
type ToolDef = z.infer<typeof Tool>;
const Body = z.looseObject({
  model: z.string().min(1),
  messages: z.array(Message).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().min(0).nullish(),
  max_completion_tokens: z.number().int().min(0).nullish(),
  tools: z.array(Tool).optional(),
  tool_choice: z
    .union([
      z.string(),
      z.looseObject({
        type: z.string().optional(),
        function: z.looseObject({ name: z.string() }).optional(),
        custom: z.looseObject({ name: z.string() }).optional(),
        allowed_tools: z.looseObject({ mode: z.string(), tools: z.array(Tool).min(1) }).optional(),
      }),
    ])
    .optional(),
  response_format: z.looseObject({ type: z.string(), json_schema: z.unknown().optional() }).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
});
type OpenAiMessage = z.infer<typeof Message>;

function messageText(m: OpenAiMessage): string {
  const parts: string[] = [];
  if (typeof m.content === 'string') parts.push(m.content);
  else if (Array.isArray(m.content)) for (const p of m.content) if (p.text !== undefined) parts.push(p.text);
  for (const call of m.tool_calls ?? []) {
    if (call.function !== undefined) parts.push(call.function.name, call.function.arguments ?? '');
    if (call.custom !== undefined) parts.push(call.custom.name, call.custom.input ?? '');
  }
  return parts.join('\n');
}

/** `json_schema.schema`, when `json_schema` is an object. */
const schemaOf = (js: unknown): unknown => (typeof js === 'object' && js !== null ? (js as { schema?: unknown }).schema : undefined);

const toolRef = (t: ToolDef): { name: string; custom: boolean } =>
  t.type === 'custom' ? { name: t.custom?.name ?? '', custom: true } : { name: t.function?.name ?? '', custom: false };

/** The tool the answer calls: the one `tool_choice` names (a function, a custom tool, the first of `allowed_tools`), else the first offered. */
function chooseTool(body: z.infer<typeof Body>, last: OpenAiMessage): { name: string; custom: boolean } | null {
  const first = body.tools?.[0];
  if (first === undefined || body.tool_choice === 'none' || last.role === 'tool') return null;
  const tc = body.tool_choice;
  if (typeof tc === 'object') {
    if (tc.function !== undefined) return { name: tc.function.name, custom: false };
    if (tc.custom !== undefined) return { name: tc.custom.name, custom: true };
    const allowed = tc.allowed_tools?.tools[0];
    if (allowed !== undefined) return toolRef(allowed);
  }
  return toolRef(first);
}

function parse(raw: unknown): ChatRequest | SimError {
  const result = Body.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    return {
      status: 400,
      category: 'invalid_request',
      message: formatZodError(result.error),
      param: issue === undefined ? null : issue.path.map(String).join('.'),
    };
  }
  const body = result.data;
  // As OpenAI answers: tool_choice and parallel_tool_calls are only allowed with tools.
  for (const param of ['tool_choice', 'parallel_tool_calls'] as const)
    if (body[param] !== undefined && body[param] !== null && (body.tools ?? []).length === 0)
      return {
        status: 400,
        category: 'invalid_request',
        message: `Invalid value for '${param}': '${param}' is only allowed when 'tools' are specified.`,
        param,
      };
  // As OpenAI answers: an assistant message's content may be null or left out only for its tool calls.
  const silent = body.messages.findIndex(
    (m) => m.role === 'assistant' && (m.content === null || m.content === undefined) && (m.tool_calls ?? []).length === 0 && m.function_call == null,
  );
  if (silent >= 0)
    return {
      status: 400,
      category: 'invalid_request',
      message: "Invalid value for 'content': expected a string, got null.",
      param: `messages.[${silent}].content`,
    };
  const texts = body.messages.map(messageText);
  const last = body.messages[body.messages.length - 1]!;
  const trailingAssistant = last.role === 'assistant';
  const seedTexts = trailingAssistant ? texts.slice(0, -1) : texts;
  const lastUser = [...body.messages].reverse().find((m) => m.role === 'user');
  const tool = chooseTool(body, last);
  const toolName = tool === null ? null : tool.name;
  return {
    model: body.model,
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    messageTexts: texts,
    seedText: seedTexts.join('\n'),
    prefill: trailingAssistant ? texts[texts.length - 1]! : null,
    toolName,
    toolCustom: tool?.custom === true,
    lastUserText: lastUser === undefined ? '' : messageText(lastUser),
    json: body.response_format?.type === 'json_object' || body.response_format?.type === 'json_schema',
    jsonSchema: body.response_format?.type === 'json_schema' ? schemaOf(body.response_format.json_schema) : undefined,
    toolSchema: tool === null || tool.custom ? undefined : body.tools?.find((t) => t.type !== 'custom' && t.function?.name === toolName)?.function?.parameters,
    logprobs: body.logprobs === true,
    topLogprobs: body.top_logprobs ?? 0,
    thinkingBudget: null,
    stopSequences: typeof body.stop === 'string' ? [body.stop] : (body.stop ?? []),
  };
}

const TYPES: Record<SimError['category'], string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'invalid_request_error',
  rate_limit: 'requests',
  server: 'server_error',
  overloaded: 'server_error',
  not_found: 'invalid_request_error',
};

const FINISH: Record<Answer['finish'], string> = { stop: 'stop', length: 'length', tool: 'tool_calls' };

function usageOf(a: Answer): unknown {
  return {
    prompt_tokens: a.promptTokens,
    completion_tokens: a.completionTokens,
    total_tokens: a.promptTokens + a.completionTokens,
    prompt_tokens_details: { cached_tokens: a.cachedTokens },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

/** The constant start of every chunk of one answer, serialised once (streams are hot in benchmarks). */
const chunkHeads = new WeakMap<Answer, string>();

function chunkHead(a: Answer): string {
  let head = chunkHeads.get(a);
  if (head === undefined) {
    head =
      `{"id":${JSON.stringify(a.id)},"object":"chat.completion.chunk","created":${a.created},` +
      `"model":${JSON.stringify(a.model)},"system_fingerprint":"fp_simulator","choices":`;
    chunkHeads.set(a, head);
  }
  return head;
}

/** OpenAI's `logprobs` object for these tokens, or null when not asked for. */
function logprobsOf(a: Answer, pieces: string[]): unknown {
  if (a.logprob === null) return null;
  const lp = a.logprob;
  // The token itself is the most likely; made-up alternatives follow, each less likely.
  const top = (token: string) =>
    Array.from({ length: a.topLogprobs }, (_, i) =>
      i === 0 ? { token, logprob: lp, bytes: null } : { token: `${token}${i}`, logprob: lp - 4 * i, bytes: null },
    );
  return { content: pieces.map((token) => ({ token, logprob: lp, bytes: null, top_logprobs: top(token) })) };
}

function chunk(a: Answer, delta: unknown, finish: string | null): string {
  const choice = `[{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":${JSON.stringify(finish)}}]`;
  return formatSse(`${chunkHead(a)}${choice}}`);
}

export const openAiWire: Wire = {
  name: 'openai',
  ids: (seq) => ({ id: `chatcmpl-sim${seq}`, toolId: `call_sim${seq}` }),
  authPresent: (headers: IncomingHttpHeaders) => headers.authorization !== undefined,
  checkHeaders: () => null,
  parse,
  checkPrefill: () => null,
  errorBody: (err) => ({ error: { message: err.message, type: TYPES[err.category], param: err.param ?? null, code: err.code ?? null } }),
  authError: () => ({
    status: 401,
    category: 'authentication',
    message:
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    code: 'invalid_api_key',
  }),
  rateLimitError: () => ({
    status: 429,
    category: 'rate_limit',
    message: 'Rate limit reached for requests per min (RPM). Please try again later.',
    code: 'rate_limit_exceeded',
  }),
  contextLengthError: (promptTokens, maxContext) => ({
    status: 400,
    category: 'invalid_request',
    message: `This model's maximum context length is ${maxContext} tokens. However, your messages resulted in ${promptTokens} tokens. Please reduce the length of the messages.`,
    param: 'messages',
    code: 'context_length_exceeded',
  }),
  contentPolicyError: () => ({
    status: 400,
    category: 'invalid_request',
    message: 'Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our content policy.',
    code: 'content_policy_violation',
  }),
  modelNotFoundError: (model) => ({
    status: 404,
    category: 'not_found',
    message: `The model \`${model}\` does not exist or you do not have access to it.`,
    code: 'model_not_found',
  }),
  httpError: (status, message) => ({
    status,
    category: status === 529 || status === 503 ? 'overloaded' : 'server',
    message:
      message ??
      (status === 503 || status === 529
        ? 'The engine is currently overloaded, please try again later.'
        : 'The server had an error while processing your request. Sorry about that!'),
  }),
  rateHeaders: (requests: RateInfo, tokens: RateInfo | null) => {
    const h: Record<string, string> = {
      'x-ratelimit-limit-requests': String(requests.limit),
      'x-ratelimit-remaining-requests': String(requests.remaining),
      'x-ratelimit-reset-requests': formatGoDuration(requests.resetMs),
    };
    if (tokens !== null) {
      h['x-ratelimit-limit-tokens'] = String(tokens.limit);
      h['x-ratelimit-remaining-tokens'] = String(tokens.remaining);
      h['x-ratelimit-reset-tokens'] = formatGoDuration(tokens.resetMs);
    }
    return h;
  },
  json: (a, usage) => ({
    id: a.id,
    object: 'chat.completion',
    created: a.created,
    model: a.model,
    system_fingerprint: 'fp_simulator',
    choices: [
      {
        index: 0,
        message:
          a.kind === 'tool'
            ? {
                role: 'assistant',
                content: null,
                refusal: null,
                tool_calls: [
                  a.toolCustom
                    ? { id: a.toolId, type: 'custom', custom: { name: a.toolName, input: a.pieces.join('') } }
                    : { id: a.toolId, type: 'function', function: { name: a.toolName, arguments: a.pieces.join('') } },
                ],
              }
            : a.kind === 'refusal'
              ? { role: 'assistant', content: null, refusal: a.pieces.join('') }
              : { role: 'assistant', content: a.pieces.join(''), refusal: null },
        logprobs: a.kind === 'text' ? logprobsOf(a, a.pieces) : null,
        finish_reason: FINISH[a.finish],
      },
    ],
    ...(usage ? { usage: usageOf(a) } : {}),
  }),
  streamStart: (a) =>
    a.kind === 'tool'
      ? chunk(
          a,
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              a.toolCustom
                ? { index: 0, id: a.toolId, type: 'custom', custom: { name: a.toolName, input: '' } }
                : { index: 0, id: a.toolId, type: 'function', function: { name: a.toolName, arguments: '' } },
            ],
          },
          null,
        )
      : chunk(a, { role: 'assistant', content: '' }, null),
  streamPiece: (a, piece) =>
    a.kind === 'tool'
      ? chunk(a, { tool_calls: [a.toolCustom ? { index: 0, custom: { input: piece } } : { index: 0, function: { arguments: piece } }] }, null)
      : a.kind === 'refusal'
        ? chunk(a, { refusal: piece }, null)
        : formatSse(
            `${chunkHead(a)}[{"index":0,"delta":{"content":${JSON.stringify(piece)}},"logprobs":${JSON.stringify(logprobsOf(a, [piece]))},"finish_reason":null}]}`,
          ),
  streamEnd: (a, opts: StreamEndOptions) => {
    let out = chunk(a, {}, FINISH[a.finish]);
    if (opts.usage) {
      out += formatSse(
        JSON.stringify({
          id: a.id,
          object: 'chat.completion.chunk',
          created: a.created,
          model: a.model,
          system_fingerprint: 'fp_simulator',
          choices: [],
          usage: usageOf(a),
        }),
      );
    }
    if (opts.terminator) out += formatSse('[DONE]');
    return out;
  },
  streamError: () =>
    formatSse(
      JSON.stringify({
        error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null },
      }),
    ),
};
