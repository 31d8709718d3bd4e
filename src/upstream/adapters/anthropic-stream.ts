/**
 * Anthropic Messages stream → OpenAI `chat.completion.chunk` pieces, one decoder per attempt.
 *
 *   message_start        → role chunk (not content); remembers id, model, input usage, and
 *                          a usage piece with them: a stream cut before message_delta is
 *                          settled by the upstream's exact input count, not our estimate
 *   content_block_start  → tool_use: a tool-call chunk with id and name (content);
 *                          text: its initial text if any; thinking: its text as
 *                          `reasoning_content` (not content); other blocks: nothing
 *   content_block_delta  → text_delta: content chunk; input_json_delta: tool-call arguments;
 *                          thinking_delta: a `reasoning_content` chunk (billed as output);
 *                          signature / citations deltas: nothing
 *   content_block_stop   → nothing, except `{}` arguments for a tool call that streamed none
 *                          (OpenAI clients JSON.parse the arguments; '' would not parse)
 *   message_delta        → finish chunk (mapped stop_reason); remembers output usage
 *   message_stop         → usage piece, then done
 *   ping / unknown       → nothing (Anthropic may add event types)
 *   error                → error piece
 *
 * In relay mode (a Messages request answered by an Anthropic-kind endpoint) every well-formed
 * event other than `error` becomes one `native` piece carrying the event as received; usage,
 * done, error and malformed pieces are the same as above. Thinking, signature, citation and
 * server-tool deltas count as content (they commit the stream), and `message_delta`'s stop
 * reason is reported in chat terms for the attempt's bookkeeping.
 */
import { ANTHROPIC_USAGE_COUNTS, readCount, usageFromAnthropic } from '../../accounting/cost.js';
import type { SseEvent } from '../sse.js';
import { cutText, type OpenAIChunk, type StreamPiece } from '../types.js';
import { isObj } from './anthropic-messages.js';
import { errorInfo, finishReason, stopSequenceOf } from './anthropic-response.js';
import type { StreamDecoder } from './types.js';

interface ToolBlock {
  index: number;
  sentArguments: boolean;
}

export class AnthropicStreamDecoder implements StreamDecoder {
  private id = '';
  private model = '';
  private readonly created = Math.floor(Date.now() / 1000);
  /** Latest usage counters; message_delta's cumulative figures replace message_start's. */
  private usage: Record<string, unknown> = {};
  /** Anthropic content-block index → OpenAI tool-call index. */
  private readonly tools = new Map<number, ToolBlock>();

  /**
   * A `json_schema` answer's text that did not begin as JSON (`{` or `[`), held: with structured
   * outputs only a refusal is such text, and Claude says it is one only at its end (`stop_reason:
   * refusal`). Sent as content, its words broke the OpenAI SDK's stream helper, which parses a
   * parsed format's content as it comes (a SyntaxError instead of its refusal); held, it goes out
   * as `delta.refusal` (finish `stop`, as the JSON answer gives it) or, when it was no refusal, as
   * the content it was. `unknown` until the first text that is not whitespace; then `json` (as it
   * comes) or `held`. Without a json_schema format (or on a continuation) always `json`.
   */
  private answer: 'unknown' | 'json' | 'held';
  private held = '';

  constructor(
    private readonly relay = false,
    jsonAnswer = false,
  ) {
    this.answer = jsonAnswer && !relay ? 'unknown' : 'json';
  }

  decode(ev: SseEvent): StreamPiece[] {
    if (ev.data.trim() === '') return [];
    let j: unknown;
    try {
      j = JSON.parse(ev.data);
    } catch {
      return [this.malformed(ev)];
    }
    if (!isObj(j)) return [this.malformed(ev)];
    const type = ev.event !== undefined && ev.event !== 'message' ? ev.event : j.type;
    if (this.relay) return this.relayed(typeof type === 'string' ? type : 'message', j, ev);
    switch (type) {
      case 'message_start':
        return this.messageStart(j, ev);
      case 'content_block_start':
        return this.blockStart(j, ev);
      case 'content_block_delta':
        return this.blockDelta(j, ev);
      case 'content_block_stop':
        return this.blockStop(j);
      case 'message_delta':
        return this.messageDelta(j, ev);
      case 'message_stop': {
        const usage = usageFromAnthropic(this.usage);
        // Text still held (no message_delta said how it ended) goes out as what it was before the end.
        const held = this.release();
        return usage ? [...held, { type: 'usage', usage }, { type: 'done' }] : [...held, { type: 'done' }];
      }
      case 'error': {
        const e = isObj(j.error) ? j.error : {};
        return [{ type: 'error', error: errorInfo(e, 'upstream error in stream') }];
      }
      default:
        return [];
    }
  }

  private relayed(type: string, j: Record<string, unknown>, ev: SseEvent): StreamPiece[] {
    // One data line per event on the way out: JSON split over several `data:` lines is rejoined.
    const data = /[\r\n]/.test(ev.data) ? JSON.stringify(j) : ev.data;
    const piece = { type: 'native' as const, name: type, data, content: false, text: '', finishReason: null as string | null, messageStart: false };
    switch (type) {
      case 'message_start':
        if (!isObj(j.message)) return [this.malformed(ev)];
        this.remember(j.message.usage);
        return this.counted({ ...piece, messageStart: true, ...(typeof j.message.model === 'string' ? { model: j.message.model } : {}) });
      case 'content_block_start': {
        const b = j.content_block;
        if (!isObj(b)) return [this.malformed(ev)];
        const text = typeof b.text === 'string' ? b.text : typeof b.thinking === 'string' ? b.thinking : '';
        // An empty text or thinking block is only an announcement; anything else (tool_use, redacted_thinking…) is content.
        const empty = (b.type === 'text' || b.type === 'thinking') && text === '';
        return [{ ...piece, content: !empty, text, ...blockOf(j, b.type === 'text') }];
      }
      case 'content_block_delta': {
        const d = j.delta;
        if (!isObj(d)) return [this.malformed(ev)];
        const text =
          typeof d.text === 'string' ? d.text : typeof d.thinking === 'string' ? d.thinking : typeof d.partial_json === 'string' ? d.partial_json : '';
        return [{ ...piece, content: true, text, ...blockOf(j, d.type === 'text_delta' && typeof d.text === 'string') }];
      }
      case 'content_block_stop':
        return [{ ...piece, ...blockOf(j, false) }];
      case 'message_delta': {
        this.rememberFinal(j.usage);
        const d = isObj(j.delta) ? j.delta : {};
        // The counts so far (cumulative): a stream that ends without message_stop is settled by them;
        // counts made unreadable void message_start's (as in messageDelta).
        return [{ ...piece, finishReason: typeof d.stop_reason === 'string' ? finishReason(d.stop_reason) : null }, this.finalCounts()];
      }
      case 'message_stop': {
        const usage = usageFromAnthropic(this.usage);
        return usage ? [piece, { type: 'usage', usage }, { type: 'done' }] : [piece, { type: 'done' }];
      }
      case 'error': {
        const e = isObj(j.error) ? j.error : {};
        return [{ type: 'error', error: errorInfo(e, 'upstream error in stream') }];
      }
      default:
        // ping and event types Anthropic adds later: relayed as they are.
        return [piece];
    }
  }

  private malformed(ev: SseEvent): StreamPiece {
    return ev.data.includes('"delta"') ? { type: 'malformed', raw: cutText(ev.data, 200), lost: true } : { type: 'malformed', raw: cutText(ev.data, 200) };
  }

  private chunk(delta: Record<string, unknown>, finish: string | null = null): OpenAIChunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    };
  }

  private remember(u: unknown): void {
    if (!isObj(u)) return;
    // A count that is there but no number (`"1500"`) is kept too, so that it is read as unreadable, not as absent (0).
    for (const [k, v] of Object.entries(u)) if (typeof v === 'number' || (ANTHROPIC_USAGE_COUNTS.has(k) && v !== null && v !== undefined)) this.usage[k] = v;
  }

  /**
   * A `message_delta`'s counts: its output count is the answer's, final; when it has none that can
   * be read (absent, negative, not a number), `message_start`'s 1 is no count of the answer, so the
   * output is left at 0, a placeholder the attempt's estimate of what was delivered replaces.
   */
  private rememberFinal(u: unknown): void {
    this.remember(u);
    const out = isObj(u) ? u.output_tokens : undefined;
    if (readCount(out) === undefined) this.usage.output_tokens = 0;
  }

  private messageStart(j: Record<string, unknown>, ev: SseEvent): StreamPiece[] {
    const m = j.message;
    if (!isObj(m)) return [this.malformed(ev)];
    if (typeof m.id === 'string') this.id = m.id;
    if (typeof m.model === 'string') this.model = m.model;
    this.remember(m.usage);
    return this.counted({ type: 'chunk', chunk: this.chunk({ role: 'assistant', content: '' }), text: '', content: false, finishReason: null });
  }

  /**
   * A piece followed by the counts so far, when the upstream reported any: message_start's input
   * count is exact, and a stream cut before message_delta is settled by it (its output count is
   * a floor the estimate of what was delivered may raise).
   */
  private counted(p: StreamPiece): StreamPiece[] {
    const usage = usageFromAnthropic(this.usage);
    return usage ? [p, { type: 'usage', usage }] : [p];
  }

  /** A message_delta's counts so far: null when they cannot be read, which voids message_start's (its output of 1 is a placeholder). */
  private finalCounts(): StreamPiece {
    return { type: 'usage', usage: usageFromAnthropic(this.usage) ?? null };
  }

  private text(text: string): StreamPiece[] {
    if (text === '') return [];
    if (this.answer !== 'json') {
      if (this.answer === 'unknown') {
        const t = text.trimStart();
        if (t !== '') this.answer = t[0] === '{' || t[0] === '[' ? 'json' : 'held';
      }
      if (this.answer !== 'json' || this.held !== '') {
        this.held += text;
        // Past a bound it is no short refusal: the text goes out as content, as it would have.
        if (this.answer === 'json' || this.held.length > MAX_HELD_CHARS) return this.release();
        return [];
      }
    }
    return [{ type: 'chunk', chunk: this.chunk({ content: text }), text, content: true, finishReason: null }];
  }

  /** The held text as the content it was (from here on, text goes out as it comes). */
  private release(): StreamPiece[] {
    const text = this.held;
    this.held = '';
    this.answer = 'json';
    return text === '' ? [] : [{ type: 'chunk', chunk: this.chunk({ content: text }), text, content: true, finishReason: null }];
  }

  /**
   * Thinking text (an Anthropic-wire upstream that thinks unasked: chat cannot ask for it) as the
   * chat form's reasoning, DeepSeek's `reasoning_content`: output the model produced, so it is
   * billed (a cut or usage-less stream's estimate counts it) and meets the first-token limit, and
   * the session shows it as it shows any reasoning model's. It was dropped: a stream cut after a
   * long thinking was billed its few words of text.
   */
  private thinking(text: string): StreamPiece[] {
    if (text === '') return [];
    return [{ type: 'chunk', chunk: this.chunk({ reasoning_content: text }), text: '', content: false, finishReason: null, other: text }];
  }

  private toolDelta(call: Record<string, unknown>, other: string): StreamPiece {
    return { type: 'chunk', chunk: this.chunk({ tool_calls: [call] }), text: '', content: true, finishReason: null, other };
  }

  private blockStart(j: Record<string, unknown>, ev: SseEvent): StreamPiece[] {
    const b = j.content_block;
    if (!isObj(b) || typeof j.index !== 'number') return [this.malformed(ev)];
    if (b.type === 'text') return this.text(typeof b.text === 'string' ? b.text : '');
    if (b.type === 'thinking') return this.thinking(typeof b.thinking === 'string' ? b.thinking : '');
    if (b.type !== 'tool_use') return [];
    const tool: ToolBlock = { index: this.tools.size, sentArguments: false };
    this.tools.set(j.index, tool);
    return [
      this.toolDelta({ index: tool.index, id: b.id, type: 'function', function: { name: b.name, arguments: '' } }, typeof b.name === 'string' ? b.name : ''),
    ];
  }

  private blockDelta(j: Record<string, unknown>, ev: SseEvent): StreamPiece[] {
    const d = j.delta;
    if (!isObj(d) || typeof j.index !== 'number') return [this.malformed(ev)];
    if (d.type === 'text_delta') return typeof d.text === 'string' ? this.text(d.text) : [this.malformed(ev)];
    if (d.type === 'thinking_delta') return typeof d.thinking === 'string' ? this.thinking(d.thinking) : [this.malformed(ev)];
    if (d.type !== 'input_json_delta') return [];
    const tool = this.tools.get(j.index);
    if (!tool || typeof d.partial_json !== 'string') return [this.malformed(ev)];
    if (d.partial_json === '') return [];
    tool.sentArguments = true;
    return [this.toolDelta({ index: tool.index, function: { arguments: d.partial_json } }, d.partial_json)];
  }

  private blockStop(j: Record<string, unknown>): StreamPiece[] {
    const tool = typeof j.index === 'number' ? this.tools.get(j.index) : undefined;
    if (!tool || tool.sentArguments) return [];
    tool.sentArguments = true;
    return [this.toolDelta({ index: tool.index, function: { arguments: '{}' } }, '{}')];
  }

  private messageDelta(j: Record<string, unknown>, ev: SseEvent): StreamPiece[] {
    this.rememberFinal(j.usage);
    const d = j.delta;
    if (!isObj(d)) return [this.malformed(ev)];
    // The counts so far (message_delta's are cumulative): a stream that ends without message_stop is
    // settled by them. Counts it makes unreadable (a cache count of 1500.5) void message_start's: the
    // answer is then billed at the estimate, not at message_start's placeholder output of 1.
    const counts: StreamPiece[] = [this.finalCounts()];
    if (typeof d.stop_reason !== 'string') return counts;
    // Held text: a refusal goes out as OpenAI's structured refusal (`delta.refusal`, finish `stop`), anything else as content.
    if (this.held !== '' && d.stop_reason === 'refusal' && this.tools.size === 0) {
      const words = this.held;
      this.held = '';
      this.answer = 'json';
      const refusal: StreamPiece = { type: 'chunk', chunk: this.chunk({ refusal: words }), text: '', content: true, finishReason: null, other: words };
      return [refusal, { type: 'chunk', chunk: this.chunk({}, 'stop'), text: '', content: false, finishReason: 'stop' }, ...counts];
    }
    const before = this.release();
    const finish = finishReason(d.stop_reason);
    const chunk = this.chunk({}, finish);
    const matched = stopSequenceOf(d);
    if (matched !== null) chunk.choices[0]!.stop_reason = matched;
    return [...before, { type: 'chunk', chunk, text: '', content: false, finishReason: finish }, ...counts];
  }
}

/** The most text held while it may be a refusal (characters): a refusal is a few sentences. */
const MAX_HELD_CHARS = 4_000;

/** A relayed content block event's index and whether it is plain text (a block without an index is none a continuation can place). */
function blockOf(j: Record<string, unknown>, plainText: boolean): { index?: number; plainText: boolean } {
  return typeof j.index === 'number' && Number.isInteger(j.index) && j.index >= 0 ? { index: j.index, plainText } : { plainText: false };
}
