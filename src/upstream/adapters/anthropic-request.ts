/**
 * OpenAI chat-completions request → Anthropic Messages request (`POST /v1/messages`).
 *
 * Every top-level OpenAI field is either translated, ignored because dropping it changes
 * nothing about the answer, or refused with a 400 naming it: an explicit allow-list, so a
 * field we do not know about is never silently lost.
 */
import { createHash } from 'node:crypto';
import { anthropicSchema } from './anthropic-schema.js';
import { historyToolNames, placeholderTools } from '../../apis/tool-history.js';
import { own } from '../../config/lookup.js';
import type { UpstreamHttpRequest } from '../types.js';
import { cacheControl, isObj, pushTurn, translateMessages, untranslatable, wireTurns, type AnthropicTurn } from './anthropic-messages.js';
import type { BuildInput } from './types.js';

/** Fields read by the translation below. */
const HANDLED = new Set([
  'model',
  'messages',
  'stream',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'stop',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'user',
  'safety_identifier',
  'response_format',
]);

/**
 * Fields that are safe to drop, with the values for which they are: they only affect
 * OpenAI-side storage or reporting, or hold their no-op default. Any other value is refused.
 */
const HARMLESS: Record<string, (v: unknown) => boolean> = {
  stream_options: () => true, // usage always comes with Anthropic streams
  store: () => true, // OpenAI-side storage of the completion
  metadata: () => true, // tags for OpenAI-side stored completions (not Anthropic's metadata)
  n: (v) => v === 1,
  logprobs: (v) => v === false,
  top_logprobs: (v) => v === 0,
  presence_penalty: (v) => v === 0,
  frequency_penalty: (v) => v === 0,
  logit_bias: (v) => isObj(v) && Object.keys(v).length === 0,
  modalities: (v) => Array.isArray(v) && v.length === 1 && v[0] === 'text', // text is all Anthropic produces
  service_tier: (v) => v === 'auto' || v === 'default', // OpenAI's default processing tier
  prompt_cache_key: (v) => typeof v === 'string', // OpenAI's cache routing hint; Anthropic caches by cache_control
  prompt_cache_retention: (v) => v === 'in_memory' || v === '24h', // how long OpenAI keeps its cache: a hint like the key
};

const WHY: Record<string, string> = {
  n: 'Anthropic returns a single choice',
  logprobs: 'Anthropic does not return log probabilities',
  top_logprobs: 'Anthropic does not return log probabilities',
  presence_penalty: 'Anthropic has no presence penalty',
  frequency_penalty: 'Anthropic has no frequency penalty',
  logit_bias: 'Anthropic has no logit bias',
  seed: 'Anthropic has no seed',
  audio: 'Anthropic does not produce audio',
  modalities: 'Anthropic produces text only',
  // Anthropic's own fields and OpenAI's reasoning controls: said what they are and where they go (they read as fields Anthropic lacks).
  thinking: "Anthropic's extended thinking is a Messages API field: send the request to /v1/messages (the Anthropic SDK) to use it",
  top_k: 'top_k is a Messages API field: send the request to /v1/messages (the Anthropic SDK) to use it',
  reasoning_effort: "OpenAI's reasoning effort has no translation to Claude here: leave it out, or use extended thinking through /v1/messages",
  verbosity: "OpenAI's verbosity control has no Anthropic equivalent: leave it out",
  prediction: 'Anthropic has no predicted outputs',
  functions: 'the legacy functions field is not translated: send tools (type "function") instead',
  function_call: 'the legacy function_call field is not translated: send tool_choice instead',
  web_search_options: "OpenAI's web search has no translation to Claude here",
};

function checkFields(body: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(body)) {
    // A null is the same as an absent field.
    if (value === undefined || value === null || HANDLED.has(key)) continue;
    const harmless = own(HARMLESS, key);
    if (harmless?.(value)) continue;
    throw untranslatable(key, own(WHY, key) ?? 'the field is not one switchyard translates for Anthropic: leave it out, or send it to an OpenAI-kind model');
  }
}

const present = <T>(v: T | null | undefined): v is T => v !== undefined && v !== null;

/** The reserved cap; the client's own fields are only checked (validate.ts already typed them). */
function maxTokens(body: Record<string, unknown>, cap: number): number {
  for (const key of ['max_completion_tokens', 'max_tokens'] as const) {
    const v = body[key];
    if (present(v) && (typeof v !== 'number' || !Number.isInteger(v) || v < 1)) throw untranslatable(key, 'must be a positive integer');
  }
  return cap;
}

function tools(v: unknown): Array<Record<string, unknown>> {
  if (!Array.isArray(v)) throw untranslatable('tools', 'must be an array');
  return v.map((t: unknown, i) => {
    if (!isObj(t) || t.type !== 'function' || !isObj(t.function) || typeof t.function.name !== 'string') {
      throw untranslatable(`tools[${i}]`, 'only function tools with a name are supported');
    }
    const f = t.function;
    const params = present(f.parameters) ? f.parameters : { type: 'object', properties: {} };
    if (!isObj(params)) throw untranslatable(`tools[${i}].function.parameters`, 'must be a JSON schema object');
    const cc = cacheControl(t.cache_control, `tools[${i}]`);
    return {
      name: f.name,
      ...(typeof f.description === 'string' ? { description: f.description } : {}),
      // Strict tool use: Anthropic constrains the call's input to the schema (in the subset its sampling takes), as OpenAI's strict functions do.
      input_schema: f.strict === true ? anthropicSchema(params, `tools[${i}].function.parameters`) : params,
      ...(f.strict === true ? { strict: true } : {}),
      ...(cc !== undefined ? { cache_control: cc } : {}),
    };
  });
}

/**
 * OpenAI's `allowed_tools` choice (`{"type": "allowed_tools", "allowed_tools": {"mode", "tools"}}`):
 * the names it allows and its mode, or null for any other choice. Anthropic has no such choice; it
 * gets only the allowed tools, and `required` as `any` (the edge checked each names a tool of `tools`).
 */
function allowedTools(v: unknown): { names: Set<string>; required: boolean } | null {
  if (!isObj(v) || v.type !== 'allowed_tools' || !isObj(v.allowed_tools) || !Array.isArray(v.allowed_tools.tools)) return null;
  const names = new Set<string>();
  v.allowed_tools.tools.forEach((t: unknown, i) => {
    if (!isObj(t) || t.type !== 'function' || !isObj(t.function) || typeof t.function.name !== 'string')
      throw untranslatable(`tool_choice.allowed_tools.tools[${i}]`, 'only function tools are supported');
    names.add(t.function.name);
  });
  return { names, required: v.allowed_tools.mode === 'required' };
}

function toolChoice(v: unknown): Record<string, unknown> {
  if (v === 'auto') return { type: 'auto' };
  if (v === 'required') return { type: 'any' };
  if (v === 'none') return { type: 'none' };
  if (isObj(v) && v.type === 'function' && isObj(v.function) && typeof v.function.name === 'string') return { type: 'tool', name: v.function.name };
  throw untranslatable('tool_choice', 'must be auto, required, none, a named function or allowed_tools of functions');
}

function stopSequences(v: unknown): string[] {
  const list: unknown[] = typeof v === 'string' ? [v] : Array.isArray(v) ? v : [null];
  if (!list.every((s): s is string => typeof s === 'string')) throw untranslatable('stop', 'must be a string or an array of strings');
  const stops = list.filter((s) => s !== '');
  // Anthropic answers 400 "each stop sequence must contain non-whitespace": refused here, so a
  // route or `auto` passes over this model instead of failing upstream (`stop: "\n"` is common).
  const blank = stops.findIndex((s) => s.trim() === '');
  if (blank >= 0)
    throw untranslatable(
      typeof v === 'string' ? 'stop' : `stop[${list.indexOf(stops[blank]!)}]`,
      `Anthropic refuses a stop sequence of whitespace only (${JSON.stringify(stops[blank])}); give one with a visible character`,
    );
  return stops;
}

/** The path of the Messages endpoint under the provider's base path, without a doubled `/v1`. */
export function messagesPath(basePath: string): string {
  const base = basePath.replace(/\/+$/, '');
  return /\/v1$/.test(base) ? `${base}/messages` : `${base}/v1/messages`;
}

export function buildAnthropicBody(input: BuildInput): Record<string, unknown> {
  const b = input.body as Record<string, unknown>;
  checkFields(b);
  if (!Array.isArray(input.body.messages)) throw untranslatable('messages', 'must be an array');
  const { system, turns } = translateMessages(input.body.messages);
  // Anthropic needs at least one user or assistant turn; system text alone (or only empty
  // messages) would come back as the provider's own confusing "messages: … >=1 items".
  if (turns.length === 0)
    throw untranslatable(
      'messages',
      'Anthropic needs at least one user or assistant message with content; this request has only system/developer messages or empty ones',
    );
  // Anthropic refuses a conversation that opens with the assistant's turn (400 "messages: first
  // message must use the \"user\" role") where OpenAI takes it (a chat UI's greeting, a history
  // trimmed to its last turns): a placeholder user turn goes first, as LiteLLM sends it.
  if (turns[0]!.role === 'assistant') turns.unshift({ role: 'user', content: [{ type: 'text', text: '.' }] });
  appendPrefill(turns, input.prefill);
  trimFinalAssistant(turns);
  const out: Record<string, unknown> = { model: input.upstreamModel, max_tokens: maxTokens(b, input.maxOutputTokens) };
  if (system !== null) out.system = system;
  out.messages = wireTurns(turns);
  if (present(b.temperature)) {
    // OpenAI allows 0–2, Anthropic 0–1: a value above 1 has no faithful equivalent.
    if (typeof b.temperature !== 'number' || b.temperature < 0 || b.temperature > 1) throw untranslatable('temperature', 'Anthropic accepts 0 to 1');
    out.temperature = b.temperature;
  }
  // Anthropic's current models (Sonnet 4.5, Haiku 4.5, Opus 4.1) refuse temperature and top_p
  // together ("cannot both be specified for this model"): with both, temperature is sent, as
  // LiteLLM does; a chat request carrying both (LangChain, Open WebUI) is answered, not refused.
  if (present(b.top_p) && !present(b.temperature)) out.top_p = b.top_p;
  if (present(b.stop)) {
    const stops = stopSequences(b.stop);
    if (stops.length > 0) out.stop_sequences = stops;
  }
  const hasTools = present(b.tools) && (!Array.isArray(b.tools) || b.tools.length > 0);
  const allowed = allowedTools(b.tool_choice);
  if (hasTools) out.tools = allowed === null ? tools(b.tools) : tools(b.tools).filter((t) => allowed.names.has(t.name as string));
  let choice = allowed !== null ? { type: allowed.required ? 'any' : 'auto' } : present(b.tool_choice) ? toolChoice(b.tool_choice) : null;
  // Without tools, `auto` and `none` mean the same as no choice; forcing a tool cannot be honoured.
  if (!hasTools && (choice?.type === 'any' || choice?.type === 'tool')) throw untranslatable('tool_choice', 'a tool is required but no tools were given');
  if (!hasTools) {
    choice = null;
    // Tool calls in the history and no tools now: Anthropic wants tools defined (tool-history.ts).
    const named = historyToolNames(input.body.messages);
    if (named.length > 0) {
      out.tools = placeholderTools(named);
      choice = { type: 'none' };
    }
  }
  if (hasTools && b.parallel_tool_calls === false) {
    choice ??= { type: 'auto' };
    if (choice.type !== 'none') choice.disable_parallel_tool_use = true;
  }
  if (choice !== null) out.tool_choice = choice;
  // `safety_identifier` is OpenAI's successor of `user` (the Responses adapter maps it the same way).
  const user = present(b.safety_identifier) ? b.safety_identifier : b.user;
  if (present(user)) {
    if (typeof user !== 'string') throw untranslatable(present(b.safety_identifier) ? 'safety_identifier' : 'user', 'must be a string');
    out.metadata = { user_id: opaqueUserId(user) };
  }
  const format = outputFormat(b.response_format);
  // A continuation goes on from the JSON already delivered (a prefill, which Anthropic's structured
  // outputs do not take): the rest of the text comes without the constraint.
  if (format !== null && input.prefill === null) out.output_config = { format };
  if (input.stream) out.stream = true;
  return out;
}

const EMAIL = /[^\s@<>]+@[^\s@<>]+\.[a-z]{2,}/i;
/** A run of digits and the separators a phone number is written with. */
const PHONE = /\+?\(?\d[\d\s().-]{5,}\d/g;

/**
 * The `user` (or `safety_identifier`) as Anthropic takes `metadata.user_id`: "a uuid, hash value, or
 * other opaque identifier", at most 256 characters. One that looks like an email address or a phone
 * number (Anthropic answers 400 "metadata.user_id: user_id appears to contain an email address"),
 * or is longer, goes as a hash of it: the same user still has one id for Anthropic's abuse
 * detection, and a chat request valid for OpenAI is not a client error on Claude (as a fallback too).
 */
export function opaqueUserId(user: string): string {
  const personal = user.length > 256 || EMAIL.test(user) || (user.match(PHONE) ?? []).some((run) => run.replace(/\D/g, '').length >= 7);
  return personal ? `sha256:${createHash('sha256').update(user).digest('hex')}` : user;
}

/**
 * `response_format` → Anthropic's structured outputs (`output_config.format`, Claude 4.5 models
 * and later: give such a model capability `json`): a `json_schema` format's schema in the subset
 * Anthropic takes (anthropic-schema.ts).
 * `json_object` has no equivalent (Anthropic's JSON output needs a schema).
 */
function outputFormat(rf: unknown): { type: 'json_schema'; schema: Record<string, unknown> } | null {
  if (!present(rf) || (isObj(rf) && rf.type === 'text')) return null;
  if (!isObj(rf)) throw untranslatable('response_format', 'must be an object');
  if (rf.type === 'json_object')
    throw untranslatable(
      'response_format',
      'Anthropic has no JSON mode without a schema (its structured outputs take a JSON schema): ask for a json_schema format with its schema',
    );
  const js = rf.json_schema;
  if (rf.type !== 'json_schema' || !isObj(js) || !isObj(js.schema))
    throw untranslatable('response_format', 'Anthropic\'s structured outputs take a json_schema format with its "schema" object');
  return { type: 'json_schema', schema: anthropicSchema(js.schema, 'response_format.json_schema.schema') };
}

/**
 * A conversation that ends with the assistant's turn (a prefill the client wrote) loses that
 * turn's trailing whitespace: Anthropic refuses it ("final assistant content cannot end with
 * trailing whitespace") where OpenAI-kind models take it, so `auto` or a route would answer the
 * same request or fail by the model picked. The model goes on from the trimmed text.
 */
function trimFinalAssistant(turns: AnthropicTurn[]): void {
  const last = turns[turns.length - 1];
  const b = last?.role === 'assistant' ? last.content[last.content.length - 1] : undefined;
  if (!last || b?.type !== 'text' || typeof b.text !== 'string') return;
  const text = b.text.trimEnd();
  if (text === b.text) return;
  if (text !== '') last.content[last.content.length - 1] = { ...b, text };
  else if (last.content.length > 1) last.content.pop();
  else turns.pop();
}

/**
 * The continuation of an answer already partly delivered: a final assistant turn with that
 * text, which Anthropic continues. Anthropic rejects a final assistant text that ends with
 * whitespace, so trailing whitespace is trimmed from what is sent. The decoders change
 * nothing: the continuation is whatever the model emits next, and the model may or may not
 * re-emit the whitespace the client already received (so a continuation can show a doubled
 * or a missing space at the seam). An all-whitespace prefill adds no turn at all.
 */
export function appendPrefill(turns: AnthropicTurn[], prefill: string | null): void {
  if (prefill === null) return;
  const text = prefill.trimEnd();
  if (text !== '') pushTurn(turns, { role: 'assistant', content: [{ type: 'text', text }] });
}

export function buildAnthropicRequest(input: BuildInput): UpstreamHttpRequest {
  return anthropicHttpRequest(input, buildAnthropicBody(input));
}

/** The HTTP request for a Messages body (translated or the client's own). */
export function anthropicHttpRequest(input: BuildInput, body: Record<string, unknown>, client: { version?: string; beta?: string } = {}): UpstreamHttpRequest {
  const headers: Record<string, string> = {
    ...input.headers,
    'content-type': 'application/json',
    accept: input.stream ? 'text/event-stream' : 'application/json',
    'anthropic-version': client.version ?? input.anthropicVersion,
  };
  if (client.beta !== undefined) {
    // A beta the provider config already sends is kept; the client's are added.
    const configured = Object.entries(input.headers).find(([k]) => k.toLowerCase() === 'anthropic-beta');
    if (configured) delete headers[configured[0]];
    headers['anthropic-beta'] = configured ? `${configured[1]},${client.beta}` : client.beta;
  }
  // Always switchyard's own key: the client's credentials never reach the provider.
  if (input.apiKey) headers['x-api-key'] = input.apiKey;
  const req: UpstreamHttpRequest = { path: messagesPath(input.basePath), headers, body: JSON.stringify(body) };
  if (input.prefill !== null) req.prefillSent = input.prefill.trimEnd();
  return req;
}
