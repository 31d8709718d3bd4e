/**
 * A ChatSink that holds a cascade step's whole answer instead of sending it: the client sees
 * no byte of a step whose answer fails its checks. The held answer is replayed to the real
 * sink, unchanged but for the headers the cascade adds. Memory is bounded by the answer
 * itself (a model's `maxOutputTokens`).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { SwitchyardError } from '../errors.js';
import type { ChatSink, NativeSink } from './api.js';
import type { CancelSignal } from './cancel.js';

/**
 * `native`: the upstream's own answer, relayed (a Messages request answered by an Anthropic-kind
 * endpoint): a Messages body, or its stream's events — `names[i]` is `events[i]`'s event name.
 */
export type Held =
  | { kind: 'json'; status: number; headers: Record<string, string>; body: string; native?: true }
  | { kind: 'stream'; headers: Record<string, string>; events: string[]; error: SwitchyardError | null; names?: string[] }
  | { kind: 'fail'; error: SwitchyardError; headers: Record<string, string> }
  | { kind: 'none' };

export class BufferSink implements ChatSink {
  held: Held = { kind: 'none' };
  /**
   * When the step's stream would have started for the client (its first content), epoch ms: the
   * first attempt's, kept when a failed attempt's stream is forgotten (`restart`), since a plain
   * request's client would have had its bytes from then on.
   */
  streamStartedAt: number | null = null;

  /** Present when the real sink relays upstreams' own answers (Messages): those are held as they are, too. */
  readonly native?: NativeSink;

  constructor(
    private readonly real: ChatSink,
    private readonly now: () => number,
  ) {
    if (real.native !== undefined)
      this.native = {
        json: (status, headers, body) => {
          this.held = { kind: 'json', status, headers, body, native: true };
        },
        startStream: (headers) => {
          this.streamStartedAt ??= this.now();
          this.held = { kind: 'stream', headers, events: [], error: null, names: [] };
        },
        event: (name, data) => {
          if (this.held.kind === 'stream') {
            this.held.names?.push(name);
            this.held.events.push(data);
          }
          return true;
        },
      };
  }

  get signal(): CancelSignal {
    return this.real.signal;
  }

  get started(): boolean {
    return this.held.kind === 'stream';
  }

  json(status: number, headers: Record<string, string>, body: string): void {
    this.held = { kind: 'json', status, headers, body };
  }

  startStream(headers: Record<string, string>): void {
    this.streamStartedAt ??= this.now();
    this.held = { kind: 'stream', headers, events: [], error: null };
  }

  write(data: string): boolean {
    if (this.held.kind === 'stream') this.held.events.push(data);
    return true;
  }

  drain(): Promise<void> {
    return Promise.resolve();
  }

  end(): void {}

  restart(): void {
    this.held = { kind: 'none' };
  }

  fail(err: SwitchyardError, headers: Record<string, string> = {}): void {
    if (this.held.kind === 'stream') this.held.error = err;
    else this.held = { kind: 'fail', error: err, headers };
  }
}

/**
 * Held events replayed between two turns of the event loop: a sink that takes each event without
 * asking for a drain (it batches writes) would otherwise take a long answer's all at once (200,000
 * deltas held the loop 3.4 s on the Responses API, whose events are translated one by one).
 */
export const REPLAY_SLICE = 1024;

/** Sends a held answer to the client with extra headers (they win over the step's own). */
export async function replay(held: Held, sink: ChatSink, extra: Record<string, string>, events?: string[]): Promise<void> {
  switch (held.kind) {
    case 'json':
      if (held.native) return nativeOf(sink).json(held.status, { ...held.headers, ...extra }, held.body);
      return sink.json(held.status, { ...held.headers, ...extra }, held.body);
    case 'fail':
      return sink.fail(held.error, { ...held.headers, ...extra });
    case 'stream':
      if (held.names !== undefined) {
        const native = nativeOf(sink);
        native.startStream({ ...held.headers, ...extra });
        for (let i = 0; i < held.events.length; i++) {
          if (!native.event(held.names[i]!, held.events[i]!)) await sink.drain();
          else if ((i + 1) % REPLAY_SLICE === 0) await nextTurn();
        }
      } else {
        sink.startStream({ ...held.headers, ...extra });
        const all = events ?? held.events;
        for (let i = 0; i < all.length; i++) {
          if (!sink.write(all[i]!)) await sink.drain();
          else if ((i + 1) % REPLAY_SLICE === 0) await nextTurn();
        }
      }
      if (held.error) sink.fail(held.error);
      else sink.end();
      return;
    case 'none':
      return;
  }
}

function nativeOf(sink: ChatSink): NativeSink {
  if (sink.native === undefined) throw new Error('a relayed answer held for a sink that cannot relay');
  return sink.native;
}
