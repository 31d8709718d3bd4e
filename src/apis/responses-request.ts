/**
 * OpenAI Responses API request (`POST /v1/responses`) → the internal chat-completions body.
 * Input items become chat messages (function_call → assistant tool_calls,
 * function_call_output → tool messages), `instructions` a leading system message,
 * `text.format` the `response_format`, `max_output_tokens` the `max_tokens`. Built-in tools
 * (web search, file search, computer use…) and other fields with no chat form are refused
 * with a 400 naming them.
 */
import { echoName, echoValue, SwitchyardError } from '../errors.js';
import type { ChatBody, ChatMessage } from '../upstream/types.js';
import { arrayOf, checkFields, flag, isObj, numberIn, positiveInt, present, str, toolNames, unknownTool, unsupported } from './fields.js';
import { INCLUDABLE, inputItemsOf } from './responses-items.js';

const HANDLED = new Set([
  'model',
  'input',
  'instructions',
  'tools',
  'tool_choice',
  'text',
  'max_output_tokens',
  'temperature',
  'top_p',
  'metadata',
  'stream',
  'store',
  'previous_response_id',
  'parallel_tool_calls',
  'user',
  'safety_identifier',
  'prompt_cache_key',
  'prompt_cache_retention',
  'reasoning',
]);

/**
 * `include` values that ask for data switchyard's answers never hold: built-in tools' results (no
 * built-in tool is served), input image URLs (they concern the input items list), and encrypted
 * reasoning (an upstream's reasoning reaches switchyard as text, shown in a reasoning item's
 * content, never encrypted). Clients with `store: false` send `reasoning.encrypted_content` on
 * every request (Codex CLI, the Agents SDK): refused, none of their requests was served.
 * `message.output_text.logprobs` asks for data switchyard could have and does not give: refused.
 */
const VACUOUS_INCLUDES: ReadonlySet<unknown> = new Set([...INCLUDABLE].filter((v) => v !== 'message.output_text.logprobs'));

const HARMLESS: Record<string, (v: unknown) => boolean> = {
  truncation: (v) => v === 'disabled',
  include: (v) => Array.isArray(v) && v.every((x) => VACUOUS_INCLUDES.has(x)),
  background: (v) => v === false,
  service_tier: (v) => v === 'auto' || v === 'default',
  stream_options: () => true, // obfuscation padding only
  top_logprobs: (v) => v === 0,
};

const WHY: Record<string, string> = {
  truncation: 'only "disabled" is supported (switchyard never drops input silently)',
  include:
    'an array of include values; log probabilities (message.output_text.logprobs) are not supported, and the others name data switchyard never has (reasoning.encrypted_content, built-in tool results), which are taken',
  background: 'background responses are not supported',
  conversation: 'conversations are not supported; use previous_response_id',
  prompt: 'stored prompts are not supported',
  max_tool_calls: 'built-in tool call limits are not supported',
  top_logprobs: 'log probabilities are not supported',
  service_tier: 'only auto or default',
  // Chat completions fields a client moving to the Responses API still sends: what this API calls them.
  response_format:
    'this is chat completions\' field; the Responses API takes the output format as text.format, e.g. {"text": {"format": {"type": "json_schema", "name", "schema"}}}',
  max_tokens: "this is chat completions' field; the Responses API takes the output limit as max_output_tokens",
  max_completion_tokens: "this is chat completions' field; the Responses API takes the output limit as max_output_tokens",
  messages:
    "this is chat completions' field; the Responses API takes the conversation as input (a string or input items) and the system prompt as instructions",
};

/** Chat completions content part types sent in a Responses message: the Responses API's own. */
const CHAT_PART: Record<string, string> = {
  text: 'use "input_text" ("output_text" in an assistant message): "text" is chat completions\' part type',
  image_url: 'use {"type": "input_image", "image_url": "<url>"}: "image_url" is chat completions\' part type',
};

export interface ResponsesRequest {
  chat: ChatBody;
  /** The conversation without instructions: what a later `previous_response_id` continues. */
  conversation: ChatMessage[];
  /** This request's own `input` as items with ids, for `GET /v1/responses/{id}/input_items`. */
  inputItems: Record<string, unknown>[];
  /** Request fields echoed in the Response object. */
  echo: Record<string, unknown>;
  stream: boolean;
  store: boolean;
  previousId: string | null;
}

/** The text part types a message of each side takes (OpenAI refuses the other side's: a 400 naming the part). */
const INPUT_PARTS = "Supported values are: 'input_text', 'input_image', and 'input_file'.";
const OUTPUT_PARTS = "Supported values are: 'output_text' and 'refusal'.";

/** A text part: `input_text` in what the client says (user, system, developer, a tool's output), `output_text` or `refusal` in an assistant message. */
function textPart(part: Record<string, unknown>, p: string, assistant: boolean): string {
  if (part.type === (assistant ? 'output_text' : 'input_text')) return str(part.text, `${p}.text`);
  if (assistant && part.type === 'refusal') return str(part.refusal, `${p}.refusal`);
  if (
    part.type === 'input_text' ||
    part.type === 'output_text' ||
    part.type === 'refusal' ||
    (assistant && (part.type === 'input_image' || part.type === 'input_file'))
  )
    throw unsupported(`${p}.type`, `Invalid value: '${part.type}'. ${assistant ? OUTPUT_PARTS : INPUT_PARTS}`);
  if (typeof part.type === 'string' && Object.hasOwn(CHAT_PART, part.type)) throw unsupported(`${p}.type`, CHAT_PART[part.type]!);
  if (part.type === undefined) throw unsupported(`${p}.type`, "Missing required parameter: a content part needs a type ('input_text', …)");
  throw unsupported(`${p}.type`, `content type ${echoValue(part.type)} is not supported here`);
}

/** A message's content: a string or an array of parts (OpenAI's words for anything else). */
function parts(content: unknown, p: string): unknown[] {
  if (content === undefined) throw unsupported(p, `Missing required parameter: '${p}'`);
  if (!Array.isArray(content)) throw unsupported(p, 'expected a string or an array of content parts');
  return arrayOf(content, p);
}

/** A part that is not an object (a number, a string, null in the array): said so, not read as a part without a type. */
function partObject(raw: unknown, p: string): Record<string, unknown> {
  if (!isObj(raw)) throw unsupported(p, 'a content part must be an object, e.g. {"type": "input_text", "text": "…"}');
  return raw;
}

function userContent(content: unknown, p: string): ChatMessage['content'] {
  if (typeof content === 'string') return content;
  return parts(content, p).map((raw, j) => {
    const pp = `${p}[${j}]`;
    const part = partObject(raw, pp);
    if (part.type === 'input_image') {
      if (part.image_url === undefined && part.file_id !== undefined)
        throw unsupported(`${pp}.file_id`, 'an image by file_id is not supported: give it as image_url (a URL or a base64 data: URL)');
      if (typeof part.image_url !== 'string' || part.image_url.trim() === '' || /^data:[^,]*,\s*$/i.test(part.image_url))
        throw unsupported(`${pp}.image_url`, 'Missing required parameter: an input_image needs image_url (a URL or a base64 data: URL)');
      return { type: 'image_url', image_url: { url: part.image_url, ...(typeof part.detail === 'string' ? { detail: part.detail } : {}) } };
    }
    if (part.type === 'input_file') return filePart(part, pp);
    return { type: 'text', text: textPart(part, pp, false) };
  });
}

/** An `input_file` (a PDF by its bytes or by an OpenAI file id) as chat completions' `file` part. */
function filePart(part: Record<string, unknown>, p: string): Record<string, unknown> {
  if (part.file_url !== undefined)
    throw unsupported(`${p}.file_url`, 'a file by URL is not supported: give its bytes as file_data (a base64 data: URL) or an OpenAI file_id');
  const file: Record<string, unknown> = {};
  if (part.file_data !== undefined) file.file_data = nonEmpty(part.file_data, `${p}.file_data`);
  else if (part.file_id !== undefined) file.file_id = nonEmpty(part.file_id, `${p}.file_id`);
  else throw unsupported(p, 'an input_file needs file_data (a base64 data: URL) or file_id');
  if (part.filename !== undefined) file.filename = str(part.filename, `${p}.filename`);
  return { type: 'file', file };
}

function plainText(content: unknown, p: string, assistant = false): string {
  if (typeof content === 'string') return content;
  return parts(content, p)
    .map((raw, j) => textPart(partObject(raw, `${p}[${j}]`), `${p}[${j}]`, assistant))
    .join('');
}

/** Consecutive calls join one assistant message, in place: copying its calls per call made 20 000 calls take seconds. */
function pushToolCall(out: ChatMessage[], call: Record<string, unknown>): void {
  const last = out[out.length - 1];
  if (last && last.role === 'assistant') {
    if (Array.isArray(last.tool_calls)) last.tool_calls.push(call);
    else last.tool_calls = [call];
    return;
  }
  out.push({ role: 'assistant', content: null, tool_calls: [call] });
}

function inputItem(out: ChatMessage[], raw: unknown, p: string): void {
  if (!isObj(raw)) throw unsupported(p, 'an input item must be an object');
  const type = raw.type ?? 'message';
  if (type === 'message') {
    const role = raw.role;
    if (role === 'assistant') out.push({ role: 'assistant', content: plainText(raw.content, `${p}.content`, true) });
    else if (role === 'user') out.push({ role: 'user', content: userContent(raw.content, `${p}.content`) });
    else if (role === 'system' || role === 'developer') out.push({ role, content: plainText(raw.content, `${p}.content`) });
    else throw unsupported(`${p}.role`, 'expected user, assistant, system or developer');
    return;
  }
  if (type === 'function_call') {
    const args = raw.arguments === undefined ? '{}' : str(raw.arguments, `${p}.arguments`);
    pushToolCall(out, { id: str(raw.call_id, `${p}.call_id`), type: 'function', function: { name: str(raw.name, `${p}.name`), arguments: args } });
    return;
  }
  if (type === 'function_call_output') {
    out.push({ role: 'tool', tool_call_id: str(raw.call_id, `${p}.call_id`), content: plainText(raw.output, `${p}.output`) });
    return;
  }
  // A reasoning item passed back (a stream's output sent again as input, as the SDK's examples do): the
  // model's own reasoning, which chat APIs take no form of (DeepSeek refuses reasoning_content sent back).
  if (type === 'reasoning') return;
  const hint = type === 'item_reference' ? ' (an item_reference names an output item of a stored response, or use previous_response_id)' : '';
  throw unsupported(`${p}.type`, `input item type ${echoValue(type)} is not supported${hint}`);
}

export function inputMessages(input: unknown): ChatMessage[] {
  if (typeof input === 'string') return [{ role: 'user', content: input }];
  if (!Array.isArray(input)) throw unsupported('input', 'expected a string or an array of input items');
  const out: ChatMessage[] = [];
  arrayOf(input, 'input').forEach((item, i) => inputItem(out, item, `input[${i}]`));
  return out;
}

function tools(v: unknown): unknown[] {
  return arrayOf(v, 'tools').map((raw, i) => {
    const t = isObj(raw) ? raw : {};
    // A custom tool (free-form input) is the client's own, not a built-in one: said so (it was called built-in).
    if (t.type === 'custom')
      throw unsupported(
        `tools[${i}].type`,
        'custom tools (free-form input) are not supported on /v1/responses, only function tools are: declare it as a function tool, or send it to /v1/chat/completions, which takes custom tools',
      );
    if (t.type !== 'function') throw unsupported(`tools[${i}].type`, `built-in tool ${echoValue(t.type)} is not supported; only function tools are`);
    // Chat completions' nesting ({type: "function", function: {name, parameters}}) is not this API's.
    if (t.name === undefined && isObj(t.function))
      throw unsupported(
        `tools[${i}].name`,
        'Missing required parameter: a Responses function tool is {type: "function", name, parameters}, not chat completions\' {type: "function", function: {name, parameters}}',
      );
    const fn: Record<string, unknown> = { name: str(t.name, `tools[${i}].name`) };
    if (present(t.description)) fn.description = str(t.description, `tools[${i}].description`);
    if (present(t.parameters)) fn.parameters = t.parameters;
    if (present(t.strict)) fn.strict = t.strict;
    return { type: 'function', function: fn };
  });
}

/**
 * `tool_choice`; a named function must be one of `tools` (`declared`), as OpenAI requires, and
 * `required` needs tools (it cannot be met without). `auto` or `none` with no tools changes
 * nothing and is left out (undefined): chat completions refuse a tool_choice without tools.
 */
function toolChoice(v: unknown, declared: string[]): unknown {
  if ((v === 'auto' || v === 'none') && declared.length === 0) return undefined;
  if (v === 'required' && declared.length === 0)
    throw unsupported(
      'tool_choice',
      '"required" makes the model call one of tools, and the request declares no tools: declare them in tools, or use "auto" or leave tool_choice out',
    );
  if (v === 'auto' || v === 'none' || v === 'required') return v;
  if (isObj(v) && v.type === 'function') {
    const name = str(v.name, 'tool_choice.name');
    if (!declared.includes(name)) throw unknownTool('tool_choice', name, declared);
    return { type: 'function', function: { name } };
  }
  // The tools the model may call this turn, of those declared (the rest stay in the prompt, so its cache holds):
  // chat completions' allowed_tools, each entry a function of `tools`.
  if (isObj(v) && v.type === 'allowed_tools') {
    if (v.mode !== 'auto' && v.mode !== 'required') throw unsupported('tool_choice.mode', 'expected "auto" or "required"');
    const list = arrayOf(v.tools, 'tool_choice.tools');
    if (list.length === 0) throw unsupported('tool_choice.tools', 'expected at least one tool, {type: "function", name}');
    // A set, not a list searched per entry: N entries over N tools was quadratic (40,000: 2.6 s).
    const known = new Set(declared);
    const tools = list.map((t, i) => {
      const at = `tool_choice.tools[${i}]`;
      if (!isObj(t) || t.type !== 'function') throw unsupported(`${at}.type`, 'expected "function" (only function tools are served on /v1/responses)');
      const name = str(t.name, `${at}.name`);
      if (!known.has(name)) throw unknownTool(at, name, declared);
      return { type: 'function', function: { name } };
    });
    return { type: 'allowed_tools', allowed_tools: { mode: v.mode, tools } };
  }
  throw unsupported('tool_choice', 'expected auto, none, required, {type: "function", name} or {type: "allowed_tools", mode, tools}');
}

function responseFormat(text: unknown): unknown {
  if (!isObj(text)) throw unsupported('text', 'expected an object');
  for (const k of Object.keys(text))
    if (k !== 'format' && k !== 'verbosity' && present(text[k])) throw unsupported(`text.${k}`, 'this field is not supported by switchyard');
  const f = text.format;
  if (!present(f)) return undefined;
  if (!isObj(f)) throw unsupported('text.format', 'expected an object');
  if (f.type === 'text') return undefined;
  if (f.type === 'json_object') return { type: 'json_object' };
  if (f.type === 'json_schema') {
    // Required in the Responses API (chat completions' json_schema.schema is optional; OpenAI refuses it missing here).
    if (!isObj(f.schema))
      throw unsupported(
        'text.format.schema',
        f.schema === undefined ? 'Missing required parameter: the JSON Schema of the answer' : 'expected a JSON Schema object',
      );
    const js: Record<string, unknown> = { name: str(f.name, 'text.format.name'), schema: f.schema };
    if (present(f.description)) js.description = f.description;
    if (present(f.strict)) js.strict = f.strict;
    return { type: 'json_schema', json_schema: js };
  }
  throw unsupported('text.format.type', 'expected text, json_object or json_schema');
}

/** OpenAI's limits on `metadata` (it is echoed and stored): at most 16 pairs, keys up to 64 characters, string values up to 512. */
function checkMetadata(v: unknown): void {
  if (!isObj(v)) throw unsupported('metadata', 'expected an object of strings');
  const entries = Object.entries(v);
  if (entries.length > 16) throw unsupported('metadata', `at most 16 keys, got ${entries.length}`);
  for (const [k, val] of entries) {
    if (k.length > 64) throw unsupported('metadata', `a key is at most 64 characters, got ${k.length}`);
    if (typeof val !== 'string' || val.length > 512) throw unsupported(`metadata.${k}`, 'expected a string of at most 512 characters');
  }
}

/**
 * Every `function_call_output` must answer a `function_call` with its `call_id`, in this input or
 * in the stored conversation of `previous_response_id` (OpenAI refuses an orphan with this
 * wording; a chat provider would get a tool message answering no call).
 */
function checkToolOutputs(previous: ChatMessage[], own: ChatMessage[]): void {
  const calls = new Set<string>();
  for (const m of [...previous, ...own]) {
    if (m.role !== 'assistant' || !Array.isArray(m.tool_calls)) continue;
    for (const c of m.tool_calls) if (isObj(c) && typeof c.id === 'string') calls.add(c.id);
  }
  const orphan = (id: string): SwitchyardError =>
    new SwitchyardError(
      'invalid_request',
      `No tool call found for function call output with call_id ${echoName(id)}. Send the function_call item with that call_id in input before its output, or continue the response that made the call with previous_response_id.`,
      { param: 'input' },
    );
  for (const m of own) if (m.role === 'tool' && typeof m.tool_call_id === 'string' && !calls.has(m.tool_call_id)) throw orphan(m.tool_call_id);
  // A call the previous_response_id conversation holds already, sent again in input: say so (it would read as unanswered).
  const before = new Set<string>();
  for (const m of previous)
    if (m.role === 'assistant' && Array.isArray(m.tool_calls)) for (const c of m.tool_calls) if (isObj(c) && typeof c.id === 'string') before.add(c.id);
  for (const m of own) {
    if (m.role !== 'assistant' || !Array.isArray(m.tool_calls)) continue;
    for (const c of m.tool_calls)
      if (isObj(c) && typeof c.id === 'string' && before.has(c.id))
        throw new SwitchyardError(
          'invalid_request',
          `The function_call ${echoName(c.id)} is already in the conversation of previous_response_id: send only its function_call_output in input, not the call again.`,
          { param: 'input' },
        );
  }
  // Each function_call answered by its output right after it, once, before the conversation goes on
  // (OpenAI refuses it so; chat and Anthropic providers refuse a call left unanswered, an output
  // that answers no call just before it, and a call answered twice).
  const unanswered = (id: string): SwitchyardError =>
    new SwitchyardError(
      'invalid_request',
      `No tool output found for function call ${echoName(id)}. Send a function_call_output item with that call_id right after the call, before anything else.`,
      { param: 'input' },
    );
  /** The calls of the assistant turn the tool messages now follow, not answered yet (null: no such turn). */
  let open = null as Set<string> | null;
  let answered = new Set<string>();
  /** Every call answered so far, in any earlier turn too (an output sent again later is a duplicate, not an orphan). */
  const everAnswered = new Set<string>();
  for (const m of [...previous, ...own]) {
    if (m.role === 'tool') {
      const id = String(m.tool_call_id);
      if (open?.delete(id) === true) {
        answered.add(id);
        everAnswered.add(id);
        continue;
      }
      if (answered.has(id))
        throw new SwitchyardError('invalid_request', `Duplicate function call output for call_id ${echoName(id)}: answer each function_call once.`, {
          param: 'input',
        });
      if (everAnswered.has(id))
        throw new SwitchyardError(
          'invalid_request',
          `The function_call ${echoName(id)} was answered already (its function_call_output is earlier in the conversation, in this input or that of previous_response_id): answer each function_call once, right after it.`,
          { param: 'input' },
        );
      throw orphan(id);
    }
    const left = open === null ? undefined : [...open][0];
    if (left !== undefined) throw unanswered(left);
    open = null;
    answered = new Set();
    if (m.role === 'assistant' && Array.isArray(m.tool_calls) && m.tool_calls.length > 0) {
      open = new Set();
      for (const c of m.tool_calls) if (isObj(c) && typeof c.id === 'string') open.add(c.id);
    }
  }
  const left = open === null ? undefined : [...open][0];
  if (left !== undefined) throw unanswered(left);
}

/**
 * `reasoning`: its `effort` is chat completions' `reasoning_effort`, sent as the client sent it
 * (an OpenAI-kind upstream takes it or answers its own 400; an Anthropic-kind model cannot
 * translate it, as on chat). A `summary` has no chat form: refused, as is any other key.
 */
function reasoningEffort(v: unknown): string | undefined {
  if (!isObj(v)) throw unsupported('reasoning', 'expected an object such as {"effort": "low"}');
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined || x === null || k === 'effort') continue;
    throw unsupported(
      `reasoning.${k}`,
      k === 'summary' || k === 'generate_summary'
        ? 'reasoning summaries are not supported (a model reached through chat completions gives its reasoning as text, shown as a reasoning item, or none)'
        : 'only reasoning.effort is supported',
    );
  }
  return present(v.effort) ? str(v.effort, 'reasoning.effort') : undefined;
}

/** OpenAI's least `max_output_tokens`: below it the Responses API answers 400 (chat's `max_tokens` has no such floor). */
const MIN_OUTPUT_TOKENS = 16;

function maxOutputTokens(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v < MIN_OUTPUT_TOKENS) {
    throw new SwitchyardError(
      'invalid_request',
      `Invalid 'max_output_tokens': integer below minimum value. Expected a value >= ${MIN_OUTPUT_TOKENS}, but got ${v} instead.`,
      { param: 'max_output_tokens', upstreamCode: 'integer_below_min_value' },
    );
  }
  return positiveInt(v, 'max_output_tokens');
}

/** Parse and translate; `previous` is the stored conversation of `previous_response_id`. */
export function translateResponses(body: Record<string, unknown>, previous: ChatMessage[]): ResponsesRequest {
  checkFields(body, HANDLED, HARMLESS, WHY);
  const model = str(body.model, 'model');
  if (!present(body.input)) throw unsupported('input', 'input is required');
  const own = inputMessages(body.input);
  checkToolOutputs(previous, own);
  const conversation = [...previous, ...own];
  if (conversation.length === 0) throw unsupported('input', 'input is empty');
  const chat: ChatBody = {
    model,
    messages: present(body.instructions) ? [{ role: 'system', content: str(body.instructions, 'instructions') }, ...conversation] : [...conversation],
  };
  const stream = flag(body.stream, 'stream');
  if (stream) chat.stream_options = { include_usage: true };
  if (stream) chat.stream = true;
  if (present(body.tools) && arrayOf(body.tools, 'tools').length > 0) chat.tools = tools(body.tools);
  if (present(body.tool_choice)) {
    const choice = toolChoice(body.tool_choice, toolNames(chat.tools));
    if (choice !== undefined) chat.tool_choice = choice;
  }
  if (present(body.text)) {
    const rf = responseFormat(body.text);
    if (rf) chat.response_format = rf as { type: string };
    // Chat completions' `verbosity` (GPT-5's), sent as written: an OpenAI-kind model takes it or answers its own 400.
    if (isObj(body.text) && present(body.text.verbosity)) chat.verbosity = str(body.text.verbosity, 'text.verbosity');
  }
  if (present(body.max_output_tokens)) chat.max_tokens = maxOutputTokens(body.max_output_tokens);
  if (present(body.reasoning)) {
    const effort = reasoningEffort(body.reasoning);
    if (effort !== undefined) chat.reasoning_effort = effort;
  }
  if (present(body.temperature)) chat.temperature = numberIn(body.temperature, 'temperature', 0, 2);
  if (present(body.top_p)) chat.top_p = numberIn(body.top_p, 'top_p', 0, 1);
  if (present(body.parallel_tool_calls)) {
    const parallel = flag(body.parallel_tool_calls, 'parallel_tool_calls');
    // Echoed as sent; chat completions refuse parallel_tool_calls without tools, where it changes nothing.
    if (chat.tools) chat.parallel_tool_calls = parallel;
  }
  // Each under its own name, as chat completions take them (an Anthropic-kind model reads
  // safety_identifier, else user, as metadata.user_id); prompt_cache_key routes OpenAI's cache.
  if (present(body.user)) chat.user = str(body.user, 'user');
  if (present(body.safety_identifier)) chat.safety_identifier = str(body.safety_identifier, 'safety_identifier');
  if (present(body.prompt_cache_key)) chat.prompt_cache_key = str(body.prompt_cache_key, 'prompt_cache_key');
  // How long OpenAI keeps the prompt's cache: a hint like the key (chat takes it; an Anthropic-kind model drops it).
  if (present(body.prompt_cache_retention)) {
    if (body.prompt_cache_retention !== 'in_memory' && body.prompt_cache_retention !== '24h')
      throw unsupported('prompt_cache_retention', 'expected "in_memory" or "24h"');
    chat.prompt_cache_retention = body.prompt_cache_retention;
  }
  const store = present(body.store) ? flag(body.store, 'store') : true;
  if (present(body.metadata)) checkMetadata(body.metadata);
  const echo: Record<string, unknown> = {
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    metadata: body.metadata ?? {},
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    temperature: body.temperature ?? null,
    text: {
      format: isObj(body.text) && isObj(body.text.format) ? body.text.format : { type: 'text' },
      ...(isObj(body.text) && present(body.text.verbosity) ? { verbosity: body.text.verbosity } : {}),
    },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: body.top_p ?? null,
    truncation: 'disabled',
    ...(present(body.reasoning) ? { reasoning: body.reasoning } : {}),
    user: body.user ?? null,
    ...(present(body.safety_identifier) ? { safety_identifier: body.safety_identifier } : {}),
    store,
  };
  const previousId = present(body.previous_response_id) ? str(body.previous_response_id, 'previous_response_id') : null;
  return { chat, conversation, inputItems: store ? inputItemsOf(body.input) : [], echo, stream, store, previousId };
}

/** A string with something in it (an empty file_data or file_id was sent on and billed). */
function nonEmpty(v: unknown, p: string): string {
  const t = str(v, p);
  if (t === '') throw unsupported(p, 'expected a non-empty string');
  return t;
}
