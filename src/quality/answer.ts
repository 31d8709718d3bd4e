/**
 * The answer a check looks at, read from either shape an upstream answer reaches switchyard
 * in: a `chat.completion` object, or the `data:` payloads of a buffered stream. Pure.
 */

export interface ToolCallSeen {
  name: string;
  /** A function call's JSON arguments, or a custom tool call's free-form input. */
  arguments: string;
  /** A call of an OpenAI `custom` tool (`type: "custom"`, `custom: {name, input}`): its input is text, not JSON. */
  custom?: boolean;
}

export interface Answer {
  /** Text content ('' when none). */
  content: string;
  /** The `refusal` field, null when absent or empty. */
  refusal: string | null;
  toolCalls: ToolCallSeen[];
  finishReason: string | null;
  /** Per-token log-probabilities of the content, null when the upstream returned none. */
  logprobs: number[] | null;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function contentText(c: unknown): string {
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map((p) => (isObj(p) && typeof p.text === 'string' ? p.text : '')).join('');
  return '';
}

/** `choices[0].logprobs.content[*].logprob`, appended to `into`; false when there is no such list. */
function addLogprobs(lp: unknown, into: number[]): boolean {
  if (!isObj(lp) || !Array.isArray(lp.content)) return false;
  for (const t of lp.content) if (isObj(t) && typeof t.logprob === 'number' && Number.isFinite(t.logprob)) into.push(t.logprob);
  return true;
}

/** From a non-streamed `chat.completion` (first choice: switchyard refuses n > 1). */
export function answerFromCompletion(completion: Record<string, unknown>): Answer {
  const choice = Array.isArray(completion.choices) && isObj(completion.choices[0]) ? completion.choices[0] : {};
  const msg = isObj(choice.message) ? choice.message : {};
  const toolCalls: ToolCallSeen[] = [];
  if (Array.isArray(msg.tool_calls)) {
    for (const tc of msg.tool_calls) {
      const custom = isObj(tc) && isObj(tc.custom) ? tc.custom : null;
      const fn = custom ?? (isObj(tc) && isObj(tc.function) ? tc.function : {});
      const args = custom !== null ? fn.input : fn.arguments;
      toolCalls.push({ name: typeof fn.name === 'string' ? fn.name : '', arguments: typeof args === 'string' ? args : '', custom: custom !== null });
    }
  }
  // The legacy `functions` API's answer: one `function_call` ({name, arguments}) instead of tool_calls.
  if (isObj(msg.function_call)) {
    const fc = msg.function_call;
    toolCalls.push({ name: typeof fc.name === 'string' ? fc.name : '', arguments: typeof fc.arguments === 'string' ? fc.arguments : '', custom: false });
  }
  const lps: number[] = [];
  const hasLp = addLogprobs(choice.logprobs, lps);
  return {
    content: contentText(msg.content),
    refusal: typeof msg.refusal === 'string' && msg.refusal.length > 0 ? msg.refusal : null,
    toolCalls,
    finishReason: typeof choice.finish_reason === 'string' ? choice.finish_reason : null,
    logprobs: hasLp ? lps : null,
  };
}

/** The key of a legacy `function_call` among a stream's calls (tool calls are indexed from 0). */
const LEGACY_CALL = -1;

/** Accumulates `chat.completion.chunk` payloads (parsed JSON) into an answer. */
export class StreamAnswer {
  private content = '';
  private refusal = '';
  private readonly calls = new Map<number, ToolCallSeen>();
  private finish: string | null = null;
  private readonly lps: number[] = [];
  private hasLp = false;

  add(chunk: unknown): void {
    if (!isObj(chunk) || !Array.isArray(chunk.choices)) return;
    const c = chunk.choices[0];
    if (!isObj(c)) return;
    const d = isObj(c.delta) ? c.delta : {};
    if (typeof d.content === 'string') this.content += d.content;
    if (typeof d.refusal === 'string') this.refusal += d.refusal;
    if (Array.isArray(d.tool_calls)) for (const tc of d.tool_calls) this.addCall(tc);
    // The legacy `functions` API streams one `function_call` in pieces, as a tool call's function.
    if (isObj(d.function_call)) this.addCall({ index: LEGACY_CALL, function: d.function_call });
    if (typeof c.finish_reason === 'string') this.finish = c.finish_reason;
    if (addLogprobs(c.logprobs, this.lps)) this.hasLp = true;
  }

  private addCall(tc: unknown): void {
    if (!isObj(tc)) return;
    const index = typeof tc.index === 'number' ? tc.index : this.calls.size;
    const call = this.calls.get(index) ?? { name: '', arguments: '', custom: false };
    if (isObj(tc.custom)) {
      // A custom tool's call: its free-form input arrives in pieces as a function's arguments do.
      call.custom = true;
      if (typeof tc.custom.name === 'string' && tc.custom.name !== '') call.name = tc.custom.name;
      if (typeof tc.custom.input === 'string') call.arguments += tc.custom.input;
    }
    const fn = isObj(tc.function) ? tc.function : {};
    // The name is whole in a chunk, not in pieces: set, as the OpenAI SDK's stream helper does (a
    // provider that repeats it in every chunk of the call made it `lookuplookup`, a tool not offered).
    if (typeof fn.name === 'string' && fn.name !== '') call.name = fn.name;
    if (typeof fn.arguments === 'string') call.arguments += fn.arguments;
    this.calls.set(index, call);
  }

  answer(): Answer {
    return {
      content: this.content,
      refusal: this.refusal.length > 0 ? this.refusal : null,
      toolCalls: [...this.calls.values()],
      finishReason: this.finish,
      logprobs: this.hasLp ? this.lps : null,
    };
  }
}

/** An Anthropic stop reason as the chat finish reason the checks read. */
function finishOfStop(stop: unknown): string | null {
  if (typeof stop !== 'string') return null;
  if (stop === 'max_tokens' || stop === 'model_context_window_exceeded') return 'length';
  if (stop === 'tool_use') return 'tool_calls';
  // Anthropic's streaming classifiers stopped the answer: the provider's safety filter, as `content_filter` is.
  if (stop === 'refusal') return 'content_filter';
  return 'stop';
}

/** From an Anthropic Messages answer, relayed as the upstream sent it (text blocks, `tool_use` blocks). */
export function answerFromMessage(message: Record<string, unknown>): Answer {
  let content = '';
  const toolCalls: ToolCallSeen[] = [];
  for (const b of Array.isArray(message.content) ? message.content : []) {
    if (!isObj(b)) continue;
    if (b.type === 'text' && typeof b.text === 'string') content += b.text;
    else if (b.type === 'tool_use') toolCalls.push({ name: typeof b.name === 'string' ? b.name : '', arguments: JSON.stringify(b.input ?? {}), custom: false });
  }
  return { content, refusal: null, toolCalls, finishReason: finishOfStop(message.stop_reason), logprobs: null };
}

/** Accumulates an Anthropic Messages stream's events (name and parsed data) into an answer. */
export class MessagesStreamAnswer {
  private content = '';
  private readonly calls = new Map<number, ToolCallSeen>();
  private finish: string | null = null;

  add(name: string, data: unknown): void {
    if (!isObj(data)) return;
    const index = typeof data.index === 'number' ? data.index : -1;
    if (name === 'content_block_start' && isObj(data.content_block)) {
      const b = data.content_block;
      if (b.type === 'text' && typeof b.text === 'string') this.content += b.text;
      else if (b.type === 'tool_use') {
        // The input arrives as `input_json_delta` pieces; a block that starts with a whole input (`{}` as a rule) is that input.
        const whole = isObj(b.input) && Object.keys(b.input).length > 0 ? JSON.stringify(b.input) : '';
        this.calls.set(index, { name: typeof b.name === 'string' ? b.name : '', arguments: whole, custom: false });
      }
    } else if (name === 'content_block_delta' && isObj(data.delta)) {
      const d = data.delta;
      if (d.type === 'text_delta' && typeof d.text === 'string') this.content += d.text;
      else if (d.type === 'input_json_delta' && typeof d.partial_json === 'string') {
        const call = this.calls.get(index);
        if (call) call.arguments += d.partial_json;
      }
    } else if (name === 'message_delta' && isObj(data.delta) && data.delta.stop_reason !== undefined && data.delta.stop_reason !== null) {
      this.finish = finishOfStop(data.delta.stop_reason);
    }
  }

  answer(): Answer {
    return { content: this.content, refusal: null, toolCalls: [...this.calls.values()], finishReason: this.finish, logprobs: null };
  }
}
