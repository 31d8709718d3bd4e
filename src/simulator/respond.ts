import type { ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { Fault } from './faults.js';
import type { ModelSettings } from './profile.js';
import type { Answer, SimError, SimRequestLogEntry, Wire } from './types.js';

/** The one deliberately broken event of the `malformed_chunk` fault. */
export const MALFORMED_EVENT = 'data: {this is not json\n\n';

/**
 * Set when the client leaves before the response finished; cancels pending timers. The
 * AbortController is made only when a timer needs it (one per request is measurable in benchmarks).
 */
export class ClientGone {
  private controller: AbortController | undefined;
  gone = false;

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  abort(): void {
    this.gone = true;
    this.controller?.abort();
  }
}

/** Waits on a timer; false when the client went away meanwhile. */
export async function sleep(ms: number, gone: ClientGone): Promise<boolean> {
  if (gone.gone) return false;
  if (ms <= 0) return true;
  try {
    await delay(ms, undefined, { signal: gone.signal });
    return true;
  } catch {
    return false;
  }
}

/** Writes and resolves once the bytes are handed to the socket (so a destroy after it loses nothing). */
function writeFlushed(res: ServerResponse, data: string): Promise<void> {
  return new Promise((resolve) => {
    if (data.length === 0 || res.destroyed) resolve();
    else res.write(data, () => resolve());
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, wire: Wire, err: SimError, entry: SimRequestLogEntry, headers: Record<string, string> = {}): void {
  entry.status = err.status;
  sendJson(res, err.status, wire.errorBody(err), headers);
}

/** Everything needed to deliver one answer. */
export interface Delivery {
  res: ServerResponse;
  wire: Wire;
  answer: Answer;
  settings: ModelSettings;
  /** A fault still to act on (only the kinds that shape a 200 answer reach here). */
  fault: Fault | null;
  /** Whether usage goes out (non-stream body field, OpenAI usage chunk, Anthropic usage fields). */
  usage: boolean;
  headers: Record<string, string>;
  entry: SimRequestLogEntry;
  gone: ClientGone;
}

function extraFirstTokenDelay(fault: Fault | null): number {
  return fault?.kind === 'slow_first_token' ? fault.delayMs : 0;
}

/** Non-streaming: wait as long as the stream would have taken, then the whole body. */
export async function deliverJson(d: Delivery): Promise<void> {
  const { res, answer, settings, fault } = d;
  const wait = settings.ttftMs + extraFirstTokenDelay(fault) + settings.tokenGapMs * answer.pieces.length;
  if (!(await sleep(wait, d.gone))) return;
  const body = Buffer.from(JSON.stringify(d.wire.json(answer, d.usage)));
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, ...d.headers });
  d.entry.status = 200;
  if (fault?.kind === 'cut' || fault?.kind === 'stall') {
    // Promise a full body, deliver half: a cut connection or one that goes silent.
    res.write(body.subarray(0, Math.floor(body.length / 2)), () => {
      if (fault.kind === 'cut') res.socket?.destroy();
    });
    return;
  }
  res.end(body);
}

/** Where a token-counted stream fault fires: after N content pieces, at most all of them. */
function faultPoint(fault: Fault | null, pieces: number): number {
  switch (fault?.kind) {
    case 'cut':
    case 'stall':
    case 'malformed_chunk':
    case 'stream_error_event':
      return Math.min(fault.afterTokens, pieces);
    default:
      return -1;
  }
}

/**
 * Streaming: headers and the opening events at once, the first content piece after ttft,
 * then one piece per token gap. Pieces due without a wait are batched into one write.
 */
export async function deliverStream(d: Delivery): Promise<void> {
  const { res, wire, answer, settings, fault, gone } = d;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...d.headers,
  });
  d.entry.status = 200;
  let pending = wire.streamStart(answer, d.usage);
  const flush = (): void => {
    if (pending.length > 0 && !res.destroyed) res.write(pending);
    pending = '';
  };
  const firstDelay = settings.ttftMs + extraFirstTokenDelay(fault);
  if (firstDelay > 0) {
    flush();
    if (!(await sleep(firstDelay, gone))) return;
  }
  const at = faultPoint(fault, answer.pieces.length);
  for (let i = 0; i <= answer.pieces.length; i++) {
    if (i === at && fault !== null) {
      if (fault.kind === 'cut') {
        await writeFlushed(res, pending);
        res.socket?.destroy();
        return;
      }
      if (fault.kind === 'stall') {
        flush();
        return;
      }
      if (fault.kind === 'stream_error_event') {
        if (!res.destroyed) res.end(pending + wire.streamError());
        return;
      }
      pending += MALFORMED_EVENT;
    }
    if (i === answer.pieces.length) break;
    if (i > 0 && settings.tokenGapMs > 0) {
      flush();
      if (!(await sleep(settings.tokenGapMs, gone))) return;
    }
    pending += wire.streamPiece(answer, answer.pieces[i]!);
  }
  pending += wire.streamEnd(answer, { usage: d.usage, terminator: fault?.kind !== 'no_done' });
  if (!res.destroyed) res.end(pending);
}
