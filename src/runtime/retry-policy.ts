/**
 * The one retry authority's rules: given a classified fault, what the endpoint actor is told
 * and what the request does next. Pure, so every row of the table is unit-tested.
 *
 *   fault                               endpoint event        next step
 *   429, retry-after ≤ maxRetryAfterMs  rateLimited(retryAt)  same endpoint after retry-after (at least the backoff), unless
 *                                                             an endpoint of the same model is left untried: fail over to it
 *   429, longer or none                 rateLimited(retryAt)  fail over (the throttle lasts at most MAX_UPSTREAM_WAIT_MS)
 *   5xx / 529 / reset before headers    failed (counts; a     one quick jittered retry on the same endpoint (not before a
 *                                       503/529 with retry-
 *                                       after: throttled till
 *                                       then, as for a 429)
 *                                                             5xx's retry-after; none if that is over maxRetryAfterMs, or
 *                                                             it asked for one and a same-model endpoint is untried), then fail over
 *                                                             (a 503/529 with retry-after, like a 429: waited for when nothing else takes it)
 *   refused / TLS refused / connect     failed (counts)       fail over (a certificate refused, https:// to a plain-http
 *     timeout                                                 server: asking again gets the same)
 *   headers / first-token limit         failed (counts)       fail over, never the same endpoint again
 *   stream cut / in-stream error        failed (counts)       fail over (continue the answer if already committed); with no
 *     / idle limit                                            other endpoint left: one quick retry on the same one, for a
 *                                                             cut or stall before anything reached the client
 *                                                             (`uncommitted`) or a stream it can continue (`sameCanContinue`)
 *   401 / 403                           failed (auth, counts) fail over, logged loudly
 *   403 whose body is not JSON          released              fail over, logged loudly (a WAF or proxy in front of the
 *     (an HTML page)                                           provider refused what it saw, often this request's
 *                                                             content: not counted against the endpoint)
 *   408                                 failed (timeout)      fail over
 *   404, body not the provider's JSON   failed (other, counts) fail over, logged loudly (a wrong base URL: a web
 *     error (an HTML page, "Not Found")                        server's page, not the provider's API)
 *   400 context_length_exceeded         released              a model with a larger context window, else the provider's error
 *   400 / 405 / 414 / 415 / 421 /       failed (other, counts) fail over, logged loudly (a reverse proxy, CDN or WAF
 *     422 whose body is not JSON                               in front of the provider answered: the request never
 *     (an HTML page)                                           reached its API)
 *   413 whose body is not the           released              fail over, logged loudly (the same, but about the size
 *     provider's error (a page, or a                           of this request: not counted against the endpoint)
 *     gateway's own JSON)
 *   404 in the provider's JSON shape    failed (other, counts) fail over, logged loudly (the endpoint's upstreamModel is
 *     saying the model is unknown                              unknown there: retired, misspelt, no access; the operator's)
 *   another JSON 404                    released              fail over (a client's own: a file id it named)
 *   other 4xx (400, 413, 422 …)         released              the provider's error, as it was (a 4xx in JSON
 *                                                             of any shape but for 413: an API's answer)
 *   an answer the request's API cannot  released              fail over (the model's answer, not the endpoint's health:
 *     deliver (UnusableAnswer: Messages                        the cascade names the step by the check, `tool_args`)
 *     tool arguments not an object)
 *   1xx / 3xx where an answer should be failed (other, counts) fail over, logged loudly (a redirect: an http:// base URL
 *     (a redirect), or a 2xx web page                          moved to https://, or a path that moved; not followed; a
 *     (text/html)                                              page: a base URL pointing at a site, not the API)
 *   deadline or client gone, no answer  failed (timeout,       stop (the request's time is up)
 *     begun after at least twice the      counts)
 *     endpoint's observed latency
 *     (`overdue`)
 *   deadline or client gone otherwise,  released              stop
 *     shutting down
 *
 * Every "same endpoint" above also needs attempts to spare: not when the attempts
 * `retry.maxTotalAttempts` leaves would then not reach each candidate endpoint not tried yet.
 */
import type { FaultClass } from '../../machines/events.js';
import type { ResilienceConfig } from '../config/schema.js';
import { MAX_UPSTREAM_WAIT_MS } from '../upstream/rate-headers.js';
import type { UpstreamFault } from '../upstream/types.js';

/** `retryAt` on a failure: the upstream asked for a pause with it (a 503/529 with retry-after), the endpoint is held back until then. */
export type EndpointVerdict =
  { event: 'failed'; fault: FaultClass; countsAsFailure: true; retryAt?: number } | { event: 'rateLimited'; retryAt: number } | { event: 'released' };

export type NextStep = { step: 'retry_same'; delayMs: number } | { step: 'failover' } | { step: 'larger_context' } | { step: 'propagate' } | { step: 'stop' };

export interface Decision {
  verdict: EndpointVerdict;
  next: NextStep;
  /** Worth an error-level log line (misconfigured endpoint). */
  loud: boolean;
}

export interface RetryState {
  /** Attempts already made on this endpoint in this request (including the failed one). */
  attemptsOnEndpoint: number;
  /** Whether the one quick retry for a transient fault was used on this endpoint. */
  transientRetryUsed: boolean;
  now: number;
  /** Remaining time before the request's deadline. */
  remainingMs: number;
  /**
   * The least time an attempt must have left once a retry's wait is over (the request machine's
   * `attemptRoom`: a tenth of the request's time, at most 1 s); a wait that leaves less fails over
   * instead (whose own wait answers 503 at once), not a doomed, billed attempt and a 504.
   */
  minAttemptMs?: number;
  /**
   * The request's deadline, or its client giving up (an SDK's own timeout), cut an attempt that had
   * begun no answer (no response headers, no first content) after at least twice the endpoint's
   * observed latency: the endpoint stalled, and that counts as a time-out of its own, as
   * `headersTimeoutMs` would have. Without it, an endpoint that hangs before its headers under
   * clients whose deadlines or timeouts are shorter than `headersTimeoutMs` never counted a
   * failure: it stayed healthy, its circuit never opened, and every request sent there ended in a
   * 504 (or its client's timeout) while a fallback was idle. Less time than that (the client gave
   * less than the endpoint takes) says nothing of the endpoint and is released.
   */
  overdue?: boolean;
  /**
   * Attempts this request may still make (`retry.maxTotalAttempts` less those made), and the
   * candidate endpoints it has not tried yet that could take it (not circuit-open, not excluded).
   * A retry on the same endpoint is taken only while attempts are left for each untried one
   * besides it: a quick retry (or a 429's) spent the last attempts and left a healthy fallback
   * untried, a 502 when it could have answered.
   */
  attemptsLeft?: number;
  untried?: number;
  /**
   * A stream committed to the client (its first content delivered) and then cut, stalled or ended by
   * an error event could be continued on the same endpoint: its model can continue what was
   * delivered (its `prefill` capability), no tool call was delivered, it is not a relayed stream.
   * With no other endpoint left (`untried` 0), such a stream gets the one quick retry there instead
   * of ending. (Before its first content nothing is lost: the request fails over, or fails, as before.)
   */
  sameCanContinue?: boolean;
  /**
   * Nothing of the answer reached the client yet: a stream cut or stalled before its first content
   * is invisible to the client, and with no other endpoint left it gets the one quick retry on the
   * same one, as a reset before headers does (it was a 502 after one attempt on a model's only
   * endpoint). An error event is not retried so: the upstream chose to send it.
   */
  uncommitted?: boolean;
  /**
   * Of {@link untried}, the endpoints of the same model as the one that failed (siblings: the same
   * price, the same answer). A wait the upstream asked for (a 429's `retry-after`, a 503's) is taken
   * on the same endpoint only when there is none: with an idle sibling the request waited seconds
   * for the throttled endpoint and then answered from it. A fallback model is no sibling: the wait
   * on the cheaper model's endpoint still comes first.
   */
  untriedSiblings?: number;
  rng: () => number;
}

/** Default throttle when a 429 names no time. */
export const DEFAULT_THROTTLE_MS = 1000;

/** Exponential backoff with equal jitter: between half and all of base·2^(n-1), capped. */
export function backoffMs(attempt: number, r: ResilienceConfig, rng: () => number): number {
  const d = Math.min(r.retry.maxDelayMs, r.retry.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d / 2 + rng() * (d / 2));
}

const failed = (fault: FaultClass): EndpointVerdict => ({ event: 'failed', fault, countsAsFailure: true });

/**
 * The class of a fault that is not an upstream status, as the endpoint's state, the
 * `switchyard_attempts_total` outcome (`failed:<class>`) and an attempt span's `error.type` name it:
 * a connection that failed or was reset is `connection`, any time limit `timeout`, a stream cut or
 * ended by an error event `stream_cut`. Null for `http_status` (its class follows the status,
 * decideStatus) and for the ends that are no failure of the endpoint's: shutting down, the client gone
 * (a deadline or a client that left while the attempt was overdue counts as a `timeout`, decide).
 */
export function faultClassOf(kind: UpstreamFault['kind']): FaultClass | null {
  switch (kind) {
    case 'connect_failed':
    case 'connect_timeout':
    case 'reset':
      return 'connection';
    case 'headers_timeout':
    case 'first_token_timeout':
    case 'idle_timeout':
    case 'deadline':
      return 'timeout';
    case 'stream_cut':
    case 'stream_error':
      return 'stream_cut';
    case 'bad_response':
      return 'bad_response';
    default:
      return null;
  }
}

/**
 * Client-error statuses at which a body that is not JSON at all (an HTML or text page) means a
 * reverse proxy, CDN or WAF in front of the provider answered and the request never reached its
 * API. Only a page: a JSON body of another shape at these statuses can be a self-hosted server's
 * own answer about the request (a validation error), which stays the client's. 401/403 are auth
 * and 408/429 have their own rows whatever the body. 414 (a URI too long for the proxy) and 421
 * (a misdirected request: the proxy or CDN serves no such host) come only from what stands in
 * front of an API.
 */
const PAGE_MEANS_NOT_THE_API: ReadonlySet<number> = new Set([400, 404, 405, 413, 414, 415, 421, 422]);

/** The endpoint is misconfigured (its base URL, or a proxy in front of it): counts, fails over, logged loudly. */
const notTheApi = (): Decision => ({ verdict: failed('other'), next: { step: 'failover' }, loud: true });

export function decide(f: UpstreamFault, s: RetryState, r: ResilienceConfig): Decision {
  const spare = s.attemptsLeft === undefined || s.untried === undefined || s.attemptsLeft > s.untried;
  const canRetrySame = s.attemptsOnEndpoint < r.retry.maxAttempts && spare;
  switch (f.kind) {
    case 'deadline':
    case 'client_gone':
      return { verdict: s.overdue === true ? failed('timeout') : { event: 'released' }, next: { step: 'stop' }, loud: false };
    case 'shutting_down':
      return { verdict: { event: 'released' }, next: { step: 'stop' }, loud: false };
    case 'connect_failed':
    case 'connect_timeout':
    case 'headers_timeout':
    case 'first_token_timeout':
      return { verdict: failed(faultClassOf(f.kind)!), next: { step: 'failover' }, loud: false };
    case 'idle_timeout':
    case 'stream_cut':
    case 'stream_error':
      return { verdict: failed(faultClassOf(f.kind)!), next: lastChance(s, r, canRetrySame, f.kind) ?? { step: 'failover' }, loud: false };
    // An answer that is not one (not JSON, no choices, an error body in a 200, far over its cap): the
    // endpoint's state says so, not that a stream was cut.
    // A well-formed answer this request's API cannot deliver (UnusableAnswer): the model's, not the endpoint's.
    // The sidecar's own bound on the answers it holds (SidecarBusyFault): no endpoint's fault, and every endpoint meets it: stop, 503 server_busy.
    case 'bad_response':
      if ('sidecarBusy' in f) return { verdict: { event: 'released' }, next: { step: 'stop' }, loud: false };
      return { verdict: 'answerCheck' in f ? { event: 'released' } : failed('bad_response'), next: { step: 'failover' }, loud: false };
    case 'reset': {
      const delay = backoffMs(s.attemptsOnEndpoint, r, s.rng);
      const retry = canRetrySame && !s.transientRetryUsed && delay + (s.minAttemptMs ?? 0) < s.remainingMs;
      return { verdict: failed('connection'), next: retry ? { step: 'retry_same', delayMs: delay } : { step: 'failover' }, loud: false };
    }
    case 'http_status':
      return decideStatus(f, s, r, canRetrySame);
  }
}

/**
 * The one quick retry on the same endpoint for a committed stream that broke part way (cut, stalled,
 * an error event) when no other endpoint is left to continue it and this one can
 * ({@link RetryState.sameCanContinue}): the stream is continued there rather than ended with the fault.
 */
function lastChance(s: RetryState, r: ResilienceConfig, canRetrySame: boolean, kind: UpstreamFault['kind']): NextStep | null {
  // Before anything reached the client, only a broken connection or a stall (not an error event
  // the upstream chose to send, such as a policy's: asking again is billed for the same answer).
  const fresh = s.uncommitted === true && kind !== 'stream_error';
  if ((s.sameCanContinue !== true && !fresh) || s.untried !== 0 || !canRetrySame || s.transientRetryUsed) return null;
  const delay = backoffMs(s.attemptsOnEndpoint, r, s.rng);
  return delay + (s.minAttemptMs ?? 0) < s.remainingMs ? { step: 'retry_same', delayMs: delay } : null;
}

function decideStatus(f: UpstreamFault, s: RetryState, r: ResilienceConfig, canRetrySame: boolean): Decision {
  const status = f.status ?? 0;
  // A redirect (an http:// base URL moved to https://, a path that moved) or another status below
  // 400 where an answer should be is not the API, whatever its body: the endpoint is misconfigured.
  if (status < 400) return notTheApi();
  if (status === 429) {
    const rl = f.rateLimit;
    // Bounded here too (parseRateLimit bounds what it reads): a throttle never outlasts an hour.
    const asked = rl?.retryAfterMs ?? rl?.resetMs ?? null;
    const wait = asked === null ? null : Math.min(asked, MAX_UPSTREAM_WAIT_MS);
    const retryAt = s.now + (wait ?? DEFAULT_THROTTLE_MS);
    // The wait asked for, but never less than the backoff: a `retry-after: 0` was asked again at once, three times in 8 ms.
    const delay = wait === null ? null : Math.max(wait, backoffMs(s.attemptsOnEndpoint, r, s.rng));
    const retry = delay !== null && wait! <= r.maxRetryAfterMs && canRetrySame && !(s.untriedSiblings! > 0) && delay + (s.minAttemptMs ?? 0) < s.remainingMs;
    return { verdict: { event: 'rateLimited', retryAt }, next: retry ? { step: 'retry_same', delayMs: delay } : { step: 'failover' }, loud: false };
  }
  if (status >= 500) {
    // A retry-after on a 5xx (503 overloaded) is the least wait before asking again; longer than maxRetryAfterMs: fail over.
    const asked = f.rateLimit?.retryAfterMs ?? null;
    const delay = Math.max(backoffMs(s.attemptsOnEndpoint, r, s.rng), asked ?? 0);
    const retry =
      canRetrySame &&
      !s.transientRetryUsed &&
      (asked === null || (asked <= r.maxRetryAfterMs && !(s.untriedSiblings! > 0))) &&
      delay + (s.minAttemptMs ?? 0) < s.remainingMs;
    const fault: FaultClass = status === 529 || status === 503 ? 'overloaded' : 'server_error';
    // An overload that says when to ask again holds the endpoint back until then (throttled, as a 429
    // does; bounded as a 429's wait is): other requests go elsewhere or wait instead of meeting it.
    const verdict: EndpointVerdict =
      fault === 'overloaded' && asked !== null
        ? { event: 'failed', fault, countsAsFailure: true, retryAt: s.now + Math.min(asked, MAX_UPSTREAM_WAIT_MS) }
        : failed(fault);
    return { verdict, next: retry ? { step: 'retry_same', delayMs: delay } : { step: 'failover' }, loud: false };
  }
  // A 403 page, not the provider's JSON, is a WAF or proxy in front of it refusing what it saw, often
  // this request's content, which the client chose: fail over without counting against the endpoint,
  // so a client cannot open its circuit for everyone by sending what the WAF blocks (as with a 413).
  if (status === 403 && f.error?.unstructured === 'page') return { verdict: { event: 'released' }, next: { step: 'failover' }, loud: true };
  if (status === 401 || status === 403) return { verdict: failed('auth'), next: { step: 'failover' }, loud: true };
  // 402: the provider refused our account, out of balance or credit (DeepSeek's "Insufficient Balance",
  // OpenRouter's "Insufficient credits"): the operator's to fix, as a rejected key is, never the client's.
  if (status === 402) return { verdict: failed('auth'), next: { step: 'failover' }, loud: true };
  // A 404 that is not the provider's JSON error did not come from its API (a web server's page): the endpoint is misconfigured.
  if (status === 404 && f.error?.unstructured !== undefined) return notTheApi();
  // The provider's own 404 for a chat request is about the model it was sent: the endpoint's
  // `upstreamModel`, the operator's word, never the client's (retired, misspelt, no access). Fail
  // over, logged loudly; one that says so counts against the endpoint, so its circuit opens. It was
  // passed to the client as its own 404: a model retired upstream (Anthropic's claude-sonnet-4-5)
  // failed every request that named it, its fallbacks never tried.
  if (status === 404)
    return modelUnknown(f.error)
      ? { verdict: failed('other'), next: { step: 'failover' }, loud: true }
      : { verdict: { event: 'released' }, next: { step: 'failover' }, loud: false };
  if (status === 408) return { verdict: failed('timeout'), next: { step: 'failover' }, loud: false };
  // A 413 that is not the provider's error (a page, or a gateway's own JSON such as Kong's or AWS API
  // Gateway's {"message": …}) is about this request's size, which the client chose: fail over
  // (another endpoint's proxy may take it) without counting against this one, so oversized
  // requests cannot open its circuit. Checked before the context rule: a gateway's "Request Too
  // Long" is about bytes, not a model's window.
  if (f.error?.unstructured !== undefined && status === 413) return { verdict: { event: 'released' }, next: { step: 'failover' }, loud: true };
  if (contextTooLong(f.error)) {
    return { verdict: { event: 'released' }, next: { step: 'larger_context' }, loud: false };
  }
  if (f.error?.unstructured === 'page' && PAGE_MEANS_NOT_THE_API.has(status)) return notTheApi();
  // The provider's own 400 that this model does not take a feature the request uses (DeepSeek:
  // "This response_format type is unavailable now" for json_schema; "… does not support tools"):
  // another model may, so fail over (not counted against the endpoint) instead of giving the client
  // a 400 for a request another candidate serves. The last candidate's 400 still reaches it.
  if ((status === 400 || status === 422) && f.error?.unstructured === undefined && unsupportedFeature(f.error?.message ?? ''))
    return { verdict: { event: 'released' }, next: { step: 'failover' }, loud: false };
  return { verdict: { event: 'released' }, next: { step: 'propagate' }, loud: false };
}

/**
 * A provider's 404 that the model is unknown to it, in the provider's own words only: OpenAI's
 * code `model_not_found` and "The model `x` does not exist", Azure's `DeploymentNotFound`,
 * Anthropic's `model: x`. Not any message with "model" in it: an upstream that echoes a client's
 * value (a file id `file-model`) let a client open the endpoint's circuit for everyone.
 */
const MODEL_UNKNOWN = /^(?:model: \S+|The model `[^`]*` does not exist\b[^]*)$/;
function modelUnknown(error: { code?: string | null; message?: string } | null | undefined): boolean {
  return error?.code === 'model_not_found' || error?.code === 'DeploymentNotFound' || MODEL_UNKNOWN.test(error?.message ?? '');
}

/** How providers word "the prompt is over the context window" (OpenAI and its clones, Anthropic, Gemini, Mistral, Bedrock, Cohere). */
const CONTEXT_WORDS =
  /context.length|maximum context|context (?:window|limit)|(?:prompt|input|request) is too long|too many (?:input |prompt )?tokens|exceeds the maximum number of tokens|input token count/i;
/** A field of the request over its own size limit (OpenAI: "Invalid 'metadata.trace': string too long", code string_above_max_length): the client's. */
const FIELD_TOO_LONG = /\b(?:string|array) too long\b/i;

/**
 * The provider's 400 that the prompt (with its output cap) is over the model's context window: a
 * model with a larger one may take it. A field over its own size limit (a long `metadata` value,
 * `user`, a tool's description, too many `stop` entries) is not: no model takes it, and sending it
 * to a larger (dearer) one that ignores the field would hide the client's mistake.
 */
export function contextTooLong(error: { code?: string | null; message?: string } | null | undefined): boolean {
  if (error?.code === 'context_length_exceeded') return true;
  const message = error?.message ?? '';
  if (error?.code?.endsWith('_above_max_length') === true || FIELD_TOO_LONG.test(message)) return false;
  return CONTEXT_WORDS.test(message);
}

/** A request field this model does not take, named in the provider's 400 with "not supported", "unsupported" or "unavailable". */
const FEATURE =
  /\b(?:response_format|json_schema|json_object|structured outputs?|tools?|tool_choice|function(?:s| calling)?|parallel_tool_calls|images?|image_url|vision|audio|logprobs|top_logprobs|reasoning_effort|seed)\b/i;
const UNSUPPORTED = /\b(?:not supported|unsupported|unavailable|does not support|doesn't support|not available for)\b/i;

/**
 * Gemini's OpenAI-compatible API on a request field (or a tool schema keyword) it does not know:
 * `Invalid JSON payload received. Unknown name "prompt_cache_key": Cannot find field.` (also for
 * `frequency_penalty`, `web_search_options`, a tool's `$schema` or `const`…): another model takes it.
 */
const UNKNOWN_FIELD = /\bUnknown name "[^"\n]{1,200}"(?: at '[^'\n]{0,300}')?: Cannot find field\b/;

/**
 * DeepSeek's API on a value its request types do not have: `Failed to deserialize the JSON body
 * into the target type: messages[1]: unknown variant \`image_url\`, expected \`text\`` (an image,
 * which its models do not read; a custom tool): another model takes it.
 */
const UNKNOWN_VARIANT = /\bunknown variant `[^`\n]{1,100}`/;

/**
 * OpenAI's reasoning models (o-series, GPT-5) on a parameter or value they do not take:
 * `Unsupported parameter: 'temperature' is not supported with this model.`, `Unsupported value:
 * 'temperature' does not support 0.7 with this model. Only the default (1) value is supported.`
 * (codes unsupported_parameter, unsupported_value): another model takes it.
 */
const UNSUPPORTED_WITH_MODEL = /\bUnsupported (?:parameter|value): '[^'\n]{1,100}'[^\n]{0,300}\bwith this model\b/;

export function unsupportedFeature(message: string): boolean {
  return (
    message.length <= 2000 &&
    ((UNSUPPORTED.test(message) && FEATURE.test(message)) ||
      UNKNOWN_FIELD.test(message) ||
      UNKNOWN_VARIANT.test(message) ||
      UNSUPPORTED_WITH_MODEL.test(message))
  );
}
