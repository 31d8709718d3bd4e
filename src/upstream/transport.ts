/**
 * Sending one attempt over an undici Pool and turning every way it can fail into an
 * UpstreamFault. The caller's AbortSignal carries the reason (deadline, client gone, a
 * stream time limit) as an UpstreamFault, so an abort is classified by why it happened.
 */
import type { Dispatcher, Pool } from 'undici';
import type { CancelSignal } from '../runtime/cancel.js';
import { UpstreamFault, type UpstreamHttpRequest } from './types.js';

export interface SendOptions {
  headersTimeoutMs: number;
  /** The attempt's own signal (an AbortSignal or a runtime `Cancel`). */
  signal: CancelSignal;
  /**
   * Aborts whatever is behind `signal` (the attempt's own): the headers limit ends the attempt
   * through it, without a second controller and an `AbortSignal.any` per attempt.
   */
  abort: (reason: UpstreamFault) => void;
}

export type UpstreamResponse = Dispatcher.ResponseData;

export function classifyError(err: unknown, signal: CancelSignal): UpstreamFault {
  if (signal.aborted && signal.reason instanceof UpstreamFault) return signal.reason;
  if (err instanceof UpstreamFault) return err;
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code ?? '';
  const msg = e?.message ?? String(err);
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new UpstreamFault('headers_timeout', 'no response headers within the time limit');
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new UpstreamFault('connect_timeout', 'connecting to the upstream timed out');
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new UpstreamFault('connect_failed', `cannot connect to the upstream (${code})`);
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return new UpstreamFault('reset', `the upstream closed the connection (${code})`);
    default:
      return new UpstreamFault('reset', `upstream transport error: ${msg}`);
  }
}

/** undici's own timeouts tick every ~0.5 s; its headersTimeout is only a backstop this much later. */
const UNDICI_BACKSTOP_MS = 1000;

/**
 * Send the request; resolves when response headers arrive. The headers limit runs on a native
 * timer: undici's headersTimeout uses a coarse clock and fires up to ~0.5 s early or late.
 */
export async function send(pool: Pool, req: UpstreamHttpRequest, opts: SendOptions): Promise<UpstreamResponse> {
  const limit = (): UpstreamFault => new UpstreamFault('headers_timeout', `no response headers within ${opts.headersTimeoutMs} ms`);
  const { signal, abort } = opts;
  const timer = setTimeout(() => abort(limit()), opts.headersTimeoutMs);
  try {
    return await pool.request({
      path: req.path,
      method: 'POST',
      headers: req.headers,
      body: req.body,
      // undici takes any object with `addEventListener` (or an EventEmitter) as a request's signal.
      signal: signal as AbortSignal,
      headersTimeout: opts.headersTimeoutMs + UNDICI_BACKSTOP_MS,
      bodyTimeout: 0,
    });
  } catch (err) {
    throw classifyError(err, signal);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Read a whole (small) body as text; a failure mid-body is a fault of the upstream, and so is
 * a body that stays silent for `idleMs` (0: no limit) half way. Read with `data`/`end` listeners,
 * not `for await`: an async iterator costs a promise and a result object per chunk and ~5 KB of
 * garbage per body (a heap sampling profile of the JSON path).
 */
export function readText(res: UpstreamResponse, signal: CancelSignal, limitBytes = 16 * 1024 * 1024, idleMs = 0): Promise<string> {
  const body = res.body;
  return new Promise<string>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let settled = false;
    const idle = idleMs > 0 ? setTimeout(() => body.destroy(new UpstreamFault('idle_timeout', `upstream body silent for ${idleMs} ms`)), idleMs) : undefined;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      const f = classifyError(err, signal);
      reject(f.kind === 'reset' ? new UpstreamFault('stream_cut', 'the upstream body was cut short') : f);
    };
    // Listeners stay attached once settled (a late 'error' must still find one); they do nothing then.
    body.on('data', (chunk: Buffer) => {
      if (settled) return;
      idle?.refresh();
      size += chunk.length;
      if (size > limitBytes) {
        fail(new UpstreamFault('bad_response', `upstream body larger than ${limitBytes} bytes`));
        body.destroy();
        return;
      }
      parts.push(chunk);
    });
    body.on('end', () => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      resolve(parts.length === 1 ? parts[0]!.toString('utf8') : Buffer.concat(parts).toString('utf8'));
    });
    body.on('error', fail);
    // Closed without an end or an error (destroyed): cut short, as `for await` reports it.
    body.on('close', () => fail(new Error('premature close')));
  });
}

/** Drain and discard a body we do not need, without throwing. */
export function discard(res: UpstreamResponse): void {
  res.body.resume();
  res.body.on('error', () => undefined);
}
