/**
 * The scope of one client request across everything it awaits (AsyncLocalStorage): which API
 * it came in through, and the tracing span its upstream attempts hang under. The request
 * flow knows nothing of either; the HTTP edge opens the scope, the attempt code and the
 * request record read it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import type { OutputParts } from '../observe/output-parts.js';
import type { ChatCall } from './api.js';
import type { RequestRecord } from './core.js';

export type ApiName = 'chat' | 'responses' | 'messages' | 'embeddings' | 'completions';

/** What a tracer (OpenTelemetry when configured) does at each point of a request. */
export interface AttemptTrace {
  /** Headers to add to the upstream request (W3C traceparent). */
  headers(): Record<string, string>;
  /** Gathers what the attempt answers, when the span captures content (`observe.otlp.captureContent`); absent or null otherwise. */
  readonly output?: OutputParts | null;
  end(
    outcome:
      | {
          ok: true;
          usage: { promptTokens: number; completionTokens: number } | null;
          finishReason?: string | null;
          /** The model the upstream says answered (null or absent: it said none). */
          model?: string | null;
        }
      | { ok: false; fault: string; status: number | null },
  ): void;
}

export interface AttemptInfo {
  endpoint: string;
  model: string;
  tier: string;
  provider: string;
  providerKind: string;
  upstreamModel: string;
  /** The provider's baseUrl (the span's server.address and server.port). */
  baseUrl?: string;
}

/** The trace of the current request's next upstream attempt, or null when not tracing. */
export function traceAttempt(info: AttemptInfo): AttemptTrace | null {
  const scope = als.getStore();
  if (!scope?.trace) return null;
  scope.attempts++;
  return scope.trace.attempt(info);
}

export interface RequestTrace {
  attempt(info: AttemptInfo): AttemptTrace;
  record(r: RequestRecord): void;
  /** The id of the answer the client got (a Response's `resp_…`): the span's gen_ai.response.id. */
  responseId?(id: string): void;
  end(): void;
  /** The request span's ids, for its log lines (`trace_id`, `span_id`: a log backend joins them to the trace). */
  ids(): { traceId: string; spanId: string };
}

/** A request refused at the HTTP edge, before it had a body to route (no scope, no attempts). */
export interface RefusedRequest {
  requestId: string;
  /** When it came in, epoch ms: the span's start. */
  receivedAt: number;
  status: number;
  error: string;
}

/**
 * A request the HTTP layer answered by itself, with no model call and no routing: a token count
 * (`/v1/messages/count_tokens`), an unknown route (404), a method a route does not serve (405).
 */
export interface AnsweredRequest {
  requestId: string;
  /** When it came in, epoch ms: the span's start. */
  receivedAt: number;
  method: string | undefined;
  /** The route served (a template for a path with an id), or null when no route matched. */
  route: string | null;
  api: ApiName | null;
  status: number;
  /** Switchyard's error code when the answer was an error. */
  error: string | null;
}

/** The HTTP request a span is of: its headers (a `traceparent`), method and target (its route). */
export interface HttpRequestLike {
  headers: IncomingHttpHeaders;
  method?: string | undefined;
  url?: string | undefined;
}

export interface Tracer {
  startRequest(api: ApiName, call: ChatCall, req: HttpRequestLike): RequestTrace;
  /** One whole SERVER span for a refused request, started at `receivedAt` and ended now; its ids, for the refusal's log line. */
  refused(api: ApiName, r: RefusedRequest, req: HttpRequestLike): { traceId: string; spanId: string };
  /** One whole SERVER span for a request answered without routing, started at `receivedAt` and ended now. */
  answered(r: AnsweredRequest, headers: IncomingHttpHeaders): void;
}

export interface RequestScope {
  api: ApiName;
  trace: RequestTrace | null;
  attempts: number;
}

const als = new AsyncLocalStorage<RequestScope>();
let tracer: Tracer | null = null;

/** Installed by the composition root when `observe.otlp` is set. */
export function setTracer(t: Tracer | null): void {
  tracer = t;
}

/** The span of a request refused at the edge, when tracing, and its ids; null (one null check) otherwise. */
export function traceRefused(api: ApiName, r: RefusedRequest, req: HttpRequestLike): { traceId: string; spanId: string } | null {
  return tracer?.refused(api, r, req) ?? null;
}

/** The span of a request answered without routing, when tracing; nothing (one null check) otherwise. */
export function traceAnswered(r: AnsweredRequest, headers: IncomingHttpHeaders): void {
  tracer?.answered(r, headers);
}

export function currentScope(): RequestScope | undefined {
  return als.getStore();
}

/**
 * Run one request inside its scope; the span (if tracing) ends when `run` settles. The API
 * travels on the call (its request record carries it). Without a tracer there is nothing else
 * to carry, and no AsyncLocalStorage is entered: on Node 20 that turns on async hooks for every
 * promise of the process (about twice the cost of each await).
 */
export async function inScope(api: ApiName, call: ChatCall, req: HttpRequestLike, run: () => Promise<void>): Promise<void> {
  call.api = api;
  const trace = tracer?.startRequest(api, call, req) ?? null;
  if (trace === null) return run();
  const ids = trace.ids();
  call.log = call.log.child({ trace_id: ids.traceId, span_id: ids.spanId });
  try {
    await als.run({ api, trace, attempts: 0 }, run);
  } finally {
    trace.end();
  }
}
