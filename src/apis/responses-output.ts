/**
 * Chat completions → Responses API output: the `Response` object, its output items
 * (`reasoning`, `message` with `output_text` / `refusal`, `function_call`), usage and status.
 */
import { randomFillSync } from 'node:crypto';
import type { ChatMessage } from '../upstream/types.js';
import { usageFromOpenAI, type Usage } from '../accounting/cost.js';
import { isObj } from './fields.js';

/** Random bytes for ids, drawn 256 ids at a time (one call a request made 100,000 input items' ids take 0.5 s). */
const ID_POOL = Buffer.alloc(16 * 256);
let idAt = ID_POOL.length;

/** `<prefix>_` and 128 random bits in hex. */
export function newId(prefix: string): string {
  if (idAt === ID_POOL.length) {
    randomFillSync(ID_POOL);
    idAt = 0;
  }
  const id = `${prefix}_${ID_POOL.toString('hex', idAt, idAt + 16)}`;
  idAt += 16;
  return id;
}

/**
 * An output item's id, told by its response's: `<prefix>_`, the response id's random hex, and the
 * item's place in hex, so an `item_reference` to it (the AI SDK sends one for each earlier output
 * item when `store` is on) finds the stored response it came from (responseOfItem). Random when
 * the response id is not one switchyard made.
 */
export function itemId(prefix: string, responseId: string | undefined, index: number): string {
  const m = responseId === undefined ? null : /^resp_([0-9a-f]{32})$/.exec(responseId);
  return m ? `${prefix}_${m[1]}${index.toString(16).padStart(4, '0')}` : newId(prefix);
}

/** The response id an output item's id tells (itemId), or null. */
export function responseOfItem(id: string): string | null {
  const m = /^(?:msg|fc|rs)_([0-9a-f]{32})[0-9a-f]{4}$/.exec(id);
  return m ? `resp_${m[1]}` : null;
}

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/**
 * A chat `usage` object → the Responses usage shape, read as billing reads it (usageFromOpenAI):
 * DeepSeek's `prompt_cache_hit_tokens` are the cached tokens, as on the bill and in the stream's usage
 * (a JSON answer showed 0 of 12 billed cached). Counts billing cannot read are taken field by field.
 */
export function responsesUsage(u: unknown): ResponseUsage | null {
  if (!isObj(u)) return null;
  const billed = usageFromOpenAI(u);
  if (billed !== undefined) return billedUsage(billed);
  const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const input = num(u.prompt_tokens);
  const output = num(u.completion_tokens);
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: num(isObj(u.prompt_tokens_details) ? u.prompt_tokens_details.cached_tokens : 0) },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: num(isObj(u.completion_tokens_details) ? u.completion_tokens_details.reasoning_tokens : 0) },
    total_tokens: input + output,
  };
}

/** A Response's usage of the counts the ledger billed (a failed stream's, which no upstream usage reported). */
export function billedUsage(u: Usage): ResponseUsage {
  return {
    input_tokens: u.promptTokens,
    input_tokens_details: { cached_tokens: u.cachedTokens ?? 0 },
    output_tokens: u.completionTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
    total_tokens: u.promptTokens + u.completionTokens,
  };
}

/** An assistant message item; a completed one holds its text, and the model's refusal (chat's `refusal`) as a `refusal` part. */
export type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

export function messageItem(id: string, text: string, status: ItemStatus, refusal = ''): Record<string, unknown> {
  const content: unknown[] = [];
  if (status !== 'in_progress') {
    if (text !== '' || refusal === '') content.push(outputText(text));
    if (refusal !== '') content.push(refusalPart(refusal));
  }
  return { type: 'message', id, status, role: 'assistant', content };
}

export const outputText = (text: string): Record<string, unknown> => ({ type: 'output_text', text, annotations: [], logprobs: [] });

export const refusalPart = (refusal: string): Record<string, unknown> => ({ type: 'refusal', refusal });

export const reasoningText = (text: string): Record<string, unknown> => ({ type: 'reasoning_text', text });

/** A reasoning item (the model's raw reasoning text, as OpenAI's API gives an open-weight model's); `text` null: none yet. */
export function reasoningItem(id: string, text: string | null, status: ItemStatus): Record<string, unknown> {
  return { type: 'reasoning', id, summary: [], content: text === null ? [] : [reasoningText(text)], status };
}

export function functionCallItem(id: string, callId: string, name: string, args: string, status: ItemStatus): Record<string, unknown> {
  return { type: 'function_call', id, call_id: callId, name, arguments: args, status };
}

/** `finish_reason` → the Response's status and `incomplete_details`. */
export function statusOf(finish: string | null): { status: 'completed' | 'incomplete'; incomplete_details: { reason: string } | null } {
  if (finish === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (finish === 'content_filter') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

export interface ResponseShell {
  id: string;
  createdAt: number;
  model: string;
  echo: Record<string, unknown>;
}

export function responseObject(
  shell: ResponseShell,
  fields: { status: string; output: unknown[]; usage: ResponseUsage | null; error?: unknown; incomplete_details?: unknown },
): Record<string, unknown> {
  return {
    id: shell.id,
    object: 'response',
    created_at: shell.createdAt,
    status: fields.status,
    error: fields.error ?? null,
    incomplete_details: fields.incomplete_details ?? null,
    model: shell.model,
    output: fields.output,
    usage: fields.usage,
    ...shell.echo,
  };
}

/** The output items of a non-streamed chat completion, and the assistant turn to store. */
export function outputOfCompletion(
  completion: Record<string, unknown>,
  responseId?: string,
): { output: unknown[]; finish: string | null; assistant: ChatMessage } {
  const choice = Array.isArray(completion.choices) && isObj(completion.choices[0]) ? completion.choices[0] : {};
  const msg = isObj(choice.message) ? choice.message : {};
  const output: unknown[] = [];
  const text = typeof msg.content === 'string' ? msg.content : '';
  const refusal = typeof msg.refusal === 'string' ? msg.refusal : '';
  // A reasoning model's reasoning (DeepSeek's `reasoning_content`, OpenRouter's `reasoning`) comes first, as a stream gives it; not stored in the turn.
  const reasoning = typeof msg.reasoning_content === 'string' ? msg.reasoning_content : typeof msg.reasoning === 'string' ? msg.reasoning : '';
  if (reasoning !== '') output.push(reasoningItem(itemId('rs', responseId, output.length), reasoning, 'completed'));
  if (text !== '' || refusal !== '') output.push(messageItem(itemId('msg', responseId, output.length), text, 'completed', refusal));
  // A call's empty arguments (some OpenAI-compatible upstreams write a function taking none as "") are `{}`,
  // as OpenAI gives them and a stream's call is closed: JSON.parse, and the SDK's parse, refuse "".
  const argsOf = (fn: Record<string, unknown>): string => (typeof fn.arguments === 'string' && fn.arguments !== '' ? fn.arguments : '{}');
  const calls = (Array.isArray(msg.tool_calls) ? msg.tool_calls.filter(isObj) : []).map((c) =>
    isObj(c.function) && c.function.arguments === '' ? { ...c, function: { ...c.function, arguments: '{}' } } : c,
  );
  for (const c of calls) {
    const fn = isObj(c.function) ? c.function : {};
    output.push(functionCallItem(itemId('fc', responseId, output.length), String(c.id ?? newId('call')), String(fn.name ?? ''), argsOf(fn), 'completed'));
  }
  const finish = typeof choice.finish_reason === 'string' ? choice.finish_reason : null;
  // The item being written when the answer was cut (max_output_tokens) is incomplete, as OpenAI marks it.
  const last = output.at(-1);
  if (statusOf(finish).status === 'incomplete' && isObj(last)) last.status = 'incomplete';
  // A refusal is kept as what the assistant said (every provider takes text back in a later turn).
  const said = text !== '' ? text : refusal;
  const assistant: ChatMessage = { role: 'assistant', content: said === '' ? null : said };
  if (calls.length > 0) assistant.tool_calls = calls;
  return { output, finish, assistant };
}
