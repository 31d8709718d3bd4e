/**
 * Types shared by the upstream layer: the request body as validated at the edge, the
 * normalised pieces adapters produce, and the classified upstream fault.
 */
import type { Usage } from '../accounting/cost.js';
import { scrub } from '../observe/scrub.js';

/** A chat-completions request body after edge validation; unknown fields are kept. */
export interface ChatBody {
  model: string;
  messages: ChatMessage[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null } | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  tools?: unknown[] | null;
  tool_choice?: unknown;
  response_format?: { type: string } | null;
  [key: string]: unknown;
}

export interface ChatMessage {
  role: string;
  content?: unknown;
  name?: string;
  tool_calls?: unknown;
  tool_call_id?: string;
  [key: string]: unknown;
}

/** What the adapter asks the transport to send. */
export interface UpstreamHttpRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** The prefill text as sent, when the adapter had to change it (Anthropic trims trailing whitespace). */
  prefillSent?: string;
}

/**
 * How an error body that is not the provider's error object is marked (see `unstructured`): a
 * JSON object or array is some API's answer in another shape; anything else (HTML, text, a bare
 * number, nothing) is a page.
 */
export function unstructuredKind(bodyText: string): 'page' | 'json' {
  try {
    const j: unknown = JSON.parse(bodyText);
    return typeof j === 'object' && j !== null ? 'json' : 'page';
  } catch {
    return 'page';
  }
}

/** An upstream error body, normalised. */
export interface UpstreamErrorInfo {
  message: string;
  type: string | null;
  code: string | null;
  param: string | null;
  /**
   * Set when an error status's body was not the provider's JSON error; its text is the message.
   * `page`: not JSON at all (an HTML page, plain text, nothing): a web server, reverse proxy, CDN
   * or WAF answered, not the provider's API. `json`: JSON in another shape (a framework's
   * `{"detail":"Not Found"}`, a self-hosted server's own error shape), which may still be an API's
   * answer about the request.
   */
  unstructured?: 'page' | 'json';
  /** Anthropic's `error.details` (an `error_code` the SDKs branch on), relayed in the Messages API's errors. */
  details?: Record<string, unknown>;
}

/** One normalised piece of an upstream stream, in OpenAI's chunk format. */
export type StreamPiece =
  /** A `chat.completion.chunk`. `text` is its content delta ('' if none); `content` is true when it carries content or a tool call. */
  | {
      type: 'chunk';
      chunk: OpenAIChunk;
      text: string;
      content: boolean;
      finishReason: string | null;
      /**
       * Output the model produced besides content text: tool-call names and arguments, refusal text.
       * Billed like content (estimates of a cut or usage-less stream count it); not prefill material.
       */
      other?: string;
      /** The upstream's JSON text of `chunk`, when the decoder left the chunk as received (it may then be forwarded as is). */
      raw?: string;
      /**
       * Set when the decoder recognised `raw` as its stream's template chunk with only the content
       * text changed (src/upstream/chunk-template.ts), without parsing it: the chunk's envelope.
       * `chunk` is then parsed from `raw` only if someone reads it.
       */
      shape?: ChunkShape;
    }
  /**
   * One upstream event relayed as it came (an Anthropic-kind endpoint answering a Messages
   * request): its SSE name and data, whether it carries content (commits the stream), the
   * text it adds (for estimates), and the stop reason it sets, in chat terms.
   */
  | {
      type: 'native';
      name: string;
      data: string;
      content: boolean;
      text: string;
      finishReason: string | null;
      messageStart: boolean;
      /** `message_start`'s `message.model`: the model the upstream says answers. */
      model?: string;
      /** A content block event's (`content_block_start`, `_delta`, `_stop`) block index. */
      index?: number;
      /** A `content_block_start` of a text block or a `text_delta`: plain answer text, which a continuation's prefill takes up. */
      plainText?: boolean;
    }
  /** The counts reported so far; null when they cannot be read (a cache count that is a string): earlier ones are then void too. */
  | { type: 'usage'; usage: Usage | null }
  | { type: 'done' }
  | { type: 'error'; error: UpstreamErrorInfo }
  /** `lost`: the event was a delta (it carried part of the answer, now lost), not a stray line. */
  | { type: 'malformed'; raw: string; lost?: true };

/** The envelope fields of a chat.completion.chunk, as the upstream sent them. */
export interface ChunkShape {
  readonly id: unknown;
  readonly object: unknown;
  readonly created: unknown;
  readonly model: unknown;
}

export interface OpenAIChunk {
  id?: string;
  object?: string;
  created?: number;
  model?: string;
  choices: Array<{ index: number; delta: Record<string, unknown>; finish_reason?: string | null; [k: string]: unknown }>;
  usage?: unknown;
  [key: string]: unknown;
}

/** Rate-limit information read from response headers. */
export interface RateLimitInfo {
  /** `retry-after-ms`, else `retry-after`, as ms from now. */
  retryAfterMs: number | null;
  remainingRequests: number | null;
  remainingTokens: number | null;
  /** When the exhausted window resets, ms from now. */
  resetMs: number | null;
}

export type FaultKind =
  | 'http_status'
  | 'connect_failed'
  | 'connect_timeout'
  | 'reset'
  | 'headers_timeout'
  | 'first_token_timeout'
  | 'idle_timeout'
  | 'stream_cut'
  | 'stream_error'
  | 'bad_response'
  | 'deadline'
  | 'client_gone'
  /** The sidecar's shutdown cut the request (a second signal, or server.shutdownGraceMs over). */
  | 'shutting_down';

/** An upstream's error label (type, code, param): scrubbed of secrets, at most 128 characters. */
function label(v: string | null): string | null {
  if (typeof v !== 'string') return v;
  const clean = scrub(v);
  return clean.length > 128 ? clean.slice(0, 128) : clean;
}

/** A classified failure of one attempt. */
export class UpstreamFault extends Error {
  constructor(
    readonly kind: FaultKind,
    message: string,
    readonly status: number | null = null,
    readonly error: UpstreamErrorInfo | null = null,
    readonly rateLimit: RateLimitInfo | null = null,
  ) {
    // An upstream may echo the key it was sent: nothing of it may reach a log, an event or a client.
    super(scrub(message));
    // type, code and param too: they are relayed, and the code lands in the ledger and the span (bounded: any string an upstream sends).
    if (error) this.error = { ...error, message: scrub(error.message), type: label(error.type), code: label(error.code), param: label(error.param) };
  }
}

/**
 * A whole answer, well formed, that this request's API cannot deliver: a Messages client's tool
 * call whose arguments are not a JSON object (a `tool_use` input must be one). The model's
 * answer, not the endpoint's health: the endpoint is not counted as failing (a few such answers
 * opened its breaker for every API), the request fails over, and the quality cascade names the
 * step by the check it failed (`answerCheck`), as it would an answer it checked itself.
 */
export class UnusableAnswer extends UpstreamFault {
  constructor(
    message: string,
    readonly answerCheck: 'tool_args',
  ) {
    super('bad_response', message);
  }
}

/**
 * An upstream answer (a whole body, or one stream event) larger than switchyard reads: the
 * provider made far more than a reply within the request's output cap, and bills it, so the
 * attempt is billed at what it was reserved for (the prompt and the cap sent), not $0.
 */
export class OversizeFault extends UpstreamFault {
  constructor(message: string) {
    super('bad_response', message);
  }
}

/**
 * An answer refused because switchyard already holds its process-wide limit of upstream answers
 * being read (held-bytes.ts): the sidecar's own memory bound, not the upstream's fault. Billed as
 * an oversize answer is (the provider made it), but not counted against the endpoint (34 of 100
 * large answers at once opened a healthy endpoint's circuit), not failed over (every endpoint
 * meets the same bound), and answered 503 `server_busy` with `retry-after`, not 502 upstream_error.
 */
export class SidecarBusyFault extends OversizeFault {
  readonly sidecarBusy = true;
}

/**
 * An upstream's text cut to `n` characters for an error or a log, scrubbed before it is cut: a cut
 * through a key leaves a piece no scrub later recognises (a text/plain 500 cut at 300 characters
 * relayed the first 16 characters of the key it ended with).
 */
export function cutText(text: string, n: number): string {
  return text.length <= n ? text : scrub(text).slice(0, n);
}
