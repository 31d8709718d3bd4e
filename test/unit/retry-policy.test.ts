import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { configSchema, type ResilienceConfig } from '../../src/config/schema.js';
import { DEFAULT_THROTTLE_MS, backoffMs, decide, type RetryState } from '../../src/runtime/retry-policy.js';
import { MAX_UPSTREAM_WAIT_MS } from '../../src/upstream/rate-headers.js';
import { UpstreamFault, type FaultKind, type RateLimitInfo, type UpstreamErrorInfo } from '../../src/upstream/types.js';
import { readErrorInfo } from '../../src/upstream/adapters/openai.js';
import { parseAnthropicError } from '../../src/upstream/adapters/anthropic-response.js';

const R: ResilienceConfig = configSchema.parse({ providers: {}, models: {} }).resilience;
const NOW = 1_700_000_000_000;

const state = (over: Partial<RetryState> = {}): RetryState => ({
  attemptsOnEndpoint: 1,
  transientRetryUsed: false,
  now: NOW,
  remainingMs: 60_000,
  rng: () => 0.5,
  ...over,
});
const rl = (retryAfterMs: number | null, resetMs: number | null = null): RateLimitInfo => ({
  retryAfterMs,
  remainingRequests: null,
  remainingTokens: null,
  resetMs,
});
const apiErr = (code: string | null, message = 'error'): UpstreamErrorInfo => ({ message, type: 'invalid_request_error', code, param: null });
const http = (status: number, opts: { rateLimit?: RateLimitInfo | null; error?: UpstreamErrorInfo | null } = {}) =>
  new UpstreamFault('http_status', `upstream ${status}`, status, opts.error ?? null, opts.rateLimit ?? null);
const fault = (kind: FaultKind) => new UpstreamFault(kind, kind);

describe('defaults used here', () => {
  it('come from the config schema', () => {
    expect(R.maxRetryAfterMs).toBe(5000);
    expect(R.retry).toMatchObject({ maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 5000 });
  });
});

describe('429', () => {
  it('with a short retry-after: retry the same endpoint after exactly that delay', () => {
    expect(decide(http(429, { rateLimit: rl(1500) }), state(), R)).toEqual({
      verdict: { event: 'rateLimited', retryAt: NOW + 1500 },
      next: { step: 'retry_same', delayMs: 1500 },
      loud: false,
    });
    expect(decide(http(429, { rateLimit: rl(R.maxRetryAfterMs) }), state(), R).next).toEqual({ step: 'retry_same', delayMs: 5000 });
  });

  it('a retry-after shorter than the backoff (0, say) waits the backoff: never asked again at once', () => {
    // attemptsOnEndpoint 1, base 200 ms, rng 0.5: the backoff is 150 ms; the second attempt's 300 ms.
    expect(decide(http(429, { rateLimit: rl(0) }), state(), R).next).toEqual({ step: 'retry_same', delayMs: 150 });
    expect(decide(http(429, { rateLimit: rl(0) }), state({ attemptsOnEndpoint: 2 }), R).next).toEqual({ step: 'retry_same', delayMs: 300 });
    expect(decide(http(429, { rateLimit: rl(100) }), state(), R).next).toEqual({ step: 'retry_same', delayMs: 150 });
    // The throttle itself is what was asked.
    expect(decide(http(429, { rateLimit: rl(0) }), state(), R).verdict).toEqual({ event: 'rateLimited', retryAt: NOW });
  });

  it('a wait that would leave the attempt less than its room (a tenth of the request, at most 1 s) fails over instead: no doomed, billed attempt', () => {
    // 1,000 ms wait, 1,050 ms left of a 1,050 ms request: the attempt would have 50 ms (its room is 105).
    expect(decide(http(429, { rateLimit: rl(1000) }), state({ remainingMs: 1050, minAttemptMs: 105 }), R).next).toEqual({ step: 'failover' });
    expect(decide(http(429, { rateLimit: rl(1000) }), state({ remainingMs: 1200, minAttemptMs: 105 }), R).next).toEqual({ step: 'retry_same', delayMs: 1000 });
    expect(decide(http(503, {}), state({ remainingMs: 150, minAttemptMs: 1000 }), R).next).toEqual({ step: 'failover' });
    expect(decide(fault('reset'), state({ remainingMs: 150, minAttemptMs: 1000 }), R).next).toEqual({ step: 'failover' });
  });

  it('with a retry-after over maxRetryAfterMs: fail over, throttled until now + retry-after', () => {
    for (const ra of [R.maxRetryAfterMs + 1, 30_000]) {
      expect(decide(http(429, { rateLimit: rl(ra) }), state(), R)).toEqual({
        verdict: { event: 'rateLimited', retryAt: NOW + ra },
        next: { step: 'failover' },
        loud: false,
      });
    }
  });

  it('a wait over an hour (a broken header) throttles for an hour, not decades: MAX_UPSTREAM_WAIT_MS', () => {
    for (const r of [rl(1e12), rl(null, 1e12), rl(1e20)])
      expect(decide(http(429, { rateLimit: r }), state(), R)).toEqual({
        verdict: { event: 'rateLimited', retryAt: NOW + MAX_UPSTREAM_WAIT_MS },
        next: { step: 'failover' },
        loud: false,
      });
  });

  it('without retry-after: uses the x-ratelimit reset time', () => {
    expect(decide(http(429, { rateLimit: rl(null, 2500) }), state(), R)).toMatchObject({
      verdict: { event: 'rateLimited', retryAt: NOW + 2500 },
      next: { step: 'retry_same', delayMs: 2500 },
    });
    expect(decide(http(429, { rateLimit: rl(null, 20_000) }), state(), R)).toMatchObject({ verdict: { retryAt: NOW + 20_000 }, next: { step: 'failover' } });
  });

  it('prefers retry-after over the reset time', () => {
    expect(decide(http(429, { rateLimit: rl(700, 4000) }), state(), R).next).toEqual({ step: 'retry_same', delayMs: 700 });
  });

  it('naming no time at all: throttled for DEFAULT_THROTTLE_MS and fail over', () => {
    expect(DEFAULT_THROTTLE_MS).toBe(1000);
    for (const info of [null, rl(null, null)]) {
      expect(decide(http(429, { rateLimit: info }), state(), R)).toEqual({
        verdict: { event: 'rateLimited', retryAt: NOW + DEFAULT_THROTTLE_MS },
        next: { step: 'failover' },
        loud: false,
      });
    }
  });
});

describe('5xx / 529 / reset', () => {
  it.each([
    [500, 'server_error'],
    [502, 'server_error'],
    [504, 'server_error'],
    [503, 'overloaded'],
    [529, 'overloaded'],
  ] as const)('%i: counts as a failure (%s) and retries once on the same endpoint', (status, cls) => {
    const d = decide(http(status), state({ rng: () => 0 }), R);
    expect(d).toEqual({ verdict: { event: 'failed', fault: cls, countsAsFailure: true }, next: { step: 'retry_same', delayMs: 100 }, loud: false });
    const again = decide(http(status), state({ transientRetryUsed: true }), R);
    expect(again).toEqual({ verdict: { event: 'failed', fault: cls, countsAsFailure: true }, next: { step: 'failover' }, loud: false });
  });

  it('reset before headers: counts (connection), one retry_same, then failover', () => {
    expect(decide(fault('reset'), state(), R)).toMatchObject({
      verdict: { event: 'failed', fault: 'connection', countsAsFailure: true },
      next: { step: 'retry_same' },
    });
    expect(decide(fault('reset'), state({ transientRetryUsed: true }), R)).toMatchObject({
      verdict: { event: 'failed', fault: 'connection' },
      next: { step: 'failover' },
    });
  });

  it('the retry delay is jittered within [d/2, d] of the exponential backoff', () => {
    for (const [attempts, d] of [
      [1, 200],
      [2, 400],
    ] as const) {
      for (const f of [http(500), fault('reset')]) {
        const delays = [0, 0.25, 0.5, 0.999999].map((x) => {
          const next = decide(f, state({ attemptsOnEndpoint: attempts, rng: () => x }), R).next;
          return next.step === 'retry_same' ? next.delayMs : -1;
        });
        expect(delays).toEqual([d / 2, d / 2 + d / 8, d / 2 + d / 4, d]);
      }
    }
  });
});

describe('a stream that broke part way with no other endpoint left', () => {
  const alone = { untried: 0, attemptsLeft: 5, sameCanContinue: true };
  it.each(['stream_cut', 'stream_error', 'idle_timeout'] as const)('%s: one quick retry on the same endpoint when it can take the stream up', (kind) => {
    const d = decide(fault(kind), state(alone), R);
    expect(d.next).toEqual({ step: 'retry_same', delayMs: backoffMs(1, R, () => 0.5) });
    expect(d.verdict).toMatchObject({ event: 'failed', countsAsFailure: true });
  });

  it.each([
    ['another endpoint is left', { untried: 1 }],
    ['the endpoint cannot take it up (committed, no prefill)', { sameCanContinue: false }],
    ['the quick retry was used', { transientRetryUsed: true }],
    ['maxAttempts on the endpoint reached', { attemptsOnEndpoint: 3 }],
    ['too little time left for the backoff and an attempt', { remainingMs: 100, minAttemptMs: 50 }],
  ] as const)('no retry when %s: fail over', (_why, over) => {
    for (const kind of ['stream_cut', 'stream_error', 'idle_timeout'] as const)
      expect(decide(fault(kind), state({ ...alone, ...over }), R).next, kind).toEqual({ step: 'failover' });
  });

  it.each(['headers_timeout', 'first_token_timeout'] as const)('%s never retries the same endpoint', (kind) => {
    expect(decide(fault(kind), state(alone), R).next).toEqual({ step: 'failover' });
  });

  it('an error event before anything reached the client is not retried so: the upstream chose to send it (a policy refusal would be billed again)', () => {
    expect(decide(fault('stream_error'), state({ untried: 0, attemptsLeft: 5, sameCanContinue: false, uncommitted: true }), R).next).toEqual({
      step: 'failover',
    });
  });

  it.each(['stream_cut', 'idle_timeout'] as const)(
    '%s before anything reached the client (uncommitted): the one quick retry on the only endpoint, whatever its model can continue',
    (kind) => {
      const fresh = { untried: 0, attemptsLeft: 5, sameCanContinue: false, uncommitted: true };
      expect(decide(fault(kind), state(fresh), R).next).toEqual({ step: 'retry_same', delayMs: backoffMs(1, R, () => 0.5) });
      expect(decide(fault(kind), state({ ...fresh, untried: 1 }), R).next).toEqual({ step: 'failover' });
      expect(decide(fault(kind), state({ ...fresh, transientRetryUsed: true }), R).next).toEqual({ step: 'failover' });
    },
  );
});

describe('faults that fail over without a same-endpoint retry', () => {
  it.each(['connect_failed', 'connect_timeout'] as const)('%s → failed(connection), failover', (kind) => {
    expect(decide(fault(kind), state({ attemptsOnEndpoint: 0 }), R)).toEqual({
      verdict: { event: 'failed', fault: 'connection', countsAsFailure: true },
      next: { step: 'failover' },
      loud: false,
    });
  });

  it.each(['headers_timeout', 'first_token_timeout', 'idle_timeout'] as const)('%s → failed(timeout), failover', (kind) => {
    expect(decide(fault(kind), state(), R)).toEqual({
      verdict: { event: 'failed', fault: 'timeout', countsAsFailure: true },
      next: { step: 'failover' },
      loud: false,
    });
  });

  it('a 408 from the upstream is a timeout too', () => {
    expect(decide(http(408), state(), R)).toMatchObject({ verdict: { event: 'failed', fault: 'timeout' }, next: { step: 'failover' } });
  });

  it.each(['stream_cut', 'stream_error'] as const)('%s → failed(stream_cut), failover', (kind) => {
    expect(decide(fault(kind), state(), R)).toEqual({
      verdict: { event: 'failed', fault: 'stream_cut', countsAsFailure: true },
      next: { step: 'failover' },
      loud: false,
    });
  });

  it('bad_response → failed(bad_response), failover (the endpoint says what went wrong; it said stream_cut)', () => {
    expect(decide(fault('bad_response'), state(), R)).toEqual({
      verdict: { event: 'failed', fault: 'bad_response', countsAsFailure: true },
      next: { step: 'failover' },
      loud: false,
    });
  });

  it.each([401, 403])('%i → failed(auth), failover, logged loudly', (status) => {
    expect(decide(http(status), state(), R)).toEqual({
      verdict: { event: 'failed', fault: 'auth', countsAsFailure: true },
      next: { step: 'failover' },
      loud: true,
    });
  });
});

describe('client errors', () => {
  it('400 context_length_exceeded → larger_context, endpoint released', () => {
    expect(decide(http(400, { error: apiErr('context_length_exceeded') }), state(), R)).toEqual({
      verdict: { event: 'released' },
      next: { step: 'larger_context' },
      loud: false,
    });
  });

  it('an Anthropic-style "prompt is too long" message without a code also → larger_context', () => {
    const f = http(400, { error: apiErr(null, 'prompt is too long: 210000 tokens > 200000 maximum') });
    expect(decide(f, state(), R).next).toEqual({ step: 'larger_context' });
  });

  it.each([
    [400, apiErr('invalid_value', "Invalid value for 'temperature'")],
    [400, null],
    [413, apiErr(null, 'Request entity too large')],
    [422, apiErr(null, 'Unprocessable')],
  ])('%i → propagate, released (never counts as a failure)', (status, error) => {
    const d = decide(http(status, { error }), state(), R);
    expect(d).toEqual({ verdict: { event: 'released' }, next: { step: 'propagate' }, loud: false });
  });
});

describe('a 400 saying this model does not take a feature the request uses', () => {
  it.each([
    'This response_format type is unavailable now',
    "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
    'registry.ollama.ai/library/gemma:2b does not support tools',
    'Image input is not supported for this model',
  ])('"%s" → failover, released (another model may take it)', (message) => {
    expect(decide(http(400, { error: apiErr('invalid_request_error', message) }), state(), R)).toEqual({
      verdict: { event: 'released' },
      next: { step: 'failover' },
      loud: false,
    });
  });

  it("a mistake in the request's own values stays the client's: propagate", () => {
    for (const message of [
      "Invalid schema for response_format 'a': 'required' is required",
      "Invalid value for 'temperature'",
      'tools[0].function.name is required',
    ])
      expect(decide(http(400, { error: apiErr(null, message) }), state(), R).next).toEqual({ step: 'propagate' });
  });
});

describe('a 404', () => {
  it('an HTML page or a bare "Not Found" → failed(other), failover, logged loudly', () => {
    for (const body of ['<html><body><h1>404 Not Found</h1></body></html>', 'Not Found', '', '{"detail":"Not Found"}']) {
      const f = http(404, { error: readErrorInfo(404, body) });
      expect(decide(f, state(), R), body).toEqual({
        verdict: { event: 'failed', fault: 'other', countsAsFailure: true },
        next: { step: 'failover' },
        loud: true,
      });
    }
  });

  it("the provider's own JSON 404 that the model is unknown (OpenAI, Anthropic, Azure) → failed(other), failover, loud: the upstreamModel is the operator's (it was passed to the client as its own 404)", () => {
    const openai = readErrorInfo(
      404,
      '{"error":{"message":"The model `x` does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}',
    );
    const anthropic = parseAnthropicError(404, '{"type":"error","error":{"type":"not_found_error","message":"model: claude-sonnet-4-5"}}');
    const azure = readErrorInfo(404, '{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}');
    for (const error of [openai, anthropic, azure])
      expect(decide(http(404, { error }), state(), R)).toEqual({
        verdict: { event: 'failed', fault: 'other', countsAsFailure: true },
        next: { step: 'failover' },
        loud: true,
      });
  });

  it('another JSON 404 fails over without counting against the endpoint, quietly (a client cannot open its circuit with it)', () => {
    for (const message of [
      'File file-abc not found',
      // A client's own value echoed with "model" in it: it counted, and three such requests opened the circuit for everyone.
      'No such File object: file-model',
      'The deployment of model x was not found for file-model',
    ]) {
      const error = readErrorInfo(404, JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: null } }));
      expect(decide(http(404, { error }), state(), R), message).toEqual({ verdict: { event: 'released' }, next: { step: 'failover' }, loud: false });
    }
  });
});

describe('a 1xx/3xx where an answer should be (a redirect: an http:// base URL moved to https://)', () => {
  it('whatever its body → failed(other), failover, logged loudly: not the API (before, passed to the client as its own 301)', () => {
    for (const status of [101, 204, 301, 302, 303, 304, 307, 308])
      for (const body of ['<html><body><h1>301 Moved Permanently</h1></body></html>', '', '{"error":{"message":"moved","type":"invalid_request_error"}}'])
        expect(decide(http(status, { error: readErrorInfo(status, body) }), state(), R), `${status} ${body}`).toEqual({
          verdict: { event: 'failed', fault: 'other', countsAsFailure: true },
          next: { step: 'failover' },
          loud: true,
        });
  });
});

describe('a 400/405/413/414/415/421/422 whose body is a page, not JSON (a proxy, CDN or WAF in front of the provider)', () => {
  const HTML = '<html><head><title>413 Request Entity Too Large</title></head><body><center><h1>413</h1></center><hr>nginx</body></html>';
  const misconfigured = { verdict: { event: 'failed', fault: 'other', countsAsFailure: true }, next: { step: 'failover' }, loud: true };
  const relayed = { verdict: { event: 'released' }, next: { step: 'propagate' }, loud: false };

  it.each([400, 405, 414, 415, 421, 422])('%i with an HTML, plain-text or empty body → failed(other), failover, logged loudly', (status) => {
    for (const body of [HTML, 'Bad Request', ''])
      for (const error of [readErrorInfo(status, body), parseAnthropicError(status, body)])
        expect(decide(http(status, { error }), state(), R), body).toEqual(misconfigured);
  });

  it('413 with an HTML, plain-text or empty body (the size of this request) → failover, logged loudly, but released: not counted against the endpoint', () => {
    for (const body of [HTML, 'Request Entity Too Large', ''])
      for (const error of [readErrorInfo(413, body), parseAnthropicError(413, body)])
        expect(decide(http(413, { error }), state(), R), body).toEqual({ verdict: { event: 'released' }, next: { step: 'failover' }, loud: true });
  });

  it.each([400, 405, 413, 414, 415, 421, 422])("%i in the provider's JSON shape (OpenAI or Anthropic) → propagate, released", (status) => {
    const openai = readErrorInfo(status, '{"error":{"message":"Invalid value","type":"invalid_request_error","param":"temperature","code":null}}');
    const anthropic = parseAnthropicError(status, '{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}');
    for (const error of [openai, anthropic]) expect(decide(http(status, { error }), state(), R)).toEqual(relayed);
  });

  it("413 in JSON of another shape (a gateway's own: Kong, AWS API Gateway) → failover, logged loudly, released, as a 413 page", () => {
    for (const body of ['{"message":"Request size limit exceeded"}', '{"message":"Request Too Long"}', '{"detail":"Payload Too Large"}'])
      for (const error of [readErrorInfo(413, body), parseAnthropicError(413, body)])
        expect(decide(http(413, { error }), state(), R), body).toEqual({
          verdict: { event: 'released' },
          next: { step: 'failover' },
          loud: true,
        });
  });

  it("JSON in another shape (a self-hosted server's validation error) stays the client's: propagate", () => {
    for (const [status, body] of [
      [422, '{"error":"Input validation error: `max_new_tokens` must be <= 2048","error_type":"validation"}'],
      [422, '{"detail":[{"loc":["body","messages"],"msg":"field required","type":"value_error.missing"}]}'],
      [400, '{"object":"error","message":"Invalid temperature","type":"BadRequestError","param":null,"code":400}'],
    ] as const)
      expect(decide(http(status, { error: readErrorInfo(status, body) }), state(), R), body).toEqual(relayed);
  });

  it("providers' words for a prompt over the context window → larger_context; a field over its own size limit is the client's 400 (it was sent to a larger model)", () => {
    for (const message of [
      "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
      'prompt is too long: 210000 tokens > 200000 maximum',
      'The input token count (1500000) exceeds the maximum number of tokens allowed (1048576).',
      'Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length',
      'Input is too long for requested model.',
      // Anthropic's, relayed OpenAI-shaped by an aggregator.
      'input length and `max_tokens` exceed context limit: 190000 + 20000 > 200000, decrease input length or `max_tokens` and try again',
    ])
      expect(decide(http(400, { error: { ...apiErr(null), message } }), state(), R).next, message).toEqual({ step: 'larger_context' });
    for (const [code, message] of [
      [
        'string_above_max_length',
        "Invalid 'metadata.trace': string too long. Expected a string with maximum length 512, but got a string with length 600 instead.",
      ],
      ['string_above_max_length', "Invalid 'user': string too long."],
      ['array_above_max_length', "Invalid 'messages': array too long. Expected an array with maximum length 2048."],
      [null, "Invalid 'tools[0].function.description': string too long."],
    ] as const)
      expect(decide(http(400, { error: { ...apiErr(code), message } }), state(), R), message).toEqual(relayed);
  });

  it('a page whose text says the prompt is too long → larger_context, as before', () => {
    const f = http(400, { error: readErrorInfo(400, "This model's maximum context length is 4096 tokens") });
    expect(decide(f, state(), R).next).toEqual({ step: 'larger_context' });
  });

  it('403 with an HTML, plain-text or empty body (a WAF refusing what it saw) → failover, logged loudly, but released: not counted against the endpoint', () => {
    for (const body of [HTML, 'Forbidden', ''])
      for (const error of [readErrorInfo(403, body), parseAnthropicError(403, body)])
        expect(decide(http(403, { error }), state(), R), body).toEqual({ verdict: { event: 'released' }, next: { step: 'failover' }, loud: true });
  });

  it("403 in JSON of any shape (the provider's permission error) stays an auth failure: counted", () => {
    for (const body of [
      '{"error":{"message":"Project does not have access to model","type":"invalid_request_error","param":null,"code":"model_not_found"}}',
      '{"type":"error","error":{"type":"permission_error","message":"Your API key does not have permission"}}',
      '{"message":"Forbidden"}',
    ])
      expect(decide(http(403, { error: readErrorInfo(403, body) }), state(), R).verdict, body).toMatchObject({ event: 'failed', fault: 'auth' });
  });

  it('401, 408 and 429 keep their rows whatever the body', () => {
    expect(decide(http(401, { error: readErrorInfo(401, HTML) }), state(), R).verdict).toMatchObject({ fault: 'auth' });
    expect(decide(http(408, { error: readErrorInfo(408, HTML) }), state(), R)).toEqual({
      verdict: { event: 'failed', fault: 'timeout', countsAsFailure: true },
      next: { step: 'failover' },
      loud: false,
    });
    expect(decide(http(429, { error: readErrorInfo(429, HTML), rateLimit: rl(1500) }), state(), R).verdict.event).toBe('rateLimited');
  });

  it('other 4xx statuses with a page are relayed as before (409, 410, 451)', () => {
    for (const status of [409, 410, 451]) expect(decide(http(status, { error: readErrorInfo(status, HTML) }), state(), R)).toEqual(relayed);
  });
});

describe('request-level stops', () => {
  it.each(['deadline', 'client_gone'] as const)('%s → released, stop', (kind) => {
    expect(decide(fault(kind), state(), R)).toEqual({ verdict: { event: 'released' }, next: { step: 'stop' }, loud: false });
  });

  it("a deadline (or a client giving up) that cut an attempt with no answer after twice the endpoint's latency (overdue) is a time-out of the endpoint: counted, stop", () => {
    expect(decide(fault('deadline'), state({ overdue: true }), R)).toEqual({
      verdict: { event: 'failed', fault: 'timeout', countsAsFailure: true },
      next: { step: 'stop' },
      loud: false,
    });
    // So is a client giving up on it (an SDK's timeout) that long; a shutdown is never the endpoint's fault.
    expect(decide(fault('client_gone'), state({ overdue: true }), R).verdict).toEqual({ event: 'failed', fault: 'timeout', countsAsFailure: true });
    expect(decide(fault('shutting_down'), state({ overdue: true }), R)).toEqual({ verdict: { event: 'released' }, next: { step: 'stop' }, loud: false });
  });
});

describe('bounds', () => {
  it('no retry on the same endpoint when it would leave a candidate endpoint untried within maxTotalAttempts', () => {
    // Two attempts left, two endpoints not tried yet: a retry here would leave one of them unasked.
    for (const f of [http(500), fault('reset'), http(429, { rateLimit: rl(100) })])
      expect(decide(f, state({ attemptsLeft: 2, untried: 2 }), R).next).toEqual({ step: 'failover' });
    expect(decide(http(500), state({ attemptsLeft: 3, untried: 2 }), R).next.step).toBe('retry_same');
    expect(decide(http(429, { rateLimit: rl(100) }), state({ attemptsLeft: 1, untried: 0 }), R).next.step).toBe('retry_same');
  });

  it('respects retry.maxAttempts per endpoint', () => {
    const atLimit = state({ attemptsOnEndpoint: R.retry.maxAttempts });
    expect(decide(http(500), atLimit, R).next).toEqual({ step: 'failover' });
    expect(decide(fault('reset'), atLimit, R).next).toEqual({ step: 'failover' });
    expect(decide(http(429, { rateLimit: rl(100) }), atLimit, R).next).toEqual({ step: 'failover' });
    expect(decide(http(429, { rateLimit: rl(100) }), state({ attemptsOnEndpoint: R.retry.maxAttempts - 1 }), R).next.step).toBe('retry_same');
    const one: ResilienceConfig = { ...R, retry: { ...R.retry, maxAttempts: 1 } };
    expect(decide(http(503), state(), one).next).toEqual({ step: 'failover' });
  });

  it('does not schedule a retry whose delay exceeds the remaining deadline', () => {
    expect(decide(http(500), state({ remainingMs: 50, rng: () => 0 }), R).next).toEqual({ step: 'failover' });
    expect(decide(fault('reset'), state({ remainingMs: 99, rng: () => 0 }), R).next).toEqual({ step: 'failover' });
    expect(decide(http(429, { rateLimit: rl(1500) }), state({ remainingMs: 1000 }), R)).toMatchObject({
      verdict: { event: 'rateLimited', retryAt: NOW + 1500 },
      next: { step: 'failover' },
    });
    expect(decide(http(429, { rateLimit: rl(1500) }), state({ remainingMs: 1501 }), R).next).toEqual({ step: 'retry_same', delayMs: 1500 });
  });

  it('property: retry_same only within maxAttempts and the deadline, and only for 429/5xx/reset', () => {
    const kinds: FaultKind[] = [
      'http_status',
      'connect_failed',
      'connect_timeout',
      'reset',
      'headers_timeout',
      'first_token_timeout',
      'idle_timeout',
      'stream_cut',
      'stream_error',
      'bad_response',
      'deadline',
      'client_gone',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...kinds),
        fc.constantFrom(400, 401, 403, 404, 408, 413, 422, 429, 500, 502, 503, 504, 529),
        fc.option(fc.nat({ max: 20_000 }), { nil: null }),
        fc.record({
          attemptsOnEndpoint: fc.integer({ min: 0, max: 6 }),
          transientRetryUsed: fc.boolean(),
          remainingMs: fc.nat({ max: 10_000 }),
          r: fc.double({ min: 0, max: 0.999999, noNaN: true }),
        }),
        (kind, status, ra, s) => {
          const f = kind === 'http_status' ? http(status, { rateLimit: rl(ra) }) : fault(kind);
          const d = decide(f, state({ ...s, rng: () => s.r }), R);
          if (d.next.step !== 'retry_same') return;
          expect(s.attemptsOnEndpoint).toBeLessThan(R.retry.maxAttempts);
          expect(d.next.delayMs).toBeLessThan(s.remainingMs);
          expect(kind === 'reset' || (kind === 'http_status' && (status === 429 || status >= 500))).toBe(true);
          if (kind !== 'http_status' || status !== 429) expect(s.transientRetryUsed).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('backoffMs', () => {
  it('doubles from baseDelayMs and caps at maxDelayMs, jittered within [d/2, d]', () => {
    const expectD = [200, 200, 400, 800, 1600, 3200, 5000, 5000];
    expectD.forEach((d, attempt) => {
      expect(
        backoffMs(attempt, R, () => 0),
        `attempt ${attempt}`,
      ).toBe(d / 2);
      expect(
        backoffMs(attempt, R, () => 0.999999),
        `attempt ${attempt}`,
      ).toBe(d);
    });
  });

  it('actually spreads with a random source', () => {
    let seed = 7;
    const rng = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const xs = Array.from({ length: 1000 }, () => backoffMs(3, R, rng));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(400);
    expect(Math.max(...xs)).toBeLessThanOrEqual(800);
    expect(Math.min(...xs)).toBeLessThan(420);
    expect(Math.max(...xs)).toBeGreaterThan(780);
  });
});
