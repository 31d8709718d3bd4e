/**
 * The one Server-Sent Events parser of the project (WHATWG event-stream rules).
 *
 * Incremental: feed it bytes as they arrive, get complete events back. Handles LF, CRLF and
 * lone CR line ends (also split across chunks), multi-line `data:`, comments (`: ping`),
 * `event:` / `id:` / `retry:` fields, a UTF-8 character split across chunks, and a stream
 * that ends without a trailing blank line (`end()` flushes the last event). It does not
 * interpret `data` (JSON parsing and `[DONE]` belong to the adapters), so a malformed event
 * is still delivered and the caller decides to drop and count it.
 */
export interface SseEvent {
  /** `event:` field; undefined means the default type "message". */
  event: string | undefined;
  /** All `data:` lines joined with "\n". */
  data: string;
  id: string | undefined;
  retry: number | undefined;
}

export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  /** The previous chunk ended with CR: a LF at the start of the next one belongs to it. */
  private pendingCr = false;
  private dataLines: string[] = [];
  private eventType: string | undefined;
  private lastId: string | undefined;
  private retry: number | undefined;
  private sawField = false;
  /** Number of comment lines seen (keep-alives); adapters may ignore them. */
  comments = 0;

  /** Feed a chunk; returns the events completed by it (often none or one). */
  push(chunk: Uint8Array | string): SseEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    // An empty chunk (or a partial UTF-8 character) must not clear a pending CR.
    if (text.length === 0) return [];
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    const out: SseEvent[] = [];
    let start = 0;
    const buf = this.buffer;
    // Line ends found with native indexOf (a per-character loop was the parser's whole cost);
    // `cr` is the next CR at or after `start`, -1 once there is none left in the buffer.
    let cr = buf.indexOf('\r');
    for (;;) {
      if (cr !== -1 && cr < start) cr = buf.indexOf('\r', start);
      const lf = buf.indexOf('\n', start);
      const i = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (i === -1) break;
      this.line(buf.slice(start, i), out);
      if (i === cr) {
        if (i + 1 < buf.length) start = buf.charCodeAt(i + 1) === 10 ? i + 2 : i + 1;
        else {
          this.pendingCr = true;
          start = i + 1;
        }
      } else start = i + 1;
    }
    this.buffer = start === 0 ? buf : buf.slice(start);
    return out;
  }

  /** The stream ended: flush a last event that had no terminating blank line. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    const rest = this.buffer + this.decoder.decode();
    this.buffer = '';
    if (rest.length > 0) this.line(rest, out);
    this.dispatch(out);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line.length === 0) {
      this.dispatch(out);
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) {
      this.comments++;
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data':
        this.dataLines.push(value);
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
    if (this.dataLines.length > 0 || (this.sawField && this.eventType !== undefined)) {
      out.push({ event: this.eventType, data: this.dataLines.join('\n'), id: this.lastId, retry: this.retry });
    }
    this.dataLines = [];
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
