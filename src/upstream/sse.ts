/**
 * The one Server-Sent Events parser of the project (WHATWG event-stream rules).
 *
 * Incremental: feed it bytes as they arrive, get complete events back. Handles LF, CRLF and
 * lone CR line ends (also split across chunks), multi-line `data:`, comments (`: ping`),
 * `event:` / `id:` / `retry:` fields, a UTF-8 character split across chunks, and a stream
 * that ends without a trailing blank line (`end()` flushes the last event); an event over
 * {@link MAX_EVENT_CHARS} throws a `bad_response` fault. It does not
 * interpret `data` (JSON parsing and `[DONE]` belong to the adapters), so a malformed event
 * is still delivered and the caller decides to drop and count it.
 */
import { TextDecoder } from 'node:util';
import { OversizeFault, SidecarBusyFault } from './types.js';
import { HeldShare, heldOverMessage } from './held-bytes.js';

export interface SseEvent {
  /** `event:` field; undefined means the default type "message". */
  event: string | undefined;
  /** All `data:` lines joined with "\n". */
  data: string;
  id: string | undefined;
  retry: number | undefined;
}

/**
 * The most one event may hold (its unfinished line and its `data:` lines so far), in characters:
 * as much as a whole answer may be (the transport's body limit). An upstream that sends more in
 * one event is refused, so no stream makes the sidecar hold an unbounded string.
 */
export const MAX_EVENT_CHARS = 16 * 1024 * 1024;

export class SseParser {
  /** Made on the first chunk that may end inside a character (ICU's decoder costs ~1 µs to make, each call ~0.5 µs). */
  private decoder: TextDecoder | null = null;
  /** The decoder may hold the first bytes of a character: the next chunk must go through it. */
  private decoderPending = false;
  /** No text decoded yet: a byte order mark at the stream's start is dropped (as TextDecoder does). */
  private fresh = true;
  private buffer = '';
  /** The previous chunk ended with CR: a LF at the start of the next one belongs to it. */
  private pendingCr = false;
  /** The event's `data:` lines joined with "\n" so far; null: none yet. */
  private data: string | null = null;
  private eventType: string | undefined;
  private lastId: string | undefined;
  private retry: number | undefined;
  private sawField = false;
  /** Number of comment lines seen (keep-alives); adapters may ignore them. */
  comments = 0;

  /** Counts the unfinished event against the process-wide bound of what answers being read hold (see held-bytes). */
  private readonly share = new HeldShare();

  constructor(private readonly maxEventChars = MAX_EVENT_CHARS) {}

  /** Done with the stream: what its unfinished event counted is given back. */
  release(): void {
    this.share.release();
  }

  /**
   * UTF-8 to text, as a streaming TextDecoder would give it: a chunk that ends with an ASCII byte
   * (while the decoder holds nothing) is decoded whole by Buffer's decoder (same output for any
   * bytes, invalid ones included); a chunk that may end inside a character goes through the
   * streaming decoder, as does every chunk after it until one ends with an ASCII byte again.
   */
  private decode(chunk: Uint8Array): string {
    const n = chunk.length;
    if (n === 0) return '';
    let text: string;
    if (!this.decoderPending && chunk[n - 1]! < 0x80) {
      text = (Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, n)).toString('utf8');
    } else {
      // ignoreBOM: the byte order mark is dropped below, only at the stream's start.
      this.decoder ??= new TextDecoder('utf-8', { ignoreBOM: true });
      text = this.decoder.decode(chunk, { stream: true });
      this.decoderPending = chunk[n - 1]! >= 0x80;
    }
    return this.fresh ? this.unmark(text) : text;
  }

  /** The stream's first text without its byte order mark. */
  private unmark(text: string): string {
    if (text.length === 0) return text;
    this.fresh = false;
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }

  /** Feed a chunk; returns the events completed by it (often none or one). */
  push(chunk: Uint8Array | string): SseEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.decode(chunk);
    // An empty chunk (or a partial UTF-8 character) must not clear a pending CR.
    if (text.length === 0) return [];
    if (this.pendingCr && text.charCodeAt(0) === 10) text = text.slice(1);
    this.pendingCr = false;
    // The middle of a long line (the buffer never holds a line end): appended, not scanned again,
    // so an event arriving in many chunks costs its length once, not once per chunk.
    if (this.buffer.length > 0 && text.indexOf('\n') === -1 && text.indexOf('\r') === -1) {
      this.buffer += text;
      this.checkSize();
      return [];
    }
    const buf = this.buffer.length === 0 ? text : this.buffer + text;
    const out: SseEvent[] = [];
    let start = 0;
    // Line ends found with native indexOf (a per-character loop was the parser's whole cost);
    // `cr` is the next CR at or after `start`, -1 once there is none left in the buffer.
    let cr = buf.indexOf('\r');
    for (;;) {
      if (cr !== -1 && cr < start) cr = buf.indexOf('\r', start);
      const lf = buf.indexOf('\n', start);
      const i = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (i === -1) break;
      this.line(buf, start, i, out);
      if (i === cr) {
        if (i + 1 < buf.length) start = buf.charCodeAt(i + 1) === 10 ? i + 2 : i + 1;
        else {
          this.pendingCr = true;
          start = i + 1;
        }
      } else start = i + 1;
    }
    this.buffer = start === 0 ? buf : buf.slice(start);
    this.checkSize();
    return out;
  }

  /** The event being read (its unfinished line and its data so far) must stay within the limit. */
  private checkSize(): void {
    const n = this.buffer.length + (this.data === null ? 0 : this.data.length);
    if (n > this.maxEventChars) throw new OversizeFault(`upstream event larger than ${this.maxEventChars} characters`);
    // Most chunks end on an event's end (nothing held, nothing to count): one comparison.
    if ((n > 0 || this.share.held) && !this.share.set(n)) throw new SidecarBusyFault(heldOverMessage(n, 'characters'));
  }

  /** The stream ended: flush a last event that had no terminating blank line. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    let rest = this.buffer;
    if (this.decoder !== null) {
      const tail = this.decoder.decode();
      rest += this.fresh ? this.unmark(tail) : tail;
    }
    this.buffer = '';
    if (rest.length > 0) this.line(rest, 0, rest.length, out);
    this.dispatch(out);
    return out;
  }

  /** The line `buf[start, end)`. */
  private line(buf: string, start: number, end: number, out: SseEvent[]): void {
    if (start === end) {
      this.dispatch(out);
      return;
    }
    const c0 = buf.charCodeAt(start);
    if (c0 === 58 /* : */) {
      this.comments++;
      return;
    }
    // `data:` (nearly every line of a stream): its value sliced once from the buffer.
    if (
      c0 === 100 /* d */ &&
      end - start >= 5 &&
      buf.charCodeAt(start + 1) === 97 &&
      buf.charCodeAt(start + 2) === 116 &&
      buf.charCodeAt(start + 3) === 97 &&
      buf.charCodeAt(start + 4) === 58
    ) {
      const from = start + 5 < end && buf.charCodeAt(start + 5) === 32 ? start + 6 : start + 5;
      const value = buf.slice(from, end);
      this.data = this.data === null ? value : `${this.data}\n${value}`;
      this.sawField = true;
      return;
    }
    const line = buf.slice(start, end);
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data = this.data === null ? value : `${this.data}\n${value}`;
        this.sawField = true;
        break;
      case 'event':
        this.eventType = value;
        this.sawField = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        this.sawField = true;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        this.sawField = true;
        break;
      default:
        // Unknown fields are ignored, as the standard says.
        break;
    }
  }

  private dispatch(out: SseEvent[]): void {
    if (this.data !== null || (this.sawField && this.eventType !== undefined)) {
      out.push({ event: this.eventType, data: this.data ?? '', id: this.lastId, retry: this.retry });
    }
    this.data = null;
    this.eventType = undefined;
    this.retry = undefined;
    this.sawField = false;
  }
}

/** Encode one SSE event (used by the HTTP layer and the simulator). */
export function formatSse(data: string, event?: string): string {
  const head = event === undefined ? '' : `event: ${event}\n`;
  if (!data.includes('\n')) return `${head}data: ${data}\n\n`;
  return `${head}${data
    .split('\n')
    .map((l) => `data: ${l}`)
    .join('\n')}\n\n`;
}
