/**
 * Chat-completion chunks → the Responses API's semantic stream events, in the documented
 * order: `response.created`, `response.in_progress`, per output item `output_item.added`
 * → (`content_part.added` → `output_text.delta`… → `output_text.done` → `content_part.done`)
 * or `function_call_arguments.delta`… → `function_call_arguments.done`, `output_item.done`;
 * at the end `response.completed` (or `response.incomplete`) with usage, or on a failure
 * after the stream started `error` then `response.failed`.
 */
import type { ChatMessage } from '../upstream/types.js';
import { isObj } from './fields.js';
import {
  functionCallItem,
  messageItem,
  newId,
  outputText,
  responseObject,
  responsesUsage,
  statusOf,
  type ResponseShell,
  type ResponseUsage,
} from './responses-output.js';

type Emit = (name: string, data: Record<string, unknown>) => boolean;

interface Item {
  kind: 'message' | 'function_call';
  index: number;
  id: string;
  text: string;
  callId: string;
  name: string;
  done: boolean;
}

export class ResponsesStreamWriter {
  private seq = 0;
  private readonly items: Item[] = [];
  private readonly byToolIndex = new Map<number, Item>();
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
    if (typeof d.content === 'string' && d.content !== '') ok = this.text(d.content);
    if (Array.isArray(d.tool_calls)) for (const tc of d.tool_calls) if (isObj(tc)) ok = this.toolDelta(tc);
    if (typeof choice.finish_reason === 'string') this.finish = choice.finish_reason;
    return ok;
  }

  private add(kind: Item['kind'], callId = '', name = ''): Item {
    const item: Item = { kind, index: this.items.length, id: newId(kind === 'message' ? 'msg' : 'fc'), text: '', callId, name, done: false };
    this.items.push(item);
    return item;
  }

  private text(delta: string): boolean {
    if (!this.message || this.message.done) {
      this.closeAll();
      const m = this.add('message');
      this.message = m;
      this.emit('response.output_item.added', { output_index: m.index, item: messageItem(m.id, '', 'in_progress') });
      this.emit('response.content_part.added', { item_id: m.id, output_index: m.index, content_index: 0, part: outputText('') });
    }
    const m = this.message;
    m.text += delta;
    return this.emit('response.output_text.delta', { item_id: m.id, output_index: m.index, content_index: 0, delta, logprobs: [] });
  }

  private toolDelta(tc: Record<string, unknown>): boolean {
    const index = typeof tc.index === 'number' ? tc.index : 0;
    const fn = isObj(tc.function) ? tc.function : {};
    let item = this.byToolIndex.get(index);
    if (!item) {
      this.closeAll();
      item = this.add('function_call', typeof tc.id === 'string' ? tc.id : newId('call'), typeof fn.name === 'string' ? fn.name : '');
      this.byToolIndex.set(index, item);
      this.emit('response.output_item.added', { output_index: item.index, item: functionCallItem(item.id, item.callId, item.name, '', 'in_progress') });
    }
    const args = typeof fn.arguments === 'string' ? fn.arguments : '';
    if (args === '') return true;
    item.text += args;
    return this.emit('response.function_call_arguments.delta', { item_id: item.id, output_index: item.index, delta: args });
  }

  private close(item: Item): void {
    if (item.done) return;
    item.done = true;
    if (item.kind === 'message') {
      this.emit('response.output_text.done', { item_id: item.id, output_index: item.index, content_index: 0, text: item.text, logprobs: [] });
      this.emit('response.content_part.done', { item_id: item.id, output_index: item.index, content_index: 0, part: outputText(item.text) });
    } else {
      this.emit('response.function_call_arguments.done', { item_id: item.id, output_index: item.index, name: item.name, arguments: item.text });
    }
    this.emit('response.output_item.done', { output_index: item.index, item: this.itemObject(item) });
  }

  private closeAll(): void {
    for (const item of this.items) this.close(item);
  }

  private itemObject(item: Item): Record<string, unknown> {
    return item.kind === 'message'
      ? messageItem(item.id, item.text, 'completed')
      : functionCallItem(item.id, item.callId, item.name, item.text || '{}', 'completed');
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
    const text = this.items
      .filter((i) => i.kind === 'message')
      .map((i) => i.text)
      .join('');
    const calls = this.items
      .filter((i) => i.kind === 'function_call')
      .map((i) => ({ id: i.callId, type: 'function', function: { name: i.name, arguments: i.text || '{}' } }));
    const assistant: ChatMessage = { role: 'assistant', content: text === '' ? null : text };
    if (calls.length > 0) assistant.tool_calls = calls;
    return { response, assistant };
  }

  /** Close the open items; the caller then stores the answer and calls `completed`. */
  finishItems(): void {
    this.closeAll();
  }

  completed(response: Record<string, unknown>): void {
    this.emit(response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response });
  }

  failed(code: string, message: string): void {
    this.emit('error', { code, message, param: null });
    const response = responseObject(this.shell, {
      status: 'failed',
      output: this.items.map((i) => this.itemObject(i)),
      usage: this.usage,
      error: { code: 'server_error', message },
    });
    this.emit('response.failed', { response });
  }
}
