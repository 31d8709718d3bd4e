/**
 * A ChatSink over a node:http response: JSON answers, SSE streams written event by event
 * (no buffering), errors OpenAI-shaped before the stream started and in-band after.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChatSink } from '../runtime/api.js';
import { errorBody, type SwitchyardError } from '../errors.js';

export class HttpSink implements ChatSink {
  private readonly ac = new AbortController();
  started = false;
  private ended = false;
  private corked = false;

  constructor(
    req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly baseHeaders: Record<string, string>,
  ) {
    // The response closing before we ended it means the client went away.
    res.on('close', () => {
      if (!this.ended) this.ac.abort();
    });
    req.on('error', () => this.ac.abort());
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  json(status: number, headers: Record<string, string>, body: string): void {
    if (this.ended) return;
    this.ended = true;
    this.res.writeHead(status, { ...this.baseHeaders, ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    this.res.end(body);
  }

  startStream(headers: Record<string, string>): void {
    this.started = true;
    this.res.writeHead(200, {
      ...this.baseHeaders,
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
  }

  /**
   * Events written in one turn of the event loop (an upstream TCP packet often carries many)
   * leave in one socket write: corked now, uncorked at the next `setImmediate`, which runs
   * right after this turn's I/O — batching without an added delay.
   */
  write(data: string): boolean {
    return this.writeEvent(null, data);
  }

  /** One SSE event with an `event:` name (the Responses and Messages APIs name theirs). */
  writeEvent(name: string | null, data: string): boolean {
    if (this.ended) return true;
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      setImmediate(this.uncork);
    }
    return this.res.write(name === null ? `data: ${data}\n\n` : `event: ${name}\ndata: ${data}\n\n`);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    if (!this.res.writableEnded) this.res.uncork();
  };

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
    this.res.end();
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
