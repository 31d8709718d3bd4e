/** Renders the shared flow's answer as an Anthropic Messages object or event stream. */
import { anthropicError, messageOfCompletion, MessagesStreamWriter } from '../apis/messages-output.js';
import type { SwitchyardError } from '../errors.js';
import { ApiSink } from './api-sink.js';

export class MessagesSink extends ApiSink {
  private writer: MessagesStreamWriter | null = null;

  protected errorBody(err: SwitchyardError): unknown {
    return anthropicError(err);
  }

  protected onJson(status: number, headers: Record<string, string>, body: Record<string, unknown>): Promise<void> {
    this.out.json(status, headers, JSON.stringify(messageOfCompletion(body)));
    return Promise.resolve();
  }

  protected onStart(headers: Record<string, string>): void {
    this.writer = new MessagesStreamWriter((name, data) => this.event(name, data), headers['x-switchyard-model'] ?? '');
    this.writer.start();
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
    this.writer?.failed(err);
  }
}
