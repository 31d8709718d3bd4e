/** A ChatSink that records what a stream writes (for the stream tests); `<start>` marks startStream when asked. */
import type { SwitchyardError } from '../../src/errors.js';
import type { ChatSink } from '../../src/runtime/api.js';

export function recordingSink(opts: { markStart?: boolean } = {}): ChatSink & { events: string[] } {
  const s = {
    events: [] as string[],
    started: false,
    signal: new AbortController().signal,
    json: () => undefined,
    startStream: () => void (opts.markStart && s.events.push('<start>')),
    write: (d: string) => s.events.push(d) > 0,
    drain: () => Promise.resolve(),
    end: () => undefined,
    fail: () => undefined,
  };
  return s;
}

/** A ChatSink that keeps the answer: its status, headers, body (stream lines joined) and error; `gone()` is the client leaving. */
export class TestSink implements ChatSink {
  private readonly ac = new AbortController();
  readonly signal = this.ac.signal;
  started = false;
  status: number | null = null;
  headers: Record<string, string> = {};
  body = '';
  error: SwitchyardError | null = null;
  json(status: number, headers: Record<string, string>, body: string): void {
    [this.status, this.headers, this.body] = [status, headers, body];
  }
  startStream(headers: Record<string, string>): void {
    [this.started, this.status, this.headers] = [true, 200, headers];
  }
  write(data: string): boolean {
    this.body += `${data}\n`;
    return true;
  }
  drain(): Promise<void> {
    return Promise.resolve();
  }
  end(): void {}
  fail(err: SwitchyardError, headers: Record<string, string> = {}): void {
    [this.error, this.status, this.headers] = [err, err.status, headers];
  }
  gone(): void {
    this.ac.abort();
  }
}
