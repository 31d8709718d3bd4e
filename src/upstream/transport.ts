/**
 * Sending one attempt over an undici Pool and turning every way it can fail into an
 * UpstreamFault. The caller's AbortSignal carries the reason (deadline, client gone, a
 * stream time limit) as an UpstreamFault, so an abort is classified by why it happened.
 *
 * The request goes out with `pool.dispatch` and a handler of its own ({@link UpstreamCall}),
 * not `pool.request`: that one wraps the body in a Readable stream (and an AsyncResource) that
 * is then read chunk by chunk, with a promise per chunk when iterated. Here the body's chunks go
 * straight to one consumer (the whole text, or the stream reader), synchronously.
 */
import { ByteCollector } from './byte-collector.js';
import { HeldShare, heldOverMessage } from './held-bytes.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher, Pool } from 'undici';
import type { CancelSignal } from '../runtime/cancel.js';
import { OversizeFault, SidecarBusyFault, UpstreamFault, type UpstreamHttpRequest } from './types.js';

export interface SendOptions {
  headersTimeoutMs: number;
  /** The attempt's own signal (an AbortSignal or a runtime `Cancel`). */
  signal: CancelSignal;
  /**
   * Aborts whatever is behind `signal` (the attempt's own): the headers limit ends the attempt
   * through it, without a second controller and an `AbortSignal.any` per attempt.
   */
  abort: (reason: UpstreamFault) => void;
  /** Called when the request starts going out on a connection: from then on the upstream may have it (and bill it). */
  onSent?: () => void;
  /** Called with the final response status, when its headers arrive. */
  onStatus?: (statusCode: number) => void;
}

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
    case 'EMFILE':
    case 'ENFILE':
      // This process (or the host) is out of file descriptors: no upstream's fault, and every endpoint meets it.
      return new SidecarBusyFault(
        `switchyard is out of file descriptors (${code}) and cannot open a connection upstream: raise its open-files limit (ulimit -n, systemd LimitNOFILE) or close idle client connections`,
      );
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return new UpstreamFault('reset', `the upstream closed the connection (${code})`);
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      // The handshake met a server that speaks no TLS: nothing was sent, and asking again gets the same.
      return new UpstreamFault(
        'connect_failed',
        `the upstream did not answer TLS (${code}): its base URL says https:// for a server that speaks plain http:// (or the port is wrong)`,
      );
    default:
      if (CERT_REFUSED.has(code))
        // The certificate will be refused on every try: fail over without the quick retry a reset gets.
        return new UpstreamFault(
          'connect_failed',
          `the upstream's TLS certificate was refused (${code}: ${msg.slice(0, 200)}); for a private CA, give its certificate in NODE_EXTRA_CA_CERTS`,
        );
      return new UpstreamFault('reset', `upstream transport error: ${msg}`);
  }
}

/** Node's codes for a certificate its TLS handshake refuses (OpenSSL's verify errors, and a name the certificate does not cover). */
const CERT_REFUSED: ReadonlySet<string> = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/** undici's own timeouts tick every ~0.5 s; its headersTimeout is only a backstop this much later. */
const UNDICI_BACKSTOP_MS = 1000;

/**
 * Who reads a response body: each chunk as it arrives, then its end or its failure (exactly one
 * of the two, once). `data` returns a promise when the consumer cannot take more yet (a slow
 * client): the upstream is paused until it settles, and nothing else is delivered before. The
 * promise must not reject (a consumer handles its own failures).
 */
export interface BodyConsumer {
  data(chunk: Buffer): Promise<void> | undefined;
  end(): void;
  error(err: unknown): void;
}

const DISCARD: BodyConsumer = { data: () => undefined, end: () => undefined, error: () => undefined };

/**
 * One request in flight: undici's handler, the response once its headers arrived (status and
 * headers as `pool.request` gives them), and its body handed to one {@link BodyConsumer}. Chunks
 * that arrive before a consumer is attached (or while it is busy) are kept, in order. An abort of
 * the attempt's signal ends the request with the signal's reason, before the headers or mid-body
 * (also when the upstream finished but the consumer has not had it all: as a destroyed body stream).
 */
export class UpstreamCall implements Dispatcher.DispatchHandler, TextOwner {
  statusCode = 0;
  headers: IncomingHttpHeaders = {};
  /** The whole body, when sent by {@link sendWhole} (resolved once it is read). */
  text = '';
  /** Resolves at the response headers; rejects (classified) when the request fails before them. */
  readonly response: Promise<UpstreamCall>;
  private resolveHeaders: ((r: UpstreamCall) => void) | null = null;
  private rejectHeaders: ((err: unknown) => void) | null = null;
  private controller: Dispatcher.DispatchController | null = null;
  private timer: NodeJS.Timeout | undefined;
  private consumer: BodyConsumer | null = null;
  /** Chunks not handed over yet (no consumer yet, or it is busy). */
  private queue: Buffer[] | null = null;
  private busy = false;
  /** Inside the consumer's `data` (it may swap consumers there: the swap must not hand over re-entrantly). */
  private handing = false;
  /** The upstream ended the body (handed over once the queue is). */
  private ended = false;
  /** The body failed (handed over after the busy consumer settles, instead of what is queued). */
  private failed = false;
  private failure: unknown = undefined;
  /** The consumer got its end or its failure; the upstream side is complete. */
  private finished = false;
  private upstreamDone = false;
  /** See {@link SendOptions.onSent}. */
  onSent: (() => void) | undefined = undefined;
  /** See {@link SendOptions.onStatus}. */
  onStatus: ((statusCode: number) => void) | undefined = undefined;

  constructor(
    private readonly signal: CancelSignal,
    private readonly headersTimeoutMs: number,
    private readonly abortWith: (reason: UpstreamFault) => void,
    /** >= 0: read the whole body (with this idle limit, 0 none) before `response` resolves. */
    private readonly wholeIdleMs = -1,
  ) {
    this.response = new Promise<UpstreamCall>((resolve, reject) => {
      this.resolveHeaders = resolve;
      this.rejectHeaders = reject;
    });
    signal.addEventListener('abort', this.onAbort);
  }

  private readonly onAbort = (): void => {
    this.abort(this.signal.reason);
  };

  /** Ends the request (or, once the upstream completed, the body not yet consumed) with `reason`. */
  abort(reason: unknown): void {
    if (this.finished) return;
    // Not connected yet (queued in the pool): onRequestStart aborts it, as the signal is aborted by then.
    if (!this.upstreamDone && this.controller !== null) this.controller.abort(reason as Error);
    else if (this.upstreamDone) this.fail(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.signal.aborted) {
      controller.abort(this.signal.reason as Error);
      return;
    }
    // The headers limit starts when a connection takes the request: a wait for a free connection
    // in the pool is switchyard's, not the upstream's silence (it timed out and blamed the endpoint).
    // A native timer: undici's headersTimeout uses a coarse clock and fires up to ~0.5 s early or late.
    if (this.timer === undefined && this.statusCode === 0) {
      const ms = this.headersTimeoutMs;
      this.timer = setTimeout(() => this.abortWith(new UpstreamFault('headers_timeout', `no response headers within ${ms} ms`)), ms);
    }
    this.onSent?.();
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx informational answers: the response is still to come.
    if (statusCode < 200) return;
    this.statusCode = statusCode;
    this.headers = headers;
    this.onStatus?.(statusCode);
    clearTimeout(this.timer);
    if (this.wholeIdleMs >= 0) {
      this.consume(new TextReader(this, this.signal, statusCode >= 300 ? ERROR_BODY_LIMIT_BYTES : BODY_LIMIT_BYTES, this.wholeIdleMs, this));
      return;
    }
    const resolve = this.resolveHeaders;
    this.resolveHeaders = this.rejectHeaders = null;
    resolve?.(this);
  }

  /** {@link sendWhole}: the body is read. */
  textRead(text: string): void {
    this.text = text;
    const resolve = this.resolveHeaders;
    this.resolveHeaders = this.rejectHeaders = null;
    resolve?.(this);
  }

  /** {@link sendWhole}: the body failed; an error status is still an answer (its status is enough). */
  textFailed(fault: UpstreamFault): void {
    if (this.statusCode >= 300) return this.textRead('');
    const reject = this.rejectHeaders;
    this.resolveHeaders = this.rejectHeaders = null;
    reject?.(fault);
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.consumer === null || this.busy || this.queue !== null) (this.queue ??= []).push(chunk);
    else this.hand(chunk);
  }

  onResponseEnd(): void {
    this.upstreamDone = true;
    this.ended = true;
    if (this.consumer !== null && !this.busy && this.queue === null) this.complete();
  }

  onResponseError(_c: Dispatcher.DispatchController | undefined, err: Error): void {
    this.upstreamDone = true;
    // Before the response headers (statusCode is set with them).
    if (this.statusCode === 0) {
      clearTimeout(this.timer);
      const reject = this.rejectHeaders;
      this.resolveHeaders = this.rejectHeaders = null;
      this.signal.removeEventListener('abort', this.onAbort);
      this.finished = true;
      reject?.(classifyError(err, this.signal));
      return;
    }
    this.fail(err);
  }

  /** Reads the body with `consumer` (once); what arrived before is handed over first. */
  consume(consumer: BodyConsumer): void {
    this.consumer = consumer;
    if (!this.busy && !this.handing) this.flush();
  }

  /** The rest of the body is not needed: read to its end (the connection is kept) and dropped; failures ignored. */
  discard(): void {
    this.consume(DISCARD);
  }

  private hand(chunk: Buffer): void {
    this.handing = true;
    let wait: Promise<void> | undefined;
    try {
      wait = (this.consumer as BodyConsumer).data(chunk);
    } finally {
      this.handing = false;
    }
    if (wait === undefined) return;
    this.busy = true;
    this.controller?.pause();
    void wait.then(this.settled);
  }

  private readonly settled = (): void => {
    this.busy = false;
    this.flush();
  };

  /** Hands over what waits (chunks, then the end or the failure) until the consumer is busy; else lets the upstream go on. */
  private flush(): void {
    if (this.failed) {
      this.queue = null;
      this.complete();
      return;
    }
    const q = this.queue;
    if (q !== null) {
      let i = 0;
      while (i < q.length && !this.busy) this.hand(q[i++]!);
      if (this.failed && !this.busy) {
        this.queue = null;
        this.complete();
        return;
      }
      if (i < q.length) {
        q.splice(0, i);
        return;
      }
      this.queue = null;
      if (this.busy) return;
    }
    if (this.ended) this.complete();
    else if (this.controller?.paused === true) this.controller.resume();
  }

  private fail(err: unknown): void {
    if (this.failed || this.finished) return;
    this.failed = true;
    this.failure = err;
    if (this.consumer !== null && !this.busy) {
      this.queue = null;
      this.complete();
    }
  }

  /** The consumer's end or failure, once. */
  private complete(): void {
    if (this.finished) return;
    this.finished = true;
    this.signal.removeEventListener('abort', this.onAbort);
    const c = this.consumer as BodyConsumer;
    if (this.failed) c.error(this.failure);
    else c.end();
  }
}

export type UpstreamResponse = UpstreamCall;

/** Send the request; resolves when response headers arrive (within `headersTimeoutMs`). */
export function send(pool: Pool, req: UpstreamHttpRequest, opts: SendOptions): Promise<UpstreamResponse> {
  const call = new UpstreamCall(opts.signal, opts.headersTimeoutMs, opts.abort);
  call.onSent = opts.onSent;
  dispatch(pool, req, opts, call);
  return call.response;
}

/**
 * Asks for the body uncoded: without Accept-Encoding any content coding is acceptable (RFC 9110
 * §12.5.3) and nothing here decodes one; a gzipping gateway's answer was read as "upstream answer
 * is not JSON". A provider header asking for a coding is replaced. The headers are the attempt's
 * own (each adapter builds them per request), so they are set in place.
 */
function identityOnly(headers: Record<string, string>): Record<string, string> {
  for (const name in headers) if (name !== 'accept-encoding' && name.toLowerCase() === 'accept-encoding') delete headers[name];
  headers['accept-encoding'] = 'identity';
  return headers;
}

function dispatch(pool: Pool, req: UpstreamHttpRequest, opts: SendOptions, call: UpstreamCall): void {
  pool.dispatch(
    {
      path: req.path,
      method: 'POST',
      headers: identityOnly(req.headers),
      body: req.body,
      headersTimeout: opts.headersTimeoutMs + UNDICI_BACKSTOP_MS,
      bodyTimeout: 0,
    },
    call,
  );
}

/** Who is told the outcome of a {@link TextReader}. */
interface TextOwner {
  textRead(text: string): void;
  textFailed(fault: UpstreamFault): void;
}

/** Reads a whole body as text (see {@link readText}); tells its owner the text or the fault, once. */
class TextReader implements BodyConsumer {
  private readonly body: ByteCollector;
  private settled = false;
  private readonly idle: NodeJS.Timeout | undefined;

  constructor(
    private readonly call: UpstreamCall,
    private readonly signal: CancelSignal,
    private readonly limitBytes: number,
    idleMs: number,
    private readonly owner: TextOwner,
  ) {
    this.body = new ByteCollector(limitBytes, NaN, new HeldShare());
    this.idle = idleMs > 0 ? setTimeout(() => call.abort(new UpstreamFault('idle_timeout', `upstream body silent for ${idleMs} ms`)), idleMs) : undefined;
  }

  data(chunk: Buffer): undefined {
    if (this.settled) return undefined;
    this.idle?.refresh();
    if (this.body.add(chunk)) return undefined;
    const f = this.body.overShared
      ? new SidecarBusyFault(heldOverMessage(this.body.size + chunk.length))
      : new OversizeFault(`upstream body larger than ${this.limitBytes} bytes`);
    this.error(f);
    this.call.abort(f);
    return undefined;
  }

  end(): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.idle);
    const text = this.body.bytes().toString('utf8');
    this.body.release();
    this.owner.textRead(text);
  }

  error(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.idle);
    this.body.release();
    const f = classifyError(err, this.signal);
    this.owner.textFailed(f.kind === 'reset' ? new UpstreamFault('stream_cut', 'the upstream body was cut short') : f);
  }
}

/**
 * Read a whole (small) body as text; a failure mid-body is a fault of the upstream, and so is
 * a body that stays silent for `idleMs` (0: no limit) half way, or one larger than `limitBytes`.
 */
export function readText(res: UpstreamResponse, signal: CancelSignal, limitBytes = BODY_LIMIT_BYTES, idleMs = 0): Promise<string> {
  return new Promise<string>((resolve, reject) => res.consume(new TextReader(res, signal, limitBytes, idleMs, { textRead: resolve, textFailed: reject })));
}

/** A whole body's size limit: an answer's, or an error status's (only its message is read). */
export const BODY_LIMIT_BYTES = 16 * 1024 * 1024;
export const ERROR_BODY_LIMIT_BYTES = 256 * 1024;

/**
 * Send the request and read its whole body (a JSON answer): one promise for both, resolved with
 * the call once the body is in `text` — `send` then `readText` in one step. Fails as `send`
 * before the headers, as `readText` after them; an error status (>= 300) resolves even when its
 * body fails (`text` is then ''), as only its status is needed then.
 */
export function sendWhole(pool: Pool, req: UpstreamHttpRequest, opts: SendOptions, idleMs: number): Promise<UpstreamResponse> {
  const call = new UpstreamCall(opts.signal, opts.headersTimeoutMs, opts.abort, idleMs);
  call.onSent = opts.onSent;
  call.onStatus = opts.onStatus;
  dispatch(pool, req, opts, call);
  return call.response;
}

/** Drain and discard a body we do not need, without throwing. */
export function discard(res: UpstreamResponse): void {
  res.discard();
}
