/**
 * The one error catalog: every error switchyard itself produces has a stable code, an HTTP
 * status and an OpenAI-shaped body (`{"error":{"message","type","param","code"}}`).
 */
import { scrub } from './observe/scrub.js';

export const ERROR_CATALOG = {
  invalid_request: { status: 400, type: 'invalid_request_error' },
  model_not_found: { status: 400, type: 'invalid_request_error' },
  invalid_api_key: { status: 401, type: 'authentication_error' },
  admin_token_required: { status: 401, type: 'authentication_error' },
  /** A client key asked for a model its `auth.keys[].models` does not list, or a route/`auto` none of whose models it lists. */
  model_not_allowed: { status: 403, type: 'permission_error' },
  not_found: { status: 404, type: 'invalid_request_error' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  /** A browser request for another site, or a loopback sidecar reached by a re-bound name (src/http/cross-site.ts). */
  cross_site_request: { status: 403, type: 'permission_error' },
  /** The request (headers and body) did not arrive within `server.requestTimeoutMs`: node answers the 408 itself, this is what the metrics and the log line say. */
  request_timeout: { status: 408, type: 'invalid_request_error' },
  body_too_large: { status: 413, type: 'invalid_request_error' },
  budget_exceeded: { status: 429, type: 'budget_exceeded' },
  /** Never sent (the client is gone): what the ledger row, the log line, the metrics and the span of a request whose client left say (nginx's 499). */
  client_closed_request: { status: 499, type: 'invalid_request_error' },
  rate_limited: { status: 429, type: 'rate_limit_error' },
  internal_error: { status: 500, type: 'server_error' },
  upstream_error: { status: 502, type: 'upstream_error' },
  no_endpoint_available: { status: 503, type: 'service_unavailable' },
  shared_state_unavailable: { status: 503, type: 'service_unavailable' },
  shutting_down: { status: 503, type: 'service_unavailable' },
  /** Request bodies being read hold their process-wide limit (src/upstream/held-bytes.ts). */
  server_busy: { status: 503, type: 'service_unavailable' },
  storage_unavailable: { status: 503, type: 'service_unavailable' },
  timeout: { status: 504, type: 'timeout_error' },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error with a place in the catalog, or an upstream's own client error passed through. */
export class SwitchyardError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string;
  /** The body's `code`: an upstream's own, null where it gave none (OpenAI's `code: null`); else `code`. */
  private readonly bodyCode: string | null;
  readonly param: string | null;
  readonly headers: Record<string, string>;
  /** Anthropic's `error.details` (`error_code`…), given in the Messages API's error body; the OpenAI shape has no place for it. */
  readonly details: Record<string, unknown> | null;
  /** The last upstream error's own type (`overloaded_error`…), for the Messages API's error body, whose clients retry by it. */
  readonly upstreamType: string | null;
  /** An upstream's own error text quoted in the message (it may quote the prompt): left out of info log lines, see {@link loggedMessage}. */
  readonly upstreamText: string | null;
  /** The last attempt's answer was whole but failed this check of its API (`tool_args`): the quality cascade names its step so. */
  readonly answerCheck: string | null;

  constructor(
    code: ErrorCode,
    message: string,
    opts: {
      param?: string | null;
      headers?: Record<string, string>;
      status?: number;
      type?: string;
      upstreamCode?: string | null;
      details?: Record<string, unknown> | null;
      upstreamType?: string | null;
      upstreamText?: string | null;
      answerCheck?: string | null;
    } = {},
  ) {
    super(message);
    const entry = ERROR_CATALOG[code];
    this.status = opts.status ?? entry.status;
    this.type = opts.type ?? entry.type;
    this.code = opts.upstreamCode ?? code;
    this.bodyCode = opts.upstreamCode === undefined ? this.code : opts.upstreamCode;
    // A param is a client's field path (an unknown key is a param): bounded like any echoed name.
    this.param = opts.param == null ? null : echoName(opts.param);
    // Its switchyard code on every answer of it, whatever the API's shape: an Anthropic body has no
    // code field, and a budget refusal and a rate limit are both its `rate_limit_error`.
    this.headers = { 'x-switchyard-error-code': code, ...opts.headers };
    this.details = opts.details ?? null;
    this.upstreamType = opts.upstreamType ?? null;
    this.upstreamText = opts.upstreamText ?? null;
    this.answerCheck = opts.answerCheck ?? null;
  }

  /** The relayed body; its message is scrubbed of secrets (an upstream's message may echo one). */
  toBody(): OpenAIErrorBody {
    return {
      error: {
        message: scrub(this.message),
        type: scrub(this.type),
        param: this.param === null ? null : scrub(this.param),
        code: this.bodyCode === null ? null : scrub(this.bodyCode),
      },
    };
  }
}

/** A provider's own error for the client's request (400 context_length_exceeded, a refusal), passed on as it was. */
export function upstreamClientError(
  status: number,
  e: { message: string; type?: string | null; code?: string | null; param?: string | null; details?: Record<string, unknown> },
): SwitchyardError {
  return new SwitchyardError('invalid_request', e.message, {
    status,
    type: e.type ?? 'invalid_request_error',
    // The provider's code as it gave it, null included (the body says what the provider said).
    upstreamCode: e.code ?? null,
    param: e.param ?? null,
    details: e.details ?? null,
    upstreamText: e.message,
    // A prompt over the window says so in the header too, as switchyard's own refusal of one does: a
    // Messages client's body has no code, and `invalid_request` did not tell it to trim its history.
    ...(e.code === 'context_length_exceeded' ? { headers: { 'x-switchyard-error-code': 'context_length_exceeded' } } : {}),
  });
}

/**
 * What a log line below debug shows in place of an upstream's own error text. A provider's error
 * may quote the request (a validation error echoing the prompt or a message's content), and info,
 * the default level, is not where prompts go; the relayed error keeps the text (it is the client's).
 */
export const UPSTREAM_TEXT_AT_DEBUG = '[upstream message: logged at debug level]';

/**
 * `message` for a log line: the upstream's own words in it (`upstreamText`) replaced by
 * {@link UPSTREAM_TEXT_AT_DEBUG} unless `debug` (the line is logged at debug level or below).
 * `upstream status N`, what an adapter says of an empty error body, is switchyard's own.
 */
export function loggedMessage(message: string, upstreamText: string | null | undefined, debug: boolean): string {
  if (debug || !upstreamText || /^upstream status \d+$/.test(upstreamText)) return message;
  // Only where switchyard's messages quote it: the whole message, or after ': ' up to the end or a
  // '; '. A short upstream text ('error') is also a word of switchyard's own, which stays.
  let out = '';
  let from = 0;
  for (let at = message.indexOf(upstreamText); at >= 0; at = message.indexOf(upstreamText, at + 1)) {
    const end = at + upstreamText.length;
    if (at < from || !(at === 0 || message.startsWith(': ', at - 2)) || !(end === message.length || message.startsWith('; ', end))) continue;
    out += message.slice(from, at) + UPSTREAM_TEXT_AT_DEBUG;
    from = end;
  }
  return out + message.slice(from);
}

export function errorBody(err: unknown): { status: number; body: OpenAIErrorBody; headers: Record<string, string> } {
  if (err instanceof SwitchyardError) return { status: err.status, body: err.toBody(), headers: err.headers };
  return {
    status: 500,
    body: {
      error: {
        message: 'internal error (this is a switchyard bug; the request id is in x-request-id)',
        type: 'server_error',
        param: null,
        code: 'internal_error',
      },
    },
    headers: { 'x-switchyard-error-code': 'internal_error' },
  };
}

/** Client-given names (a model id) echoed in a message or a trace: at most this many characters. */
export const ECHO_CHARS = 128;

/**
 * A client-given name as a message or a span may echo it: whole when short, else its first
 * {@link ECHO_CHARS} characters and how long it was, so a 4 MiB "model" is not copied into the
 * error, the log line and the trace.
 */
export function echoName(s: string): string {
  return s.length > ECHO_CHARS ? `${s.slice(0, ECHO_CHARS)}… (${s.length} characters)` : s;
}

/** A client-given value (a type that is not one of ours) as JSON, bounded like {@link echoName}. */
export function echoValue(v: unknown): string {
  return echoName(JSON.stringify(v) ?? String(v));
}
