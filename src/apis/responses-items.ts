/**
 * The input items of a stored response, as `GET /v1/responses/{id}/input_items` (the SDK's
 * `responses.inputItems.list`) lists them: each item of the request's own `input` (a string input
 * is one user message), with an id kept from creation so `after` pages stay stable, in OpenAI's
 * `{object: "list", data, first_id, last_id, has_more}`.
 */
import { SwitchyardError } from '../errors.js';
import type { ChatMessage } from '../upstream/types.js';
import { isObj } from './fields.js';
import { functionCallItem, newId, outputText } from './responses-output.js';

type Item = Record<string, unknown>;

/** The `include` values of the API reference (ResponseIncludable); only the image urls concern input items. */
export const INCLUDABLE: ReadonlySet<string> = new Set([
  'file_search_call.results',
  'web_search_call.results',
  'web_search_call.action.sources',
  'message.input_image.image_url',
  'computer_call_output.output.image_url',
  'code_interpreter_call.outputs',
  'reasoning.encrypted_content',
  'message.output_text.logprobs',
]);

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function part(p: Record<string, unknown>): Item {
  if (p.type === 'input_image')
    return { type: 'input_image', detail: typeof p.detail === 'string' ? p.detail : 'auto', file_id: null, image_url: str(p.image_url) };
  if (p.type === 'input_file') return fileItem(p);
  if (p.type === 'output_text') return outputText(str(p.text));
  if (p.type === 'refusal') return { type: 'refusal', refusal: str(p.refusal) };
  return { type: 'input_text', text: str(p.text) };
}

/** An input file as the API lists one: its `file_id` (null when given by its bytes) and whichever of filename and data it came with. */
function fileItem(p: Record<string, unknown>): Item {
  const item: Item = { type: 'input_file', file_id: typeof p.file_id === 'string' ? p.file_id : null };
  for (const k of ['filename', 'file_data'] as const) if (typeof p[k] === 'string') item[k] = p[k];
  return item;
}

function content(c: unknown, role: unknown): Item[] {
  if (typeof c === 'string') return [role === 'assistant' ? outputText(c) : { type: 'input_text', text: c }];
  return (Array.isArray(c) ? c : []).filter(isObj).map(part);
}

const message = (id: string, role: string, parts: Item[]): Item => ({ id, type: 'message', role, status: 'completed', content: parts });

/**
 * The request's `input` as listed items; `input` has already passed translateResponses. An id the
 * client gave an item (an output item passed back) is kept unless it repeats; others are new.
 */
export function inputItemsOf(input: unknown): Item[] {
  if (typeof input === 'string') return [message(newId('msg'), 'user', content(input, 'user'))];
  const seen = new Set<string>();
  return (Array.isArray(input) ? input : []).filter(isObj).map((raw) => {
    const type = raw.type ?? 'message';
    const prefix = type === 'function_call' ? 'fc' : type === 'function_call_output' ? 'fco' : type === 'reasoning' ? 'rs' : 'msg';
    const given = typeof raw.id === 'string' && raw.id !== '' && !seen.has(raw.id) ? raw.id : null;
    const id = given ?? newId(prefix);
    seen.add(id);
    if (type === 'function_call')
      return functionCallItem(id, str(raw.call_id), str(raw.name), raw.arguments === undefined ? '{}' : str(raw.arguments), 'completed');
    if (type === 'function_call_output') return { id, type: 'function_call_output', call_id: str(raw.call_id), output: raw.output, status: 'completed' };
    // A reasoning item passed back (not sent on to the model): listed as given.
    if (type === 'reasoning')
      return { id, type: 'reasoning', summary: Array.isArray(raw.summary) ? raw.summary : [], ...(Array.isArray(raw.content) ? { content: raw.content } : {}) };
    return message(id, str(raw.role), content(raw.content, raw.role));
  });
}

/**
 * For a response stored before input items were kept: its conversation without the answer, as
 * items, ids derived from the response id and position (stable across calls). Which messages were
 * its own input was not kept, so a continued response lists the earlier turns too.
 */
export function itemsOfConversation(responseId: string, messages: ChatMessage[]): Item[] {
  const base = responseId.replace(/^resp_/, '');
  const out: Item[] = [];
  const id = (prefix: string): string => `${prefix}_${base}_${out.length}`;
  for (const m of messages.slice(0, -1)) {
    if (m.role === 'tool') {
      out.push({
        id: id('fco'),
        type: 'function_call_output',
        call_id: str(m.tool_call_id),
        output: typeof m.content === 'string' ? m.content : '',
        status: 'completed',
      });
      continue;
    }
    if (m.role === 'assistant') {
      if (typeof m.content === 'string' && m.content !== '') out.push(message(id('msg'), 'assistant', [outputText(m.content)]));
      for (const c of Array.isArray(m.tool_calls) ? m.tool_calls.filter(isObj) : []) {
        const fn = isObj(c.function) ? c.function : {};
        out.push(functionCallItem(id('fc'), str(c.id), str(fn.name), typeof fn.arguments === 'string' ? fn.arguments : '{}', 'completed'));
      }
      continue;
    }
    const parts =
      typeof m.content === 'string'
        ? [{ type: 'input_text', text: m.content }]
        : (Array.isArray(m.content) ? m.content : []).filter(isObj).map((p) => {
            const img = isObj(p.image_url) ? p.image_url : null;
            if (p.type === 'file' && isObj(p.file)) return fileItem(p.file);
            return img ? part({ type: 'input_image', image_url: img.url, detail: img.detail }) : { type: 'input_text', text: str(p.text) };
          });
    out.push(message(id('msg'), m.role, parts));
  }
  return out;
}

export interface ItemQuery {
  limit: number;
  order: 'asc' | 'desc';
  after: string | null;
  /** `include=message.input_image.image_url`: input images keep their url (else it is null). */
  imageUrls: boolean;
}

const bad = (param: string, why: string): SwitchyardError => new SwitchyardError('invalid_request', `Invalid '${param}': ${why}`, { param });

/** The list's query: `limit` 1–100 [20], `order` asc|desc [desc], `after` an item id, `include` (also `include[]`, as the SDK sends it). */
export function parseItemQuery(q: URLSearchParams): ItemQuery {
  const rawLimit = q.get('limit');
  let limit = 20;
  if (rawLimit !== null) {
    limit = /^\d{1,4}$/.test(rawLimit) ? Number(rawLimit) : NaN;
    if (!(limit >= 1 && limit <= 100)) throw bad('limit', `expected an integer from 1 to 100, got ${JSON.stringify(rawLimit.slice(0, 40))}`);
  }
  const order = q.get('order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw bad('order', `expected "asc" or "desc", got ${JSON.stringify(order.slice(0, 40))}`);
  const after = q.get('after');
  if (after === '') throw bad('after', 'expected an item id');
  const include = includeOf(q);
  return { limit, order, after, imageUrls: include.includes('message.input_image.image_url') };
}

/** A query's `include` values (also `include[]`, as the SDK sends them): an unknown one is a 400 naming `include`. */
export function includeOf(q: URLSearchParams): string[] {
  const include = [...q.getAll('include'), ...q.getAll('include[]')];
  for (const v of include)
    if (!INCLUDABLE.has(v)) throw bad('include', `unknown value ${JSON.stringify(v.slice(0, 80))}; expected one of ${[...INCLUDABLE].join(', ')}`);
  return include;
}

function withoutImageUrls(item: Item): Item {
  if (item.type !== 'message' || !Array.isArray(item.content)) return item;
  return { ...item, content: item.content.map((p: unknown) => (isObj(p) && p.type === 'input_image' ? { ...p, image_url: null } : p)) };
}

/** One page of the items (in input order as stored); 400 naming `after` when it is not one of them. */
export function itemPage(items: Item[], q: ItemQuery): { object: 'list'; data: Item[]; first_id: string | null; last_id: string | null; has_more: boolean } {
  const ordered = q.order === 'asc' ? items : [...items].reverse();
  let start = 0;
  if (q.after !== null) {
    const at = ordered.findIndex((i) => i.id === q.after);
    if (at < 0) throw bad('after', `no input item "${q.after.slice(0, 80)}" in this response`);
    start = at + 1;
  }
  const data = ordered.slice(start, start + q.limit).map((i) => (q.imageUrls ? i : withoutImageUrls(i)));
  return {
    object: 'list',
    data,
    first_id: typeof data[0]?.id === 'string' ? data[0].id : null,
    last_id: typeof data.at(-1)?.id === 'string' ? (data.at(-1)!.id as string) : null,
    has_more: start + q.limit < ordered.length,
  };
}
