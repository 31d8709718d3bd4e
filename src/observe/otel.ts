/**
 * OpenTelemetry traces over OTLP/HTTP (JSON), loaded only when `observe.otlp.endpoint` is set:
 * nothing of OpenTelemetry is imported otherwise. One SERVER span per client request (its
 * parent is the client's W3C `traceparent`, when sent) and one CLIENT span per upstream
 * attempt under it, whose context goes upstream as `traceparent`. Attributes follow the
 * GenAI semantic conventions (`gen_ai.*`) plus switchyard's own (`switchyard.*`). Prompt and
 * answer text only with `observe.otlp.captureContent: true`.
 */
import type { Attributes, Context, Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { connect } from 'node:net';
import type { Config } from '../config/schema.js';
import { nativeOf } from '../apis/native.js';
import { echoName } from '../errors.js';
import { scrub, withoutPassword } from './scrub.js';
import type { AnsweredRequest, ApiName, AttemptInfo, AttemptTrace, HttpRequestLike, RefusedRequest, RequestTrace, Tracer } from '../runtime/request-scope.js';
import { parseTarget, routeOf } from '../http/routes.js';
import { OutputParts, toolArguments } from './output-parts.js';
import { faultClassOf } from '../runtime/retry-policy.js';
import type { UpstreamFault } from '../upstream/types.js';

/** At most this many stop sequences go on a span, each at most this many characters: a client's list is input of any length. */
const MAX_STOP_SEQUENCES = 16;
const MAX_STOP_CHARS = 256;

/**
 * A request's stop sequences as a span records them: the first {@link MAX_STOP_SEQUENCES}, each
 * scrubbed (a client may send a key as one) and cut to {@link MAX_STOP_CHARS}; null when there
 * are none. A million of them were each held by the span until export (2.4 GB).
 */
export function stopSequences(stop: unknown): string[] | null {
  const list = typeof stop === 'string' ? [stop] : Array.isArray(stop) ? stop.slice(0, MAX_STOP_SEQUENCES) : [];
  if (list.length === 0 || !list.every((x) => typeof x === 'string')) return null;
  return (list as string[]).map((x) => scrub(x).slice(0, MAX_STOP_CHARS));
}

type OtlpConfig = NonNullable<Config['observe']['otlp']>;

export interface OtelHandle {
  tracer: Tracer;
  shutdown(): Promise<void>;
  /**
   * The collector failed the last export (refused, unreachable, timed out, an error status): the
   * shutdown then gives the last spans only the minimum, not what is left of the grace period (a
   * collector that was down held every restart ~7–10 s while the exporter retried).
   */
  collectorFailing(): Promise<boolean>;
}

/** How long the shutdown's probe of a collector no export has reached yet may take to connect. */
const PROBE_CONNECT_MS = 300;

/**
 * Whether a TCP connection to the collector's host and port can be made within PROBE_CONNECT_MS:
 * asked at shutdown when no export has finished yet, so a collector that is not there does not hold
 * the exit for the exporter's retries (~7 s).
 */
function reachable(endpoint: string): Promise<boolean> {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return Promise.resolve(true);
  }
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return new Promise((resolve) => {
    const sock = connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), PROBE_CONNECT_MS);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** `gen_ai.provider.name` for the provider names the conventions list; others go as configured. */
const PROVIDER_NAMES: Record<string, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  gemini: 'gcp.gemini',
  deepseek: 'deepseek',
  mistral: 'mistral_ai',
  groq: 'groq',
  xai: 'x_ai',
};

/** The methods the HTTP conventions name; any other is `_OTHER` (span names stay few). */
const HTTP_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', 'QUERY']);

/**
 * `http.request.method` and `http.route` of a model call's SERVER span (or one refused at the
 * edge), as the spans of the requests answered without a model call have them: a model call's
 * span had neither, so a query by route or method missed every routed request.
 */
function httpAttributes(req: HttpRequestLike): Attributes {
  const method = req.method !== undefined && HTTP_METHODS.has(req.method) ? req.method : '_OTHER';
  let route: string | null = null;
  try {
    route = routeOf(parseTarget(req.url).path);
  } catch {
    // Not a readable target: no route (the request would not have been routed).
  }
  return { 'http.request.method': method, ...(route !== null ? { 'http.route': route } : {}) };
}

/**
 * The client's operation (`gen_ai.operation.name`, the request span's name): the legacy
 * Completions API is the conventions' `text_completion` (it was named `chat`, the call it is
 * translated to upstream, which its attempt spans keep: see `upstreamOperationOf`).
 */
const operationOf = (api: ApiName): string => (api === 'embeddings' ? 'embeddings' : api === 'completions' ? 'text_completion' : 'chat');
/** The operation of the upstream call an attempt makes: every generation goes upstream as chat. */
const upstreamOperationOf = (api: ApiName): string => (api === 'embeddings' ? 'embeddings' : 'chat');

/**
 * How a SERVER span reports the answer it sent, by the HTTP semantic conventions: a 4xx is the
 * client's mistake, not the server's, so the span status stays UNSET and `error.type` is not set
 * (it is set only when the status is an error); a 5xx is an error, `error.type` its switchyard
 * error code (else the status as a string). Switchyard's own code of any refusal is kept in
 * `switchyard.error.code`, so a 429 `budget_exceeded` can still be found by attribute.
 * (CLIENT spans, to upstreams, mark every failed attempt ERROR: see `attemptTrace`.)
 */
export function serverOutcome(status: number, error: string | null): { code: string | null; errorType: string | null } {
  const code = error || null;
  return { code, errorType: status >= 500 ? (code ?? String(status)) : null };
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A chat message's content as the GenAI conventions' parts: text parts, images as `uri` parts, any other part as it came. */
function contentParts(content: unknown): Json[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', content }];
  if (!Array.isArray(content)) return [];
  return content.filter(isObject).map((p): Json => {
    if (p.type === 'text' && typeof p.text === 'string') return { type: 'text', content: p.text };
    if (p.type === 'refusal' && typeof p.refusal === 'string') return { type: 'text', content: p.refusal };
    if (p.type === 'image_url') {
      const url = isObject(p.image_url) ? p.image_url.url : p.image_url;
      // An image sent inline (a base64 data: URL) is the conventions' blob part, not a uri.
      const inline = typeof url === 'string' ? /^data:([^;,]*)(?:;[^,]*)?;base64,/i.exec(url) : null;
      if (inline !== null)
        return { type: 'blob', modality: 'image', ...(inline[1] ? { mime_type: inline[1] } : {}), content: (url as string).slice(inline[0].length) };
      return { type: 'uri', modality: 'image', uri: typeof url === 'string' ? url : '' };
    }
    // Audio sent inline (`input_audio: {data, format}`): a blob part too.
    if (p.type === 'input_audio' && isObject(p.input_audio) && typeof p.input_audio.data === 'string') {
      const format = p.input_audio.format;
      return { type: 'blob', modality: 'audio', ...(typeof format === 'string' ? { mime_type: `audio/${format}` } : {}), content: p.input_audio.data };
    }
    return { ...p, type: typeof p.type === 'string' ? p.type : 'unknown' };
  });
}

/**
 * `gen_ai.input.messages` as the GenAI semantic conventions shape it (`[{role, parts: [...]}]`:
 * `text`, `tool_call`, `tool_call_response`, `uri` parts), from the chat messages the request
 * was translated to. They were exported in the chat API's own shape (`{role, content}`), which
 * a backend reading the conventions' schema does not read; `gen_ai.output.messages` already
 * had the conventions' shape.
 */
export function inputMessages(messages: unknown): Json[] {
  if (!Array.isArray(messages)) return [];
  return messages.filter(isObject).map((m): Json => {
    const role = typeof m.role === 'string' ? m.role : 'user';
    let parts: Json[];
    if (role === 'tool') {
      const text =
        typeof m.content === 'string'
          ? m.content
          : contentParts(m.content)
              .map((p) => (typeof p.content === 'string' ? p.content : ''))
              .join('');
      parts = [{ type: 'tool_call_response', id: typeof m.tool_call_id === 'string' ? m.tool_call_id : null, response: text }];
    } else {
      parts = contentParts(m.content);
      for (const c of Array.isArray(m.tool_calls) ? m.tool_calls.filter(isObject) : []) {
        const id = typeof c.id === 'string' ? c.id : null;
        if (isObject(c.function)) parts.push({ type: 'tool_call', id, name: String(c.function.name ?? ''), arguments: toolArguments(c.function.arguments) });
        else if (isObject(c.custom)) parts.push({ type: 'tool_call', id, name: String(c.custom.name ?? ''), arguments: c.custom.input ?? null });
      }
    }
    return { role, parts, ...(typeof m.name === 'string' ? { name: m.name } : {}) };
  });
}

/**
 * The most one captured-content attribute holds (`gen_ai.input.messages`, `gen_ai.output.messages`),
 * in characters: spans wait in the exporter's queue (2,048, and 512 being sent) while a collector is
 * slow or gone, and content was copied whole — a few megabytes of prompt a span, gigabytes queued.
 */
export const MAX_CAPTURED_CHARS = 32_768;
/** A string inside captured content longer than this is clipped first (a long document, an inline image's base64). */
const MAX_CAPTURED_STRING = 4_096;

function clipStrings(v: unknown): unknown {
  if (typeof v === 'string') return v.length > MAX_CAPTURED_STRING ? `${v.slice(0, MAX_CAPTURED_STRING)}…[clipped]` : v;
  if (Array.isArray(v)) return v.map(clipStrings);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clipStrings(x)]));
  return v;
}

/**
 * Captured messages as the attribute's JSON, at most {@link MAX_CAPTURED_CHARS}: whole when they fit;
 * else each long string clipped, then the oldest messages left out until the rest fits (the newest
 * turns are what an answer follows), else a placeholder. `clipped` says whether anything was cut.
 */
export function capturedJson(messages: Json[]): { json: string; clipped: boolean } {
  const whole = JSON.stringify(messages);
  if (whole.length <= MAX_CAPTURED_CHARS) return { json: whole, clipped: false };
  // Each message written once, the newest kept while they fit: re-writing the rest for every message
  // left out was quadratic (8,000 short messages: 13.7 s on the event loop).
  const parts = messages.map((m) => JSON.stringify(clipStrings(m)) ?? 'null');
  let size = 2;
  let from = parts.length;
  while (from > 0 && size + parts[from - 1]!.length + (from < parts.length ? 1 : 0) <= MAX_CAPTURED_CHARS) {
    size += parts[from - 1]!.length + (from < parts.length ? 1 : 0);
    from--;
  }
  if (from < parts.length) return { json: `[${parts.slice(from).join(',')}]`, clipped: true };
  return { json: JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: '[content over 32 KiB left out]' }] }]), clipped: true };
}

type ResourcesModule = Pick<typeof import('@opentelemetry/resources'), 'defaultResource' | 'detectResources' | 'envDetector' | 'resourceFromAttributes'>;

/**
 * The spans' resource as an OpenTelemetry SDK makes it: the SDK's own attributes
 * (`telemetry.sdk.*`), then what `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME` say (a
 * deployment's `deployment.environment.name`, `k8s.pod.name`, …), then `service.name`:
 * `observe.otlp.serviceName` when the config names one, else `OTEL_SERVICE_NAME` (or the
 * `service.name` of `OTEL_RESOURCE_ATTRIBUTES`), else `switchyard`. The resource was
 * `service.name` alone: the environment's attributes were dropped.
 */
export function resourceOf(cfg: Pick<OtlpConfig, 'serviceName'>, r: ResourcesModule, serviceNameKey = 'service.name') {
  const fromEnv = r.detectResources({ detectors: [r.envDetector] });
  const envName = fromEnv.attributes[serviceNameKey];
  const name = cfg.serviceName ?? (typeof envName === 'string' && envName !== '' ? envName : 'switchyard');
  return r
    .defaultResource()
    .merge(fromEnv)
    .merge(r.resourceFromAttributes({ [serviceNameKey]: name }));
}

export async function startOtel(cfg: OtlpConfig, log: Logger): Promise<OtelHandle> {
  const api = await import('@opentelemetry/api');
  const { TracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const { defaultResource, detectResources, envDetector, resourceFromAttributes } = await import('@opentelemetry/resources');
  const { W3CTraceContextPropagator, setGlobalErrorHandler, ExportResultCode } = await import('@opentelemetry/core');
  // A collector that cannot be reached drops spans: say so (the first failure, then at most once a
  // minute with how many more), instead of nothing at all.
  let failures = 0;
  let lastWarned = -Infinity;
  setGlobalErrorHandler((err: unknown) => {
    failures++;
    const now = Date.now();
    if (now - lastWarned < 60_000) return;
    lastWarned = now;
    const message = scrub(err instanceof Error ? err.message : String(err)).slice(0, 300);
    log.warn(
      { endpoint: withoutPassword(cfg.endpoint), failures, error: message },
      'could not export OpenTelemetry spans: they are dropped until the collector answers',
    );
    failures = 0;
  });
  const { ATTR_SERVICE_NAME } = await import('@opentelemetry/semantic-conventions');
  const otlp = new OTLPTraceExporter({ url: cfg.endpoint });
  // The last export's outcome, for the shutdown (collectorFailing); null before any finished.
  let lastFailed: boolean | null = null;
  const exporter: SpanExporter = {
    export(spans, done) {
      otlp.export(spans, (result) => {
        lastFailed = result.code !== ExportResultCode.SUCCESS;
        done(result);
      });
    },
    shutdown: () => otlp.shutdown(),
    forceFlush: () => otlp.forceFlush(),
  };
  const provider = new TracerProvider({
    resource: resourceOf(cfg, { defaultResource, detectResources, envDetector, resourceFromAttributes }, ATTR_SERVICE_NAME),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 500 })],
  });
  const tracer = provider.getTracer('switchyard');
  const w3c = new W3CTraceContextPropagator();
  const { SpanKind, SpanStatusCode, ROOT_CONTEXT, defaultTextMapGetter, defaultTextMapSetter, trace } = api;
  /**
   * The client's trace context; a `tracestate` holding what looks like a secret (a configured key,
   * a token's shape) is dropped: it is recorded on every span and sent on upstream as it came.
   */
  const propagator = {
    extract(ctx: Context, carrier: unknown, getter: typeof defaultTextMapGetter): Context {
      const parent = w3c.extract(ctx, carrier, getter);
      const sc = trace.getSpanContext(parent);
      const state = sc?.traceState?.serialize();
      if (sc === undefined || state === undefined || scrub(state) === state) return parent;
      const { traceState: _dropped, ...rest } = sc;
      return trace.setSpanContext(parent, rest);
    },
    inject: w3c.inject.bind(w3c),
  };
  /** Sets a SERVER span's error code, and ERROR with `error.type` for a 5xx (`serverOutcome`). */
  const markOutcome = (span: Span, status: number, error: string | null): void => {
    const outcome = serverOutcome(status, error);
    if (outcome.code) span.setAttribute('switchyard.error.code', outcome.code);
    if (outcome.errorType) {
      span.setAttribute('error.type', outcome.errorType);
      span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.errorType });
    }
  };

  /** The conventions' server.address and server.port of a provider's baseUrl (the scheme's port when it names none), per URL once. */
  const servers = new Map<string, Attributes>();
  const serverOf = (baseUrl: string): Attributes => {
    let a = servers.get(baseUrl);
    if (!a) {
      a = {};
      try {
        const u = new URL(baseUrl);
        a = { 'server.address': u.hostname.replace(/^\[(.*)\]$/, '$1'), 'server.port': u.port !== '' ? Number(u.port) : u.protocol === 'http:' ? 80 : 443 };
      } catch {
        // Validated at load; nothing to say about one that is not a URL.
      }
      servers.set(baseUrl, a);
    }
    return a;
  };

  const providerName = (info: AttemptInfo): string => (info.providerKind === 'anthropic' ? 'anthropic' : (PROVIDER_NAMES[info.provider] ?? info.provider));

  /** `onEnd`: the failed attempt's fault, null for one answered (or cancelled by its client). */
  const attemptTrace = (parent: Context, op: string, info: AttemptInfo, onEnd: (fault: string | null) => void): AttemptTrace => {
    const attrs: Attributes = {
      'gen_ai.operation.name': op,
      'gen_ai.provider.name': providerName(info),
      'gen_ai.request.model': info.upstreamModel,
      'switchyard.endpoint': info.endpoint,
      'switchyard.model': info.model,
      'switchyard.tier': info.tier,
      ...(info.baseUrl !== undefined ? serverOf(info.baseUrl) : {}),
    };
    const span = tracer.startSpan(`${op} ${info.upstreamModel}`, { kind: SpanKind.CLIENT, attributes: attrs }, parent);
    const output = cfg.captureContent ? new OutputParts() : null;
    /** The conventions' output message: what the attempt answered, with its finish_reason when the upstream said one. */
    const exportOutput = (finish: string | null): void => {
      const parts = output?.parts() ?? [];
      if (parts.length === 0) return;
      const out = capturedJson([{ role: 'assistant', parts, ...(finish !== null ? { finish_reason: finish } : {}) }]);
      span.setAttribute('gen_ai.output.messages', scrub(out.json));
      if (out.clipped) span.setAttribute('switchyard.content_clipped', true);
    };
    return {
      output,
      headers() {
        const carrier: Record<string, string> = {};
        propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
        return carrier;
      },
      end(o) {
        if (o.ok) {
          // The conventions' response model is the one that generated the answer, as the upstream names it
          // (a dated snapshot for an alias: gpt-4.1 → gpt-4.1-2025-04-14); the name sent when it names none.
          span.setAttribute('gen_ai.response.model', o.model ? scrub(echoName(o.model)) : info.upstreamModel);
          if (o.usage) span.setAttributes({ 'gen_ai.usage.input_tokens': o.usage.promptTokens, 'gen_ai.usage.output_tokens': o.usage.completionTokens });
          const finish = o.finishReason ?? null;
          if (finish !== null) span.setAttribute('gen_ai.response.finish_reasons', [finish]);
          exportOutput(finish);
          onEnd(null);
        } else if (o.fault === 'client_gone') {
          // Cancelled because switchyard's own client left: the conventions ask a CLIENT span
          // cancelled by its caller to leave status UNSET and set no error.type. Not a fail-over reason.
          span.setAttribute('switchyard.fault', o.fault);
          exportOutput(null);
        } else {
          // A stream cut after it started: what it had sent (and the client was given) before the cut.
          exportOutput(null);
          // The HTTP conventions' error.type for a CLIENT span that got an error status is the status code ("500", "429");
          // without one it is the fault's class, as switchyard_attempts_total names it (`connection`, `timeout`, `stream_cut`);
          // `switchyard.fault` says which (`reset`, `headers_timeout`, `idle_timeout`, …).
          const errorType = o.status !== null ? String(o.status) : (faultClassOf(o.fault as UpstreamFault['kind']) ?? o.fault);
          span.setAttributes({
            'error.type': errorType,
            'switchyard.fault': o.fault,
            ...(o.status !== null ? { 'http.response.status_code': o.status } : {}),
          });
          span.setStatus({ code: SpanStatusCode.ERROR, message: o.fault });
          onEnd(errorType);
        }
        span.end();
      },
    };
  };

  const startRequest = (apiName: ApiName, call: Parameters<Tracer['startRequest']>[1], req: HttpRequestLike): RequestTrace => {
    const parent = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
    const op = operationOf(apiName);
    // The model as the client named it, bounded: an unknown name is client input of any length.
    // Scrubbed as logs and error bodies are: a client may send a key as the model.
    const requested = scrub(echoName(call.body.model));
    const attrs: Attributes = {
      'gen_ai.operation.name': op,
      'gen_ai.request.model': requested,
      'switchyard.api': apiName,
      'switchyard.request_id': call.requestId,
      ...httpAttributes(req),
    };
    const maxTokens = call.body.max_tokens ?? call.body.max_completion_tokens;
    if (typeof maxTokens === 'number' && apiName !== 'embeddings') attrs['gen_ai.request.max_tokens'] = maxTokens;
    if (typeof call.body.temperature === 'number') attrs['gen_ai.request.temperature'] = call.body.temperature;
    for (const k of ['top_p', 'seed', 'frequency_penalty', 'presence_penalty'] as const) {
      const v = (call.body as Record<string, unknown>)[k];
      if (typeof v === 'number') attrs[`gen_ai.request.${k}`] = v;
    }
    const stop = stopSequences(call.body.stop);
    if (stop !== null) attrs['gen_ai.request.stop_sequences'] = stop;
    // The conventions' output type, when the request asks for a format (Responses' text.format is translated to it).
    const format: unknown = call.body.response_format;
    if (format !== null && typeof format === 'object' && 'type' in format && typeof format.type === 'string')
      attrs['gen_ai.output.type'] = format.type === 'text' ? 'text' : 'json';
    if (apiName === 'embeddings') {
      // The conventions' embeddings attributes, from the fields sent on as given (the SDK asks for base64 by default).
      const n = nativeOf(call.body);
      const extra = n?.kind === 'embeddings' ? n.extra : {};
      if (typeof extra.encoding_format === 'string') attrs['gen_ai.request.encoding_formats'] = [extra.encoding_format];
      if (typeof extra.dimensions === 'number') attrs['gen_ai.embeddings.dimension.count'] = extra.dimensions;
    }
    // Content is the client's own, but a configured secret in it is scrubbed as everywhere else (logs, events, errors).
    // Not for embeddings: the conventions give them no messages, and their flow's prompt is only a placeholder
    // to count (a run of one byte per token id, or the texts joined as one user turn).
    if (cfg.captureContent && apiName !== 'embeddings') {
      const input = capturedJson(inputMessages(call.body.messages));
      attrs['gen_ai.input.messages'] = scrub(input.json);
      if (input.clipped) attrs['switchyard.content_clipped'] = true;
    }
    const span: Span = tracer.startSpan(`${op} ${requested}`, { kind: SpanKind.SERVER, attributes: attrs }, parent);
    const ctx = trace.setSpan(parent, span);
    /** The last failed attempt's fault and endpoint; a fail-over's reason is set when the next attempt goes elsewhere. */
    let lastFault: string | null = null;
    let lastFailedEndpoint: string | null = null;
    let failoverReason: string | null = null;
    let tier: string | null = null;
    /** The tier of each model attempted: the span's tier is the served model's (a continued stream's is the model it started on). */
    const tiers = new Map<string, string>();
    /** The provider of each model attempted (`gen_ai.provider.name` of the one that answered). */
    const providers = new Map<string, string>();
    return {
      attempt(info) {
        // A retry on the endpoint that failed is no fail-over (as switchyard_failovers_total counts them).
        if (lastFault !== null && lastFailedEndpoint !== info.endpoint) failoverReason = lastFault;
        tier = info.tier;
        tiers.set(info.model, info.tier);
        providers.set(info.model, providerName(info));
        return attemptTrace(ctx, upstreamOperationOf(apiName), info, (f) => {
          // An answered attempt ends the run of failures: the next one (a cascade's next step) is no fail-over.
          lastFault = f;
          lastFailedEndpoint = f === null ? null : info.endpoint;
        });
      },
      record(r) {
        span.setAttributes({
          // What the client got: 200 for a stream that failed after it started (still ERROR below, with error.type).
          'http.response.status_code': r.httpStatus ?? r.status,
          'switchyard.attempts': r.attempts,
          'switchyard.cost_usd': r.costNano / 1e9,
          'switchyard.stream': r.stream,
          'gen_ai.usage.input_tokens': r.usage.promptTokens,
          'gen_ai.usage.output_tokens': r.usage.completionTokens,
        });
        // The model and provider that answered: none when the request failed before any answer began
        // (a 502 after every attempt failed named the last model tried as the response's). A stream
        // the client left once its answer had begun (a 499 with a first token) was being answered.
        const answered = r.status < 400 || r.httpStatus === 200 || r.ttftMs !== null;
        if (r.model && answered) {
          span.setAttribute('gen_ai.response.model', r.model);
          const p = providers.get(r.model);
          if (p) span.setAttribute('gen_ai.provider.name', p);
        }
        if (r.endpoint) span.setAttribute('switchyard.endpoint', r.endpoint);
        const servedTier = (r.model ? tiers.get(r.model) : undefined) ?? tier;
        if (servedTier) span.setAttribute('switchyard.tier', servedTier);
        if (failoverReason !== null) span.setAttribute('switchyard.failover.reason', failoverReason);
        // Span names are kept few (backends index them): a name not in the catalogue is not one.
        if (r.error === 'model_not_found') span.updateName(op);
        markOutcome(span, r.status, r.error ?? null);
      },
      responseId(id) {
        // The upstream's own id, as the output messages beside it are: scrubbed (an upstream may echo a key in it).
        span.setAttribute('gen_ai.response.id', scrub(echoName(id)));
      },
      end() {
        span.end();
      },
      ids() {
        const c = span.spanContext();
        return { traceId: c.traceId, spanId: c.spanId };
      },
    };
  };

  // Refused before its body was read or trusted: named by the operation alone (no model), and
  // carrying what the edge knew; its status follows `serverOutcome` as a routed request's does.
  const refused = (apiName: ApiName, r: RefusedRequest, req: HttpRequestLike): { traceId: string; spanId: string } => {
    const parent = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
    const op = operationOf(apiName);
    const span = tracer.startSpan(
      op,
      {
        kind: SpanKind.SERVER,
        startTime: r.receivedAt,
        attributes: {
          'gen_ai.operation.name': op,
          'switchyard.api': apiName,
          'switchyard.request_id': r.requestId,
          'switchyard.attempts': 0,
          'http.response.status_code': r.status,
          ...httpAttributes(req),
        },
      },
      parent,
    );
    markOutcome(span, r.status, r.error);
    span.end();
    const c = span.spanContext();
    return { traceId: c.traceId, spanId: c.spanId };
  };

  // Answered without routing (a token count, a 404, a 405): named as the HTTP conventions name a
  // SERVER span, `{method} {route}`, or the method alone when no route matched (names stay few).
  const answered = (r: AnsweredRequest, headers: Parameters<Tracer['answered']>[1]): void => {
    const parent = propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    const method = r.method !== undefined && HTTP_METHODS.has(r.method) ? r.method : '_OTHER';
    const attrs: Attributes = {
      'http.request.method': method,
      'http.response.status_code': r.status,
      'switchyard.request_id': r.requestId,
      'switchyard.attempts': 0,
    };
    if (method === '_OTHER') attrs['http.request.method_original'] = echoName(r.method ?? '');
    if (r.route !== null) attrs['http.route'] = r.route;
    if (r.api !== null) attrs['switchyard.api'] = r.api;
    const name = r.route !== null ? `${method} ${r.route}` : method;
    const span = tracer.startSpan(name, { kind: SpanKind.SERVER, startTime: r.receivedAt, attributes: attrs }, parent);
    markOutcome(span, r.status, r.error);
    span.end();
  };

  log.info({ endpoint: withoutPassword(cfg.endpoint), captureContent: cfg.captureContent }, 'exporting OpenTelemetry traces over OTLP/HTTP');
  return {
    tracer: { startRequest, refused, answered },
    async shutdown() {
      await provider.shutdown().catch((err: unknown) => log.warn({ err }, 'could not flush the last spans'));
    },
    collectorFailing: async () => lastFailed ?? !(await reachable(cfg.endpoint)),
  };
}
