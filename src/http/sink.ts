/**
 * A ChatSink over a node:http response: JSON answers, SSE streams written event by event
 * (no buffering), errors OpenAI-shaped before the stream started and in-band after.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChatSink } from '../runtime/api.js';
import { errorBody, type SwitchyardError } from '../errors.js';
import { Cancel, type CancelSignal } from '../runtime/cancel.js';

/** A turn's batch of SSE events is written once it reaches this many characters (bounded memory). */
const BATCH_MAX = 64 * 1024;

export class HttpSink implements ChatSink {
  /** The client went away (a Cancel, not an AbortController: see src/runtime/cancel.ts). */
  private readonly ac = new Cancel();
  started = false;
  /** A chat client reads the reasoning chunks: a long reasoning phase starts the stream (see ChatSink.showsReasoning). */
  readonly showsReasoning = true;
  private ended = false;
  /** SSE events of this turn not yet written (see `write`). */
  private pending = '';
  private scheduled = false;

  /**
   * `req` is not listened to: a sink is made once the request's body has been read, and node
   * destroys a request at its 'end' (it can emit no 'error' after it); a client that goes away
   * closes the response, which is the one signal the sink needs.
   */
  constructor(
    req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly baseHeaders: Record<string, string>,
  ) {
    // The response closing before we ended it means the client went away.
    const gone = (): void => {
      if (!this.ended) this.ac.abort();
    };
    res.on('close', gone);
    // A pipelined request whose response waits behind an earlier one's has no socket yet, and node
    // closes only the current response when the connection goes: it would run (and hold its
    // endpoint's slot) until its deadline for a client long gone. Its connection's close says so.
    const socket = req.socket as IncomingMessage['socket'] | null;
    if (res.socket === null && socket !== null) {
      if (socket.destroyed) this.ac.abort();
      else {
        // One listener a waiting pipelined request, removed when it ends: more than node's 10 is no
        // leak, and its MaxListenersExceededWarning was a plain-text "memory leak" line in the JSON log.
        if (socket.getMaxListeners() !== 0) socket.setMaxListeners(0);
        socket.once('close', gone);
        this.unhook = () => socket.off('close', gone);
      }
    }
  }

  /** Removes the connection listener of a pipelined request, once it ended. */
  private unhook: (() => void) | null = null;

  /** With tracing on: told the id of the answer the client gets (its first JSON or event), once. */
  private onId: ((id: string) => void) | null = null;

  /**
   * Tells `trace` the answer's id (the span's `gen_ai.response.id`): a JSON answer's `id`, or a
   * stream's first event's (a chunk's `id`, a Messages `message_start`'s `message.id`). Without
   * tracing nothing is parsed.
   */
  bindTrace(trace: { responseId?(id: string): void } | null | undefined): void {
    this.onId = trace?.responseId ? (id) => trace.responseId?.(id) : null;
  }

  /** The id in an answer's JSON (or a `message_start`'s message), once; nothing for another shape. */
  private sawAnswer(data: string, messageStart: boolean): void {
    const tell = this.onId;
    if (tell === null) return;
    this.onId = null;
    try {
      const v = JSON.parse(data) as { id?: unknown; message?: { id?: unknown } } | null;
      const id = messageStart ? v?.message?.id : v?.id;
      if (typeof id === 'string' && id !== '') tell(id);
    } catch {
      // Not JSON: no id to tell.
    }
  }

  get signal(): CancelSignal {
    return this.ac.signal;
  }

  json(status: number, headers: Record<string, string>, body: string): void {
    if (this.ended) return;
    this.ended = true;
    this.unhook?.();
    if (this.onId !== null && status < 400) this.sawAnswer(body, false);
    // Object.assign, not spreads followed by properties (slow on Node 20's V8, ~2 µs each).
    this.res.writeHead(status, Object.assign({}, this.baseHeaders, headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }));
    this.res.end(body);
  }

  startStream(headers: Record<string, string>): void {
    this.started = true;
    this.res.writeHead(
      200,
      Object.assign({}, this.baseHeaders, headers, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        // No `connection` header of ours: node answers keep-alive itself, and `close` when the client asked for it.
        'x-accel-buffering': 'no',
      }),
    );
  }

  /**
   * Events written in one turn of the event loop (an upstream TCP packet often carries many)
   * leave in one socket write of one HTTP chunk: collected as one string now, written at the
   * next `setImmediate`, which runs right after this turn's I/O — batching without an added
   * delay. (Corking the response instead still made one chunk, with its own size line and
   * buffer bookkeeping, per event.) A turn's batch is bounded: past BATCH_MAX it is written at once.
   */
  write(data: string): boolean {
    return this.writeEvent(null, data);
  }

  /**
   * An SSE comment line (`: text`): every SSE client (the OpenAI SDKs' included) skips it. It keeps
   * a stream with nothing to say yet alive through proxies' idle timeouts, and sends its headers.
   */
  comment(text: string): boolean {
    if (this.ended) return true;
    this.pending += `: ${text}\n\n`;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.onImmediate);
    }
    return !this.res.writableNeedDrain;
  }

  /** One SSE event with an `event:` name (the Responses and Messages APIs name theirs). */
  writeEvent(name: string | null, data: string): boolean {
    if (this.ended) return true;
    if (this.onId !== null) this.sawAnswer(data, name === 'message_start');
    this.pending += name === null ? `data: ${data}\n\n` : `event: ${name}\ndata: ${data}\n\n`;
    if (this.pending.length >= BATCH_MAX) return this.flush();
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.onImmediate);
    }
    return !this.res.writableNeedDrain;
  }

  private readonly onImmediate = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /** Writes what this turn collected; false when the socket buffer is full. */
  private flush(): boolean {
    if (this.pending.length === 0 || this.res.writableEnded) return !this.res.writableNeedDrain;
    const chunk = this.pending;
    this.pending = '';
    return this.res.write(chunk);
  }

  drain(): Promise<void> {
    if (this.ended || this.res.writableEnded || !this.res.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.unhook?.();
    // This turn's last events and the stream's end leave together.
    const rest = this.pending;
    this.pending = '';
    if (rest.length > 0 && !this.res.writableEnded) this.res.end(rest);
    else this.res.end();
  }

  fail(err: SwitchyardError, headers: Record<string, string> = {}): void {
    const { status, body, headers: errHeaders } = errorBody(err);
    if (this.started) {
      // In-band: the client sees an error event, never a clean finish on a truncated answer.
      this.write(JSON.stringify(body));
      this.end();
      return;
    }
    this.json(status, { ...headers, ...errHeaders }, JSON.stringify(body));
  }
}
