/**
 * Chat-completion chunks → the Responses API's semantic stream events, in the documented
 * order: `response.created`, `response.in_progress`, per output item `output_item.added`
 * → (`content_part.added` → `output_text.delta`… → `output_text.done` → `content_part.done`,
 * or for chat's `refusal` the same with `refusal.delta`… → `refusal.done`;
 * for a model's reasoning a `reasoning` item with `reasoning_text.delta`… → `reasoning_text.done`)
 * or `function_call_arguments.delta`… → `function_call_arguments.done`, `output_item.done`;
 * at the end `response.completed` (or `response.incomplete`) with usage, or on a failure
 * after the stream started `error` then `response.failed`.
 */
import type { ChatMessage } from '../upstream/types.js';
import { isObj } from './fields.js';
import {
  functionCallItem,
  itemId,
  messageItem,
  newId,
  outputText,
  reasoningItem,
  reasoningText,
  refusalPart,
  responseObject,
  responsesUsage,
  statusOf,
  type ResponseShell,
  type ResponseUsage,
} from './responses-output.js';

type Emit = (name: string, data: Record<string, unknown>) => boolean;

interface Item {
  /** `reasoning`: a reasoning model's reasoning text (DeepSeek's `reasoning_content`, OpenRouter's `reasoning`), in `text`. */
  kind: 'message' | 'function_call' | 'reasoning';
  index: number;
  id: string;
  text: string;
  /** A message's refusal text (chat's `refusal`). */
  refusal: string;
  /** A message's content parts in the order they were opened; the last one is open until `partOpen` is false. */
  parts: Array<'text' | 'refusal'>;
  partOpen: boolean;
  /** The item being written when the answer was cut or failed. */
  incomplete: boolean;
  callId: string;
  name: string;
  done: boolean;
  /** A call's arguments' length when they were last found not to be whole JSON (-1: never looked). */
  notWholeAt: number;
}

/** A call's arguments are whole JSON: parsed again only when they grew since they were last found not to be. */
function argsWhole(item: Item): boolean {
  if (item.text.length === item.notWholeAt) return false;
  if (wholeJson(item.text)) return true;
  item.notWholeAt = item.text.length;
  return false;
}

function wholeJson(text: string): boolean {
  if (text === '') return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export class ResponsesStreamWriter {
  private seq = 0;
  private readonly items: Item[] = [];
  /**
   * The items not yet done, in order: a new item closes those, and walking every item each time
   * was quadratic (2,000 tool calls whose arguments never closed: 27 s of CPU, 14 s of held event
   * loop, from a 280 KB upstream stream).
   */
  private readonly open = new Set<Item>();
  private readonly byToolIndex = new Map<number, Item>();
  private lastTool: Item | null = null;
  private message: Item | null = null;
  private finish: string | null = null;
  private usage: ResponseUsage | null = null;

  constructor(
    private readonly shell: ResponseShell,
    private readonly emitRaw: Emit,
  ) {}

  private emit(type: string, data: Record<string, unknown>): boolean {
    return this.emitRaw(type, { type, sequence_number: this.seq++, ...data });
  }

  start(): void {
    const response = responseObject(this.shell, { status: 'in_progress', output: [], usage: null });
    this.emit('response.created', { response });
    this.emit('response.in_progress', { response });
  }

  /** One chat chunk (JSON already parsed); returns the last write's backpressure signal. */
  chunk(c: Record<string, unknown>): boolean {
    let ok = true;
    if (isObj(c.usage)) this.usage = responsesUsage(c.usage);
    const choice = Array.isArray(c.choices) && isObj(c.choices[0]) ? c.choices[0] : null;
    if (!choice) return ok;
    const d = isObj(choice.delta) ? choice.delta : {};
    const reasoning = typeof d.reasoning_content === 'string' ? d.reasoning_content : typeof d.reasoning === 'string' ? d.reasoning : '';
    if (reasoning !== '') ok = this.reasoningDelta(reasoning);
    if (typeof d.content === 'string' && d.content !== '') ok = this.part('text', d.content);
    if (typeof d.refusal === 'string' && d.refusal !== '') ok = this.part('refusal', d.refusal);
    if (Array.isArray(d.tool_calls)) for (const tc of d.tool_calls) if (isObj(tc)) ok = this.toolDelta(tc);
    if (typeof choice.finish_reason === 'string') this.finish = choice.finish_reason;
    return ok;
  }

  private add(kind: Item['kind'], callId = '', name = ''): Item {
    const id = itemId(kind === 'message' ? 'msg' : kind === 'reasoning' ? 'rs' : 'fc', this.shell.id, this.items.length);
    const item: Item = {
      kind,
      index: this.items.length,
      id,
      text: '',
      refusal: '',
      parts: [],
      partOpen: false,
      incomplete: false,
      callId,
      name,
      done: false,
      notWholeAt: -1,
    };
    this.items.push(item);
    this.open.add(item);
    return item;
  }

  /** A piece of the message's text or refusal; a part kind the message already closed starts a new message. */
  private part(kind: 'text' | 'refusal', delta: string): boolean {
    const reopen = this.message !== null && this.message.parts.includes(kind) && this.message.parts.at(-1) !== kind;
    if (!this.message || this.message.done || reopen) {
      this.closeAll();
      const m = this.add('message');
      this.message = m;
      this.emit('response.output_item.added', { output_index: m.index, item: messageItem(m.id, '', 'in_progress') });
    }
    const m = this.message!;
    if (m.parts.at(-1) !== kind) {
      this.closePart(m);
      m.parts.push(kind);
      m.partOpen = true;
      const part = kind === 'text' ? outputText('') : refusalPart('');
      this.emit('response.content_part.added', { item_id: m.id, output_index: m.index, content_index: m.parts.length - 1, part });
    }
    const at = { item_id: m.id, output_index: m.index, content_index: m.parts.length - 1 };
    if (kind === 'refusal') {
      m.refusal += delta;
      return this.emit('response.refusal.delta', { ...at, delta });
    }
    m.text += delta;
    return this.emit('response.output_text.delta', { ...at, delta, logprobs: [] });
  }

  /**
   * A piece of the model's reasoning: a `reasoning` item with one `reasoning_text` part, as OpenAI's
   * API streams raw reasoning (`response.reasoning_text.delta`); the answer's first content or tool
   * call closes it.
   */
  private reasoningDelta(delta: string): boolean {
    let r = this.items.at(-1);
    if (!r || r.kind !== 'reasoning' || r.done) {
      this.closeAll();
      r = this.add('reasoning');
      this.emit('response.output_item.added', { output_index: r.index, item: reasoningItem(r.id, null, 'in_progress') });
      this.emit('response.content_part.added', { item_id: r.id, output_index: r.index, content_index: 0, part: reasoningText('') });
    }
    r.text += delta;
    return this.emit('response.reasoning_text.delta', { item_id: r.id, output_index: r.index, content_index: 0, delta });
  }

  private closePart(m: Item): void {
    const kind = m.parts.at(-1);
    if (kind === undefined || !m.partOpen) return;
    m.partOpen = false;
    const at = { item_id: m.id, output_index: m.index, content_index: m.parts.length - 1 };
    if (kind === 'text') {
      this.emit('response.output_text.done', { ...at, text: m.text, logprobs: [] });
      this.emit('response.content_part.done', { ...at, part: outputText(m.text) });
    } else {
      this.emit('response.refusal.done', { ...at, refusal: m.refusal });
      this.emit('response.content_part.done', { ...at, part: refusalPart(m.refusal) });
    }
  }

  private toolDelta(tc: Record<string, unknown>): boolean {
    const id = typeof tc.id === 'string' && tc.id !== '' ? tc.id : null;
    const index = typeof tc.index === 'number' ? tc.index : null;
    const fn = isObj(tc.function) ? tc.function : {};
    // Keyed by index; without one (Gemini's OpenAI-compatible API) a piece belongs to the call
    // before it, and a piece naming another id than its call's is a new call (Gemini also numbers
    // every call 0).
    let item = index !== null ? this.byToolIndex.get(index) : (this.lastTool ?? undefined);
    if (item && id !== null && item.callId !== id) item = undefined;
    if (!item) {
      // The message before the calls closes. An earlier call closes only once its arguments are
      // whole JSON: OpenAI streams one call after another (each closed before the next is
      // added), but some upstreams send every call's header first and the arguments after; a
      // call closed then got its arguments after its `done` (with `{}` in it).
      if (this.message && !this.message.done) this.close(this.message);
      for (const open of [...this.open]) if (open.kind === 'reasoning') this.close(open);
      for (const open of [...this.open]) if (open.kind === 'function_call' && argsWhole(open)) this.close(open);
      item = this.add('function_call', id ?? newId('call'), typeof fn.name === 'string' ? fn.name : '');
      if (index !== null) this.byToolIndex.set(index, item);
      this.emit('response.output_item.added', { output_index: item.index, item: functionCallItem(item.id, item.callId, item.name, '', 'in_progress') });
    }
    this.lastTool = item;
    const args = typeof fn.arguments === 'string' ? fn.arguments : '';
    if (args === '') return true;
    item.text += args;
    return this.emit('response.function_call_arguments.delta', { item_id: item.id, output_index: item.index, delta: args });
  }

  private close(item: Item): void {
    if (item.done) return;
    item.done = true;
    this.open.delete(item);
    if (item.kind === 'message') {
      this.closePart(item);
    } else if (item.kind === 'reasoning') {
      const at = { item_id: item.id, output_index: item.index, content_index: 0 };
      this.emit('response.reasoning_text.done', { ...at, text: item.text });
      this.emit('response.content_part.done', { ...at, part: reasoningText(item.text) });
    } else {
      // The call's arguments as its item gives them ({} for none: see itemObject), and its deltas add up to them:
      // an upstream that streamed none (`arguments: ""`) gets its `{}` as a delta first (the done said "{}", the deltas "").
      if (item.text === '') {
        item.text = '{}';
        this.emit('response.function_call_arguments.delta', { item_id: item.id, output_index: item.index, delta: '{}' });
      }
      this.emit('response.function_call_arguments.done', { item_id: item.id, output_index: item.index, name: item.name, arguments: item.text });
    }
    this.emit('response.output_item.done', { output_index: item.index, item: this.itemObject(item) });
  }

  private closeAll(): void {
    for (const item of [...this.open]) this.close(item);
  }

  private itemObject(item: Item): Record<string, unknown> {
    const status = item.incomplete ? 'incomplete' : 'completed';
    if (item.kind === 'message') {
      const content = item.parts.map((k) => (k === 'text' ? outputText(item.text) : refusalPart(item.refusal)));
      return { ...messageItem(item.id, '', status), content };
    }
    if (item.kind === 'reasoning') return reasoningItem(item.id, item.text, status);
    return functionCallItem(item.id, item.callId, item.name, item.text || '{}', status);
  }

  /** The whole answer, for the store and the final event. */
  result(): { response: Record<string, unknown>; assistant: ChatMessage } {
    const s = statusOf(this.finish);
    const response = responseObject(this.shell, {
      status: s.status,
      incomplete_details: s.incomplete_details,
      output: this.items.map((i) => this.itemObject(i)),
      usage: this.usage,
    });
    const messages = this.items.filter((i) => i.kind === 'message');
    // A refusal is kept as what the assistant said when it said nothing else (as outputOfCompletion).
    const text = messages.map((i) => i.text).join('') || messages.map((i) => i.refusal).join('');
    const calls = this.items
      .filter((i) => i.kind === 'function_call')
      .map((i) => ({ id: i.callId, type: 'function', function: { name: i.name, arguments: i.text || '{}' } }));
    const assistant: ChatMessage = { role: 'assistant', content: text === '' ? null : text };
    if (calls.length > 0) assistant.tool_calls = calls;
    return { response, assistant };
  }

  /** Close the open items; the caller then stores the answer and calls `completed`. */
  finishItems(): void {
    // The open item is the last one; a cut answer (max_output_tokens) leaves it incomplete.
    const last = this.items.at(-1);
    if (last && !last.done && statusOf(this.finish).status === 'incomplete') last.incomplete = true;
    this.closeAll();
  }

  completed(response: Record<string, unknown>): void {
    this.emit(response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response });
  }

  /** `billed`: what the ledger counts of the failed answer (else the upstream's usage, if it sent one). */
  failed(code: string, message: string, billed: ResponseUsage | null = null): void {
    for (const item of this.items) if (!item.done) item.incomplete = true;
    this.emit('error', { code, message, param: null });
    const response = responseObject(this.shell, {
      status: 'failed',
      output: this.items.map((i) => this.itemObject(i)),
      usage: billed ?? this.usage,
      error: { code: 'server_error', message },
    });
    // A failed answer is not stored (retrieving its id is a 404), so it does not say it was.
    response.store = false;
    this.emit('response.failed', { response });
  }
}
