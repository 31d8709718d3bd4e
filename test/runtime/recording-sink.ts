/** A ChatSink that records what a stream writes (for the stream tests); `<start>` marks startStream when asked. */
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
