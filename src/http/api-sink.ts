/**
 * A ChatSink that speaks another API's wire format. The shared request flow answers in chat
 * completions (a `chat.completion` JSON, or chunk events then `[DONE]`); a subclass renders
 * that as its API's JSON body and named SSE events, and its errors in its own shape. The
 * streaming commit contract is untouched: the flow decides when the stream starts and
 * whether a failure is invisible (before) or in-band (after).
 */
import type { SwitchyardError } from '../errors.js';
import type { ChatSink } from '../runtime/api.js';
import type { HttpSink } from './sink.js';
import type { CancelSignal } from '../runtime/cancel.js';
import type { Usage } from '../accounting/cost.js';

export abstract class ApiSink implements ChatSink {
  private finishing = false;

  constructor(protected readonly out: HttpSink) {}

  get signal(): CancelSignal {
    return this.out.signal;
  }

  get started(): boolean {
    return this.out.started;
  }

  drain(): Promise<void> {
    return this.out.drain();
  }

  json(status: number, headers: Record<string, string>, body: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = {};
    }
    this.finishing = true;
    void this.onJson(status, headers, typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {}).catch(() => this.out.end());
  }

  startStream(headers: Record<string, string>): void {
    this.out.startStream(headers);
    this.onStart(headers);
  }

  write(data: string): boolean {
    if (data === '[DONE]') {
      this.finishing = true;
      void this.onDone().catch(() => this.out.end());
      return true;
    }
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      return true;
    }
    return typeof chunk === 'object' && chunk !== null ? this.onChunk(chunk as Record<string, unknown>) : true;
  }

  /** The flow ends the stream right after `[DONE]`; the subclass ends it when its last event is out. */
  end(): void {
    if (!this.finishing) this.out.end();
  }

  fail(err: SwitchyardError, headers: Record<string, string> = {}, billed?: Usage): void {
    this.finishing = true;
    if (this.out.started) {
      this.onStreamError(err, billed);
      this.out.end();
      return;
    }
    this.out.json(err.status, { ...headers, ...err.headers }, JSON.stringify(this.errorBody(err)));
  }

  protected event(name: string, data: Record<string, unknown>): boolean {
    return this.out.writeEvent(name, JSON.stringify(data));
  }

  protected abstract errorBody(err: SwitchyardError): unknown;
  protected abstract onJson(status: number, headers: Record<string, string>, body: Record<string, unknown>): Promise<void>;
  protected abstract onStart(headers: Record<string, string>): void;
  protected abstract onChunk(chunk: Record<string, unknown>): boolean;
  /** After `[DONE]`: the last events, then `this.out.end()`. */
  protected abstract onDone(): Promise<void>;
  /** `billed`: what the ledger counts of the failed answer, when known. */
  protected abstract onStreamError(err: SwitchyardError, billed?: Usage): void;
}
