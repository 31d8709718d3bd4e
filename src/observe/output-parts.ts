/**
 * What an upstream attempt answered, as the GenAI semantic conventions' output parts
 * (`gen_ai.output.messages`): `reasoning`, `text` and `tool_call` parts, gathered from a whole
 * chat completion, from chat chunks, or from the Anthropic events a Messages stream relays as
 * they came. Made only when `observe.otlp.captureContent` is on (nothing on the hot path
 * otherwise); what it holds is bounded by the attempt's own output bound.
 */
import { StreamToolCalls } from '../apis/messages-output.js';

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A tool call's arguments as a captured-content part holds them (input and output messages
 * alike): the JSON they hold, `{}` for none (a call without arguments), else the text as sent.
 */
export function toolArguments(text: unknown): unknown {
  if (typeof text !== 'string') return text ?? null;
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** One relayed Anthropic content block being streamed. */
interface NativeBlock {
  kind: 'text' | 'reasoning' | 'tool_call';
  content: string;
  id?: string | null;
  name?: string;
}

export class OutputParts {
  private reasoning = '';
  private text = '';
  private readonly calls = new StreamToolCalls();
  /** Parts of a whole answer or of relayed events, in their order (a chat answer's are built at the end). */
  private readonly ordered: Json[] = [];
  private readonly blocks = new Map<number, NativeBlock>();
  private readonly nativeParts: NativeBlock[] = [];

  /** A whole chat completion's first choice. */
  completion(c: unknown): void {
    const choices = isObj(c) && Array.isArray(c.choices) ? c.choices : [];
    const m = isObj(choices[0]) && isObj(choices[0].message) ? choices[0].message : null;
    if (m === null) return;
    for (const r of [m.reasoning_content, m.reasoning]) if (typeof r === 'string' && r !== '') this.reasoning += r;
    if (typeof m.content === 'string') this.text += m.content;
    if (typeof m.refusal === 'string') this.text += m.refusal;
    if (Array.isArray(m.tool_calls))
      for (const tc of m.tool_calls)
        if (isObj(tc)) {
          const id = typeof tc.id === 'string' ? tc.id : null;
          if (isObj(tc.function))
            this.ordered.push({
              type: 'tool_call',
              id,
              name: String(tc.function.name ?? ''),
              arguments: toolArguments(typeof tc.function.arguments === 'string' ? tc.function.arguments : ''),
            });
          else if (isObj(tc.custom)) this.ordered.push({ type: 'tool_call', id, name: String(tc.custom.name ?? ''), arguments: tc.custom.input ?? null });
        }
  }

  /** A chunk's content text, read without parsing the chunk (a stream's template chunk holds nothing else). */
  addText(t: string): void {
    this.text += t;
  }

  /** One chat chunk's first choice's delta. */
  chunk(c: unknown): void {
    const choices = isObj(c) && Array.isArray(c.choices) ? c.choices : [];
    const d = isObj(choices[0]) && isObj(choices[0].delta) ? choices[0].delta : null;
    if (d === null) return;
    for (const r of [d.reasoning_content, d.reasoning]) if (typeof r === 'string') this.reasoning += r;
    if (typeof d.content === 'string') this.text += d.content;
    if (typeof d.refusal === 'string') this.text += d.refusal;
    if (Array.isArray(d.tool_calls)) this.calls.chunk(c);
  }

  /** One relayed Anthropic stream event (its SSE name and data). */
  native(name: string, data: string): void {
    if (name !== 'content_block_start' && name !== 'content_block_delta') return;
    let j: unknown;
    try {
      j = JSON.parse(data);
    } catch {
      return;
    }
    if (!isObj(j) || typeof j.index !== 'number') return;
    if (name === 'content_block_start') {
      const b = isObj(j.content_block) ? j.content_block : {};
      let block: NativeBlock | null = null;
      if (b.type === 'text') block = { kind: 'text', content: typeof b.text === 'string' ? b.text : '' };
      else if (b.type === 'thinking') block = { kind: 'reasoning', content: typeof b.thinking === 'string' ? b.thinking : '' };
      else if (b.type === 'tool_use')
        block = { kind: 'tool_call', content: '', id: typeof b.id === 'string' ? b.id : null, name: typeof b.name === 'string' ? b.name : '' };
      if (block !== null) {
        this.blocks.set(j.index, block);
        this.nativeParts.push(block);
      }
      return;
    }
    const block = this.blocks.get(j.index);
    const d = isObj(j.delta) ? j.delta : {};
    if (block === undefined) return;
    if (d.type === 'text_delta' && typeof d.text === 'string') block.content += d.text;
    else if (d.type === 'thinking_delta' && typeof d.thinking === 'string') block.content += d.thinking;
    else if (d.type === 'input_json_delta' && typeof d.partial_json === 'string') block.content += d.partial_json;
  }

  /** The parts gathered: reasoning, then text, then tool calls (a chat answer's order); relayed blocks in their own order. */
  parts(): Json[] {
    const out: Json[] = [];
    if (this.reasoning !== '') out.push({ type: 'reasoning', content: this.reasoning });
    if (this.text !== '') out.push({ type: 'text', content: this.text });
    out.push(...this.ordered);
    for (const c of this.calls.calls) out.push({ type: 'tool_call', id: c.id === '' ? null : c.id, name: c.name, arguments: toolArguments(c.args) });
    for (const b of this.nativeParts)
      if (b.kind === 'tool_call') out.push({ type: 'tool_call', id: b.id ?? null, name: b.name ?? '', arguments: toolArguments(b.content) });
      else if (b.content !== '') out.push({ type: b.kind, content: b.content });
    return out;
  }
}
