/**
 * Chat completions → Anthropic Messages answers: the `message` object, `stop_reason`, usage
 * (Anthropic's `input_tokens` excludes cache reads), the stream's events, and errors in
 * Anthropic's shape (`{"type":"error","error":{"type","message"}}`).
 */
import { usageFromOpenAI } from '../accounting/cost.js';
import { randomBytes } from 'node:crypto';
import { echoName, SwitchyardError } from '../errors.js';
import { scrub } from '../observe/scrub.js';
import { isObj } from './fields.js';

const STOP: Record<string, string> = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', function_call: 'tool_use', content_filter: 'refusal' };

/**
 * Chat finish reasons that say the provider broke the answer off (DeepSeek's
 * `insufficient_system_resource`: "interrupted due to insufficient resource of the inference
 * system"; `error`, which OpenRouter ends a failed stream with). Messages has no stop reason for
 * them, and `end_turn` would dress a truncated answer as whole: a translated answer that ends so
 * is a cut (runtime/attempt.ts).
 */
export const BROKEN_OFF: ReadonlySet<string> = new Set(['insufficient_system_resource', 'error']);

/**
 * Anthropic's `stop_reason` for chat's `finish_reason`. An answer that calls a tool stopped for
 * `tool_use` whatever the upstream said: Gemini's OpenAI-compatible API ends tool calls with
 * `stop`, and an agent loops on `stop_reason == "tool_use"` (a length cut stays `max_tokens`).
 */
export const stopReason = (finish: unknown, calledTools = false): string => {
  const r = typeof finish === 'string' ? (STOP[finish] ?? 'end_turn') : 'end_turn';
  return calledTools && r === 'end_turn' ? 'tool_use' : r;
};

/**
 * The stop sequence a chat choice says it stopped at, where its upstream says so: vLLM's
 * `stop_reason` (the matched stop string; a token id or null otherwise), SGLang's `matched_stop`,
 * and the Anthropic adapter's chat form of Claude's `stop_sequence` (in vLLM's field). OpenAI's own
 * API does not say which stop matched, or whether one did: its `stop` stays `end_turn`.
 */
export function matchedStop(choice: Record<string, unknown>): string | null {
  if (choice.finish_reason !== 'stop') return null;
  for (const v of [choice.stop_reason, choice.matched_stop]) if (typeof v === 'string' && v !== '') return v;
  return null;
}

export function messageId(id: unknown): string {
  return typeof id === 'string' && id.startsWith('msg_') ? id : `msg_${randomBytes(12).toString('hex')}`;
}

/**
 * Chat usage in Anthropic's convention: `input_tokens` excludes cache reads and cache writes,
 * which are counted apart. Chat's `prompt_tokens` includes both: `cached_tokens` (reads) and
 * `cache_write_tokens` (writes, which OpenRouter reports and billing reads) are taken out of it.
 */
export function anthropicUsage(u: unknown): Record<string, number> {
  // Read as billing reads it (usageFromOpenAI): DeepSeek's prompt_cache_hit_tokens, and output that
  // total_tokens shows beyond completion_tokens, count the same here as on the bill.
  const usage = usageFromOpenAI(u);
  const cached = usage?.cachedTokens ?? 0;
  const written = usage?.cacheCreationTokens ?? 0;
  return {
    input_tokens: Math.max(0, (usage?.promptTokens ?? 0) - cached - written),
    output_tokens: usage?.completionTokens ?? 0,
    cache_read_input_tokens: cached,
    cache_creation_input_tokens: written,
  };
}

function isJsonObject(text: string): boolean {
  try {
    return isObj(JSON.parse(text));
  } catch {
    return false;
  }
}

/**
 * The first tool call of a chat answer whose arguments a Messages `tool_use` cannot carry (its
 * `input` is a JSON object; none or blank is `{}`), by name; null when every one can.
 */
export function badToolArgs(calls: ReadonlyArray<{ name: string; args: unknown }>): string | null {
  for (const c of calls) {
    if (c.args === undefined || c.args === null || (typeof c.args === 'string' && c.args.trim() === '')) continue;
    if (typeof c.args !== 'string' || !isJsonObject(c.args)) return c.name;
  }
  return null;
}

/**
 * The tool calls of a chat completion's first choice, as badToolArgs reads them; none when
 * max_tokens cut the answer (its calls stay as they are, with stop_reason max_tokens).
 */
export function completionToolCalls(c: Record<string, unknown> | null): Array<{ name: string; args: unknown }> {
  const choice = c && Array.isArray(c.choices) && isObj(c.choices[0]) ? c.choices[0] : {};
  if (choice.finish_reason === 'length') return [];
  const msg = isObj(choice.message) ? choice.message : {};
  const calls = Array.isArray(msg.tool_calls) ? msg.tool_calls.filter(isObj) : [];
  return calls.map((tc) => {
    const fn = isObj(tc.function) ? tc.function : {};
    return { name: String(fn.name ?? ''), args: fn.arguments };
  });
}

/** Anthropic's alphabet for tool use ids (its 400: "String should match pattern '^[a-zA-Z0-9_-]+$'"). */
const ANTHROPIC_TOOL_ID = /^[a-zA-Z0-9_-]+$/;

/**
 * A chat tool call id as Anthropic takes it. OpenAI takes any string (Kimi's and some SDKs' ids
 * are like `functions.get_weather:0`); Anthropic refuses those, so a fail-over to Claude turned a
 * valid conversation into a 400. An id outside Anthropic's alphabet gets its other characters as
 * `_` and a hash of the whole id (two ids that differ only there stay two ids); the same id maps
 * the same way in a `tool_use` and in the `tool_result` that answers it, and in a translated answer
 * given to a Messages client (which may send it to Claude next).
 */
export function anthropicToolId(id: string): string {
  if (ANTHROPIC_TOOL_ID.test(id)) return id;
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return `${id.replace(/[^a-zA-Z0-9_-]/g, '_')}_${(h >>> 0).toString(16).padStart(8, '0')}`;
}

/** A tool call's id as a Messages client gets it (Anthropic's alphabet), or a fresh one when the upstream gave none (a `tool_result` must name it). */
const toolUseId = (id: unknown): string => (typeof id === 'string' && id !== '' ? anthropicToolId(id) : `toolu_${randomBytes(12).toString('hex')}`);

function parseArgs(args: unknown): unknown {
  if (typeof args !== 'string' || args.trim() === '') return {};
  try {
    return JSON.parse(args) as unknown;
  } catch {
    return {};
  }
}

export function messageOfCompletion(c: Record<string, unknown>): Record<string, unknown> {
  const choice = Array.isArray(c.choices) && isObj(c.choices[0]) ? c.choices[0] : {};
  const msg = isObj(choice.message) ? choice.message : {};
  const content: unknown[] = [];
  if (typeof msg.content === 'string' && msg.content !== '') content.push({ type: 'text', text: msg.content });
  // Chat's `refusal` has no block of its own in Messages: the model's words are its text (as Claude refuses).
  if (typeof msg.refusal === 'string' && msg.refusal !== '') content.push({ type: 'text', text: msg.refusal });
  const calls = Array.isArray(msg.tool_calls) ? msg.tool_calls.filter(isObj) : [];
  for (const tc of calls) {
    const fn = isObj(tc.function) ? tc.function : {};
    content.push({ type: 'tool_use', id: toolUseId(tc.id), name: String(fn.name ?? ''), input: parseArgs(fn.arguments) });
  }
  const refused = typeof msg.refusal === 'string' && msg.refusal !== '' && calls.length === 0;
  const stopSequence = refused || calls.length > 0 ? null : matchedStop(choice);
  return {
    id: messageId(c.id),
    type: 'message',
    role: 'assistant',
    model: c.model,
    content,
    // A refusal (chat's `refusal` field) says so, as Claude's own does; a matched stop sequence too.
    stop_reason: refused ? 'refusal' : stopSequence !== null ? 'stop_sequence' : stopReason(choice.finish_reason, calls.length > 0),
    stop_sequence: stopSequence,
    usage: anthropicUsage(c.usage),
  };
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  405: 'invalid_request_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'overloaded_error',
  504: 'timeout_error',
};

/** Anthropic's server-side error types: an upstream's own, when the request failed on it, is kept (its SDK retries `overloaded_error`). */
const UPSTREAM_TYPES: ReadonlySet<string> = new Set(['overloaded_error', 'api_error', 'timeout_error', 'rate_limit_error']);
/**
 * In a stream already begun, the upstream's error event keeps its `invalid_request_error` too (a
 * content filter's block part way): as a whole request's 502 it would say the client's request was
 * bad where an endpoint refused it (a misconfigured one's 400), but here the upstream said it in
 * the answer's own stream.
 */
const IN_STREAM_TYPES: ReadonlySet<string> = new Set([...UPSTREAM_TYPES, 'invalid_request_error']);

/**
 * The body of an error in Anthropic's shape; `requestId`, when given, is its top-level `request_id`,
 * as Anthropic's API puts the id it also sends in the `request-id` header. `inStream`: the error
 * event of a stream already begun.
 */
export function anthropicError(err: SwitchyardError, requestId?: string, inStream = false): Record<string, unknown> {
  const type =
    err.status >= 500 && err.upstreamType !== null && (inStream ? IN_STREAM_TYPES : UPSTREAM_TYPES).has(err.upstreamType)
      ? err.upstreamType
      : (ERROR_TYPES[err.status] ?? (err.status >= 500 ? 'api_error' : 'invalid_request_error'));
  // Scrubbed as the OpenAI-shaped body is (SwitchyardError.toBody): a model name a client sent may be a key.
  const error: Record<string, unknown> = { type, message: scrub(err.message) };
  // The upstream's (or our own) `details`: the SDK reads `error_code` from it (its thread recovery branches on it).
  if (err.details !== null) {
    try {
      error.details = JSON.parse(scrub(JSON.stringify(err.details))) as unknown;
    } catch {
      // A redaction that broke the JSON: the details are left out, never the error.
    }
  }
  return requestId === undefined ? { type: 'error', error } : { type: 'error', error, request_id: requestId };
}

type Emit = (name: string, data: Record<string, unknown>) => boolean;

/** A tool call being gathered from the stream's pieces. */
interface ToolCall {
  id: string;
  name: string;
  args: string;
}

/**
 * A chat stream's tool calls, gathered whole from their pieces. Keyed by index, a new id under a
 * known index starting a new call (Gemini's OpenAI-compatible API leaves out `index`, a piece with
 * a new `id` being a new call, or numbers every call 0; some interleave two calls' pieces).
 */
export class StreamToolCalls {
  readonly calls: ToolCall[] = [];
  private readonly byIndex = new Map<number, ToolCall>();
  private lastCall: ToolCall | null = null;

  /** The `tool_calls` of one chunk's first choice, if it has any. */
  chunk(c: unknown): void {
    const choice = isObj(c) && Array.isArray(c.choices) && isObj(c.choices[0]) ? c.choices[0] : null;
    const d = choice && isObj(choice.delta) ? choice.delta : null;
    if (d && Array.isArray(d.tool_calls)) for (const tc of d.tool_calls) if (isObj(tc)) this.piece(tc);
  }

  piece(tc: Record<string, unknown>): void {
    const id = typeof tc.id === 'string' && tc.id !== '' ? tc.id : null;
    const index = typeof tc.index === 'number' ? tc.index : null;
    let call = index !== null ? this.byIndex.get(index) : this.lastCall;
    // A piece naming another id than its call's is a new call (Gemini numbers every call 0).
    if (call && id !== null && call.id !== '' && call.id !== id) call = undefined;
    if (!call) {
      call = { id: id ?? '', name: '', args: '' };
      this.calls.push(call);
    } else if (id !== null) call.id = id;
    if (index !== null) this.byIndex.set(index, call);
    this.lastCall = call;
    const fn = isObj(tc.function) ? tc.function : {};
    if (typeof fn.name === 'string' && fn.name !== '' && call.name === '') call.name = fn.name;
    if (typeof fn.arguments === 'string') call.args += fn.arguments;
  }
}

/**
 * Chat chunks → message_start, ping, content_block_start/delta/stop, message_delta, message_stop.
 *
 * Text is relayed as it comes. Tool calls are gathered and sent as whole blocks when the answer
 * ends, after its text (the order a JSON answer's content has): a `tool_use` block must be one
 * start, its deltas and one stop, and upstreams do not all send a call's pieces together. Gemini's
 * OpenAI-compatible API leaves out `index` (a piece with a new `id` is a new call) or numbers every
 * call 0; some interleave two calls' pieces. Keyed by index, a new id under a known index starting
 * a new call, each call comes out whole, with its arguments as one `input_json_delta` (none when
 * they are blank: `{}`). Arguments that are not a JSON object end the stream with an error event
 * (`done`), unless max_tokens cut the answer.
 */
/** How often a stream that gathers a tool call pings (Anthropic pings every few seconds; proxies' idle timeouts are 30-60 s). */
export const PING_EVERY_MS = 5_000;

export class MessagesStreamWriter {
  private textIndex: number | null = null;
  private next = 0;
  private readonly tools = new StreamToolCalls();
  private finish: unknown = null;
  /** The stop sequence the upstream says the answer stopped at ({@link matchedStop}). */
  private stopSequence: string | null = null;
  /** A chat `refusal` piece came: the message stops for `refusal`. */
  private refused = false;
  private usage: unknown = null;
  /** When the last event was written (a gathered tool call writes none until the end: pings keep the stream alive meanwhile). */
  private lastWrite = 0;

  constructor(
    private readonly emit: Emit,
    private readonly model: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** `inputTokens`: the prompt's estimated count for `message_start` (the real one follows in `message_delta`). */
  start(inputTokens = 0): void {
    const message = {
      id: messageId(null),
      type: 'message',
      role: 'assistant',
      model: this.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      // Anthropic's message_start has its cache counts too (the SDK's Usage type requires them): none
      // known yet on a translated answer, whose prompt is all in input_tokens until message_delta says.
      usage: { input_tokens: inputTokens, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    };
    this.emit('message_start', { type: 'message_start', message });
    this.emit('ping', { type: 'ping' });
    this.lastWrite = this.now();
  }

  /** The message was started by a relayed stream this one continues: its text block `openText` (if still open) goes on, new blocks from `nextIndex`. */
  resume(openText: number | null, nextIndex: number): void {
    this.textIndex = openText;
    this.next = nextIndex;
    this.lastWrite = this.now();
  }

  chunk(c: Record<string, unknown>): boolean {
    let ok = true;
    if (isObj(c.usage)) this.usage = c.usage;
    const choice = Array.isArray(c.choices) && isObj(c.choices[0]) ? c.choices[0] : null;
    if (!choice) return ok;
    const d = isObj(choice.delta) ? choice.delta : {};
    // Chat's `refusal` pieces are text here, as in messageOfCompletion.
    if (typeof d.refusal === 'string' && d.refusal !== '') this.refused = true;
    for (const text of [d.content, d.refusal]) {
      if (typeof text !== 'string' || text === '') continue;
      if (this.textIndex === null) {
        this.textIndex = this.next++;
        this.emit('content_block_start', { type: 'content_block_start', index: this.textIndex, content_block: { type: 'text', text: '' } });
      }
      ok = this.emit('content_block_delta', { type: 'content_block_delta', index: this.textIndex, delta: { type: 'text_delta', text } });
      this.lastWrite = 0;
    }
    const reasoning = (typeof d.reasoning_content === 'string' && d.reasoning_content !== '') || (typeof d.reasoning === 'string' && d.reasoning !== '');
    if (Array.isArray(d.tool_calls)) for (const tc of d.tool_calls) if (isObj(tc)) this.tools.piece(tc);
    if (Array.isArray(d.tool_calls) || reasoning) {
      // A long tool call is gathered silently, and a model's reasoning has no Messages form: a ping
      // now and then, as Anthropic sends them, so a proxy between client and switchyard does not
      // take the stream for idle and cut it.
      const t = this.now();
      if (this.lastWrite === 0) this.lastWrite = t;
      else if (t - this.lastWrite >= PING_EVERY_MS) {
        ok = this.emit('ping', { type: 'ping' }) && ok;
        this.lastWrite = t;
      }
    }
    if (choice.finish_reason) {
      this.finish = choice.finish_reason;
      this.stopSequence = matchedStop(choice);
    }
    return ok;
  }

  private closeText(): void {
    if (this.textIndex !== null) this.emit('content_block_stop', { type: 'content_block_stop', index: this.textIndex });
    this.textIndex = null;
  }

  /** Each gathered tool call as one whole block. */
  private flushTools(): void {
    for (const call of this.tools.calls) {
      const index = this.next++;
      const block = { type: 'tool_use', id: toolUseId(call.id), name: call.name, input: {} };
      this.emit('content_block_start', { type: 'content_block_start', index, content_block: block });
      // Cut by max_tokens, a call's arguments are the start of an object: sent as they are, as
      // Anthropic streams a cut call's (the SDKs read a partial input from them; it was `{}`).
      const cut = this.finish === 'length' && call.args.trimStart().startsWith('{');
      if (cut || isJsonObject(call.args))
        this.emit('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: call.args } });
      this.emit('content_block_stop', { type: 'content_block_stop', index });
    }
  }

  done(): void {
    this.closeText();
    // A call whose arguments are not a JSON object cannot be a tool_use (a client would run the tool
    // with no arguments): the stream ends with an error event, as any upstream failure after it
    // started does. An answer cut by max_tokens keeps its calls as they are (stop_reason max_tokens).
    const bad = this.finish === 'length' ? null : badToolArgs(this.tools.calls);
    if (bad !== null) {
      this.failed(
        new SwitchyardError(
          'upstream_error',
          `the model's call of tool ${echoName(bad)} has arguments that are not a JSON object, which a tool_use input must be`,
        ),
      );
      return;
    }
    this.flushTools();
    const refused = this.refused && this.tools.calls.length === 0;
    const stopSequence = refused || this.tools.calls.length > 0 ? null : this.stopSequence;
    this.emit('message_delta', {
      type: 'message_delta',
      delta: {
        stop_reason: refused ? 'refusal' : stopSequence !== null ? 'stop_sequence' : stopReason(this.finish, this.tools.calls.length > 0),
        stop_sequence: stopSequence,
      },
      usage: anthropicUsage(this.usage),
    });
    this.emit('message_stop', { type: 'message_stop' });
  }

  failed(err: SwitchyardError): void {
    this.emit('error', anthropicError(err, undefined, true));
  }
}

interface ListedModel {
  id: string;
  created: number;
}

/**
 * `/v1/models` for an Anthropic client (one sending `anthropic-version`, as its SDK always does):
 * the same entries with the fields Anthropic's ModelInfo has (`type`, `display_name`,
 * `created_at`) added, and the list with Anthropic's page fields; the OpenAI fields stay.
 */
export function anthropicModel<M extends ListedModel>(m: M): M & { type: 'model'; display_name: string; created_at: string } {
  return { ...m, type: 'model', display_name: m.id, created_at: new Date(m.created * 1000).toISOString() };
}

/**
 * One page of the list, as Anthropic's API pages it: `limit` entries (1–1000, default 20) after
 * `after_id` or before `before_id`, `has_more` when the list goes on in that direction. An id the
 * list does not hold, or a `limit` out of range, is a 400 naming the parameter.
 */
export function anthropicModelsList(list: { data: ListedModel[] }, query: URLSearchParams = new URLSearchParams()): unknown {
  const raw = query.get('limit');
  const limit = raw === null ? 20 : /^[0-9]{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(limit >= 1 && limit <= 1000)) throw new SwitchyardError('invalid_request', 'limit: must be an integer from 1 to 1000', { param: 'limit' });
  const after = query.get('after_id');
  const before = query.get('before_id');
  const at = (name: string, id: string): number => {
    const i = list.data.findIndex((m) => m.id === id);
    if (i < 0) throw new SwitchyardError('invalid_request', `${name}: no model "${echoName(id)}" in the list`, { param: name });
    return i;
  };
  let from = 0;
  let to = list.data.length;
  if (after !== null) from = at('after_id', after) + 1;
  if (before !== null) to = at('before_id', before);
  // Anthropic's `before_id` pages backwards: the `limit` entries just before it.
  const start = before !== null && after === null ? Math.max(from, to - limit) : from;
  const end = Math.min(to, start + limit);
  const data = list.data.slice(start, end).map(anthropicModel);
  const hasMore = before !== null && after === null ? start > from : end < to;
  return { ...list, data, has_more: hasMore, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}
