/**
 * Edge validation of chat-completions bodies (zod, behind an in-place check that gives the same
 * result without copying the body). Unknown fields pass through untouched; what switchyard
 * itself reads must have the right type, or the client gets a 400 naming it.
 */
import { z } from 'zod';
import { NANO_PER_USD } from '../accounting/money.js';
import { echoName, echoValue, SwitchyardError } from '../errors.js';
import { scrub } from '../observe/scrub.js';
import { formatPath } from '../config/load.js';
import { TIERS } from '../config/schema.js';
import { isTier } from '../routing/classify.js';
import type { ChatBody } from '../upstream/types.js';
import { LONG_CACHE_WHY } from '../apis/messages-request.js';

/** A content part: any type passes on, but a text part must carry its text (as OpenAI requires). */
const contentPart = z
  .looseObject({ type: z.string(), text: z.unknown().optional() })
  .refine((p) => p.type !== 'text' || typeof p.text === 'string', { message: 'a text part needs "text": a string', path: ['text'] });

const message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z
    .union([z.string(), z.array(contentPart), z.null()], {
      error: 'expected a string, an array of content parts ({"type": "text", "text": …}) or null',
    })
    .optional(),
  name: z.string().optional(),
  tool_calls: z.array(z.looseObject({})).optional(),
  tool_call_id: z.string().optional(),
});

const chatBody = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  n: z.number().int().positive().nullish(),
  tools: z.array(z.looseObject({})).nullish(),
  response_format: z.looseObject({ type: z.string() }).nullish(),
  // Sampling fields switchyard forwards (and translates for Anthropic): OpenAI's types and ranges.
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  stop: z.union([z.string(), z.array(z.string())], { error: 'expected a string or an array of strings' }).nullish(),
});

/**
 * The chat body as zod alone makes it: a copy with the schema's keys first, in the schema's order,
 * then the rest; a 400 naming the first problems when it does not fit. {@link parseChatBody}
 * gives the same for every body; this is its slow path and the reference its tests compare with.
 */
export function parseChatBodyZod(raw: unknown): ChatBody {
  const r = chatBody.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues[0]!;
    const where = formatPath(first.path);
    const msg = r.error.issues
      .slice(0, 5)
      .map((i) => `${formatPath(i.path)}: ${i.message}`)
      .join('; ');
    throw new SwitchyardError('invalid_request', `invalid request body: ${msg}`, { param: where === '(root)' ? null : where });
  }
  return checkRules(r.data as ChatBody);
}

/** The rules across fields, after the shape is known to fit (both paths below end here). */
function checkRules(body: ChatBody): ChatBody {
  const n = body.n;
  if (n !== undefined && n !== null && (n as number) > 1) {
    throw new SwitchyardError('invalid_request', 'n > 1 is not supported by switchyard (each choice would be billed and routed separately); send n requests', {
      param: 'n',
    });
  }
  // OpenAI refuses any other type; an Anthropic-kind model's translation reads only false, so "false" or 0 was dropped there.
  const ptc = (body as { parallel_tool_calls?: unknown }).parallel_tool_calls;
  if (ptc !== undefined && ptc !== null && typeof ptc !== 'boolean')
    throw new SwitchyardError('invalid_request', `Invalid type for 'parallel_tool_calls': expected a boolean, but got ${echoValue(ptc)} instead.`, {
      param: 'parallel_tool_calls',
    });
  // OpenAI's 400, as for tool_choice below: sent on, an OpenAI-kind model refused it and an Anthropic-kind one served it.
  if (ptc !== undefined && ptc !== null && !(Array.isArray(body.tools) && body.tools.length > 0))
    throw new SwitchyardError(
      'invalid_request',
      "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified (declare tools or leave parallel_tool_calls out).",
      { param: 'parallel_tool_calls' },
    );
  // OpenAI's 400: a client that believes it asked for the usage chunk of a JSON answer is told so, not ignored.
  if (body.stream_options !== undefined && body.stream_options !== null && body.stream !== true)
    throw new SwitchyardError('invalid_request', "The 'stream_options' parameter is only allowed when 'stream' is enabled.", { param: 'stream_options' });
  checkMessageFields(body.messages);
  checkPassedFields(body as Record<string, unknown>);
  checkToolTurns(body.messages);
  checkLogprobs(body as Record<string, unknown>);
  checkToolChoice(body.tool_choice, body.tools);
  checkResponseFormat(body.response_format);
  checkPriced(body);
  return body;
}

/** Roles whose messages OpenAI refuses without `content` (an assistant's may leave it out for its tool calls). */
const CONTENT_REQUIRED: ReadonlySet<unknown> = new Set(['system', 'developer', 'user', 'tool']);

/**
 * OpenAI's required message fields: `content` on a system, developer, user or tool message (null
 * too on the first three: only an assistant's may be null), and a tool message's `tool_call_id`.
 * OpenAI answers each with a 400; sent on, the request was an upstream attempt (a provider that
 * takes it answered something else, an Anthropic-kind one its own 400) for the client's mistake.
 */
function checkMessageFields(messages: ChatBody['messages']): void {
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as { role?: unknown; content?: unknown; tool_call_id?: unknown };
    if (!CONTENT_REQUIRED.has(m.role)) continue;
    if (m.content === undefined)
      throw new SwitchyardError('invalid_request', `Missing required parameter: 'messages[${i}].content'.`, { param: `messages[${i}].content` });
    if (m.content === null && m.role !== 'tool')
      throw new SwitchyardError(
        'invalid_request',
        `Invalid type for 'messages[${i}].content': expected one of a string or array of objects, but got null instead (only an assistant message's content may be null).`,
        { param: `messages[${i}].content` },
      );
    if (m.role === 'tool' && m.tool_call_id === undefined)
      throw new SwitchyardError('invalid_request', `Missing required parameter: 'messages[${i}].tool_call_id'.`, { param: `messages[${i}].tool_call_id` });
  }
}

/** OpenAI's own wording for a value of the wrong JSON type. */
export function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a decimal number';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/**
 * The types and bounds OpenAI holds chat fields to that switchyard passes on as they are (`seed`,
 * `user`, `safety_identifier`, `prompt_cache_key`, `store`, `logit_bias`, `metadata`): OpenAI
 * answers each with a 400, other providers may take it, so the same request failed or not by the
 * model it reached, and was an upstream attempt either way.
 */
function checkPassedFields(body: Record<string, unknown>): void {
  const wrong = (field: string, expected: string, v: unknown): SwitchyardError =>
    new SwitchyardError('invalid_request', `Invalid type for '${field}': expected ${expected}, but got ${jsonType(v)} instead.`, { param: field });
  const seed = body.seed;
  if (seed !== undefined && seed !== null && !(typeof seed === 'number' && Number.isInteger(seed))) throw wrong('seed', 'an integer', seed);
  for (const field of ['user', 'safety_identifier', 'prompt_cache_key'] as const) {
    const v = body[field];
    if (v !== undefined && v !== null && typeof v !== 'string') throw wrong(field, 'a string', v);
  }
  const store = body.store;
  if (store !== undefined && store !== null && typeof store !== 'boolean') throw wrong('store', 'a boolean', store);
  const bias = body.logit_bias;
  if (bias !== undefined && bias !== null) {
    if (!isObj(bias)) throw wrong('logit_bias', 'an object', bias);
    for (const [token, v] of Object.entries(bias))
      if (typeof v !== 'number' || !(v >= -100 && v <= 100))
        throw new SwitchyardError(
          'invalid_request',
          `Invalid value for 'logit_bias.${echoName(token)}': expected a number from -100 to 100, but got ${echoValue(v)} instead.`,
          { param: 'logit_bias' },
        );
  }
  const metadata = body.metadata;
  if (metadata !== undefined && metadata !== null) {
    if (!isObj(metadata)) throw wrong('metadata', 'an object', metadata);
    const entries = Object.entries(metadata);
    if (entries.length > 16)
      throw new SwitchyardError(
        'invalid_request',
        `Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got ${entries.length} instead.`,
        {
          param: 'metadata',
        },
      );
    for (const [k, v] of entries)
      if (k.length > 64 || typeof v !== 'string' || v.length > 512)
        throw new SwitchyardError(
          'invalid_request',
          `Invalid value for 'metadata': keys are strings of at most 64 characters and values strings of at most 512 (${k.length > 64 ? `a key of ${k.length} characters` : `'${echoName(k)}' is ${typeof v === 'string' ? `${v.length} characters` : jsonType(v)}`}).`,
          { param: 'metadata' },
        );
  }
}

/**
 * Tool turns every provider refuses broken (OpenAI, Anthropic, DeepSeek: a 400), so sent on they
 * were an upstream attempt for the client's mistake (a history window that cut an assistant
 * message but kept its tool results, results never appended): a tool message answers a call of
 * the last assistant message before it, each call has an `id`, and every call is answered before
 * the next assistant message or the end. (OpenAI wants the tool messages right after the call;
 * Anthropic-kind models take a user message between them, merged into one turn: that is left to the
 * provider, as before.)
 */
function checkToolTurns(messages: ChatBody['messages']): void {
  let ids: ReadonlySet<string> | null = null;
  /** The last assistant message's calls not yet answered (none before the first call: no allocation for a chat without tools). */
  let pending: Set<string> | null = null;
  /** Where each of its calls was answered: a second answer is OpenAI's 400 (Anthropic refuses it too). */
  let answered: Map<string, number> | null = null;
  let at = -1;
  const unanswered = (): SwitchyardError => {
    const open = [...(pending ?? [])];
    return new SwitchyardError(
      'invalid_request',
      `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${open
        .slice(0, 8)
        .map(echoName)
        .join(', ')}${open.length > 8 ? ', …' : ''}`,
      { param: `messages[${at}].tool_calls` },
    );
  };
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as { role?: unknown; tool_calls?: unknown; tool_call_id?: unknown };
    if (m.role === 'tool') {
      if (ids === null)
        throw new SwitchyardError(
          'invalid_request',
          "Invalid parameter: messages with role 'tool' must be a response to a preceding message with 'tool_calls'.",
          { param: `messages[${i}].role` },
        );
      const id = m.tool_call_id;
      if (typeof id === 'string' && !ids.has(id))
        throw new SwitchyardError('invalid_request', `Invalid parameter: 'tool_call_id' of '${echoName(id)}' not found in 'tool_calls' of previous message.`, {
          param: `messages[${i}].tool_call_id`,
        });
      if (typeof id === 'string') {
        const first = answered?.get(id);
        if (first !== undefined)
          throw new SwitchyardError(
            'invalid_request',
            `Invalid parameter: Duplicate value for 'tool_call_id' of '${echoName(id)}' in messages[${first}] and messages[${i}].`,
            { param: `messages[${i}].tool_call_id` },
          );
        (answered ??= new Map()).set(id, i);
        pending?.delete(id);
      }
      continue;
    }
    if (m.role !== 'assistant') continue;
    if (pending !== null && pending.size > 0) throw unanswered();
    ids = null;
    answered = null;
    const calls = Array.isArray(m.tool_calls) ? (m.tool_calls as unknown[]) : [];
    if (calls.length === 0) continue;
    const own = new Map<string, number>();
    for (let j = 0; j < calls.length; j++) {
      const id = (calls[j] as { id?: unknown }).id;
      if (typeof id !== 'string' || id === '')
        throw new SwitchyardError('invalid_request', `Missing required parameter: 'messages[${i}].tool_calls[${j}].id'.`, {
          param: `messages[${i}].tool_calls[${j}].id`,
        });
      const twice = own.get(id);
      if (twice !== undefined)
        throw new SwitchyardError(
          'invalid_request',
          `Invalid parameter: Duplicate value for 'id' of '${echoName(id)}' in messages[${i}].tool_calls[${twice}] and messages[${i}].tool_calls[${j}]: each call needs its own id (its result names it).`,
          { param: `messages[${i}].tool_calls[${j}].id` },
        );
      own.set(id, j);
    }
    ids = new Set(own.keys());
    pending = new Set(own.keys());
    at = i;
  }
  if (pending !== null && pending.size > 0) throw unanswered();
}

/**
 * OpenAI's rules for `logprobs` and `top_logprobs`: a boolean, and an integer from 0 to 20 that needs
 * `logprobs: true` (0 alone, which some clients send by default, asks for nothing and passes).
 */
function checkLogprobs(body: Record<string, unknown>): void {
  const lp = body.logprobs;
  if (lp !== undefined && lp !== null && typeof lp !== 'boolean')
    throw new SwitchyardError('invalid_request', `Invalid type for 'logprobs': expected a boolean, but got ${echoValue(lp)} instead.`, { param: 'logprobs' });
  const top = body.top_logprobs;
  if (top === undefined || top === null) return;
  if (typeof top !== 'number' || !Number.isInteger(top) || top < 0 || top > 20)
    throw new SwitchyardError('invalid_request', `Invalid value for 'top_logprobs': expected an integer from 0 to 20, but got ${echoValue(top)} instead.`, {
      param: 'top_logprobs',
    });
  if (top > 0 && lp !== true)
    throw new SwitchyardError(
      'invalid_request',
      `Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used (it is ${top}); send "logprobs": true, or leave top_logprobs out.`,
      { param: 'top_logprobs' },
    );
}

/**
 * What a provider bills at rates the catalogue has no price for: the reservation could not hold
 * it and the ledger would record it at the text rates (OpenAI forwards all of it). A priority or
 * flex `service_tier` is billed above or below the standard rates `models.<id>.price` gives;
 * `web_search_options` adds a charge per search; audio in or out is billed per audio token, at
 * 16–60× the text rates.
 */
function checkPriced(body: ChatBody): void {
  const tier = body.service_tier;
  if (tier !== undefined && tier !== null && tier !== 'auto' && tier !== 'default')
    throw new SwitchyardError(
      'invalid_request',
      `service_tier ${echoValue(tier)} is not supported: switchyard reserves and records every call at the model's standard prices (models.<id>.price), and this tier is billed at other rates; leave service_tier out or set it to "auto" or "default"`,
      { param: 'service_tier' },
    );
  if (body.web_search_options !== undefined && body.web_search_options !== null)
    throw new SwitchyardError(
      'invalid_request',
      'web_search_options is not supported: the provider bills each search on top of the tokens, outside what switchyard reserves and records; leave it out (search in your app and put the results in the messages)',
      { param: 'web_search_options' },
    );
  // Aggregators' and providers' own paid extras on the chat wire: OpenRouter's plugins (web search
  // billed per result), xAI's live search.
  for (const field of ['plugins', 'search_parameters'] as const) {
    if (body[field] !== undefined && body[field] !== null)
      throw new SwitchyardError(
        'invalid_request',
        `${field} is not supported: it turns on a provider's paid extra (web search) billed outside the tokens switchyard reserves and records; leave it out`,
        { param: field },
      );
  }
  // Fallbacks the upstream runs itself (OpenRouter's `models`, LiteLLM's `fallbacks`): another model
  // answers, at its own prices, and the call is reserved and recorded as the model asked for.
  for (const field of ['models', 'fallbacks'] as const) {
    const v = (body as Record<string, unknown>)[field];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0))
      throw new SwitchyardError(
        'invalid_request',
        `${field} is not supported: it asks the upstream to answer with other models when this one fails, billed at their prices, which switchyard would reserve and record as the model it chose; leave it out (switchyard's own fallbacks are routes and models.<id>.fallbacks)`,
        { param: field },
      );
  }
  // Built-in tools (web_search, google_search…) run and bill at the provider; function and custom tools are the client's.
  const tools = body.tools;
  if (Array.isArray(tools))
    for (let i = 0; i < tools.length; i++) {
      const type = (tools[i] as { type?: unknown }).type;
      if (type !== 'function' && type !== 'custom' && type !== undefined)
        throw new SwitchyardError(
          'invalid_request',
          `tool type ${echoValue(type)} is not supported: a built-in tool runs and bills at the provider, outside what switchyard reserves and records; declare function tools`,
          { param: `tools[${i}].type` },
        );
      // A tool with nothing to call (no `function`, or one without a name) is refused as OpenAI refuses it, not sent on.
      const key = type === 'custom' ? 'custom' : 'function';
      const def = (tools[i] as Record<string, unknown>)[key];
      if (typeof def !== 'object' || def === null || Array.isArray(def))
        throw new SwitchyardError('invalid_request', `Missing required parameter: 'tools[${i}].${key}' (an object with the tool's name)`, {
          param: `tools[${i}].${key}`,
        });
      const name = (def as { name?: unknown }).name;
      if (typeof name !== 'string' || name === '')
        throw new SwitchyardError('invalid_request', `Missing required parameter: 'tools[${i}].${key}.name' (a non-empty string)`, {
          param: `tools[${i}].${key}.name`,
        });
    }
  const audioOut =
    body.audio !== undefined && body.audio !== null ? 'audio' : Array.isArray(body.modalities) && body.modalities.includes('audio') ? 'modalities' : null;
  if (audioOut !== null) throw noAudio(audioOut, 'audio output');
  // An image model's pictures (OpenRouter's `modalities: ["image", "text"]`) are output tokens at an image rate, not the text one.
  const otherOut = Array.isArray(body.modalities) ? (body.modalities as unknown[]).find((m) => m !== 'text') : undefined;
  if (otherOut !== undefined)
    throw new SwitchyardError(
      'invalid_request',
      `modalities ${echoValue(otherOut)} is not supported: switchyard reserves and records every call at the model's text prices (models.<id>.price), and output other than text (an image model's pictures) is billed at other rates; leave modalities out or set it to ["text"]`,
      { param: 'modalities' },
    );
  const messages = body.messages;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as { content?: unknown; audio?: unknown; cache_control?: unknown };
    // An assistant turn's audio (OpenAI's reference to an earlier audio answer) is billed as audio input.
    if (m.audio !== undefined && m.audio !== null) throw noAudio(`messages[${i}].audio`, 'audio input');
    longCache(m.cache_control, `messages[${i}]`);
    const content = m.content;
    if (!Array.isArray(content)) continue;
    for (let j = 0; j < content.length; j++) {
      const part = content[j] as { type?: unknown; cache_control?: unknown; image_url?: unknown; file?: unknown };
      if (part.type === 'input_audio') throw noAudio(`messages[${i}].content[${j}]`, 'audio input');
      if (part.type === 'image_url' || part.type === 'file') partShape(part, `messages[${i}].content[${j}]`);
      longCache(part.cache_control, `messages[${i}].content[${j}]`);
    }
  }
  if (Array.isArray(tools))
    for (let i = 0; i < tools.length; i++) {
      const t = tools[i] as { cache_control?: unknown; function?: { cache_control?: unknown } };
      longCache(t.cache_control, `tools[${i}]`);
      if (typeof t.function === 'object' && t.function !== null) longCache(t.function.cache_control, `tools[${i}].function`);
    }
}

/**
 * An image or file part with nothing to send (`{"type": "image_url"}`, a `url` that is a number, a
 * `file` of neither `file_id` nor `file_data`): refused here as OpenAI refuses it, whatever the
 * model — an OpenAI-kind model sent it on and was billed for the round trip, a Claude one refused
 * it (a hostile-input round). An image URL's own form (data: URL, https) is the provider's to judge.
 */
function partShape(part: { type?: unknown; image_url?: unknown; file?: unknown }, at: string): void {
  if (part.type === 'image_url') {
    const img = part.image_url;
    // The bare string is LiteLLM's older form, taken by the Claude translation too.
    const url = typeof img === 'string' ? img : isObj(img) ? img.url : undefined;
    // A data: URL with nothing after its comma is as empty (it was sent on and billed: a re-test round).
    if (typeof url !== 'string' || url.trim() === '' || /^data:[^,]*,\s*$/i.test(url))
      throw new SwitchyardError(
        'invalid_request',
        `Missing required parameter: '${at}.image_url.url' (an image part is {"type": "image_url", "image_url": {"url": "https://… or data:image/png;base64,…"}})`,
        { param: `${at}.image_url.url` },
      );
    return;
  }
  const file = part.file;
  const given = (k: string): boolean => isObj(file) && typeof file[k] === 'string' && file[k] !== '';
  if (!given('file_data') && !given('file_id'))
    throw new SwitchyardError(
      'invalid_request',
      `Missing required parameter: '${at}.file' needs file_data (a base64 data: URL) or file_id (a string), as {"type": "file", "file": {"file_data": "data:application/pdf;base64,…", "filename": "a.pdf"}}`,
      { param: `${at}.file` },
    );
}

/**
 * A 1-hour cache write (`cache_control.ttl: "1h"`, as LiteLLM and OpenRouter pass Anthropic's
 * caching on chat) is refused for every endpoint kind, as the Messages route refuses it: it is
 * billed at twice the input price, above `cacheWritePerMTok`, so the reservation could not hold it.
 */
function longCache(v: unknown, at: string): void {
  if (typeof v !== 'object' || v === null) return;
  const ttl = (v as { ttl?: unknown }).ttl;
  // Any lifetime but the 5-minute one ("1h", "3600s"): the Claude translation refuses them alike.
  if (ttl !== undefined && ttl !== '5m')
    throw new SwitchyardError('invalid_request', `${at}.cache_control.ttl ${echoValue(ttl)} is not supported: ${LONG_CACHE_WHY}`, {
      param: `${at}.cache_control.ttl`,
    });
}

function noAudio(param: string, what: string): SwitchyardError {
  return new SwitchyardError(
    'invalid_request',
    `${what} is not supported: audio tokens are billed at rates the catalogue has no price for (models.<id>.price is per text token), so switchyard could neither reserve nor record its cost; send text (transcribe the audio first), or call an audio model directly`,
    { param },
  );
}

/**
 * OpenAI's `response_format` types, and the schema `json_schema` needs: checked here rather than
 * by whichever upstream the request reaches (an Anthropic-kind model would call any unknown type
 * "no JSON output mode", the simulator and some OpenAI-compatible APIs answer it as text).
 */
function checkResponseFormat(rf: unknown): void {
  if (!isObj(rf)) return;
  if (rf.type !== 'text' && rf.type !== 'json_object' && rf.type !== 'json_schema')
    throw new SwitchyardError(
      'invalid_request',
      `Invalid value for 'response_format.type': ${echoValue(rf.type)}; supported values are 'text', 'json_object' and 'json_schema'`,
      { param: 'response_format.type' },
    );
  if (rf.type === 'json_schema' && !(isObj(rf.json_schema) && typeof rf.json_schema.name === 'string'))
    throw new SwitchyardError(
      'invalid_request',
      `Missing required parameter: 'response_format.json_schema' (an object with a "name" and a "schema") for response_format type 'json_schema'`,
      { param: 'response_format.json_schema' },
    );
}

interface Declared {
  names: string[];
  has: Set<string>;
}
/** Each `tools` list's names by kind, listed once: an allowed_tools list of N entries read the N tools N times (5,000 of each: 4.7 s). */
const declaredByList = new WeakMap<unknown[], Partial<Record<'function' | 'custom', Declared>>>();

/** The names of the tools of one kind (`function` or `custom`) a body declares. */
function declaredTools(tools: unknown, kind: 'function' | 'custom'): Declared {
  if (!Array.isArray(tools)) return { names: [], has: new Set() };
  let byKind = declaredByList.get(tools);
  if (byKind === undefined) declaredByList.set(tools, (byKind = {}));
  let d = byKind[kind];
  if (d === undefined) {
    const names = tools.flatMap((t) => {
      if (!isObj(t) || (t.type ?? 'function') !== kind) return [];
      const def = t[kind];
      return isObj(def) && typeof def.name === 'string' ? [def.name] : [];
    });
    d = byKind[kind] = { names, has: new Set(names) };
  }
  return d;
}

/**
 * A tool a choice names (`{"type": "function", "function": {"name"}}`, `{"type": "custom", "custom":
 * {"name"}}`) must be one `tools` declares, of that kind: OpenAI refuses it otherwise, and sent on,
 * a provider that calls it anyway was paid for a call the app cannot run. `at` names the choice.
 */
function checkNamedTool(ref: Record<string, unknown>, kind: 'function' | 'custom', tools: unknown, at: string): void {
  const def = ref[kind];
  if (!isObj(def) || typeof def.name !== 'string')
    throw new SwitchyardError(
      'invalid_request',
      `Invalid value for '${at}': a ${kind} choice is {"type": "${kind}", "${kind}": {"name": "<a ${kind} tool in tools>"}}`,
      {
        param: at,
      },
    );
  if (!Array.isArray(tools) || tools.length === 0)
    throw new SwitchyardError(
      'invalid_request',
      `Invalid value for '${at}': 'tool_choice' is only allowed when 'tools' are specified (it names ${kind} "${echoName(def.name)}"; declare it in tools or leave tool_choice out)`,
      { param: at },
    );
  const { names: declared, has } = declaredTools(tools, kind);
  if (!has.has(def.name))
    throw new SwitchyardError(
      'invalid_request',
      `Invalid value for '${at}': ${kind} "${echoName(def.name)}" is not in 'tools' (${declared.length > 0 ? `declared: ${declared.slice(0, 8).map(echoName).join(', ')}${declared.length > 8 ? ', …' : ''}` : `no ${kind} tools are declared`}); name one of them`,
      { param: at },
    );
}

/**
 * OpenAI's rules for `tool_choice`: any value but null needs `tools` ("auto" or "none" without
 * tools is refused by OpenAI and passed by other providers, so the same request would succeed or
 * fail by the model `auto` picked; "required" without tools cannot be met), and a named choice
 * (`{"type": "function", "function": {"name": …}}`) must name a function in `tools`: a provider
 * that does not check (or a translation to another wire) would force a call to a tool the
 * client never declared. A string is "none", "auto" or "required", an object one of the three
 * kinds chat completions know (others went upstream as they were: OpenAI refused them, other
 * providers' translations read them as "auto").
 */
function checkToolChoice(choice: unknown, tools: unknown): void {
  if (choice === undefined || choice === null) return;
  if (typeof choice === 'string' && choice !== 'none' && choice !== 'auto' && choice !== 'required')
    throw new SwitchyardError(
      'invalid_request',
      `Invalid value for 'tool_choice': "${echoName(choice)}". Supported values are: "none", "auto" and "required", or a tool choice object`,
      {
        param: 'tool_choice',
      },
    );
  if (typeof choice === 'string' && (!Array.isArray(tools) || tools.length === 0))
    throw new SwitchyardError(
      'invalid_request',
      `Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified (it is "${echoName(choice)}"; declare tools or leave tool_choice out)`,
      { param: 'tool_choice' },
    );
  if (typeof choice === 'string') return;
  if (!isObj(choice) || (choice.type !== 'function' && choice.type !== 'custom' && choice.type !== 'allowed_tools'))
    throw new SwitchyardError(
      'invalid_request',
      `Invalid value for 'tool_choice': expected "none", "auto", "required", {"type": "function", "function": {"name"}}, {"type": "custom", "custom": {"name"}} or {"type": "allowed_tools", "allowed_tools": {"mode", "tools"}}${isObj(choice) && typeof choice.type === 'string' ? ` (type "${echoName(choice.type)}" is not one of them)` : ''}`,
      { param: isObj(choice) ? 'tool_choice.type' : 'tool_choice' },
    );
  if (choice.type !== 'allowed_tools') return checkNamedTool(choice, choice.type, tools, 'tool_choice');
  // allowed_tools: a mode and a list of tools, each one that `tools` declares.
  const allowed = choice.allowed_tools;
  if (!isObj(allowed) || !Array.isArray(allowed.tools) || allowed.tools.length === 0)
    throw new SwitchyardError(
      'invalid_request',
      `Invalid value for 'tool_choice.allowed_tools': expected {"mode": "auto" or "required", "tools": [{"type": "function", "function": {"name"}} or {"type": "custom", "custom": {"name"}}, …]}`,
      { param: 'tool_choice.allowed_tools' },
    );
  if (allowed.mode !== 'auto' && allowed.mode !== 'required')
    throw new SwitchyardError(
      'invalid_request',
      `Invalid value for 'tool_choice.allowed_tools.mode': ${typeof allowed.mode === 'string' ? `"${echoName(allowed.mode)}"` : 'missing or not a string'}; supported values are "auto" and "required"`,
      { param: 'tool_choice.allowed_tools.mode' },
    );
  allowed.tools.forEach((t: unknown, i) => {
    const at = `tool_choice.allowed_tools.tools[${i}]`;
    if (!isObj(t) || (t.type !== 'function' && t.type !== 'custom'))
      throw new SwitchyardError(
        'invalid_request',
        `Invalid value for '${at}': expected {"type": "function", "function": {"name"}} or {"type": "custom", "custom": {"name"}}`,
        {
          param: at,
        },
      );
    checkNamedTool(t, t.type, tools, at);
  });
}

/**
 * A parsed chat-completions body (what `JSON.parse` returned), validated: the same value, error
 * and key order as {@link parseChatBodyZod}. A valid body is checked in place by
 * {@link checkChatBody} and comes back as itself (zod would copy every object of it); whatever
 * that check does not accept goes to zod, which then decides and words the error.
 */
export function parseChatBody(raw: unknown): ChatBody {
  const body = checkChatBody(raw);
  return body === null ? parseChatBodyZod(raw) : checkRules(body as ChatBody);
}

// The fast check. It mirrors the schema above: a change there must be made here too (the property
// test in test/http/validate.property.test.ts compares the two on generated bodies).
//
// zod's output object has the schema's keys first, in the schema's order (absent optional keys
// left out), then the other keys in the input's order, and no own `__proto__` key (it is never
// copied). The body keeps zod's order (the upstream body is re-serialised from it, and the
// Anthropic adapter names the first untranslatable field in key order): an object whose keys are
// already in that order is returned as it is; a message or the body itself in another order (the
// Python SDK sends `messages` before `model`, an SDK-dumped assistant message `content` before
// `role`) is copied in zod's order; any other object out of order, or a `__proto__` key in an
// object zod copies, makes the check give up (null) and zod decide.
//
// It reads the input as JSON.parse makes it: plain objects whose own enumerable keys are all of
// their keys, dense arrays, no undefined. Any value it does not accept makes it give up, so an
// input it misreads can only cost time, except an object whose schema keys are inherited or not
// enumerable (zod reads those too): parseChatBody is only called on JSON.parse's output.

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The schema's keys (zod's copy puts them first, in the schema's order: see the copies below). */
const BODY_KEYS: ReadonlySet<string> = new Set([
  'model',
  'messages',
  'stream',
  'stream_options',
  'max_tokens',
  'max_completion_tokens',
  'n',
  'tools',
  'response_format',
  'temperature',
  'top_p',
  'presence_penalty',
  'frequency_penalty',
  'stop',
]);
const MESSAGE_KEYS: ReadonlySet<string> = new Set(['role', 'content', 'name', 'tool_calls', 'tool_call_id']);

/**
 * A message copied in zod's key order; `seen` has bit i set when the schema's key i is present.
 * Named stores, not a loop over the key list: a keyed `in` and store per key cost ~10× more.
 */
function messageInZodOrder(m: Obj, seen: number): Obj {
  const out: Obj = { role: m.role };
  if (seen & 2) out.content = m.content;
  if (seen & 4) out.name = m.name;
  if (seen & 8) out.tool_calls = m.tool_calls;
  if (seen & 16) out.tool_call_id = m.tool_call_id;
  for (const k in m) if (!MESSAGE_KEYS.has(k)) out[k] = m[k];
  return out;
}

/** The body copied in zod's key order, with `messages` in place of its messages (as {@link messageInZodOrder}). */
function bodyInZodOrder(o: Obj, seen: number, messages: unknown[]): Obj {
  const out: Obj = { model: o.model, messages };
  if (seen & 4) out.stream = o.stream;
  if (seen & 8) out.stream_options = o.stream_options;
  if (seen & 16) out.max_tokens = o.max_tokens;
  if (seen & 32) out.max_completion_tokens = o.max_completion_tokens;
  if (seen & 64) out.n = o.n;
  if (seen & 128) out.tools = o.tools;
  if (seen & 256) out.response_format = o.response_format;
  if (seen & 512) out.temperature = o.temperature;
  if (seen & 1024) out.top_p = o.top_p;
  if (seen & 2048) out.presence_penalty = o.presence_penalty;
  if (seen & 4096) out.frequency_penalty = o.frequency_penalty;
  if (seen & 8192) out.stop = o.stop;
  for (const k in o) if (!BODY_KEYS.has(k)) out[k] = o[k];
  return out;
}

/** `z.number().int().positive().nullish()`: a safe integer above 0 (zod's `.int()` is the safe range). */
const posInt = (v: unknown): boolean => v === null || (typeof v === 'number' && Number.isSafeInteger(v) && v > 0);

/** `z.number().min(lo).max(hi).nullish()` (NaN fails both comparisons, ±Infinity the range). */
const inRange = (v: unknown, lo: number, hi: number): boolean => v === null || (typeof v === 'number' && v >= lo && v <= hi);

/** `z.array(z.looseObject({}))`: objects, none with an own `__proto__` (zod's copy would drop it). */
function plainObjects(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) {
    const o: unknown = v[i];
    if (!isObj(o) || Object.hasOwn(o, '__proto__')) return false;
  }
  return true;
}

/** `z.array(z.string())`. */
function strings(v: unknown[]): boolean {
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') return false;
  return true;
}

/** `z.array(contentPart)` in zod's order: `type` first, then `text` when present, then the rest. */
function contentParts(v: unknown[]): boolean {
  for (let i = 0; i < v.length; i++) {
    const p: unknown = v[i];
    if (!isObj(p)) return false;
    let at = 0;
    for (const k in p) {
      if (k === 'type') {
        if (at !== 0 || typeof p.type !== 'string') return false;
      } else if (k === 'text') {
        if (at !== 1) return false;
      } else if (k === '__proto__') return false;
      at++;
    }
    if (typeof p.type !== 'string' || (p.type === 'text' && typeof p.text !== 'string')) return false;
  }
  return true;
}

/** A message, the same object when its keys are in zod's order, a copy in that order, or null. */
function checkMessage(m: unknown): Obj | null {
  if (!isObj(m)) return null;
  let last = -1;
  let rest = false;
  let ordered = true;
  let seen = 0;
  for (const k in m) {
    const v = m[k];
    let rank: number;
    switch (k) {
      case 'role':
        if (v !== 'user' && v !== 'assistant' && v !== 'system' && v !== 'tool' && v !== 'developer' && v !== 'function') return null;
        rank = 0;
        break;
      case 'content':
        if (typeof v !== 'string' && v !== null && !(Array.isArray(v) && contentParts(v))) return null;
        rank = 1;
        break;
      case 'name':
        if (typeof v !== 'string') return null;
        rank = 2;
        break;
      case 'tool_calls':
        if (!plainObjects(v)) return null;
        rank = 3;
        break;
      case 'tool_call_id':
        if (typeof v !== 'string') return null;
        rank = 4;
        break;
      case '__proto__':
        return null;
      default:
        rest = true;
        continue;
    }
    if (rest || rank < last) ordered = false;
    last = rank;
    seen |= 1 << rank;
  }
  if ((seen & 1) === 0) return null;
  return ordered ? m : messageInZodOrder(m, seen);
}

/** The messages, the same array when every message is kept as it is, else a copy; null when one fails. */
function checkMessages(v: unknown): unknown[] | null {
  if (!Array.isArray(v) || v.length === 0) return null;
  let out: unknown[] | null = null;
  for (let i = 0; i < v.length; i++) {
    const m: unknown = v[i];
    const checked = checkMessage(m);
    if (checked === null) return null;
    if (checked !== m && out === null) out = v.slice(0, i);
    if (out !== null) out.push(checked);
  }
  return out ?? v;
}

/** `stream_options` in zod's order (`include_usage` first when present). */
function streamOptions(v: unknown): boolean {
  if (v === null) return true;
  if (!isObj(v)) return false;
  let at = 0;
  for (const k in v) {
    if (k === 'include_usage') {
      const u = v[k];
      if (at !== 0 || (u !== null && typeof u !== 'boolean')) return false;
    } else if (k === '__proto__') return false;
    at++;
  }
  return true;
}

/** `response_format` in zod's order (`type` first). */
function responseFormat(v: unknown): boolean {
  if (v === null) return true;
  if (!isObj(v)) return false;
  let at = 0;
  for (const k in v) {
    if (k === 'type') {
      if (at !== 0) return false;
    } else if (k === '__proto__') return false;
    at++;
  }
  return typeof v.type === 'string';
}

/**
 * The body when it fits the schema: `raw` itself when every key is in zod's order, else a copy
 * in that order (only the objects out of order are copied). Null when it does not fit, or when
 * this check is not sure (then zod decides).
 */
export function checkChatBody(raw: unknown): Obj | null {
  if (!isObj(raw)) return null;
  let last = -1;
  let rest = false;
  let ordered = true;
  let seen = 0;
  let msgs: unknown[] | null = null;
  let copied = false;
  for (const k in raw) {
    const v = raw[k];
    let rank: number;
    switch (k) {
      case 'model':
        if (typeof v !== 'string' || v.length === 0) return null;
        rank = 0;
        break;
      case 'messages':
        msgs = checkMessages(v);
        if (msgs === null) return null;
        copied = msgs !== v;
        rank = 1;
        break;
      case 'stream':
        if (v !== null && typeof v !== 'boolean') return null;
        rank = 2;
        break;
      case 'stream_options':
        if (!streamOptions(v)) return null;
        rank = 3;
        break;
      case 'max_tokens':
        if (!posInt(v)) return null;
        rank = 4;
        break;
      case 'max_completion_tokens':
        if (!posInt(v)) return null;
        rank = 5;
        break;
      case 'n':
        if (!posInt(v)) return null;
        rank = 6;
        break;
      case 'tools':
        if (v !== null && !plainObjects(v)) return null;
        rank = 7;
        break;
      case 'response_format':
        if (!responseFormat(v)) return null;
        rank = 8;
        break;
      case 'temperature':
        if (!inRange(v, 0, 2)) return null;
        rank = 9;
        break;
      case 'top_p':
        if (!inRange(v, 0, 1)) return null;
        rank = 10;
        break;
      case 'presence_penalty':
        if (!inRange(v, -2, 2)) return null;
        rank = 11;
        break;
      case 'frequency_penalty':
        if (!inRange(v, -2, 2)) return null;
        rank = 12;
        break;
      case 'stop':
        if (v !== null && typeof v !== 'string' && !(Array.isArray(v) && strings(v))) return null;
        rank = 13;
        break;
      case '__proto__':
        return null;
      default:
        rest = true;
        continue;
    }
    if (rest || rank < last) ordered = false;
    last = rank;
    seen |= 1 << rank;
  }
  if ((seen & 1) === 0 || msgs === null) return null;
  if (ordered && !copied) return raw;
  return bodyInZodOrder(raw, seen, msgs);
}

/** Longest hint header value accepted; real task names and numbers are far shorter. */
export const MAX_HINT_CHARS = 128;

const first = (v: string | string[] | undefined, name: string): string | null => {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || s.trim() === '') return null;
  if (s.length > MAX_HINT_CHARS) throw new SwitchyardError('invalid_request', `header ${name} is longer than ${MAX_HINT_CHARS} characters`, { param: name });
  return s.trim();
};

const intHeader = (v: string | string[] | undefined, name: string): number | null => {
  const s = first(v, name);
  if (s === null) return null;
  if (!/^\d+$/.test(s))
    throw new SwitchyardError('invalid_request', `header ${name} must be a whole number of milliseconds, got "${s.slice(0, 32)}"`, { param: name });
  if (s.length > 15)
    throw new SwitchyardError('invalid_request', `header ${name} is out of range (at most 15 digits of milliseconds), got "${s.slice(0, 32)}"`, {
      param: name,
    });
  return Number(s);
};

const numHeader = (v: string | string[] | undefined, name: string): number | null => {
  const s = first(v, name);
  if (s === null) return null;
  // Decimal only: Number() would also read "0x10" as 16, "0b1" as 1 and "1_0"-like typos as NaN.
  // A sign is read: "+0.5" is 0.5, and "-0" / "-0.0" (what a float formatter writes for a
  // negative zero) is 0, as JSON's and Python's float() read them.
  const n = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(n) || n < 0)
    throw new SwitchyardError('invalid_request', `header ${name} must be a non-negative number, got "${s.slice(0, 32)}"`, { param: name });
  return n === 0 ? 0 : n;
};

/** The largest cap money arithmetic holds exactly: Number.MAX_SAFE_INTEGER nano-USD, about $9 million. */
export const MAX_HINT_COST_USD = Math.floor(Number.MAX_SAFE_INTEGER / NANO_PER_USD);

/** A cost cap in USD; beyond {@link MAX_HINT_COST_USD} it was a 500 (its nano-USD amount is not a safe integer). */
const costHeader = (v: string | string[] | undefined, name: string): number | null => {
  const n = numHeader(v, name);
  if (n !== null && n > MAX_HINT_COST_USD)
    throw new SwitchyardError('invalid_request', `header ${name} must be at most ${MAX_HINT_COST_USD} (USD); leave it out for no cap`, { param: name });
  return n;
};

/**
 * The longest deadline a request may ask for with `x-switchyard-timeout-ms` when the config's own
 * `resilience.requestTimeoutMs` is shorter: the header overrides the config both ways (the spec:
 * "overall deadline for this request"), as LiteLLM's `timeout` and Portkey's request timeout do,
 * but a client cannot hold a request open for days.
 */
export const MAX_HINT_TIMEOUT_MS = 3_600_000;

/**
 * The routing hints of a request. `x-switchyard-timeout-ms` must lie in 1 ms .. the larger of
 * `configTimeoutMs` (resilience.requestTimeoutMs) and {@link MAX_HINT_TIMEOUT_MS}: beyond that
 * it is refused (a value beyond what a timer holds would fire at once, as an instant 504).
 */
export function parseHints(h: Record<string, string | string[] | undefined>, configTimeoutMs: number) {
  const maxTimeoutMs = Math.max(configTimeoutMs, MAX_HINT_TIMEOUT_MS);
  const timeoutMs = intHeader(h['x-switchyard-timeout-ms'], 'x-switchyard-timeout-ms');
  if (timeoutMs !== null && (timeoutMs < 1 || timeoutMs > maxTimeoutMs)) {
    throw new SwitchyardError(
      'invalid_request',
      `x-switchyard-timeout-ms must be a whole number of milliseconds between 1 and ${maxTimeoutMs}, got ${timeoutMs}`,
      {
        param: 'x-switchyard-timeout-ms',
      },
    );
  }
  // Case-insensitive, as x-switchyard-task and x-switchyard-cascade are: HIGH_QUALITY is high_quality.
  // A refused value is echoed as sent, whole up to 128 characters: lowercased or cut, a secret sent there would escape the scrubber.
  const tierRaw = first(h['x-switchyard-tier'], 'x-switchyard-tier') ?? null;
  const tier = tierRaw?.toLowerCase() ?? null;
  if (tierRaw !== null && tier !== null && !isTier(tier))
    throw new SwitchyardError('invalid_request', `header x-switchyard-tier must be one of ${TIERS.join(', ')}, got "${echoName(tierRaw)}"`, {
      param: 'x-switchyard-tier',
    });
  const cascadeRaw = first(h['x-switchyard-cascade'], 'x-switchyard-cascade') ?? null;
  const cascade = cascadeRaw?.toLowerCase() ?? null;
  if (cascadeRaw !== null && cascade !== 'on' && cascade !== 'off')
    throw new SwitchyardError('invalid_request', `header x-switchyard-cascade must be on or off, got "${echoName(cascadeRaw)}"`, {
      param: 'x-switchyard-cascade',
    });
  return {
    cascade: cascade === null ? null : cascade === 'on',
    // Scrubbed of the configured secrets: an unknown task is echoed in x-switchyard-reason (a client key sent there came back).
    task: scrubbed(first(h['x-switchyard-task'], 'x-switchyard-task')),
    tier,
    maxLatencyMs: intHeader(h['x-switchyard-max-latency-ms'], 'x-switchyard-max-latency-ms'),
    maxCostUsd: costHeader(h['x-switchyard-max-cost-usd'], 'x-switchyard-max-cost-usd'),
    timeoutMs,
    sdkTimeoutMs: sdkTimeout(h['x-stainless-timeout']),
  };
}

/**
 * The timeout the OpenAI and Anthropic SDKs (Node) send with each call, `x-stainless-timeout`:
 * whole seconds, truncated (a 1.5 s timeout is "1"; under 1 s, "0"). Read leniently: it is the
 * SDK's header, not one the user wrote, so anything else (0, a fraction, a list, a huge number)
 * is no timeout rather than a 400.
 */
function sdkTimeout(v: string | string[] | undefined): number | null {
  if (typeof v !== 'string' || !/^\s*[1-9]\d{0,6}\s*$/.test(v)) return null;
  return Number(v) * 1000;
}

const scrubbed = <T extends string | null | undefined>(v: T): T => (typeof v === 'string' ? (scrub(v) as T) : v);
