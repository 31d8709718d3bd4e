/**
 * Renders the shared flow's answer as an Anthropic Messages object or event stream — or, when
 * an Anthropic-kind endpoint answered, relays that endpoint's own body and events (`native`).
 */
import { anthropicError, messageOfCompletion, MessagesStreamWriter } from '../apis/messages-output.js';
import type { SwitchyardError } from '../errors.js';
import type { NativeSink } from '../runtime/api.js';
import { ApiSink } from './api-sink.js';

export class MessagesSink extends ApiSink {
  /**
   * `promptTokens`: the prompt's estimate (the one the flow routes on) for a translated
   * stream's `message_start`, as Anthropic reports the input there; clients that read usage
   * from `message_start` (LangChain does) saw 0. The upstream's count follows in `message_delta`.
   */
  constructor(
    out: ConstructorParameters<typeof ApiSink>[0],
    private readonly promptTokens: () => number = () => 0,
    /** The body's `request_id` on an error answer (the `request-id` header's). */
    private readonly requestId?: string,
  ) {
    super(out);
  }

  /** Tool calls are written whole when the answer ends (MessagesStreamWriter): their pieces do not commit the stream. */
  readonly holdsToolCalls = true;
  private writer: MessagesStreamWriter | null = null;
  /** The stream is the upstream's own (a native relay): a failure after it started is an `error` event here too. */
  private relaying = false;

  readonly native: NativeSink = {
    json: (status, headers, body) => this.out.json(status, headers, body),
    startStream: (headers) => {
      this.relaying = true;
      this.out.startStream(headers);
    },
    event: (name, data) => this.out.writeEvent(name, data),
    // A continuation of the relayed stream on another endpoint: its chunks are written as the rest of the same message.
    resume: (openText, nextIndex) => {
      this.relaying = false;
      this.writer = new MessagesStreamWriter((name, data) => this.event(name, data), '');
      this.writer.resume(openText, nextIndex);
    },
  };

  protected errorBody(err: SwitchyardError): unknown {
    return anthropicError(err, this.requestId);
  }

  protected onJson(status: number, headers: Record<string, string>, body: Record<string, unknown>): Promise<void> {
    this.out.json(status, headers, JSON.stringify(messageOfCompletion(body)));
    return Promise.resolve();
  }

  protected onStart(headers: Record<string, string>): void {
    this.writer = new MessagesStreamWriter((name, data) => this.event(name, data), headers['x-switchyard-model'] ?? '');
    this.writer.start(this.promptTokens());
  }

  protected onChunk(chunk: Record<string, unknown>): boolean {
    return this.writer?.chunk(chunk) ?? true;
  }

  protected onDone(): Promise<void> {
    this.writer?.done();
    this.out.end();
    return Promise.resolve();
  }

  protected onStreamError(err: SwitchyardError): void {
    if (this.relaying) this.event('error', anthropicError(err, undefined, true));
    else this.writer?.failed(err);
  }
}
