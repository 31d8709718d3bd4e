/**
 * Requests node:http's parser refuses before a request object exists (bad header bytes, a bad
 * Content-Length, obs-fold, an unknown method, oversized headers, a request or headers
 * timeout). There is no response object, so the answer is written to the socket by hand: a
 * proper HTTP/1.1 status with a JSON body when the socket still allows one (Anthropic's error
 * shape when the request line names the Messages API, else OpenAI's), else the socket is
 * destroyed. Never a throw: this runs outside any request's error handling.
 */
import type { Duplex } from 'node:stream';
import { allowedMethods } from './routes.js';
import { timeOrderedId } from './request-id.js';

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
export function headerCountBody(count: number, anthropic = false, requestId?: string): string {
  const message = `${MESSAGES[431]}: ${count} header fields, over the limit of ${MAX_HEADER_FIELDS}; send fewer headers`;
  if (anthropic)
    return JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message }, ...(requestId === undefined ? {} : { request_id: requestId }) });
  return JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: 'headers_too_large' } });
}

/** The raw bytes of a complete HTTP/1.1 error response that closes the connection: OpenAI's error shape, or Anthropic's (`anthropic`). */
export function rawErrorResponse(
  status: number,
  reason: string,
  code: string,
  anthropic = false,
  text?: string,
  extraHeaders = '',
  requestId?: string,
): string {
  const message = text ?? MESSAGES[status] ?? reason;
  const id = requestId === undefined ? {} : { request_id: requestId };
  const body = JSON.stringify(
    anthropic
      ? { type: 'error', error: { type: 'invalid_request_error', message }, ...id }
      : { error: { message, type: 'invalid_request_error', param: null, code } },
  );
  // A refusal of a request whose head was read (CONNECT) has an id, as every routed answer does; the byte-level ones (408, 431 from the parser) none.
  const ids = requestId === undefined ? '' : `x-request-id: ${requestId}\r\n${anthropic ? `request-id: ${requestId}\r\n` : ''}`;
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${ids}${extraHeaders}connection: close\r\n\r\n${body}`;
}

interface Emitter {
  once(ev: string, fn: () => void): unknown;
}

/** What the server keeps on a socket, read here (node:http's own fields, the same in node 20, 22 and 24). */
interface HttpSocket extends Duplex {
  /** The response writing to the socket now; node assigns the next queued one when it finishes. */
  _httpMessage?: { req?: { complete?: boolean }; writableFinished?: boolean } | null;
  /** The socket's parser; `incoming` is the last request whose head it parsed. */
  parser?: { incoming?: { url?: string; complete?: boolean } | null } | null;
}

/**
 * The response on the socket when it answers a whole request, else null. A request not whole is
 * the one the refused bytes (a bad chunk) or the timeout belong to. A response stays on the socket
 * until its 'finish' (node's listener detaches it and puts the next queued one on): one whose bytes
 * all went out already (`writableFinished`) has not emitted it yet when it ended in the same turn
 * as the refused bytes were parsed (pipelined requests answered at once), and the ones queued
 * behind it are put on the socket only then — ended before, they were lost (routed, billed, never
 * delivered).
 */
function servingWhole(socket: HttpSocket): Emitter | null {
  const res = socket._httpMessage;
  if (res == null || res.req?.complete !== true) return null;
  return typeof (res as Partial<Emitter>).once === 'function' ? (res as unknown as Emitter) : null;
}

/**
 * Calls `then` once every whole request before the refused bytes is answered. Node answers
 * pipelined requests in order: the response on the socket (`_httpMessage`) writes, the others
 * wait in the server's queue (not reachable from here), and when one finishes node puts the next
 * on the socket in its own 'finish' listener, registered before any of ours. So the wait follows
 * the socket's response from one to the next until none is left: waiting for the first alone
 * let `socket.end()` cut off the answers still queued (routed and billed, never delivered).
 */
function afterWholeAnswered(socket: HttpSocket, then: () => void): void {
  const res = servingWhole(socket);
  if (res === null) return then();
  let done = false;
  const next = (): void => {
    if (done) return;
    done = true;
    // After node's own listeners of this turn (the next queued response is on the socket then).
    process.nextTick(() => afterWholeAnswered(socket, then));
  };
  res.once('finish', next);
  res.once('close', next);
}

/**
 * Whether the refused request is one of the Messages API: by its request line when node had
 * parsed its head (a body that broke or came too late: the request exists, though the refusal
 * is written by hand), else by the bytes the parser failed on.
 */
function refusedMessages(err: ParserError, socket: HttpSocket): boolean {
  const incoming = socket.parser?.incoming;
  if (incoming != null && incoming.complete !== true && typeof incoming.url === 'string') return isMessagesPath(incoming.url.split('?', 1)[0]!);
  return refusedMessagesRequest(err.rawPacket);
}

/** Sockets already being refused: node reports each later chunk of bytes it cannot parse again. */
const refusing = new WeakSet<Duplex>();

/** The `clientError` listener of the server. */
/** Sockets node's request or headers timeout ended: their request's read fails as `aborted` after the 408 was written. */
const timedOut = new WeakSet<Duplex>();

/** Whether node's request timeout ended this socket (its client got the 408 written here). */
export const requestTimedOut = (socket: Duplex | null): boolean => socket !== null && timedOut.has(socket);

export function onClientError(err: ParserError, socket: Duplex, onLog: (code: string | undefined, status: number) => void): void {
  try {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT') timedOut.add(socket);
    const http = socket as HttpSocket;
    // Bytes after a request with `Connection: close` (RFC 9112 §9.6): that request and those before
    // it are answered, what follows is ignored, not refused; node closes the connection after the
    // last answer. Its socket may still be flushing that answer: it is not destroyed here.
    if (err.code === 'HPE_CLOSED_CONNECTION') {
      if (refusing.has(socket) || !socket.writable) return;
      refusing.add(socket);
      afterWholeAnswered(http, () => {
        if (socket.writable) socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      });
      return;
    }
    // A reset socket has no one to answer.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (refusing.has(socket)) return;
    refusing.add(socket);
    const s = clientErrorStatus(err.code);
    onLog(err.code, s.status);
    const answer = rawErrorResponse(s.status, s.reason, s.code, refusedMessages(err, http));
    // Bytes pipelined behind whole requests: those are answered first, in order (each was whole
    // and valid, and is routed and billed), then the refusal, then the connection closes.
    // Bytes refused inside a request's own body (a bad chunk) are that request's error: it is
    // not waited for.
    afterWholeAnswered(http, () => {
      // A response before it closed the connection (`connection: close`): node is ending the
      // socket after its last bytes; destroyed later, not cut now.
      if (!socket.writable) return void setTimeout(() => socket.destroy(), 1000).unref();
      socket.end(answer);
      // A peer that never reads must not keep the socket open.
      setTimeout(() => socket.destroy(), 1000).unref();
    });
  } catch {
    socket.destroy();
  }
}

/** The `connect` listener of the server: a CONNECT request gets a 405 in the API's own shape, and the connection is closed. */
export function refuseConnect(req: { url?: string }, socket: Duplex): void {
  try {
    const target = (req.url ?? '').slice(0, 200);
    const path = target.split('?')[0] ?? '';
    // A 405 names what the resource takes (RFC 9110 §15.5.6): the route's methods, or, for a target
    // that is no route (CONNECT's usual host:port), the methods switchyard serves at all.
    const allow = (allowedMethods(path) ?? ['GET', 'HEAD', 'POST', 'DELETE']).join(', ');
    const answer = rawErrorResponse(
      405,
      'Method Not Allowed',
      'method_not_allowed',
      isMessagesPath(path),
      'CONNECT is not supported: switchyard is an API endpoint, not a proxy; send POST /v1/chat/completions (or another /v1 route) to it',
      `allow: ${allow}\r\n`,
      timeOrderedId(),
    );
    // Whole requests pipelined ahead of it are answered first, in order, as before a parser refusal
    // (ended at once, they were lost: routed, billed at their reservation as 499).
    afterWholeAnswered(socket as HttpSocket, () => {
      if (socket.writable) socket.end(answer);
      setTimeout(() => socket.destroy(), 1000).unref();
    });
  } catch {
    socket.destroy();
  }
}
