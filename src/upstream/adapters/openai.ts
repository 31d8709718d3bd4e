/**
 * OpenAI-kind providers (OpenAI, Gemini's and DeepSeek's OpenAI-compatible APIs, relays):
 * the body passes through with the upstream model name, streams always ask for usage.
 */
import { missesCount, usageFromOpenAI } from '../../accounting/cost.js';
import { nativeOf } from '../../apis/native.js';
import type { SseEvent } from '../sse.js';
import { cutText, unstructuredKind, type ChatBody, type OpenAIChunk, type StreamPiece, type UpstreamErrorInfo } from '../types.js';
import { buildOpenAINative, parseEmbeddings } from './openai-native.js';
import { learnTemplate, matchTemplate, type ChunkTemplate } from '../chunk-template.js';
import type { BuildInput, ParsedCompletion, ProviderAdapter, StreamDecoder } from './types.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function readErrorInfo(status: number, bodyText: string): UpstreamErrorInfo {
  try {
    const parsed: unknown = JSON.parse(bodyText);
    // Gemini's OpenAI-compatible API wraps its error in an array: `[{"error": {code, message, status}}]`.
    const j = Array.isArray(parsed) && parsed.length === 1 ? (parsed[0] as unknown) : parsed;
    const e = isObj(j) && isObj(j.error) ? j.error : null;
    if (e)
      return {
        message: str(e.message) ?? `upstream status ${status}`,
        type: str(e.type),
        code: str(e.code) ?? (typeof e.code === 'number' ? String(e.code) : null),
        param: str(e.param),
      };
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return { message: cutText(bodyText, 300) || `upstream status ${status}`, type: null, code: null, param: null, unstructured: unstructuredKind(bodyText) };
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (isObj(p) && typeof p.text === 'string' ? p.text : '')).join('');
  return '';
}

/** Chunks whose template is tried before one is given up on (a stream whose content the upstream escapes differently). */
const TEMPLATE_TRIES = 2;

/**
 * The tool calls of a stream, numbered as OpenAI numbers them: `index` 0, 1, … in the order the
 * calls start. Gemini's OpenAI-compatible API leaves `index` out, or gives every call 0 under its
 * own id; clients that follow OpenAI's shape then lost a call (openai-node's stream helper) or
 * failed (the AI SDK: "index expected number"). A piece without an index goes on with the call
 * before it unless it names another id; a piece naming another id than its index's call is a new
 * call. A stream numbered as OpenAI's is left as it came (byte for byte: the chunk is relayed raw).
 */
class ToolIndexes {
  private readonly ids = new Map<number, string>();
  private readonly ours = new Map<number, number>();
  private next = 0;
  private last = -1;

  /** Renumbers the deltas in place; true when one changed. */
  fix(calls: unknown[]): boolean {
    let changed = false;
    for (const tc of calls) {
      if (!isObj(tc)) continue;
      const id = typeof tc.id === 'string' && tc.id !== '' ? tc.id : null;
      let out: number;
      if (typeof tc.index !== 'number') {
        out = this.last >= 0 && (id === null || this.ids.get(this.last) === id) ? this.last : this.next++;
      } else {
        const mapped = this.ours.get(tc.index);
        const known = mapped === undefined ? undefined : this.ids.get(mapped);
        if (mapped === undefined || (id !== null && known !== undefined && known !== id)) {
          out = this.next++;
          this.ours.set(tc.index, out);
        } else out = mapped;
      }
      if (id !== null) this.ids.set(out, id);
      this.last = out;
      if (tc.index !== out) {
        tc.index = out;
        changed = true;
      }
    }
    return changed;
  }

  get any(): boolean {
    return this.next > 0;
  }
}

export class OpenAIStreamDecoder implements StreamDecoder {
  private template: ChunkTemplate | null = null;
  private tries: number;
  private tools: ToolIndexes | null = null;
  /** A delta with `role` came (or was given one): the OpenAI SDK's stream helper throws on a choice that never had one. */
  private role = false;

  /** `templates: false` parses every chunk (the slow path the template path is tested against). */
  constructor(opts: { templates?: boolean } = {}) {
    this.tries = opts.templates === false ? 0 : TEMPLATE_TRIES;
  }

  decode(ev: SseEvent): StreamPiece[] {
    const data = ev.data;
    if (data === '[DONE]') return [{ type: 'done' }];
    if (data === '') return [];
    if (this.template !== null) {
      const p = matchTemplate(this.template, data);
      if (p !== null) return [p];
    }
    let j: unknown;
    try {
      j = JSON.parse(data);
    } catch {
      return [data.includes('"delta"') ? { type: 'malformed', raw: cutText(data, 200), lost: true } : { type: 'malformed', raw: cutText(data, 200) }];
    }
    if (!isObj(j)) return [{ type: 'malformed', raw: cutText(data, 200) }];
    if (isObj(j.error)) return [{ type: 'error', error: readErrorInfo(500, data) }];
    if (!Array.isArray(j.choices)) return [{ type: 'malformed', raw: cutText(data, 200) }];
    const out: StreamPiece[] = [];
    const chunk = j as OpenAIChunk;
    const usage = chunk.usage !== undefined && chunk.usage !== null ? usageFromOpenAI(chunk.usage) : undefined;
    if (chunk.choices.length > 0) {
      let text = '';
      let content = false;
      let finishReason: string | null = null;
      let other = '';
      let rewritten = false;
      for (const c of chunk.choices) {
        // A choice without a delta (Azure's content-filter annotations, a finish written alone) is
        // one with an empty delta: what reads chunks on (the stream session, the SDKs) takes it so.
        if (!isObj(c.delta)) {
          c.delta = {};
          rewritten = true;
        }
        const d = c.delta;
        if (!this.role) {
          // An upstream that never says `role` (some OpenAI-compatible servers): its first delta gets the assistant's.
          this.role = true;
          if (typeof d.role !== 'string') {
            (c as { delta: object }).delta = { role: 'assistant', ...d };
            rewritten = true;
          }
        }
        if (typeof d.content === 'string' && d.content.length > 0) {
          text += d.content;
          content = true;
        }
        if (Array.isArray(d.tool_calls) && d.tool_calls.length > 0) {
          content = true;
          other += toolCallText(d.tool_calls);
          if ((this.tools ??= new ToolIndexes()).fix(d.tool_calls)) rewritten = true;
        }
        if (typeof d.refusal === 'string' && d.refusal.length > 0) {
          content = true;
          other += d.refusal;
        }
        // Reasoning text (DeepSeek's `reasoning_content`, OpenRouter's `reasoning`) is billed as output: estimates count it.
        if (typeof d.reasoning_content === 'string') other += d.reasoning_content;
        if (typeof d.reasoning === 'string') other += d.reasoning;
        // A stream that called a tool finishes with `tool_calls` (Gemini's says `stop`).
        if (c.finish_reason === 'stop' && this.tools?.any === true) {
          (c as { finish_reason: string | null }).finish_reason = 'tool_calls';
          rewritten = true;
        }
        if (c.finish_reason) finishReason = c.finish_reason;
      }
      if (usage) delete chunk.usage;
      else if (this.template === null && this.tries > 0 && content) {
        this.tries--;
        this.template = learnTemplate(data, chunk);
      }
      // Two literals, not `...(usage ? {} : { raw })` (~50 ns against ~15 ns per chunk on Node 20's V8).
      // A chunk this decoder changed is written again from `chunk`, not relayed raw.
      const piece: StreamPiece =
        usage || rewritten ? { type: 'chunk', chunk, text, content, finishReason } : { type: 'chunk', chunk, text, content, finishReason, raw: data };
      if (other !== '') (piece as { other?: string }).other = other;
      out.push(piece);
    }
    if (usage) out.push({ type: 'usage', usage });
    return out;
  }
}

/**
 * A chat completion's output besides its first choice's content, as text to estimate tokens of:
 * tool calls (names and arguments), refusals, reasoning text (`reasoning_content`, `reasoning`)
 * and the other choices' content. A model bills all of it as output.
 */
function otherOutput(choices: unknown[]): string {
  let out = '';
  for (let i = 0; i < choices.length; i++) {
    const c = choices[i];
    if (!isObj(c) || !isObj(c.message)) continue;
    const m = c.message;
    if (i > 0) out += textOf(m.content);
    if (typeof m.refusal === 'string') out += m.refusal;
    if (typeof m.reasoning_content === 'string') out += m.reasoning_content;
    if (typeof m.reasoning === 'string') out += m.reasoning;
    if (Array.isArray(m.tool_calls)) out += toolCallText(m.tool_calls);
  }
  return out;
}

/** The names and argument text (a custom tool's input) of streamed tool-call deltas: output the model produced, billed as such. */
function toolCallText(calls: unknown[]): string {
  let out = '';
  for (const c of calls) {
    if (typeof c !== 'object' || c === null) continue;
    const call = c as { function?: { name?: unknown; arguments?: unknown }; custom?: { name?: unknown; input?: unknown } };
    const f = call.function;
    if (typeof f?.name === 'string') out += f.name;
    if (typeof f?.arguments === 'string') out += f.arguments;
    // A custom tool's call: its name and free-form input.
    const x = call.custom;
    if (typeof x?.name === 'string') out += x.name;
    if (typeof x?.input === 'string') out += x.input;
  }
  return out;
}

/**
 * Sends the reserved output cap, so the upstream cannot produce more than the budget reserved
 * for: in `max_completion_tokens` only (OpenAI's and Azure OpenAI's APIs: their o-series and GPT-5
 * refuse `max_tokens`, whichever field the client or a translated API used), in `max_tokens` only,
 * or (`client`) in the field(s) the client used, `max_tokens` when it used none, the field every
 * OpenAI-compatible API accepts (DeepSeek documents only that one).
 */
function capOutput(body: ChatBody, cap: number, field: 'client' | 'max_tokens' | 'max_completion_tokens'): void {
  if (field === 'max_completion_tokens') {
    delete body.max_tokens;
    body.max_completion_tokens = cap;
    return;
  }
  if (field === 'max_tokens') {
    delete body.max_completion_tokens;
    body.max_tokens = cap;
    return;
  }
  const usedCompletion = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null;
  const usedMax = body.max_tokens !== undefined && body.max_tokens !== null;
  if (usedCompletion) body.max_completion_tokens = cap;
  if (usedMax || !usedCompletion) body.max_tokens = cap;
}

/** A content part that is text and nothing else (no `cache_control` or other marker a string would lose). */
const plainTextPart = (p: unknown): p is { type: 'text'; text: string } =>
  isObj(p) && p.type === 'text' && typeof p.text === 'string' && Object.keys(p).every((k) => k === 'type' || k === 'text');

/**
 * A message in the forms every OpenAI-compatible API takes, for one other than OpenAI's own:
 * `developer` as `system` (OpenAI's newer name for the same instructions; DeepSeek refuses it:
 * "unknown variant `developer`, expected one of `system`, `user`, `assistant`, `tool`", as do
 * servers whose chat templates predate it), the text parts of a system, developer, assistant or
 * tool message as one string (DeepSeek takes parts in a user message only: "invalid type:
 * sequence, expected a string"), joined as the model reads them, and a tool message's `name`, the
 * function its call named (`names`: call id → function), when it has none: Gemini's
 * OpenAI-compatible API refuses a tool result without it ("function_response.name: Name cannot be
 * empty"), while OpenAI reads it from `tool_call_id`. The message itself when nothing changes.
 */
function compatMessage(m: ChatBody['messages'][number], names: Map<string, string> | null): ChatBody['messages'][number] {
  const role = m.role === 'developer' ? 'system' : m.role;
  const flatten = m.role !== 'user' && Array.isArray(m.content) && m.content.length > 0 && m.content.every(plainTextPart);
  const name = m.role === 'tool' && typeof m.name !== 'string' && typeof m.tool_call_id === 'string' ? names?.get(m.tool_call_id) : undefined;
  if (role === m.role && !flatten && name === undefined) return m;
  const out = { ...m, role };
  if (flatten) out.content = (m.content as Array<{ text: string }>).map((p) => p.text).join('');
  if (name !== undefined) out.name = name;
  return out;
}

/**
 * The messages for an OpenAI-compatible API other than OpenAI's own; the list is copied only when
 * one changes (it is the request's own), and the call names are kept only once a call is seen (every
 * request to such an API passes here: most have no tool call).
 */
function compatMessages(messages: ChatBody['messages']): ChatBody['messages'] {
  let names: Map<string, string> | null = null;
  let out: ChatBody['messages'] | null = null;
  for (let i = 0; i < messages.length; i++) {
    const calls = messages[i]!.tool_calls;
    if (messages[i]!.role === 'assistant' && Array.isArray(calls))
      for (const c of calls)
        if (isObj(c) && typeof c.id === 'string' && isObj(c.function) && typeof c.function.name === 'string') (names ??= new Map()).set(c.id, c.function.name);
    const m = compatMessage(messages[i]!, names);
    if (m !== messages[i]) (out ??= messages.slice())[i] = m;
  }
  return out ?? messages;
}

/**
 * The messages of a continuation: the answer delivered so far (`prefill`) as the last assistant
 * message, which the model goes on from. When the client's request itself ends with the
 * assistant's turn (its own prefill, which that answer went on from), the delivered text is added
 * to that message: sent as a second assistant message after it, the client's words read as a
 * finished turn and the continuation went on from the delivered text alone.
 */
function withPrefill(messages: ChatBody['messages'], prefill: string): ChatBody['messages'] {
  const last = messages[messages.length - 1];
  if (last?.role === 'assistant' && (last.tool_calls === undefined || last.tool_calls === null)) {
    if (typeof last.content === 'string') return [...messages.slice(0, -1), { ...last, content: last.content + prefill }];
    if (Array.isArray(last.content)) return [...messages.slice(0, -1), { ...last, content: [...(last.content as unknown[]), { type: 'text', text: prefill }] }];
  }
  return [...messages, { role: 'assistant', content: prefill }];
}

export const openaiAdapter: ProviderAdapter = {
  kind: 'openai',

  buildRequest(input: BuildInput) {
    const native = buildOpenAINative(input, nativeOf(input.body));
    if (native) return native;
    const body: ChatBody = { ...input.body, model: input.upstreamModel };
    // A field sent as null is the client's "not set" (Python's None): OpenAI refuses some
    // (`tools: null`: "None is not of type 'array'"), so it is left out, as a translation leaves it.
    for (const k in body) if ((body as Record<string, unknown>)[k] === null) delete (body as Record<string, unknown>)[k];
    // No tools is no tools: OpenAI refuses an empty list ("empty array. Expected an array with minimum length 1"), a translation leaves it out.
    if (Array.isArray(body.tools) && body.tools.length === 0) delete body.tools;
    if (input.stream) {
      body.stream = true;
      // Object.assign, not a conditional spread followed by a key (~1 µs on Node 20's V8, ~0.1 µs this way); same keys, same order.
      body.stream_options = Object.assign({}, isObj(input.body.stream_options) ? input.body.stream_options : {}, { include_usage: true });
    } else {
      delete body.stream;
      delete body.stream_options;
    }
    capOutput(body, input.maxOutputTokens, input.capField ?? 'client');
    if (input.openaiHost === false) body.messages = compatMessages(body.messages);
    if (input.dropCacheHints === true) {
      delete body.prompt_cache_key;
      delete body.prompt_cache_retention;
      // OpenAI-side storage of the completion (and its tags): refused there as unknown fields too.
      delete body.store;
      delete body.metadata;
    }
    // A continuation goes on from the text delivered; with none (a stream a long reasoning phase
    // started), it is a fresh answer: no empty assistant turn, which some APIs refuse (Mistral's
    // "Assistant message must have either content or tool_calls") and the others read as a reply.
    if (input.prefill !== null && input.prefill !== '') body.messages = withPrefill(body.messages, input.prefill);
    const headers: Record<string, string> = Object.assign({}, input.headers, {
      'content-type': 'application/json',
      accept: input.stream ? 'text/event-stream' : 'application/json',
    });
    if (input.apiKey) headers.authorization = `Bearer ${input.apiKey}`;
    return { path: `${input.basePath}/chat/completions`, headers, body: JSON.stringify(body) };
  },

  parseCompletion(json: unknown): ParsedCompletion {
    const embeddings = parseEmbeddings(json);
    if (embeddings) return embeddings;
    // A 200 whose body is an error object: its own message (it said only "not a chat.completion object").
    if (isObj(json) && isObj(json.error) && !Array.isArray(json.choices))
      throw new Error(`upstream answered 200 with an error: ${typeof json.error.message === 'string' ? cutText(json.error.message, 500) : 'no message'}`);
    if (!isObj(json) || !Array.isArray(json.choices)) throw new Error('upstream answer is not a chat.completion object');
    // No choice at all is no answer (a client reading choices[0] fails): a bad response, failed over.
    if (json.choices.length === 0 || !isObj(json.choices[0])) throw new Error('upstream answer has no choices');
    const first = json.choices[0];
    // A message whose content is neither text, nor parts, nor null is no answer a client can read
    // (the SDKs type it a string): a bad response, failed over, not a 200 passed on as it came.
    const content = isObj(first.message) ? first.message.content : undefined;
    if (content !== undefined && content !== null && typeof content !== 'string' && !Array.isArray(content))
      throw new Error(`upstream answer's message content is ${typeof content === 'object' ? 'an object' : `a ${typeof content}`}, not text`);
    const text = isObj(first) && isObj(first.message) ? textOf(first.message.content) : '';
    // An answer that calls a tool finishes with `tool_calls`, as OpenAI's does and clients loop on
    // (Gemini's OpenAI-compatible API says `stop`): a copy, so the body is written again, not spliced.
    if (
      isObj(first) &&
      first.finish_reason === 'stop' &&
      isObj(first.message) &&
      Array.isArray(first.message.tool_calls) &&
      first.message.tool_calls.length > 0
    ) {
      const choices = [{ ...first, finish_reason: 'tool_calls' }, ...json.choices.slice(1)];
      const usage = usageFromOpenAI(json.usage) ?? null;
      return { completion: { ...json, choices }, usage, text, other: missesCount(usage) ? otherOutput(json.choices) : '' };
    }
    const usage = usageFromOpenAI(json.usage) ?? null;
    return { completion: json, usage, text, other: missesCount(usage) ? otherOutput(json.choices) : '' };
  },

  streamDecoder: () => new OpenAIStreamDecoder(),

  parseError: readErrorInfo,
};
