/**
 * Requests node:http's parser refuses before a request object exists (bad header bytes, a bad
 * Content-Length, obs-fold, an unknown method, oversized headers, a request or headers
 * timeout). There is no response object, so the answer is written to the socket by hand: a
 * proper HTTP/1.1 status with a JSON body when the socket still allows one (Anthropic's error
 * shape when the request line names the Messages API, else OpenAI's), else the socket is
 * destroyed. Never a throw: this runs outside any request's error handling.
 */
import type { Duplex } from 'node:stream';

interface ParserError extends Error {
  code?: string;
  /** The bytes the parser was given when it failed (node sets it on `HPE_*` errors). */
  rawPacket?: Buffer;
}

/**
 * Whether the refused request was for the Messages API (`/v1/messages…`), told by the request
 * line at the start of the bytes the parser failed on. Node hands over only the last chunk it
 * read, so a request whose head came in several reads (over a slow network) has no request line
 * there and is answered in OpenAI's shape, as is every other path.
 */
function refusedMessagesRequest(raw: Buffer | undefined): boolean {
  if (raw === undefined) return false;
  const line = /^[A-Z]{1,16} (\/[^ ?\r\n]*)/.exec(raw.subarray(0, 256).toString('latin1'));
  return line !== null && isMessagesPath(line[1]!);
}

/** A path of the Messages API, whose errors are in Anthropic's shape. */
export const isMessagesPath = (path: string): boolean => path === '/v1/messages' || path.startsWith('/v1/messages/');

/** Status and error code for a parser error code (llhttp `HPE_*`, node `ERR_HTTP_*`). */
export function clientErrorStatus(code: string | undefined): { status: number; reason: string; code: string } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'Request Header Fields Too Large', code: 'headers_too_large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { status: 408, reason: 'Request Timeout', code: 'request_timeout' };
    default:
      return { status: 400, reason: 'Bad Request', code: 'invalid_request' };
  }
}

const MESSAGES: Record<number, string> = {
  400: 'malformed HTTP request (the request line, a header or the framing could not be parsed)',
  408: 'the request was not received in time (server.requestTimeoutMs); the connection is closed',
  431: 'request headers are too large',
};

/**
 * Header fields a request may carry. Node's own count limit (`maxHeadersCount`) drops the fields
 * after its 1000th silently (a Host, Authorization or Content-Type after them was lost: a bare 400
 * for a missing Host, or a request served without its key), so the server keeps every field (its
 * limit is off; node's 16 KiB still bounds their bytes) and refuses more than this with a 431.
 */
export const MAX_HEADER_FIELDS = 1000;

/**
 * The JSON body of the 431 for a request with more than {@link MAX_HEADER_FIELDS} header fields:
 * OpenAI's error shape, or Anthropic's for the Messages API's paths (`anthropic`).
 */
export function headerCountBody(count: number, anthropic = false): string {
  const message = `${MESSAGES[431]}: ${count} header fields, over the limit of ${MAX_HEADER_FIELDS}; send fewer headers`;
  if (anthropic) return JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message } });
  return JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: 'headers_too_large' } });
}

/** The raw bytes of a complete HTTP/1.1 error response that closes the connection: OpenAI's error shape, or Anthropic's (`anthropic`). */
export function rawErrorResponse(status: number, reason: string, code: string, anthropic = false, text?: string): string {
  const message = text ?? MESSAGES[status] ?? reason;
  const body = JSON.stringify(
    anthropic ? { type: 'error', error: { type: 'invalid_request_error', message } } : { error: { message, type: 'invalid_request_error', param: null, code } },
  );
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

const isEmitter = (x: unknown): x is { once(ev: string, fn: () => void): unknown } => typeof (x as { once?: unknown }).once === 'function';

/** The `clientError` listener of the server. */
export function onClientError(err: ParserError, socket: Duplex, onLog: (code: string | undefined, status: number) => void): void {
  try {
    // A reset socket has no one to answer. A response under way is never corrupted: the refusal
    // waits for it (below).
    const inFlight = (socket as Duplex & { _httpMessage?: unknown })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const s = clientErrorStatus(err.code);
    onLog(err.code, s.status);
    const answer = rawErrorResponse(s.status, s.reason, s.code, refusedMessagesRequest(err.rawPacket));
    const refuse = (): void => {
      if (!socket.writable) return void socket.destroy();
      socket.end(answer);
      // A peer that never reads must not keep the socket open.
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    // Bytes pipelined behind a request still being served: that request is answered first (it
    // was whole and valid), then the refusal, then the connection closes. Ending the socket at
    // once cut it off and logged it as a client that went away.
    // Only when that request was whole: bytes refused inside its own body (a bad chunk) are its own error.
    const whole = (inFlight as { req?: { complete?: boolean } } | null | undefined)?.req?.complete === true;
    if (whole && (inFlight as { writableFinished?: boolean }).writableFinished !== true && isEmitter(inFlight)) {
      let done = false;
      const after = (): void => {
        if (done) return;
        done = true;
        refuse();
      };
      inFlight.once('finish', after);
      inFlight.once('close', after);
      return;
    }
    refuse();
  } catch {
    socket.destroy();
  }
}

/** The `connect` listener of the server: a CONNECT request gets a 405 in the API's own shape, and the connection is closed. */
export function refuseConnect(req: { url?: string }, socket: Duplex): void {
  try {
    const target = (req.url ?? '').slice(0, 200);
    socket.end(
      rawErrorResponse(
        405,
        'Method Not Allowed',
        'method_not_allowed',
        isMessagesPath(target.split('?')[0] ?? ''),
        'CONNECT is not supported: switchyard is an API endpoint, not a proxy; send POST /v1/chat/completions (or another /v1 route) to it',
      ),
    );
    setTimeout(() => socket.destroy(), 1000).unref();
  } catch {
    socket.destroy();
  }
}
